/**
 * One run seen twice: the host kernel's KVM tracepoints and the VMM's own log joined
 * (src/align/kvm.ts). Whether the status the VMM reports is the one the driver wrote. Listed only
 * where both views exist, so neither trace alone gains a verdict here. (The device's register
 * values, which a KVM trace alone shows, are judged with the virtio-mmio transport.)
 */
import { defineRule } from '../rule.ts';

export const statusEchoed = defineRule({
  id: 'host-kvm.status-echoed',
  title: 'Every device status the VMM reports was written by the driver',
  level: 'SHOULD',
  // the hypervisor's two views of one run must agree: a status no trapped write carried is the
  // VMM's device setting status itself or its log misreporting it, the platform's either way
  target: 'platform',
  area: 'host-kvm',
  needs: ['status', 'mmio.write', 'pci.write'],
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
    const sessions = d!.status.sessions;
    const writes = sessions.reduce((a, s) => a + s.writes.length, 0) + d!.status.resets;
    if (writes === 0) return { verdict: 'NOT-OBSERVED', message: 'no status write in the joined run' };
    const refs = sessions.flatMap((s) => [...(s.reset ? [s.reset] : []), ...s.writes.map((w) => w.ref)]);
    return { verdict: 'PASS', message: `every status value the VMM logged was written by the driver (${writes} trapped status writes)`, evidence: refs.slice(0, 4) };
  },
});
