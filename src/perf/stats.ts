/**
 * The statistics the gate compares two runs with, written from their definitions:
 * - quantile: linear interpolation between order statistics (Hyndman & Fan type 7), the same
 *   definition as DuckDB's quantile_cont, so a figure computed here equals the store's;
 * - a seeded percentile bootstrap of the relative difference of a statistic (deterministic:
 *   the same inputs give the same interval on every machine);
 * - the Mann-Whitney U test, normal approximation with tie and continuity correction.
 * Samples may contain +Infinity (a write never made durable): ranks and order statistics handle
 * it; a difference involving it is infinite.
 */

/** Quantile p (0..1) of ascending-sorted values, type 7. */
export function quantileSorted(sorted: readonly number[], p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const frac = h - lo;
  const a = sorted[lo]!;
  // frac 0 must not touch the next value: Infinity * 0 would be NaN
  if (frac === 0 || lo + 1 >= n) return a;
  const b = sorted[lo + 1]!;
  return a === b ? a : a + (b - a) * frac;
}

export function quantile(values: readonly number[], p: number): number {
  return quantileSorted([...values].sort((x, y) => x - y), p);
}

/** What a metric reduces its samples to. */
export type Statistic = { kind: 'quantile'; p: number } | { kind: 'max' } | { kind: 'mean' };

export function statisticOf(sorted: readonly number[], s: Statistic): number {
  if (sorted.length === 0) return Number.NaN;
  if (s.kind === 'quantile') return quantileSorted(sorted, s.p);
  if (s.kind === 'max') return sorted[sorted.length - 1]!;
  let sum = 0;
  for (const v of sorted) sum += v;
  return sum / sorted.length;
}

/** A small, fast PRNG (mulberry32): a fixed seed makes the bootstrap reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The statistic of a resample of `sorted` given as counts: counts[i] copies of sorted[i]. Walking
 * the counts gives the resample's order statistics without sorting it: O(n) per resample.
 */
export function statisticOfCounts(sorted: readonly number[], counts: ArrayLike<number>, s: Statistic): number {
  const n = sorted.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += counts[i]!;
  if (total === 0) return Number.NaN;
  if (s.kind === 'mean') {
    let sum = 0;
    for (let i = 0; i < n; i++) if (counts[i]! > 0) sum += counts[i]! * sorted[i]!;
    return sum / total;
  }
  if (s.kind === 'max') {
    for (let i = n - 1; i >= 0; i--) if (counts[i]! > 0) return sorted[i]!;
  }
  const h = (total - 1) * (s.kind === 'quantile' ? s.p : 1);
  const lo = Math.floor(h);
  const frac = h - lo;
  // value at resample rank r (0-based): the first order statistic whose cumulative count exceeds r
  let cum = 0;
  let i = 0;
  const at = (r: number): number => {
    while (cum + counts[i]! <= r) cum += counts[i++]!;
    return sorted[i]!;
  };
  const a = at(lo);
  if (frac === 0 || lo + 1 >= total) return a;
  const b = at(lo + 1);
  return a === b ? a : a + (b - a) * frac;
}

/** Draws a resample of size n (with replacement) as counts per index. */
function drawCounts(next: () => number, counts: Uint32Array): Uint32Array {
  const n = counts.length;
  counts.fill(0);
  for (let i = 0; i < n; i++) counts[Math.floor(next() * n)]!++;
  return counts;
}

export interface BootstrapResult {
  /** statistic of the baseline and of the candidate samples */
  baseline: number;
  candidate: number;
  /** candidate / baseline - 1 */
  change: number;
  /** two-sided (1 - alpha) percentile interval of the relative change; low is the one-sided (1 - alpha/2) bound */
  low: number;
  high: number;
  resamples: number;
}

export interface BootstrapOptions {
  alpha?: number;
  resamples?: number;
  seed?: number;
}

/** Relative change of a statistic between two samples, candidate against baseline. */
export function relativeChange(base: number, cand: number): number {
  if (base === cand) return 0;
  if (base === 0) return cand > 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  return cand / base - 1;
}

