/**
 * Virtqueue requirements (VIRTIO §2.7) that hold for every device type: what the device takes,
 * completes and publishes.
 */
import { completedChains, failOnObservations } from '../judge.ts';
import { defineRule } from '../rule.ts';
import type { Device } from '../../model/device.ts';
import { F_IN_ORDER } from '../../model/features.ts';
import type { Ref } from '../../model/observations.ts';

const AREA = 'virtqueue';

/** The first completion of each queue in use: the evidence a PASS on completions cites. */
function firstFills(d: Device): Ref[] {
  return [...d.queues.values()].flatMap((q) => (q.firstFill ? [q.firstFill] : [])).slice(0, 3);
}

export const completedOnce = defineRule({
  id: 'virtio.vq.completed-once',
  title: 'Every chain the device takes is completed exactly once',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['vq.pop', 'vq.fill'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.8, §2.7.14',
    text: 'The device returns each available descriptor chain it takes through exactly one used ring element.',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.completed-twice', 'vq.pop-while-in-flight'], () => {
      const n = completedChains(d!);
      if (n === 0) return { verdict: 'NOT-OBSERVED', message: 'the device completed no chain in the trace' };
      const tail = d!.inFlightAtEnd > 0 ? `; ${d!.inFlightAtEnd} still in flight when the trace ended` : '';
      const reset = d!.droppedAtReset > 0 ? `; ${d!.droppedAtReset} dropped by a device reset` : '';
      return { verdict: 'PASS', message: `${n} chains taken and completed once each${tail}${reset}`, evidence: firstFills(d!) };
    });
  },
});

export const usedNotMoreThanPopped = defineRule({
  id: 'virtio.vq.used-not-more-than-taken',
  title: 'Never more used elements published than chains taken',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['vq.fill', 'vq.flush'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.8',
    text: 'The used index advances by one for each chain the device has returned; it never runs ahead of the chains the device took.',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.used-more-than-filled'], () => {
      const used = [...d!.queues.values()].reduce((a, q) => a + q.used, 0);
      if (used === 0) return { verdict: 'NOT-OBSERVED', message: 'the device published no used element in the trace' };
      return { verdict: 'PASS', message: `${used} used elements published, each for a completed chain`, evidence: firstFills(d!) };
    });
  },
});

export const noCompletionWithoutRequest = defineRule({
  id: 'virtio.vq.no-completion-without-request',
  title: 'No completion without a request',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['vq.pop', 'vq.fill'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.8',
    text: 'A used ring element names the head of a descriptor chain the driver made available and the device took.',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.completion-without-request'], () => {
      const n = completedChains(d!);
      if (n === 0) return { verdict: 'NOT-OBSERVED', message: 'the device completed no chain in the trace' };
      return { verdict: 'PASS', message: `all ${n} completions answer a chain the device took`, evidence: firstFills(d!) };
    });
  },
});

export const queueSize = defineRule({
  id: 'virtio.vq.queue-size',
  title: 'The device stays within the queue size',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['vq.pop', 'vq.fill', 'mmio.write'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7',
    text: 'At most Queue Size chains are outstanding and used elements are written within the ring.',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.in-flight-past-size', 'vq.index-past-size'], () => {
      const sized = [...d!.queues.values()].filter((q) => q.size !== undefined && q.pops > 0);
      if (sized.length === 0) return { verdict: 'NOT-OBSERVED', message: 'the trace shows no queue size for a queue in use' };
      const worst = sized.map((q) => `queue ${q.index}: at most ${q.maxInflight} of ${q.size} in flight`).join(', ');
      // a queue whose chains are all still in flight shows them by their pops
      const inFlight = sized.flatMap((q) => [...q.inflight.values()].slice(0, 1).map((c) => c.pop));
      return { verdict: 'PASS', message: worst, evidence: [...firstFills(d!), ...inFlight].slice(0, 3) };
    });
  },
});

export const chainLayout = defineRule({
  id: 'virtio.vq.chain-layout',
  title: 'The driver lays out each request as the device type prescribes (device-readable, then device-writable)',
  level: 'MUST',
  target: 'driver',
  area: AREA,
  needs: ['vq.pop'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.4.2, §5.2.6.2, §5.3.6.2, §5.4.6.2',
    text: 'The driver MUST place device-readable descriptors before device-writable ones, and gives each queue the buffers its device type prescribes (a block request\'s header readable and status writable, receive and entropy buffers writable, transmit buffers readable).',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.bad-shape'], () => {
      const n = completedChains(d!);
      if (n === 0) return { verdict: 'NOT-OBSERVED', message: 'the device took no chain in the trace' };
      const t = d!.type();
      if (t === undefined) return { verdict: 'NOT-OBSERVED', message: "the device's type is unknown, so is the layout its queues prescribe" };
      // a type guessed from the chains' layout cannot vouch for that layout (the model checks shapes only against a named type)
      if (d!.typeFromShapesOnly()) return { verdict: 'NOT-OBSERVED', message: `the device is virtio-${t.name} only by the layout of its chains, so that layout is not judged against it`, inferred: [`${d!.id} is virtio-${t.name}: ${t.why}`] };
      return { verdict: 'PASS', message: `${n} chains, each of the layout its queue prescribes`, evidence: firstFills(d!) };
    });
  },
});

export const inOrder = defineRule({
  id: 'virtio.vq.in-order',
  title: 'With VIRTIO_F_IN_ORDER, chains are used in the order they were made available',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['features', 'mmio.write', 'vq.pop', 'vq.fill'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.9',
    text: 'If VIRTIO_F_IN_ORDER has been negotiated, the device MUST use buffers in the same order in which they have been available; without it, completion order is free.',
  },
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.out-of-order'], () => {
      const n = d!.everNegotiated(F_IN_ORDER);
      if (n === undefined) return { verdict: 'NOT-OBSERVED', message: 'the trace does not show the negotiated features: whether VIRTIO_F_IN_ORDER binds the device is unknown' };
      if (!n) return { verdict: 'NOT-APPLICABLE', message: 'VIRTIO_F_IN_ORDER (bit 35) was not negotiated: the device may complete chains in any order' };
      const done = completedChains(d!);
      if (done === 0) return { verdict: 'NOT-OBSERVED', message: 'VIRTIO_F_IN_ORDER negotiated, but the device completed no chain in the trace' };
      return { verdict: 'PASS', message: `VIRTIO_F_IN_ORDER negotiated; ${done} chains completed in the order taken`, evidence: firstFills(d!) };
    });
  },
});

export const usedLen = defineRule({
  id: 'virtio.vq.used-len',
  title: 'The used length is no more than the bytes the device wrote',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['vq.pop', 'vq.fill', 'blk.submit', 'rng.push'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.8.2',
    text: 'The device MUST write at least len bytes to the descriptor, beginning at the first device-writable buffer, prior to updating the used idx.',
  },
  note: "checked where QEMU's log shows what was written: chains with no device-writable buffer (len must be 0), entropy answers (the bytes pushed), block reads (the sectors read plus the status byte)",
  scope: 'device',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.len-past-written'], () => {
      const c = d!.lenChecked;
      if (c.n === 0 || !c.first) return { verdict: 'NOT-OBSERVED', message: 'no completion whose written bytes the trace shows (readable-only chains, entropy pushes, block reads)' };
      return { verdict: 'PASS', message: `${c.n} completions whose written bytes the trace shows, none with a longer used length`, evidence: [c.first] };
    });
  },
});
