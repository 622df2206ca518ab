/** The reference model's pieces on their own, and the MMIO attribution on real traces. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StatusTracker, STATUS } from '../src/model/device/status.ts';
import { inferBlkOp } from '../src/model/devices/blk.ts';
import { QueueState } from '../src/model/virtqueue/queue.ts';
import { run } from '../src/pipeline.ts';
import type { Ref } from '../src/model/observations.ts';
import { MMIO } from '../src/model/transport/mmio.ts';
import { ARM64_VIRT, MICROVM_MODERN, real } from './helpers.ts';

const at = (line: number): Ref => ({ ts: line * 1000, src: { file: 't', line } });

describe('device status (VIRTIO §3.1.1)', () => {
  const modern = () => true;

  it('opens a session at each reset and accepts the normal sequence', () => {
    const t = new StatusTracker();
    [0, 0, 1, 3, 0xb, 0xf].forEach((v, i) => t.write(v, at(i + 1), modern));
    expect(t.sessions.length).toBe(1); // the second 0 is the same reset
    const s = t.current!;
    expect(s.writes.map((w) => w.value)).toEqual([1, 3, 0xb, 0xf]);
    expect(s.orderProblems).toEqual([]);
    expect(s.featuresOk?.src?.line).toBe(5);
    expect(s.driverOk?.src?.line).toBe(6);
  });

  it('flags bits set out of order, bits cleared, and DRIVER_OK without FEATURES_OK on a modern device', () => {
    const t = new StatusTracker();
    t.write(0, at(1), modern);
    t.write(2, at(2), modern); // DRIVER before ACKNOWLEDGE
    t.write(0, at(3), modern);
    t.write(1, at(4), modern);
    t.write(3, at(5), modern);
    t.write(7, at(6), modern); // DRIVER_OK, no FEATURES_OK
    t.write(0, at(7), modern);
    t.write(1, at(8), modern);
    t.write(3, at(9), modern);
    t.write(1, at(10), modern); // clears DRIVER
    expect(t.sessions.map((s) => s.orderProblems.map((p) => p.detail))).toEqual([
      ['DRIVER set (status 0x2) before ACKNOWLEDGE'],
      ['DRIVER_OK set (status 0x7) before FEATURES_OK'],
      [],
    ]);
    expect(t.sessions[2]!.clearedBits[0]!.detail).toBe('status 0x3 -> 0x1 clears DRIVER');
  });

  it('lets a legacy driver go from DRIVER to DRIVER_OK, and SeaBIOS set ACKNOWLEDGE|DRIVER at once', () => {
    const t = new StatusTracker();
    [0, 3, 7].forEach((v, i) => t.write(v, at(i + 1), () => false));
    expect(t.current!.orderProblems).toEqual([]);
    expect(t.current!.combinedAckDriver?.src?.line).toBe(2);
  });

  it('assembles the accepted features from the words written through DriverFeaturesSel', () => {
    const t = new StatusTracker();
    t.write(0, at(1), modern);
    t.write(1, at(2), modern);
    t.write(3, at(3), modern);
    t.driverFeatureWord(1, 0x1, at(4));
    t.driverFeatureWord(0, 0x30006e54, at(5));
    t.write(0xb, at(6), modern);
    t.driverFeatureWord(0, 0, at(7)); // after FEATURES_OK
    const s = t.current!;
    expect(s.accepted()!.bits).toBe(0x1_3000_6e54n); // word 1 (VERSION_1) and word 0 as at FEATURES_OK...
    expect(s.lateFeatureWrites.map((r) => r.src?.line)).toEqual([7]); // ...and is flagged
    expect(s.wroteFeaturesBeforeFeaturesOk()).toBe(true);
  });

  it('keeps status writes monotonic in a valid sequence whatever the interleaving of resets (property)', () => {
    // generator: random sequences of valid init sequences (prefixes) separated by resets
    const seq = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(seq, (steps) => {
        const t = new StatusTracker();
        const ladder = [1, 3, 0xb, 0xf];
        let line = 1;
        for (const n of steps) {
          t.write(0, at(line++), modern);
          for (const v of ladder.slice(0, n)) t.write(v, at(line++), modern);
        }
        return t.sessions.every((s) => s.orderProblems.length === 0 && s.clearedBits.length === 0);
      }),
    );
  });
});

describe('virtqueue bookkeeping (VIRTIO §2.7)', () => {
  it('pairs pops and fills by element, publishes on flush, and stamps the notification', () => {
    const q = new QueueState('vq');
    q.pop('a', at(1), 2, 1);
    q.pop('b', at(2), 2, 1);
    const fb = q.fill('b', at(3), 4097);
    expect(fb.ok).toBe(true);
    const fa = q.fill('a', at(4), 4097);
    expect(fa.ok).toBe(true);
    const { excess } = q.flush(2, at(5));
    expect(excess).toBe(0);
    const notified = q.notify(at(6));
    expect(notified.map((r) => [r.elem, r.pop.src?.line, r.fill.src?.line, r.used?.src?.line, r.notify?.src?.line])).toEqual([
      ['b', 2, 3, 5, 6],
      ['a', 1, 4, 5, 6],
    ]);
    expect(q.maxInflight).toBe(2);
  });

  it('tells a double completion from a stray one, and counts what a flush publishes beyond', () => {
    const q = new QueueState('vq');
    q.pop('a', at(1), 1, 1);
    expect(q.fill('a', at(2), 1).ok).toBe(true);
    const twice = q.fill('a', at(3), 1);
    expect(twice).toEqual({ ok: false, code: 'vq.completed-twice', first: at(2) });
    expect(q.fill('z', at(4), 1)).toEqual({ ok: false, code: 'vq.completion-without-request' });
    expect(q.flush(3, at(5)).excess).toBe(2);
  });

  it('tells a chain completed before an older one (out of order), and drops what is in flight at a reset', () => {
    const q = new QueueState('vq');
    q.pop('old', at(1), 1, 1);
    q.pop('new', at(2), 1, 1);
    const r = q.fill('new', at(3), 1);
    expect(r.ok && r.overtook?.elem).toBe('old');
    expect(q.reset().dropped.map((p) => p.elem)).toEqual(['old']);
    q.pop('a', at(4), 1, 1);
    const inOrder = q.fill('a', at(5), 1);
    expect(inOrder.ok && inOrder.overtook).toBeUndefined();
  });
});

describe('virtio-blk request type from the chain shape (VIRTIO §5.2.6)', () => {
  it.each([
    [1, 1, 1, 'flush'],
    [1, 2, 21, 'get_id'],
    [2, 1, 1, 'discard_or_write_zeroes'],
    [3, 1, 1, 'discard_or_write_zeroes'],
  ])('out %i, in %i, used %i -> %s', (out, inn, len, op) => {
    expect(inferBlkOp(out, inn, len)?.op).toBe(op);
  });
  it('refuses shapes no type has', () => {
    expect(inferBlkOp(1, 2, 4097)).toBeUndefined(); // a read, but reads are logged: not guessed
    expect(inferBlkOp(0, 1, 1)).toBeUndefined();
  });
});

describe('MMIO attribution on real traces', () => {
  /**
   * Ground truth that does not come from the attribution itself: a device's queues are the ones
   * QEMU's virtio_queue_notify names with that device. Every queue a device kicks must have been
   * set up (QueueSel = n, then QueueReady = 1 or QueuePFN) among the accesses attributed to it,
   * and every device's driver must have written its feature words between its own DRIVER and
   * FEATURES_OK status writes.
   */
  it.each([MICROVM_MODERN, ARM64_VIRT, real('guest-ftrace/microvm-modern.qemu.trace.gz')])('gives %s\'s queue setup and features to the right device', async (file) => {
    const setUp = new Map<string, Set<number>>();
    const kicked = new Map<string, Set<number>>();
    const sel = new Map<string, number>();
    const add = (m: Map<string, Set<number>>, d: string, q: number) => (m.get(d) ?? m.set(d, new Set()).get(d)!).add(q);
    const r = await run({
      files: [file],
      onEvents: (batch) => {
        for (const e of batch) {
          if (e.kind === 'notify.avail' && !e.inferred) add(kicked, e.dev!, e.queue);
          if (e.kind === 'mmio.write' && e.dev !== undefined) {
            if (e.offset === MMIO.QueueSel) sel.set(e.dev, e.value);
            if ((e.offset === MMIO.QueueReady || e.offset === MMIO.QueuePFN) && e.value !== 0) add(setUp, e.dev, sel.get(e.dev) ?? 0);
          }
        }
      },
    });
    expect(kicked.size).toBe(4);
    for (const [dev, queues] of kicked) for (const q of queues) expect(setUp.get(dev)?.has(q), `${dev} queue ${q}`).toBe(true);
    for (const d of r.platform.allDevices()) {
      const s = d.status.sessions.find((x) => x.featuresOk);
      expect(s?.earlyFeatureWrites ?? []).toEqual([]);
      expect(s?.lateFeatureWrites ?? []).toEqual([]);
      expect(s?.featureWords.length).toBe(2); // word 1 and word 0, as Linux writes them
    }
    expect(r.stats.count('attribution.unresolved')).toBeLessThanOrEqual(2);
  });
});

describe('status constants', () => {
  it('are the spec values', () => {
    expect(STATUS).toEqual({ ACKNOWLEDGE: 1, DRIVER: 2, DRIVER_OK: 4, FEATURES_OK: 8, DEVICE_NEEDS_RESET: 0x40, FAILED: 0x80 });
  });
});
