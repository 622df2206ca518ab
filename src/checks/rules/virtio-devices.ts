/**
 * AVPS requirements on virtio devices QEMU's log here cannot show: vsock (-15, -16), the guest's
 * IOMMU (-32), RPMB (-44), crypto (-45), virtio-fs (-50). Each is judged from the guest's virtio
 * device list and boot log, and from the canonical events a richer VMM logs for the device; a
 * conditional requirement ("if the platform implements ...") is NOT-APPLICABLE where the guest's
 * own device list proves the device absent.
 */
import type { RequestLog } from '../../model/devices/request-log.ts';
import { absent, avpsRule, evidenceOf, fromManifest, presence, type Sources } from '../platform-judge.ts';
import type { Level, Outcome, RuleContext } from '../rule.ts';

const src = (classes: Sources['classes'], needs: string[], inputs: string[]): Sources => ({ classes, needs, inputs });

/** Device IDs (VIRTIO §5) of the devices these requirements name; 9 is the 9P transport. */
export const VIRTIO_ID = { p9: 9, vsock: 19, crypto: 20, iommu: 23, fs: 26, rpmb: 28 } as const;

/** A device judged by its requests: FAIL on the first fault, PASS on clean traffic or on a proven presence. */
function judgeDevice(ctx: RuleContext, id: number, name: string, log: RequestLog, what: string): Outcome {
  const p = presence(ctx, id, name, log.first);
  if (!p.present) return absent(p);
  if (log.faultCount > 0) {
    return { verdict: 'FAIL', message: log.faults[0]!.detail + (log.faultCount > 1 ? ` (and ${log.faultCount - 1} more)` : ''), evidence: log.faults.slice(0, 3).map((f) => f.ref) };
  }
  if (log.count > 0) return { verdict: 'PASS', message: `${log.count} ${what}, each as VIRTIO's ${name} chapter defines`, evidence: [log.first!] };
  return { verdict: 'PASS', message: `${p.message}: the platform offers it as a ${name} device`, evidence: p.evidence, ...(p.inferred.length > 0 ? { inferred: p.inferred } : {}) };
}

export const avps15 = avpsRule({
  id: 'AVPS-v2.0-15',
  line: 520,
  level: 'MUST',
  title: 'Inter-VM networking can be configured',
  text: 'The virtual platform MUST be able to configure virtual inter-VM networking interfaces (either through VSOCK or providing other virtual network interfaces that can be bridged)',
  area: 'vsock',
  sources: src(['a', 'c', 'e'], ['vsock.pkt between guest CIDs', 'device 19 (guest list)', 'manifest network.inter_vm'], ['jsonl', 'guest-virtio-devices', 'manifest']),
  evaluate(ctx) {
    const ev = evidenceOf(ctx);
    const p = presence(ctx, VIRTIO_ID.vsock, 'virtio-vsock', ev.vsock.first);
    if (p.present && p.evidence.length > 0) return { verdict: 'PASS', message: `inter-VM networking through VSOCK is configured: ${p.message}`, evidence: p.evidence };
    return fromManifest(ctx, 'MUST', ['network.inter_vm'], 'configurable inter-VM networking');
  },
});

export const avps16 = avpsRule({
  id: 'AVPS-v2.0-16',
  line: 524,
  level: 'MUST',
  title: 'VSOCK through virtio-vsock',
  text: 'If the platform implements VSOCK, it MUST use the VIRTIO-vsock required API between drivers and Hypervisor.',
  area: 'vsock',
  sources: src(['a', 'b', 'd'], ['vsock.pkt', 'device 19 (guest list)', 'boot.log (vsock)'], ['jsonl', 'guest-virtio-devices', 'boot-log']),
  evaluate(ctx) {
    const ev = evidenceOf(ctx);
    const other = ev.bootLines('vsock').find((b) => /vmci|hv_sock|hyperv/i.test(b.text));
    if (other && !presence(ctx, VIRTIO_ID.vsock, 'virtio-vsock', ev.vsock.first).present) {
      return { verdict: 'FAIL', message: `the guest uses VSOCK over another transport: ${other.text}`, evidence: [other.ref] };
    }
    return judgeDevice(ctx, VIRTIO_ID.vsock, 'virtio-vsock', ev.vsock, 'packets');
  },
});

