/** Consoles: AVPS 2.0's console requirement beside VIRTIO §5.3. */
import { DEVICE_ID } from '../../model/device-types.ts';
import { COMMON_DEVICE_AREAS } from '../rollup.ts';
import { failOnObservations } from '../judge.ts';
import { defineRule } from '../rule.ts';

const AREA = 'console';

export const avps46 = defineRule({
  id: 'AVPS-v2.0-46',
  title: 'The console follows VIRTIO §5.3',
  level: 'MUST',
  target: 'platform',
  area: AREA,
  needs: ['console.control', 'console.data'],
  source: { spec: 'AVPS 2.0', where: 'line 1630', text: 'The virtual interface of the console MUST be implemented according to chapter 5.3 in [VIRTIO]' },
  note: 'the roll-up of the console\'s device statements: general, transport, virtqueue and §5.3 (buffer directions are the driver\'s, not counted)',
  scope: 'device',
  deviceTypes: [DEVICE_ID.console],
  rollUp: { areas: [...COMMON_DEVICE_AREAS, AREA], target: 'device' },
});


export const portAddRemove = defineRule({
  id: 'virtio-console.port-add-remove',
  title: 'The device adds each port once and removes only ports it added',
  level: 'MUST',
  target: 'device',
  area: AREA,
  needs: ['console.control'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§5.3.6.2.1',
    text: 'The device MUST NOT specify a port which exists in a VIRTIO_CONSOLE_DEVICE_ADD message, and MUST NOT specify a port in a VIRTIO_CONSOLE_DEVICE_REMOVE message which has not been created with a previous VIRTIO_CONSOLE_DEVICE_ADD.',
  },
  scope: 'device',
  deviceTypes: [DEVICE_ID.console],
  evaluate(ctx, d) {
    return failOnObservations(ctx, d!, ['console.add-existing-port', 'console.remove-unknown-port'], () => {
      const adds = d!.console.deviceAdds;
      if (adds.n === 0) return { verdict: 'NOT-OBSERVED', message: 'the device sent no DEVICE_ADD or DEVICE_REMOVE the trace attributes to it' };
      return { verdict: 'PASS', message: `${adds.n} DEVICE_ADD message(s), each for a port not yet added; no DEVICE_REMOVE of an unknown port`, evidence: adds.first };
    });
  },
});
