/**
 * The device-side rules QEMU's log can show (issue 7, item 8), and the legal behaviour that must
 * not read as a fault (item 6): each with a PASS on a real trace, a FAIL made by editing one, and a
 * NOT-OBSERVED (or NOT-APPLICABLE) where the trace lacks the input. The expected verdicts come from
 * reading the lines named in the comments.
 */
import { describe, expect, it } from 'vitest';
import type { Report } from '../src/api/report.ts';
import { MICROVM_LEGACY, MICROVM_MODERN, Q35_PCI, lineOf, lines, real, reportOf, tempDir, vdevOf, writeTrace } from './helpers.ts';

const KILLED = real('qemu-7.2-scenarios/microvm-killed.trace.gz');
const DISCARD = real('qemu-7.2-scenarios/microvm-discard.trace.gz');
const MQ = real('qemu-7.2-scenarios/microvm-mq.trace.gz');
const SOUND = real('qemu-10.0-sound/none-duplex.trace.gz');

const finding = (r: Report, rule: string, dev?: string) => {
  const f = r.findings.find((x) => x.rule === rule && (dev === undefined || x.dev === dev));
  if (!f) throw new Error(`no finding of ${rule}${dev ? ` for ${dev}` : ''}`);
  return f;
};
const edited = async (name: string, ls: string[]) => reportOf([writeTrace(tempDir(), name, ls)]);

const ls = lines(MICROVM_MODERN);
const blk = vdevOf(ls, /virtio_blk_handle_write/);
const rng = vdevOf(ls, /virtio_rng_request/);
/** the block device's queue handle, from its first kick ('virtio_queue_notify vdev <blk> n 0 vq V') */
const blkVq = /vq (0x[0-9a-f]+)/.exec(ls[lineOf(ls, new RegExp(`virtio_queue_notify vdev ${blk} n 0`)) - 1]!)![1]!;
/** the block device's feature word 0 (0x30006e54: FLUSH 9, CONFIG_WCE 11, DISCARD 13, WRITE_ZEROES 14; no RO 5) */
const BLK_WORD0 = 'offset 0x20 value 0x30006e54';

describe('microvm-modern as captured', async () => {
  const r = await reportOf([MICROVM_MODERN]);

  it('is quiet after each reset (§2.4.1): the shutdown resets are followed by nothing', () => {
    // the driver resets the block device at shutdown (0x70 = 0, line 5133 'virtio_set_status ... val 0'); no pop after it
    const f = finding(r, 'virtio.reset-quiet', blk);
    expect(f.verdict).toBe('PASS');
    expect(f.evidence[0]!.raw).toMatch(new RegExp(`virtio_set_status vdev ${blk} val 0$`));
  });

  it('takes chains only from ready queues (§4.2.2.1): QueueReady=1 precedes every pop', () => {
    const f = finding(r, 'virtio-mmio.queue-ready', blk);
    expect(f.verdict).toBe('PASS');
    expect(f.evidence[0]!.raw).toMatch(/offset 0x44 value 0x1$/);
  });

  it('IN_ORDER was not negotiated (word 1 = 0x1): completion order is free, the rule does not apply', () => {
    expect(ls.filter((l) => l.endsWith('offset 0x20 value 0x1')).length).toBe(4);
    expect(finding(r, 'virtio.vq.in-order', blk).verdict).toBe('NOT-APPLICABLE');
  });

  it('used lengths match the bytes written (§2.7.8.2): 64-byte entropy answers, reads of n sectors + 1', () => {
    // 'virtqueue_fill ... len 64' then 'virtio_rng_pushed ...: 64 bytes pushed'
    expect(finding(r, 'virtio.vq.used-len', rng).verdict).toBe('PASS');
    const b = finding(r, 'virtio.vq.used-len', blk);
    expect(b.verdict).toBe('PASS');
    expect(b.message).toMatch(/^17 completions/); // the 17 virtio_blk_handle_read requests
  });

  it('offers FLUSH with CONFIG_WCE (§5.2.5.2), and RO is not negotiated', () => {
    expect(ls.some((l) => l.endsWith(BLK_WORD0))).toBe(true);
    expect(finding(r, 'virtio-blk.flush-with-wce', blk).verdict).toBe('PASS');
    expect(finding(r, 'virtio-blk.ro-write-fails', blk).verdict).toBe('NOT-APPLICABLE');
  });

  it('adds the console port once (§5.3.6.2.1)', () => {
    const f = finding(r, 'virtio-console.port-add-remove');
    expect(f.verdict).toBe('PASS');
    expect(f.evidence[0]!.raw).toMatch(/virtio_serial_send_control_event port 1, event 1, value 1$/);
  });
});

