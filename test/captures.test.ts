/**
 * The scenario captures (traces/qemu-7.2-scenarios, made by scripts/capture.sh; traces/PROVENANCE.md): each test
 * reads a fact from the raw QEMU log (or the guest's own files beside it) with plain text matching, then checks that
 * ingesting the trace shows the same fact. No verdicts: these traces exist so that the rules can be tested on them.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ingest, type Ingested } from '../src/api/ingest.ts';
import { queryRows } from '../src/perf/store.ts';
import { lines, real } from './helpers.ts';

const DIR = real('qemu-7.2-scenarios');
const file = (name: string) => join(DIR, name);
const trace = (v: string) => file(`${v}.trace.gz`);

/** The event line without its `PID@SEC.USEC:` prefix. */
const body = (l: string) => l.replace(/^\d+@[\d.]+:/, '');

interface Chain {
  vq: string;
  elem: string;
  inNum: number;
  outNum: number;
  popLine: number;
  fillLine?: number;
  len?: number;
  /** virtio_blk_handle_read/write named it */
  rw: boolean;
}

/** Every chain QEMU popped, in order, with its fill; read from the text alone (elem pointers are reused, so a
 *  chain is open from its pop to the next fill of the same elem). */
function chains(ls: string[]): Chain[] {
  const out: Chain[] = [];
  const open = new Map<string, Chain>();
  ls.forEach((l, i) => {
    const b = body(l);
    let m = /^virtqueue_pop vq (\S+) elem (\S+) in_num (\d+) out_num (\d+)/.exec(b);
    if (m) {
      const c: Chain = { vq: m[1]!, elem: m[2]!, inNum: Number(m[3]), outNum: Number(m[4]), popLine: i + 1, rw: false };
      open.set(c.elem, c);
      out.push(c);
      return;
    }
    m = /^virtio_blk_handle_(?:read|write) vdev \S+ req (\S+)/.exec(b);
    if (m && open.has(m[1]!)) open.get(m[1]!)!.rw = true;
    m = /^virtqueue_fill vq \S+ elem (\S+) len (\d+)/.exec(b);
    if (m && open.has(m[1]!)) {
      const c = open.get(m[1]!)!;
      c.fillLine = i + 1;
      c.len = Number(m[2]);
      open.delete(m[1]!);
    }
  });
  return out;
}

/** vq pointer -> [vdev, queue index], from the notifies that name all three. */
function queuesOf(ls: string[]): Map<string, { vdev: string; queue: number }> {
  const out = new Map<string, { vdev: string; queue: number }>();
  for (const l of ls) {
    const m = /^virtio_queue_notify vdev (\S+) n (\d+) vq (\S+)/.exec(body(l));
    if (m) out.set(m[3]!, { vdev: m[1]!, queue: Number(m[2]) });
  }
  return out;
}

/** Most chains open at once, per key (pop to fill, in line order). */
function maxInFlight(cs: Chain[], key: (c: Chain) => string): Map<string, number> {
  const steps: { line: number; k: string; d: number }[] = [];
  for (const c of cs) {
    steps.push({ line: c.popLine, k: key(c), d: 1 });
    if (c.fillLine !== undefined) steps.push({ line: c.fillLine, k: key(c), d: -1 });
  }
  steps.sort((a, b) => a.line - b.line);
  const now = new Map<string, number>();
  const max = new Map<string, number>();
  for (const s of steps) {
    const n = (now.get(s.k) ?? 0) + s.d;
    now.set(s.k, n);
    max.set(s.k, Math.max(max.get(s.k) ?? 0, n));
  }
  return max;
}

/** The guest's virtio device list (scripts/capture/guest-init.sh, snapshot_guest). */
interface GuestDevice {
  name: string;
  device: number;
  driver: string;
  vendor: number;
  /** negotiated feature bits; sysfs writes bit 0 first */
  features: bigint;
}
const GUEST_LINE = /^(virtio\d+) device=(0x[0-9a-f]{4}) driver=(\S*) vendor=(0x[0-9a-f]+) features=([01]{64})$/;
function guestDevices(v: string): GuestDevice[] {
  return readFileSync(file(`${v}.guest.virtio_devices.txt`), 'utf8').trimEnd().split('\n').map((l) => {
    const m = GUEST_LINE.exec(l);
    if (!m) throw new Error(`${v}.guest.virtio_devices.txt: not in the documented format: ${l}`);
    const bits = [...m[5]!].reduce((acc, ch, i) => (ch === '1' ? acc | (1n << BigInt(i)) : acc), 0n);
    return { name: m[1]!, device: Number(m[2]), driver: m[3]!, vendor: Number(m[4]), features: bits };
  });
}

