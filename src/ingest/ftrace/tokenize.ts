/**
 * One line of Linux ftrace text output, split into its fixed columns. Three producers print it:
 * tracefs `trace` (`task-pid [cpu] flags ts: event: args`, flags absent with `noirq-info`, a
 * `(tgid)` column with `record-tgid`), and `trace-cmd report` (the same, with event names padded
 * and a small preamble: `version = 6`, `CPU 3 is empty`, `cpus=4`).
 */

export interface FtraceRecord {
  task: string;
  pid: number;
  cpu: number;
  /** whole seconds of the timestamp */
  sec: number;
  /** the fraction of a second, in ns */
  ns: number;
  event: string;
  args: string;
}

/** What a line is: an event record, a line that carries no event, lost events, or not ftrace. */
export type Token =
  | { kind: 'record'; rec: FtraceRecord }
  | { kind: 'blank' }
  | { kind: 'lost'; count: number | undefined; cpu: number }
  | { kind: 'bad'; why: string };

/** trace-cmd's preamble and tracefs' buffer notes: no event in them */
const PREAMBLE = /^(?:version = \d+|cpus=\d+|CPU \d+ is empty|trace-cmd: .*)$/;
/** tracefs: "CPU:2 [LOST 1234 EVENTS]"; trace-cmd: "CPU:2 [LOST EVENTS]" or "[EVENTS DROPPED]" */
const LOST = /^\s*CPU:?\s*(\d+)\s+\[(?:LOST (\d+ )?EVENTS|(\d+ )?EVENTS DROPPED)\]\s*$/;

const blank = { kind: 'blank' } as const;

// task names may hold spaces and dashes: the pid is the last "-digits" before the CPU column
// (one regular expression is faster here than a hand-written scan)
const RECORD = /^\s*(.+?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:[^\s\d]\S{3,4}\s+)?(\d+)\.(\d{1,9}):\s+([A-Za-z_]\w*):\s*(.*)$/;

export function tokenize(line: string): Token {
  const c0 = line.charCodeAt(0);
  if (c0 === 35 /* # */) return blank;
  const m = RECORD.exec(line);
  if (m) {
    const frac = m[5]!;
    return {
      kind: 'record',
      rec: { task: m[1]!, pid: Number(m[2]), cpu: Number(m[3]), sec: Number(m[4]), ns: Number(frac) * 10 ** (9 - frac.length), event: m[6]!, args: m[7]! },
    };
  }
  const trimmed = line.trim();
  if (trimmed.length === 0 || PREAMBLE.test(trimmed)) return blank;
  const lost = LOST.exec(line);
  if (lost) {
    const n = lost[2] ?? lost[3];
    return { kind: 'lost', cpu: Number(lost[1]), count: n === undefined ? undefined : Number(n) };
  }
  return { kind: 'bad', why: 'not an ftrace line (task-pid [cpu] timestamp: event: ...)' };
}

/**
 * True when the head of a file reads as ftrace text: the tracefs header, or (after trace-cmd's
 * preamble and comments) a first line that is an ftrace record. A QEMU log line
 * (`pid@sec.usec:name ...`) has no `[cpu]` column, so it never passes.
 */
export function looksLikeFtrace(head: string): boolean {
  if (head.startsWith('# tracer:')) return true;
  const lines = head.split('\n');
  // the last piece may be cut by the head's size
  if (!head.endsWith('\n')) lines.pop();
  for (const l of lines.slice(0, 64)) {
    const t = tokenize(l);
    if (t.kind === 'blank' || t.kind === 'lost') continue;
    return t.kind === 'record';
  }
  return false;
}

/**
 * The same line `seconds` later (whole seconds, so the fraction is untouched): lets a benchmark
 * repeat a real trace many times over without its clock stepping back.
 */
export function shiftTimestamp(line: string, seconds: number): string {
  return line.replace(/(\]\s+(?:[^\s\d]\S{3,4}\s+)?)(\d+)(\.\d{1,9}:)/, (_, pre: string, sec: string, frac: string) => `${pre}${Number(sec) + seconds}${frac}`);
}