describe('FAILs made by editing microvm-modern', () => {
  it('§2.4.1: a chain taken after the shutdown reset', async () => {
    const reset = lineOf(ls, new RegExp(`virtio_set_status vdev ${blk} val 0$`), 5000);
    const pop = `9910@1795565285.923490:virtqueue_pop vq ${blkVq} elem 0x7f484c999990 in_num 2 out_num 1`;
    const r = await edited('pop-after-reset.trace', [...ls.slice(0, reset + 1), pop, ...ls.slice(reset + 1)]);
    const f = finding(r, 'virtio.reset-quiet', blk);
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/after the reset at line \d+, before the driver set DRIVER_OK again/);
    expect(f.evidence.map((e) => e.line)).toContain(reset + 2);
  });

  it('§4.2.2.1: the block queue used without its QueueReady write', async () => {
    const ready = lineOf(ls, /offset 0x44 value 0x1$/);
    const r = await edited('no-ready.trace', ls.filter((_, i) => i !== ready - 1));
    const f = finding(r, 'virtio-mmio.queue-ready', blk);
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/QueueReady is 0/);
  });

  it('§2.7.8.2: an entropy answer of 64 bytes with used length 128', async () => {
    const fill = lineOf(ls, /virtqueue_fill vq 0x7f48b849c010 elem \S+ len 64/);
    const e = [...ls];
    e[fill - 1] = e[fill - 1]!.replace('len 64', 'len 128');
    const f = finding(await edited('long-len.trace', e), 'virtio.vq.used-len', rng);
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/used length 128 for an entropy request answered with 64 bytes/);
  });

  it('§5.2.5.2: CONFIG_WCE accepted but FLUSH (bit 9) not: under the Linux driver, FLUSH was not offered', async () => {
    const e = ls.map((l) => (l.endsWith(BLK_WORD0) ? l.replace('0x30006e54', '0x30006c54') : l));
    const r = await edited('wce-no-flush.trace', e);
    const f = finding(r, 'virtio-blk.flush-with-wce', blk);
    expect(f.verdict).toBe('FAIL');
    expect(f.assumptions.join(' ')).toMatch(/Linux/);
    // without the assumed driver, a missing bit proves nothing
    const none = await reportOf([writeTrace(tempDir(), 'wce-no-flush-none.trace', e)], { assumeDriver: 'none' });
    expect(finding(none, 'virtio-blk.flush-with-wce', blk).verdict).toBe('NOT-OBSERVED');
  });

  it('§5.2.6.2: RO negotiated (bit 5) and writes answered OK; then answered IOERR', async () => {
    const ro = ls.map((l) => (l.endsWith(BLK_WORD0) ? l.replace('0x30006e54', '0x30006e74') : l));
    const f = finding(await edited('ro.trace', ro), 'virtio-blk.ro-write-fails', blk);
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/write request answered with status 0, not IOERR/);
    // every write answered IOERR ('req_complete ... status 1' for the reqs of virtio_blk_handle_write)
    const writes = ro.filter((l) => l.includes('virtio_blk_handle_write'));
    const pending = new Set<string>();
    const ioerr = ro.map((l) => {
      const w = /virtio_blk_handle_write vdev \S+ req (0x[0-9a-f]+)/.exec(l);
      if (w) pending.add(w[1]!);
      const c = /virtio_blk_req_complete vdev \S+ req (0x[0-9a-f]+) status 0/.exec(l);
      if (c && pending.has(c[1]!)) {
        pending.delete(c[1]!);
        return l.replace(/status 0$/, 'status 1');
      }
      return l;
    });
    expect(writes.length).toBe(257);
    const p = finding(await edited('ro-ioerr.trace', ioerr), 'virtio-blk.ro-write-fails', blk);
    expect(p.verdict).toBe('PASS');
    expect(p.message).toMatch(/257 write request\(s\) answered VIRTIO_BLK_S_IOERR/);
  });

  it('§5.3.6.2.1: DEVICE_ADD for port 1 twice', async () => {
    const add = lineOf(ls, /virtio_serial_send_control_event port 1, event 1, value 1$/, 100);
    const r = await edited('add-twice.trace', [...ls.slice(0, add), ls[add - 1]!, ...ls.slice(add)]);
    const f = finding(r, 'virtio-console.port-add-remove');
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/DEVICE_ADD for port 1, which the device had already added/);
    // and without any DEVICE_ADD the rule has nothing to judge
    const none = await edited('no-add.trace', ls.filter((_, i) => i !== add - 1));
    expect(finding(none, 'virtio-console.port-add-remove').verdict).toBe('NOT-OBSERVED');
  });

  it('AVPS-v2.0-8: a non-virtio NIC (an e1000 event) in the run FAILs, with its line', async () => {
    const nic = '9908@1795565282.450020:e1000x_rx_link_down Received packet dropped because the link is down STATUS = 0';
    const r = await edited('e1000.trace', [ls[0]!, nic, ...ls.slice(1)]);
    const f = finding(r, 'AVPS-v2.0-8');
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/not virtio-net: e1000/);
    expect(f.evidence[0]!.line).toBe(2);
    // a VM with no virtio-net device at all: the e1000 alone FAILs it too
    const k = lines(KILLED);
    const alone = finding(await edited('killed-e1000.trace', [k[0]!, nic.replace(/^9908@\d+\.\d+/, k[0]!.split(':')[0]!), ...k.slice(1)]), 'AVPS-v2.0-8');
    expect(alone.verdict).toBe('FAIL');
  });
});

