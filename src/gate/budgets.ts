/**
 * Budgets files. Two spellings of the same thing:
 *
 *   # one budget per line: metric{label=value,...} OP limit   (# starts a comment)
 *   blk.flush.p99 <= 20ms
 *   blk.latency.p99{op=write} <= 2ms
 *   gpu.fairness >= 90%
 *
 * or JSON: {"budgets": [{"metric": "blk.flush.p99", "labels": {"op": "write"}, "op": "<=", "limit": "20ms"}]}.
 * Both go through one zod schema, so the rules (known metric, its labels, a unit that fits it)
 * live in one place and every error names the file, the line and the key.
 */
import { z } from 'zod';
import { InputError } from '../ingest/errors.ts';
import { readTextBounded } from '../io/bounded-read.ts';
import { findMetric, METRICS, type Metric, type Unit } from '../perf/metrics.ts';
import { JsonSyntaxError, parseJsonWithLines } from './json-lines.ts';

export const OPS = ['<=', '<', '>=', '>', '=='] as const;
export type Op = (typeof OPS)[number];

export interface Budget {
  metric: Metric;
  /** label filter: a row is judged when each of these labels has this value */
  labels: Record<string, string>;
  op: Op;
  /** in the metric's unit: ns for durations, 0..1 for ratios */
  limit: number;
  /** the budget as a line of the text format, e.g. `blk.flush.p99 <= 20 ms` */
  text: string;
  file: string;
  line: number;
}

const TIME_UNITS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9 };
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/;

/** `20ms` -> 20e6 for a duration metric; `90%` -> 0.9 for a ratio; an error message otherwise. */
export function parseLimit(raw: string | number, unit: Unit): number | string {
  if (typeof raw === 'number') raw = String(raw);
  const s = raw.trim();
  const m = NUMBER.exec(s);
  if (!m) return `'${s}' is not a number`;
  const n = Number(m[0]);
  if (!Number.isFinite(n)) return `'${m[0]}' is too large a number`;
  const suffix = s.slice(m[0].length).trim();
  if (unit === 'ns') {
    if (suffix === '' && n === 0) return 0;
    if (suffix === '') return `a duration needs a unit (ns, us, µs, ms, s), e.g. ${s}ms`;
    if (!(suffix in TIME_UNITS)) return `'${suffix}' is not a time unit (ns, us, µs, ms, s)`;
    return n * TIME_UNITS[suffix]!;
  }
  if (suffix === '%') return unit === 'ratio' ? n / 100 : `'%' only fits a ratio; this metric is a ${unit}`;
  if (suffix !== '') return `'${suffix}' is not a unit of a ${unit} (${unit === 'ratio' ? 'a plain number or %' : 'give a plain number'})`;
  if (unit === 'count' && !Number.isInteger(n)) return `a count is a whole number, not ${s}`;
  return n;
}

/** How a limit reads back: durations in the unit written, others plain. */
function limitText(raw: string | number): string {
  return String(raw).trim().replace(/^([+-]?[\d.]+(?:[eE][+-]?\d+)?)\s*([a-zµμ%]+)$/, '$1 $2').replace(' %', '%');
}

const LABEL = /^[a-z_][a-z0-9_]*$/;

const RawBudget = z
  .object({
    metric: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/, 'a metric name is dotted lower case, e.g. blk.flush.p99'),
    labels: z.record(z.string().regex(LABEL, 'a label name is lower case'), z.union([z.string(), z.number()]).transform(String)).optional(),
    op: z.enum(OPS, { error: `the comparison is one of ${OPS.join(' ')}` }),
    limit: z.union([z.string(), z.number()], { error: 'the limit is a number with an optional unit, e.g. 20ms' }),
  })
  .strict()
  .superRefine((b, ctx) => {
    const m = findMetric(b.metric);
    if (!m) {
      ctx.addIssue({ code: 'custom', path: ['metric'], message: `unknown metric '${b.metric}'${suggest(b.metric)}` });
      return;
    }
    for (const k of Object.keys(b.labels ?? {})) {
      if (!m.labels.includes(k)) ctx.addIssue({ code: 'custom', path: ['labels', k], message: `${m.name} has no label '${k}' (its labels: ${m.labels.join(', ')})` });
    }
    const limit = parseLimit(b.limit, m.unit);
    if (typeof limit === 'string') ctx.addIssue({ code: 'custom', path: ['limit'], message: `${m.name}: ${limit}` });
  })
  .transform((b) => {
    const metric = findMetric(b.metric)!;
    const labels = b.labels ?? {};
    const filter = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    return {
      metric,
      labels,
      op: b.op,
      limit: parseLimit(b.limit, metric.unit) as number,
      text: `${metric.name}${filter ? `{${filter}}` : ''} ${b.op} ${limitText(b.limit)}`,
    };
  });

const JsonFile = z.object({ budgets: z.array(z.unknown()) }).strict();

