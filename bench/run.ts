/**
 * `npm run bench`: the whole pipeline (ingest -> attribution -> replay -> checks -> DuckDB) on
 * large traces built from the real ones, at two sizes, each in a fresh process so that its peak
 * memory is its own. Prints events/s, peak RSS and the time of a bare line scan of the same file
 * (Node's floor for reading it), with the ratio. BENCH_LINES sets the larger size (default 5 M).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeTrace, type TraceFormat } from './make-trace.ts';

const root = join(import.meta.dirname, '..');
const outDir = join(root, 'bench', 'out');
const big = Number(process.env.BENCH_LINES ?? 5_000_000);

interface Case {
  name: string;
  source: string;
  format: TraceFormat;
  sizes: number[];
}

const CASES: Case[] = [
  { name: 'qemu-log', source: 'traces/qemu-7.2/microvm-modern.trace.gz', format: 'qemu', sizes: [Math.round(big / 5), big] },
  { name: 'ftrace', source: 'traces/guest-ftrace/microvm-modern.guest-ftrace.txt.gz', format: 'ftrace', sizes: [Math.round(big / 10), Math.round(big / 2)] },
];

interface Measure {
  events: number;
  lines: number;
  seconds: number;
  scanSeconds: number;
  peakRssMiB: number;
}

/** One measurement, in a child process (see bench/measure.ts). */
function measure(file: string): Measure {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench', 'measure.ts'), file], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Measure;
}

mkdirSync(outDir, { recursive: true });
const rows: string[] = [];
for (const c of CASES) {
  for (const size of c.sizes) {
    const file = join(outDir, `${c.name}-${size}.trace`);
    if (!existsSync(file)) {
      process.stderr.write(`building ${file} from ${c.source} ...\n`);
      await makeTrace(join(root, c.source), c.format, file, size);
    }
    const m = measure(file);
    const mb = statSync(file).size / 1e6;
    rows.push(
      [
        c.name.padEnd(9),
        `${(m.lines / 1e6).toFixed(2)} M lines (${mb.toFixed(0)} MB)`.padEnd(24),
        `${(m.events / 1e6).toFixed(2)} M events`.padEnd(16),
        `${m.seconds.toFixed(1)} s`.padStart(7),
        `${((m.events / m.seconds) / 1e6).toFixed(2)} M events/s`.padStart(17),
        `bare scan ${m.scanSeconds.toFixed(2)} s`.padStart(17),
        `ratio ${(m.seconds / m.scanSeconds).toFixed(1)}x`.padStart(12),
        `peak RSS ${m.peakRssMiB.toFixed(0)} MiB`.padStart(17),
      ].join('  '),
    );
    process.stdout.write(rows.at(-1) + '\n');
  }
}
process.stdout.write(`\nmachine: ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores, node ${process.version}\n`);