export const avps30 = avpsRule({
  id: 'AVPS-v2.0-30',
  line: 1053,
  level: 'MUST',
  title: 'Protection from untrusted DMA',
  text: 'The virtualization system must protect the system from untrusted, malfunctioning or buggy devices or devices driven by untrusted VMs.',
  area: 'iommu',
  note: 'Lower-case "must": a MUST in intent (AVPS lines 221-223).',
  sources: src(['c', 'd'], ['manifest iommu.dma_protection'], ['manifest']),
  evaluate: (ctx) => fromManifest(ctx, 'MUST', ['iommu.dma_protection'], 'protection from untrusted DMA'),
});

export const avps31 = avpsRule({
  id: 'AVPS-v2.0-31',
  line: 1056,
  level: 'MAY',
  title: 'A guest-programmable IOMMU is optional',
  text: 'Support for a guest-programmable IOMMU is an optional feature with regards to this specification.',
  area: 'iommu',
  sources: src(['e'], ['manifest iommu.guest_programmable'], ['manifest']),
  evaluate: (ctx) =>
    ctx.manifest?.get('iommu.guest_programmable') ? fromManifest(ctx, 'MAY', ['iommu.guest_programmable'], 'a guest-programmable IOMMU') : { verdict: 'NOT-APPLICABLE', message: 'optional (MAY): nothing to fail' },
});

export const avps32 = avpsRule({
  id: 'AVPS-v2.0-32',
  line: 1059,
  level: 'MUST',
  title: 'A guest-controlled IOMMU is virtio-iommu',
  text: 'If the virtual platform implements guest-control of IOMMU then: It shall use [VIRTIO-IOMMU]',
  area: 'iommu',
  sources: src(['a', 'b', 'c'], ['iommu.req', 'device 23 (guest list)', 'boot.log (virtio_iommu)'], ['jsonl', 'guest-virtio-devices', 'boot-log']),
  evaluate: (ctx) => judgeDevice(ctx, VIRTIO_ID.iommu, 'virtio-iommu', evidenceOf(ctx).iommu, 'IOMMU requests'),
});

export const avps44 = avpsRule({
  id: 'AVPS-v2.0-44',
  line: 1597,
  level: 'MUST',
  title: 'Replay protection through virtio-rpmb',
  text: 'If the platform provides virtualized replay protection, the device MUST be implemented according to the RPMB requirements specified in [VIRTIO-RPMB]',
  area: 'rpmb',
  sources: src(['a', 'b'], ['rpmb.req', 'device 28 (guest list)'], ['jsonl', 'guest-virtio-devices']),
  evaluate: (ctx) => judgeDevice(ctx, VIRTIO_ID.rpmb, 'virtio-rpmb', evidenceOf(ctx).rpmb, 'RPMB requests'),
});

export const avps45 = avpsRule({
  id: 'AVPS-v2.0-45',
  line: 1614,
  level: 'MAY',
  title: 'Crypto acceleration through virtio-crypto',
  text: 'If the virtual platform implements crypto acceleration, then the virtual platform MAY implement VIRTIO-crypto as specified in chapter 5.9 in [VIRTIO].',
  area: 'crypto',
  note: 'A MAY: a virtio-crypto device that breaks §5.9 FAILs it, which never sets the exit code.',
  sources: src(['a'], ['crypto.req', 'device 20 (guest list)'], ['jsonl', 'guest-virtio-devices']),
  evaluate(ctx) {
    const o = judgeDevice(ctx, VIRTIO_ID.crypto, 'virtio-crypto', evidenceOf(ctx).crypto, 'crypto requests');
    return o.verdict === 'NOT-OBSERVED' ? { verdict: 'NOT-APPLICABLE', message: `optional (MAY): ${o.message}` } : o;
  },
});

