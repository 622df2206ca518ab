/**
 * The PCM stream analysis (virtio-sound, VIRTIO 1.3 §5.14): follows every stream's lifecycle and
 * its periods on txq/rxq, and writes the stream sessions, queue levels, ticks, xruns and the host
 * audio timer to tables of its own (./tables.ts; views in queries/audio.sql).
 *
 * QEMU names the stream on SET_PARAMS, START, STOP and RELEASE only. A PREPARE goes to the stream
 * most recently addressed among those that may be prepared; a buffer on txq (rxq) to the output
 * (input) stream most recently addressed among those that are prepared, running or stopped — or,
 * for a returned buffer, that still holds buffers (RELEASE completes them). A stream's direction is
 * the queue its buffers use. Richer VMMs name the stream on each message (snd.xfer); a device that
 * logs snd.xfer has its returns counted from those and not from its txq/rxq completions.
 */
import type { Analysis, AnalysisContext, AnalysisRun, RowSink } from '../analysis.ts';
import { DEVICE_ID } from '../../model/device-types.ts';
import type { Event, EventOf } from '../../model/events.ts';
import { refOf } from '../../model/observations.ts';
import { SND_PCM_STATUS_BYTES, SND_Q, SND_R } from '../../model/devices/sound-codes.ts';
import { PcmSession, type HostTimer, type SessionSink } from './session.ts';
import { isLifecycleRequest, mayPrepare } from './stream-state.ts';
import { AUDIO_TIMER, PCM_PERIODS, PCM_STREAMS, PCM_TICKS, PCM_XRUNS, SOUND_TABLES } from './tables.ts';
import type { Direction } from './xrun.ts';

class SoundDevice {
  /** the current session of each stream */
  readonly sessions = new Map<number, PcmSession>();
  readonly sessionCount = new Map<number, number>();
  /** a stream's direction outlives its sessions (PCM_INFO fixes it) */
  readonly directions = new Map<number, Direction>();
  logsXfer = false;

  constructor(
    readonly vm: string,
    readonly dev: string,
  ) {}

  /** The most recently addressed session among those `ok` accepts. */
  pick(ok: (s: PcmSession) => boolean): PcmSession | undefined {
    let best: PcmSession | undefined;
    for (const s of this.sessions.values()) if (ok(s) && (!best || s.lastAddressed > best.lastAddressed)) best = s;
    return best;
  }
}

class HostTimerState implements HostTimer {
  nominal: number | null = null;
  lastDelayed?: { ts: number; lateMs: number };
  lateAfter(ts: number): number | null {
    return this.lastDelayed && this.lastDelayed.ts > ts ? this.lastDelayed.lateMs : null;
  }
  nominalMs(): number | null {
    return this.nominal;
  }
}

const ACTIVE = new Set(['prepared', 'running', 'stopped']);

class SoundRun implements AnalysisRun {
  private readonly devices = new Map<string, SoundDevice>();
  private readonly timers = new Map<string, HostTimerState>();
  private readonly rows: SessionSink;

  constructor(
    private readonly ctx: AnalysisContext,
    private readonly sink: RowSink,
  ) {
    this.rows = {
      period: (r) => sink.add(PCM_PERIODS, r),
      tick: (r) => sink.add(PCM_TICKS, r),
      xrun: (r) => sink.add(PCM_XRUNS, r),
      broken: (at, detail) => ctx.stats.add('pair.broken', at.src?.file ?? '?', at.src?.line ?? 0, detail),
    };
  }

  onEvent(e: Event): void {
    if (e.view === 'guest') return;
    switch (e.kind) {
      case 'snd.ctrl':
        this.control(e);
        break;
      case 'vq.pop':
      case 'vq.fill':
        this.buffer(e);
        break;
      case 'snd.xfer':
        this.xfer(e);
        break;
      case 'audio.timer':
        this.audioTimer(e);
        break;
    }
  }

  finish(): void {
    for (const d of this.devices.values()) for (const s of d.sessions.values()) this.sink.add(PCM_STREAMS, s.end());
  }

  private device(vm: string, dev: string): SoundDevice {
    const key = `${vm}\0${dev}`;
    let d = this.devices.get(key);
    if (!d) this.devices.set(key, (d = new SoundDevice(vm, dev)));
    return d;
  }

