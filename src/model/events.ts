/**
 * The canonical event: the one contract between every trace adapter and the rest of avpscope.
 *
 * Field names are snake_case because this schema is also the on-disk format (JSON Lines, see the
 * README) and the column names of the store. TypeScript types are derived from the schemas here and
 * are never written a second time.
 *
 * Time: `ts` is an integer number of nanoseconds since the source's origin (`SourceHeader.origin_ns`,
 * a whole second on the source's clock). Absolute epoch nanoseconds do not fit a double exactly
 * (2^53 ns is 104 days), so the origin carries the large part and `ts` stays exact for any run
 * shorter than that.
 */
import { z } from 'zod';

/** Where an event was read: file and 1-based line. Evidence for every verdict points here. */
export const SourceRef = z.object({ file: z.string(), line: z.number().int().positive() });
export type SourceRef = z.infer<typeof SourceRef>;

const int = z.number().int();
const nat = int.nonnegative();
/** A bit set wider than 53 bits (feature words), as hex text: "0x130006e54". */
const hexBits = z.string().regex(/^0x[0-9a-f]+$/i, 'expected hex digits such as 0x130006e54');

const common = {
  /** ns since the source's origin */
  ts: int,
  /** virtual machine the event belongs to; the source's VM when absent */
  vm: z.string().optional(),
  /** stable device instance id within the VM (QEMU: the vdev pointer; guest: virtioN) */
  dev: z.string().optional(),
  /** who logged it: the hypervisor (host, the default) or the guest kernel (guest) */
  view: z.enum(['host', 'guest']).optional(),
  /** CPU that logged it, where the source says (guest ftrace): steps of one request on one CPU follow each other */
  cpu: nat.optional(),
  src: SourceRef.optional(),
  /** the original trace line, when the writer chose to keep it */
  raw: z.string().optional(),
  /** names of fields (dev included) that were inferred rather than read from the trace */
  inferred: z.array(z.string()).optional(),
};

/** Fields every event may carry, whatever its kind. */
export const COMMON_FIELDS = new Set(['kind', ...Object.keys(common)]);

const ev = <K extends string, S extends z.ZodRawShape>(kind: K, shape: S) =>
  z.object({ kind: z.literal(kind), ...common, ...shape });

/** What a device is, when the source says so (a vendor's own log, QEMU's msix name, a guest's sysfs). */
export const DeviceEvent = ev('device', {
  device_id: nat.optional(),
  name: z.string().optional(),
  transport: z.enum(['mmio', 'pci', 'ccw', 'other']).optional(),
  /** the guest driver bound to it (guest sysfs `driver` link), when the source says */
  driver: z.string().optional(),
  /** false: a device that is not a virtio device (an emulated NIC such as QEMU's e1000); `dev` is then absent */
  virtio: z.boolean().optional(),
  /** what the device is for, where the source says (a NIC's events say `network`) */
  class: z.enum(['network', 'storage', 'display', 'input', 'other']).optional(),
  /**
   * For a line that names the type but no device: what it happened in, which tells the device:
   * the handling of the chain the device took just before (`chain`), or the driver's setup of the
   * device whose status it set last (`setup`).
   */
  context: z.enum(['chain', 'setup']).optional(),
  /** virtio-gpu: whether the device offers VIRTIO_GPU_F_VIRGL, where the source says (QEMU: virtio_gpu_features) */
  virgl: z.boolean().optional(),
});

// ---- transport level --------------------------------------------------------------------------
export const MmioRead = ev('mmio.read', {
  offset: nat,
  size: z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8)]).optional(),
  /** absent when the log does not carry read values (QEMU) */
  value: nat.optional(),
});
export const MmioWrite = ev('mmio.write', {
  offset: nat,
  size: z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8)]).optional(),
  value: nat,
});
/** The device's maximum size for the selected queue (QueueNumMax), when the log reveals it. */
export const QueueSizeMax = ev('vq.size_max', { queue: nat.optional(), max: nat });
/** virtio-pci modern (VIRTIO §4.1.4): an access to one of a device's structures, as its capability
 *  names it (common, notify, isr, device config), offset within that structure. */
