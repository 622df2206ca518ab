/**
 * One line of Linux ftrace text output, split into its fixed columns. Three producers print it:
 * tracefs `trace` (`task-pid [cpu] flags ts: event: args`, flags absent with `noirq-info`, a
 * `(tgid)` column with `record-tgid`), and `trace-cmd report` (the same, with event names padded
 * and a small preamble: `version = 6`, `CPU 3 is empty`, `cpus=4`).
 *
 * The record grammar, as a regular expression (test/ftrace-tokenize.test.ts holds it and checks the
 * scanner below against it on real and generated lines):
 *
 *   ^\s*(.+?)-(\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(\d+)\]\s+(?:[^\s\d]\S{3,4}\s+)?(\d+)\.(\d{1,9}):\s+([A-Za-z_]\w*):\s*(.*)$
 *
 * It is read by character codes instead: `scanRecord` finds the columns of a line in place, in a
 * `RecordScan` reused from line to line, so that a record costs no allocation until a caller slices
 * the fields it needs. The scan alone is no faster than the expression, but the expression's match
 * array and field strings were garbage at every line: on the 1 M-line bench trace the whole ingest
 * spends 0.15 s less CPU on its main thread and 0.3 s less collecting garbage on the others.
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

/** Where the columns of a record line are (offsets into the line) and its numbers. */
export class RecordScan {
  taskStart = 0;
  taskEnd = 0;
  pid = 0;
  cpu = 0;
  sec = 0;
  ns = 0;
  eventStart = 0;
  eventEnd = 0;
  argsStart = 0;
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

const HASH = 35;
const DASH = 45;
const DOT = 46;
const COLON = 58;
const LPAREN = 40;
const RPAREN = 41;
const LBRACKET = 91;
const RBRACKET = 93;
const UNDERSCORE = 95;

/** JavaScript's \s: white space and line terminators */
export function isSpace(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 160) return false;
  return c === 160 || c === 5760 || (c >= 8192 && c <= 8202) || c === 8232 || c === 8233 || c === 8239 || c === 8287 || c === 12288 || c === 65279;
}

export const isDigit = (c: number) => c >= 48 && c <= 57;
const isLetter = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
/** \w */
export const isWord = (c: number) => isLetter(c) || isDigit(c) || c === UNDERSCORE;
/** the characters `.` does not match */
export const isTerminator = (c: number) => c === 10 || c === 13 || c === 8232 || c === 8233;

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/** The decimal digits line[start, end) as Number() reads them (exactly, however many there are). */
export function digitsValue(line: string, start: number, end: number): number {
  if (end - start > 15) return Number(line.slice(start, end));
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + (line.charCodeAt(i) - 48);
  return n;
}

function terminatorIn(line: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (isTerminator(line.charCodeAt(i))) return true;
  return false;
}

/** The end of the run of white space from `i`. */
function skipSpace(line: string, i: number): number {
  const n = line.length;
  while (i < n && isSpace(line.charCodeAt(i))) i++;
  return i;
}

function skipDigits(line: string, i: number): number {
  const n = line.length;
  while (i < n && isDigit(line.charCodeAt(i))) i++;
  return i;
}

/**
 * Reads a record line into `r`; false when the line is not one. The task name may hold spaces and
 * dashes: like the grammar's lazy `(.+?)`, the task ends at the first dash after which the rest of
 * the line reads as a record.
 */
export function scanRecord(line: string, r: RecordScan): boolean {
  const n = line.length;
  const first = skipSpace(line, 0);
  // a line terminator (never in a line read from a file, but tokenize takes any string) may not be
  // inside the task or the arguments, which `.` matches
  const term = line.indexOf('\n') >= 0 || line.indexOf('\r') >= 0 || line.indexOf('\u2028') >= 0 || line.indexOf('\u2029') >= 0;
  for (let p = line.indexOf('-', first + 1); p >= 0 && p < n; p = line.indexOf('-', p + 1)) {
    if (term && terminatorIn(line, first, p)) break;
    if (scanAfterTask(line, p, r, term)) {
      r.taskStart = first;
      r.taskEnd = p;
      return true;
    }
  }
  // no task name at all ("  -5 [000] ..."): the grammar's \s* gives the task its last blank
  if (first > 0 && line.charCodeAt(first) === DASH && !isTerminator(line.charCodeAt(first - 1)) && scanAfterTask(line, first, r, term)) {
    r.taskStart = first - 1;
    r.taskEnd = first;
    return true;
  }
  return false;
}