/** Ingested once per trace and kept for the file's tests. */
const stores = new Map<string, Ingested>();
async function store(files: string[]): Promise<Ingested> {
  const key = files.join('\n');
  if (!stores.has(key)) stores.set(key, await ingest({ files, db: ':memory:' }));
  return stores.get(key)!;
}
const rows = async (files: string[], sql: string) => queryRows((await store(files)).store.conn, sql);
afterAll(() => {
  for (const s of stores.values()) s.store.close();
});

const VARIANTS = [
  'microvm-discard', 'microvm-mq', 'microvm-scsi', 'microvm-balloon-input', 'microvm-netctrl', 'microvm-killed',
  'q35-gpu-noedid', 'microvm-gpu', 'microvm-gpu-noedid',
];
const MMIO = VARIANTS.filter((v) => v.startsWith('microvm-'));

describe('every scenario capture', () => {
  it.each(VARIANTS)('%s has its QEMU log, console, provenance and the guest evidence files', (v) => {
    for (const f of ['trace.gz', 'console.txt', 'info.txt', 'guest.interrupts.txt', 'guest.dmesg.txt', 'guest.virtio_devices.txt']) {
      expect(existsSync(file(`${v}.${f}`)), `${v}.${f}`).toBe(true);
    }
    const info = readFileSync(file(`${v}.info.txt`), 'utf8');
    expect(info).toMatch(/^QEMU emulator version 7\.2\.22 /m);
    expect(info).toMatch(/^command: qemu-system-x86_64 /m);
    expect(readFileSync(file(`${v}.guest.dmesg.txt`), 'utf8')).toMatch(/Linux version 6\.1\.0-57-/);
    expect(readFileSync(file(`${v}.guest.interrupts.txt`), 'utf8')).toMatch(/^\s+CPU0/);
    expect(guestDevices(v).length).toBeGreaterThan(0);
    expect(readFileSync(file('../PROVENANCE.md'), 'utf8')).toContain(`\`${v}\``);
  });

  it('holds no file of a variant it does not list', () => {
    const stems = new Set(readdirSync(DIR).map((f) => f.split('.')[0]!));
    expect([...stems].sort()).toEqual([...VARIANTS].sort());
  });

  // virtio-mmio v2: the driver's feature words are in QEMU's log (DriverFeaturesSel 0x24, DriverFeatures 0x20);
  // what the guest's sysfs says it negotiated is the same set, device for device
  it.each(MMIO)('%s: the features the guest reports equal the features the host log shows accepted', async (v) => {
    const accepted = (await rows([trace(v)], 'SELECT features_accepted AS f FROM devices WHERE features_accepted IS NOT NULL'))
      .map((r) => BigInt(r.f as string))
      .sort();
    const guest = guestDevices(v).map((d) => d.features).sort();
    expect(accepted).toEqual(guest);
    expect(guest.every((f) => (f >> 32n) & 1n)).toBe(true); // VIRTIO_F_VERSION_1
  });
});

describe('microvm-discard: DISCARD and WRITE_ZEROES really issued', () => {
  const v = 'microvm-discard';
  const ls = lines(trace(v));
  // not a read or write, two readable segments (header, one range) and a status byte: DISCARD or WRITE_ZEROES
  const dwz = chains(ls).filter((c) => !c.rw && c.outNum === 2 && c.inNum === 1);

  it('has four chains of the DISCARD/WRITE_ZEROES shape: blkdiscard, BLKZEROOUT and two fstrim ranges', () => {
    expect(dwz).toHaveLength(4);
    expect(dwz.every((c) => c.len === 1)).toBe(true);
  });

  it('tells the write-zeroes one by the block layer line QEMU logs inside it (flags 0x2, the 1 MiB at 1 MiB)', () => {
    const zl = ls.flatMap((l, i) => (/:blk_co_pwritev .* offset 1048576 bytes 1048576 flags 0x2$/.test(l) ? [i + 1] : []));
    expect(zl).toHaveLength(1);
    expect(ls.filter((l) => /:blk_co_pwritev .*flags 0x2$/.test(l))).toHaveLength(1);
    const inside = dwz.filter((c) => c.popLine < zl[0]! && zl[0]! < c.fillLine!);
    expect(inside).toEqual([dwz[1]]);
  });

  it('the guest issued three discards and one write-zeroes, and offered/negotiated both features', () => {
    const guest = lines(file(`${v}.guest-ftrace.txt.gz`));
    const rwbs = guest.flatMap((l) => /block_rq_issue: \d+,\d+ (\S+) /.exec(l)?.[1] ?? []);
    expect(rwbs.filter((r) => r.startsWith('D'))).toHaveLength(3);
    expect(rwbs.filter((r) => r.startsWith('N'))).toHaveLength(1); // blktrace's letter for REQ_OP_WRITE_ZEROES
    const [blk] = guestDevices(v);
    expect(blk).toMatchObject({ device: 2, driver: 'virtio_blk' });
    expect((blk!.features >> 13n) & 1n).toBe(1n); // VIRTIO_BLK_F_DISCARD
    expect((blk!.features >> 14n) & 1n).toBe(1n); // VIRTIO_BLK_F_WRITE_ZEROES
  });

  it('ingests them as completed requests that are neither reads, writes nor flushes', async () => {
    const spans = await rows([trace(v)], `SELECT op, pop_line FROM spans WHERE out_num = 2 AND in_num = 1 AND op NOT IN ('read', 'write') ORDER BY pop_line`);
    expect(spans.map((s) => s.pop_line)).toEqual(dwz.map((c) => c.popLine));
    expect(spans.every((s) => ['discard', 'write_zeroes', 'discard_or_write_zeroes'].includes(s.op as string))).toBe(true);
  });
});

