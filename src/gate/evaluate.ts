/**
 * Judging budgets against a store, and optionally a run against a baseline run. A budget holds
 * when every row its label filter selects meets the limit. A budget with nothing to judge (the
 * metric's views are absent, no rows match, or the trace has no timestamps for a duration) is
 * NO-DATA, which fails the gate unless the caller allows it: a gate that passes on absent input
 * would pass on a broken capture.
 *
 * Against a baseline, a row regresses when the test finds the candidate worse than the baseline
 * by more than the tolerance, at significance alpha:
 * - bootstrap (quantile and mean metrics): the one-sided (1 - alpha/2) bound of the bootstrap
 *   interval of the relative change lies beyond the tolerance;
 * - Mann-Whitney U (max metrics, where the bootstrap does not work: a resample's maximum can
 *   never exceed the sample's; or any metric with --test mann-whitney): the candidate's samples
 *   tend to exceed the baseline's scaled by (1 + tolerance), one-sided p < alpha.
 * Rows are paired by their labels without `dev` (device instances are pointers that differ
 * between runs) and without `vm` when each side has a single VM (then it is just a file name).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Metric } from '../perf/metrics.ts';
import { bootstrapChange, mannWhitney, relativeChange, statisticOf } from '../perf/stats.ts';
import { queryRows, type Row } from '../perf/store.ts';
import type { Budget, Op } from './budgets.ts';

export type TestName = 'bootstrap' | 'mann-whitney';

export interface GateOptions {
  baseline?: DuckDBConnection;
  /** relative change a regression must exceed, e.g. 0.1 */
  tolerance: number;
  alpha: number;
  /** 'auto': bootstrap for quantiles and means, Mann-Whitney U for maxima */
  test: 'auto' | TestName;
  /** NO-DATA does not fail the gate */
  allowNoData: boolean;
  resamples?: number;
  seed?: number;
}

export const DEFAULT_GATE_OPTIONS: GateOptions = { tolerance: 0.1, alpha: 0.05, test: 'auto', allowNoData: false };

export type Verdict = 'PASS' | 'FAIL' | 'NO-DATA' | 'REGRESSION';

export interface Comparison {
  test: TestName;
  /** the metric's statistic in the baseline and in this run */
  baseline: number;
  candidate: number;
  /** candidate / baseline - 1 */
  change: number;
  /** bootstrap: the (1 - alpha) interval of the change */
  low?: number;
  high?: number;
  /** Mann-Whitney: one-sided p-value of "worse beyond the tolerance" */
  p?: number;
  n: { baseline: number; candidate: number };
  regression: boolean;
}

export interface RowResult {
  labels: Record<string, string>;
  value: number | null;
  /** against the limit only: PASS, FAIL or NO-DATA */
  verdict: Exclude<Verdict, 'REGRESSION'>;
  /** samples on the wrong side of the limit (infinite: of them, never completed, e.g. never flushed) */
  beyond?: { count: number; of: number; infinite: number; noun: string };
  compare?: Comparison;
  /** why there is no comparison, when a baseline was given */
  noCompare?: string;
}

export interface BudgetResult {
  budget: Budget;
  verdict: Verdict;
  /** NO-DATA: why */
  why?: string;
  rows: RowResult[];
}

export interface GateResult {
  passed: boolean;
  options: Omit<GateOptions, 'baseline'> & { baseline: boolean };
  counts: Record<Verdict, number>;
  budgets: BudgetResult[];
}

interface MetricData {
  missing: string[];
  rows: Row[];
}

/** Tables and views of a store. */
async function relations(conn: DuckDBConnection): Promise<Set<string>> {
  const rows = await queryRows(conn, "SELECT view_name AS n FROM duckdb_views() WHERE NOT internal UNION SELECT table_name FROM duckdb_tables() UNION SELECT function_name FROM duckdb_functions() WHERE function_type = 'table_macro'");
  return new Set(rows.map((r) => String(r.n)));
}

class StoreReader {
  private have?: Set<string>;
  private readonly cache = new Map<string, Promise<MetricData>>();
  constructor(readonly conn: DuckDBConnection) {}

  async timed(): Promise<boolean> {
    return ((await queryRows(this.conn, 'SELECT coalesce(bool_and(timed), false) AS t FROM traces'))[0]?.t ?? false) as boolean;
  }

