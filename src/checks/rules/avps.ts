/**
 * AVPS 2.0 requirements judged from traces. Ids, levels and wording are those of
 * docs/reference/AVPS-2.0.txt (the text extracted from the PDF, where an id can stand before the
 * end of its sentence); `where` is the line of the id.
 */
import { DEVICE_ID } from '../../model/device-types.ts';
import type { Device } from '../../model/device.ts';
import { BLK_STATUS_MAX } from '../../model/devices/blk.ts';
import { completedChains, failOnObservations, judgeOfferedFeature } from '../judge.ts';
import { defineRule, type Outcome, type Rule, type RuleContext } from '../rule.ts';

const blkFeature = (id: string, line: number, bit: number, flag: string, note?: string): Rule =>
  defineRule({
    id,
    title: `Block devices support ${flag}`,
    level: 'MUST',
    source: { spec: 'AVPS 2.0', where: `line ${line}`, text: `The platform MUST implement support for the ${flag} feature flag.` },
    ...(note !== undefined ? { note } : {}),
    scope: 'device',
    deviceTypes: [DEVICE_ID.blk],
    evaluate: (ctx, d) => judgeOfferedFeature(d!, bit, ctx.assumeDriver),
  });

export const avps4 = defineRule({
  id: 'AVPS-v2.0-4',
  title: 'Block devices per VIRTIO §5.2',
  level: 'MUST',
  source: { spec: 'AVPS 2.0', where: 'line 416', text: 'The platform MUST implement virtual block devices according to chapters 5.2 in [VIRTIO].' },
  scope: 'device',
  deviceTypes: [DEVICE_ID.blk],
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['blk.bad-status', 'vq.bad-shape'], () => {
      const n = completedChains(d!);
      if (n === 0) return { verdict: 'NOT-OBSERVED', message: 'the block device completed no request in the trace' };
      return {
        verdict: 'PASS',
        message: `${n} requests completed with VIRTIO_BLK_S_* status bytes (0..${BLK_STATUS_MAX}) and header/data/status chains; as far as the trace shows, §5.2 is followed`,
      };
    });
  },
});

export const avps5 = blkFeature('AVPS-v2.0-5', 421, 9, 'VIRTIO_BLK_F_FLUSH');
export const avps6 = blkFeature('AVPS-v2.0-6', 426, 11, 'VIRTIO_BLK_F_CONFIG_WCE');
export const avps7 = blkFeature('AVPS-v2.0-7', 429, 13, 'VIRTIO_BLK_F_DISCARD');
export const avps7b = defineRule({
  ...blkFeature('AVPS-v2.0-7b', 433, 14, 'VIRTIO_BLK_F_WRITE_ZEROS',
    'AVPS 2.0 gives this requirement (line 433, right after -7) no id of its own; avpscope calls it -7b so that it has a stable one. ' +
      'The AVPS spells the flag WRITE_ZEROS; VIRTIO names it VIRTIO_BLK_F_WRITE_ZEROES (bit 14).'),
  title: 'Block devices support VIRTIO_BLK_F_WRITE_ZEROES',
});

export const avps8 = defineRule({
  id: 'AVPS-v2.0-8',
  title: 'Networking uses VIRTIO-net',
  level: 'MUST',
  source: {
    spec: 'AVPS 2.0',
    where: 'line 475',
    text: 'If the platform implements virtual networking, it MUST use the VIRTIO-net required interface between drivers and Hypervisor.',
  },
  scope: 'device',
  deviceTypes: [DEVICE_ID.net],
  evaluate(_ctx, d) {
    const t = d!.type()!;
    return {
      verdict: 'PASS',
      message: `the network device is a virtio-net device (${t.how}: ${t.why})`,
      evidence: t.ref ? [t.ref] : [],
    };
  },
});

const NET_FLAGS = [
  { id: 'AVPS-v2.0-11', line: 485, bit: 3, flag: 'VIRTIO_NET_F_MTU' },
  { id: 'AVPS-v2.0-12', line: 489, bit: 5, flag: 'VIRTIO_NET_F_MAC' },
  { id: 'AVPS-v2.0-13', line: 493, bit: 23, flag: 'VIRTIO_NET_F_CTRL_MAC_ADDR' },
];

const netFeatureRules = NET_FLAGS.map((f) =>
  defineRule({
    id: f.id,
    title: `VIRTIO-net supports ${f.flag}`,
    level: 'MUST',
    source: { spec: 'AVPS 2.0', where: `line ${f.line}`, text: `Implementations of VIRTIO-net MUST support the following feature flags: ${f.flag}` },
    scope: 'device',
    deviceTypes: [DEVICE_ID.net],
    evaluate: (ctx, d) => judgeOfferedFeature(d!, f.bit, ctx.assumeDriver),
  }),
);
export const [avps11, avps12, avps13] = netFeatureRules as [Rule, Rule, Rule];

