/**
 * The GPU chapter of AVPS 2.0 (2D: -17..-23 against VIRTIO §5.7; 3D and composition: -24..-29),
 * judged from QEMU's GPU events, the guest's virtio_gpu tracepoints, its virtio device list and
 * /proc/interrupts, and the platform manifest for what no trace shows.
 */
import { DEVICE_ID } from '../../model/device-types.ts';
import { GPU_CMD, gpuCodeName } from '../../model/devices/gpu-codes.ts';
import { GPU_QUEUE } from '../../model/devices/gpu.ts';
import type { Ref } from '../../model/observations.ts';
import { absent, avpsRule, evidenceOf, fromManifest, presence, type Sources } from '../platform-judge.ts';
import type { Outcome, RuleContext } from '../rule.ts';

const AREA = 'gpu';
const GPU = DEVICE_ID.gpu;
const HOST_GPU = 'gpu.cmd (QEMU virtio_gpu_cmd_*)';
const GUEST_GPU = 'gpu.cmd (guest virtio_gpu_cmd_queue/response)';
const src = (classes: Sources['classes'], needs: string[], inputs: string[]): Sources => ({ classes, needs, inputs });

function gpuPresence(ctx: RuleContext) {
  const ev = evidenceOf(ctx);
  return presence(ctx, GPU, 'virtio-gpu', ev.gpu.host.first ?? ev.gpu.guest.first);
}

export const avps17 = avpsRule({
  id: 'AVPS-v2.0-17',
  line: 593,
  level: 'MUST',
  title: 'The GPU has device ID 16 (VIRTIO §5.7.1)',
  text: 'The device ID MUST be set according to the requirement in chapter 5.7.1 in [VIRTIO-GPU].',
  area: AREA,
  sources: src(['a', 'b'], ['device (guest sysfs device id)', 'device / pci.msix (host model name)'], ['guest-virtio-devices', 'qemu-log', 'jsonl']),
  evaluate(ctx) {
    const p = gpuPresence(ctx);
    if (!p.present) return absent(p);
    const ev = evidenceOf(ctx);
    const misfit = [...ev.guestDevices.values()].find((g) => g.driver === 'virtio_gpu' && g.deviceId !== GPU);
    if (misfit) return { verdict: 'FAIL', message: `the guest's virtio_gpu driver is bound to ${misfit.dev}, whose device ID is ${misfit.deviceId}, not 16`, evidence: [misfit.ref] };
    const guest = [...ev.guestDevices.values()].find((g) => g.deviceId === GPU);
    if (guest) {
      const joined = ctx.devices.find((d) => d.guestJoin?.dev === guest.dev);
      return {
        verdict: 'PASS',
        message: `the guest reads device ID 16 from ${guest.dev}${guest.driver ? ` and binds ${guest.driver}` : ''}`,
        evidence: [guest.ref],
        ...(joined ? { inferred: [joined.guestJoin!.how] } : {}),
      };
    }
    const host = ctx.devices.find((d) => d.type()?.id === GPU);
    const t = host?.type();
    if (host && t?.how === 'seen' && t.ref) {
      return { verdict: 'PASS', message: `${host.id} is a virtio-gpu device (${t.why}), device ID 16`, evidence: [t.ref] };
    }
    return {
      verdict: 'NOT-OBSERVED',
      message: `${p.message}; the ID it presents is not in the trace (the guest's virtio device list shows it)`,
      ...(p.inferred.length > 0 ? { inferred: p.inferred } : {}),
    };
  },
});

