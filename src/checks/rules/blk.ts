/**
 * Block devices: AVPS 2.0's block requirements beside VIRTIO §5.2. AVPS ids, levels and wording
 * are those of docs/reference/AVPS-2.0.txt (the text extracted from the PDF, where an id can stand
 * before the end of its sentence); `where` is the line of the id.
 */
import { DEVICE_ID } from '../../model/device-types.ts';
import type { Device } from '../../model/device.ts';
import { BLK_F, BLK_STATUS_MAX, featuresOfOp } from '../../model/devices/blk.ts';
import { featureName } from '../../model/features.ts';
import { completedChains, failOnObservations, judgeOfferedFeature } from '../judge.ts';
import { COMMON_DEVICE_AREAS } from '../rollup.ts';
import { defineRule, type Outcome, type Rule } from '../rule.ts';

const AREA = 'blk';

const blkFeature = (id: string, line: number, bit: number, flag: string, note?: string): Rule =>
  defineRule({
    id,
    title: `Block devices support ${flag}`,
    level: 'MUST',
    target: 'platform',
    area: AREA,
    needs: ['features', 'mmio.write'],
    source: { spec: 'AVPS 2.0', where: `line ${line}`, text: `The platform MUST implement support for the ${flag} feature flag.` },
    ...(note !== undefined ? { note } : {}),
    scope: 'device',
    deviceTypes: [DEVICE_ID.blk],
    evaluate: (ctx, d) => unsupportedOffered(d!, bit) ?? judgeOfferedFeature(d!, bit, ctx.assumeDriver),
  });

/**
 * Supporting a feature is serving its requests: a request of a type the device offers (its
 * feature negotiated) answered VIRTIO_BLK_S_UNSUPP fails the requirement of that feature.
 */
function unsupportedOffered(d: Device, bit: number): Outcome | undefined {
  for (const [op, refs] of d.blkUnsupp) {
    if (!featuresOfOp(op)?.includes(bit)) continue;
    return { verdict: 'FAIL', message: `a ${op} request was answered VIRTIO_BLK_S_UNSUPP although ${featureName(DEVICE_ID.blk, bit)} was negotiated`, evidence: refs };
  }
  return undefined;
}

export const status = defineRule({
  id: 'virtio-blk.status',
  title: 'The block device answers each request with a VIRTIO_BLK_S_* status',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['blk.complete', 'vq.fill'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§5.2.6',
    text: 'The final status byte is written by the device: VIRTIO_BLK_S_OK for success, VIRTIO_BLK_S_IOERR for device or driver error, VIRTIO_BLK_S_UNSUPP for a request unsupported by the device (zoned devices add codes 3-6).',
  },
  scope: 'device',
  deviceTypes: [DEVICE_ID.blk],
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['blk.bad-status'], () => {
      const n = completedChains(d!);
      const first = [...d!.queues.values()].flatMap((q) => (q.firstFill ? [q.firstFill] : []));
      if (n === 0 || first.length === 0) return { verdict: 'NOT-OBSERVED', message: 'the block device completed no request in the trace' };
      return { verdict: 'PASS', message: `${n} requests completed, each with a status byte VIRTIO_BLK_S_* defines (0..${BLK_STATUS_MAX})`, evidence: first.slice(0, 2) };
    });
  },
});

export const avps4 = defineRule({
  id: 'AVPS-v2.0-4',
  title: 'Block devices per VIRTIO §5.2',
  level: 'MUST',
  target: 'platform',
  area: AREA,
  needs: ['blk.submit', 'blk.complete'],
  source: { spec: 'AVPS 2.0', where: 'line 416', text: 'The platform MUST implement virtual block devices according to chapters 5.2 in [VIRTIO].' },
  note: 'the roll-up of the block device\'s device statements: general (§2, §3, §6.2), transport (§4), virtqueue (§2.7) and §5.2',
  scope: 'device',
  deviceTypes: [DEVICE_ID.blk],
  rollUp: { areas: [...COMMON_DEVICE_AREAS, AREA], target: 'device' },
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

export const flushWithWce = defineRule({
  id: 'virtio-blk.flush-with-wce',
  title: 'A block device that offers CONFIG_WCE offers FLUSH',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['features', 'mmio.write'],
  source: { spec: 'VIRTIO 1.3', where: '§5.2.5.2', text: 'The device MUST offer VIRTIO_BLK_F_FLUSH if it offers VIRTIO_BLK_F_CONFIG_WCE.' },
  scope: 'device',
  deviceTypes: [DEVICE_ID.blk],
  evaluate(ctx, d) {
    const wce = judgeOfferedFeature(d!, BLK_F.CONFIG_WCE, ctx.assumeDriver);
    if (wce.verdict === 'NOT-OBSERVED') return { ...wce, message: `whether the device offers CONFIG_WCE is not shown: ${wce.message}` };
    if (wce.verdict === 'FAIL') return { ...wce, verdict: 'NOT-APPLICABLE', message: `the device does not offer CONFIG_WCE (${wce.message})` };
    const flush = judgeOfferedFeature(d!, BLK_F.FLUSH, ctx.assumeDriver);
    const assumptions = [...new Set([...(wce.assumptions ?? []), ...(flush.assumptions ?? [])])];
    const evidence = [...(wce.evidence ?? []), ...(flush.evidence ?? [])].slice(0, 3);
    return { ...flush, message: `CONFIG_WCE offered (${wce.message}); ${flush.message}`, evidence, ...(assumptions.length > 0 ? { assumptions } : {}) };
  },
});

export const readOnlyWrites = defineRule({
  id: 'virtio-blk.ro-write-fails',
  title: 'On a read-only block device, a write request fails with IOERR',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['features', 'mmio.write', 'blk.submit', 'blk.complete'],
  source: { spec: 'VIRTIO 1.3', where: '§5.2.6.2', text: 'A device MUST set the status byte to VIRTIO_BLK_S_IOERR for a write request if the VIRTIO_BLK_F_RO feature is negotiated, and MUST NOT write any data.' },
  scope: 'device',
  deviceTypes: [DEVICE_ID.blk],
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['blk.write-on-ro'], () => {
      const ro = d!.everNegotiated(BLK_F.RO);
      if (ro === undefined) return { verdict: 'NOT-OBSERVED', message: 'the trace does not show whether VIRTIO_BLK_F_RO was negotiated' };
      if (!ro) return { verdict: 'NOT-APPLICABLE', message: 'VIRTIO_BLK_F_RO (bit 5) was not negotiated: the device is writable' };
      const w = d!.roWrites;
      if (w.n === 0 || !w.first) return { verdict: 'NOT-OBSERVED', message: 'VIRTIO_BLK_F_RO negotiated, and no write request completed in the trace' };
      return { verdict: 'PASS', message: `VIRTIO_BLK_F_RO negotiated; ${w.n} write request(s) answered VIRTIO_BLK_S_IOERR`, evidence: [w.first] };
    });
  },
});
