/** The gate's result as text (terminal), JSON, JUnit XML and Markdown (CI pages). */
import { duration, table, xml } from '../format.ts';
import type { Unit } from '../perf/metrics.ts';
import type { BudgetResult, Comparison, GateResult, RowResult, Verdict } from './evaluate.ts';

export type GateFormat = 'text' | 'json' | 'junit' | 'markdown';

export interface RunNames {
  inputs: string[];
  budgets: string;
  baseline?: string[];
}

export function formatValue(v: number | null | undefined, unit: Unit): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  if (v === Number.POSITIVE_INFINITY) return '∞ (never)';
  if (unit === 'ns') return duration(Math.round(v));
  if (unit === 'ratio') return `${(v * 100).toPrecision(3)}%`;
  if (unit === 'count') return String(v);
  return Number.isInteger(v) ? String(v) : v.toPrecision(3);
}

function pct(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '?';
  if (!Number.isFinite(x)) return x > 0 ? '+∞' : '-∞';
  const r = Math.round(x * 100);
  return `${r > 0 ? '+' : ''}${r}%`;
}

/** `53.0 µs → 60.2 µs, +14% (95% CI +10%..+24%)` or `..., +14% (p = 0.0009)`. */
export function describeComparison(c: Comparison, unit: Unit, alpha: number): string {
  const head = `${formatValue(c.baseline, unit)} → ${formatValue(c.candidate, unit)}, ${pct(c.change)}`;
  if (c.test === 'bootstrap') return `${head} (${Math.round((1 - alpha) * 100)}% CI ${pct(c.low)}..${pct(c.high)})`;
  return `${head} (Mann-Whitney p = ${c.p! < 1e-4 ? c.p!.toExponential(1) : c.p!.toPrecision(2)})`;
}

/** The row's labels beyond those the budget filtered on: what tells the rows apart. */
function where(b: BudgetResult, r: RowResult): string {
  return Object.entries(r.labels)
    .filter(([k]) => !(k in b.budget.labels))
    .map(([k, v]) => (k === 'vm' || k === 'dev' ? v : `${k}=${v}`))
    .join(' ');
}

function limitWord(op: string): string {
  return op === '<=' ? '>' : op === '<' ? '>=' : op === '>=' ? '<' : op === '>' ? '<=' : '!=';
}

function rowDetail(b: BudgetResult, r: RowResult): string {
  const parts: string[] = [];
  const u = r.beyond;
  if (u) {
    const never = u.infinite > 0 ? ` (${u.infinite} never completed)` : '';
    parts.push(`${u.count} of ${u.of} ${u.noun} ${limitWord(b.budget.op)} ${formatValue(b.budget.limit, b.budget.metric.unit)}${never}`);
  }
  if (r.noCompare) parts.push(`not compared: ${r.noCompare}`);
  return parts.join('; ');
}

function rowVerdict(r: RowResult): Verdict {
  return r.verdict === 'FAIL' ? 'FAIL' : r.compare?.regression ? 'REGRESSION' : r.verdict;
}

interface Line {
  verdict: Verdict;
  budget: string;
  where: string;
  value: string;
  baseline: string;
  detail: string;
}

function lines(g: GateResult): Line[] {
  return g.budgets.flatMap((b) => {
    const unit = b.budget.metric.unit;
    if (b.rows.length === 0) return [{ verdict: b.verdict, budget: b.budget.text, where: '', value: '-', baseline: '', detail: b.why ?? '' }];
    return b.rows.map((r) => ({
      verdict: rowVerdict(r),
      budget: b.budget.text,
      where: where(b, r),
      value: formatValue(r.value, unit),
      baseline: r.compare ? describeComparison(r.compare, unit, g.options.alpha) : '',
      detail: rowDetail(b, r) || (r.verdict === 'NO-DATA' ? 'no value' : ''),
    }));
  });
}

function summary(g: GateResult): string {
  const c = g.counts;
  const parts = [`${c.PASS} pass`, c.FAIL && `${c.FAIL} breached`, c.REGRESSION && `${c.REGRESSION} regressed`, c['NO-DATA'] && `${c['NO-DATA']} without data${g.options.allowNoData ? ' (allowed)' : ''}`].filter(Boolean);
  return `${g.passed ? 'PASS' : 'FAIL'}: ${g.budgets.length} budgets, ${parts.join(', ')}`;
}

function testLine(g: GateResult): string {
  const o = g.options;
  const test = o.test === 'auto' ? 'bootstrap CI of the change for quantiles, Mann-Whitney U for maxima' : o.test;
  return `regression = worse than the baseline by more than ${Math.round(o.tolerance * 100)}% at alpha ${o.alpha} (${test})`;
}

