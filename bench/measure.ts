/**
 * Measures one trace file with the compiled code in dist/ (what users run). `passes`: a bare scan
 * (read the file, inflate it if gzip, count newlines: the floor any reader of it pays) and a pass of
 * the adapter alone (read + tokenize). `ingest`: the full ingest into a DuckDB file, with its stage
 * times, where its CPU time went, its peak RSS and the size of the store it wrote. `profile`: the same
 * ingest under V8's CPU profiler, its main thread's samples summed by the part of avpscope they fall
 * in (a run apart: the profiler slows what it watches). The three run in
 * separate processes (bench/run.ts), so that the ingest's peak memory is its own. bench/run.ts runs this
 * file compiled to JavaScript, with plain node as users run the CLI: tsx's loader (a thread of its
 * own) would add its memory to the peak. Usage: FILE passes|ingest|profile REPOSITORY. Prints one JSON line.
 */
import { createReadStream, readFileSync, rmSync, statSync } from 'node:fs';
import { Session } from 'node:inspector';
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

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a sample falls: by the module it is in (src/ layers), else what V8 and Node report. */
const PARTS: [string, RegExp][] = [
  ['read and tokenize', /\/ingest\//],
  ['replay (attribution, models, analyses)', /\/(model|analyses|align)\/|\/pipeline\.js$/],
  ['hand-off to the store', /\/(perf|api)\//],
  ['checks', /\/checks\//],
];

/** The share of the main thread's samples in each part, in per cent. */
function shares(p: CpuProfile): Record<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const time = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const f = byId.get(p.samples[i]!)!;
    const part =
      f.functionName === '(garbage collector)' ? 'garbage collection'
      : f.functionName === '(idle)' ? 'idle (waiting for the file or the worker)'
      : (PARTS.find(([, re]) => re.test(f.url))?.[0] ?? "Node's streams, promises, I/O and DuckDB's bindings");
    time.set(part, (time.get(part) ?? 0) + p.timeDeltas[i]!);
    total += p.timeDeltas[i]!;
  }
  return Object.fromEntries([...time].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round((100 * v) / total)]));
}

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
} else if (mode === 'profile') {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((res, rej) => session.post(method, params ?? {}, (e, r) => (e ? rej(e) : res(r))));
  await post('Profiler.enable');
  await post('Profiler.start');
  const db = join(repo, 'bench', 'out', `bench-${process.pid}.duckdb`);
  const r = await ingest({ files: [file], db });
  const { profile } = (await post('Profiler.stop')) as { profile: CpuProfile };
  r.store.close();
  rmSync(db, { force: true });
  process.stdout.write(JSON.stringify(shares(profile)) + '\n');
} else throw new Error(`usage: measure FILE passes|ingest|profile REPOSITORY (got ${mode})`);

