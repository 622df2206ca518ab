/**
 * Events both sides log, paired: a guest kick (vq_notify) with QEMU's virtio_queue_notify of the
 * same queue, a guest block_rq_issue with QEMU's virtio_blk_handle_read/write of the same
 * direction, sector and length. Times are ns on each side's own clock; `base` is the host origin
 * minus the guest origin, so that a pair's difference is `base + host.ts − guest.ts`.
 */
import { envelopeAt, type Envelope, type Pair } from './fit.ts';

export interface NotifyPoint {
  ts: number;
  dev: string;
  queue: number;
}

export interface BlkPoint {
  ts: number;
  write: boolean;
  sector: number;
  nsectors: number;
}

export interface SideEvents {
  notifies: NotifyPoint[];
  blk: BlkPoint[];
  /** first and last event of the side, any kind */
  first: number;
  last: number;
}

/** How far from the envelope a partner may be: below it (clock error) and above it (the delay). */
export interface Window {
  below: number;
  above: number;
}

const blkKey = (b: BlkPoint) => `${b.write ? 'W' : 'R'} ${b.sector} ${b.nsectors}`;

/** Host candidates examined per guest event when the offset is still unknown. */
const MAX_CANDIDATES = 64;
/** Without block pairs, notify pairs are sought within this distance of equal clocks. */
const NOTIFY_SEARCH_NS = 30e9;
const NOTIFY_SAMPLES = 256;
/** The densest stretch of differences this wide holds the offset. */
const MODE_NS = 2e6;

/**
 * A first offset, before any pairing: the low end of the densest cluster of differences between
 * events that could be partners. Block requests are nearly unique by sector and length; kicks
 * are not, so they are only a fallback, searched near equal clocks.
 */
export function coarseOffset(host: SideEvents, guest: SideEvents, base: number): number | undefined {
  const diffs: number[] = [];
  const byKey = groupBy(host.blk, blkKey);
  for (const g of guest.blk) {
    for (const h of (byKey.get(blkKey(g)) ?? []).slice(0, MAX_CANDIDATES)) diffs.push(base + h.ts - g.ts);
  }
  if (diffs.length < 3) {
    const hostByQueue = groupBy(host.notifies, (n) => n.queue);
    const step = Math.max(1, Math.floor(guest.notifies.length / NOTIFY_SAMPLES));
    for (let i = 0; i < guest.notifies.length; i += step) {
      const g = guest.notifies[i]!;
      const hs = hostByQueue.get(g.queue) ?? [];
      // host.ts near g.ts − base, i.e. a difference near 0
      let j = lowerBound(hs, g.ts - base - NOTIFY_SEARCH_NS);
      for (let k = 0; k < MAX_CANDIDATES && j < hs.length && hs[j]!.ts <= g.ts - base + NOTIFY_SEARCH_NS; j++, k++) diffs.push(base + hs[j]!.ts - g.ts);
    }
  }
  if (diffs.length === 0) return undefined;
  diffs.sort((a, b) => a - b);
  let best = 0;
  let bestAt = 0;
  for (let i = 0, j = 0; i < diffs.length; i++) {
    while (diffs[j]! < diffs[i]! - MODE_NS) j++;
    if (i - j + 1 > best) {
      best = i - j + 1;
      bestAt = j;
    }
  }
  return diffs[bestAt];
}

/**
 * Which host device each guest virtioN is: the one whose kicks of the same queue index fall in
 * the window after the guest's most often. One host device per guest device.
 */
