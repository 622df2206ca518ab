/**
 * The host kernel's KVM tracepoints, one ftrace text line at a time (tracefs `trace` or
 * `trace-cmd report`): the fixed columns, and each KVM event's arguments as the kernel prints them
 * (include/trace/events/kvm.h, arch/x86/kvm/trace.h, arch/arm64/kvm/trace_*.h). Pure functions, no
 * model imports.
 */

export interface KvmLine {
  /** the thread's comm (the VMM: qemu-system-x86, firecracker, crosvm, ...) */
  task: string;
  /** thread id */
  pid: number;
  /** process id, when the trace records it (tracefs `record-tgid`, `trace-cmd report` with tgids) */
  tgid?: number;
  cpu: number;
  sec: number;
  ns: number;
  event: string;
  args: string;
}

// like ftrace/tokenize.ts's record, keeping the optional `(tgid)` column
const RECORD = /^\s*(.+?)-(\d+)\s+(?:\(\s*(-?\d+|-+)\)\s+)?\[(\d+)\]\s+(?:[^\s\d]\S{3,4}\s+)?(\d+)\.(\d{1,9}):\s+([A-Za-z_]\w*):\s*(.*)$/;

export function tokenizeKvm(line: string): KvmLine | undefined {
  const m = RECORD.exec(line);
  if (!m) return undefined;
  const frac = m[6]!;
  const tgid = m[3] !== undefined && /^\d+$/.test(m[3]) ? Number(m[3]) : undefined;
  return { task: m[1]!, pid: Number(m[2]), tgid, cpu: Number(m[4]), sec: Number(m[5]), ns: Number(frac) * 10 ** (9 - frac.length), event: m[7]!, args: m[8]! };
}

/** The tracepoints that make a trace a host KVM trace (any one of them in the head). */
export const KVM_HOST_EVENTS = /: (?:kvm_mmio|kvm_pio|kvm_set_irq|kvm_msi_set_irq|kvm_userspace_exit|kvm_exit|kvm_entry|kvm_hvc_arm64|kvm_ioapic_set_irq|kvm_apic_accept_irq|kvm_eoi|kvm_fast_mmio):/;

export type KvmRecord =
  | { t: 'mmio'; op: 'read' | 'unsatisfied-read' | 'write'; len: number; gpa: number; val: number | undefined }
  /** x86: a write an ioeventfd consumed on the fast path (no value, no size) */
  | { t: 'fast_mmio'; gpa: number }
  | { t: 'pio'; write: boolean; port: number; size: number; val: number }
  | { t: 'set_irq'; gsi: number; level: number }
  | { t: 'msi'; dst: number; vec: number }
  | { t: 'accept'; vec: number }
  | { t: 'userspace_exit'; reason: string }
  | { t: 'exit'; reason: string }
  | { t: 'entry' }
  | { t: 'hvc'; fn: number };

const MMIO = /^mmio (unsatisfied-read|read|write) len (\d+) gpa 0x([0-9a-f]+) val (\S+)/;
const PIO = /^pio_(read|write) at 0x([0-9a-f]+) size (\d+) count (\d+) val 0x([0-9a-f]+)/;
const SET_IRQ = /^gsi (\d+) level (\d+)/;
const MSI = /^dst (\d+) vec (\d+)/;
const ACCEPT = /^apicid \S+ vec (\d+)/;
const USER_EXIT = /^reason (\S+)/;
// x86: "vcpu 0 reason EPT_MISCONFIG rip ..." (older: "reason ... rip"); arm64: "TRAP: HSR_EC: 0x0024 (DABT_LOW), PC: ..."
const EXIT = /(?:reason (\S+)|^(TRAP|IRQ|HYP_GONE|SERROR|\w+):)/;
const HVC = /^HVC at 0x[0-9a-f]+ \(r0: 0x([0-9a-f]+)/;

const hex = (s: string) => parseInt(s, 16);

/**
 * The arguments of a KVM event. `null`: an event the adapter deliberately skips (timer EOIs,
 * IOAPIC redirections, markers); a string: why the arguments do not parse; undefined: not a KVM event it knows.
 */
export function parseKvmArgs(event: string, args: string): KvmRecord | string | null | undefined {
  switch (event) {
    case 'kvm_mmio': {
      const m = MMIO.exec(args);
      if (!m) return 'expected "mmio OP len N gpa 0x.. val 0x.."';
      const v = m[4]!;
      return { t: 'mmio', op: m[1] as 'read', len: Number(m[2]), gpa: hex(m[3]!), val: /^0x[0-9a-f]+$/.test(v) ? hex(v.slice(2)) : undefined };
    }
    case 'kvm_pio': {
      const m = PIO.exec(args);
      if (!m) return 'expected "pio_OP at 0x.. size N count N val 0x.."';
      return { t: 'pio', write: m[1] === 'write', port: hex(m[2]!), size: Number(m[3]), val: hex(m[5]!) };
    }
    case 'kvm_set_irq': {
      const m = SET_IRQ.exec(args);
      return m ? { t: 'set_irq', gsi: Number(m[1]), level: Number(m[2]) } : 'expected "gsi N level N"';
    }
    case 'kvm_msi_set_irq': {
      const m = MSI.exec(args);
      return m ? { t: 'msi', dst: Number(m[1]), vec: Number(m[2]) } : 'expected "dst N vec N"';
    }
    case 'kvm_apic_accept_irq': {
      const m = ACCEPT.exec(args);
      return m ? { t: 'accept', vec: Number(m[1]) } : 'expected "apicid N vec N"';
    }
    case 'kvm_userspace_exit': {
      const m = USER_EXIT.exec(args);
      return m ? { t: 'userspace_exit', reason: m[1]! } : 'expected "reason NAME (N)"';
    }
    case 'kvm_fast_mmio': {
      const m = /gpa 0x([0-9a-f]+)/.exec(args);
      return m ? { t: 'fast_mmio', gpa: hex(m[1]!) } : 'expected "fast mmio at gpa 0x.."';
    }
    case 'kvm_exit': {
      const m = EXIT.exec(args);
      return { t: 'exit', reason: m?.[1] ?? m?.[2] ?? 'unknown' };
    }
    case 'kvm_entry':
      return { t: 'entry' };
    case 'kvm_hvc_arm64': {
      const m = HVC.exec(args);
      return m ? { t: 'hvc', fn: hex(m[1]!) } : 'expected "HVC at 0x.. (r0: 0x.., imm: 0x..)"';
    }
    case 'kvm_ioapic_set_irq':
    case 'kvm_eoi':
    case 'kvm_inj_virq':
    case 'kvm_fpu':
    case 'kvm_apic':
    case 'kvm_ack_irq':
    case 'kvm_pic_set_irq':
    case 'kvm_emulate_insn':
    case 'tracing_mark_write':
    case 'print':
      return null;
    default:
      return undefined;
  }
}