export const avps50 = avpsRule({
  id: 'AVPS-v2.0-50',
  line: 1708,
  level: 'MUST',
  title: 'Filesystem virtualization offers virtio-fs',
  text: 'If filesystem virtualization is implemented, then [VIRTIO-FS] MUST be one of the supported choices.',
  area: 'fs',
  sources: src(['a', 'b'], ['fs.req', 'device 26 (guest list)', 'device 9 (9P) without 26'], ['jsonl', 'guest-virtio-devices']),
  evaluate(ctx) {
    const ev = evidenceOf(ctx);
    const fs = presence(ctx, VIRTIO_ID.fs, 'virtio-fs', ev.fs.first);
    const p9 = [...ev.guestDevices.values()].find((g) => g.deviceId === VIRTIO_ID.p9);
    if (!fs.present && p9) return { verdict: 'FAIL', message: `filesystem virtualization through 9P only (${p9.dev}, device ID 9): virtio-fs must be one of the choices`, evidence: [p9.ref] };
    return judgeDevice(ctx, VIRTIO_ID.fs, 'virtio-fs', ev.fs, 'FUSE requests');
  },
});

/** A requirement only a declaration can answer (pass-through, process): the manifest's keys. */
const declared = (id: string, line: number, level: Level, area: string, title: string, text: string, keys: string[], what: string, note?: string) =>
  avpsRule({
    id, line, level, title, text, area,
    ...(note !== undefined ? { note } : {}),
    sources: src(['c', 'e'], keys.map((k) => `manifest ${k}`), ['manifest']),
    evaluate(ctx) {
      if (level === 'MAY' && !keys.some((k) => ctx.manifest?.get(k))) return { verdict: 'NOT-APPLICABLE', message: 'optional (MAY): nothing to fail' };
      return fromManifest(ctx, level, keys, what);
    },
  });

const SHALL = 'AVPS words this with "shall", which AVPS lines 221-223 read as MUST.';

export const avps9 = declared('AVPS-v2.0-9', 478, 'MUST', 'net', 'Any NIC can be dedicated to one VM',
  'The hypervisor/equivalent MUST provide the ability to dedicate and expose any hardware network interface to one virtual machine.',
  ['network.nic_passthrough'], 'dedicating a hardware NIC to one VM');
export const avps14 = declared('AVPS-v2.0-14', 497, 'MAY', 'net', 'A MAC address change white-list is optional',
  'The Hypervisor MAY implement a whitelist or other way to limit the ability to change MAC address from the VM.',
  ['network.mac_whitelist'], 'a MAC change white-list');
export const avps33 = declared('AVPS-v2.0-33', 1154, 'MUST', 'usb', 'Static pass-through of each USB host controller',
  'The hypervisor MUST provide statically configurable pass-through access to each USB host controller.',
  ['usb.host_controller_passthrough'], 'static USB host controller pass-through');
export const avps34 = declared('AVPS-v2.0-34', 1158, 'MAY', 'usb', 'A run-time USB access API is optional',
  'The hypervisor MAY optionally provide an API/protocol to request USB access from the virtual machine, during normal runtime.',
  ['usb.runtime_api'], 'a run-time USB access API');
export const avps37 = declared('AVPS-v2.0-37', 1377, 'MUST', 'gpio', 'Configurable GPIO pass-through',
  'The hypervisor/equivalent shall support configurable pass-through access to a VM for digital general-purpose I/O hardware',
  ['gpio.passthrough'], 'GPIO pass-through', SHALL);
export const avps43 = declared('AVPS-v2.0-43', 1570, 'MUST', 'trustzone', 'TrustZone access works as on a native system',
  'Access to TrustZone and equivalent functions MUST work in the exact same way as for a native system using the standard access methods (SMC calls on ARM, equivalent on Intel).',
  ['trustzone.native_smc'], 'native TrustZone access');
export const avps49 = declared('AVPS-v2.0-49', 1641, 'SHOULD', 'console', 'Countermeasures against forgetting to disable consoles',
  'It is also recommended that technical and/or process related countermeasures are introduced and documented during the development phase, to ensure there is no way to forget to disable these consoles.',
  ['consoles.countermeasures'], 'documented countermeasures', '"recommended": a SHOULD.');
