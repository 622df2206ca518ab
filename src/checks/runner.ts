/**
 * Judges every rule of the catalogue against a replayed run: once per device of the types a rule
 * applies to (one NOT-OBSERVED for a VM that has none), or once per VM.
 */
import { deviceTypeName } from '../model/device-types.ts';
import type { Device } from '../model/device.ts';
import type { AssumedDriver } from '../model/features.ts';
import type { Ref } from '../model/observations.ts';
import type { Platform } from '../model/platform.ts';
import { CATALOGUE } from './catalogue.ts';
import type { Manifest } from '../ingest/manifest.ts';
import { rollUpOutcome, type Part } from './rollup.ts';
import type { Level, Outcome, Profile, Rule, RuleContext, Target, Verdict } from './rule.ts';
import { RING_RULES } from './visibility.ts';

export interface Finding {
  rule: string;
  title: string;
  level: Level;
  target: Target;
  area: string;
  spec: string;
  where: string;
  vm: string;
  /** device instance, or null for a VM-level verdict */
  dev: string | null;
  dev_type: string | null;
  /** how the device type is known */
  dev_type_how: 'seen' | 'inferred' | null;
  verdict: Verdict;
  message: string;
  evidence: Ref[];
  assumptions: string[];
  inferred: string[];
}

export interface CheckOptions {
  assumeDriver?: AssumedDriver;
  rules?: readonly Rule[];
  manifest?: Manifest;
  profile?: Profile;
}

/** Devices a rule can say something about: virtio devices the driver or device did anything with. */
function judged(d: Device): boolean {
  return d.type() !== undefined || d.status.sessions.length > 0 || d.queues.size > 0;
}

/**
 * A PASS must show the line it stands on: one without evidence is a rule's bug, reported as
 * NOT-OBSERVED (never as a PASS) so that a bug cannot turn into a verdict.
 */
export const PASS_WITHOUT_EVIDENCE = 'judged PASS, but with no trace line to show for it: not a PASS';

function settle(o: Outcome): Pick<Finding, 'verdict' | 'message' | 'evidence' | 'assumptions' | 'inferred'> {
  const evidence = o.evidence ?? [];
  const rest = { evidence, assumptions: o.assumptions ?? [], inferred: o.inferred ?? [] };
  if (o.verdict === 'PASS' && evidence.length === 0) return { verdict: 'NOT-OBSERVED', message: `${o.message} (${PASS_WITHOUT_EVIDENCE})`, ...rest };
  return { verdict: o.verdict, message: o.message, ...rest };
}

/**
 * A type-specific requirement is judged only on a device whose type a trace line names: a type
 * guessed from queue shapes could as well be another (virtio-scsi takes a block device's shape,
 * virtio-input an entropy device's, vsock a network device's).
 */
function typeGate(rule: Rule, d: Device): Outcome | undefined {
  const t = d.type();
  if (!rule.deviceTypes || !t || t.how === 'seen') return undefined;
  return {
    verdict: 'NOT-OBSERVED',
    message:
      `the device is virtio-${t.name} only by inference (${t.why}), and a ${rule.source.spec === 'AVPS 2.0' ? 'requirement' : 'statement'} on virtio-${t.name} devices is judged only where a trace line names the type: ` +
      'other device types take the same queue shapes (virtio-scsi a block device\'s, virtio-input an entropy device\'s, vsock a network device\'s)',
    inferred: [`${d.id} is virtio-${t.name}: ${t.why}`],
  };
}

export function runChecks(platform: Platform, opts: CheckOptions = {}): Finding[] {
  const out: Finding[] = [];
  const assumeDriver = opts.assumeDriver ?? 'linux';
  const rules = opts.rules ?? CATALOGUE;
  for (const vm of platform.vms.values()) {
    const devices = [...vm.devices.values()].filter(judged);
    const observations = platform.observations.filter((o) => o.vm === vm.name);
    const ctx: RuleContext = { platform, vm: vm.name, devices, observations, assumeDriver, manifest: opts.manifest, profile: opts.profile };
    /** per device, what the statements a roll-up may collect said */
    const parts = new Map<Device, Part[]>();
    const found: { order: number; finding: Finding }[] = [];
    // a ring rule the VM's traces cannot judge says why
    const unseenSaid = (o: Outcome, id: string): Outcome => {
      const why = o.verdict === 'NOT-OBSERVED' && RING_RULES.has(id) ? platform.ringsUnseen.get(vm.name) : undefined;
      return why === undefined ? o : { ...o, message: why };
    };
    const judge = (rule: Rule, d: Device): Outcome => {
      const o = unseenSaid(judgeDevice(rule, d), rule.id);
      // a type or features the guest's sysfs settled rest on joining its device to this one
      return d.guestJoin && rule.deviceTypes ? { ...o, inferred: [...(o.inferred ?? []), d.guestJoin.how] } : o;
    };
    const judgeDevice = (rule: Rule, d: Device): Outcome => {
      // a device of a guessed type is as good as absent: what the rule says of a VM without one holds
      const gated = typeGate(rule, d);
      if (gated) return rule.absent?.(ctx) ?? gated;
      const own = rule.evaluate ? [{ rule, outcome: rule.evaluate(ctx, d) }] : [];
      if (!rule.rollUp) return own[0]!.outcome;
      const { areas, target } = rule.rollUp;
      return rollUpOutcome([...own, ...(parts.get(d) ?? []).filter((p) => p.rule.target === target && areas.includes(p.rule.area))]);
    };
    // roll-ups last, so that the statements they collect are judged; reported in catalogue order
    const order = rules.map((rule, i) => ({ rule, i })).sort((a, b) => Number(a.rule.rollUp !== undefined) - Number(b.rule.rollUp !== undefined));
    for (const { rule, i } of order) {
      const base = {
        rule: rule.id, title: rule.title, level: rule.level, target: rule.target, area: rule.area,
        spec: rule.source.spec, where: rule.source.where, vm: vm.name,
      };
      const none = { dev: null, dev_type: null, dev_type_how: null };
      const push = (finding: Finding) => found.push({ order: i, finding });
      if (rule.scope === 'vm') {
        push({ ...base, ...none, ...settle(unseenSaid(rule.evaluate!(ctx, undefined), rule.id)) });
        continue;
      }
      const targets = devices.filter((d) => !rule.deviceTypes || rule.deviceTypes.includes(d.type()?.id ?? -1));
      const applicable = targets.filter((d) => rule.appliesTo?.(d) ?? true);
      // an AVPS requirement is a platform requirement: a VM without such a device is worth saying;
      // a VIRTIO device chapter says nothing about a platform that has no such device
      if (targets.length === 0 && rule.source.spec === 'VIRTIO 1.3') continue;
      if (targets.length === 0) {
        const what = rule.deviceTypes ? rule.deviceTypes.map((t) => `virtio-${deviceTypeName(t)}`).join(' or ') : 'virtio';
        push({ ...base, ...none, ...settle(rule.absent?.(ctx) ?? { verdict: 'NOT-OBSERVED', message: `no ${what} device in the trace` }) });
        continue;
      }
      for (const d of applicable) {
        const t = d.type();
        const outcome = judge(rule, d);
        if (!rule.rollUp) parts.set(d, [...(parts.get(d) ?? []), { rule, outcome }]);
        push({ ...base, dev: d.id, dev_type: t?.name ?? null, dev_type_how: t?.how ?? null, ...settle(outcome) });
      }
    }
    out.push(...found.sort((a, b) => a.order - b.order).map((x) => x.finding));
  }
  return out;
}
