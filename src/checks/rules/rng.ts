/** Entropy devices: AVPS 2.0's entropy requirements beside VIRTIO §5.4. */
import { DEVICE_ID } from '../../model/device-types.ts';
import { failOnObservations } from '../judge.ts';
import { COMMON_DEVICE_AREAS } from '../rollup.ts';
import { defineRule, type RuleContext } from '../rule.ts';

const AREA = 'rng';

export const avps40 = defineRule({
  id: 'AVPS-v2.0-40',
  title: 'An entropy source is offered to the guest',
  level: 'MUST',
  target: 'platform',
  area: AREA,
  needs: ['rng.request', 'rng.push', 'vq.fill'],
  source: { spec: 'AVPS 2.0', where: 'line 1538', text: 'The Virtual Platform MUST offer at least one good entropy source accessible from the guest.' },
  scope: 'vm',
  evaluate(ctx: RuleContext) {
    // only a proven entropy device counts: a guessed one could be a keyboard (virtio-input takes the same shape)
    const typed = ctx.devices.filter((d) => d.type()?.id === DEVICE_ID.rng);
    const rngs = typed.filter((d) => d.type()!.how === 'seen');
    for (const d of rngs) {
      const q = d.queues.get(0);
      if (!q || q.fills === 0 || !q.firstFill) continue;
      return {
        verdict: 'PASS',
        message: `${d.id}: entropy device answered ${q.fills} request(s)${d.rng.bytesPushed > 0 ? ` with ${d.rng.bytesPushed} bytes` : ''}`,
        evidence: [q.firstFill],
      };
    }
    if (rngs.length > 0) return { verdict: 'NOT-OBSERVED', message: `entropy device ${rngs[0]!.id} is present but served no request in the trace` };
    const guessed = typed[0]?.type();
    if (guessed) {
      return {
        verdict: 'NOT-OBSERVED',
        message: `${typed[0]!.id} looks like an entropy device (${guessed.why}), but no trace line names its type: another device (a virtio-input keyboard) takes the same shape`,
        inferred: [`${typed[0]!.id} is virtio-rng: ${guessed.why}`],
      };
    }
    return { verdict: 'NOT-OBSERVED', message: 'no entropy device in the trace' };
  },
});

export const answers = defineRule({
  id: 'virtio-rng.answers',
  title: 'The entropy device answers on its one requestq with at least one random byte',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['vq.pop', 'vq.fill', 'rng.push'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§5.4.2, §5.4.7.2',
    text: 'The entropy device has a single virtqueue, requestq; the device MUST place one or more random bytes into the buffer, but it MAY use less than the entire buffer length.',
  },
  scope: 'device',
  deviceTypes: [DEVICE_ID.rng],
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['rng.empty-answer'], () => {
      const q = d!.queues.get(0);
      const extra = [...d!.queues.values()].filter((x) => x.index !== 0 && x.pops > 0);
      if (extra.length > 0) {
        return { verdict: 'FAIL', message: `an entropy device has a single requestq, but it took chains from queue(s) ${extra.map((x) => x.index).join(', ')}`, evidence: extra.flatMap((x) => (x.firstFill ? [x.firstFill] : [])) };
      }
      if (!q || q.fills === 0 || !q.firstFill) return { verdict: 'NOT-OBSERVED', message: 'the entropy device served no request in the trace' };
      return { verdict: 'PASS', message: `${q.fills} requests answered, each with at least one byte${d!.rng.bytesPushed > 0 ? ` (${d!.rng.bytesPushed} bytes in all)` : ''}`, evidence: [q.firstFill] };
    });
  },
});

export const avps41 = defineRule({
  id: 'AVPS-v2.0-41',
  title: 'The entropy source follows VIRTIO §5.4',
  level: 'SHOULD',
  target: 'platform',
  area: AREA,
  needs: ['rng.request', 'rng.push'],
  source: { spec: 'AVPS 2.0', where: 'line 1541', text: 'The entropy source SHOULD be implemented according to VIRTIO Entropy device, chapter 5.4 [VIRTIO]' },
  note: 'the roll-up of the entropy device\'s device statements: general, transport, virtqueue and §5.4',
  scope: 'device',
  deviceTypes: [DEVICE_ID.rng],
  rollUp: { areas: [...COMMON_DEVICE_AREAS, AREA], target: 'device' },
});
