import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bootstrapChange, erfc, mannWhitney, quantile, quantileSorted, statisticOf, statisticOfCounts, upperNormalTail, type Statistic,
} from '../src/perf/stats.ts';

describe('quantile (type 7, as DuckDB quantile_cont and numpy/R defaults)', () => {
  it('matches known values', () => {
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    // numpy.quantile(x, p) for p = 0, .1, .25, .5, .9, .99, 1
    expect([0, 0.1, 0.25, 0.5, 0.9, 0.99, 1].map((p) => quantile(x, p))).toEqual([1, 1.9, 3.25, 5.5, 9.1, 9.91, 10].map((v) => expect.closeTo(v, 12)));
    expect(quantile([3.1, 0.5, 7.2, 7.2, 2.2], 0.5)).toBe(3.1);
    expect(quantile([3.1, 0.5, 7.2, 7.2, 2.2], 0.9)).toBe(7.2);
  });

  it('keeps +Infinity (a never-flushed write) without producing NaN', () => {
    const s = [1, 2, 3, Infinity, Infinity];
    expect(quantileSorted(s, 0.5)).toBe(3);
    expect(quantileSorted(s, 0.75)).toBe(Infinity);
    expect(quantileSorted(s, 0.6)).toBe(Infinity);
    expect(quantileSorted([1, 2, 3], 1)).toBe(3);
  });
});

describe('the normal tail', () => {
  it('matches known values of erfc and the standard normal', () => {
    // erfc(1) = 0.157299207050285..., P(Z > 1.959963985) = 0.025, P(Z > 3) = 0.0013498980316301
    expect(erfc(1)).toBeCloseTo(0.157299207050285, 7);
    expect(upperNormalTail(1.959963985)).toBeCloseTo(0.025, 7);
    expect(upperNormalTail(3) / 0.0013498980316301).toBeCloseTo(1, 6);
    expect(upperNormalTail(0)).toBeCloseTo(0.5, 7);
    expect(upperNormalTail(-2) + upperNormalTail(2)).toBeCloseTo(1, 7);
  });
});

describe('Mann-Whitney U', () => {
  it('counts pairs: completely separated samples', () => {
    expect(mannWhitney([4, 5, 6], [1, 2, 3]).u).toBe(9);
    expect(mannWhitney([1, 2, 3], [4, 5, 6]).u).toBe(0);
    expect(mannWhitney([1, 2], [1, 2]).u).toBe(2); // two ties count 1/2 each, 1 pair 2 > 1
  });

  it('matches the reference values of an independent implementation, with ties', () => {
    // Hollander & Wolfe's depression data (the example of R's ?wilcox.test), y has ties; reference:
    // scipy.stats.mannwhitneyu(x, y, method='asymptotic') (normal approximation, tie and continuity correction)
    const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    const r = mannWhitney(x, y);
    expect(r.u).toBe(58);
    expect(r.pGreater).toBeCloseTo(0.06645972909265946, 6);
    expect(r.pTwoSided).toBeCloseTo(0.13291945818531892, 6);
    // heavy ties
    const c = [5, 5, 5, 6, 6, 7, 8, 8, 9, 9, 9, 9];
    const d = [4, 5, 5, 5, 6, 6, 6, 7, 7, 8];
    const t = mannWhitney(c, d);
    expect(t.u).toBe(85.5);
    expect(t.pGreater).toBeCloseTo(0.046137892223149395, 6);
    expect(t.pTwoSided).toBeCloseTo(0.09227578444629879, 6);
  });

  const sample = fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 30 });

  it('U(x, y) + U(y, x) = n1 n2, and the two-sided p is symmetric', () => {
    fc.assert(
      fc.property(sample, sample, (x, y) => {
        const a = mannWhitney(x, y);
        const b = mannWhitney(y, x);
        expect(a.u + b.u).toBe(x.length * y.length);
        expect(a.pTwoSided).toBeCloseTo(b.pTwoSided, 12);
      }),
    );
  });

  it('depends on ranks only: shifting and scaling both samples changes nothing', () => {
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 1, max: 100 }), (x, y, c, k) => {
        const a = mannWhitney(x, y);
        const b = mannWhitney(x.map((v) => v * k + c), y.map((v) => v * k + c));
        expect(b.u).toBe(a.u);
        expect(b.pGreater).toBeCloseTo(a.pGreater, 12);
      }),
    );
  });

  it('moving x up never makes "x larger" less significant', () => {
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: 1, max: 20 }), (x, y, d) => {
        expect(mannWhitney(x.map((v) => v + d), y).pGreater).toBeLessThanOrEqual(mannWhitney(x, y).pGreater + 1e-12);
      }),
    );
  });
});

describe('bootstrap of the relative change', () => {
  const stats: Statistic[] = [{ kind: 'quantile', p: 0.5 }, { kind: 'quantile', p: 0.9 }, { kind: 'max' }, { kind: 'mean' }];

  it('reads a resample from counts exactly as from the expanded, sorted resample', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 20 }).map((a) => a.sort((x, y) => x - y)),
        fc.array(fc.nat(4), { minLength: 20, maxLength: 20 }),
        fc.constantFrom(...stats),
        (sorted, rawCounts, s) => {
          const counts = rawCounts.slice(0, sorted.length);
          if (!counts.some((c) => c > 0)) counts[0] = 1;
          const expanded = sorted.flatMap((v, i) => Array<number>(counts[i]!).fill(v));
          expect(statisticOfCounts(sorted, counts, s)).toBeCloseTo(statisticOf(expanded, s), 9);
        },
      ),
    );
  });

  it('is deterministic for a seed', () => {
    const a = [5, 7, 9, 11, 13, 20, 21, 30];
    const b = a.map((v) => v + 3);
    expect(bootstrapChange(a, b, stats[0]!, { seed: 7 })).toEqual(bootstrapChange(a, b, stats[0]!, { seed: 7 }));
  });

  it('brackets a known scaling of the same sample, and 0 for the sample against itself', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10_000 }), { minLength: 5, maxLength: 60 }), fc.constantFrom(0.5, 1, 1.3, 3), (x, k) => {
        const r = bootstrapChange(x, x.map((v) => v * k), { kind: 'quantile', p: 0.5 }, { resamples: 300 });
        expect(r.change).toBeCloseTo(k - 1, 9);
        expect(r.low).toBeLessThanOrEqual(r.change + 1e-9);
        expect(r.high).toBeGreaterThanOrEqual(r.change - 1e-9);
        const same = bootstrapChange(x, x, { kind: 'quantile', p: 0.5 }, { resamples: 300 });
        expect(same.change).toBe(0);
        expect(same.low).toBeLessThanOrEqual(0);
        expect(same.high).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 40 },
    );
  });

  it('separates a doubled median from noise, and not a 1% change', () => {
    // two draws of one distribution (a seeded stream), the second doubled or scaled by 1.01
    const base = Array.from({ length: 400 }, (_, i) => 50 + ((i * 7919) % 97));
    const other = Array.from({ length: 400 }, (_, i) => 50 + ((i * 104729) % 97));
    const doubled = bootstrapChange(base, other.map((v) => v * 2), { kind: 'quantile', p: 0.5 });
    expect(doubled.low).toBeGreaterThan(0.5);
    const tiny = bootstrapChange(base, other.map((v) => v * 1.01), { kind: 'quantile', p: 0.5 });
    expect(tiny.low).toBeLessThan(0.1);
    expect(tiny.high).toBeGreaterThan(0);
  });
});
