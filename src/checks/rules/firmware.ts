/**
 * Boot and platform description (AVPS 2.0 §2.3 and the KASLR seed of §2.17): EBBR for dynamic boot
 * (-1, -2), a device tree for static systems (-3), and `kaslr-seed` in /chosen (-42). Judged from
 * the device tree blob, the guest's boot log and the platform manifest.
 */
import { cells } from '../../ingest/dtb/fdt.ts';
import { archOf, avpsRule, evidenceOf, fromManifest, type Sources } from '../platform-judge.ts';
import type { Outcome, RuleContext } from '../rule.ts';

const AREA = 'firmware';
const src = (classes: Sources['classes'], needs: string[], inputs: string[]): Sources => ({ classes, needs, inputs });

export const avps1 = avpsRule({
  id: 'AVPS-v2.0-1',
  line: 313,
  level: 'MUST',
  title: 'Dynamic boot implements EBBR',
  text: 'Virtual platforms that support a dynamic boot protocol MUST implement (the mandatory parts of*) EBBR.',
  area: AREA,
  sources: src(['b', 'c'], ['boot.log (efi: EFI v2.x)', 'manifest boot.dynamic, boot.ebbr'], ['boot-log', 'manifest']),
  evaluate(ctx) {
    const efi = evidenceOf(ctx).bootLines('efi');
    const dynamic = ctx.manifest?.get('boot.dynamic');
    if (dynamic?.value === false) return { verdict: 'NOT-APPLICABLE', message: 'the manifest declares no dynamic boot protocol (boot.dynamic: false)', evidence: [{ ts: 0, src: { file: dynamic.file, line: dynamic.line }, raw: dynamic.text }] };
    const v = efi.find((b) => b.version !== undefined);
    if (v) return { verdict: 'PASS', message: `the guest booted through UEFI ${v.version} (EBBR's boot interface); the rest of EBBR is not visible in a trace`, evidence: [v.ref] };
    if (ctx.manifest?.get('boot.ebbr')) return fromManifest(ctx, 'MUST', ['boot.ebbr'], 'EBBR for the dynamic boot protocol');
    return { verdict: 'NOT-OBSERVED', message: 'no UEFI boot in the guest\'s boot log (a dmesg with "efi: EFI v2.x" shows it) and no manifest declaration (boot.dynamic, boot.ebbr)' };
  },
});

export const avps2 = avpsRule({
  id: 'AVPS-v2.0-2',
  line: 316,
  level: 'MAY',
  title: 'ACPI or a device tree, whichever fits',
  text: 'Since EBBR allows either ACPI or Device Tree implementation, this can be chosen according to what fits best for the chosen hardware architecture and situation.',
  area: AREA,
  note: 'A freedom, not a duty ("can be chosen"): avpscope reads it as a MAY that never fails.',
  sources: src(['e'], [], []),
  evaluate(ctx) {
    const root = evidenceOf(ctx).dtNode('/');
    if (root) return { verdict: 'PASS', message: 'the platform is described by a device tree', evidence: [root.ref] };
    return { verdict: 'NOT-APPLICABLE', message: 'a choice the platform is free to make (ACPI or device tree): nothing to fail' };
  },
});

function x86NotApplicable(ctx: RuleContext, what: string): Outcome | undefined {
  const a = archOf(ctx);
  if (a?.arch !== 'x86_64' || evidenceOf(ctx).dtNode('/')) return undefined;
  return { verdict: 'NOT-APPLICABLE', message: `x86 has no device tree (ACPI describes the platform), so ${what}: ${a.why}`, ...(a.ref ? { evidence: [a.ref] } : {}) };
}

