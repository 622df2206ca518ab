/**
 * A source's clock: turns (seconds, nanoseconds) of each line into `ts` (ns since the source's
 * origin, the whole second of its first timestamp), and guards it against corrupt timestamps.
 *
 * Small steps back are real (threads or CPUs logging out of order): counted, kept in file order.
 * A step back of more than a second is a corrupt line: counted and dropped. A jump forward of
 * more than a second is only known to be corrupt when the next line comes back to where the clock
 * was: then that one line is reported (its event already carries the wrong time) and the clock
 * resumes from before it, instead of dropping every later line as "going back".
 */
import type { SourceInfo } from './adapter.ts';
import type { Stats } from './stats.ts';

const MAX_BACKWARD_NS = 1e9;
const SUSPECT_FORWARD_NS = 1e9;

export class SourceClock {
  private originSec = -1;
  private last = 0;
  /** clock before the last forward jump of more than a second, and that jump's line */
  private beforeJump: { ts: number; line: number } | undefined;

  constructor(
    private readonly info: SourceInfo,
    private readonly stats: Stats,
  ) {}

  /** The clock as of the last good line (for lines that carry no time). */
  get now(): number {
    return this.last;
  }

  stamp(sec: number, ns: number, line: number): number | undefined {
    if (this.originSec < 0) {
      this.originSec = sec;
      this.info.originNs = BigInt(sec) * 1_000_000_000n;
      this.info.timed = true;
      this.last = ns;
      return ns;
    }
    const ts = (sec - this.originSec) * 1e9 + ns;
    const file = this.info.file;
    if (ts < this.last - MAX_BACKWARD_NS) {
      const b = this.beforeJump;
      if (b && ts >= b.ts - MAX_BACKWARD_NS && ts <= b.ts + SUSPECT_FORWARD_NS) {
        this.stats.add('event.invalid', file, b.line, `timestamp ${((this.last - b.ts) / 1e9).toFixed(3)} s ahead of the lines around it: corrupt (the event is kept with that time)`);
        this.beforeJump = undefined;
        this.last = Math.max(b.ts, ts);
        return ts;
      }
      this.stats.add('event.invalid', file, line, `timestamp jumps ${((ts - this.last) / 1e9).toFixed(3)} s back from the line before: line dropped`);
      return undefined;
    }
    if (ts < this.last) {
      this.stats.add('time.backwards', file, line, `${((this.last - ts) / 1e3).toFixed(0)} µs earlier than the line before`);
      return ts;
    }
    this.beforeJump = ts - this.last > SUSPECT_FORWARD_NS ? { ts: this.last, line } : undefined;
    this.last = ts;
    return ts;
  }
}
