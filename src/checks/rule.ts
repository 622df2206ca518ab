/**
 * A rule: one requirement of a specification, with where it stands, how strong it is, whose duty
 * it is, what it applies to, and how to judge it from the replayed model.
 */
import type { Device } from '../model/device.ts';
import type { EventKind } from '../model/events.ts';
import type { AssumedDriver } from '../model/features.ts';
import type { Observation, Ref } from '../model/observations.ts';
import type { Platform } from '../model/platform.ts';
import type { Manifest } from '../ingest/manifest.ts';

/**
 * NOT-APPLICABLE: the requirement does not bind this platform (its condition is not met), said
 * with why. DECLARED: the vendor's declaration, not observed; never counted as observed or failed.
 */
export type Verdict = 'PASS' | 'FAIL' | 'NOT-OBSERVED' | 'NOT-APPLICABLE' | 'DECLARED';
export type Level = 'MUST' | 'SHOULD' | 'MAY';
/**
 * Whose duty the rule judges, from the spec's own wording: "The device MUST" (the hypervisor's
 * virtual device), "The driver MUST" (the guest), or an AVPS requirement on the platform.
 */
export type Target = 'device' | 'driver' | 'platform';
export const TARGETS: readonly Target[] = ['device', 'platform', 'driver'];

export interface RuleSource {
  spec: 'AVPS 2.0' | 'VIRTIO 1.3';
  /** AVPS: the line of AVPS-2.0.txt where the requirement's id stands; VIRTIO: the section */
  where: string;
  /** AVPS: the requirement's sentence as the spec words it; VIRTIO: the requirement in short */
  text: string;
}

export interface Outcome {
  verdict: Verdict;
  message: string;
  evidence?: Ref[];
  /** what the verdict takes for granted that the trace does not show (an assumed driver, ...) */
  assumptions?: string[];
  /** what the verdict rests on that was inferred rather than seen (a device type, an attribution) */
  inferred?: string[];
}

/**
 * A requirement judged as the roll-up of other rules: "according to VIRTIO chapter X" is every
 * statement of the given target in the given areas (general, transport, virtqueue and chapter
 * X) judged on the same device, plus the rule's own statement when it has one.
 */
export interface RollUp {
  areas: string[];
  target: Target;
}

export interface RuleContext {
  platform: Platform;
  vm: string;
  /** the devices of this VM */
  devices: Device[];
  observations: Observation[];
  assumeDriver: AssumedDriver;
  /** the integrator's platform manifest, when given: DECLARED verdicts come from it */
  manifest?: Manifest;
  /** `production`: a console present in the trace FAILs AVPS-v2.0-48 */
  profile?: Profile;
}

export type Profile = 'development' | 'production';

export interface Rule {
  id: string;
  title: string;
  level: Level;
  target: Target;
  /**
   * The spec area the rule belongs to, one file per area under rules/ (general, transport-mmio,
   * virtqueue, blk, net, ...): what a chapter roll-up collects.
   */
  area: string;
  source: RuleSource;
  /** why the rule has the id it has, where that needs saying */
  note?: string;
  /** the canonical events the rule reads (any of them may be enough); a roll-up also reads its parts' */
  needs?: EventKind[];
  /**
   * `device`: judged once per device of the listed types (any virtio device when absent); a VM
   * with no such device gets one NOT-OBSERVED. `vm`: judged once per VM.
   */
  scope: 'device' | 'vm';
  deviceTypes?: number[];
  /** for device rules that only make sense for some devices (a transport's registers): others are not listed */
  appliesTo?: (d: Device) => boolean;
  /** device-scope rules: the verdict for a VM with no device of the listed types (or one whose type is only guessed), where the trace says more than NOT-OBSERVED */
  absent?(ctx: RuleContext): Outcome | undefined;
  /** device-scope rules only: see RollUp */
  rollUp?: RollUp;
  /** the rule's own statement; a roll-up may have none (then it is its parts alone) */
  evaluate?(ctx: RuleContext, device: Device | undefined): Outcome;
}

export function defineRule(r: Rule): Rule {
  return r;
}
