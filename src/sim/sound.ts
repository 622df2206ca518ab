/**
 * A simulated virtio-sound playback stream, as canonical events: a device that takes one period
 * off its queue on every tick of a fixed clock, and a writer that refills each period as soon as
 * the device returns one — except that every N-th period it hands over is late. While the writer
 * is late it writes nothing; when it wakes it writes all the space freed meanwhile at once (how an
 * ALSA writer behaves after a stall). The writer never stops the stream, so an empty queue shows
 * only as the device having nothing to return. For tests, and later `avpscope simulate`.
 */
import type { Event, SndParams, SourceHeader } from '../model/events.ts';
import { eventToJson, headerToJson } from '../ingest/jsonl/index.ts';
import { SND_Q, SND_R } from '../model/devices/sound-codes.ts';

export interface LatePlaybackOptions {
  /** periods played in all */
  periods: number;
  /** periods the buffer holds: the writer prefills them before START and never has more queued */
  bufferPeriods: number;
  /** ns between the device's ticks, one period each */
  periodNs: number;
  /** every period whose index (from 0) is a multiple of this, and not a prefilled one, is late */
  lateEvery: number;
  /** ns the late period comes after it would have */
  lateNs: number;
  /** ns from a period's return to the writer handing over the next one */
  reactNs: number;
  /** log each message as snd.xfer with latency_bytes and the SET_PARAMS body (a richer VMM than QEMU) */
  rich?: boolean;
  vm?: string;
  dev?: string;
  stream?: number;
}

/** 48 kHz S16 stereo: 4 bytes a frame; period_bytes follow from periodNs. */
const RATE_48000 = 7;
const FMT_S16 = 5;
const FRAME_BYTES = 4;

export interface SimulatedTrace {
  header: SourceHeader;
  events: Event[];
  /** ns of the START */
  start: number;
}

export function latePlayback(o: LatePlaybackOptions): SimulatedTrace {
  const vm = o.vm ?? 'sim';
  const dev = o.dev ?? 'snd0';
  const stream = o.stream ?? 0;
  const periodBytes = Math.round((o.periodNs * 48_000) / 1e9) * FRAME_BYTES;
  const params: SndParams = { buffer_bytes: periodBytes * o.bufferPeriods, period_bytes: periodBytes, channels: 2, format: FMT_S16, rate: RATE_48000 };
  const out: Event[] = [];
  const push = (ts: number, e: Record<string, unknown>) => out.push({ ts, vm, dev, ...e } as Event);
  const ctrl = (ts: number, code: number, extra: Record<string, unknown> = {}) => {
    push(ts, { kind: 'notify.avail', queue: SND_Q.control });
    push(ts, { kind: 'vq.pop', queue: SND_Q.control, elem: `c${ts}`, out_num: 1, in_num: 1 });
    push(ts, { kind: 'snd.ctrl', code, stream, ...extra });
    push(ts, { kind: 'vq.fill', queue: SND_Q.control, elem: `c${ts}`, len: 4, idx: 0 });
    push(ts, { kind: 'vq.flush', queue: SND_Q.control, count: 1 });
  };

  push(0, { kind: 'device', device_id: 25, name: 'virtio-sound' });
  [0, 1, 3, 11, 15].forEach((v, i) => push(1_000 * (i + 1), { kind: 'status', value: v }));
  const t0 = 1_000_000;
  ctrl(t0, SND_R.PCM_SET_PARAMS, o.rich ? { params } : {});
  ctrl(t0 + 100_000, SND_R.PCM_PREPARE);
  const start = t0 + 1_000_000;

  // g[i]: when period i is handed over; r[j]: when period j is returned (on a tick)
  const g: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < Math.min(o.bufferPeriods, o.periods); i++) g[i] = t0 + 200_000 + i * 1_000;
  const handover = (i: number) => {
    if (g[i] === undefined) {
      const late = i % o.lateEvery === 0 ? o.lateNs : 0;
      g[i] = Math.max(g[i - 1]!, r[i - o.bufferPeriods]! + o.reactNs + late);
    }
    return g[i]!;
  };
  for (let j = 0, k = 1; j < o.periods; k++) {
    const tick = start + k * o.periodNs;
    if (handover(j) <= tick) r[j++] = tick;
  }

  ctrl(start, SND_R.PCM_START);
  const level = (ts: number) => g.filter((x) => x <= ts).length - r.filter((x) => x <= ts).length;
  for (const [i, ts] of g.entries()) {
    push(ts, { kind: 'notify.avail', queue: SND_Q.tx });
    push(ts, { kind: 'vq.pop', queue: SND_Q.tx, elem: `p${i}`, out_num: 2, in_num: 1, out_bytes: 4 + periodBytes });
  }
  for (const [j, ts] of r.entries()) {
    if (o.rich) push(ts, { kind: 'snd.xfer', dir: 'tx', stream, bytes: periodBytes, latency_bytes: level(ts) * periodBytes, status: 0x8000 });
    push(ts, { kind: 'vq.fill', queue: SND_Q.tx, elem: `p${j}`, len: 8, idx: j % 64 });
    push(ts, { kind: 'vq.flush', queue: SND_Q.tx, count: 1 });
    push(ts, { kind: 'notify.used', queue: SND_Q.tx });
  }
  const end = r.at(-1)! + 500_000;
  ctrl(end, SND_R.PCM_STOP);
  ctrl(end + 1_000_000, SND_R.PCM_RELEASE);

  // a stable sort keeps each step's own order; a period handed over at a tick's instant was there for the tick
  const isReturn = (e: Event) => e.kind === 'snd.xfer' || (e.kind !== 'vq.pop' && e.kind !== 'notify.avail' && 'queue' in e && e.queue === SND_Q.tx);
  const rank = (e: Event) => (isReturn(e) ? 1 : 0);
  out.sort((a, b) => a.ts - b.ts || rank(a) - rank(b));
  return { header: { format: 'avpscope-events', version: 1, origin_ns: '0', view: 'host', vm, producer: 'avpscope sim latePlayback' }, events: out, start };
}

/** The trace as canonical JSON Lines. */
export function toJsonl(t: SimulatedTrace): string {
  return [headerToJson(t.header), ...t.events.map(eventToJson)].join('\n') + '\n';
}
