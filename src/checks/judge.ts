/** Judgements several rules share: feature requirements and observation-based verdicts. */
import type { Device } from '../model/device.ts';
import { ASSUMED_DRIVERS, F_VERSION_1, featureName, hasBit, hexBits, type AssumedDriver } from '../model/features.ts';
import type { ObservationCode, Ref } from '../model/observations.ts';
import { observationKey } from '../model/platform.ts';
import type { Outcome, RuleContext } from './rule.ts';

/** Assumed to accept `bit` whenever the device offers it: VERSION_1 by §6.1, others by the driver's feature table. */
function assumedAccepting(assume: AssumedDriver, typeId: number | undefined, bit: number): string | undefined {
  if (assume === 'none') return undefined;
  const driver = ASSUMED_DRIVERS[assume];
  if (bit === F_VERSION_1) return `the driver is ${driver.description.replace(/,.*$/, '')}, which accept VIRTIO_F_VERSION_1 whenever it is offered, as §6.1 requires of a driver`;
  if (typeId !== undefined && driver.accepts[typeId]?.includes(bit)) return `the driver is ${driver.description}`;
  return undefined;
}

/** The read of the offered word that holds `bit`, where the trace shows the words (register values); else the offer's line. */
function offeredRef(o: { ref: Ref; words?: Map<number, Ref> }, bit: number): Ref {
  return o.words?.get(bit >> 5) ?? o.ref;
}

/**
 * A feature the device must offer, judged from what the trace proves: in the device's own
 * offered word, or accepted by a driver, means offered (PASS); missing from the offered word, or
 * from the set accepted by a driver assumed to accept it whenever offered, means not offered
 * (FAIL, naming the assumption); anything else is NOT-OBSERVED. `caveat` is what else could
 * explain a missing bit under the assumed driver (the outcome keeps it among its assumptions).
 */
export function judgeOfferedFeature(d: Device, bit: number, assume: AssumedDriver, caveat?: string): Outcome {
  const typeId = d.type()?.id;
  const name = featureName(typeId, bit);
  const offered = [d.offered, ...d.status.sessions.map((s) => s.offered)].find((o) => o !== undefined && hasBit(o.bits, bit));
  if (offered) {
    // the read of the word that holds the bit, where the trace shows the words
    return { verdict: 'PASS', message: `${name} (bit ${bit}) is in the device's offered features ${hexBits(offered.bits)}`, evidence: [offeredRef(offered, bit)] };
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
    return { verdict: 'FAIL', message: `${name} (bit ${bit}) is missing from the device's offered features ${hexBits(deviceOffered.bits)}`, evidence: [offeredRef(deviceOffered, bit)] };
  }
  if (negotiated.length === 0) {
    return { verdict: 'NOT-OBSERVED', message: `the trace shows no feature negotiation for this device${d.transport === 'pci' ? ' (QEMU 7.2 logs no feature words for virtio-pci)' : ''}` };
  }
  const last = negotiated.at(-1)!;
  const assumption = assumedAccepting(assume, typeId, bit);
  if (assumption) {
    return {
      verdict: 'FAIL',
      message:
        `${name} (bit ${bit}) is not in the features the driver accepted (${hexBits(last.acc!.bits)}); ` +
        `assuming ${assumption}, the device did not offer it${caveat ? ` (${caveat})` : ''} (--assume-driver none to not assume)`,
      evidence: last.acc!.refFor(bit),
      assumptions: [assumption, ...(caveat ? [caveat] : [])],
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
