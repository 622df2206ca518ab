/** Judgements several rules share: feature requirements and observation-based verdicts. */
import type { Device } from '../model/device.ts';
import { ASSUMED_DRIVERS, featureName, hasBit, hexBits, type AssumedDriver } from '../model/features.ts';
import type { ObservationCode, Ref } from '../model/observations.ts';
import { observationKey } from '../model/platform.ts';
import type { Outcome, RuleContext } from './rule.ts';

/**
 * A feature the device must offer, judged from what the trace proves: accepted by a driver means
 * offered (PASS); missing from the set accepted by a driver known to accept it whenever offered
 * means not offered (FAIL, naming the assumed driver); anything else is NOT-OBSERVED.
 */
export function judgeOfferedFeature(d: Device, bit: number, assume: AssumedDriver): Outcome {
  const typeId = d.type()?.id;
  const name = featureName(typeId, bit);
  const offered = d.status.sessions.map((s) => s.offered).find((o) => o !== undefined && hasBit(o.bits, bit));
  if (offered) {
    // the read of the word that holds the bit, where the trace shows the words
    return { verdict: 'PASS', message: `${name} (bit ${bit}) is in the device's offered features ${hexBits(offered.bits)}`, evidence: [offered.words?.get(bit >> 5) ?? offered.ref] };
  }
  const negotiated = d.status.sessions.map((s) => ({ s, acc: s.accepted() })).filter((x) => x.acc !== undefined);
  const accepted = negotiated.find((x) => hasBit(x.acc!.bits, bit));
  if (accepted) {
    return {
      verdict: 'PASS',
      message: `the driver accepted ${name} (bit ${bit}) in ${hexBits(accepted.acc!.bits)}, so the device offered it`,
      evidence: accepted.acc!.refFor(bit),
    };
  }
  const deviceOffered = d.status.sessions.map((s) => s.offered).find((o) => o !== undefined);
  if (deviceOffered) {
    return { verdict: 'FAIL', message: `${name} (bit ${bit}) is missing from the device's offered features ${hexBits(deviceOffered.bits)}`, evidence: [deviceOffered.words?.get(bit >> 5) ?? deviceOffered.ref] };
  }
  if (negotiated.length === 0) {
    return { verdict: 'NOT-OBSERVED', message: `the trace shows no feature negotiation for this device${d.transport === 'pci' ? ' (QEMU 7.2 logs no feature words for virtio-pci)' : ''}` };
  }
  const last = negotiated.at(-1)!;
  const driver = assume === 'none' ? undefined : ASSUMED_DRIVERS[assume];
  if (driver && typeId !== undefined && driver.accepts[typeId]?.includes(bit)) {
    return {
      verdict: 'FAIL',
      message:
        `${name} (bit ${bit}) is not in the features the driver accepted (${hexBits(last.acc!.bits)}); ` +
        `assuming the driver is ${driver.description}, the device did not offer it (--assume-driver none to not assume)`,
      evidence: last.acc!.refFor(bit),
    };
  }
  return {
    verdict: 'NOT-OBSERVED',
    message: `the driver did not accept ${name} (bit ${bit}) (${hexBits(last.acc!.bits)}), and without a known driver behaviour that does not show whether the device offered it`,
    evidence: last.acc!.refs,
  };
}

/** FAIL with the first observations of the given codes on this device, else `otherwise`. */
export function failOnObservations(ctx: RuleContext, d: Device, codes: ObservationCode[], otherwise: () => Outcome): Outcome {
  const hits = ctx.observations.filter((o) => o.dev === d.id && codes.includes(o.code));
  if (hits.length === 0) return otherwise();
  const first = hits[0]!;
  const total = codes.reduce((a, c) => a + (ctx.platform.observationCounts.get(observationKey(d.vm, d.id, c)) ?? 0), 0);
  const more = total > 1 ? ` (and ${total - 1} more)` : '';
  return { verdict: 'FAIL', message: first.detail + more, evidence: hits.slice(0, 3).flatMap((h) => h.refs) };
}

/** Chains the device completed, over all its queues. */
export function completedChains(d: Device): number {
  let n = 0;
  for (const q of d.queues.values()) n += q.fills;
  return n;
}

export function firstRef(...refs: (Ref | undefined)[]): Ref[] {
  const r = refs.find((x) => x !== undefined);
  return r ? [r] : [];
}
