/**
 * The virtio-mmio transport (VIRTIO §4.2): its register file, as the driver's accesses and QEMU's
 * log show it.
 */
import { ASSUMED_DRIVERS } from '../../model/features.ts';
import { failOnObservations } from '../judge.ts';
import { defineRule } from '../rule.ts';

const AREA = 'transport-mmio';

export const version2 = defineRule({
  id: 'virtio-mmio.version-2',
  title: 'The virtio-mmio device reports Version 0x2 (not the legacy interface)',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['mmio.read', 'mmio.write'],
  source: { spec: 'VIRTIO 1.3', where: '§4.2.2.1, §4.2.4', text: 'The device MUST return value 0x2 in Version; Version 0x1 is the legacy interface (§4.2.4).' },
  scope: 'device',
  appliesTo: (d) => d.transport !== 'pci',
  evaluate(ctx, d) {
    const m = d!.mmio;
    if (m?.version === undefined || !m.versionEvidence) return { verdict: 'NOT-OBSERVED', message: 'the trace shows neither a Version read nor a register only one version has' };
    const verdict = m.version === 2 ? 'PASS' : 'FAIL';
    if (m.versionRead) return { verdict, message: `Version reads 0x${m.version}`, evidence: [m.versionEvidence] };
    // QEMU logs the offset of a read, not its value: the version shows only in the registers the driver uses
    if (ctx.assumeDriver === 'none') {
      return { verdict: 'NOT-OBSERVED', message: `QEMU's log does not show the Version read's value; the driver uses version-${m.version} registers, which shows it only for a known driver (--assume-driver none)`, evidence: [m.versionEvidence] };
    }
    const assumption = `the driver is ${ASSUMED_DRIVERS[ctx.assumeDriver].description}; Linux's virtio-mmio uses the legacy registers (GuestPageSize, QueuePFN) only when Version reads 1, and the version-2 ones only when it reads 2`;
    return {
      verdict,
      message:
        m.version === 2 ? 'the driver uses version-2 registers, so Version read 0x2 (the value is not in QEMU\'s log)'
        : 'the driver uses the legacy registers, so Version read 0x1 (the value is not in QEMU\'s log): the legacy interface, not a VIRTIO 1.x virtio-mmio device',
      evidence: [m.versionEvidence],
      assumptions: [assumption],
    };
  },
});

export const mmioDriverRegisters = defineRule({
  id: 'virtio-mmio.driver-registers',
  title: 'The driver does not write read-only virtio-mmio registers',
  level: 'MUST',
  target: 'driver',
  area: AREA,
  needs: ['mmio.write'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§4.2.2.2',
    text: 'The driver MUST NOT write to read-only registers (MagicValue, Version, DeviceID, VendorID, DeviceFeatures, QueueNumMax, InterruptStatus, ConfigGeneration).',
  },
  scope: 'device',
  appliesTo: (d) => d.transport !== 'pci',
  evaluate(ctx, d) {
    if (d!.mmio === undefined) return { verdict: 'NOT-OBSERVED', message: 'no virtio-mmio register access attributed to this device' };
    return failOnObservations(ctx, d!, ['mmio.write-read-only'], () => {
      const first = d!.mmio!.firstWrite;
      if (!first) return { verdict: 'NOT-OBSERVED', message: 'the driver wrote no register of this device in the trace' };
      return { verdict: 'PASS', message: `${d!.mmio!.accesses} register accesses, none a write to a read-only register`, evidence: [first] };
    });
  },
});

export const mmioDeviceRegisters = defineRule({
  id: 'virtio-mmio.device-registers',
  title: 'The device returns the register values virtio-mmio prescribes',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['mmio.read'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§4.2.2.1',
    text: 'The device MUST return 0x74726976 in MagicValue and 0x2 in Version; upon reset it MUST clear QueueReady for all queues.',
  },
  note: 'needs register read values: a host KVM trace (kvm_mmio read lines) has them, QEMU\'s log does not',
  scope: 'device',
  appliesTo: (d) => d.transport === 'mmio' && (d.mmio?.readValues ?? 0) > 0,
  evaluate(ctx, d) {
    const m = d!.mmio!;
    return failOnObservations(ctx, d!, ['mmio.device-register'], () => ({
      verdict: 'PASS',
      message: `${m.readValues} register reads with their values: MagicValue 0x74726976, Version 0x2, and no queue ready after a reset before the driver enabled it`,
      evidence: [m.magicRead, m.versionRead ? m.versionEvidence : undefined].filter((r) => r !== undefined),
    }));
  },
});

export const queueNum = defineRule({
  id: 'virtio-mmio.queue-num',
  title: 'The driver writes a QueueNum no larger than QueueNumMax (a power of 2 for split rings)',
  level: 'MUST',
  target: 'driver',
  area: AREA,
  needs: ['mmio.write', 'vq.size_max'],
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

export const queueReady = defineRule({
  id: 'virtio-mmio.queue-ready',
  title: 'The device takes no chain from a queue whose QueueReady is 0',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['mmio.write', 'vq.pop'],
  source: { spec: 'VIRTIO 1.3', where: '§4.2.2.1', text: 'The device MUST NOT access virtual queue contents when QueueReady is zero (0x0).' },
  scope: 'device',
  appliesTo: (d) => d.transport !== 'pci',
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['mmio.queue-not-ready'], () => {
      const m = d!.mmio;
      if (m?.version === 1) return { verdict: 'NOT-APPLICABLE', message: 'legacy virtio-mmio (version 1) has no QueueReady register (§4.2.4): the driver gives a queue its QueuePFN instead' };
      if (m?.version !== 2) return { verdict: 'NOT-OBSERVED', message: 'QueueReady is a register of virtio-mmio version 2, and this device is not seen driven through it' };
      const used = [...d!.queues.values()].filter((q) => q.pops > 0 && q.index !== undefined && m.queues.get(q.index)?.readyRef !== undefined);
      if (used.length === 0) return { verdict: 'NOT-OBSERVED', message: 'no chain taken from a queue whose QueueReady write the trace shows' };
      return {
        verdict: 'PASS',
        message: `chains taken from ${used.length} queue(s), each after the driver set its QueueReady to 1 and before any reset`,
        evidence: used.map((q) => m.queues.get(q.index!)!.readyRef!).slice(0, 3),
      };
    });
  },
});
