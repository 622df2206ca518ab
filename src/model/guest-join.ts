/**
 * Joins the guest's virtio devices (virtioN, from its sysfs list) to the host's device instances
 * of the same VM, so that what the guest read settles what QEMU's log cannot show: the device ID
 * (a type the host only inferred becomes seen, by the guest) and the negotiated features (QEMU
 * 7.2 logs no feature words for virtio-pci).
 *
 * The join is by type and order: for each device ID, the guest's devices of that ID and the
 * host's devices of that type, each in order of appearance, when both sides have the same number.
 * Where the counts differ the devices of that type are left unjoined (a type the host guessed from
 * queue shapes may be wrong, and the guest's count shows it). Each joined device says how, for
 * the `inferred` list of every verdict that uses the join.
 */
import type { Device } from './device.ts';
import type { VmEvidence } from './evidence.ts';

export function joinGuestDevices(vm: string, devices: Iterable<Device>, ev: VmEvidence): void {
  const guests = [...ev.guestDevices.values()];
  if (guests.length === 0) return;
  const hosts = [...devices].filter((d) => d.type() !== undefined);
  for (const id of new Set(guests.map((g) => g.deviceId))) {
    const gs = guests.filter((g) => g.deviceId === id);
    const hs = hosts.filter((d) => d.type()!.id === id);
    if (gs.length !== hs.length) continue;
    gs.forEach((g, i) => {
      const d = hs[i]!;
      const how =
        gs.length === 1
          ? `guest ${g.dev} joined to ${d.id} in VM ${vm}: the only device with ID ${id} on each side`
          : `guest ${g.dev} joined to ${d.id} in VM ${vm}: device ${i + 1} of ${gs.length} with ID ${id}, in order of appearance on each side`;
      d.guestJoin = { dev: g.dev, how };
      d.claim({ id, how: 'seen', basis: 'device-id', why: `the guest reads device ID ${id} from ${g.dev}${g.driver ? ` (driver ${g.driver})` : ''}`, ref: g.ref });
      // the guest's sysfs features are what its driver negotiated: the accepted set of the last session
      const s = [...d.status.sessions].reverse().find((x) => x.featuresOk !== undefined) ?? d.status.sessions.at(-1);
      if (g.features && s && !s.accepted()) s.acceptedEvent = { bits: g.features.bits, ref: g.features.ref };
    });
  }
}
