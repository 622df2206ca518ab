/**
 * One configuration of one PCM stream: its lifecycle state, the periods queued at the device
 * (buffers given minus buffers returned), the device's ticks, and its xruns. Rows leave as soon as
 * they are known; what is kept is bounded (counters, the current tick, a period histogram).
 */
import type { SndParams } from '../../model/events.ts';
import type { Ref } from '../../model/observations.ts';
import { frameBytes, rateHz, SND_R, SND_S_IO_ERR } from '../../model/devices/sound-codes.ts';
import { PeriodClock } from './period-clock.ts';
import { transition, type PcmState } from './stream-state.ts';
import type { PcmPeriodRow, PcmStreamRow, PcmTickRow, PcmXrunRow } from './tables.ts';
import { judgeRefill, judgeStop, type Direction, type Dry, type Stopped, type Xrun } from './xrun.ts';

/** Returns closer than this are one tick: QEMU returns a tick's periods within microseconds. */
export const TICK_GAP_NS = 1_000_000;
/** Threshold of an empty queue when neither parameters, ticks nor the host timer give a period. */
const DEFAULT_PERIOD_NS = 10_000_000;

export interface SessionKey {
  vm: string;
  dev: string;
  stream: number;
  session: number;
}

export interface SessionSink {
  period(r: PcmPeriodRow): void;
  tick(r: PcmTickRow): void;
  xrun(r: PcmXrunRow): void;
  /** a pairing whose end is stamped before its start: counted, never a negative duration */
  broken(at: Ref, detail: string): void;
}

/** What the host's audio timer says, for the VM of the session. */
export interface HostTimer {
  /** ms of lateness of an audio_timer_delayed logged after `ts`, if any */
  lateAfter(ts: number): number | null;
  /** the timer's period, ms, if it was started */
  nominalMs(): number | null;
}

interface Tick {
  ordinal: number;
  ts: number;
  periods: number;
  levelBefore: number;
  levelAfter: number;
  interval: number | null;
  lateMs: number | null;
  ref: Ref;
}

const at = (r: Ref) => ({ file: r.src?.file ?? null, line: r.src?.line ?? null });

export class PcmSession {
  state: PcmState;
  direction?: Direction;
  /** the trace named no stream on the buffers given to this session */
  inferred = false;
  /** when a request last named (or was inferred to name) this stream: picks among candidates */
  lastAddressed: number;
  level = 0;
  runs = 0;
  private params?: SndParams;
  private running = false;
  private runStart = 0;
  private lastTickTs?: number;
  private lastReturn = -Infinity;
  private tick?: Tick;
  private ticks = 0;
  private dry?: Dry;
  private stopped?: Stopped;
  private readonly clock = new PeriodClock();
  private last: number;
  private readonly n = { given: 0, returned: 0, flushed: 0, bytes: null as number | null, underruns: 0, overruns: 0, starved: 0, bad: 0, ioErrors: 0 };

  constructor(
    readonly key: SessionKey,
    private readonly first: Ref,
    from: PcmState,
    private readonly sink: SessionSink,
    private readonly timer: HostTimer,
  ) {
    this.state = from;
    this.lastAddressed = first.ts;
    this.last = first.ts;
  }

  /** A session that has run is over at the next SET_PARAMS; one that has not just takes the new parameters. */
  get hasRun(): boolean {
    return this.runs > 0;
  }

  control(code: number, ref: Ref, params?: SndParams): void {
    const t = transition(this.state, code);
    if (!t.allowed) this.n.bad++;
    this.state = t.to;
    this.lastAddressed = this.last = ref.ts;
    switch (code) {
      case SND_R.PCM_SET_PARAMS:
        if (params) this.params = params;
        return;
      case SND_R.PCM_PREPARE:
        if (this.stopped) this.stopped.prepare ??= ref.ts;
        return;
      case SND_R.PCM_RELEASE:
        if (this.stopped) this.stopped.release ??= ref.ts;
        return;
      case SND_R.PCM_START:
        this.resolveStop(this.stopped?.prepare !== undefined ? 'restart' : 'resume', ref.ts);
        this.running = true;
        this.runs++;
        this.runStart = ref.ts;
        this.lastTickTs = undefined;
        if (this.level === 0) this.dry = { since: ref.ts, ref, tick: null };
        return;
      case SND_R.PCM_STOP:
        if (!this.running) return;
        this.closeTick();
        this.running = false;
        this.stopped = { run: this.runs, stop: ref, ...(this.dry ? { dry: this.dry } : {}) };
        this.dry = undefined;
        return;
    }
  }

  /** The device took a buffer of this stream. */
  give(ref: Ref): void {
    this.last = ref.ts;
    this.n.given++;
    this.level++;
    if (this.running && this.dry && this.direction) {
      const x = judgeRefill(this.direction, this.runs, this.dry, ref.ts, this.periodNs());
      if (x) this.record(x);
    }
    this.dry = undefined;
    this.periodRow(ref, 'give', null, null, null);
  }

  /** The device returned a buffer of this stream (`bytes` of PCM when the trace shows them). */
  ret(ref: Ref, bytes: number | null, latencyBytes: number | null, status?: number): void {
    this.last = ref.ts;
    if (bytes !== null) this.n.bytes = (this.n.bytes ?? 0) + bytes;
    if (status === SND_S_IO_ERR) this.n.ioErrors++;
    this.level = Math.max(0, this.level - 1);
    if (!this.running) {
      this.n.flushed++;
      this.periodRow(ref, 'flush', null, bytes, latencyBytes);
      return;
    }
    this.n.returned++;
    if (!this.tick || ref.ts - this.lastReturn > TICK_GAP_NS) this.openTick(ref);
    this.lastReturn = ref.ts;
    this.tick!.periods++;
    this.tick!.levelAfter = this.level;
    if (this.level === 0) this.dry = { since: ref.ts, ref, tick: this.tick!.ordinal };
    this.periodRow(ref, 'return', this.tick!.ordinal, bytes, latencyBytes);
  }

