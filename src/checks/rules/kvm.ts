/**
 * What register values show: the host kernel's KVM tracepoints carry the value of every read
 * (QEMU's log carries none), so the device's side of the register interface can be judged; and,
 * with the VMM's own log of the same run, whether the status the VMM reports is the one the driver
 * wrote. Each rule is listed only where its input exists, so a QEMU log alone gains no verdict here.
 */
import { failOnObservations } from '../judge.ts';
import { defineRule } from '../rule.ts';

export const mmioDeviceRegisters = defineRule({
  id: 'virtio-mmio.device-registers',
  title: 'The device returns the register values virtio-mmio prescribes',
  level: 'MUST',
  source: {
    spec: 'VIRTIO 1.3',
    where: '§4.2.2.1',
    text: 'The device MUST return 0x74726976 in MagicValue and 0x2 in Version; upon reset it MUST clear QueueReady for all queues.',
  },
  note: 'needs register read values: a host KVM trace (kvm_mmio read lines) has them, QEMU\'s log does not',
  scope: 'device',
  appliesTo: (d) => d.transport === 'mmio' && (d.mmio?.readValues ?? 0) > 0,
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['mmio.device-register'], () => ({
      verdict: 'PASS',
      message: `${d!.mmio!.readValues} register reads with their values: MagicValue 0x74726976, Version 0x2, and no queue ready after a reset before the driver enabled it`,
    }));
  },
});

export const statusEchoed = defineRule({
  id: 'host-kvm.status-echoed',
  title: 'Every device status the VMM reports was written by the driver',
  level: 'SHOULD',
  source: {
    spec: 'VIRTIO 1.3',
    where: '§2.1, §3.1.1',
    text: 'The device status field is the driver\'s: it sets the bits of the initialisation steps and writes 0 to reset; the device itself only sets DEVICE_NEEDS_RESET.',
  },
  note: 'two views of one run: a status value the VMM logs (QEMU: virtio_set_status) that no register write trapped by KVM carried, and that is not the status the driver last wrote, is a disagreement',
  scope: 'device',
  appliesTo: (d) => d.statusEchoes !== undefined,
  evaluate(_ctx, d) {
    const e = d!.statusEchoes!;
    if (e.count > 0) {
      const more = e.count > 1 ? ` (and ${e.count - 1} more)` : '';
      return { verdict: 'FAIL', message: `the VMM logged a device status no trapped register write carried${more}`, evidence: e.unechoed.slice(0, 3) };
    }
    const writes = d!.status.sessions.reduce((a, s) => a + s.writes.length, 0) + d!.status.resets;
    if (writes === 0) return { verdict: 'NOT-OBSERVED', message: 'no status write in the joined run' };
    return { verdict: 'PASS', message: `every status value the VMM logged was written by the driver (${writes} trapped status writes)` };
  },
});
