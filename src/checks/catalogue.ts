/**
 * Every rule avpscope judges, in report order, one file per spec area (rules/<area>.ts), each
 * AVPS requirement beside the VIRTIO rules of its chapter. A duplicate id is a bug and fails at load.
 */
import * as blk from './rules/blk.ts';
import * as consoleRules from './rules/console.ts';
import * as general from './rules/general.ts';
import * as net from './rules/net.ts';
import * as rng from './rules/rng.ts';
import * as sound from './rules/sound.ts';
import * as mmio from './rules/transport-mmio.ts';
import * as virtqueue from './rules/virtqueue.ts';
import * as xlayer from './rules/xlayer.ts';
import type { Rule } from './rule.ts';

export const CATALOGUE: readonly Rule[] = [
  general.initOrder,
  general.featuresBeforeFeaturesOk,
  general.version1,
  general.acceptVersion1,
  general.liveAfterDriverOk,
  general.notifyAfterDriverOk,
  mmio.mmioDriverRegisters,
  mmio.queueNum,
  virtqueue.completedOnce,
  virtqueue.usedNotMoreThanPopped,
  virtqueue.noCompletionWithoutRequest,
  virtqueue.queueSize,
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
  rng.avps40,
  rng.avps41,
  consoleRules.avps46,
  sound.chmapInfo,
  xlayer.requestSeenThrough,
  xlayer.interruptSent,
];

const seen = new Set<string>();
for (const r of CATALOGUE) {
  if (seen.has(r.id)) throw new Error(`duplicate rule id ${r.id}`);
  seen.add(r.id);
}
