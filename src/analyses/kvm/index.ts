/**
 * Latency from the host kernel's side, per VM and device, for any KVM-based VMM (the same figures
 * for QEMU, Firecracker, crosvm, ...), from the events of host KVM traces only:
 *
 * - access: a register access the VMM serves in userspace, from KVM's exit to the VMM until the vCPU
 *   resumes with the answer (`kvm.exit` events: reads from the unsatisfied-read/read pair; writes
 *   where `kvm_entry` shows the resume, i.e. on VMX/SVM hosts);
 * - doorbell: a queue notify write → the device's next interrupt that covers that queue (MSI-X: the
 *   queue's own vector; virtio-mmio: the device's line, which does not tell the queue), the VMM's
 *   service time as the guest sees it (on a receive queue it includes the wait for input);
 * - inject: an interrupt raised by the VMM (`kvm_set_irq`, `kvm_msi_set_irq`) → the guest's local
 *   APIC accepting that vector (`kvm_apic_accept_irq`).
 */
import type { Event } from '../../model/events.ts';
import { MMIO } from '../../model/transport/mmio.ts';
import type { TableDecl } from '../../perf/tables.ts';
import type { Analysis } from '../analysis.ts';
import { KVM_JOIN, KVM_SAMPLES, type KvmSampleRow } from './tables.ts';

/** An interrupt raise not accepted within this is not paired (a masked or coalesced one). */
const INJECT_WINDOW_NS = 100e6;

export const kvmAnalysis: Analysis = {
  name: 'kvm',
  tables: [KVM_SAMPLES, KVM_JOIN] as TableDecl<never>[],
  start(ctx, sink) {
    for (const j of ctx.kvmJoins) {
      sink.add(KVM_JOIN, {
        vm: j.vm, kvm_file: j.kvmFile, vmm_file: j.vmmFile, available: j.available, reason: j.reason,
        offset_ns: j.offsetNs, median_delay_ns: j.medianDelayNs, pairs: j.pairs, device_map: JSON.stringify(j.deviceMap),
      });
    }
    // the sources are open (their formats known) when the analyses start
    const kvmFiles = new Set(ctx.sources.filter((s) => s.format === 'host-kvm').map((s) => s.file));
    const kvmFile = (e: Event) => kvmFiles.has(e.src?.file ?? '');
    /** doorbells not yet answered, per VM and device: queue → first notify */
    const doorbells = new Map<string, Map<number, { ts: number }>>();
    /** raises waiting for their acceptance, per VM and vector */
    const raised = new Map<string, { dev: string; ts: number }>();
    /** virtio-mmio through a userspace IOAPIC: the line raised last, whose MSI follows */
    const lastLine = new Map<string, { dev: string; ts: number }>();
    const add = (e: Event, dev: string, kind: KvmSampleRow['kind'], what: string, start: number) =>
      sink.add(KVM_SAMPLES, { vm: e.vm ?? '', dev, kind, what, ts: start, dur_ns: e.ts - start, file: e.src?.file ?? null, line: e.src?.line ?? null });
    const key = (e: Event, dev: string) => `${e.vm ?? ''}\u0000${dev}`;

    /** an interrupt for `queue`, or for any queue of the device ('any': a virtio-mmio line does not say which) */
    const ring = (e: Event, dev: string, queue: number | 'any') => {
      const pending = doorbells.get(key(e, dev));
      if (!pending) return;
      for (const [q, d] of pending) {
        if (queue !== 'any' && q !== queue) continue;
        add(e, dev, 'doorbell', String(q), d.ts);
        pending.delete(q);
      }
    };

    return {
      onEvent(e) {
        if (e.view === 'guest' || !kvmFile(e)) return;
        const vm = e.vm ?? '';
        switch (e.kind) {
          case 'kvm.exit':
            if (e.dev !== undefined && e.dur_ns !== undefined) add(e, e.dev, 'access', e.reg ?? e.reason, e.ts - e.dur_ns);
            return;
          case 'mmio.write':
          case 'pci.write': {
            const isNotify = e.kind === 'mmio.write' ? e.offset === MMIO.QueueNotify : e.region === 'notify';
            if (!isNotify || e.dev === undefined) return;
            const k = key(e, e.dev);
            const m = doorbells.get(k) ?? new Map<number, { ts: number }>();
            const queue = e.value & 0xffff;
            if (!m.has(queue)) m.set(queue, { ts: e.ts });
            doorbells.set(k, m);
            return;
          }
          case 'irq.line':
            if (e.dev === undefined || e.level !== 1) return;
            ring(e, e.dev, 'any');
            lastLine.set(vm, { dev: e.dev, ts: e.ts });
            return;
          case 'irq.msi': {
            const vk = `${vm}\u0000${e.vector}`;
            if (e.step === 'raise') {
              if (e.dev !== undefined) {
                // a vector shared by several queues, or the configuration vector: no queue to close
                if (e.queue !== undefined) ring(e, e.dev, e.queue);
                raised.set(vk, { dev: e.dev, ts: e.ts });
              } else {
                // a userspace IOAPIC turning the line just raised into an MSI: the line's device
                const l = lastLine.get(vm);
                if (l && e.ts - l.ts < INJECT_WINDOW_NS) raised.set(vk, l);
                lastLine.delete(vm);
              }
              return;
            }
            const r = raised.get(vk);
            if (!r) return;
            raised.delete(vk);
            if (e.ts - r.ts <= INJECT_WINDOW_NS) add(e, r.dev, 'inject', String(e.vector), r.ts);
            return;
          }
          default:
            return;
        }
      },
      finish() {},
    };
  },
};
