/** The DuckDB store: what ingest writes, atomic replacement, locked and damaged files, the blk views. */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { ingest } from '../src/api/ingest.ts';
import { openInputs } from '../src/api/inputs.ts';
import { InputError } from '../src/ingest/errors.ts';
import { openStore, queryRows } from '../src/perf/store.ts';
import { blkPerf } from '../src/perf/blk.ts';
import { MICROVM_MODERN, lines, tempDir, writeTrace } from './helpers.ts';

describe('ingest into a DuckDB file', async () => {
  const dir = tempDir();
  const db = join(dir, 'run.duckdb');
  const r = await ingest({ files: [MICROVM_MODERN], db });
  const rows = async (sql: string) => queryRows(r.store.conn, sql);
  const ls = lines(MICROVM_MODERN);
  const n = (name: string) => ls.filter((l) => l.includes(`:${name} `)).length;

  it('holds every event, device, span and verdict, and nothing is left behind', async () => {
    const [c] = await rows(`SELECT (SELECT count(*) FROM events) e, (SELECT count(*) FROM spans) s,
      (SELECT count(*) FROM devices WHERE type IS NOT NULL) d, (SELECT count(*) FROM findings) f, (SELECT count(*) FROM traces) t`);
    expect(c!.e).toBe(r.run.events);
    expect(c!.s).toBe(n('virtqueue_fill')); // one span per completed chain
    expect(c!.d).toBe(4);
    expect(c!.t).toBe(1);
    expect(c!.f).toBeGreaterThan(40);
    expect(existsSync(`${db}.tmp-${process.pid}`)).toBe(false);
    // events keep their kind-specific fields as JSON and their line
    const [ev] = await rows("SELECT line, fields FROM events WHERE kind = 'vq.fill' ORDER BY seq LIMIT 1");
    expect(ls[(ev!.line as number) - 1]).toContain('virtqueue_fill');
    expect(JSON.parse(ev!.fields as string)).toMatchObject({ elem: expect.stringMatching(/^0x/), len: expect.any(Number) });
  });

  it('computes read latency as the trace says: pop to fill of the same element', async () => {
    // independently: pair virtqueue_pop and virtqueue_fill by elem for the elems handle_read names
    const t = (l: string) => Number(/@\d+\.(\d+):/.exec(l)![1]) + Number(/@(\d+)\./.exec(l)![1]) * 1e6;
    const reads = new Set(ls.filter((l) => l.includes('virtio_blk_handle_read')).map((l) => /req (0x[0-9a-f]+)/.exec(l)![1]));
    const popAt = new Map<string, number>();
    const lat: number[] = [];
    for (const l of ls) {
      const m = /virtqueue_(pop|fill) vq \S+ elem (0x[0-9a-f]+)/.exec(l);
      if (!m) continue;
      if (m[1] === 'pop') popAt.set(m[2]!, t(l));
      else if (reads.has(m[2]!) && popAt.has(m[2]!)) lat.push((t(l) - popAt.get(m[2]!)!) * 1000);
    }
    const p = await blkPerf(r.store.conn);
    const read = p.latency.find((x) => x.op === 'read')!;
    expect(read.n).toBe(17);
    expect(lat.length).toBe(17);
    expect(read.max_ns).toBe(Math.max(...lat));
    expect(read.bytes).toBe(16 * 65536 + 4096); // dd 16 x 64 KiB, plus the partition-table read of 8 sectors
  });

  it('time to durable: every write is followed by the fsync flush', async () => {
    const p = await blkPerf(r.store.conn);
    const d = p.durability[0]!;
    expect(d.writes).toBe(n('virtio_blk_handle_write'));
    expect(d.never_flushed).toBe(0);
    // the longest wait is the first O_DIRECT write's: from its completion to the flush's completion
    const [w] = await rows("SELECT min(t_fill) first_write FROM blk_requests WHERE op = 'write'");
    const [f] = await rows("SELECT t_fill FROM blk_requests WHERE op = 'flush'");
    expect(d.max_ns).toBe((f!.t_fill as number) - (w!.first_write as number));
  });

  it('reopens read-only and refuses locked, damaged and foreign databases with exit-2 errors', async () => {
    r.store.close();
    const again = await openStore(db);
    again.close();
    const damaged = join(dir, 'damaged.duckdb');
    writeFileSync(damaged, Buffer.alloc(8192, 7));
    await expect(openStore(damaged)).rejects.toThrow(InputError);
    const foreign = join(dir, 'foreign.duckdb');
    const inst = await DuckDBInstance.create(foreign);
    const conn = await inst.connect();
    await conn.run('CREATE TABLE t (x INTEGER)');
    conn.closeSync();
    inst.closeSync();
    await expect(openStore(foreign)).rejects.toThrow(/not one avpscope wrote/);
    // another process holding the file open for writing: DuckDB's lock
    const holder = `
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const i = await DuckDBInstance.create(${JSON.stringify(db)});
      await i.connect();
      process.stdout.write('locked\\n');
      setTimeout(() => {}, 4000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', holder], { cwd: join(import.meta.dirname, '..') });
    await new Promise<void>((res) => child.stdout.once('data', () => res()));
    try {
      const err = await openStore(db).catch((e) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).describe()).toMatch(/run\.duckdb: database is locked by another process/);
    } finally {
      child.kill();
    }
  });
});

describe('atomic replacement', () => {
  it('a failed ingest leaves the earlier database as it was', async () => {
    const dir = tempDir();
    const db = join(dir, 'keep.duckdb');
    (await ingest({ files: [MICROVM_MODERN], db })).store.close();
    const before = readFileSync(db);
    const garbage = writeTrace(dir, 'garbage.trace', ['9908@1795565282.449977:virtio_set_status vdev 0x1 val 0', ...Array.from({ length: 50 }, () => 'noise')]);
    await expect(ingest({ files: [garbage], db })).rejects.toThrow(/not a usable qemu-log trace/);
    expect(readFileSync(db).equals(before)).toBe(true);
    expect(existsSync(`${db}.tmp-${process.pid}`)).toBe(false);
  });

  it('--strict turns counted bad lines into a failed ingest naming file and line', async () => {
    const dir = tempDir();
    const ls = lines(MICROVM_MODERN);
    ls.splice(10, 0, 'garbage in the middle');
    const file = writeTrace(dir, 'one-bad.trace', ls);
    const ok = await ingest({ files: [file], db: ':memory:' });
    ok.store.close();
    const err = await ingest({ files: [file], db: ':memory:', strict: true }).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).describe()).toMatch(/one-bad\.trace:11: --strict: 1 line\.malformed/);
  });

  it('reads a store given as input instead of ingesting again', async () => {
    const dir = tempDir();
    const db = join(dir, 'given.duckdb');
    (await ingest({ files: [MICROVM_MODERN], db })).store.close();
    const copy = join(dir, 'copy.db');
    copyFileSync(db, copy);
    const o = await openInputs([copy], {});
    expect(o.ingested).toBe(false);
    o.store.close();
  });
});