export const avps10 = defineRule({
  id: 'AVPS-v2.0-10',
  title: 'VIRTIO-net supports the required feature flags (-11, -12, -13)',
  level: 'MUST',
  source: { spec: 'AVPS 2.0', where: 'line 481', text: 'Implementations of VIRTIO-net MUST support the following feature flags:' },
  scope: 'device',
  deviceTypes: [DEVICE_ID.net],
  evaluate(ctx, d) {
    const parts = netFeatureRules.map((r) => ({ id: r.id, o: r.evaluate(ctx, d) }));
    const failed = parts.filter((p) => p.o.verdict === 'FAIL');
    const unseen = parts.filter((p) => p.o.verdict === 'NOT-OBSERVED');
    const list = (ps: typeof parts) => ps.map((p) => p.id).join(', ');
    if (failed.length > 0) return { verdict: 'FAIL', message: `not supported: ${list(failed)}`, evidence: failed.flatMap((p) => p.o.evidence ?? []) };
    if (unseen.length > 0) return { verdict: 'NOT-OBSERVED', message: `not observable: ${list(unseen)}` };
    return { verdict: 'PASS', message: `all of ${list(parts)} supported`, evidence: parts.flatMap((p) => p.o.evidence ?? []).slice(0, 3) };
  },
});

function servedEntropy(d: Device): Outcome | undefined {
  const q = d.queues.get(0);
  if (!q || q.fills === 0) return undefined;
  return { verdict: 'PASS', message: `entropy device answered ${q.fills} request(s)${d.rng.bytesPushed > 0 ? ` with ${d.rng.bytesPushed} bytes` : ''}` };
}

export const avps40 = defineRule({
  id: 'AVPS-v2.0-40',
  title: 'An entropy source is offered to the guest',
  level: 'MUST',
  source: { spec: 'AVPS 2.0', where: 'line 1538', text: 'The Virtual Platform MUST offer at least one good entropy source accessible from the guest.' },
  scope: 'vm',
  evaluate(ctx: RuleContext) {
    const rngs = ctx.devices.filter((d) => d.type()?.id === DEVICE_ID.rng);
    for (const d of rngs) {
      const ok = servedEntropy(d);
      if (ok) return { ...ok, message: `${d.id}: ${ok.message}` };
    }
    if (rngs.length > 0) return { verdict: 'NOT-OBSERVED', message: `entropy device ${rngs[0]!.id} is present but served no request in the trace` };
    return { verdict: 'NOT-OBSERVED', message: 'no entropy device in the trace' };
  },
});

export const avps41 = defineRule({
  id: 'AVPS-v2.0-41',
  title: 'The entropy source follows VIRTIO §5.4',
  level: 'SHOULD',
  source: { spec: 'AVPS 2.0', where: 'line 1541', text: 'The entropy source SHOULD be implemented according to VIRTIO Entropy device, chapter 5.4 [VIRTIO]' },
  scope: 'device',
  deviceTypes: [DEVICE_ID.rng],
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['rng.empty-answer', 'vq.bad-shape'], () => {
      const q = d!.queues.get(0);
      if (!q || q.fills === 0) return { verdict: 'NOT-OBSERVED', message: 'the entropy device served no request in the trace' };
      const extra = [...d!.queues.keys()].filter((i) => i !== 0);
      if (extra.length > 0) return { verdict: 'FAIL', message: `an entropy device has a single requestq, but queues ${extra.join(', ')} are in use` };
      return { verdict: 'PASS', message: `${q.fills} requests, each on device-writable buffers and answered with at least one byte` };
    });
  },
});

export const avps46 = defineRule({
  id: 'AVPS-v2.0-46',
  title: 'The console follows VIRTIO §5.3',
  level: 'MUST',
  source: { spec: 'AVPS 2.0', where: 'line 1630', text: 'The virtual interface of the console MUST be implemented according to chapter 5.3 in [VIRTIO]' },
  scope: 'device',
  deviceTypes: [DEVICE_ID.console],
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['vq.bad-shape'], () => {
      const n = completedChains(d!);
      if (n === 0) return { verdict: 'NOT-OBSERVED', message: 'the console completed no chain in the trace' };
      const c = d!.console;
      return {
        verdict: 'PASS',
        message:
          `${n} chains on receive/transmit queues of the right direction; ${c.toDevice.length} control messages from the driver, ` +
          `${c.toDriver.length} to it; ${c.bytesToHost} bytes written by the guest reached the host`,
      };
    });
  },
});