const PciRegion = z.enum(['common', 'notify', 'isr', 'device']);
export const PciRead = ev('pci.read', { region: PciRegion, offset: nat, size: z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8)]).optional(), value: nat.optional() });
export const PciWrite = ev('pci.write', { region: PciRegion, offset: nat, size: z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8)]).optional(), value: nat });
/** A message-signalled interrupt (x86: vector; MSI-X via irqfd or a userspace IOAPIC's MSI) raised
 *  by the hypervisor (`raise`) or accepted by the guest's local APIC (`accept`). */
export const IrqMsi = ev('irq.msi', { vector: nat, step: z.enum(['raise', 'accept']), dst: nat.optional(), queue: nat.optional() });
/** The host kernel's view of one trapped access the VMM (userspace) served: from the exit to the
 *  VMM until the vCPU resumed with its answer, with the register it was for. */
export const VmExit = ev('kvm.exit', {
  reason: z.enum(['mmio', 'hypercall']),
  dur_ns: nat.optional(),
  /** register name (virtio-mmio or virtio-pci common config), when the access is a virtio device's */
  reg: z.string().optional(),
  /** SMCCC function id of an arm64 HVC/SMC (PSCI: 0x84000000..) */
  fn: nat.optional(),
});
export const IrqLine = ev('irq.line', { level: z.union([z.literal(0), z.literal(1)]), line: nat.optional() });
export const PciMsix = ev('pci.msix', { enabled: z.boolean(), masked: z.boolean(), name: z.string().optional() });
/** The driver wrote the notify capability of the modern virtio-pci interface (VIRTIO §4.1.4.4): a VIRTIO 1.x device. */
export const PciNotify = ev('pci.notify', { addr: nat, value: nat });

// ---- device status and features -----------------------------------------------------------------
/**
 * The device status was set (0 = reset). `by`: the driver (a register write), or the hypervisor
 * itself (QEMU resets every device at machine reset and sets the status again on VM run and stop,
 * from its main thread); absent when the source does not tell. `thread`: the host thread that
 * logged it, where the source says (QEMU's `PID@` prefix).
 */
export const Status = ev('status', {
  value: z.number().int().min(0).max(255),
  by: z.enum(['driver', 'hypervisor']).optional(),
  thread: nat.optional(),
});
/** A whole feature bit set: what the device offered or what the driver accepted. */
export const Features = ev('features', { side: z.enum(['device', 'driver']), value: hexBits });

// ---- virtqueues ---------------------------------------------------------------------------------
/** Available-buffer notification: the driver kicked a queue. */
export const NotifyAvail = ev('notify.avail', { queue: nat, vq: z.string().optional() });
/** Used-buffer notification: the device interrupted the driver for a queue (host) or the driver's
 *  interrupt handler ran for it (guest). */
export const NotifyUsed = ev('notify.used', {
  queue: nat.optional(),
  vq: z.string().optional(),
  via: z.enum(['irq', 'irqfd', 'msi']).optional(),
  irq: nat.optional(),
});
/** The device took a descriptor chain (in = device-writable, out = device-readable). */
export const VqPop = ev('vq.pop', {
  queue: nat.optional(),
  vq: z.string().optional(),
  elem: z.string(),
  in_num: nat,
  out_num: nat,
  in_bytes: nat.optional(),
  out_bytes: nat.optional(),
});
/** The device wrote a used element for a chain (len = bytes written to its writable part). */
export const VqFill = ev('vq.fill', {
  queue: nat.optional(),
  vq: z.string().optional(),
  elem: z.string(),
  len: nat,
  idx: nat,
});
/** The device published `count` used elements (used.idx += count). */
export const VqFlush = ev('vq.flush', { queue: nat.optional(), vq: z.string().optional(), count: nat });
/** Guest: the driver added a buffer (chain of out_sgs readable + in_sgs writable) with a token. */
export const VqAdd = ev('vq.add', {
  queue: nat,
  name: z.string().optional(),
  out_sgs: nat,
  in_sgs: nat,
  token: z.string(),
});
/** Guest: the driver took a used buffer back (token as given to vq.add). */
export const VqGetBuf = ev('vq.get_buf', { queue: nat.optional(), token: z.string() });