/**
 * Percentile bootstrap of the relative change of a statistic: both samples are resampled
 * independently, the change computed each time, and the alpha/2 and 1 - alpha/2 quantiles of
 * those changes bound it.
 */
export function bootstrapChange(baseline: readonly number[], candidate: readonly number[], s: Statistic, o: BootstrapOptions = {}): BootstrapResult {
  const alpha = o.alpha ?? 0.05;
  const B = o.resamples ?? 2000;
  const next = rng(o.seed ?? 1);
  const bs = [...baseline].sort((x, y) => x - y);
  const cs = [...candidate].sort((x, y) => x - y);
  const base = statisticOf(bs, s);
  const cand = statisticOf(cs, s);
  const bc = new Uint32Array(bs.length);
  const cc = new Uint32Array(cs.length);
  const changes: number[] = new Array(B);
  for (let b = 0; b < B; b++) {
    changes[b] = relativeChange(statisticOfCounts(bs, drawCounts(next, bc), s), statisticOfCounts(cs, drawCounts(next, cc), s));
  }
  changes.sort((x, y) => x - y);
  return {
    baseline: base,
    candidate: cand,
    change: relativeChange(base, cand),
    low: quantileSorted(changes, alpha / 2),
    high: quantileSorted(changes, 1 - alpha / 2),
    resamples: B,
  };
}

export interface MannWhitneyResult {
  /** U of x: the number of pairs (x_i, y_j) with x_i > y_j, ties counting one half */
  u: number;
  n1: number;
  n2: number;
  /** standardised U, tie- and continuity-corrected; positive when x tends to be larger */
  z: number;
  /** one-sided p-value of H1: x tends to be larger than y */
  pGreater: number;
  /** two-sided p-value */
  pTwoSided: number;
  /** P(x > y) + P(x = y) / 2: the common-language effect size, 0.5 when neither tends to be larger */
  effect: number;
}

/** Mann-Whitney U of x against y, from the ranks of the pooled sample (mid-ranks for ties). */
export function mannWhitney(x: readonly number[], y: readonly number[]): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  const pooled = [...x.map((v) => ({ v, fromX: true })), ...y.map((v) => ({ v, fromX: false }))].sort((a, b) => a.v - b.v);
  const N = n1 + n2;
  let rankSumX = 0;
  let tieTerm = 0; // sum over tie groups of t^3 - t
  for (let i = 0; i < N; ) {
    let j = i;
    while (j + 1 < N && pooled[j + 1]!.v === pooled[i]!.v) j++;
    const t = j - i + 1;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (pooled[k]!.fromX) rankSumX += midRank;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  const u = rankSumX - (n1 * (n1 + 1)) / 2;
  const d = u - (n1 * n2) / 2;
  const sd = N < 2 ? 0 : Math.sqrt(((n1 * n2) / 12) * (N + 1 - tieTerm / (N * (N - 1))));
  // continuity correction: half a step towards the mean
  const zGreater = sd > 0 ? (d - 0.5) / sd : 0;
  const zAbs = sd > 0 ? Math.max(0, Math.abs(d) - 0.5) / sd : 0;
  return {
    u,
    n1,
    n2,
    z: Math.sign(d) * zAbs,
    pGreater: sd > 0 ? upperNormalTail(zGreater) : 0.5,
    pTwoSided: sd > 0 ? Math.min(1, 2 * upperNormalTail(zAbs)) : 1,
    effect: n1 * n2 > 0 ? u / (n1 * n2) : 0.5,
  };
}

/** P(Z > z) for a standard normal Z. */
export function upperNormalTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * Complementary error function. For x >= 0 the series erfc(x) = exp(-x^2) * t * P(t) with
 * t = 1 / (1 + x/2) (a Chebyshev fit, fractional error below 1.2e-7 everywhere); erfc(-x) = 2 - erfc(x).
 */
export function erfc(x: number): number {
  const ax = Math.abs(x);
  const t = 1 / (1 + 0.5 * ax);
  const poly =
    -ax * ax - 1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const r = t * Math.exp(poly);
  return x >= 0 ? r : 2 - r;
}