describe('microvm-mq: two vCPUs, two request queues, requests overlapping', () => {
  const v = 'microvm-mq';
  const ls = lines(trace(v));
  const qs = queuesOf(ls);
  const cs = chains(ls);

  it('has one device whose queues 0 and 1 both carry requests, several in flight on each', () => {
    expect(new Set([...qs.values()].map((q) => q.vdev)).size).toBe(1);
    const perQueue = maxInFlight(cs, (c) => String(qs.get(c.vq)!.queue));
    expect([...perQueue.keys()].sort()).toEqual(['0', '1']);
    expect(perQueue.get('0')).toBe(4); // four writers (and readers) per CPU
    expect(perQueue.get('1')).toBe(4);
    expect(maxInFlight(cs, () => 'device').get('device')).toBe(8);
    const guestQueues = new Set(lines(file(`${v}.guest-ftrace.txt.gz`)).flatMap((l) => /vq_add_sgs: .* name="(req\.\d)"/.exec(l)?.[1] ?? []));
    expect([...guestQueues].sort()).toEqual(['req.0', 'req.1']);
    expect(readFileSync(file(`${v}.guest.interrupts.txt`), 'utf8')).toMatch(/^\s+CPU0\s+CPU1\s*$/m);
  });

  it('ingests the requests of both queues, as many as QEMU popped on each', async () => {
    const got = await rows([trace(v)], 'SELECT queue, count(*)::INTEGER AS n FROM spans GROUP BY queue ORDER BY queue');
    const want = [0, 1].map((q) => ({ queue: q, n: cs.filter((c) => qs.get(c.vq)!.queue === q && c.fillLine !== undefined).length }));
    expect(got).toEqual(want);
  });
});

describe('microvm-scsi: a virtio-scsi device, whose chains look like virtio-blk ones', () => {
  const v = 'microvm-scsi';
  const ls = lines(trace(v));
  const qs = queuesOf(ls);
  const reqs = ls.filter((l) => body(l).startsWith('virtio_scsi_cmd_req '));

  it('logs one virtio_scsi_cmd_req and one _resp per command, none naming the device', () => {
    expect(reqs.length).toBeGreaterThan(0);
    expect(ls.filter((l) => body(l).startsWith('virtio_scsi_cmd_resp '))).toHaveLength(reqs.length);
    expect(ls.filter((l) => /:virtio_scsi_/.test(l) && /vdev/.test(l))).toEqual([]);
    const cdb = new Set(reqs.map((l) => /cmd=(0x[0-9a-f]+)/.exec(l)![1]));
    // WRITE(10), READ(10), SYNCHRONIZE CACHE(10), UNMAP: the workload's write, read, fsync and discard
    for (const op of ['0x2a', '0x28', '0x35', '0x42']) expect(cdb.has(op), op).toBe(true);
  });

  it('carries every command on the request queue (2) of its one device, as a blk-shaped chain', async () => {
    const cs = chains(ls);
    const onReq = cs.filter((c) => qs.get(c.vq)?.queue === 2);
    expect(onReq).toHaveLength(reqs.length);
    expect(onReq.every((c) => c.outNum >= 1 && c.inNum >= 1)).toBe(true);
    expect(guestDevices(v)).toMatchObject([{ device: 8, driver: 'virtio_scsi' }]);
    const spans = await rows([trace(v)], 'SELECT dev, queue FROM spans');
    expect(new Set(spans.map((s) => s.dev))).toEqual(new Set([...qs.values()].map((q) => q.vdev)));
    expect(spans.filter((s) => s.queue === 2)).toHaveLength(reqs.length);
  });
});