describe('NOT-OBSERVED where the input is missing', async () => {
  it('§2.4.1 on a run killed mid-I/O: no reset after the device was live', async () => {
    // microvm-killed: SIGKILL while 5 writes are in flight; the last status is DRIVER_OK
    const r = await reportOf([KILLED]);
    expect(finding(r, 'virtio.reset-quiet').verdict).toBe('NOT-OBSERVED');
    // nor is anything lost: the 5 chains were still in flight
    const once = finding(r, 'virtio.vq.completed-once');
    expect(once.verdict).toBe('PASS');
    expect(once.message).toMatch(/5 still in flight when the trace ended/);
    expect(finding(r, 'AVPS-v2.0-8').verdict).toBe('NOT-OBSERVED');
  });

  it('§4.2.2.1 on legacy virtio-mmio (no QueueReady register)', async () => {
    const r = await reportOf([MICROVM_LEGACY]);
    const l = lines(MICROVM_LEGACY);
    // the statement does not bind a legacy device: NOT-APPLICABLE, saying why
    const f = finding(r, 'virtio-mmio.queue-ready', vdevOf(l, /virtio_blk_handle_write/));
    expect(f.verdict).toBe('NOT-APPLICABLE');
    expect(f.message).toMatch(/no QueueReady register \(§4\.2\.4\)/);
  });

  it('feature-conditioned rules on q35 (QEMU 7.2 logs no feature words for PCI)', async () => {
    const r = await reportOf([Q35_PCI]);
    const b = vdevOf(lines(Q35_PCI), /virtio_blk_handle_write/);
    for (const rule of ['virtio.vq.in-order', 'virtio-blk.flush-with-wce', 'virtio-blk.ro-write-fails']) expect(finding(r, rule, b).verdict, rule).toBe('NOT-OBSERVED');
  });

  it('§2.7.8.2 on virtio-sound: QEMU logs no bytes written for its queues', async () => {
    expect(finding(await reportOf([SOUND]), 'virtio.vq.used-len').verdict).toBe('NOT-OBSERVED');
  });
});

