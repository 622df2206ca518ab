/**
 * Measures one trace file with the compiled code in dist/ (what users run). `passes`: a bare scan
 * (read the file, inflate it if gzip, count newlines: the floor any reader of it pays) and a pass of
 * the adapter alone (read + tokenize). `ingest`: the full ingest into a DuckDB file, with its stage
 * times, where its CPU time went, its peak RSS and the size of the store it wrote. The two run in
 * separate processes (bench/run.ts), so that the ingest's peak memory is its own. bench/run.ts runs this
 * file compiled to JavaScript, with plain node as users run the CLI: tsx's loader (a thread of its
 * own) would add its memory to the peak. Usage: FILE passes|ingest REPOSITORY. Prints one JSON line.
 */
import { createReadStream, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createGunzip } from 'node:zlib';

type IngestModule = typeof import('../src/api/ingest.ts');
type PipelineModule = typeof import('../src/pipeline.ts');
type StatsModule = typeof import('../src/ingest/stats.ts');
const repo = process.argv[4]!;
const dist = (m: string) => pathToFileURL(join(repo, 'dist', m)).href;
const { ingest } = (await import(dist('api/ingest.js'))) as IngestModule;
const { openSources } = (await import(dist('pipeline.js'))) as PipelineModule;
const { Stats } = (await import(dist('ingest/stats.js'))) as StatsModule;

const file = process.argv[2]!;

async function bareScan(): Promise<{ lines: number; seconds: number }> {
  const t0 = performance.now();
  let lines = 0;
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip({ chunkSize: 1 << 20 })) : raw;
  for await (const chunk of input as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  return { lines, seconds: (performance.now() - t0) / 1000 };
}

/** Read and tokenize only: the adapter's batches, thrown away. */
async function adapterPass(): Promise<number> {
  const t0 = performance.now();
  const [src] = await openSources({ files: [file] }, new Stats());
  for await (const batch of src!.batches) void batch;
  return (performance.now() - t0) / 1000;
}

/** CPU seconds of the calling thread (Linux /proc; utime and stime in clock ticks). */
function threadCpu(): number {
  const f = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
const processCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const mode = process.argv[3];
if (mode === 'passes') {
  const scan = await bareScan();
  const adapterSeconds = await adapterPass();
  process.stdout.write(JSON.stringify({ lines: scan.lines, scanSeconds: scan.seconds, adapterSeconds }) + '\n');
} else if (mode === 'ingest') {
  // one store per process: two benches may share bench/out
  const db = join(repo, 'bench', 'out', `bench-${process.pid}.duckdb`);
  rmSync(db, { force: true });
  const [main0, all0] = [threadCpu(), processCpu()];
  const r = await ingest({ files: [file], db });
  const [main1, all1] = [threadCpu(), processCpu()];
  r.store.close();
  const storeBytes = statSync(db).size;
  rmSync(db, { force: true });
  const t = r.timings;
  process.stdout.write(
    JSON.stringify({
      events: r.run.events,
      bytes: t.bytes,
      seconds: t.total,
      pipeline: t.pipeline,
      store: t.store,
      checks: t.checks,
      cpu: { main: main1 - main0, storeWorker: t.storeWorkerCpu ?? 0, other: all1 - all0 - (main1 - main0) - (t.storeWorkerCpu ?? 0) },
      peakRssMiB: process.resourceUsage().maxRSS / 1024,
      storeBytes,
    }) + '\n',
  );
} else throw new Error(`usage: measure FILE passes|ingest REPOSITORY (got ${mode})`);
