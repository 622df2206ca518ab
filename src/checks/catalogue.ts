/** Every rule avpscope judges, in report order. A duplicate id is a bug and fails at load. */
import * as avps from './rules/avps.ts';
import * as kvm from './rules/kvm.ts';
import * as sound from './rules/sound.ts';
import * as virtio from './rules/virtio.ts';
import * as xlayer from './rules/xlayer.ts';
import type { Rule } from './rule.ts';

export const CATALOGUE: readonly Rule[] = [
  virtio.initOrder,
  virtio.featuresBeforeFeaturesOk,
  virtio.version1,
  virtio.liveAfterDriverOk,
  virtio.completedOnce,
  virtio.usedNotMoreThanPopped,
  virtio.noCompletionWithoutRequest,
  virtio.queueSize,
  virtio.mmioDriverRegisters,
  kvm.mmioDeviceRegisters,
  sound.chmapInfo,
  avps.avps4,
  avps.avps5,
  avps.avps6,
  avps.avps7,
  avps.avps7b,
  avps.avps8,
  avps.avps10,
  avps.avps11,
  avps.avps12,
  avps.avps13,
  avps.avps40,
  avps.avps41,
  avps.avps46,
  xlayer.requestSeenThrough,
  xlayer.interruptSent,
  kvm.statusEchoed,
];

const seen = new Set<string>();
for (const r of CATALOGUE) {
  if (seen.has(r.id)) throw new Error(`duplicate rule id ${r.id}`);
  seen.add(r.id);
}