  /** Rows of a metric's value query (`samples`: of its samples query), once per store. */
  read(m: Metric, what: 'value' | 'samples'): Promise<MetricData> {
    const key = `${what} ${m.name}`;
    let p = this.cache.get(key);
    if (!p) {
      p = (async () => {
        this.have ??= await relations(this.conn);
        const missing = m.needs.filter((n) => !this.have!.has(n));
        if (missing.length > 0) return { missing, rows: [] };
        return { missing, rows: await queryRows(this.conn, what === 'value' ? m.sql : m.samples!.sql) };
      })();
      this.cache.set(key, p);
    }
    return p;
  }
}

function labelsOf(m: Metric, r: Row): Record<string, string> {
  return Object.fromEntries(m.labels.map((l) => [l, String(r[l])]));
}

function matches(labels: Record<string, string>, filter: Record<string, string>): boolean {
  return Object.entries(filter).every(([k, v]) => labels[k] === v);
}

export function meets(value: number, op: Op, limit: number): boolean {
  switch (op) {
    case '<=': return value <= limit;
    case '<': return value < limit;
    case '>=': return value >= limit;
    case '>': return value > limit;
    case '==': return value === limit;
  }
}

/** +1: larger is worse (an upper limit); -1: smaller is worse; 0: no direction (==). */
function worseDirection(op: Op): 1 | -1 | 0 {
  return op === '<=' || op === '<' ? 1 : op === '>=' || op === '>' ? -1 : 0;
}

function pairKey(labels: Record<string, string>, dropVm: boolean): string {
  return JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'dev' && !(dropVm && k === 'vm')));
}

function groupSamples(m: Metric, rows: Row[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of rows) {
    const k = JSON.stringify(labelsOf(m, r));
    const v = r.sample;
    if (typeof v !== 'number' || Number.isNaN(v)) continue;
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(v);
  }
  return out;
}

function chooseTest(m: Metric, o: GateOptions): TestName {
  if (o.test !== 'auto') return o.test;
  return m.samples!.statistic.kind === 'max' ? 'mann-whitney' : 'bootstrap';
}

export function compareSamples(m: Metric, op: Op, base: number[], cand: number[], o: GateOptions): Comparison {
  const dir = worseDirection(op);
  const test = chooseTest(m, o);
  const statistic = m.samples!.statistic;
  const n = { baseline: base.length, candidate: cand.length };
  if (test === 'bootstrap') {
    const boot = bootstrapChange(base, cand, statistic, { alpha: o.alpha, resamples: o.resamples, seed: o.seed });
    const regression = dir > 0 ? boot.low > o.tolerance : dir < 0 ? boot.high < -o.tolerance : false;
    return { test, baseline: boot.baseline, candidate: boot.candidate, change: boot.change, low: boot.low, high: boot.high, n, regression };
  }
  const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y);
  const b = statisticOf(sorted(base), statistic);
  const c = statisticOf(sorted(cand), statistic);
  // worse beyond the tolerance: larger than the baseline inflated by it (or smaller than it deflated)
  const scaled = base.map((v) => v * (1 + dir * o.tolerance));
  const p = dir > 0 ? mannWhitney(cand, scaled).pGreater : dir < 0 ? mannWhitney(scaled, cand).pGreater : 1;
  return { test, baseline: b, candidate: c, change: relativeChange(b, c), p, n, regression: dir !== 0 && p < o.alpha };
}

function beyondLimit(samples: number[], op: Op, limit: number, noun: string): RowResult['beyond'] {
  const out = samples.filter((v) => !meets(v, op, limit));
  return { count: out.length, of: samples.length, infinite: out.filter((v) => !Number.isFinite(v)).length, noun };
}

