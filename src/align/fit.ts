/**
 * The lower envelope of clock differences. Each pair joins a guest event to the host event it
 * caused (or that caused it): d = host time − guest time = the offset between the clocks plus a
 * delay that is never negative. The smallest differences are therefore the offset; the large ones
 * are delays (QEMU's main loop serving an ioeventfd kick milliseconds later), never the offset.
 *
 * Drift: the pairs are cut into windows of time; each window gives its lowest difference that is
 * not alone (a lone low value is a wrong pair, not the clock); the line is the edge of the lower
 * convex hull of those window minima that lies under the bulk of the pairs, which is the line
 * below every window minimum that stays closest to them (the linear-programming estimate of
 * clock synchronisation).
 */

export interface Pair {
  /** guest time, ns (any origin, the same for every pair) */
  t: number;
  /** host time − guest time, ns */
  d: number;
}

/** d(t) = d0 + slope · (t − t0) */
export interface Envelope {
  t0: number;
  d0: number;
  /** ns of difference per ns of guest time (1e-6 = 1 ppm) */
  slope: number;
}

/** A window's minimum counts when another pair of the window lies this close above it. */
const NEIGHBOUR_NS = 50_000;
/** Drift needs the window minima to span at least this much guest time. */
const MIN_DRIFT_SPAN_NS = 50e6;
const MAX_WINDOWS = 16;
const PAIRS_PER_WINDOW = 10;

export function envelopeAt(e: Envelope, t: number): number {
  return e.d0 + e.slope * (t - e.t0);
}

/** The lowest difference of a window that has a neighbour close above it; else its lowest. */
function windowMinimum(ds: Pair[]): { p: Pair; lone: boolean } {
  const s = [...ds].sort((a, b) => a.d - b.d);
  for (let i = 0; i + 1 < s.length; i++) if (s[i + 1]!.d - s[i]!.d <= NEIGHBOUR_NS) return { p: s[i]!, lone: false };
  return { p: s[0]!, lone: true };
}

/** Lower convex hull of points sorted by t (Andrew's monotone chain, lower half). */
function lowerHull(ps: Pair[]): Pair[] {
  const h: Pair[] = [];
  for (const p of ps) {
    while (h.length >= 2) {
      const a = h[h.length - 2]!;
      const b = h[h.length - 1]!;
      // drop b when it lies on or above the segment a -> p
      if ((b.t - a.t) * (p.d - a.d) - (b.d - a.d) * (p.t - a.t) <= 0) h.pop();
      else break;
    }
    h.push(p);
  }
  return h;
}

export function lowerEnvelope(pairs: Pair[]): Envelope | undefined {
  if (pairs.length === 0) return undefined;
  const sorted = [...pairs].sort((a, b) => a.t - b.t);
  const tMin = sorted[0]!.t;
  const tMax = sorted[sorted.length - 1]!.t;
  const n = Math.max(1, Math.min(MAX_WINDOWS, Math.floor(sorted.length / PAIRS_PER_WINDOW)));
  const width = (tMax - tMin) / n || 1;
  const windows: Pair[][] = Array.from({ length: n }, () => []);
  for (const p of sorted) windows[Math.min(n - 1, Math.floor((p.t - tMin) / width))]!.push(p);
  const minima = windows.filter((w) => w.length > 0).map(windowMinimum);
  // lone minima are dropped when the others suffice
  const dense = minima.filter((m) => !m.lone).map((m) => m.p);
  const points = dense.length > 0 ? dense : minima.map((m) => m.p);
  const tMean = sorted.reduce((a, p) => a + p.t, 0) / sorted.length;
  const hull = lowerHull(points);
  if (hull.length === 1 || hull[hull.length - 1]!.t - hull[0]!.t < MIN_DRIFT_SPAN_NS) {
    const low = hull.reduce((a, b) => (b.d < a.d ? b : a));
    return { t0: low.t, d0: low.d, slope: 0 };
  }
  let i = 0;
  while (i < hull.length - 2 && hull[i + 1]!.t < tMean) i++;
  const a = hull[i]!;
  const b = hull[i + 1]!;
  return { t0: a.t, d0: a.d, slope: (b.d - a.d) / (b.t - a.t) };
}
