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
