/**
 * Block devices: AVPS 2.0's block requirements beside VIRTIO §5.2. AVPS ids, levels and wording
 * are those of docs/reference/AVPS-2.0.txt (the text extracted from the PDF, where an id can stand
 * before the end of its sentence); `where` is the line of the id.
 */
import { DEVICE_ID } from '../../model/device-types.ts';
import { BLK_STATUS_MAX } from '../../model/devices/blk.ts';
import { completedChains, failOnObservations, judgeOfferedFeature } from '../judge.ts';
import { COMMON_DEVICE_AREAS } from '../rollup.ts';
import { defineRule, type Rule } from '../rule.ts';

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
    evaluate: (ctx, d) => judgeOfferedFeature(d!, bit, ctx.assumeDriver),
  });

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
