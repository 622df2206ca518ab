/**
 * `avpscope report`: one or several runs to one self-contained HTML page, and optionally each
 * chart as a PNG. The page is written to a temporary file beside the target and renamed over it,
 * so a failed report never leaves half a page.
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TOOL_VERSION } from '../api/ingest.ts';
import { isDatabase, openInputs, type InputOptions, type Opened } from '../api/inputs.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { loadReport } from '../api/report.ts';
import { defaultVmName } from '../pipeline.ts';
import { svgsToPng } from './browser.ts';
import { drawNotebook, type DrawnNotebook, type RunStore } from './charts.ts';
import { reportPage, type ReportRun } from './html.ts';
import { loadNotebooks } from './notebook.ts';

export interface ReportOptions extends InputOptions {
  inputs: string[];
  out: string;
  /** also write each chart as DIR/<notebook>-<n>.png */
  pngDir?: string;
}

export interface Written {
  out: string;
  runs: string[];
  charts: number;
  pngs: string[];
  notebooks: { id: string; hasData: boolean }[];
}

/** Several stores are several runs side by side; anything else is the files of one run. */
async function openRuns(o: ReportOptions): Promise<{ name: string; opened: Opened }[]> {
  const allStores = o.inputs.length > 1 && (await Promise.all(o.inputs.map(isDatabase))).every(Boolean);
  const groups = allStores ? o.inputs.map((i) => [i]) : [o.inputs];
  const out: { name: string; opened: Opened }[] = [];
  try {
    for (const g of groups) {
      const base = allStores || (g.length === 1 && (await isDatabase(g[0]!))) ? basename(g[0]!).replace(/\.(duckdb|db)$/, '') : defaultVmName(g[0]!);
      let name = base;
      for (let k = 2; out.some((r) => r.name === name); k++) name = `${base} (${k})`;
      out.push({ name, opened: await openInputs(g, o) });
    }
  } catch (e) {
    for (const r of out) r.opened.store.close();
    throw e;
  }
  return out;
}

export async function writeReport(o: ReportOptions): Promise<Written> {
  const notebooks = loadNotebooks();
  const runs = await openRuns(o);
  let drawn: DrawnNotebook[];
  let reports: ReportRun[];
  try {
    const stores: RunStore[] = runs.map((r) => ({ name: r.name, conn: r.opened.store.conn }));
    reports = [];
    for (const r of runs) reports.push({ name: r.name, report: await loadReport(r.opened.store.conn) });
    drawn = [];
    for (const nb of notebooks) drawn.push(await drawNotebook(nb, stores));
  } finally {
    for (const r of runs) r.opened.store.close();
  }
  const page = reportPage({ runs: reports, notebooks: drawn, tool: `avpscope ${TOOL_VERSION}`, created: new Date().toISOString() });
  await writeFileAtomic(o.out, page, o.inputs, 'report -o');
  const charts = drawn.flatMap((d) => d.parts.flatMap((p) => (p.kind === 'chart' && p.chart.svg !== null ? [p.chart] : [])));
  const pngs: string[] = [];
  if (o.pngDir !== undefined) {
    mkdirSync(o.pngDir, { recursive: true });
    const jobs = charts.map((c) => ({ svg: c.svg!, file: join(o.pngDir!, `${c.id}.png`) }));
    await svgsToPng(jobs, o.inputs);
    pngs.push(...jobs.map((j) => j.file));
  }
  return { out: o.out, runs: runs.map((r) => r.name), charts: charts.length, pngs, notebooks: drawn.map((d) => ({ id: d.notebook.id, hasData: d.hasData })) };
}
