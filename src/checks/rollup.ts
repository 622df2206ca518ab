/**
 * Roll-ups: a requirement that a device follow a whole VIRTIO chapter is judged by the device
 * statements of that chapter and of the chapters every device answers to (general, transport,
 * virtqueue). A failed statement fails the roll-up, with its evidence; a PASS says how many of
 * the statements the trace could check, and which.
 */
import type { Ref } from '../model/observations.ts';
import type { Outcome, Rule } from './rule.ts';

/** The areas every device's chapter roll-up includes besides its own chapter. */
export const COMMON_DEVICE_AREAS = ['general', 'transport-mmio', 'transport-pci', 'virtqueue'];

export interface Part {
  rule: Rule;
  outcome: Outcome;
}

const union = (xs: (string[] | undefined)[]) => [...new Set(xs.flatMap((x) => x ?? []))];
/** Parts often cite the same line (the legacy register write): each once. */
function distinct(refs: Ref[]): Ref[] {
  const seen = new Set<string>();
  return refs.filter((r) => {
    const k = r.src ? `${r.src.file}:${r.src.line}` : `t=${r.ts}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
const cite = (p: Part) => `${p.rule.id} (${p.rule.source.spec === 'VIRTIO 1.3' ? 'VIRTIO' : 'AVPS'} ${p.rule.source.where})`;

export function rollUpOutcome(parts: Part[]): Outcome {
  // NOT-APPLICABLE and DECLARED statements are neither checked nor unchecked: not counted
  const counted = parts.filter((p) => p.outcome.verdict === 'PASS' || p.outcome.verdict === 'FAIL' || p.outcome.verdict === 'NOT-OBSERVED');
  const failed = counted.filter((p) => p.outcome.verdict === 'FAIL');
  const passed = counted.filter((p) => p.outcome.verdict === 'PASS');
  const n = counted.length;
  if (failed.length > 0) {
    return {
      verdict: 'FAIL',
      message: `${failed.length} of ${n} device statements fail: ${failed.map((p) => `${cite(p)}: ${p.outcome.message}`).join('; ')}`,
      evidence: distinct(failed.flatMap((p) => (p.outcome.evidence ?? []).slice(0, 3))),
      assumptions: union(failed.map((p) => p.outcome.assumptions)),
      inferred: union(failed.map((p) => p.outcome.inferred)),
    };
  }
  if (passed.length > 0) {
    const unchecked = counted.filter((p) => p.outcome.verdict === 'NOT-OBSERVED');
    return {
      verdict: 'PASS',
      message:
        `${passed.length} of ${n} device statements checked, none fails: ${passed.map(cite).join(', ')}` +
        (unchecked.length > 0 ? `; not observable: ${unchecked.map((p) => p.rule.id).join(', ')}` : ''),
      evidence: distinct(passed.flatMap((p) => (p.outcome.evidence ?? []).slice(0, 1))),
      assumptions: union(passed.map((p) => p.outcome.assumptions)),
      inferred: union(passed.map((p) => p.outcome.inferred)),
    };
  }
  return {
    verdict: 'NOT-OBSERVED',
    message: n === 0 ? 'no device statement applies to what the trace shows' : `none of the ${n} device statements could be checked (${counted.map((p) => p.rule.id).join(', ')})`,
  };
}
