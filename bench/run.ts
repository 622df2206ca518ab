/**
 * `npm run bench`: the whole pipeline (read, tokenize, attribution, replay, analyses, checks, DuckDB
 * store) on large traces built from the real ones, with the compiled code users run. QEMU logs at
 * every size of BENCH_SIZES (lines; default 1 M, 5 M and 20 M: peak memory must be the same at each),
 * the same log gzipped and guest ftrace text at the middle size; each run in a fresh process so that
 * its peak memory is its own. Prints per run events/s, MB/s, peak RSS, a bare scan of the same file
 * (Node's floor for reading it) with the ratio, the time of each stage and the CPU time of each
 * thread; then the start-up of `--help` and of `check` on a small trace, the issue's targets, met or by how much
 * they are missed, and where the main thread's time goes (a CPU profile of the middle-size QEMU-log ingest).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import ts from 'typescript';
import { makeTrace, type TraceFormat } from './make-trace.ts';

const root = join(import.meta.dirname, '..');
const outDir = join(root, 'bench', 'out');
const sizes = (process.env.BENCH_SIZES ?? '1000000,5000000,20000000').split(',').map((s) => Number(s.trim()));
if (sizes.some((s) => !Number.isInteger(s) || s <= 0)) throw new Error(`BENCH_SIZES: positive line counts, comma-separated (got ${process.env.BENCH_SIZES})`);
const middle = sizes[Math.floor((sizes.length - 1) / 2)]!;

interface Case {
  name: string;
  source: string;
  format: TraceFormat;
  size: number;
  gzip?: boolean;
}

const QEMU = 'traces/qemu-7.2/microvm-modern.trace.gz';
const FTRACE = 'traces/guest-ftrace/microvm-modern.guest-ftrace.txt.gz';
const ALL_CASES: Case[] = [
  ...sizes.map((size) => ({ name: 'qemu-log', source: QEMU, format: 'qemu' as const, size })),
  { name: 'qemu-log.gz', source: QEMU, format: 'qemu', size: middle, gzip: true },
  { name: 'ftrace', source: FTRACE, format: 'ftrace', size: middle },
];
// BENCH_CASES picks some (the README's 100 M-event run is `BENCH_SIZES=107000000 BENCH_CASES=qemu-log`)
const picked = process.env.BENCH_CASES?.split(',').map((s) => s.trim());
const unknown = picked?.filter((p) => !ALL_CASES.some((c) => c.name === p)) ?? [];
if (unknown.length > 0) throw new Error(`BENCH_CASES: unknown case ${unknown.join(', ')} (cases: qemu-log, qemu-log.gz, ftrace)`);
const CASES = picked ? ALL_CASES.filter((c) => picked.includes(c.name)) : ALL_CASES;

interface Measure {
  events: number;
  lines: number;
  bytes: number;
  seconds: number;
  scanSeconds: number;
  stages: Record<'read' | 'tokenize' | 'replay' | 'store' | 'checks', number>;
  cpu: { main: number; storeWorker: number; other: number };
  peakRssMiB: number;
  storeBytes: number;
}

/** One measurement: the bare scan and the adapter pass in one child process, the ingest in another (see bench/measure.ts). */
function measure(file: string): Measure {
  const child = <T>(mode: string): T => {
    const out = execFileSync(process.execPath, [measureJs, file, mode, root], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 20 });
    return JSON.parse(out.trim().split('\n').at(-1)!) as T;
  };
  const p = child<{ lines: number; scanSeconds: number; adapterSeconds: number }>('passes');
  const i = child<Omit<Measure, 'lines' | 'scanSeconds' | 'stages'> & { pipeline: number; store: number; checks: number }>('ingest');
  return {
    events: i.events,
    lines: p.lines,
    bytes: i.bytes,
    seconds: i.seconds,
    scanSeconds: p.scanSeconds,
    stages: {
      read: p.scanSeconds,
      tokenize: Math.max(0, p.adapterSeconds - p.scanSeconds),
      replay: Math.max(0, i.pipeline - p.adapterSeconds),
      store: i.store,
      checks: i.checks,
    },
    cpu: i.cpu,
    peakRssMiB: i.peakRssMiB,
    storeBytes: i.storeBytes,
  };
}

async function traceFor(c: Case): Promise<string> {
  const plain = join(outDir, `${c.format}-${c.size}.trace`);
  if (!existsSync(plain)) {
    process.stderr.write(`building ${plain} from ${c.source} ...\n`);
    await makeTrace(join(root, c.source), c.format, `${plain}.part`, c.size);
    renameSync(`${plain}.part`, plain);
  }
  if (!c.gzip) return plain;
  const gz = `${plain}.gz`;
  if (!existsSync(gz)) {
    process.stderr.write(`compressing ${gz} ...\n`);
    await pipeline(createReadStream(plain), createGzip(), createWriteStream(`${gz}.part`));
    renameSync(`${gz}.part`, gz);
  }
  return gz;
}

