/** Entropy devices: AVPS 2.0's entropy requirements beside VIRTIO §5.4. */
import { DEVICE_ID } from '../../model/device-types.ts';
import { failOnObservations } from '../judge.ts';
import { defineRule, type RuleContext } from '../rule.ts';

const AREA = 'rng';

export const avps40 = defineRule({
  id: 'AVPS-v2.0-40',
  title: 'An entropy source is offered to the guest',
  level: 'MUST',
  target: 'platform',
  area: AREA,
  source: { spec: 'AVPS 2.0', where: 'line 1538', text: 'The Virtual Platform MUST offer at least one good entropy source accessible from the guest.' },
  scope: 'vm',
  evaluate(ctx: RuleContext) {
    const rngs = ctx.devices.filter((d) => d.type()?.id === DEVICE_ID.rng);
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
    return { verdict: 'NOT-OBSERVED', message: 'no entropy device in the trace' };
  },
});

export const avps41 = defineRule({
  id: 'AVPS-v2.0-41',
  title: 'The entropy source follows VIRTIO §5.4',
  level: 'SHOULD',
  target: 'platform',
  area: AREA,
  source: { spec: 'AVPS 2.0', where: 'line 1541', text: 'The entropy source SHOULD be implemented according to VIRTIO Entropy device, chapter 5.4 [VIRTIO]' },
  scope: 'device',
  deviceTypes: [DEVICE_ID.rng],
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['rng.empty-answer', 'vq.bad-shape'], () => {
      const q = d!.queues.get(0);
      if (!q || q.fills === 0) return { verdict: 'NOT-OBSERVED', message: 'the entropy device served no request in the trace' };
      const extra = [...d!.queues.keys()].filter((i) => i !== 0);
      if (extra.length > 0) return { verdict: 'FAIL', message: `an entropy device has a single requestq, but queues ${extra.join(', ')} are in use` };
      return { verdict: 'PASS', message: `${q.fills} requests, each on device-writable buffers and answered with at least one byte`, evidence: q.firstFill ? [q.firstFill] : [] };
    });
  },
});
