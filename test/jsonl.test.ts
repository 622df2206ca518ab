/** The canonical JSON Lines format: a real trace converted and read back gives the same run. */
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert as convertTrace } from '../src/api/convert.ts';
import { ingest } from '../src/api/ingest.ts';
import { queryRows } from '../src/perf/store.ts';
import { Event, SourceHeader } from '../src/model/events.ts';
import { MICROVM_LEGACY, MICROVM_MODERN, Q35_PCI, real, reportOf, tempDir, writeTrace } from './helpers.ts';

async function convert(file: string, out: string, raw = false, to: 'jsonl' | 'arrow' = 'jsonl'): Promise<void> {
  const s = createWriteStream(out);
  await convertTrace({ files: [file], raw, to }, s);
  await new Promise<void>((res) => s.end(res));
}

/** Everything the store holds about a run, minus what names the file it came from. */
async function snapshot(file: string) {
  const r = await ingest({ files: [file], db: ':memory:' });
  try {
    const q = (sql: string) => queryRows(r.store.conn, sql);
    return {
      events: await q('SELECT seq, ts, vm, dev, dev_inferred, kind, line, fields FROM events ORDER BY seq'),
      spans: await q('SELECT * EXCLUDE (file) FROM spans ORDER BY t_pop, elem'),
      devices: await q('SELECT * FROM devices ORDER BY dev'),
      findings: await q("SELECT rule, dev, verdict, message, regexp_replace(evidence, '\"file\":\"[^\"]*\"', '') AS evidence FROM findings ORDER BY rule, dev"),
    };
  } finally {
    r.store.close();
  }
}