export const avps18 = avpsRule({
  id: 'AVPS-v2.0-18',
  line: 599,
  level: 'MUST',
  title: 'GPU virtqueues: controlq 0, cursorq 1 (VIRTIO §5.7.2)',
  text: 'The virtqueues MUST be set up according to the requirement in chapter 5.7.2 in [VIRTIO-GPU].',
  area: AREA,
  sources: src(['a', 'b'], [GUEST_GPU, 'irq.count (virtioN-control, virtioN-cursor)', 'vq.pop queues of the GPU device'], ['ftrace', 'guest-interrupts', 'qemu-log', 'jsonl']),
  evaluate(ctx) {
    const p = gpuPresence(ctx);
    if (!p.present) return absent(p);
    const ev = evidenceOf(ctx);
    const g = ev.gpu;
    if (g.wrongQueue.faultCount > 0) {
      return { verdict: 'FAIL', message: g.wrongQueue.faults[0]!.detail + (g.wrongQueue.faultCount > 1 ? ` (and ${g.wrongQueue.faultCount - 1} more)` : ''), evidence: g.wrongQueue.faults.slice(0, 3).map((f) => f.ref) };
    }
    const hosts = ctx.devices.filter((d) => d.type()?.id === GPU);
    for (const h of hosts) {
      const extra = [...h.queues.keys()].filter((q) => q > GPU_QUEUE.cursor);
      if (extra.length > 0) {
        const ref = h.queues.get(extra[0]!)!.firstFill;
        return { verdict: 'FAIL', message: `${h.id} uses queue(s) ${extra.join(', ')}: a virtio-gpu device has controlq 0 and cursorq 1 only`, evidence: ref ? [ref] : [] };
      }
    }
    const evidence: Ref[] = [];
    const parts: string[] = [];
    const gpuDevs = [...ev.guestDevices.values()].filter((d) => d.deviceId === GPU).map((d) => d.dev);
    const irqs = ev.irqs.filter((i) => gpuDevs.some((d) => i.name === `${d}-control` || i.name === `${d}-cursor`));
    if (irqs.some((i) => i.name?.endsWith('-control')) && irqs.some((i) => i.name?.endsWith('-cursor'))) {
      parts.push(`the guest's interrupts name both queues (${irqs.map((i) => `${i.name} ${i.count}`).join(', ')})`);
      evidence.push(...irqs.map((i) => i.ref));
    }
    const control = g.guestQueues.get(GPU_QUEUE.control);
    if (control) {
      parts.push(`${control.n} control commands on queue 0${g.guestQueues.get(GPU_QUEUE.cursor) ? `, ${g.guestQueues.get(GPU_QUEUE.cursor)!.n} cursor commands on queue 1` : ''}, none on the wrong queue`);
      evidence.push(control.first);
    }
    if (evidence.length === 0 && hosts.some((h) => h.queues.has(GPU_QUEUE.control))) {
      const h = hosts.find((x) => x.queues.has(GPU_QUEUE.control))!;
      const ref = h.queues.get(GPU_QUEUE.control)!.firstFill;
      parts.push(`${h.id} serves queue 0${h.queues.has(GPU_QUEUE.cursor) ? ' and 1' : ''} and no other`);
      if (ref) evidence.push(ref);
    }
    if (evidence.length === 0) return { verdict: 'NOT-OBSERVED', message: `${p.message}, but no queue of it is seen in use; the guest's ftrace or /proc/interrupts shows them` };
    return { verdict: 'PASS', message: parts.join('; '), evidence: evidence.slice(0, 4) };
  },
});

/** "[drm] features: -virgl +edid ..." from the guest's virtio_gpu driver: what it negotiated. */
function drmFeature(ctx: RuleContext, flag: 'virgl' | 'edid'): { on: boolean; ref: Ref } | undefined {
  for (const b of evidenceOf(ctx).bootLines('gpu')) {
    const m = new RegExp(`([+-])${flag}\\b`).exec(b.text);
    if (m && /features:/.test(b.text)) return { on: m[1] === '+', ref: b.ref };
  }
  return undefined;
}

const FIRST_3D = GPU_CMD.CTX_CREATE;
const LAST_3D = GPU_CMD.RESOURCE_UNMAP_BLOB;

