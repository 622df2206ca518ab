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
import { RING_RULES } from './visibility.ts';
import type { Level, Outcome, Rule, Verdict } from './rule.ts';

export interface Finding {
  rule: string;
  title: string;
  level: Level;
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
}

export interface CheckOptions {
  assumeDriver?: AssumedDriver;
  rules?: readonly Rule[];
}

/** Devices a rule can say something about: virtio devices the driver or device did anything with. */
function judged(d: Device): boolean {
  return d.type() !== undefined || d.status.sessions.length > 0 || d.queues.size > 0;
}

export function runChecks(platform: Platform, opts: CheckOptions = {}): Finding[] {
  const out: Finding[] = [];
  const assumeDriver = opts.assumeDriver ?? 'linux';
  for (const vm of platform.vms.values()) {
    const devices = [...vm.devices.values()].filter(judged);
    const observations = platform.observations.filter((o) => o.vm === vm.name);
    const ctx = { platform, vm: vm.name, devices, observations, assumeDriver };
    // a ring rule the VM's traces cannot judge says why
    const unseenSaid = (o: Outcome, id: string): Outcome => {
      const why = o.verdict === 'NOT-OBSERVED' && RING_RULES.has(id) ? platform.ringsUnseen.get(vm.name) : undefined;
      return why === undefined ? o : { ...o, message: why };
    };
    for (const rule of opts.rules ?? CATALOGUE) {
      const base = { rule: rule.id, title: rule.title, level: rule.level, spec: rule.source.spec, where: rule.source.where, vm: vm.name };
      if (rule.scope === 'vm') {
        const o = unseenSaid(rule.evaluate(ctx, undefined), rule.id);
        out.push({ ...base, dev: null, dev_type: null, dev_type_how: null, verdict: o.verdict, message: o.message, evidence: o.evidence ?? [] });
        continue;
      }
      const targets = devices.filter((d) => !rule.deviceTypes || rule.deviceTypes.includes(d.type()?.id ?? -1));
      const applicable = targets.filter((d) => rule.appliesTo?.(d) ?? true);
      // an AVPS requirement is a platform requirement: a VM without such a device is worth saying;
      // a VIRTIO device chapter says nothing about a platform that has no such device
      if (targets.length === 0 && rule.source.spec === 'VIRTIO 1.3') continue;
      if (targets.length === 0) {
        const what = rule.deviceTypes ? rule.deviceTypes.map((t) => `virtio-${deviceTypeName(t)}`).join(' or ') : 'virtio';
        out.push({ ...base, dev: null, dev_type: null, dev_type_how: null, verdict: 'NOT-OBSERVED', message: `no ${what} device in the trace`, evidence: [] });
        continue;
      }
      for (const d of applicable) {
        const t = d.type();
        const o = unseenSaid(rule.evaluate(ctx, d), rule.id);
        out.push({ ...base, dev: d.id, dev_type: t?.name ?? null, dev_type_how: t?.how ?? null, verdict: o.verdict, message: o.message, evidence: o.evidence ?? [] });
      }
    }
  }
  return out;
}