describe('canonical JSON Lines', () => {
  it.each([MICROVM_MODERN, MICROVM_LEGACY, Q35_PCI])('round trip of %s: same events, store and verdicts', async (trace) => {
    const out = join(tempDir(), 'run.jsonl');
    await convert(trace, out, true);
    const a = await snapshot(trace);
    const b = await snapshot(out);
    expect(b.events.length).toBe(a.events.length);
    expect(b.events).toEqual(a.events);
    expect(b.spans).toEqual(a.spans);
    expect(b.devices).toEqual(a.devices);
    expect(b.findings).toEqual(a.findings);
  });

  it.each([MICROVM_MODERN, Q35_PCI])('Arrow IPC round trip of %s: same events, store and verdicts', async (trace) => {
    const out = join(tempDir(), 'run.arrow');
    await convert(trace, out, false, 'arrow');
    const a = await snapshot(trace);
    const b = await snapshot(out);
    expect(b.events).toEqual(a.events);
    expect(b.spans).toEqual(a.spans);
    expect(b.findings).toEqual(a.findings);
  });

  it('Arrow keeps the guest view (view, cpu) of an ftrace trace', async () => {
    const guest = real('guest-ftrace/microvm-modern.guest-ftrace.txt.gz');
    const out = join(tempDir(), 'guest.arrow');
    await convert(guest, out, false, 'arrow');
    expect((await snapshot(out)).events).toEqual((await snapshot(guest)).events);
  });

  it('refuses an Arrow file that does not hold avpscope events, naming it', async () => {
    const { tableFromArrays, tableToIPC } = await import('apache-arrow');
    const file = join(tempDir(), 'foreign.arrow');
    writeFileSync(file, tableToIPC(tableFromArrays({ x: new Float64Array([1, 2]) }), 'stream'));
    await expect(ingest({ files: [file], db: ':memory:' })).rejects.toThrow(/foreign\.arrow.*|an Arrow file, but not avpscope events/);
    const err = await ingest({ files: [file], db: ':memory:' }).catch((e) => e);
    expect(err.describe()).toMatch(/foreign\.arrow: an Arrow file, but not avpscope events/);
  });

  it('writes a header and lines the zod schema accepts, with the original line kept on request', async () => {
    const out = join(tempDir(), 'mm.jsonl');
    await convert(MICROVM_MODERN, out, true);
    const [head, ...rest] = readFileSync(out, 'utf8').trim().split('\n');
    expect(SourceHeader.parse(JSON.parse(head!))).toMatchObject({ origin_ns: '1795565282000000000', view: 'host' });
    for (const l of rest.slice(0, 500)) expect(Event.safeParse(JSON.parse(l)).success).toBe(true);
    const first = JSON.parse(rest.find((l) => l.includes('"status"'))!);
    expect(first.raw).toMatch(/virtio_set_status vdev 0x[0-9a-f]+ val 0$/);
    expect(Object.keys(first).slice(0, 4)).toEqual(['ts', 'vm', 'dev', 'kind']);
  });

  it('names file, line and field of a line the schema refuses', async () => {
    const dir = tempDir();
    const file = writeTrace(dir, 'bad.jsonl', [
      '{"format":"avpscope-events","version":1,"origin_ns":"0"}',
      '{"ts":1,"kind":"status","dev":"d0","value":0}',
      '{"ts":2,"kind":"vq.fill","dev":"d0","vq":"q","elem":"e","len":"long","idx":0}',
      '{"ts":3,"kind":"warp.drive","dev":"d0"}',
      '{"ts":4,"kind":"status","dev":"d0","value":1}',
      '{"ts":5,"kind":"status","dev":"d0","value":3}',
    ]);
    const r = await reportOf([file]);
    const bad = r.stats.find((s) => s.name === 'line.malformed')!;
    expect(bad.count).toBe(2);
    expect(bad.samples[0]).toMatchObject({ line: 3, detail: expect.stringMatching(/^len: Invalid input: expected number, received string/) });
    expect(bad.samples[1]).toMatchObject({ line: 4, detail: expect.stringMatching(/^kind: /) });
  });

  it('accepts a vendor\'s minimal file: no header, relative ns, explicit devices', async () => {
    const dir = tempDir();
    const ev = (o: object) => JSON.stringify(o);
    const file = writeTrace(dir, 'vendor.jsonl', [
      ev({ ts: 0, kind: 'device', dev: 'blk0', device_id: 2, transport: 'mmio' }),
      ev({ ts: 10, kind: 'status', dev: 'blk0', value: 0 }),
      ev({ ts: 20, kind: 'status', dev: 'blk0', value: 1 }),
      ev({ ts: 30, kind: 'status', dev: 'blk0', value: 3 }),
      ev({ ts: 40, kind: 'features', dev: 'blk0', side: 'device', value: '0x100006a00' }),
      ev({ ts: 50, kind: 'features', dev: 'blk0', side: 'driver', value: '0x100006a00' }),
      ev({ ts: 60, kind: 'status', dev: 'blk0', value: 11 }),
      ev({ ts: 70, kind: 'status', dev: 'blk0', value: 15 }),
      ev({ ts: 80, kind: 'notify.avail', dev: 'blk0', queue: 0 }),
      ev({ ts: 90, kind: 'vq.pop', dev: 'blk0', queue: 0, elem: 'h0', in_num: 1, out_num: 1 }),
      ev({ ts: 95, kind: 'blk.submit', dev: 'blk0', req: 'h0', op: 'flush' }),
      ev({ ts: 1090, kind: 'vq.fill', dev: 'blk0', queue: 0, elem: 'h0', len: 1, idx: 0 }),
      ev({ ts: 1100, kind: 'vq.flush', dev: 'blk0', queue: 0, count: 1 }),
    ]);
    const r = await reportOf([file]);
    // offered 0x100006a00: bits 9 FLUSH, 11 CONFIG_WCE, 13 DISCARD, 14 WRITE_ZEROES, 32 VERSION_1
    for (const rule of ['AVPS-v2.0-5', 'AVPS-v2.0-6', 'AVPS-v2.0-7', 'AVPS-v2.0-7b', 'virtio.version-1', 'virtio.init-order']) {
      expect(r.findings.find((f) => f.rule === rule)!.verdict).toBe('PASS');
    }
    expect(r.findings.find((f) => f.rule === 'AVPS-v2.0-5')!.message).toMatch(/in the device's offered features 0x100006a00/);
    expect(r.devices[0]).toMatchObject({ type: 'blk', type_how: 'seen', transport: 'mmio' });
  });
});