process.stderr.write('building dist/ (the compiled CLI the bench measures) ...\n');
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
mkdirSync(outDir, { recursive: true });
// the measuring child runs as JavaScript under plain node (see bench/measure.ts)
const measureJs = join(outDir, 'measure.mjs');
writeFileSync(measureJs, ts.transpileModule(readFileSync(join(root, 'bench', 'measure.ts'), 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const results: { c: Case; m: Measure }[] = [];
for (const c of CASES) {
  const file = await traceFor(c);
  const m = measure(file);
  results.push({ c, m });
  const s = m.stages;
  process.stdout.write(
    [
      c.name.padEnd(12),
      `${f2(m.lines / 1e6)} M lines (${(statSync(file).size / 1e6).toFixed(0)} MB)`.padEnd(25),
      `${f2(m.events / 1e6)} M events`.padEnd(16),
      `${f1(m.seconds)} s`.padStart(7),
      `${f2(m.events / m.seconds / 1e6)} M events/s`.padStart(17),
      `${f1(m.bytes / 1e6 / m.seconds)} MB/s`.padStart(11),
      `bare scan ${f2(m.scanSeconds)} s`.padStart(17),
      `ratio ${f1(m.seconds / m.scanSeconds)}x`.padStart(12),
      `peak RSS ${m.peakRssMiB.toFixed(0)} MiB`.padStart(17),
      `store ${(m.storeBytes / 1e6).toFixed(0)} MB`.padStart(12),
    ].join('  ') +
      `\n${''.padEnd(14)}stages: read ${f2(s.read)} s, tokenize ${f2(s.tokenize)} s, replay ${f2(s.replay)} s, store ${f2(s.store)} s, checks ${f2(s.checks)} s` +
      `  |  CPU: main thread ${f2(m.cpu.main)} s, store worker ${f2(m.cpu.storeWorker)} s, other threads (DuckDB, GC, I/O, inflate) ${f2(m.cpu.other)} s\n`,
  );
}

// the issue's targets, judged on this run
const at = (name: string, size = middle) => results.find((r) => r.c.name === name && r.c.size === size)?.m;
const rate = (m: Measure | undefined) => (m ? m.events / m.seconds / 1e6 : NaN);
const lines: string[] = [];
const judge = (what: string, value: number, target: number, higherIsBetter: boolean, unit: string) => {
  if (!Number.isFinite(value)) return; // that case was not run
  const met = higherIsBetter ? value >= target : value <= target;
  const by = higherIsBetter ? target / value : value / target;
  lines.push(`  ${met ? 'MET  ' : 'SHORT'}  ${what}: ${value.toFixed(2)}${unit} (target ${higherIsBetter ? '>=' : '<='} ${target}${unit}${met ? '' : `; ${by.toFixed(1)}x off`})`);
};
const q = at('qemu-log');
judge(`qemu-log ${f2(middle / 1e6)} M lines, events/s`, rate(q), 1.5, true, ' M');
judge(`qemu-log.gz ${f2(middle / 1e6)} M lines, events/s`, rate(at('qemu-log.gz')), 1.0, true, ' M');
judge('ftrace, events/s', rate(at('ftrace')), 1.0, true, ' M');
if (q) judge('ratio to the bare scan', q.seconds / q.scanSeconds, 8, false, 'x');
const rss = results.filter((r) => r.c.name === 'qemu-log').map((r) => r.m.peakRssMiB);
if (rss.length > 0) judge('peak RSS, largest of the qemu-log sizes', Math.max(...rss), 400, false, ' MiB');
if (rss.length > 1) judge(`peak RSS growth from ${f2(sizes[0]! / 1e6)} M to ${f2(sizes.at(-1)! / 1e6)} M lines`, Math.max(...rss) / Math.min(...rss), 1.1, false, 'x');
// start-up, as users run the CLI: the median of five runs each
const wall = (args: string[]) => {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, [join(root, 'bin', 'avpscope.js'), ...args], { cwd: root, stdio: 'ignore' });
    times.push((performance.now() - t0) / 1000);
  }
  return times.sort((a, b) => a - b)[2]!;
};
const checkDb = join(outDir, `check-${process.pid}.duckdb`);
judge('avpscope --help, seconds', wall(['--help']), 0.3, false, ' s');
judge('check on the bundled 5 k-line trace (microvm-modern), seconds', wall(['check', 'traces/qemu-7.2/microvm-modern.trace.gz', '--db', checkDb]), 0.6, false, ' s');
rmSync(checkDb, { force: true });
process.stdout.write(`\ntargets (issue 12):\n${lines.join('\n')}\n`);
// what explains the figures: the main thread of the middle-size QEMU-log ingest, profiled in a run of its own
const profiled = CASES.find((c) => c.name === 'qemu-log' && c.size === middle);
if (profiled) {
  const out = execFileSync(process.execPath, [measureJs, join(outDir, `${profiled.format}-${profiled.size}.trace`), 'profile', root], { cwd: root, encoding: 'utf8' });
  const parts = Object.entries(JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>);
  process.stdout.write(`\nmain thread of the qemu-log ${f2(middle / 1e6)} M-line ingest, by CPU profile (a run of its own):\n${parts.map(([k, v]) => `  ${String(v).padStart(3)} %  ${k}`).join('\n')}\n`);
}
process.stdout.write(`\nmachine: ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores, load average ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')}, node ${process.version}\n`);
