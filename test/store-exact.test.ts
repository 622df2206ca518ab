/**
 * The store's bulk path carries any string exactly and every accepted value fits its column: a real
 * trace, converted to JSON Lines, with its VM, device ids and element tokens replaced by hostile
 * strings (`\N`, tabs, newlines, NUL, 5000 characters, unicode), read into a store, and every table
 * read back.
 */
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert } from '../src/api/convert.ts';
import { ingest } from '../src/api/ingest.ts';
import { queryRows } from '../src/perf/store.ts';
import { MICROVM_MODERN, tempDir } from './helpers.ts';

const HOSTILE = ['\\N', 'tab\there\nnew\rline', 'nul\0byte', 'x'.repeat(5000), 'ünïcödé 🚗 中文', '"q",\'s\'\\', 'NULL'];

async function toJsonl(file: string, out: string): Promise<void> {
  const s = createWriteStream(out);
  await convert({ files: [file], to: 'jsonl', raw: false }, s);
  await new Promise<void>((res) => s.end(res));
}

describe('the store keeps every string exactly', async () => {
  const dir = tempDir();
  const plain = join(dir, 'plain.jsonl');
  await toJsonl(MICROVM_MODERN, plain);
  // every device id and element token of the run gets a hostile name; the VM one too
  const ids = new Map<string, string>();
  const hostile = (id: string) => {
    if (!ids.has(id)) ids.set(id, `${HOSTILE[ids.size % HOSTILE.length]}#${ids.size}`);
    return ids.get(id)!;
  };
  const vm = HOSTILE.join('|');
  const out = readFileSync(plain, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      if ('format' in o) return JSON.stringify({ ...o, vm });
      if (typeof o.dev === 'string') o.dev = hostile(o.dev);
      if (typeof o.elem === 'string') o.elem = hostile(o.elem);
      if (typeof o.req === 'string') o.req = hostile(o.req);
      delete o.vm;
      delete o.src; // each event then points at its line of the hostile-named file
      return JSON.stringify(o);
    });
  const file = join(dir, 'run\twith\nodd ü name.jsonl');
  writeFileSync(file, out.join('\n') + '\n');
  const r = await ingest({ files: [file], db: join(dir, 'run.duckdb') });
  const q = (sql: string) => queryRows(r.store.conn, sql);

  it('in every table: traces, devices, events, spans, findings', async () => {
    expect(await q('SELECT DISTINCT file, vm FROM traces')).toEqual([{ file, vm }]);
    for (const t of ['devices', 'events', 'spans', 'findings']) expect(await q(`SELECT DISTINCT vm FROM ${t}`)).toEqual([{ vm }]);
    const devs = new Set((await q('SELECT dev FROM devices')).map((x) => x.dev));
    expect(devs.size).toBeGreaterThanOrEqual(4);
    for (const d of devs) expect([...ids.values()]).toContain(d);
    // a 5000-character id and one with a NUL byte arrive whole
    expect([...devs].some((d) => (d as string).startsWith('x'.repeat(5000)))).toBe(true);
    for (const t of ['events', 'spans', 'findings']) {
      const got = (await q(`SELECT DISTINCT dev FROM ${t} WHERE dev IS NOT NULL`)).map((x) => x.dev);
      for (const d of got) expect(devs).toContain(d);
    }
    const elems = (await q('SELECT DISTINCT elem FROM spans')).map((x) => x.elem as string);
    expect(elems.length).toBeGreaterThan(5); // QEMU reuses element addresses
    for (const e of elems) expect([...ids.values()]).toContain(e);
    // none of them became NULL, lost a byte or had a tab turned into a space
    const plainStore = await ingest({ files: [plain], db: ':memory:' });
    const nulls = 'SELECT count(*) AS n, count(dev) AS devs FROM events';
    expect(await q(nulls)).toEqual(await queryRows(plainStore.store.conn, nulls));
    plainStore.store.close();
    const [ev] = await q("SELECT fields FROM events WHERE kind = 'vq.pop' ORDER BY seq LIMIT 1");
    expect([...ids.values()]).toContain(JSON.parse(ev!.fields as string).elem);
    const [f] = await q("SELECT evidence FROM findings WHERE evidence <> '[]' LIMIT 1");
    expect(JSON.parse(f!.evidence as string)[0].file).toBe(file);
  });

  it('gives the same verdicts as the plain ids', async () => {
    const p = await ingest({ files: [plain], db: ':memory:' });
    const verdicts = (rows: Record<string, unknown>[]) => rows.map((x) => `${x.rule} ${x.verdict}`).sort();
    expect(verdicts(await q('SELECT rule, verdict FROM findings'))).toEqual(verdicts(await queryRows(p.store.conn, 'SELECT rule, verdict FROM findings')));
    p.store.close();
  });
});

describe('every accepted value fits its column', () => {
  it('a queue index of 2^40, a sector near 2^53 and an origin of 10^29 ns are stored as given', async () => {
    const dir = tempDir();
    const file = join(dir, 'big.jsonl');
    const q40 = 2 ** 40;
    const sector = Number.MAX_SAFE_INTEGER - 7;
    writeFileSync(
      file,
      [
        { format: 'avpscope-events', version: 1, origin_ns: '100000000000000000000000000000', view: 'host' },
        { ts: 0, kind: 'status', dev: 'd', value: 15 },
        { ts: 1, kind: 'vq.pop', dev: 'd', queue: q40, elem: 'e1', in_num: 1, out_num: 2 },
        { ts: 2, kind: 'blk.submit', dev: 'd', req: 'e1', op: 'read', sector, nsectors: 8 },
        { ts: 3, kind: 'vq.fill', dev: 'd', queue: q40, elem: 'e1', len: 4097, idx: 0 },
        { ts: 4, kind: 'vq.flush', dev: 'd', queue: q40, count: 1 },
      ].map((o) => JSON.stringify(o)).join('\n') + '\n',
    );
    const r = await ingest({ files: [file], db: join(dir, 'big.duckdb') });
    const q = (sql: string) => queryRows(r.store.conn, sql);
    expect(await q('SELECT CAST(origin_ns AS VARCHAR) AS o FROM traces')).toEqual([{ o: '100000000000000000000000000000' }]);
    expect(await q('SELECT queue, sector FROM spans')).toEqual([{ queue: q40, sector }]);
    r.store.close();
  });

  it('an origin beyond the store (10^40 ns) is bad input naming the file, not a crash', async () => {
    const dir = tempDir();
    const file = join(dir, 'far.jsonl');
    writeFileSync(file, [{ format: 'avpscope-events', version: 1, origin_ns: '1' + '0'.repeat(40), view: 'host' }, { ts: 0, kind: 'status', dev: 'd', value: 1 }].map((o) => JSON.stringify(o)).join('\n') + '\n');
    await expect(ingest({ files: [file], db: join(dir, 'far.duckdb') })).rejects.toMatchObject({ name: 'InputError', file });
  });

  it('an event of 3 MB (past any CSV line limit) is stored whole', async () => {
    const dir = tempDir();
    const file = join(dir, 'long.jsonl');
    const text = 'é\t'.repeat(1_000_000);
    writeFileSync(file, JSON.stringify({ ts: 0, kind: 'mark', view: 'guest', text }) + '\n');
    const r = await ingest({ files: [file], db: ':memory:' });
    const [ev] = await queryRows(r.store.conn, 'SELECT fields FROM events');
    expect(JSON.parse(ev!.fields as string).text).toBe(text);
    r.store.close();
  });
});