describe('microvm-balloon-input: a balloon and two input devices', () => {
  const v = 'microvm-balloon-input';
  const ls = lines(trace(v));
  const qs = queuesOf(ls);
  const cs = chains(ls);

  it('inflates by 4096 pages and deflates them again, 256 pages a chain, driver to device only', () => {
    const targets = ls.filter((l) => body(l).startsWith('virtio_balloon_to_target')).map((l) => Number(/num_pages: (\d+)/.exec(l)![1]));
    expect(targets).toEqual([4096, 0]);
    expect(ls.filter((l) => body(l).startsWith('virtio_balloon_handle_output '))).toHaveLength(2 * 4096);
    const balloon = [...qs.values()].find((q) => q.queue === 1)!.vdev; // the only device with a second queue
    for (const queue of [0, 1]) {
      const on = cs.filter((c) => qs.get(c.vq)?.vdev === balloon && qs.get(c.vq)!.queue === queue);
      expect(on, `queue ${queue}`).toHaveLength(16);
      expect(on.every((c) => c.outNum === 1 && c.inNum === 0)).toBe(true);
    }
  });

  it('delivers 8 keyboard and 4 tablet events, device-writable chains of 8 bytes, as many as the guest read', async () => {
    const guest = guestDevices(v);
    expect(guest.map((d) => [d.device, d.driver])).toEqual([[5, 'virtio_balloon'], [18, 'virtio_input'], [18, 'virtio_input']]);
    // the guest read 24-byte struct input_events from /dev/input/event0 (keyboard) and event1 (tablet)
    const console = readFileSync(file(`${v}.console.txt`), 'utf8');
    const read = [0, 1].map((n) => Number(new RegExp(`== event${n}: (\\d+) bytes`).exec(console)![1]) / 24);
    expect(read).toEqual([8, 4]);
    const inputs = new Set([...qs.values()].filter((q) => q.queue === 0).map((q) => q.vdev));
    const filled = [...inputs].map((d) => cs.filter((c) => qs.get(c.vq)?.vdev === d && c.len === 8));
    expect(filled.map((f) => f.length).filter((n) => n > 0).sort()).toEqual([4, 8]);
    expect(filled.flat().every((c) => c.inNum === 1 && c.outNum === 0)).toBe(true);
    // and the ingest keeps every one of those chains, on its device
    const spans = await rows([trace(v)], 'SELECT dev, count(*)::INTEGER AS n FROM spans WHERE used_len = 8 GROUP BY dev ORDER BY n');
    expect(spans.map((s) => s.n)).toEqual([4, 8]);
  });
});

describe('microvm-netctrl: the control queue in use', () => {
  const v = 'microvm-netctrl';
  const ls = lines(trace(v));
  const qs = queuesOf(ls);
  const ctrl = chains(ls).filter((c) => qs.get(c.vq)?.queue === 2);

  it('has one command chain on queue 2 per command the guest driver queued there, each acked with one byte', () => {
    const guestAdds = lines(file(`${v}.guest-ftrace.txt.gz`)).filter((l) => /vq_add_sgs: .* name="control"/.test(l));
    expect(ctrl.length).toBeGreaterThan(0);
    expect(ctrl).toHaveLength(guestAdds.length);
    expect(ctrl.every((c) => c.inNum === 1 && c.outNum >= 2 && c.len === 1)).toBe(true);
    const [net] = guestDevices(v);
    expect(net).toMatchObject({ device: 1, driver: 'virtio_net' });
    for (const bit of [17n, 18n, 23n]) expect((net!.features >> bit) & 1n, `bit ${bit}`).toBe(1n); // CTRL_VQ, CTRL_RX, CTRL_MAC_ADDR
    expect(readFileSync(file(`${v}.console.txt`), 'utf8')).toContain('mac now 52:54:00:ab:cd:ef');
  });

  it('ingests the control chains on queue 2', async () => {
    const got = await rows([trace(v)], 'SELECT count(*)::INTEGER AS n FROM spans WHERE queue = 2');
    expect(got[0]!.n).toBe(ctrl.length);
  });
});

