/** The ingest's progress line: on a terminal only, with the stage, bytes of the total and events/s. */
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ingest } from '../src/api/ingest.ts';
import { progressDisplay, progressLine } from '../src/cli/progress.ts';
import { MICROVM_MODERN } from './helpers.ts';

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { isTTY, writes, write: (s: string) => writes.push(s) };
}

async function ingestWith(files: string[], out: ReturnType<typeof sink>, env: NodeJS.ProcessEnv = {}) {
  const p = progressDisplay(files, out, env);
  const r = await ingest({ files, db: ':memory:', onProgress: p?.update });
  p?.done();
  r.store.close();
  return p;
}

describe('progress', () => {
  it('on a terminal: the stages in order, bytes read of the total ending at 100%, events and events/s; the line is cleared at the end', async () => {
    const out = sink(true);
    await ingestWith([MICROVM_MODERN], out);
    const lines = out.writes.map((w) => w.replace(/\r\x1b\[K/g, '')).filter((w) => w !== '');
    const total = statSync(MICROVM_MODERN).size;
    expect(lines[0]).toMatch(/^reading traces: [\d.]+ (KiB|B) of [\d.]+ KiB \(\d+%\), \d+ events/);
    expect(lines.findLastIndex((l) => l.startsWith('reading traces'))).toBeLessThan(lines.indexOf(lines.find((l) => l.startsWith('judging'))!));
    expect(lines.at(-1)).toBe(lines.find((l) => l.startsWith('writing the store')));
    expect(lines.at(-1)).toMatch(/^writing the store: 4809 events, \d+ k events\/s$/);
    expect(out.writes.at(-1)).toBe('\r\x1b[K');
    expect(lines.findLast((l) => l.startsWith('reading traces'))).toContain(`of ${(total / 1024).toFixed(1)} KiB (100%)`);
  });

  it('the line: bytes capped at the total, no bytes once the traces are read', () => {
    expect(progressLine({ stage: 'reading traces', events: 50000 }, 3 << 20, 10 << 20, 2)).toBe('reading traces: 3.0 MiB of 10.0 MiB (30%), 50000 events, 25 k events/s');
    expect(progressLine({ stage: 'reading traces', events: 1 }, 12 << 20, 10 << 20, 0)).toBe('reading traces: 10.0 MiB of 10.0 MiB (100%), 1 events');
    expect(progressLine({ stage: 'judging', events: 4809 }, 0, 1, 1)).toBe('judging: 4809 events, 5 k events/s');
  });

  it('nothing when stderr is not a terminal, nor under CI', async () => {
    expect(progressDisplay([MICROVM_MODERN], sink(false), {})).toBeUndefined();
    expect(progressDisplay([MICROVM_MODERN], sink(true), { CI: 'true' })).toBeUndefined();
    const piped = sink(false);
    await ingestWith([MICROVM_MODERN], piped);
    expect(piped.writes).toEqual([]);
  });
});
