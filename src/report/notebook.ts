/**
 * Notebooks (notebooks/*.md): Markdown with named SQL blocks over a store's views and Vega-Lite
 * specs that plot their results.
 *
 *   ```sql name=blk_cdf           a query; its rows are the data set `blk_cdf`
 *   ```vega-lite data=blk_cdf     a chart of it (`"data": {"name": "..."}` inside layers may name others)
 *
 * The prose between blocks says how to read the charts. A query result gets a `run` column (the
 * store's name) so that several runs overlay; with one run, encodings of `run` are dropped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../ingest/errors.ts';

export const NOTEBOOKS_DIR = fileURLToPath(new URL('../../notebooks/', import.meta.url));

export interface Query {
  name: string;
  sql: string;
  line: number;
}

export interface Chart {
  /** the data set it plots (the others it names come from its layers) */
  data: string;
  spec: Record<string, unknown>;
  line: number;
}

/** A notebook as a sequence of parts: prose (Markdown), queries and charts, in file order. */
export type Part = { kind: 'prose'; text: string } | { kind: 'query'; query: Query } | { kind: 'chart'; chart: Chart };

export interface Notebook {
  file: string;
  /** the file name without .md: the anchor and PNG name prefix */
  id: string;
  title: string;
  parts: Part[];
}

export function parseNotebook(file: string, text: string): Notebook {
  const lines = text.split('\n');
  const parts: Part[] = [];
  let title = basename(file, '.md');
  let prose: string[] = [];
  const flush = () => {
    const t = prose.join('\n').trim();
    if (t) parts.push({ kind: 'prose', text: t });
    prose = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const fence = /^```(\S+)\s*(.*)$/.exec(l);
    if (!fence) {
      const h = /^# (.+)/.exec(l);
      if (h && parts.length === 0 && prose.join('').trim() === '') title = h[1]!.trim();
      else prose.push(l);
      continue;
    }
    // 1-based line of the opening fence: where errors point
    const start = i + 1;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new InputError(`code block opened here is never closed`, file, start);
    const attrs = Object.fromEntries([...fence[2]!.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
    if (fence[1] === 'sql') {
      if (!attrs.name) throw new InputError('a sql block needs a name: ```sql name=...', file, start);
      flush();
      parts.push({ kind: 'query', query: { name: attrs.name, sql: body.join('\n'), line: start } });
    } else if (fence[1] === 'vega-lite') {
      if (!attrs.data) throw new InputError('a vega-lite block needs the data set it plots: ```vega-lite data=...', file, start);
      let spec: Record<string, unknown>;
      try {
        spec = JSON.parse(body.join('\n')) as Record<string, unknown>;
      } catch (e) {
        throw new InputError(`vega-lite spec is not JSON: ${(e as Error).message}`, file, start);
      }
      flush();
      parts.push({ kind: 'chart', chart: { data: attrs.data, spec, line: start } });
    } else prose.push(l, ...body, '```');
  }
  flush();
  const names = new Set(parts.flatMap((p) => (p.kind === 'query' ? [p.query.name] : [])));
  for (const p of parts) {
    if (p.kind !== 'chart') continue;
    for (const d of dataNames(p.chart.spec, p.chart.data)) {
      if (!names.has(d)) throw new InputError(`the chart plots "${d}", which no sql block names`, file, p.chart.line);
    }
  }
  return { file, id: basename(file, '.md'), title, parts };
}

/** The data sets a chart reads: its own and those its layers name. */
export function dataNames(spec: unknown, own: string): Set<string> {
  const out = new Set([own]);
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const d = o.data as Record<string, unknown> | undefined;
      if (d && typeof d.name === 'string') out.add(d.name);
      for (const [k, x] of Object.entries(o)) if (k !== 'data') walk(x);
    }
  };
  walk(spec);
  return out;
}

export function loadNotebooks(dir = NOTEBOOKS_DIR): Notebook[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .sort()
    .map((f) => parseNotebook(join(dir, f), readFileSync(join(dir, f), 'utf8')));
}
