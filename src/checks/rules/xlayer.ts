/**
 * Cross-layer requirements: what only the guest's trace and the host's together can show. Judged
 * from what the cross-layer analysis (src/analyses/xlayer) left for each host device; listed only
 * for VMs that came with a guest trace, so a host trace alone gains no verdicts here.
 */
import { crossLayerOf } from '../../analyses/xlayer/index.ts';
import { DEVICE_ID } from '../../model/device-types.ts';
import type { Device } from '../../model/device.ts';
import type { Outcome } from '../rule.ts';
import { defineRule } from '../rule.ts';

function oneSided(d: Device, kinds: string[]): Outcome | undefined {
  const hits = crossLayerOf(d)!.oneSided.filter((o) => kinds.includes(o.kind));
  if (hits.length === 0) return undefined;
  const more = hits.length > 1 ? ` (and ${hits.length - 1} more)` : '';
  return { verdict: 'FAIL', message: hits[0]!.detail + more, evidence: hits.slice(0, 2).flatMap((h) => h.refs) };
}

function unaligned(d: Device): Outcome | undefined {
  const x = crossLayerOf(d)!;
  return x.aligned ? undefined : { verdict: 'NOT-OBSERVED', message: `the guest trace could not be aligned with the host's: ${x.reason ?? 'no alignment'}` };
}

export const requestSeenThrough = defineRule({
  id: 'xlayer.blk.request-seen-through',
  title: 'Every block request the guest issues is taken, used and returned',
  level: 'SHOULD',
  target: 'device',
  area: 'xlayer',
  needs: ['block.rq', 'vq.add', 'vq.pop', 'vq.fill', 'vq.get_buf'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.13, §2.7.14',
    text: 'A buffer the driver makes available and notifies is taken and used by the device, and the used buffer is returned to the driver, which completes its request.',
  },
  note: 'cross-layer: judged from the guest kernel trace and the host trace of the same run, aligned; a request counts as lost only when a later one of the same disk got further',
  scope: 'device',
  appliesTo: (d) => d.type()?.id === DEVICE_ID.blk && crossLayerOf(d) !== undefined,
  evaluate(_ctx, d) {
    const x = crossLayerOf(d!)!;
    const o = unaligned(d!) ?? oneSided(d!, ['never-popped', 'never-used', 'never-completed']);
    if (o) return o;
    if (x.requests === 0) return { verdict: 'NOT-OBSERVED', message: `no block request of ${x.guestDev ?? 'this device'} was followed through both traces` };
    return { verdict: 'PASS', message: `${x.requests} block requests of ${x.guestDev} followed from the guest's issue through QEMU and back to the guest's completion`, evidence: x.requestEvidence };
  },
});

export const interruptSent = defineRule({
  id: 'xlayer.interrupt-sent',
  title: 'Every interrupt the guest handles was sent by the device',
  level: 'SHOULD',
  target: 'device',
  area: 'xlayer',
  needs: ['irq.handler', 'notify.used'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.7.14, §4.1.5.4, §4.2.3.4',
    text: 'A used buffer notification reaches the driver as an interrupt of the device; the driver is interrupted only for notifications the device sent.',
  },
  note: 'cross-layer: guest interrupts of a virtio device (irq_handler_exit ret=handled) counted against QEMU virtio_notify / virtio_notify_irqfd for the device it maps to',
  scope: 'device',
  appliesTo: (d) => crossLayerOf(d)?.guestDev !== undefined,
  evaluate(_ctx, d) {
    const x = crossLayerOf(d!)!;
    const o = unaligned(d!) ?? oneSided(d!, ['interrupt-not-sent']);
    if (o) return o;
    if (x.interrupts === 0) return { verdict: 'NOT-OBSERVED', message: `the guest handled no interrupt of ${x.guestDev} in its trace` };
    return { verdict: 'PASS', message: `${x.interrupts} interrupts of ${x.guestDev} handled by the guest, none without a notification from QEMU`, evidence: x.interruptEvidence };
  },
});
