/**
 * Counters about the input, declared once. Bad input is counted, not fatal: each counter keeps its
 * first few samples with file:line so the report can show where to look. Counters of severity
 * `error` or `data-loss` fail the run under --strict.
 */
export const STAT_DECLARATIONS = {
  'line.malformed': { severity: 'error', description: 'lines that are not events of the detected format (garbage, cut, bad numbers)' },
  'line.foreign': { severity: 'info', description: "lines another program wrote into the log (qtest protocol, stderr messages, guest console output): skipped" },
  'line.truncated': { severity: 'data-loss', description: 'a last line cut in the middle (no newline at end of file)' },
  'event.unknown': { severity: 'info', description: 'events of a name the adapter does not know (listed by name)' },
  'event.ignored': { severity: 'info', description: 'known events that carry nothing the model uses (listed by name)' },
  'event.invalid': { severity: 'error', description: 'events whose fields break the canonical schema or hold absurd values' },
  'events.lost': { severity: 'data-loss', description: 'events the tracer itself dropped (ftrace: CPU:N [LOST n EVENTS]); the lines around them lack their partners' },
  'time.dropped': { severity: 'error', description: 'events whose timestamp is more than a second off the lines before and after them (a corrupt burst): dropped' },
  'pair.broken': { severity: 'error', description: 'pairings (a request and its completion, a command and its response, an underrun and its end) whose end is stamped before its start: no latency is taken from them' },
  'time.backwards': { severity: 'info', description: 'events stamped earlier than the previous one of the same file (kept in file order)' },
  'attribution.unresolved': { severity: 'info', description: 'events that name no device and could not be attributed to one' },
} as const satisfies Record<string, { severity: 'info' | 'error' | 'data-loss'; description: string }>;

export type StatName = keyof typeof STAT_DECLARATIONS;
export type Severity = (typeof STAT_DECLARATIONS)[StatName]['severity'];

export interface StatSample {
  file: string;
  line: number;
  detail: string;
}

export interface StatEntry {
  name: StatName;
  count: number;
  /** per-name breakdown (event names for event.unknown / event.ignored) */
  byKey: Map<string, number>;
  samples: StatSample[];
}

const MAX_SAMPLES = 5;

export class Stats {
  private readonly entries = new Map<StatName, StatEntry>();
  /** per file, the lines (ascending) where its clock steps: no latency may span one */
  private readonly steps = new Map<string, number[]>();

  /** Marks a line where the file's clock jumps back, or forward again after going back. */
  clockStep(file: string, line: number): void {
    let l = this.steps.get(file);
    if (!l) this.steps.set(file, (l = []));
    l.push(line);
  }

  /** The first clock step of `file` after line `from` and at or before line `to`, if any. */
  stepBetween(file: string, from: number, to: number): number | undefined {
    const l = this.steps.get(file);
    if (!l) return undefined;
    let lo = 0;
    let hi = l.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (l[mid]! <= from) lo = mid + 1;
      else hi = mid;
    }
    return lo < l.length && l[lo]! <= to ? l[lo] : undefined;
  }

  add(name: StatName, file: string, line: number, detail: string, key?: string): void {
    let e = this.entries.get(name);
    if (!e) {
      e = { name, count: 0, byKey: new Map(), samples: [] };
      this.entries.set(name, e);
    }
    e.count++;
    if (key !== undefined) e.byKey.set(key, (e.byKey.get(key) ?? 0) + 1);
    if (e.samples.length < MAX_SAMPLES) e.samples.push({ file, line, detail });
  }

  count(name: StatName): number {
    return this.entries.get(name)?.count ?? 0;
  }

  list(): StatEntry[] {
    return [...this.entries.values()];
  }

  /** Counters whose severity makes --strict fail. */
  problems(): StatEntry[] {
    return this.list().filter((e) => STAT_DECLARATIONS[e.name].severity !== 'info');
  }
}
