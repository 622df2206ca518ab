/** The tables of the host KVM analysis (index.ts). */
import type { TableDecl } from '../../perf/tables.ts';

export interface KvmSampleRow {
  vm: string;
  dev: string;
  /** access: trapped register access, exit to the VMM → vCPU resumed; doorbell: notify write →
   *  the device's next interrupt for that queue; inject: interrupt raised → accepted by the guest's LAPIC */
  kind: 'access' | 'doorbell' | 'inject';
  /** register name (access), queue index (doorbell), vector (inject) */
  what: string;
  ts: number;
  dur_ns: number;
  file: string | null;
  line: number | null;
}

export interface KvmJoinRow {
  vm: string;
  kvm_file: string;
  vmm_file: string;
  available: boolean;
  reason: string | null;
  offset_ns: number | null;
  median_delay_ns: number | null;
  pairs: number;
  device_map: string;
}

export const KVM_SAMPLES: TableDecl<KvmSampleRow> = {
  name: 'kvm_samples',
  doc: "One row per latency sample the host kernel's KVM tracepoints give, per VM and device.",
  columns: {
    vm: { type: 'VARCHAR', doc: 'VM name (one per VMM process)' },
    dev: { type: 'VARCHAR', doc: 'device instance (address-named, or the VMM log\'s when joined)' },
    kind: { type: 'VARCHAR', doc: "'access' (trapped register access served by the VMM), 'doorbell' (notify → interrupt), 'inject' (raise → LAPIC accept)" },
    what: { type: 'VARCHAR', doc: 'register name (access), queue index (doorbell), vector (inject)' },
    ts: { type: 'BIGINT', doc: 'ns on the run clock: when it started' },
    dur_ns: { type: 'BIGINT', doc: 'ns' },
    file: { type: 'VARCHAR', doc: 'trace file of the line that closed it' },
    line: { type: 'BIGINT', doc: 'its line' },
  },
};

export const KVM_JOIN: TableDecl<KvmJoinRow> = {
  name: 'kvm_join',
  doc: "One row per host KVM trace given with the VMM's log of the same VM: how the two were joined.",
  columns: {
    vm: { type: 'VARCHAR', doc: 'VM name' },
    kvm_file: { type: 'VARCHAR', doc: 'host KVM trace' },
    vmm_file: { type: 'VARCHAR', doc: "the VMM's log (QEMU)" },
    available: { type: 'BOOLEAN', doc: 'false when too few status writes pair with their echoes: the files are replayed apart' },
    reason: { type: 'VARCHAR', doc: 'why not available' },
    offset_ns: { type: 'BIGINT', doc: 'VMM clock − KVM clock, ns (the smallest write → echo delay)' },
    median_delay_ns: { type: 'BIGINT', doc: 'ns, median status write → echo delay' },
    pairs: { type: 'BIGINT', doc: 'status writes paired with their echoes' },
    device_map: { type: 'VARCHAR', doc: 'JSON [{kvm, vmm, pairs}]: KVM device (address) → VMM device' },
  },
};