export function gateText(g: GateResult, names: RunNames): string {
  const ls = lines(g);
  const out = [`Budgets ${names.budgets} on ${names.inputs.join(' ')}${names.baseline ? `, against baseline ${names.baseline.join(' ')}` : ''}`];
  if (names.baseline) out.push(testLine(g));
  const head = ['verdict', 'budget', 'where', 'value', ...(names.baseline ? ['baseline → this run'] : []), 'detail'];
  out.push(table(head, ls.map((l) => [l.verdict, l.budget, l.where, l.value, ...(names.baseline ? [l.baseline] : []), l.detail]), names.baseline ? 'lllrll' : 'lllrl'));
  out.push('', `gate: ${summary(g)}`);
  return out.join('\n') + '\n';
}

/** Non-finite numbers survive as strings ("Infinity": a write never made durable). */
export function gateJson(g: GateResult, names: RunNames): string {
  const doc = {
    tool: 'avpscope',
    report: 'gate',
    passed: g.passed,
    inputs: names.inputs,
    baseline: names.baseline ?? null,
    budgets_file: names.budgets,
    options: g.options,
    counts: g.counts,
    budgets: g.budgets.map((b) => ({
      budget: b.budget.text,
      metric: b.budget.metric.name,
      unit: b.budget.metric.unit,
      labels: b.budget.labels,
      op: b.budget.op,
      limit: b.budget.limit,
      file: b.budget.file,
      line: b.budget.line,
      verdict: b.verdict,
      why: b.why ?? null,
      rows: b.rows,
    })),
  };
  return JSON.stringify(doc, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n';
}

/** One test case per judged row (per budget when nothing was judged). */
export function gateJunit(g: GateResult, names: RunNames): string {
  const ls = lines(g);
  const failed = (v: Verdict) => v === 'FAIL' || v === 'REGRESSION' || (v === 'NO-DATA' && !g.options.allowNoData);
  const cases = ls.map((l) => {
    const name = xml(`${l.budget}${l.where ? ` [${l.where}]` : ''}`);
    const text = xml([`value ${l.value} (budget ${l.budget})`, l.baseline && `baseline → this run: ${l.baseline}`, l.detail].filter(Boolean).join('; '));
    const classname = `avpscope.gate.${xml(l.budget.split(/[{ ]/)[0]!)}`;
    if (failed(l.verdict)) return `    <testcase classname="${classname}" name="${name}">\n      <failure type="${l.verdict}" message="${l.verdict}: ${text}">${text}</failure>\n    </testcase>`;
    if (l.verdict === 'NO-DATA') return `    <testcase classname="${classname}" name="${name}">\n      <skipped message="${text}"/>\n    </testcase>`;
    return `    <testcase classname="${classname}" name="${name}"><system-out>${text}</system-out></testcase>`;
  });
  const failures = ls.filter((l) => failed(l.verdict)).length;
  const skipped = ls.filter((l) => l.verdict === 'NO-DATA' && !failed(l.verdict)).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="avpscope gate" tests="${ls.length}" failures="${failures}" errors="0" skipped="${skipped}">`,
    `  <testsuite name="${xml(`budgets ${names.budgets} on ${names.inputs.join(' ')}`)}" tests="${ls.length}" failures="${failures}" errors="0" skipped="${skipped}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function md(s: string): string {
  return s.replace(/\|/g, '\\|');
}

const MARK: Record<Verdict, string> = { PASS: '✅ pass', FAIL: '❌ **breached**', REGRESSION: '❌ **regressed**', 'NO-DATA': '⚠️ no data' };

export function gateMarkdown(g: GateResult, names: RunNames): string {
  const ls = lines(g);
  const out = [
    `### avpscope gate: ${g.passed ? '✅ passed' : '❌ failed'}`,
    '',
    `${summary(g)}. Budgets \`${md(names.budgets)}\` on \`${md(names.inputs.join(' '))}\`${names.baseline ? ` against baseline \`${md(names.baseline.join(' '))}\`` : ''}.`,
  ];
  if (names.baseline) out.push('', `${testLine(g)}.`);
  out.push('', `| | budget | where | value |${names.baseline ? ' baseline → this run |' : ''} detail |`, `|---|---|---|---:|${names.baseline ? '---|' : ''}---|`);
  for (const l of ls) {
    out.push(`| ${MARK[l.verdict]} | \`${md(l.budget)}\` | ${md(l.where)} | ${md(l.value)} |${names.baseline ? ` ${md(l.baseline)} |` : ''} ${md(l.detail)} |`);
  }
  return out.join('\n') + '\n';
}

export function formatGate(g: GateResult, names: RunNames, f: GateFormat): string {
  return f === 'json' ? gateJson(g, names) : f === 'junit' ? gateJunit(g, names) : f === 'markdown' ? gateMarkdown(g, names) : gateText(g, names);
}

/** The format a report file's name asks for: .json, .xml (JUnit), .md; text otherwise. */
export function formatForFile(file: string): GateFormat {
  return file.endsWith('.json') ? 'json' : file.endsWith('.xml') ? 'junit' : file.endsWith('.md') ? 'markdown' : 'text';
}
