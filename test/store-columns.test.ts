/**
 * The columnar path into DuckDB (store-columns.ts, TableWriter): every column type, NULLs at chunk and
 * batch edges, the integers at the ends of what a store holds, and text of any kind come back as they
 * went in, through both writers (this thread's and the worker's); and the `events` view shows exactly
 * the columns its declaration promises.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingest } from '../src/api/ingest.ts';
import { BATCH_ROWS } from '../src/perf/store-columns.ts';
import { ThreadedStoreWriter } from '../src/perf/store-client.ts';
import { queryRows, StoreWriter, type StoreWriting } from '../src/perf/store.ts';
import { EVENTS, META, SCHEMA_VERSION, type TableDecl } from '../src/perf/tables.ts';
import { MICROVM_MODERN, tempDir } from './helpers.ts';

interface Cell {
  i: number;
  n: number | null;
  d: number | null;
  b: boolean | null;
  h: bigint | null;
  s: string | null;
}

const ALL_TYPES: TableDecl<Cell> = {
  name: 'all_types',
  doc: 'test',
  columns: {
    i: { type: 'BIGINT', doc: '' },
    n: { type: 'BIGINT', doc: '' },
    d: { type: 'DOUBLE', doc: '' },
    b: { type: 'BOOLEAN', doc: '' },
    h: { type: 'HUGEINT', doc: '' },
    s: { type: 'VARCHAR', doc: '' },
  },
};

const EDGE_INTS = [0, -1, 1, 2 ** 32 - 1, 2 ** 32, -(2 ** 32), -(2 ** 32) - 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
const TEXTS = ['', 'a', 'nul\0byte', 'tab\there\nnew\rline', 'ünïcödé 🚗 中文', '\\N', 'x'.repeat(5000), '\ud83d'];

/** Rows past two batches, so that NULLs fall on the edges of chunks (2048 rows) and batches. */
function cells(): Cell[] {
  const out: Cell[] = [];
  for (let i = 0; i < 2 * BATCH_ROWS + 100; i++) {
    const edge = i % 2048 === 0 || i % 2048 === 2047 || i % BATCH_ROWS === BATCH_ROWS - 1;
    out.push({
      i,
      n: edge ? null : EDGE_INTS[i % EDGE_INTS.length]!,
      d: i % 7 === 0 ? null : i % 11 === 0 ? Number.NaN : i / 3,
      b: i % 5 === 0 ? null : i % 2 === 0,
      h: i % 13 === 0 ? null : BigInt(i) * 10n ** 30n * (i % 2 === 0 ? 1n : -1n),
      s: edge ? null : TEXTS[i % TEXTS.length]!,
    });
  }
  return out;
}

async function roundTrip(open: (path: string) => Promise<StoreWriting>): Promise<Record<string, unknown>[]> {
  const w = await open(join(tempDir(), 'cols.duckdb'));
  await w.rows(META, [{ key: 'schema_version', value: SCHEMA_VERSION }]);
  await w.rows(ALL_TYPES, cells());
  const store = await w.commit();
  try {
    const rows = await store.conn.runAndReadAll('SELECT * FROM all_types ORDER BY i');
    return rows.getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    store.close();
  }
}

/** What DuckDB gives back for a cell: BIGINT as bigint, a lone surrogate as U+FFFD (UTF-8 has none). */
function expected(c: Cell): Record<string, unknown> {
  return { i: BigInt(c.i), n: c.n === null ? null : BigInt(c.n), d: c.d, b: c.b, h: c.h, s: c.s === '\ud83d' ? '\ufffd' : c.s };
}

describe('columnar batches into DuckDB', () => {
  it.each([
    ['in this thread', (p: string) => StoreWriter.create(p)],
    ['in the worker', (p: string) => ThreadedStoreWriter.create(p)],
  ] as const)('keep every type, NULL and edge value, %s', async (_name, open) => {
    const got = await roundTrip(open);
    const want = cells().map(expected);
    expect(got.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(got[i], `row ${i}`).toEqual(want[i]);
  });

  it('refuses an integer cell that is not one (a bug, said plainly)', async () => {
    const w = await StoreWriter.create(':memory:');
    try {
      await expect(w.rows(ALL_TYPES, [{ i: 1.5, n: null, d: null, b: null, h: null, s: null }])).rejects.toThrow('all_types.i: 1.5 is not an integer the store can hold exactly');
    } finally {
      w.abort();
    }
  });
});

describe('the events view', async () => {
  const r = await ingest({ files: [MICROVM_MODERN], db: join(tempDir(), 'v.duckdb') });

  it('has exactly the declared columns and types, in order', async () => {
    const cols = await queryRows(r.store.conn, 'DESCRIBE events');
    expect(cols.map((c) => [c.column_name, c.column_type])).toEqual(Object.entries(EVENTS.columns).map(([n, c]) => [n, c.type]));
  });

  it('lists the events in replay order, each text resolved', async () => {
    const rows = await queryRows(r.store.conn, 'SELECT seq, vm, kind, file FROM events');
    expect(rows.length).toBe(r.run.events);
    expect(rows.map((x) => x.seq)).toEqual(rows.map((_, i) => i));
    expect(new Set(rows.map((x) => x.vm))).toEqual(new Set(['microvm-modern']));
    expect(rows.every((x) => typeof x.kind === 'string' && x.file === MICROVM_MODERN)).toBe(true);
    r.store.close();
  });
});
