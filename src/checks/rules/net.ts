/** Network devices: AVPS 2.0's networking requirements beside VIRTIO §5.1. */
import { DEVICE_ID } from '../../model/device-types.ts';
import { judgeOfferedFeature } from '../judge.ts';
import { COMMON_DEVICE_AREAS } from '../rollup.ts';
import { defineRule, type Outcome, type Rule, type RuleContext } from '../rule.ts';

const AREA = 'net';

/** Emulated network cards that are not virtio (QEMU's e1000, rtl8139, ...): networking not through VIRTIO-net. */
export function nonVirtioNics(ctx: RuleContext): Outcome | undefined {
  const nics = [...(ctx.platform.vms.get(ctx.vm)?.nonVirtio.values() ?? [])].filter((n) => n.class === 'network');
  if (nics.length === 0) return undefined;
  return {
    verdict: 'FAIL',
    message: `the VM has a network device that is not virtio-net: ${nics.map((n) => n.name).join(', ')} (its events are in the trace)`,
    evidence: nics.map((n) => n.first),
  };
}

export const avps8 = defineRule({
  id: 'AVPS-v2.0-8',
  title: 'Networking uses VIRTIO-net',
  level: 'MUST',
  target: 'platform',
  area: AREA,
  needs: ['device', 'pci.msix'],
  source: {
    spec: 'AVPS 2.0',
    where: 'line 475',
    text: 'If the platform implements virtual networking, it MUST use the VIRTIO-net required interface between drivers and Hypervisor.',
  },
  note: 'the network device is virtio-net (a trace line names the type), rolled up with its device statements: general, transport, virtqueue and §5.1',
  scope: 'device',
  deviceTypes: [DEVICE_ID.net],
  rollUp: { areas: [...COMMON_DEVICE_AREAS, AREA], target: 'device' },
  absent: (ctx) => nonVirtioNics(ctx),
  evaluate(ctx, d) {
    const nics = nonVirtioNics(ctx);
    if (nics) return nics;
    const t = d!.type()!;
    if (!t.ref) return { verdict: 'NOT-OBSERVED', message: `the network device's type is known (${t.how}: ${t.why}) but no trace line shows it` };
    return { verdict: 'PASS', message: `the network device is a virtio-net device (${t.how}: ${t.why})`, evidence: [t.ref] };
  },
});

/**
 * Linux's virtio-net clears VIRTIO_NET_F_MTU before accepting features when the config mtu is
 * below 68 (virtnet_validate), so under the Linux assumption a missing MTU bit means the device
 * did not offer it, or offered it with an mtu §5.1.4.1 forbids.
 */
const MTU_CAVEAT =
  'or it offered it with a config mtu below 68, which Linux refuses by clearing the bit and §5.1.4.1 forbids the device; QEMU\'s log does not show mtu';

const NET_FLAGS = [
  { id: 'AVPS-v2.0-11', line: 485, bit: 3, flag: 'VIRTIO_NET_F_MTU', caveat: MTU_CAVEAT },
  { id: 'AVPS-v2.0-12', line: 489, bit: 5, flag: 'VIRTIO_NET_F_MAC' },
  { id: 'AVPS-v2.0-13', line: 493, bit: 23, flag: 'VIRTIO_NET_F_CTRL_MAC_ADDR' },
];

const netFeatureRules = NET_FLAGS.map((f) =>
  defineRule({
    id: f.id,
    title: `VIRTIO-net supports ${f.flag}`,
    level: 'MUST',
    target: 'platform',
    area: AREA,
    needs: ['features', 'mmio.write'],
    source: { spec: 'AVPS 2.0', where: `line ${f.line}`, text: `Implementations of VIRTIO-net MUST support the following feature flags: ${f.flag}` },
    scope: 'device',
    deviceTypes: [DEVICE_ID.net],
    evaluate: (ctx, d) => judgeOfferedFeature(d!, f.bit, ctx.assumeDriver, f.caveat),
  }),
);
export const [avps11, avps12, avps13] = netFeatureRules as [Rule, Rule, Rule];

export const avps10 = defineRule({
  id: 'AVPS-v2.0-10',
  title: 'VIRTIO-net supports the required feature flags (-11, -12, -13)',
  level: 'MUST',
  target: 'platform',
  area: AREA,
  needs: ['features', 'mmio.write'],
  source: { spec: 'AVPS 2.0', where: 'line 481', text: 'Implementations of VIRTIO-net MUST support the following feature flags:' },
  scope: 'device',
  deviceTypes: [DEVICE_ID.net],
  evaluate(ctx, d) {
    const parts = netFeatureRules.map((r) => ({ id: r.id, o: r.evaluate!(ctx, d) }));
    const failed = parts.filter((p) => p.o.verdict === 'FAIL');
    const unseen = parts.filter((p) => p.o.verdict === 'NOT-OBSERVED');
    const list = (ps: typeof parts) => ps.map((p) => p.id).join(', ');
    const assumptions = [...new Set(parts.flatMap((p) => p.o.assumptions ?? []))];
    const extra = assumptions.length > 0 ? { assumptions } : {};
    if (failed.length > 0) return { verdict: 'FAIL', message: `not supported: ${list(failed)}`, evidence: failed.flatMap((p) => p.o.evidence ?? []), ...extra };
    if (unseen.length > 0) return { verdict: 'NOT-OBSERVED', message: `not observable: ${list(unseen)}` };
    return { verdict: 'PASS', message: `all of ${list(parts)} supported`, evidence: parts.flatMap((p) => p.o.evidence ?? []).slice(0, 3), ...extra };
  },
});
