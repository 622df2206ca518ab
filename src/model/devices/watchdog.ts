/**
 * The SBSA generic watchdog (Arm SBSA 6.0, §A.3 of its "Generic Watchdog"), replayed from its
 * register traffic to predict when WS0 (the interrupt) and WS1 (the reset request) must fire, and
 * diffed with the signals the trace shows.
 *
 * The model: while enabled (WCS.EN), the watchdog times out WOR counter ticks after the last
 * explicit refresh (a write to WRR, to WOR or to WCS). The first timeout raises WS0 and starts a
 * second period; a timeout while WS0 is set raises WS1. A refresh clears WS0. WOR counts system
 * counter ticks: `counter_hz` on the accesses gives the frequency (1 GHz when absent: ticks are ns).
 */
import type { EventOf } from '../events.ts';
import type { Ref } from '../observations.ts';

export const WDT_REG = {
  /** refresh frame */
  WRR: 0x0,
  /** control frame */
  WCS: 0x0,
  WOR: 0x8,
} as const;

export interface Predicted {
  signal: 'ws0' | 'ws1';
  /** ns on the run's clock */
  at: number;
  /** the access that started the period that ended here */
  cause: Ref;
}

export interface Mismatch {
  signal: 'ws0' | 'ws1';
  detail: string;
  refs: Ref[];
}

/** How far from the predicted time a signal may be seen (a VMM's timer resolution): 1 ms or 1 % of the period. */
const toleranceNs = (periodNs: number) => Math.max(1e6, periodNs / 100);

export class WatchdogModel {
  accesses = 0;
  first: Ref | undefined;
  enabled = false;
  private wor = 0;
  private hz = 1e9;
  private ws0 = false;
  private deadline = Infinity;
  private periodStart: Ref | undefined;
  /** predicted signals not yet matched by one in the trace */
  private readonly pending: Predicted[] = [];
  readonly matched: { predicted: Predicted; seen: Ref }[] = [];
  readonly mismatches: Mismatch[] = [];
  signalsSeen = 0;

  private periodNs(): number {
    return (this.wor / this.hz) * 1e9;
  }

  /** Advances the model to time `ts`, predicting the signals due by then. */
  advance(ts: number): void {
    while (this.enabled && this.deadline <= ts) {
      const p: Predicted = { signal: this.ws0 ? 'ws1' : 'ws0', at: this.deadline, cause: this.periodStart! };
      this.pending.push(p);
      if (p.signal === 'ws0') {
        this.ws0 = true;
        this.deadline += this.periodNs();
      } else {
        // WS1 asks for a system reset: the model stops there
        this.enabled = false;
        this.deadline = Infinity;
      }
    }
    // a prediction long past and never seen is a late (or missing) signal
    while (this.pending.length > 0 && this.pending[0]!.at + toleranceNs(this.periodNs()) < ts) {
      const p = this.pending.shift()!;
      this.mismatches.push({ signal: p.signal, detail: `${p.signal.toUpperCase()} due at ${fmtMs(p.at)} (WOR ${this.wor} ticks after the refresh at line ${p.cause.src?.line ?? '?'}) was not raised by ${fmtMs(ts)}`, refs: [p.cause] });
    }
  }

  private refresh(ts: number, ref: Ref): void {
    this.ws0 = false;
    this.periodStart = ref;
    this.deadline = this.enabled ? ts + this.periodNs() : Infinity;
  }

  access(e: EventOf<'wdt.access'>, ref: Ref): void {
    this.advance(e.ts);
    this.accesses++;
    this.first ??= ref;
    if (e.counter_hz !== undefined && e.counter_hz > 0) this.hz = e.counter_hz;
    if (e.dir !== 'write' || e.value === undefined) return;
    if (e.frame === 'refresh' && e.offset === WDT_REG.WRR) this.refresh(e.ts, ref);
    else if (e.frame === 'control' && e.offset === WDT_REG.WOR) {
      this.wor = e.value;
      this.refresh(e.ts, ref);
    } else if (e.frame === 'control' && e.offset === WDT_REG.WCS) {
      this.enabled = (e.value & 1) === 1;
      this.refresh(e.ts, ref);
    }
  }

  signal(e: EventOf<'wdt.signal'>, ref: Ref): void {
    this.advance(e.ts);
    this.signalsSeen++;
    const i = this.pending.findIndex((p) => p.signal === e.signal && Math.abs(p.at - e.ts) <= toleranceNs(this.periodNs()));
    if (i >= 0) {
      this.matched.push({ predicted: this.pending[i]!, seen: ref });
      this.pending.splice(i, 1);
      return;
    }
    const due = this.enabled ? `the model expects ${this.ws0 ? 'WS1' : 'WS0'} at ${fmtMs(this.deadline)}` : 'the watchdog is not enabled';
    this.mismatches.push({ signal: e.signal, detail: `${e.signal.toUpperCase()} raised at ${fmtMs(e.ts)}, which no timeout explains (${due})`, refs: [ref] });
  }

  /** The end of the trace: predictions due before it and never seen are mismatches. */
  finish(lastTs: number): void {
    this.advance(lastTs);
  }
}

function fmtMs(ns: number): string {
  return `${(ns / 1e6).toFixed(3)} ms`;
}