// ---- virtio-blk (device side) ---------------------------------------------------------------------
/** `discard_or_write_zeroes`: a chain of that shape where the log does not say which of the two it was. */
export const BlkOp = z.enum([
  'read', 'write', 'flush', 'discard', 'write_zeroes', 'discard_or_write_zeroes', 'secure_erase', 'get_id', 'get_lifetime', 'other',
]);
export type BlkOp = z.infer<typeof BlkOp>;
export const BlkSubmit = ev('blk.submit', { req: z.string(), op: BlkOp, sector: nat.optional(), nsectors: nat.optional() });
/** The backend finished the host I/O for a request (ret = 0 or -errno). */
export const BlkBackend = ev('blk.backend', { req: z.string(), ret: int });
/** The device wrote the request's status byte (VIRTIO_BLK_S_*). */
export const BlkComplete = ev('blk.complete', { req: z.string(), status: nat });

// ---- entropy, console ---------------------------------------------------------------------------
export const RngRequest = ev('rng.request', { bytes: nat, quota: nat.optional() });
export const RngPush = ev('rng.push', { bytes: nat });
/** A console control message (VIRTIO §5.3.6.2): to_driver = sent by the device. */
export const ConsoleControl = ev('console.control', {
  dir: z.enum(['to_driver', 'to_device']),
  port: nat.optional(),
  event: nat,
  value: nat.optional(),
});
/** Console data: to_host = the guest wrote `bytes` to a port; to_guest = the host delivered them. */
export const ConsoleData = ev('console.data', { dir: z.enum(['to_host', 'to_guest']), port: nat, bytes: nat });

// ---- virtio-gpu ----------------------------------------------------------------------------------
/** A GPU control command: queued by the driver, processed by the device, or answered (response code). */
export const GpuCmd = ev('gpu.cmd', {
  phase: z.enum(['queue', 'process', 'response']),
  /** VIRTIO_GPU_CMD_* or, for a response, VIRTIO_GPU_RESP_* */
  type: nat,
  queue: nat.optional(),
  resource: nat.optional(),
  ctx: nat.optional(),
  fence: nat.optional(),
  scanout: nat.optional(),
  width: nat.optional(),
  height: nat.optional(),
  x: nat.optional(),
  y: nat.optional(),
});
/** The GPU device's feature flags as the VMM logs them when the driver reads them (QEMU: `virtio_gpu_features virgl N`). */
export const GpuFeatures = ev('gpu.features', { virgl: z.boolean(), edid: z.boolean().optional() });

