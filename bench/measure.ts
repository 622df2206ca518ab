/**
 * Measures one trace file in this process: first a bare scan (read the file and count newlines:
 * the floor any reader of it pays), then the full ingest into a DuckDB file. Prints one JSON line.
 */
import { createReadStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ingest } from '../src/api/ingest.ts';

const file = process.argv[2]!;

async function bareScan(): Promise<{ lines: number; seconds: number }> {
  const t0 = performance.now();
  let lines = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  return { lines, seconds: (performance.now() - t0) / 1000 };
}

const scan = await bareScan();
const db = join(import.meta.dirname, 'out', 'bench.duckdb');
rmSync(db, { force: true });
const t0 = performance.now();
const r = await ingest({ files: [file], db });
const seconds = (performance.now() - t0) / 1000;
r.store.close();
rmSync(db, { force: true });
process.stdout.write(
  JSON.stringify({
    events: r.run.events,
    lines: scan.lines,
    seconds,
    scanSeconds: scan.seconds,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  }) + '\n',
);
