/**
 * Notebooks run against one or several stores: each query's rows (with the store's name as `run`),
 * each chart drawn to SVG in Node by vega (no browser, no network: the page inlines the SVG).
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { InputError } from '../ingest/errors.ts';
import { queryRows } from '../perf/store.ts';
import { dataNames, type Chart, type Notebook } from './notebook.ts';

export interface RunStore {
  /** what the run is called on the page and in legends */
  name: string;
  conn: DuckDBConnection;
}

export type DataRow = Record<string, string | number | boolean | null>;

export interface DrawnChart {
  /** `<notebook>-<n>`: the anchor and the PNG name */
  id: string;
  title: string;
  rows: number;
  /** null: no data for it in these runs */
  svg: string | null;
}

export type DrawnPart = { kind: 'prose'; text: string } | { kind: 'query'; name: string; sql: string } | { kind: 'chart'; chart: DrawnChart };

export interface DrawnNotebook {
  notebook: Notebook;
  hasData: boolean;
  parts: DrawnPart[];
}

async function runQuery(runs: RunStore[], nb: Notebook, name: string, sql: string, line: number): Promise<DataRow[]> {
  const out: DataRow[] = [];
  for (const r of runs) {
    let rows;
    try {
      rows = await queryRows(r.conn, sql);
    } catch (e) {
      throw new InputError(`query ${name} failed on store ${r.name}: ${(e as Error).message.split('\n')[0]}`, nb.file, line);
    }
    for (const row of rows) {
      const o: DataRow = { run: r.name };
      for (const [k, v] of Object.entries(row)) o[k] = typeof v === 'bigint' ? Number(v) : v;
      out.push(o);
    }
  }
  return out;
}

/** The spec with its named data sets filled in, and (for one run) no encoding of `run`. */
function bind(spec: unknown, data: Map<string, DataRow[]>, oneRun: boolean): unknown {
  if (Array.isArray(spec)) return spec.map((x) => bind(x, data, oneRun));
  if (!spec || typeof spec !== 'object') return spec;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec as Record<string, unknown>)) {
    if (k === 'data' && v && typeof v === 'object' && typeof (v as { name?: unknown }).name === 'string') {
      out.data = { values: data.get((v as { name: string }).name) ?? [] };
    } else if (k === 'encoding' && oneRun && v && typeof v === 'object') {
      out.encoding = Object.fromEntries(Object.entries(v as Record<string, { field?: string }>).filter(([, c]) => c?.field !== 'run').map(([c, x]) => [c, bind(x, data, oneRun)]));
    } else out[k] = bind(v, data, oneRun);
  }
  return out;
}

const CONFIG = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 400 },
  title: { fontSize: 14, anchor: 'start' },
  background: 'white',
};

async function drawChart(chart: Chart, data: Map<string, DataRow[]>, oneRun: boolean): Promise<string> {
  const spec = bind({ ...chart.spec, data: { name: chart.data } }, data, oneRun) as Record<string, unknown>;
  const vl = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec, config: { ...CONFIG, ...((spec.config as object) ?? {}) } } as TopLevelSpec;
  // vega's warnings are about a spec's style (e.g. merged sort orders), not the run: errors still throw
  const quiet = vega.logger(vega.None);
  const view = new vega.View(vega.parse(compile(vl, { logger: quiet }).spec), { renderer: 'none', logger: quiet });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export async function drawNotebook(nb: Notebook, runs: RunStore[]): Promise<DrawnNotebook> {
  const data = new Map<string, DataRow[]>();
  const parts: DrawnPart[] = [];
  let n = 0;
  let hasData = false;
  for (const p of nb.parts) {
    if (p.kind === 'prose') parts.push(p);
    else if (p.kind === 'query') {
      data.set(p.query.name, await runQuery(runs, nb, p.query.name, p.query.sql, p.query.line));
      parts.push({ kind: 'query', name: p.query.name, sql: p.query.sql });
    } else {
      const rows = data.get(p.chart.data)?.length ?? 0;
      const title = typeof p.chart.spec.title === 'string' ? p.chart.spec.title : ((p.chart.spec.title as { text?: string } | undefined)?.text ?? p.chart.data);
      let svg: string | null = null;
      if (rows > 0) {
        try {
          svg = await drawChart(p.chart, data, runs.length === 1);
        } catch (e) {
          throw new InputError(`chart of ${[...dataNames(p.chart.spec, p.chart.data)].join(', ')} cannot be drawn: ${(e as Error).message}`, nb.file, p.chart.line);
        }
        hasData = true;
      }
      parts.push({ kind: 'chart', chart: { id: `${nb.id}-${++n}`, title, rows, svg } });
    }
  }
  return { notebook: nb, hasData, parts };
}