export const avps19 = avpsRule({
  id: 'AVPS-v2.0-19',
  line: 603,
  level: 'MUST',
  title: 'VIRTIO_GPU_F_VIRGL is not set',
  text: 'The VIRTIO_GPU_F_VIRGL flag, described in chapter 5.7.3 in [VIRTIO-GPU], MUST NOT be set.',
  area: AREA,
  note: 'AVPS-2.0.txt places "MUST NOT be set." before the rest of the sentence (PDF extraction); the level is MUST (NOT).',
  sources: src(['a', 'b'], ['gpu.features (QEMU virtio_gpu_features virgl N)', 'boot.log ([drm] features: ±virgl)', 'gpu.cmd 3D commands'], ['qemu-log', 'boot-log', 'jsonl']),
  evaluate(ctx) {
    const p = gpuPresence(ctx);
    if (!p.present) return absent(p);
    const g = evidenceOf(ctx).gpu;
    const on = g.virgl.find((v) => v.on);
    if (on) return { verdict: 'FAIL', message: 'the device offers VIRTIO_GPU_F_VIRGL (QEMU: virgl 1)', evidence: [on.ref] };
    const drm = drmFeature(ctx, 'virgl');
    if (drm?.on) return { verdict: 'FAIL', message: 'the guest driver negotiated VIRTIO_GPU_F_VIRGL (+virgl)', evidence: [drm.ref] };
    const threeD = [...g.hostTypes.entries()].find(([t]) => t >= FIRST_3D && t <= LAST_3D);
    if (threeD) return { verdict: 'FAIL', message: `the device processed 3D command ${gpuCodeName(threeD[0])}, which only VIRGL allows`, evidence: [threeD[1].first] };
    const off = g.virgl.find((v) => !v.on);
    if (off) return { verdict: 'PASS', message: `the device reports virgl 0 each time its features are read (${g.virgl.length} time(s))`, evidence: [off.ref] };
    if (drm) return { verdict: 'PASS', message: 'the guest driver reports -virgl', evidence: [drm.ref] };
    return { verdict: 'NOT-OBSERVED', message: `${p.message}; its features are not in the trace (QEMU logs virtio_gpu_features when the trace enables it)` };
  },
});

export const avps20 = avpsRule({
  id: 'AVPS-v2.0-20',
  line: 608,
  level: 'MUST',
  title: 'VIRTIO_GPU_F_EDID is set and GET_EDID answered',
  text: 'The VIRTIO_GPU_F_EDID flag, described in chapter 5.7.3 in [VIRTIO-GPU], MUST be set and supported to allow the guest to use display size to calculate the DPI value.',
  area: AREA,
  sources: src(['a', 'b'], [GUEST_GPU + ': GET_EDID and its response', HOST_GPU + ': GET_EDID, GET_DISPLAY_INFO', 'boot.log ([drm] features: ±edid)'], ['ftrace', 'qemu-log', 'boot-log', 'jsonl']),
  evaluate(ctx) {
    const p = gpuPresence(ctx);
    if (!p.present) return absent(p);
    const g = evidenceOf(ctx).gpu;
    if (g.edidAnswers.err > 0) return { verdict: 'FAIL', message: `GET_EDID answered with an error ${g.edidAnswers.err} time(s), not with an EDID`, evidence: [g.edidAnswers.errRef!] };
    if (g.edidAnswers.ok > 0) return { verdict: 'PASS', message: `GET_EDID answered with RESP_OK_EDID (${g.edidAnswers.ok} time(s))`, evidence: [g.edidAnswers.okRef!] };
    const drm = drmFeature(ctx, 'edid');
    if (drm && !drm.on) return { verdict: 'FAIL', message: 'the guest driver reports -edid: the device does not offer VIRTIO_GPU_F_EDID', evidence: [drm.ref] };
    const edid = g.hostTypes.get(GPU_CMD.GET_EDID);
    if (edid) {
      return {
        verdict: 'PASS',
        message: `the device processed GET_EDID ${edid.n} time(s): the driver asks only when VIRTIO_GPU_F_EDID was negotiated`,
        evidence: [edid.first],
        inferred: ['QEMU logs virtio_gpu_cmd_get_edid where it answers with the EDID; its response is not in the log'],
      };
    }
    const info = g.hostTypes.get(GPU_CMD.GET_DISPLAY_INFO);
    if (info && ctx.assumeDriver === 'linux') {
      return {
        verdict: 'FAIL',
        message: 'the driver initialised the display (GET_DISPLAY_INFO) without asking GET_EDID: the device did not offer VIRTIO_GPU_F_EDID',
        evidence: [info.first],
        assumptions: ["Linux's virtio_gpu driver sends GET_EDID before GET_DISPLAY_INFO whenever VIRTIO_GPU_F_EDID is negotiated (--assume-driver none to not assume)"],
      };
    }
    return { verdict: 'NOT-OBSERVED', message: `${p.message}; no GET_EDID and no display initialisation in the trace` };
  },
});