export const avps3 = avpsRule({
  id: 'AVPS-v2.0-3',
  line: 319,
  level: 'SHOULD',
  title: 'Static systems are described by a device tree',
  text: 'For systems that do not support a dynamic boot protocol (see discussion), the virtual hardware SHOULD still be described using a device tree format',
  area: AREA,
  sources: src(['c'], ['dt.node (virtio,mmio nodes: reg, interrupts)', 'the devices the trace shows on virtio-mmio'], ['dtb']),
  evaluate(ctx) {
    const na = x86NotApplicable(ctx, 'there is no device tree to describe the devices');
    if (na) return na;
    const ev = evidenceOf(ctx);
    const root = ev.dtNode('/');
    if (!root) return { verdict: 'NOT-OBSERVED', message: 'no device tree given: pass the platform\'s DTB (plain or gzip) with the trace' };
    const nodes = ev.dtCompatible('virtio,mmio').filter((n) => cells(n.props.reg).length > 0 && cells(n.props.interrupts).length > 0);
    const mmio = ctx.devices.filter((d) => d.transport === 'mmio');
    if (mmio.length > nodes.length) {
      return { verdict: 'FAIL', message: `the trace shows ${mmio.length} virtio-mmio devices, the device tree describes ${nodes.length} virtio,mmio transports`, evidence: [root.ref] };
    }
    const first = nodes[0];
    return {
      verdict: 'PASS',
      message:
        `the device tree describes ${nodes.length} virtio,mmio transports, each with reg and interrupts` +
        (mmio.length > 0 ? `, enough for the ${mmio.length} virtio-mmio devices the trace shows` : ''),
      evidence: first ? [first.ref] : [root.ref],
      ...(mmio.length > 0 ? { inferred: ['devices matched to nodes by count: QEMU\'s log carries no MMIO addresses or interrupt numbers'] } : {}),
    };
  },
});

export const avps42 = avpsRule({
  id: 'AVPS-v2.0-42',
  line: 1550,
  level: 'MUST',
  title: 'A kaslr-seed in the device tree\'s /chosen',
  text: 'The virtual platform MUST provide a high-quality random number seed immediately available during the boot process and described in the hardware device tree using the name kaslr-seed',
  area: AREA,
  sources: src(['b', 'c'], ['dt.node /chosen kaslr-seed', 'boot.log (the guest\'s /chosen, KASLR state)'], ['dtb', 'boot-log']),
  evaluate(ctx) {
    const na = x86NotApplicable(ctx, 'there is no /chosen node for a kaslr-seed');
    if (na) return na;
    const ev = evidenceOf(ctx);
    const chosen = ev.dtNode('/chosen');
    if (chosen) {
      const seed = chosen.props['kaslr-seed'];
      if (seed === undefined) return { verdict: 'FAIL', message: 'the device tree\'s /chosen has no kaslr-seed', evidence: [chosen.ref] };
      const c = cells(seed);
      if (c.length === 0 || c.every((x) => x === 0)) return { verdict: 'FAIL', message: 'the device tree\'s /chosen kaslr-seed is empty or zero: no seed', evidence: [chosen.ref] };
      return { verdict: 'PASS', message: `the device tree's /chosen carries a ${c.length * 32}-bit kaslr-seed`, evidence: [chosen.ref] };
    }
    const seen = ev.bootLines('kaslr').find((b) => /kaslr-seed/.test(b.text));
    if (seen) return { verdict: 'PASS', message: 'the guest finds kaslr-seed in its /chosen', evidence: [seen.ref] };
    if (ev.dtNode('/')) return { verdict: 'FAIL', message: 'the device tree has no /chosen node', evidence: [ev.dtNode('/')!.ref] };
    return { verdict: 'NOT-OBSERVED', message: 'no device tree given (its /chosen would show the kaslr-seed) and the boot log does not show one' };
  },
});

/** GPIO controllers Linux has drivers for, as device trees name them. */
const GPIO_BLOCKS = ['arm,pl061', 'gpio-mmio', 'snps,dw-apb-gpio'];

export const avps38 = avpsRule({
  id: 'AVPS-v2.0-38',
  line: 1380,
  level: 'MAY',
  title: 'An emulated GPIO block is optional',
  text: 'The platform may provide emulation of a widely used GPIO block which already has drivers in Linux and other kernels',
  area: 'gpio',
  sources: src(['c'], ['dt.node (arm,pl061 or another GPIO controller Linux drives)', 'manifest gpio.emulated_block'], ['dtb', 'manifest']),
  evaluate(ctx) {
    const node = GPIO_BLOCKS.flatMap((c) => evidenceOf(ctx).dtCompatible(c))[0];
    if (node) return { verdict: 'PASS', message: `the platform emulates a GPIO block Linux drives: ${node.path}`, evidence: [node.ref] };
    if (ctx.manifest?.get('gpio.emulated_block')) return fromManifest(ctx, 'MAY', ['gpio.emulated_block'], 'an emulated GPIO block');
    return { verdict: 'NOT-APPLICABLE', message: 'optional (MAY): nothing to fail' };
  },
});