describe('microvm-killed: QEMU killed while the guest writes', () => {
  const v = 'microvm-killed';
  const ls = lines(trace(v));
  const cs = chains(ls);
  const open = cs.filter((c) => c.fillLine === undefined);

  it('ends with write chains popped and never filled, and no reset after them', () => {
    expect(open).toHaveLength(5);
    expect(open.every((c) => c.rw && c.outNum > 1)).toBe(true);
    const lastStatus = ls.findLast((l) => body(l).startsWith('virtio_set_status'))!;
    expect(lastStatus).toMatch(/val 15$/);
    expect(readFileSync(file(`${v}.info.txt`), 'utf8')).toMatch(/^host cue '== write loop' -> kill 2 at \d+\.\d+$/m);
    expect(readFileSync(file(`${v}.console.txt`), 'utf8')).not.toContain('== done');
  });

  it('ingests the completed chains as requests and leaves the open ones out', async () => {
    const [{ pops, spans }] = (await rows(
      [trace(v)],
      `SELECT (SELECT count(*) FROM events WHERE kind = 'vq.pop')::INTEGER AS pops, (SELECT count(*) FROM spans)::INTEGER AS spans`,
    )) as [{ pops: number; spans: number }];
    expect(pops).toBe(cs.length);
    expect(pops - spans).toBe(open.length);
  });
});

describe('q35-gpu-noedid: virtio-gpu without EDID', () => {
  const v = 'q35-gpu-noedid';
  const GET_EDID = 0x010a;
  const GET_DISPLAY_INFO = 0x0100;

  it('never gets an EDID request, where the bundled q35-gpu run (edid on) gets one', () => {
    const count = (f: string, ev: string) => lines(f).filter((l) => body(l).startsWith(ev + ' ')).length;
    expect(count(trace(v), 'virtio_gpu_cmd_get_edid')).toBe(0);
    expect(count(trace(v), 'virtio_gpu_cmd_get_display_info')).toBe(1);
    expect(count(real('qemu-7.2/q35-gpu.trace.gz'), 'virtio_gpu_cmd_get_edid')).toBe(1);
    const gpu = guestDevices(v).find((d) => d.device === 16)!;
    expect(gpu.driver).toBe('virtio_gpu');
    expect((gpu.features >> 1n) & 1n).toBe(0n); // VIRTIO_GPU_F_EDID not negotiated
    expect(readFileSync(file(`${v}.info.txt`), 'utf8')).toContain('virtio-gpu-pci\\,edid=off');
  });

  it('ingests GPU commands, none of them GET_EDID', async () => {
    const got = await rows([trace(v)], `SELECT json_extract(fields, '$.type')::INTEGER AS type, count(*)::INTEGER AS n FROM events WHERE kind = 'gpu.cmd' GROUP BY type`);
    const by = new Map(got.map((r) => [r.type as number, r.n as number]));
    expect(by.get(GET_DISPLAY_INFO)).toBe(1);
    expect(by.has(GET_EDID)).toBe(false);
  });
});

describe('microvm-gpu and microvm-gpu-noedid: the EDID feature in the driver\'s feature word', () => {
  const EDID = 1n; // VIRTIO_GPU_F_EDID
  const GET_EDID = 0x010a;

  it.each([
    ['microvm-gpu', 1, 1n],
    ['microvm-gpu-noedid', 0, 0n],
  ] as const)('%s: %i GET_EDID, EDID bit %s in what the guest negotiated and in what the log shows accepted', async (v, edids, bit) => {
    const ls = lines(trace(v));
    expect(ls.filter((l) => body(l).startsWith('virtio_gpu_cmd_get_edid '))).toHaveLength(edids);
    const gpu = guestDevices(v).find((d) => d.device === 16)!;
    expect(gpu.driver).toBe('virtio_gpu');
    expect((gpu.features >> EDID) & 1n).toBe(bit);
    // the device that handles GPU commands is the one whose accepted features carry (or lack) the bit
    const [dev] = await rows([trace(v)], `SELECT d.features_accepted AS f, (SELECT count(*) FROM events e WHERE e.dev = d.dev AND e.kind = 'gpu.cmd' AND json_extract(e.fields, '$.type')::INTEGER = ${GET_EDID})::INTEGER AS edids
      FROM devices d WHERE d.dev IN (SELECT dev FROM events WHERE kind = 'gpu.cmd')`);
    expect((BigInt(dev!.f as string) >> EDID) & 1n).toBe(bit);
    expect(BigInt(dev!.f as string)).toBe(gpu.features);
    expect(dev!.edids).toBe(edids);
  });
});
