/** Consoles: AVPS 2.0's console requirement beside VIRTIO §5.3. */
import { DEVICE_ID } from '../../model/device-types.ts';
import { COMMON_DEVICE_AREAS } from '../rollup.ts';
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