  private timer(vm: string): HostTimerState {
    let t = this.timers.get(vm);
    if (!t) this.timers.set(vm, (t = new HostTimerState()));
    return t;
  }

  /** The stream's session, a new one when a SET_PARAMS follows a session that has run. */
  private session(d: SoundDevice, stream: number, e: Event, newConfig: boolean): PcmSession {
    let s = d.sessions.get(stream);
    if (s && !(newConfig && s.hasRun)) return s;
    if (s) this.sink.add(PCM_STREAMS, s.end());
    const n = (d.sessionCount.get(stream) ?? 0) + 1;
    d.sessionCount.set(stream, n);
    s = new PcmSession({ vm: d.vm, dev: d.dev, stream, session: n }, refOf(e), s?.state ?? 'idle', this.rows, this.timer(d.vm));
    s.direction = d.directions.get(stream);
    d.sessions.set(stream, s);
    return s;
  }

  private control(e: EventOf<'snd.ctrl'>): void {
    if (e.dev === undefined || !isLifecycleRequest(e.code)) return;
    const d = this.device(e.vm ?? '', e.dev);
    const stream = e.stream ?? (e.code === SND_R.PCM_PREPARE ? d.pick((s) => mayPrepare(s.state))?.key.stream : undefined);
    if (stream === undefined) return;
    this.session(d, stream, e, e.code === SND_R.PCM_SET_PARAMS).control(e.code, refOf(e), e.params);
  }

  private buffer(e: EventOf<'vq.pop' | 'vq.fill'>): void {
    const q = this.ctx.platform.queueOf(e);
    if (!q || q.dev === undefined || (q.index !== SND_Q.tx && q.index !== SND_Q.rx)) return;
    const vm = e.vm ?? '';
    if (this.ctx.platform.device(vm, q.dev).type()?.id !== DEVICE_ID.sound) return;
    const d = this.device(vm, q.dev);
    const dir: Direction = q.index === SND_Q.tx ? 'output' : 'input';
    const fits = (s: PcmSession) => s.direction === undefined || s.direction === dir;
    if (e.kind === 'vq.pop') {
      const s = d.pick((x) => fits(x) && ACTIVE.has(x.state));
      if (!s) return;
      this.claim(d, s, dir);
      s.give(refOf(e));
      return;
    }
    if (d.logsXfer) return;
    const s = d.pick((x) => fits(x) && x.level > 0) ?? d.pick((x) => fits(x) && ACTIVE.has(x.state));
    if (!s) return;
    this.claim(d, s, dir);
    // an rx completion's used length is the recorded frames plus the status trailer (§5.14.6.8)
    s.ret(refOf(e), dir === 'input' ? Math.max(0, e.len - SND_PCM_STATUS_BYTES) : null, null);
  }

  private claim(d: SoundDevice, s: PcmSession, dir: Direction): void {
    s.inferred = true;
    if (s.direction === undefined) {
      s.direction = dir;
      d.directions.set(s.key.stream, dir);
    }
  }

  private xfer(e: EventOf<'snd.xfer'>): void {
    if (e.dev === undefined) return;
    const d = this.device(e.vm ?? '', e.dev);
    d.logsXfer = true;
    const s = this.session(d, e.stream, e, false);
    const dir: Direction = e.dir === 'tx' ? 'output' : 'input';
    s.direction ??= dir;
    d.directions.set(e.stream, s.direction);
    s.ret(refOf(e), e.bytes, e.latency_bytes ?? null, e.status);
  }

  private audioTimer(e: EventOf<'audio.timer'>): void {
    const vm = e.vm ?? '';
    const t = this.timer(vm);
    let late: number | null = null;
    if (e.op === 'start') t.nominal = e.interval_ms;
    else if (e.op === 'delayed') {
      late = t.nominal !== null ? e.interval_ms - t.nominal : null;
      t.lastDelayed = { ts: e.ts, lateMs: late ?? e.interval_ms };
    }
    this.sink.add(AUDIO_TIMER, {
      vm, ts: e.ts, op: e.op, interval_ms: e.interval_ms,
      nominal_ms: e.op === 'delayed' ? t.nominal : null, late_ms: late,
      file: e.src?.file ?? null, line: e.src?.line ?? null,
    });
  }
}

export const soundAnalysis: Analysis = {
  name: 'sound',
  tables: SOUND_TABLES as Analysis['tables'],
  start: (ctx, sink) => new SoundRun(ctx, sink),
};
