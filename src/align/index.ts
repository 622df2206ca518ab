/**
 * Clock alignment of a guest trace with the host trace of the same run: the offset and drift of
 * the guest clock, measured (never assumed) from events both sides log, and which QEMU device
 * instance each guest virtioN is. A pure function of the two sides' events.
 *
 *   host = guest + offsetNs + driftPpm·1e-6·(guest − refNs)     (absolute ns on each clock)
 */
import { lowerEnvelope, envelopeAt, type Envelope, type Pair } from './fit.ts';
import { coarseOffset, mapDevices, pairBlk, pairNotifies, type SideEvents, type Window } from './pair.ts';

export type { SideEvents, NotifyPoint, BlkPoint } from './pair.ts';

export interface Side extends SideEvents {
  /** absolute ns on the side's clock that its ts count from */
  originNs: bigint;
}

export interface Alignment {
  available: boolean;
  /** why the clocks could not be aligned */
  reason: string | null;
  /** host − guest, ns, at refNs */
  offsetNs: number | null;
  /** guest clock rate error against the host's, ppm (host ns per guest ns − 1) */
  driftPpm: number | null;
  /** absolute ns on the guest clock where offsetNs holds (decimal text: it exceeds 2^53) */
  refNs: string | null;
  pairs: { notify: number; blk: number };
  /** how far the pairs lie above the envelope: the delays, ns */
  spread: { p50Ns: number; p90Ns: number; maxNs: number } | null;
  /** guest virtioN -> host device instance, with the kicks paired */
  deviceMap: { guest: string; host: string; pairs: number }[];
  /** events of each side that found no partner; host kicks outside the guest trace's span counted apart */
  unmatched: {
    guest: { notify: number; blk: number };
    host: { notify: number; blk: number; notifyOutsideGuest: number };
  };
}

/** Fewer pairs than this do not make an alignment. */
export const MIN_PAIRS = 5;
/** No clock runs this far off another: pairs that need it are not of one run. */
export const MAX_DRIFT_PPM = 1000;
/** First pass: around an offset taken from block requests, whose guest side (issue) precedes the kick. */
const WIDE: Window = { below: 5e6, above: 20e6 };
/** Second pass: around the envelope of the first. */
const NARROW: Window = { below: 200e3, above: 20e6 };

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))]!;
}

export function align(host: Side, guest: Side): Alignment {
  const base = Number(host.originNs - guest.originNs);
  const empty: Alignment = {
    available: false, reason: null, offsetNs: null, driftPpm: null, refNs: null, pairs: { notify: 0, blk: 0 }, spread: null, deviceMap: [],
    unmatched: { guest: { notify: guest.notifies.length, blk: guest.blk.length }, host: { notify: host.notifies.length, blk: host.blk.length, notifyOutsideGuest: 0 } },
  };
  const coarse = coarseOffset(host, guest, base);
  if (coarse === undefined) return { ...empty, reason: 'no events both sides log (guest vq_notify / block_rq_issue, QEMU virtio_queue_notify / virtio_blk_handle_*)' };

  let env: Envelope = { t0: 0, d0: coarse, slope: 0 };
  let result: ReturnType<typeof pass> | undefined;
  for (const w of [WIDE, NARROW]) {
    result = pass(host, guest, base, env, w);
    const fitted = lowerEnvelope([...result.notify.pairs, ...result.blk.pairs]);
    if (!fitted) break;
    env = fitted;
  }
  const r = result!;
  const all: Pair[] = [...r.notify.pairs, ...r.blk.pairs];
  if (all.length < MIN_PAIRS) {
    return { ...empty, reason: `only ${all.length} event pair(s) found (at least ${MIN_PAIRS} needed)`, pairs: { notify: r.notify.pairs.length, blk: r.blk.pairs.length } };
  }
  if (Math.abs(env.slope * 1e6) > MAX_DRIFT_PPM) {
    return {
      ...empty,
      reason: `the pairs fit no clock (they would need a drift of ${(env.slope * 1e6).toFixed(0)} ppm): are the traces of one run?`,
      pairs: { notify: r.notify.pairs.length, blk: r.blk.pairs.length },
    };
  }
  // report the offset at the first pair, on the guest's absolute clock
  const t0 = all.reduce((m, p) => Math.min(m, p.t), Infinity);
  // the spread of the kicks is the clock's; a block request's issue precedes its kick by the driver's own time
  const spreadOf = r.notify.pairs.length > 0 ? r.notify.pairs : r.blk.pairs;
  const residuals = spreadOf.map((p) => p.d - envelopeAt(env, p.t)).sort((a, b) => a - b);
  const guestFirstOnHost = guest.first + envelopeAt(env, guest.first) - base;
  const guestLastOnHost = guest.last + envelopeAt(env, guest.last) - base;
  const hostUnmatched = r.notify.hostUnmatched as { ts: number }[];
  return {
    available: true,
    reason: null,
    offsetNs: Math.round(envelopeAt(env, t0)),
    driftPpm: env.slope * 1e6,
    refNs: (guest.originNs + BigInt(t0)).toString(),
    pairs: { notify: r.notify.pairs.length, blk: r.blk.pairs.length },
    spread: { p50Ns: Math.round(quantile(residuals, 0.5)), p90Ns: Math.round(quantile(residuals, 0.9)), maxNs: Math.round(residuals[residuals.length - 1]!) },
    deviceMap: [...r.map].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([g, h]) => ({ guest: g, host: h, pairs: r.notify.perDevice.get(g) ?? 0 })),
    unmatched: {
      guest: { notify: r.notify.guestUnmatched, blk: r.blk.guestUnmatched },
      host: {
        notify: hostUnmatched.length,
        blk: r.blk.hostUnmatched.length,
        notifyOutsideGuest: hostUnmatched.filter((h) => h.ts < guestFirstOnHost || h.ts > guestLastOnHost).length,
      },
    },
  };
}

function pass(host: SideEvents, guest: SideEvents, base: number, env: Envelope, w: Window) {
  const map = mapDevices(host, guest, base, env, w);
  return { map, notify: pairNotifies(host, guest, base, map, env, w), blk: pairBlk(host, guest, base, env, w) };
}