// ---- virtio-sound --------------------------------------------------------------------------------
/** The body of a PCM_SET_PARAMS request (virtio_snd_pcm_set_params, VIRTIO §5.14.6.6), as richer VMMs log it. */
export const SndParams = z.object({
  /** bytes of the driver's hardware buffer */
  buffer_bytes: nat,
  /** bytes of one period (one I/O message, as the driver SHOULD size them) */
  period_bytes: nat,
  /** channels per frame */
  channels: nat,
  /** VIRTIO_SND_PCM_FMT_* code (5 = S16) */
  format: nat,
  /** VIRTIO_SND_PCM_RATE_* code (7 = 48000 Hz) */
  rate: nat,
  /** VIRTIO_SND_PCM_F_* bits selected */
  features: nat.optional(),
});
export type SndParams = z.infer<typeof SndParams>;
export const SndControl = ev('snd.ctrl', {
  /** VIRTIO_SND_R_* request code */
  code: nat,
  stream: nat.optional(),
  /** SET_PARAMS only: the parameters requested (QEMU does not log them) */
  params: SndParams.optional(),
});
export const SndConfig = ev('snd.config', { jacks: nat, streams: nat, chmaps: nat });
/** One PCM I/O message, as richer VMMs log it (QEMU does not), when the device completes it. */
export const SndXfer = ev('snd.xfer', {
  dir: z.enum(['tx', 'rx']),
  stream: nat,
  /** PCM bytes the message carried (tx: played, rx: recorded) */
  bytes: nat,
  /** virtio_snd_pcm_status.latency_bytes: the device's latency when it completed the message */
  latency_bytes: nat.optional(),
  /** virtio_snd_pcm_status.status: VIRTIO_SND_S_OK (0x8000) or VIRTIO_SND_S_IO_ERR (0x8003) */
  status: nat.optional(),
});
export const AudioTimer = ev('audio.timer', { op: z.enum(['start', 'stop', 'delayed']), interval_ms: nat });

// ---- guest kernel (ftrace) ---------------------------------------------------------------------
/** The guest block layer: a request inserted, issued to the driver, or completed. */
export const BlockRq = ev('block.rq', {
  phase: z.enum(['insert', 'issue', 'complete']),
  disk: z.string(),
  /** Linux rwbs: R, W, WS, FF (flush), DS (discard), ... */
  rwbs: z.string(),
  sector: nat,
  nsectors: nat,
  error: int.optional(),
});
export const IrqHandler = ev('irq.handler', {
  phase: z.enum(['entry', 'exit']),
  irq: nat,
  name: z.string().optional(),
  handled: z.boolean().optional(),
});
export const NetPacket = ev('net.packet', { dir: z.enum(['tx', 'rx']), ifname: z.string(), len: nat });
/** A free-text marker the guest wrote (trace_marker), e.g. a workload step. */
export const Mark = ev('mark', { text: z.string() });

// ---- guest and platform evidence (sysfs, /proc/interrupts, the boot log, the device tree) ------------
/** One line of the guest's /proc/interrupts: interrupt, total count over CPUs, controller and name. */
export const IrqCount = ev('irq.count', { irq: z.string(), count: nat, chip: z.string().optional(), name: z.string().optional() });
/** What a boot log line says, by topic (the guest console or dmesg); `version` where the line gives one. */
export const BootTopic = z.enum(['firmware', 'psci', 'scmi', 'efi', 'kaslr', 'watchdog', 'optee', 'console', 'gpu', 'vsock', 'iommu', 'fs', 'rpmb', 'crypto']);
export type BootTopic = z.infer<typeof BootTopic>;
export const BootLog = ev('boot.log', { topic: BootTopic, text: z.string(), version: z.string().optional() });
/** A device tree property value: a string list, 32-bit cells, or bytes as hex (`0x...`, or `""` for none). */
export const DtValue = z.union([z.array(z.string()), z.array(nat), z.string()]);
/** One node of the platform's device tree (a DTB), with its properties. */
export const DtNode = ev('dt.node', { path: z.string(), props: z.record(z.string(), DtValue) });