export function mapDevices(host: SideEvents, guest: SideEvents, base: number, env: Envelope, w: Window): Map<string, string> {
  const hostByQueue = groupBy(host.notifies, (n) => n.queue);
  const votes = new Map<string, number>();
  for (const g of guest.notifies) {
    const lo = envelopeAt(env, g.ts) - w.below;
    const hi = envelopeAt(env, g.ts) + w.above;
    const hs = hostByQueue.get(g.queue) ?? [];
    const seen = new Set<string>();
    const from = lowerBound(hs, g.ts - base + lo);
    for (let j = from; j < hs.length && j < from + MAX_CANDIDATES && base + hs[j]!.ts - g.ts <= hi; j++) seen.add(hs[j]!.dev);
    for (const d of seen) votes.set(`${g.dev}\t${d}`, (votes.get(`${g.dev}\t${d}`) ?? 0) + 1);
  }
  const map = new Map<string, string>();
  const taken = new Set<string>();
  for (const [k] of [...votes].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    const [g, h] = k.split('\t') as [string, string];
    if (map.has(g) || taken.has(h)) continue;
    map.set(g, h);
    taken.add(h);
  }
  return map;
}

export interface Paired {
  pairs: Pair[];
  /** which host device each pair's guest device was joined to, with the pair count */
  perDevice: Map<string, number>;
  guestUnmatched: number;
  hostUnmatched: NotifyPoint[] | BlkPoint[];
}

/**
 * Each guest kick takes the first host kick of its mapped device and queue that is not below the
 * window; host kicks passed over stay unmatched (QEMU logs kicks the guest did not trace).
 */
export function pairNotifies(host: SideEvents, guest: SideEvents, base: number, map: Map<string, string>, env: Envelope, w: Window): Paired {
  const hostStreams = groupBy(host.notifies, (n) => `${n.dev}#${n.queue}`);
  const used = new Set<NotifyPoint>();
  const next = new Map<string, number>();
  const pairs: Pair[] = [];
  const perDevice = new Map<string, number>();
  let guestUnmatched = 0;
  for (const g of guest.notifies) {
    const hd = map.get(g.dev);
    const key = `${hd}#${g.queue}`;
    const hs = hd === undefined ? undefined : hostStreams.get(key);
    if (!hs) {
      guestUnmatched++;
      continue;
    }
    const lo = envelopeAt(env, g.ts) - w.below;
    let j = next.get(key) ?? 0;
    while (j < hs.length && base + hs[j]!.ts - g.ts < lo) j++;
    next.set(key, j);
    const h = hs[j];
    if (h && base + h.ts - g.ts <= envelopeAt(env, g.ts) + w.above) {
      used.add(h);
      next.set(key, j + 1);
      pairs.push({ t: g.ts, d: base + h.ts - g.ts });
      perDevice.set(g.dev, (perDevice.get(g.dev) ?? 0) + 1);
    } else guestUnmatched++;
  }
  return { pairs, perDevice, guestUnmatched, hostUnmatched: host.notifies.filter((h) => !used.has(h)) };
}

/** Each guest request takes the first host request of the same key within the window. */
export function pairBlk(host: SideEvents, guest: SideEvents, base: number, env: Envelope, w: Window): Paired {
  const byKey = groupBy(host.blk, blkKey);
  const used = new Set<BlkPoint>();
  const pairs: Pair[] = [];
  let guestUnmatched = 0;
  for (const g of guest.blk) {
    const lo = envelopeAt(env, g.ts) - w.below;
    const hi = envelopeAt(env, g.ts) + w.above;
    const h = (byKey.get(blkKey(g)) ?? []).find((x) => !used.has(x) && base + x.ts - g.ts >= lo && base + x.ts - g.ts <= hi);
    if (h) {
      used.add(h);
      pairs.push({ t: g.ts, d: base + h.ts - g.ts });
    } else guestUnmatched++;
  }
  return { pairs, perDevice: new Map(), guestUnmatched, hostUnmatched: host.blk.filter((h) => !used.has(h)) };
}

function groupBy<T, K>(xs: T[], key: (x: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const l = m.get(k);
    if (l) l.push(x);
    else m.set(k, [x]);
  }
  return m;
}

/** First index whose ts is >= t (xs sorted by ts). */
function lowerBound(xs: { ts: number }[], t: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]!.ts < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
