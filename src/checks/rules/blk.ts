/**
 * Block devices: AVPS 2.0's block requirements beside VIRTIO §5.2. AVPS ids, levels and wording
 * are those of docs/reference/AVPS-2.0.txt (the text extracted from the PDF, where an id can stand
 * before the end of its sentence); `where` is the line of the id.
 */
import { DEVICE_ID } from '../../model/device-types.ts';
import { BLK_STATUS_MAX } from '../../model/devices/blk.ts';
import { completedChains, failOnObservations, judgeOfferedFeature } from '../judge.ts';
import { defineRule, type Rule } from '../rule.ts';

const AREA = 'blk';

const blkFeature = (id: string, line: number, bit: number, flag: string, note?: string): Rule =>
  defineRule({
    id,
    title: `Block devices support ${flag}`,
    level: 'MUST',
    target: 'platform',
    area: AREA,
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
  target: 'platform',
  area: AREA,
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
        evidence: [...d!.queues.values()].flatMap((q) => (q.firstFill ? [q.firstFill] : [])).slice(0, 2),
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
