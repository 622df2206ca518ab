/**
 * Every rule avpscope judges, in report order, one file per spec area (rules/<area>.ts), each
 * AVPS requirement beside the VIRTIO rules of its chapter. A duplicate id, or a rule that judges nothing, is a bug and fails at load.
 */
import * as blk from './rules/blk.ts';
import * as consoleRules from './rules/console.ts';
import * as general from './rules/general.ts';
import * as kvm from './rules/kvm.ts';
import * as net from './rules/net.ts';
import * as rng from './rules/rng.ts';
import * as sound from './rules/sound.ts';
import * as mmio from './rules/transport-mmio.ts';
import * as virtqueue from './rules/virtqueue.ts';
import * as xlayer from './rules/xlayer.ts';
import * as armFirmware from './rules/arm-firmware.ts';
import * as consolePolicy from './rules/console-policy.ts';
import * as firmware from './rules/firmware.ts';
import * as gpu from './rules/gpu.ts';
import * as virtioDevices from './rules/virtio-devices.ts';
import * as watchdog from './rules/watchdog.ts';
import type { Rule } from './rule.ts';

export const CATALOGUE: readonly Rule[] = [
  general.initOrder,
  general.featuresBeforeFeaturesOk,
  general.version1,
  general.liveAfterDriverOk,
  general.notifyAfterDriverOk,
  general.quietAfterReset,
  mmio.version2,
  mmio.mmioDriverRegisters,
  mmio.mmioDeviceRegisters,
  mmio.queueNum,
  mmio.queueReady,
  virtqueue.completedOnce,
  virtqueue.usedNotMoreThanPopped,
  virtqueue.noCompletionWithoutRequest,
  virtqueue.queueSize,
  virtqueue.chainLayout,
  virtqueue.inOrder,
  virtqueue.usedLen,
  blk.status,
  blk.flushWithWce,
  blk.readOnlyWrites,
  blk.avps4,
  blk.avps5,
  blk.avps6,
  blk.avps7,
  blk.avps7b,
  net.avps8,
  net.avps10,
  net.avps11,
  net.avps12,
  net.avps13,
  rng.answers,
  rng.avps40,
  rng.avps41,
  consoleRules.portAddRemove,
  consoleRules.avps46,
  sound.chmapInfo,
  // AVPS requirements beyond the device chapters above: every id of AVPS 2.0 has a rule
  firmware.avps1,
  firmware.avps2,
  firmware.avps3,
  virtioDevices.avps9,
  virtioDevices.avps14,
  virtioDevices.avps15,
  virtioDevices.avps16,
  gpu.avps17,
  gpu.avps18,
  gpu.avps19,
  gpu.avps20,
  gpu.avps21,
  gpu.avps22,
  gpu.avps23,
  gpu.avps24,
  gpu.avps25,
  gpu.avps26,
  gpu.avps27,
  gpu.avps28,
  gpu.avps29,
  virtioDevices.avps30,
  virtioDevices.avps31,
  virtioDevices.avps32,
  virtioDevices.avps33,
  virtioDevices.avps34,
  watchdog.avps35,
  armFirmware.avps36,
  virtioDevices.avps37,
  firmware.avps38,
  armFirmware.avps39,
  firmware.avps42,
  virtioDevices.avps43,
  virtioDevices.avps44,
  virtioDevices.avps45,
  consolePolicy.avps47,
  consolePolicy.avps48,
  virtioDevices.avps49,
  virtioDevices.avps50,
  xlayer.requestSeenThrough,
  xlayer.interruptSent,
  kvm.statusEchoed,
];

const seen = new Set<string>();
for (const r of CATALOGUE) {
  if (seen.has(r.id)) throw new Error(`duplicate rule id ${r.id}`);
  seen.add(r.id);
  if (!r.evaluate && !r.rollUp) throw new Error(`rule ${r.id} neither judges nor rolls up`);
  if (r.rollUp && r.scope !== 'device') throw new Error(`rule ${r.id}: only device rules roll up`);
}
