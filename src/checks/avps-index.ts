/**
 * AVPS 2.0, requirement by requirement: every id 1-50 and the unnumbered WRITE_ZEROES line (-7b)
 * has a rule, and each says where its verdict can come from (evidence classes, the events or facts
 * it reads, the inputs that carry them). A missing id is a bug and fails at load.
 */
import { CATALOGUE } from './catalogue.ts';
import { AVPS_SOURCES, type Sources } from './platform-judge.ts';
import type { Rule } from './rule.ts';

const FEATURE: Sources = {
  classes: ['a', 'b'],
  needs: ['features (accepted by the driver, or offered by the device)', 'device + features (guest sysfs: negotiated)'],
  inputs: ['qemu-log', 'jsonl', 'guest-virtio-devices'],
};
const CHAPTER: Sources = { classes: ['a', 'b'], needs: ['the device chapter\'s device-side rules (their roll-up)'], inputs: ['qemu-log', 'jsonl', 'ftrace'] };

/** The sources of the AVPS rules that live beside their VIRTIO chapters (blk, net, rng, console). */
const CHAPTER_SOURCES: Record<string, Sources> = {
  'AVPS-v2.0-4': CHAPTER,
  'AVPS-v2.0-5': FEATURE,
  'AVPS-v2.0-6': FEATURE,
  'AVPS-v2.0-7': FEATURE,
  'AVPS-v2.0-7b': FEATURE,
  'AVPS-v2.0-8': { classes: ['a', 'b', 'c'], needs: ['device types (virtio-net, other NICs)', 'device (guest virtio list)'], inputs: ['qemu-log', 'jsonl', 'guest-virtio-devices'] },
  'AVPS-v2.0-10': FEATURE,
  'AVPS-v2.0-11': FEATURE,
  'AVPS-v2.0-12': FEATURE,
  'AVPS-v2.0-13': FEATURE,
  'AVPS-v2.0-40': { classes: ['a', 'b'], needs: ['rng.request, rng.push, vq.fill of an entropy device'], inputs: ['qemu-log', 'jsonl'] },
  'AVPS-v2.0-41': CHAPTER,
  'AVPS-v2.0-46': CHAPTER,
};

export const AVPS_IDS: readonly string[] = [...Array.from({ length: 50 }, (_, i) => `AVPS-v2.0-${i + 1}`).flatMap((id) => (id === 'AVPS-v2.0-7' ? [id, 'AVPS-v2.0-7b'] : [id]))];

export interface AvpsEntry {
  rule: Rule;
  sources: Sources;
}

export const AVPS_INDEX: ReadonlyMap<string, AvpsEntry> = new Map(
  AVPS_IDS.map((id) => {
    const rule = CATALOGUE.find((r) => r.id === id);
    const sources = AVPS_SOURCES.get(id) ?? CHAPTER_SOURCES[id];
    if (!rule || !sources) throw new Error(`AVPS requirement ${id} has no rule or no sources`);
    return [id, { rule, sources }];
  }),
);