/** virtio_gpu_config (§5.7.4): events_read 0x0, events_clear 0x4, num_scanouts 0x8, num_capsets 0xc; only events_clear is writable. */
const EVENTS_CLEAR = 0x100 + 0x4;

export const avps21 = avpsRule({
  id: 'AVPS-v2.0-21',
  line: 612,
  level: 'MUST',
  title: 'GPU configuration layout per §5.7.4; only events_clear written',
  text: 'The implementation MUST use the device configuration layout according to chapter 5.7.4 in [VIRTIO-GPU]. The implementation MUST NOT touch the reserved structure field as it is used for the 3D mode.',
  area: AREA,
  sources: src(['a'], ['mmio.write at config offsets of the GPU (virtio-mmio)'], ['qemu-log', 'jsonl']),
  evaluate(ctx) {
    const p = gpuPresence(ctx);
    if (!p.present) return absent(p);
    const ev = evidenceOf(ctx);
    const hosts = ctx.devices.filter((d) => d.type()?.id === GPU);
    for (const h of hosts) {
      const w = ev.configWrites.get(h.id);
      if (!w) continue;
      const bad = [...w.offsets.entries()].filter(([o]) => o !== EVENTS_CLEAR);
      if (bad.length > 0) {
        return { verdict: 'FAIL', message: `configuration written at offset(s) ${bad.map(([o]) => '0x' + (o - 0x100).toString(16)).join(', ')}: only events_clear (0x4) is writable in virtio_gpu_config`, evidence: bad.slice(0, 3).map(([, r]) => r) };
      }
      return { verdict: 'PASS', message: `${w.n} configuration write(s), all to events_clear`, evidence: [w.offsets.get(EVENTS_CLEAR)!] };
    }
    const pci = hosts.some((h) => h.transport === 'pci');
    return { verdict: 'NOT-OBSERVED', message: `no configuration access of the GPU in the trace${pci ? ' (QEMU 7.2 logs no virtio-pci configuration accesses)' : ''}` };
  },
});

