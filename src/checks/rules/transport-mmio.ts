/**
 * The virtio-mmio transport (VIRTIO §4.2): its register file, as the driver's accesses and QEMU's
 * log show it.
 */
import { failOnObservations } from '../judge.ts';
import { defineRule } from '../rule.ts';

const AREA = 'transport-mmio';

export const mmioDriverRegisters = defineRule({
  id: 'virtio-mmio.driver-registers',
  title: 'The driver does not write read-only virtio-mmio registers',
  level: 'MUST',
  target: 'driver',
  area: AREA,
  source: {
    spec: 'VIRTIO 1.3',
    where: '§4.2.2.2',
    text: 'The driver MUST NOT write to read-only registers (MagicValue, Version, DeviceID, VendorID, DeviceFeatures, QueueNumMax, InterruptStatus, ConfigGeneration).',
  },
  scope: 'device',
  appliesTo: (d) => d.transport !== 'pci',
  evaluate(ctx, d) {
    if (d!.mmio === undefined) return { verdict: 'NOT-OBSERVED', message: 'no virtio-mmio register access attributed to this device' };
    return failOnObservations(ctx, d!, ['mmio.write-read-only'], () => ({
      verdict: 'PASS',
      message: `${d!.mmio!.accesses} register accesses, none a write to a read-only register`,
      evidence: d!.mmio!.versionEvidence ? [d!.mmio!.versionEvidence] : [],
    }));
  },
});

export const queueNum = defineRule({
  id: 'virtio-mmio.queue-num',
  title: 'The driver writes a QueueNum no larger than QueueNumMax (a power of 2 for split rings)',
  level: 'MUST',
  target: 'driver',
  area: AREA,
  source: {
    spec: 'VIRTIO 1.3',
    where: '§4.2.2.2, §2.7',
    text: 'The driver MUST NOT write a value to QueueNum which is greater than QueueNumMax; a split virtqueue\'s Queue Size is a power of 2.',
  },
  scope: 'device',
  appliesTo: (d) => d.transport !== 'pci',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['mmio.queue-size-too-big', 'mmio.queue-size-not-pow2'], () => {
      const sized = [...(d!.mmio?.queues ?? new Map()).entries()].filter(([, q]) => q.num !== undefined && q.numRef !== undefined);
      if (sized.length === 0) return { verdict: 'NOT-OBSERVED', message: 'the trace shows no QueueNum write for this device' };
      const withMax = sized.filter(([, q]) => q.numMax !== undefined);
      if (withMax.length === 0) return { verdict: 'NOT-OBSERVED', message: 'the trace shows QueueNum writes but not QueueNumMax' };
      return {
        verdict: 'PASS',
        message: `${withMax.length} queue(s), QueueNum within QueueNumMax: ${[...new Set(withMax.map(([, q]) => `${q.num} of ${q.numMax}`))].join(', ')}`,
        evidence: withMax.map(([, q]) => q.numRef!).slice(0, 3),
      };
    });
  },
});