/** Known metrics sharing the longest dotted prefix with a misspelt one. */
function suggest(name: string): string {
  const parts = name.split('.');
  for (let n = parts.length - 1; n > 0; n--) {
    const prefix = parts.slice(0, n).join('.') + '.';
    const near = METRICS.filter((m) => m.name.startsWith(prefix)).map((m) => m.name);
    if (near.length > 0) return `; known: ${near.slice(0, 12).join(', ')}${near.length > 12 ? ', ...' : ''}`;
  }
  return '; see `avpscope gate --list-metrics`';
}

interface Problem {
  line: number;
  key: string;
  message: string;
}

function keyOf(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/** zod's issues as problems at the line of the key each is about (an unknown key: that key). */
function problemsOf(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[], lineOf: (path: PropertyKey[]) => number): Problem[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const allowed = path.length === 0 ? 'the file is {"budgets": [...]}' : 'a budget has metric, labels, op, limit';
      return issue.keys.map((k) => ({ line: lineOf([...path, k]), key: keyOf([...path, k]), message: `unknown key; ${allowed}` }));
    }
    return [{ line: lineOf(path), key: keyOf(path), message: issue.message }];
  });
}

/** Problems listed in one error; the rest are counted. */
const MAX_PROBLEMS = 20;

function fail(file: string, problems: Problem[]): never {
  const [first, ...rest] = problems;
  const say = (p: Problem) => (p.key ? `${p.key}: ${p.message}` : p.message);
  const more = rest.slice(0, MAX_PROBLEMS - 1).map((p) => `\n${file}:${p.line}: ${say(p)}`).join('') + (problems.length > MAX_PROBLEMS ? `\n... and ${problems.length - MAX_PROBLEMS} more` : '');
  throw new InputError(say(first!) + more, file, first!.line);
}

/** Splits `metric{k=v,...} OP limit` into the fields the schema checks; null when it cannot. */
function splitLine(s: string): { raw: Record<string, unknown> } | { error: string; key: string } {
  const m = /^([^\s{<>=!]+)\s*(?:\{([^}]*)\}\s*)?([<>=!]+)\s*(.*)$/.exec(s);
  if (!m) return { error: 'expected `metric{label=value,...} OP limit`, e.g. `blk.flush.p99 <= 20ms`', key: '' };
  const [, metric, labelText, op, limit] = m;
  const labels: Record<string, string> = {};
  for (const part of (labelText ?? '').split(',').filter((p) => p.trim() !== '')) {
    const kv = /^\s*([^=\s]+)\s*=\s*(?:"([^"]*)"|([^\s"]+))\s*$/.exec(part);
    if (!kv) return { error: `expected label=value, found '${part.trim()}'`, key: 'labels' };
    labels[kv[1]!] = kv[2] ?? kv[3]!;
  }
  if (limit === '') return { error: `no limit after '${op}'`, key: 'limit' };
  return { raw: { metric, ...(labelText !== undefined ? { labels } : {}), op, limit } };
}

export function parseBudgetText(text: string, file: string): Budget[] {
  const budgets: Budget[] = [];
  const problems: Problem[] = [];
  text.split(/\r?\n/).forEach((rawLine, i) => {
    const line = i + 1;
    const s = rawLine.replace(/#.*$/, '').trim();
    if (s === '') return;
    const split = splitLine(s);
    if ('error' in split) {
      problems.push({ line, key: split.key, message: split.error });
      return;
    }
    const r = RawBudget.safeParse(split.raw);
    if (r.success) budgets.push({ ...r.data, file, line });
    else problems.push(...problemsOf(r.error.issues, [], () => line));
  });
  if (problems.length > 0) fail(file, problems);
  if (budgets.length === 0) throw new InputError('no budgets in the file', file);
  return budgets;
}

export function parseBudgetJson(text: string, file: string): Budget[] {
  let located;
  try {
    located = parseJsonWithLines(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new InputError(`not valid JSON: ${e.message}`, file, e.line);
    throw e;
  }
  const top = JsonFile.safeParse(located.value);
  if (!top.success) fail(file, problemsOf(top.error.issues, [], (p) => located.lineOf(p)));
  const budgets: Budget[] = [];
  const problems: Problem[] = [];
  top.data.budgets.forEach((b, i) => {
    const r = RawBudget.safeParse(b);
    if (r.success) budgets.push({ ...r.data, file, line: located.lineOf(['budgets', i]) });
    else problems.push(...problemsOf(r.error.issues, ['budgets', i], (p) => located.lineOf(p)));
  });
  if (problems.length > 0) fail(file, problems);
  if (budgets.length === 0) throw new InputError('no budgets in the file', file);
  return budgets;
}

/** JSON when the name ends in .json or the text starts with '{'; the line format otherwise. */
export function parseBudgets(text: string, file: string): Budget[] {
  return file.endsWith('.json') || text.trimStart().startsWith('{') ? parseBudgetJson(text, file) : parseBudgetText(text, file);
}

/** A budgets file is a few dozen lines: 1 MiB is far more than any needs. */
const MAX_BUDGETS_BYTES = 1 << 20;

export function loadBudgets(file: string): Budget[] {
  return parseBudgets(readTextBounded(file, MAX_BUDGETS_BYTES, 'budgets file'), file);
}
