/** Consoles: AVPS 2.0's console requirement beside VIRTIO §5.3. */
import { DEVICE_ID } from '../../model/device-types.ts';
import { completedChains, failOnObservations } from '../judge.ts';
import { defineRule } from '../rule.ts';

const AREA = 'console';

export const avps46 = defineRule({
  id: 'AVPS-v2.0-46',
  title: 'The console follows VIRTIO §5.3',
  level: 'MUST',
  target: 'platform',
  area: AREA,
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
        evidence: [...d!.queues.values()].flatMap((q) => (q.firstFill ? [q.firstFill] : [])).slice(0, 2),
      };
    });
  },
});
