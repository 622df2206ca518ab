/**
 * Time you can trust, one policy for every source (QEMU, ftrace, JSON Lines, Arrow).
 *
 * `SourceClock` turns (seconds, nanoseconds) of each line into `ts` (ns since the source's origin,
 * the whole second of its first timestamp); a timestamp past the year 2262 does not fit 64-bit ns
 * and makes a bad line.
 *
 * `guardTime` then judges each event's time against the lines before it *and after it* (a window
 * of look-ahead), so that a short burst of corrupt timestamps costs only its own lines:
 *  - a step of up to a second either way is real (threads or CPUs logging out of order): a step
 *    back is counted (`time.backwards`) and the event kept in file order;
 *  - a jump of more than a second is a burst when the clock comes back within the window: those
 *    lines are dropped and counted (`time.dropped`, which --strict fails on); when the lines after
 *    it follow the jump, the jump is real: kept (and counted if it went back);
 *  - the first events are judged against the window's median (a corrupt first line must not set
 *    the clock for the whole file), with a wider margin, since a trace may start with a pause.
 */
import type { Event } from '../model/events.ts';
import type { SourceInfo } from './adapter.ts';
import type { Stats } from './stats.ts';

/** 2^63 ns: the last second a signed 64-bit ns count reaches (the year 2262) */
const MAX_SEC = 9_223_372_036;
/** a step larger than this is a jump to judge */
const JUMP_NS = 1e9;
/** the first events are dropped only when this far from the lines that follow them */
const START_JUMP_NS = 3600e9;
/** events of look-ahead */
const WINDOW = 32;

export const TIMESTAMP_TOO_LARGE = 'timestamp beyond the year 2262: it does not fit 64-bit ns';

export class SourceClock {
  private originSec = -1;
  private last = 0;

  constructor(private readonly info: SourceInfo) {}

  /** The clock as of the last line (for lines that carry no time). */
  get now(): number {
    return this.last;
  }

  /** ts of a line stamped `sec`.`ns`, or undefined when the timestamp cannot be one. */
  stamp(sec: number, ns: number): number | undefined {
    if (!Number.isSafeInteger(sec) || sec < 0 || sec > MAX_SEC) return undefined;
    if (this.originSec < 0) {
      this.originSec = sec;
      this.info.originNs = BigInt(sec) * 1_000_000_000n;
      this.info.timed = true;
    }
    this.last = (sec - this.originSec) * 1e9 + ns;
    return this.last;
  }
}

const sameLine = (a: Event | undefined, b: Event) => a?.src !== undefined && b.src !== undefined && a.src.line === b.src.line && a.src.file === b.src.file;
const secs = (ns: number) => `${(Math.abs(ns) / 1e9).toFixed(3)} s`;

/** Applies the policy above to a source's batches. */
export async function* guardTime(info: SourceInfo, stats: Stats, batches: AsyncIterable<Event[]>): AsyncGenerator<Event[]> {
  const guard = new TimeGuard(info, stats);
  for await (const b of batches) {
    const out = guard.push(b);
    if (out.length > 0) yield out;
  }
  const out = guard.end();
  if (out.length > 0) yield out;
}

class TimeGuard {
  private pending: Event[] = [];
  private head = 0;
  /** the clock: the latest accepted time since the last real jump */
  private ref: number | undefined;
  /** subtracted from every ts when the origin came from a dropped first line */
  private rebase = 0;
  private lastDropped: Event | undefined;
  private lastBackwards: Event | undefined;
  /** the latest time accepted in the file */
  private max = -Infinity;

  constructor(
    private readonly info: SourceInfo,
    private readonly stats: Stats,
  ) {}

  push(batch: Event[]): Event[] {
    const out: Event[] = [];
    for (const e of batch) {
      this.pending.push(e);
      if (this.pending.length - this.head > WINDOW) this.decide(out);
    }
    if (this.head > 4096) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  end(): Event[] {
    const out: Event[] = [];
    while (this.head < this.pending.length) this.decide(out);
    this.pending = [];
    this.head = 0;
    return out;
  }

  private decide(out: Event[]): void {
    const e = this.pending[this.head++]!;
    const ahead = this.pending;
    if (this.ref === undefined) {
      const rest = ahead.slice(this.head).map((x) => x.ts).sort((a, b) => a - b);
      const median = rest.length > 0 ? rest[rest.length >> 1]! : e.ts;
      if (Math.abs(e.ts - median) > START_JUMP_NS) {
        this.drop(e, e.ts - median, 'the lines after it');
        return;
      }
      // the origin came from a line now dropped: count from this one's second instead
      if (this.lastDropped && (e.ts < 0 || e.ts >= 1e9)) {
        this.rebase = Math.floor(e.ts / 1e9) * 1e9;
        this.info.originNs += BigInt(this.rebase);
      }
      this.ref = e.ts;
      this.emit(e, out);
      return;
    }
    const ref = this.ref;
    const d = e.ts - ref;
    if (d > JUMP_NS || d < -JUMP_NS) {
      // does the clock come back to where it was before the lines after this one move on?
      let back = false;
      for (let j = this.head; j < ahead.length && !back; j++) {
        const t = ahead[j]!.ts;
        back = t >= ref - JUMP_NS && (d < 0 || t < e.ts - JUMP_NS);
      }
      if (back) {
        this.drop(e, d, 'the lines before and after it');
        return;
      }
      if (d < 0) this.stats.add('time.backwards', ...this.where(e), `${secs(d)} earlier than the line before, and the lines after it follow: kept in file order`);
      // a step back, or the step forward that ends a stretch gone back, breaks every pairing across it
      if (d < 0 || ref + JUMP_NS < this.max) this.stats.clockStep(...this.where(e));
      this.ref = e.ts;
      this.emit(e, out);
      return;
    }
    if (d < 0) {
      // one count per line (a line may give two events of the same time)
      if (!sameLine(this.lastBackwards, e)) this.stats.add('time.backwards', ...this.where(e), `${(-d / 1e3).toFixed(0)} µs earlier than the line before`);
      this.lastBackwards = e;
    } else this.ref = e.ts;
    this.emit(e, out);
  }

  /** the line an event came from (a JSON Lines event may name the trace it was converted from) */
  private where(e: Event): [string, number] {
    return [e.src?.file ?? this.info.file, e.src?.line ?? 0];
  }

  private emit(e: Event, out: Event[]): void {
    if (e.ts > this.max) this.max = e.ts;
    if (this.rebase !== 0) e.ts -= this.rebase;
    out.push(e);
  }

  private drop(e: Event, d: number, around: string): void {
    this.info.events--;
    const again = sameLine(this.lastDropped, e);
    this.lastDropped = e;
    if (again) return;
    this.stats.add('time.dropped', ...this.where(e), `timestamp ${secs(d)} ${d > 0 ? 'ahead of' : 'behind'} ${around}: line dropped`);
  }
}
