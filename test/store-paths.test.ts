/**
 * The speed work changes no output: the store written by its worker thread (the fast path, used for
 * large inputs) holds exactly the rows of the store written in the main thread (the plain reference
 * path), table by table and view by view, for every bundled trace and multi-file run.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingest } from '../src/api/ingest.ts';
import { queryRows, type Row } from '../src/perf/store.ts';
import { real, tempDir } from './helpers.ts';

const RUNS: string[][] = [
  ...['microvm-modern', 'microvm-legacy', 'arm64-virt', 'q35-pci', 'q35-gpu'].map((n) => [real(`qemu-7.2/${n}.trace.gz`)]),
  ...['none-duplex', 'wav-playback', 'chmaps-probe-fail'].map((n) => [real(`qemu-10.0-sound/${n}.trace.gz`)]),
  ...['microvm-modern', 'q35-gpu'].map((n) => [real(`guest-ftrace/${n}.qemu.trace.gz`), real(`guest-ftrace/${n}.guest-ftrace.txt.gz`)]),
  ['cluster', 'ivi', 'rear'].flatMap((n) => [real(`gpu-multi/${n}.trace.gz`), real(`gpu-multi/${n}.guest-ftrace.txt.gz`)]),
];

/** Every table and view of a store, its rows in a stable order (the creation time left out). */
async function contents(files: string[], storeThread: 'worker' | 'main'): Promise<Record<string, Row[]>> {
  const r = await ingest({ files, db: join(tempDir(), `${storeThread}.duckdb`), storeThread });
  try {
    const q = (sql: string) => queryRows(r.store.conn, sql);
    const out: Record<string, Row[]> = {};
    const names = "SELECT table_name AS n FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY n";
    for (const { n } of await q(names)) {
      const t = n as string;
      out[t] = await q(`SELECT * FROM ${t} ${t === 'meta' ? "WHERE key <> 'created'" : ''} ORDER BY ALL`);
    }
    return out;
  } finally {
    r.store.close();
  }
}

describe('the store from the worker thread equals the one written in the main thread', () => {
  it.each(RUNS.map((files) => [files.map((f) => f.replace(/.*traces\//, '')).join(' + '), files] as const))('%s', async (_name, files) => {
    const fast = await contents(files, 'worker');
    const plain = await contents(files, 'main');
    expect(Object.keys(fast)).toEqual(Object.keys(plain));
    for (const t of Object.keys(plain)) {
      expect(fast[t]!.length, t).toBe(plain[t]!.length);
      expect(fast[t], t).toEqual(plain[t]);
    }
    expect(plain.events!.length).toBeGreaterThan(40);
  });
});