async function judge(b: Budget, cand: StoreReader, base: StoreReader | undefined, o: GateOptions, candTimed: boolean): Promise<BudgetResult> {
  const m = b.metric;
  const noData = (why: string): BudgetResult => ({ budget: b, verdict: 'NO-DATA', why, rows: [] });
  const data = await cand.read(m, 'value');
  if (data.missing.length > 0) return noData(`no ${data.missing.join(', ')} in this store (made by an analysis that did not run, or the store predates it)`);
  if (m.unit === 'ns' && !candTimed) return noData('the trace carries no timestamps: no durations to judge');
  if (data.rows.length === 0) return noData(`no rows: nothing in this store for ${m.name} to measure`);
  const selected = data.rows.filter((r) => matches(labelsOf(m, r), b.labels));
  if (selected.length === 0) {
    const have = Object.keys(b.labels).map((k) => `${k}: ${[...new Set(data.rows.map((r) => String(r[k])))].join(', ')}`);
    return noData(`no row with ${Object.entries(b.labels).map(([k, v]) => `${k}=${v}`).join(',')} (present ${have.join('; ')})`);
  }

  const candSamples = m.samples ? groupSamples(m, (await cand.read(m, 'samples')).rows) : undefined;
  let baseRows: Map<string, Row[]> | undefined;
  let baseSamples: Map<string, number[]> | undefined;
  let baseProblem: string | undefined;
  let dropVm = false;
  if (base && m.samples && worseDirection(b.op) !== 0) {
    const bd = await base.read(m, 'value');
    if (bd.missing.length > 0) baseProblem = `the baseline has no ${bd.missing.join(', ')}`;
    else {
      dropVm = new Set(bd.rows.map((r) => r.vm)).size === 1 && new Set(data.rows.map((r) => r.vm)).size === 1;
      baseRows = new Map();
      for (const r of bd.rows) {
        const k = pairKey(labelsOf(m, r), dropVm);
        baseRows.set(k, [...(baseRows.get(k) ?? []), r]);
      }
      baseSamples = groupSamples(m, (await base.read(m, 'samples')).rows);
    }
  } else if (base) baseProblem = m.samples ? `'${b.op}' has no worse direction` : 'not a distribution of samples';

  const rows: RowResult[] = selected.map((r) => {
    const labels = labelsOf(m, r);
    const value = typeof r.value === 'number' ? r.value : null;
    const out: RowResult = { labels, value, verdict: value === null ? 'NO-DATA' : meets(value, b.op, b.limit) ? 'PASS' : 'FAIL' };
    const mine = candSamples?.get(JSON.stringify(labels));
    if (mine && m.samples) out.beyond = beyondLimit(mine, b.op, b.limit, m.samples.noun);
    if (!base) return out;
    if (baseProblem) return { ...out, noCompare: baseProblem };
    const peers = baseRows!.get(pairKey(labels, dropVm)) ?? [];
    if (peers.length !== 1) return { ...out, noCompare: peers.length === 0 ? 'no matching row in the baseline' : `${peers.length} baseline rows match; name the device` };
    const theirs = baseSamples!.get(JSON.stringify(labelsOf(m, peers[0]!))) ?? [];
    if (!mine || mine.length < 2 || theirs.length < 2) return { ...out, noCompare: `too few samples to test (${theirs.length} baseline, ${mine?.length ?? 0} here)` };
    return { ...out, compare: compareSamples(m, b.op, theirs, mine, o) };
  });

  const verdict: Verdict = rows.some((r) => r.verdict === 'FAIL')
    ? 'FAIL'
    : rows.some((r) => r.compare?.regression)
      ? 'REGRESSION'
      : rows.some((r) => r.verdict === 'NO-DATA')
        ? 'NO-DATA'
        : 'PASS';
  return { budget: b, verdict, why: verdict === 'NO-DATA' ? 'a selected row has no value' : undefined, rows };
}

export async function evaluateBudgets(conn: DuckDBConnection, budgets: Budget[], opts: Partial<GateOptions> = {}): Promise<GateResult> {
  const o: GateOptions = { ...DEFAULT_GATE_OPTIONS, ...opts };
  const cand = new StoreReader(conn);
  const base = o.baseline ? new StoreReader(o.baseline) : undefined;
  const timed = await cand.timed();
  const results: BudgetResult[] = [];
  for (const b of budgets) results.push(await judge(b, cand, base, o, timed));
  const counts: Record<Verdict, number> = { PASS: 0, FAIL: 0, 'NO-DATA': 0, REGRESSION: 0 };
  for (const r of results) counts[r.verdict]++;
  const { baseline: _b, ...rest } = o;
  return {
    passed: counts.FAIL === 0 && counts.REGRESSION === 0 && (o.allowNoData || counts['NO-DATA'] === 0),
    options: { ...rest, baseline: o.baseline !== undefined },
    counts,
    budgets: results,
  };
}
