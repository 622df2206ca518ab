/**
 * A long property-based campaign (issue 9): `node --import tsx scripts/fuzz.ts [N] [seed]` feeds N
 * generated hostile inputs (test/fuzz/property.ts) through the in-process pipeline, all formats,
 * and prints the outcomes and every distinct failure. Run it niced, in the background.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { fuzzer, input, type Input } from '../test/fuzz/property.ts';

const total = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? 1);
const f = await fuzzer(mkdtempSync(join(tmpdir(), 'avpscope-fuzz-')));
const exits = [0, 0, 0];
let skipped = 0;
const failures = new Map<string, { count: number; example: Input }>();
const started = Date.now();
const BATCH = 1000;
for (let done = 0; done < total; done += BATCH) {
  for (const inp of fc.sample(input(), { numRuns: Math.min(BATCH, total - done), seed: seed * 1_000_003 + done })) {
    // known, not fixed: a length field of an Arrow message made huge exhausts apache-arrow's decoder (heap)
    if (inp.format === 'arrow' && inp.mutations.some((m) => m.k === 'number')) {
      skipped++;
      continue;
    }
    try {
      exits[await f.check(inp)]!++;
    } catch (e) {
      const key = String((e as Error).message).replace(/\/tmp\/\S+/g, 'FILE').replace(/\d+/g, 'N').slice(0, 160);
      const known = failures.get(key);
      if (known) known.count++;
      else {
        failures.set(key, { count: 1, example: inp });
        console.log(`FAILURE ${key}\n  example ${JSON.stringify(inp)}\n  ${(e as Error).stack?.split('\n').slice(0, 4).join('\n  ')}`);
      }
    }
  }
  const n = done + BATCH;
  if (n % 20_000 === 0 || n >= total) {
    const s = (Date.now() - started) / 1000;
    console.log(`${Math.min(n, total)} inputs in ${s.toFixed(0)} s: exit 0 ${exits[0]}, exit 1 ${exits[1]}, exit 2 ${exits[2]}, skipped ${skipped}; ${[...failures.values()].reduce((a, b) => a + b.count, 0)} failures of ${failures.size} kinds`);
  }
}
for (const [k, v] of failures) console.log(`${v.count}× ${k}`);
