/**
 * `npm run bench:explore`: the explorer's event browser on a store of ten million events (the real
 * microvm-modern run's events repeated, shifted in time), driven key by key through ink: the time
 * from a key to the frame that shows its rows. BENCH_EVENTS sets the size (default 10 M).
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { render } from 'ink-testing-library';
import { createElement } from 'react';
import { eventWindow } from '../src/api/explore.ts';
import { ingest } from '../src/api/ingest.ts';
import { loadReport } from '../src/api/report.ts';
import { openStore } from '../src/perf/store.ts';
import { EVENTS_VIEW } from '../src/perf/tables.ts';
import { App } from '../src/tui/app.tsx';

const root = join(import.meta.dirname, '..');
const outDir = join(root, 'bench', 'out');
const want = Number(process.env.BENCH_EVENTS ?? 10_000_000);
mkdirSync(outDir, { recursive: true });
const small = join(outDir, 'explore-base.duckdb');
const big = join(outDir, `explore-${want}.duckdb`);

if (!existsSync(big)) await build();
async function build(): Promise<void> {
  (await ingest({ files: [join(root, 'traces/qemu-7.2/microvm-modern.trace.gz')], db: small })).store.close();
  rmSync(big, { force: true });
  const inst = await DuckDBInstance.create(big);
  const c = await inst.connect();
  await c.run(`ATTACH '${small}' AS r (READ_ONLY)`);
  for (const t of ['meta', 'traces', 'devices', 'spans', 'findings', 'input_stats', 'event_texts']) await c.run(`CREATE TABLE ${t} AS SELECT * FROM r.${t}`);
  const n = Number((await c.runAndReadAll('SELECT count(*) FROM r.event_rows')).getRows()[0]![0]);
  const copies = Math.ceil(want / n);
  const t0 = Date.now();
  await c.run(`CREATE TABLE event_rows AS
    SELECT seq + k * ${n} AS seq, ts + k * 5000000000 AS ts, vm_id, dev_id, dev_inferred, kind_id, file_id, line, fields
    FROM r.event_rows, range(${copies}) t(k) ORDER BY k, seq LIMIT ${want}`);
  await c.run(EVENTS_VIEW);
  await c.run('DETACH r');
  c.closeSync();
  inst.closeSync();
  process.stderr.write(`built ${big}: ${want} events in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

const store = await openStore(big);
const report = await loadReport(store.conn);
const app = render(createElement(App, { conn: store.conn, report, size: { cols: 120, rows: 40 }, theme: { color: false } }));
const frame = () => app.lastFrame() ?? '';
async function until(ok: (f: string) => boolean): Promise<void> {
  const end = Date.now() + 60_000;
  while (!ok(frame())) {
    if (Date.now() > end) throw new Error(`timeout; frame:\n${frame()}`);
    await new Promise((r) => setImmediate(r));
  }
}
const firstSeq = () => Number(/^\s+(\d+) \d+\.\d{6} /m.exec(frame())?.[1] ?? -1);
await until((f) => f.includes('Verdicts: '));
await new Promise((r) => setTimeout(r, 200));

/** ms from writing the key to a frame that passes `ok` (median of `reps`). */
async function time(what: string, key: string, ok: (before: number) => boolean, reps = 9): Promise<void> {
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const before = firstSeq();
    const t = performance.now();
    app.stdin.write(key);
    await until(() => ok(before));
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  process.stdout.write(`${what.padEnd(34)} median ${ms[Math.floor(ms.length / 2)]!.toFixed(1).padStart(6)} ms   max ${ms.at(-1)!.toFixed(1).padStart(6)} ms\n`);
}

/** The query alone (no rendering): median of 9 windows from random positions. */
const q: number[] = [];
for (let i = 0; i < 9; i++) {
  const t = performance.now();
  await eventWindow(store.conn, {}, { after: Math.floor(Math.random() * want) }, 38);
  q.push(performance.now() - t);
}
q.sort((a, b) => a - b);
process.stdout.write(`window query alone (38 rows, random position) median ${q[4]!.toFixed(1)} ms\n`);

app.stdin.write('4');
await until((f) => f.includes(`${want} events`) && firstSeq() === 0);
process.stdout.write(`event browser over ${want} events, 120x40, key to frame:\n`);
await time('PgDn (next window)', '\x1b[6~', (b) => firstSeq() > b, 30);
// the cursor to the bottom row first: from there each j slides the window
for (let i = 0; i < 40; i++) app.stdin.write('j');
await new Promise((r) => setTimeout(r, 500));
await time('j past the bottom (window slides)', 'j', (b) => firstSeq() > b, 30);
await time('G (the last events)', 'G', () => firstSeq() > want - 100, 1);
await time('PgUp at the end', '\x1b[5~', (b) => firstSeq() < b);
await time('g (the first events)', 'g', () => firstSeq() === 0, 1);
app.stdin.write('/');
for (const ch of 'snd') app.stdin.write(ch);
app.stdin.write('\r');
await until((f) => f.includes('"snd": no match'));
await time('n, a search with no match (full scan)', 'n', () => frame().includes('"snd": no later match'), 1);
app.unmount();
store.close();