// ---- devices QEMU here cannot show: what a richer VMM logs ------------------------------------------
/** A virtio-vsock packet (VIRTIO §5.10.6): op is VIRTIO_VSOCK_OP_*; type 1 = stream, 2 = seqpacket. */
export const VsockPkt = ev('vsock.pkt', {
  dir: z.enum(['tx', 'rx']), op: nat, type: nat.optional(),
  src_cid: nat, dst_cid: nat, src_port: nat, dst_port: nat, len: nat,
});
/** A virtio-iommu request (VIRTIO §5.13.6): type is VIRTIO_IOMMU_T_*, status VIRTIO_IOMMU_S_*; addresses as hex. */
export const IommuReq = ev('iommu.req', {
  type: nat, status: nat, domain: nat.optional(), endpoint: nat.optional(),
  virt_start: hexBits.optional(), virt_end: hexBits.optional(), phys_start: hexBits.optional(),
});
/** A virtio-fs (FUSE) request answered: opcode FUSE_*, error 0 or -errno. */
export const FsReq = ev('fs.req', { opcode: nat, unique: nat.optional(), error: int });
/** A virtio-rpmb request (VIRTIO §5.12.6): req_type VIRTIO_RPMB_REQ_*, result VIRTIO_RPMB_RES_*. */
export const RpmbReq = ev('rpmb.req', { req_type: nat, result: nat, address: nat.optional(), blocks: nat.optional() });
/** A virtio-crypto request (VIRTIO §5.9.7): opcode VIRTIO_CRYPTO_*, status VIRTIO_CRYPTO_OK (0) or an error. */
export const CryptoReq = ev('crypto.req', { opcode: nat, status: nat, session: nat.optional() });
/** An access to the SBSA generic watchdog's frames (refresh: WRR at 0x0; control: WCS 0x0, WOR 0x8, WCV 0x10). */
export const WdtAccess = ev('wdt.access', {
  frame: z.enum(['refresh', 'control']), offset: nat, dir: z.enum(['read', 'write']), value: nat.optional(),
  /** the system counter's frequency, which WOR counts (CNTFRQ); 1 GHz when absent */
  counter_hz: nat.optional(),
});
/** The watchdog raised WS0 (its interrupt) or WS1 (the system reset it asks for). */
export const WdtSignal = ev('wdt.signal', { signal: z.enum(['ws0', 'ws1']) });
/** A PSCI call the guest made (HVC or SMC): function id, return code (0 = SUCCESS, negative = error or a version). */
export const PsciCall = ev('psci.call', { fn: nat, ret: int, conduit: z.enum(['hvc', 'smc']).optional() });
/** An SCMI message answered (Arm DEN0056): protocol (0x15 = sensors), message id, status (0 = SUCCESS). */
export const ScmiMsg = ev('scmi.msg', {
  protocol: nat, message: nat, status: int, version: z.string().optional(), sensor: nat.optional(), value: z.number().optional(),
});

export const Event = z.discriminatedUnion('kind', [
  DeviceEvent, MmioRead, MmioWrite, QueueSizeMax, IrqLine, PciMsix, PciNotify, Status, Features,
  PciRead, PciWrite, IrqMsi, VmExit,
  NotifyAvail, NotifyUsed, VqPop, VqFill, VqFlush, VqAdd, VqGetBuf,
  BlkSubmit, BlkBackend, BlkComplete, RngRequest, RngPush, ConsoleControl, ConsoleData,
  GpuCmd, GpuFeatures, SndControl, SndConfig, SndXfer, AudioTimer,
  BlockRq, IrqHandler, NetPacket, Mark,
  IrqCount, BootLog, DtNode,
  VsockPkt, IommuReq, FsReq, RpmbReq, CryptoReq, WdtAccess, WdtSignal, PsciCall, ScmiMsg,
]);
export type Event = z.infer<typeof Event>;
export type EventKind = Event['kind'];
export type EventOf<K extends EventKind> = Extract<Event, { kind: K }>;
export const EVENT_KINDS = Event.options.map((o) => o.shape.kind.value) as EventKind[];

/** First line of a canonical JSON Lines file (optional): the clock and the defaults for its events. */
export const SourceHeader = z.object({
  format: z.literal('avpscope-events'),
  version: z.literal(1),
  /** the origin of `ts`, ns on the source clock, as decimal text (it exceeds 2^53) */
  origin_ns: z.string().regex(/^\d+$/, 'expected decimal digits').default('0'),
  /** whose view: the hypervisor's (host) or the guest kernel's */
  view: z.enum(['host', 'guest']).default('host'),
  vm: z.string().optional(),
  clock: z.string().optional(),
  producer: z.string().optional(),
});
export type SourceHeader = z.infer<typeof SourceHeader>;