describe('legal is legal', () => {
  it('IN_ORDER: judged only once negotiated; then a completion overtaking an older chain FAILs', async () => {
    // microvm-mq: 2 vCPUs, 2 queues, up to 3 requests in flight per queue; set bit 35 (word 1 = 0x9)
    const m = lines(MQ);
    const dev = vdevOf(m, /virtio_blk_handle_write/);
    const base = await reportOf([MQ]);
    expect(finding(base, 'virtio.vq.in-order', dev).verdict).toBe('NOT-APPLICABLE');
    const inOrder = m.map((l) => (l.endsWith('offset 0x20 value 0x1') ? l.replace(/value 0x1$/, 'value 0x9') : l));
    const f = finding(await edited('mq-in-order.trace', inOrder), 'virtio.vq.in-order', dev);
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/completed while \S+, taken before it at line \d+, was still in flight \(VIRTIO_F_IN_ORDER negotiated\)/);
    // and without it the same completions are no fault of any rule
    expect(base.findings.filter((x) => x.dev === dev && x.verdict === 'FAIL').map((x) => x.rule)).toEqual([]);
  });

  it('IN_ORDER negotiated on microvm-modern, one request at a time: PASS', async () => {
    const e = ls.map((l) => (l.endsWith('offset 0x20 value 0x1') ? l.replace(/value 0x1$/, 'value 0x9') : l));
    expect(finding(await edited('modern-in-order.trace', e), 'virtio.vq.in-order', blk).verdict).toBe('PASS');
  });

  it('UNSUPP to a FLUSH the device negotiated fails AVPS-v2.0-5; to a discard of microvm-discard, -7 and -7b', async () => {
    // the flush-shaped chain (out 1, in 1, used length 1) of the block device
    const pop = lineOf(ls, new RegExp(`virtqueue_pop vq ${blkVq} elem \\S+ in_num 1 out_num 1$`));
    const elem = /elem (0x[0-9a-f]+)/.exec(ls[pop - 1]!)![1]!;
    const done = lineOf(ls, new RegExp(`virtio_blk_req_complete vdev ${blk} req ${elem} status 0$`), pop);
    const e = [...ls];
    e[done - 1] = e[done - 1]!.replace(/status 0$/, 'status 2');
    const r = await edited('flush-unsupp.trace', e);
    const f = finding(r, 'AVPS-v2.0-5', blk);
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/flush request was answered VIRTIO_BLK_S_UNSUPP although VIRTIO_BLK_F_FLUSH was negotiated/);
    expect(finding(r, 'AVPS-v2.0-7', blk).verdict).toBe('PASS');

    // microvm-discard: blkdiscard's chains (out 2, in 1) on a device with DISCARD and WRITE_ZEROES negotiated
    const d = lines(DISCARD);
    const dev = vdevOf(d, /virtio_blk_handle_write/);
    const dpop = lineOf(d, /virtqueue_pop vq \S+ elem \S+ in_num 1 out_num 2$/);
    const delem = /elem (0x[0-9a-f]+)/.exec(d[dpop - 1]!)![1]!;
    const ddone = lineOf(d, new RegExp(`virtio_blk_req_complete vdev ${dev} req ${delem} status 0$`), dpop);
    const de = [...d];
    de[ddone - 1] = de[ddone - 1]!.replace(/status 0$/, 'status 2');
    const dr = await edited('discard-unsupp.trace', de);
    for (const rule of ['AVPS-v2.0-7', 'AVPS-v2.0-7b']) {
      const x = finding(dr, rule, dev);
      expect(x.verdict, rule).toBe('FAIL');
      expect(x.message).toMatch(/discard_or_write_zeroes request was answered VIRTIO_BLK_S_UNSUPP/);
    }
    expect(finding(await reportOf([DISCARD]), 'AVPS-v2.0-7', dev).verdict).toBe('PASS');
  });

  it('block statuses 3-6 are the zoned ones: a non-zoned device answering 3 FAILs virtio-blk.status', async () => {
    const done = lineOf(ls, new RegExp(`virtio_blk_req_complete vdev ${blk} req \\S+ status 0$`));
    const e = [...ls];
    e[done - 1] = e[done - 1]!.replace(/status 0$/, 'status 3');
    const f = finding(await edited('zoned-status.trace', e), 'virtio-blk.status', blk);
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/status 3 is not a VIRTIO_BLK_S_\* value of a device without VIRTIO_BLK_F_ZONED/);
  });
});