/** The columns after the task name, from the dash at `dash` on. */
function scanAfterTask(line: string, dash: number, r: RecordScan, term: boolean): boolean {
  const n = line.length;
  let s = dash + 1;
  let i = skipDigits(line, s);
  if (i === s) return false;
  r.pid = digitsValue(line, s, i);
  if (!isSpace(line.charCodeAt(i))) return false;
  i = skipSpace(line, i);
  // record-tgid: "(  123)" or "(-------)"
  if (line.charCodeAt(i) === LPAREN) {
    i = skipSpace(line, i + 1);
    s = i;
    while (i < n && (isDigit(line.charCodeAt(i)) || line.charCodeAt(i) === DASH)) i++;
    if (i === s || line.charCodeAt(i) !== RPAREN) return false;
    i++;
    if (!isSpace(line.charCodeAt(i))) return false;
    i = skipSpace(line, i);
  }
  if (line.charCodeAt(i) !== LBRACKET) return false;
  s = ++i;
  i = skipDigits(line, s);
  if (i === s || line.charCodeAt(i) !== RBRACKET) return false;
  r.cpu = digitsValue(line, s, i);
  i++;
  if (!isSpace(line.charCodeAt(i))) return false;
  i = skipSpace(line, i);
  // irq-info flags: 4 or 5 characters, the first neither blank nor digit (absent with noirq-info)
  if (i < n && !isDigit(line.charCodeAt(i))) {
    let k = i + 1;
    while (k < n && k - i <= 5 && !isSpace(line.charCodeAt(k))) k++;
    const len = k - i;
    if ((len !== 4 && len !== 5) || k >= n) return false;
    i = skipSpace(line, k);
  }
  s = i;
  i = skipDigits(line, s);
  if (i === s || line.charCodeAt(i) !== DOT) return false;
  r.sec = digitsValue(line, s, i);
  s = ++i;
  i = skipDigits(line, s);
  if (i === s || i - s > 9 || line.charCodeAt(i) !== COLON) return false;
  r.ns = digitsValue(line, s, i) * POW10[9 - (i - s)]!;
  i++;
  if (!isSpace(line.charCodeAt(i))) return false;
  i = skipSpace(line, i);
  const c = line.charCodeAt(i);
  if (!(isLetter(c) || c === UNDERSCORE)) return false;
  s = i++;
  while (i < n && isWord(line.charCodeAt(i))) i++;
  if (line.charCodeAt(i) !== COLON) return false;
  r.eventStart = s;
  r.eventEnd = i;
  i = skipSpace(line, i + 1);
  if (term && terminatorIn(line, i, n)) return false;
  r.argsStart = i;
  return true;
}

const scratch = new RecordScan();

export function tokenize(line: string): Token {
  if (line.charCodeAt(0) === HASH) return blank;
  const r = scratch;
  if (scanRecord(line, r)) {
    return {
      kind: 'record',
      rec: { task: line.slice(r.taskStart, r.taskEnd), pid: r.pid, cpu: r.cpu, sec: r.sec, ns: r.ns, event: line.slice(r.eventStart, r.eventEnd), args: line.slice(r.argsStart) },
    };
  }
  return notRecord(line);
}

/** What a line that is not a record is: a header, preamble or blank line, lost events, or not ftrace at all. */
export function notRecord(line: string): Exclude<Token, { kind: 'record' }> {
  if (line.charCodeAt(0) === HASH) return blank;
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