  /** End of the session (next SET_PARAMS or end of the trace): its row. */
  end(): PcmStreamRow {
    this.closeTick();
    if (this.running && this.dry && this.direction) {
      // the trace ends with the device dry and RUNNING: judged like a STOP at the last event
      const x = judgeStop(this.direction, { run: this.runs, stop: { ts: this.last }, dry: this.dry }, 'end', undefined, this.periodNs());
      if (x) this.record(x);
    }
    this.resolveStop('end', undefined);
    const p = this.params;
    return {
      ...this.key,
      direction: this.direction ?? null,
      inferred: this.inferred,
      t_first: this.first.ts,
      t_last: this.last,
      buffer_bytes: p?.buffer_bytes ?? null,
      period_bytes: p?.period_bytes ?? null,
      period_frames: this.periodFrames() ?? null,
      channels: p?.channels ?? null,
      format: p?.format ?? null,
      rate_hz: p ? (rateHz(p.rate) ?? null) : null,
      nominal_period_ns: this.nominalPeriodNs() ?? null,
      settled_period_ns: this.clock.median() ?? null,
      runs: this.runs,
      periods_given: this.n.given,
      periods_returned: this.n.returned,
      periods_flushed: this.n.flushed,
      bytes: this.n.bytes,
      underruns: this.n.underruns,
      overruns: this.n.overruns,
      starved_ns: this.n.starved,
      bad_transitions: this.n.bad,
      io_errors: this.n.ioErrors,
      ...at(this.first),
    };
  }

  private nominalPeriodNs(): number | undefined {
    const frames = this.periodFrames();
    const hz = this.params ? rateHz(this.params.rate) : undefined;
    return frames !== undefined && hz !== undefined ? Math.round((frames * 1e9) / hz) : undefined;
  }

  private periodFrames(): number | undefined {
    const p = this.params;
    const fb = p ? frameBytes(p.format, p.channels) : undefined;
    return p && fb ? Math.floor(p.period_bytes / fb) : undefined;
  }

  /** One period, for "the queue stayed empty longer than a period". */
  private periodNs(): number {
    const timer = this.timer.nominalMs();
    return this.nominalPeriodNs() ?? this.clock.median() ?? (timer !== null ? timer * 1e6 : DEFAULT_PERIOD_NS);
  }

  private openTick(ref: Ref): void {
    this.closeTick();
    const prev = this.lastTickTs ?? this.runStart;
    this.tick = {
      ordinal: ++this.ticks,
      ts: ref.ts,
      periods: 0,
      levelBefore: this.level + 1,
      levelAfter: this.level,
      interval: ref.ts - prev,
      lateMs: this.timer.lateAfter(prev),
      ref,
    };
    this.lastTickTs = ref.ts;
  }

  private closeTick(): void {
    const t = this.tick;
    if (!t) return;
    this.tick = undefined;
    if (t.interval !== null && t.interval < 0) {
      this.sink.broken(t.ref, `period tick of stream ${this.key.stream} stamped ${(-t.interval / 1e3).toFixed(0)} µs before the one it follows: no interval`);
      t.interval = null;
    }
    if (t.interval !== null) this.clock.add(t.interval, t.periods);
    this.sink.tick({
      ...this.key,
      run: this.runs,
      tick: t.ordinal,
      ts: t.ts,
      periods: t.periods,
      level_before: t.levelBefore,
      level_after: t.levelAfter,
      interval_ns: t.interval,
      timer_late_ms: t.lateMs,
      ...at(t.ref),
    });
  }

  private resolveStop(next: 'restart' | 'resume' | 'end', ts: number | undefined): void {
    const s = this.stopped;
    if (!s) return;
    this.stopped = undefined;
    if (!this.direction) return;
    const x = judgeStop(this.direction, s, next, ts, this.periodNs());
    if (x) this.record(x);
  }

  private record(x: Xrun): void {
    if (x.end < x.start) {
      this.sink.broken(x.ref, `${x.kind} of stream ${this.key.stream} ends ${((x.start - x.end) / 1e3).toFixed(0)} µs before it starts: not counted`);
      return;
    }
    if (x.kind === 'underrun') this.n.underruns++;
    else this.n.overruns++;
    this.n.starved += x.end - x.start;
    this.sink.xrun({
      ...this.key,
      run: x.run,
      kind: x.kind,
      t_start: x.start,
      duration_ns: x.end - x.start,
      recovery: x.recovery,
      dry_running_ns: x.dryRunningNs,
      t_stop: x.stopped?.stop.ts ?? null,
      t_release: x.recovery === 'prepare' ? (x.stopped?.release ?? null) : null,
      t_prepare: x.recovery === 'prepare' ? (x.stopped?.prepare ?? null) : null,
      t_restart: x.restart ?? null,
      tick: x.tick,
      ...at(x.ref),
    });
  }

  private periodRow(ref: Ref, event: PcmPeriodRow['event'], tick: number | null, bytes: number | null, latencyBytes: number | null): void {
    const frames = this.periodFrames();
    const fb = this.params ? frameBytes(this.params.format, this.params.channels) : undefined;
    this.sink.period({
      ...this.key,
      run: this.runs,
      ts: ref.ts,
      event,
      level: this.level,
      tick,
      level_frames: frames !== undefined ? this.level * frames : null,
      bytes,
      latency_bytes: latencyBytes,
      latency_frames: latencyBytes !== null && fb ? Math.floor(latencyBytes / fb) : null,
      ...at(ref),
    });
  }
}
