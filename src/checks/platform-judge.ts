/**
 * What the AVPS platform rules share: their shape (target `platform`, judged once per VM), the
 * evidence each can be decided by, declarations from the platform manifest, and the guest's
 * architecture where a requirement depends on it.
 */
import type { Declaration } from '../ingest/manifest.ts';
import { EVENT_KINDS } from '../model/events.ts';
import type { VmEvidence } from '../model/evidence.ts';
import type { Ref } from '../model/observations.ts';
import { defineRule, type Level, type Outcome, type Rule, type RuleContext } from './rule.ts';

/**
 * Evidence classes (AVPS-CATALOGUE.md): a the hypervisor's trace; b the guest's view (ftrace,
 * dmesg, /proc/interrupts, sysfs); c a device tree or the platform manifest; d host KVM or another
 * hypervisor's trace; e no trace can prove it (process, design, a capability).
 */
export type EvidenceClass = 'a' | 'b' | 'c' | 'd' | 'e';

/** Where a requirement's verdict can come from: evidence classes, and the inputs that carry it. */
export interface Sources {
  classes: EvidenceClass[];
  /** the events or facts the rule reads (event kinds, manifest keys) */
  needs: string[];
  /** input formats that provide them (adapter names, or `manifest`) */
  inputs: string[];
}

export interface AvpsRuleSpec {
  id: string;
  line: number;
  level: Level;
  title: string;
  /** the requirement's sentence as AVPS-2.0.txt words it */
  text: string;
  area: string;
  note?: string;
  sources: Sources;
  evaluate(ctx: RuleContext): Outcome;
}

/** Where each AVPS requirement's verdict can come from, by rule id (also those of other areas). */
export const AVPS_SOURCES = new Map<string, Sources>();

export function avpsRule(s: AvpsRuleSpec): Rule {
  AVPS_SOURCES.set(s.id, s.sources);
  return defineRule({
    id: s.id,
    title: s.title,
    level: s.level,
    target: 'platform',
    area: s.area,
    source: { spec: 'AVPS 2.0', where: `line ${s.line}`, text: s.text },
    // the event kinds its facts name
    needs: EVENT_KINDS.filter((k) => s.sources.needs.some((n) => new RegExp(`(^|[ (/])${k.replace('.', '\\.')}\\b`).test(n))),
    ...(s.note !== undefined ? { note: s.note } : {}),
    scope: 'vm',
    evaluate: (ctx) => s.evaluate(ctx),
  });
}

export function evidenceOf(ctx: RuleContext): VmEvidence {
  return ctx.platform.evidence.vm(ctx.vm);
}

export function declarationRef(d: Declaration): Ref {
  return { ts: 0, src: { file: d.file, line: d.line }, raw: d.text };
}

/**
 * A requirement only the integrator can vouch for: DECLARED from the manifest (FAIL where the
 * manifest declares a MUST not met; a MAY declared absent is NOT-APPLICABLE), NOT-OBSERVED
 * without it, naming the key that would decide it.
 */
export function fromManifest(ctx: RuleContext, level: Level, keys: string[], what: string): Outcome {
  if (!ctx.manifest) {
    return { verdict: 'NOT-OBSERVED', message: `no trace can show ${what}: declare it in a platform manifest (--manifest FILE, ${keys.join(', ')})` };
  }
  const decl = keys.map((k) => ctx.manifest!.get(k));
  const missing = keys.filter((_, i) => decl[i] === undefined);
  if (missing.length > 0) {
    return { verdict: 'NOT-OBSERVED', message: `the manifest ${ctx.manifest.file} does not declare ${missing.join(', ')} (${what})` };
  }
  const ds = decl as Declaration[];
  const evidence = ds.map(declarationRef);
  const no = ds.filter((d) => d.value === false);
  if (no.length > 0) {
    const keysNo = no.map((d) => d.key).join(', ');
    if (level === 'MAY') return { verdict: 'NOT-APPLICABLE', message: `optional, and the manifest declares it absent (${keysNo}: false)`, evidence };
    return { verdict: 'FAIL', message: `the manifest declares it not provided (${keysNo}: false): ${what}`, evidence };
  }
  const how = ds.map((d) => (typeof d.value === 'string' ? `${d.key}: ${d.value}` : `${d.key}: true`)).join('; ');
  return { verdict: 'DECLARED', message: `declared by the integrator, not observed: ${how}`, evidence };
}