export const avps22 = avpsRule({
  id: 'AVPS-v2.0-22',
  line: 621,
  level: 'MUST',
  title: 'GPU device operation per §5.7.6: the 2D flow, answered OK or with a named error',
  text: 'The implementation MUST support the device operation concept (the command set and the operation flow) according to chapter 5.7.6 in [VIRTIO-GPU].',
  area: AREA,
  sources: src(['a', 'b'], [HOST_GPU + ': create, attach, scanout, transfer, flush per resource', GUEST_GPU + ': response codes'], ['qemu-log', 'ftrace', 'jsonl']),
  evaluate(ctx): Outcome {
    const p = gpuPresence(ctx);
    if (!p.present) return absent(p);
    const g = evidenceOf(ctx).gpu;
    if (g.unnamed.faultCount > 0) {
      return { verdict: 'FAIL', message: g.unnamed.faults[0]!.detail + (g.unnamed.faultCount > 1 ? ` (and ${g.unnamed.faultCount - 1} more)` : ''), evidence: g.unnamed.faults.slice(0, 3).map((f) => f.ref) };
    }
    const order = g.outOfOrder.faultCount > 0 ? `; the driver also sent ${g.outOfOrder.faultCount} step(s) out of order (first: ${g.outOfOrder.faults[0]!.detail})` : '';
    const responses = [...g.responses.values()].reduce((a, r) => a + r.n, 0);
    const errors = [...g.responses.entries()].filter(([c]) => c >= GPU_CMD.RESP_ERR_UNSPEC).reduce((a, [, r]) => a + r.n, 0);
    if (g.flowComplete) {
      const ans = responses > 0 ? `; ${responses} responses, all VIRTIO_GPU_RESP_* codes (${errors} named errors)` : '';
      return { verdict: 'PASS', message: `the 2D flow ran in order (create, attach backing, set scanout, transfer, flush)${ans}${order}`, evidence: [g.flowComplete] };
    }
    return { verdict: 'NOT-OBSERVED', message: `${p.message}; no complete 2D flow (create, attach backing, set scanout, transfer, flush) in the trace${order}` };
  },
});

const optional = (id: string, line: number, title: string, text: string, sources: Sources, why: string) =>
  avpsRule({
    id, line, level: 'MAY', title, text, area: AREA, sources,
    evaluate: () => ({ verdict: 'NOT-APPLICABLE', message: `optional (AVPS makes it a MAY): ${why}` }),
  });

export const avps23 = optional('AVPS-v2.0-23', 633, 'VGA compatibility is optional', 'VGA compatibility, as described in chapter 5.7.7 in [VIRTIO-GPU], is optional.',
  src(['e'], [], []), 'nothing to fail');
export const avps24 = optional('AVPS-v2.0-24', 827, 'VIRTIO-GPU (3D) is optional', 'VIRTIO-GPU is an optional feature.', src(['e'], [], []), 'nothing to fail');

const declaredGpu = (id: string, line: number, title: string, text: string, key: string, what: string) =>
  avpsRule({
    id, line, level: 'MUST', title, text, area: AREA,
    note: 'AVPS words this with "shall", which AVPS lines 221-223 read as MUST.',
    sources: src(['c', 'e'], [key], ['manifest']),
    evaluate: (ctx) => fromManifest(ctx, 'MUST', [key], what),
  });

export const avps25 = declaredGpu('AVPS-v2.0-25', 831, 'Graphics virtualization with portable APIs',
  'If the hardware supports graphics virtualization (according to the common model described above) then the VP shall implement it with APIs that promote future portability.',
  'graphics.virtualization_api', 'graphics virtualization through portable APIs');
export const avps26 = declaredGpu('AVPS-v2.0-26', 872, 'Graphics output separated between VMs',
  'The virtual platform shall support separating graphics output from VMs into different outputs, including a guarantee that VMs cannot view or modify the other VM’s output',
  'graphics.output_isolation', 'separate outputs per VM that other VMs cannot read or modify');
export const avps27 = declaredGpu('AVPS-v2.0-27', 880, 'A single output assignable to one VM',
  'If there is a single output, it shall still be possible to assign one out of several VMs to this display output',
  'graphics.single_output_assignment', 'assigning a single output to one of several VMs');
export const avps28 = declaredGpu('AVPS-v2.0-28', 884, 'Composition of several VMs\' graphics',
  'The virtual platform shall have the ability to compose graphics from several VMs into the final output',
  'graphics.composition', 'composing graphics from several VMs');
export const avps29 = declaredGpu('AVPS-v2.0-29', 892, 'A composition policy can be defined',
  'The Virtual Platform shall implement support for defining the policy for combining the graphics, including masking',
  'graphics.composition_policy', 'a policy for combining graphics');