export type Arch = 'arm64' | 'x86_64';

/** The guest's architecture, and what says so; undefined when nothing given does. */
export function archOf(ctx: RuleContext): { arch: Arch; why: string; ref?: Ref } | undefined {
  const ev = evidenceOf(ctx);
  const m = ctx.manifest?.data.arch;
  if (m !== undefined) {
    const d = ctx.manifest!.get('arch');
    return { arch: m, why: `the manifest says arch ${m}`, ...(d ? { ref: declarationRef(d) } : {}) };
  }
  const x86 = ev.bootLines('firmware').find((b) => /SeaBIOS|Probing EDD/.test(b.text)) ?? ev.irqs.find((i) => i.chip === 'IO-APIC');
  if (x86) return { arch: 'x86_64', why: 'text' in x86 ? `the boot log shows x86 firmware or setup code ("${x86.text}")` : "the guest's interrupts go through an IO-APIC", ref: x86.ref };
  const root = ev.dtNode('/');
  if (root) return { arch: 'arm64', why: 'the platform describes itself with a device tree blob', ref: root.ref };
  const gic = ev.irqs.find((i) => /^GIC/.test(i.chip ?? ''));
  if (gic) return { arch: 'arm64', why: "the guest's interrupts go through an Arm GIC", ref: gic.ref };
  return undefined;
}

/** What shows a device of a type in this VM: the host's device model, the guest's virtio list, a VMM's own events. */
export interface Presence {
  present: boolean;
  /** how it is known (present), or what would show it (absent) */
  message: string;
  evidence: Ref[];
  inferred: string[];
  /** true when the absence is proven (the guest's own device list was given) */
  provenAbsent: boolean;
}

export function presence(ctx: RuleContext, typeId: number, name: string, modelRef?: Ref): Presence {
  const ev = evidenceOf(ctx);
  const host = ctx.devices.find((d) => d.type()?.id === typeId);
  const guest = [...ev.guestDevices.values()].find((g) => g.deviceId === typeId);
  if (host) {
    const t = host.type()!;
    return {
      present: true,
      message: `${name} device ${host.id} (${t.how}: ${t.why})`,
      evidence: t.ref ? [t.ref] : [],
      inferred: t.how === 'inferred' ? [`${host.id}'s type ${name} inferred: ${t.why}`] : [],
      provenAbsent: false,
    };
  }
  if (guest) return { present: true, message: `the guest lists ${guest.dev} with device ID ${typeId} (${name})`, evidence: [guest.ref], inferred: [], provenAbsent: false };
  if (modelRef) return { present: true, message: `the trace logs ${name} traffic`, evidence: [modelRef], inferred: [], provenAbsent: false };
  if (ev.inputs.has('guest-virtio-devices')) {
    return { present: false, message: `no ${name} device in this VM: the guest's own virtio device list has none`, evidence: [], inferred: [], provenAbsent: true };
  }
  return {
    present: false,
    message: `no ${name} device in the trace; the guest's virtio device list (/sys/bus/virtio/devices) or the VMM's ${name} events would show whether there is one`,
    evidence: [],
    inferred: [],
    provenAbsent: false,
  };
}

/** The outcome for a requirement on a device the VM does not have (or that nothing shows). */
export function absent(p: Presence): Outcome {
  return { verdict: p.provenAbsent ? 'NOT-APPLICABLE' : 'NOT-OBSERVED', message: p.message };
}
