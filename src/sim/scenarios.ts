/**
 * `avpscope simulate` scenarios: runs of devices QEMU here cannot show (or cannot show failing),
 * written as canonical events, each clean by default and broken on purpose by a named fault. A
 * fault names the rule it must make FAIL (test/sim-matrix.test.ts holds every rule to it).
 */
import { GPU_CMD } from '../model/devices/gpu-codes.ts';
import { PSCI_FN } from '../model/devices/psci.ts';
import type { Event } from '../model/events.ts';
import { Run } from './build.ts';

export interface Fault {
  /** what the fault breaks */
  what: string;
  /** the rule it makes FAIL */
  rule: string;
  /** rules it cannot help failing too, and why (one fact breaks two statements) */
  also?: { rules: string[]; why: string };
}

export interface Scenario {
  name: string;
  description: string;
  faults: Record<string, Fault>;
  build(fault: string | undefined): Event[];
}

const VERSION_1 = 1n << 32n;
const GPU_ID = 16;

function gpu(fault?: string): Event[] {
  const r = new Run('gpu-2d');
  r.initDevice('gpu0', GPU_ID, VERSION_1 | 2n /* VIRTIO_GPU_F_EDID */);
  r.emit({ kind: 'gpu.features', dev: 'gpu0', virgl: fault === 'virgl' });
  // the guest's own view: its device list names the GPU's ID
  r.emit({ kind: 'device', dev: 'virtio0', view: 'guest', device_id: fault === 'wrong-device-id' ? 18 : GPU_ID, driver: 'virtio_gpu' });
  r.emit({ kind: 'mmio.write', dev: 'gpu0', offset: fault === 'config-write' ? 0x10c : 0x104, value: 1 });
  const flow: [number, number | undefined][] = [
    [GPU_CMD.GET_EDID, undefined],
    [GPU_CMD.GET_DISPLAY_INFO, undefined],
    [GPU_CMD.RESOURCE_CREATE_2D, 1],
    [GPU_CMD.RESOURCE_ATTACH_BACKING, 1],
    [GPU_CMD.SET_SCANOUT, 1],
    [GPU_CMD.TRANSFER_TO_HOST_2D, 1],
    [GPU_CMD.RESOURCE_FLUSH, 1],
  ];
  const answer = (type: number): number => {
    if (type === GPU_CMD.GET_EDID) return fault === 'edid-error' ? GPU_CMD.RESP_ERR_UNSPEC : GPU_CMD.RESP_OK_EDID;
    if (type === GPU_CMD.GET_DISPLAY_INFO) return GPU_CMD.RESP_OK_DISPLAY_INFO;
    if (type === GPU_CMD.RESOURCE_FLUSH && fault === 'bad-response') return 0x1300;
    return GPU_CMD.RESP_OK_NODATA;
  };
  flow.forEach(([type, resource], i) => {
    r.emit({ kind: 'gpu.cmd', dev: 'virtio0', view: 'guest', phase: 'queue', queue: 0, type });
    r.emit({ kind: 'notify.avail', dev: 'gpu0', queue: 0 }, { kind: 'vq.pop', dev: 'gpu0', queue: 0, elem: `c${i}`, in_num: 1, out_num: 1 });
    r.emit({ kind: 'gpu.cmd', dev: 'gpu0', phase: 'process', type, ...(resource !== undefined ? { resource } : {}) });
    r.emit({ kind: 'vq.fill', dev: 'gpu0', queue: 0, elem: `c${i}`, len: 24, idx: i }, { kind: 'vq.flush', dev: 'gpu0', queue: 0, count: 1 }, { kind: 'notify.used', dev: 'gpu0', queue: 0, via: 'irq' });
    r.emit({ kind: 'gpu.cmd', dev: 'virtio0', view: 'guest', phase: 'response', queue: 0, type: answer(type) });
  });
  const cursorQueue = fault === 'cursor-on-control' ? 0 : 1;
  r.emit({ kind: 'gpu.cmd', dev: 'virtio0', view: 'guest', phase: 'queue', queue: cursorQueue, type: GPU_CMD.MOVE_CURSOR });
  r.emit({ kind: 'notify.avail', dev: 'gpu0', queue: cursorQueue }, { kind: 'vq.pop', dev: 'gpu0', queue: cursorQueue, elem: 'k0', in_num: 0, out_num: 1 });
  r.emit({ kind: 'vq.fill', dev: 'gpu0', queue: cursorQueue, elem: 'k0', len: 0, idx: 0 }, { kind: 'vq.flush', dev: 'gpu0', queue: cursorQueue, count: 1 }, { kind: 'notify.used', dev: 'gpu0', queue: cursorQueue, via: 'irq' });
  return r.events;
}

const MS = 1_000_000;

/**
 * The SBSA watchdog: WOR = 10 ms of a 1 GHz counter, enabled, refreshed every 5 ms for 50 ms, then
 * left alone: WS0 is due 10 ms after the last refresh and WS1 10 ms after that.
 */
function watchdog(fault?: string): Event[] {
  const r = new Run('watchdog');
  r.emit({ kind: 'wdt.access', dev: 'wdt0', frame: 'control', offset: 0x8, dir: 'write', value: 10 * MS, counter_hz: 1e9 });
  r.emit({ kind: 'wdt.access', dev: 'wdt0', frame: 'control', offset: 0x0, dir: 'write', value: 1 });
  let t = r.ts;
  for (let k = 1; k <= 10; k++) r.emit({ kind: 'wdt.access', dev: 'wdt0', frame: 'refresh', offset: 0x0, dir: 'write', value: 0, ts: (t += 5 * MS) });
  const late = fault === 'late-watchdog' ? 4 * MS : 0;
  r.emit({ kind: 'wdt.signal', dev: 'wdt0', signal: 'ws0', ts: t + 10 * MS + late });
  r.emit({ kind: 'wdt.signal', dev: 'wdt0', signal: 'ws1', ts: t + 20 * MS + late });
  r.emit({ kind: 'mark', text: 'reset', ts: t + 40 * MS });
  return r.events;
}

function psci(fault?: string): Event[] {
  const r = new Run('psci');
  r.emit({ kind: 'psci.call', fn: PSCI_FN.PSCI_VERSION, ret: fault === 'psci-1.0' ? 0x10000 : 0x10001, conduit: 'hvc' });
  r.emit({ kind: 'psci.call', fn: PSCI_FN.PSCI_FEATURES, ret: 0, conduit: 'hvc' });
  r.emit({ kind: 'psci.call', fn: PSCI_FN.CPU_ON, ret: fault === 'cpu-on-unsupported' ? -1 : 0, conduit: 'hvc' });
  r.emit({ kind: 'psci.call', fn: PSCI_FN.SYSTEM_OFF, ret: 0, conduit: 'hvc' });
  return r.events;
}

function scmi(fault?: string): Event[] {
  const r = new Run('scmi-sensors');
  r.emit({ kind: 'scmi.msg', protocol: 0x15, message: 0, status: 0, version: fault === 'scmi-2.0' ? '2.0' : '3.0' });
  for (let s = 0; s < 3; s++) r.emit({ kind: 'scmi.msg', protocol: 0x15, message: 6, status: fault === 'sensor-error' && s === 2 ? -4 : 0, sensor: s, value: 40 + s });
  return r.events;
}

function vsock(fault?: string): Event[] {
  const r = new Run('vsock');
  r.initDevice('vsock0', 19, VERSION_1);
  r.emit({ kind: 'vsock.pkt', dev: 'vsock0', dir: 'tx', op: 1, type: 1, src_cid: 3, dst_cid: 2, src_port: 1024, dst_port: 5000, len: 0 });
  r.emit({ kind: 'vsock.pkt', dev: 'vsock0', dir: 'rx', op: 2, type: 1, src_cid: 2, dst_cid: 3, src_port: 5000, dst_port: 1024, len: 0 });
  r.emit({ kind: 'vsock.pkt', dev: 'vsock0', dir: 'rx', op: fault === 'bad-op' ? 9 : 5, type: 1, src_cid: 2, dst_cid: 3, src_port: 5000, dst_port: 1024, len: 64 });
  return r.events;
}

function iommu(fault?: string): Event[] {
  const r = new Run('iommu');
  r.initDevice('iommu0', 23, VERSION_1);
  r.emit({ kind: 'iommu.req', dev: 'iommu0', type: 1, status: 0, domain: 1, endpoint: 8 });
  r.emit(fault === 'empty-map'
    ? { kind: 'iommu.req', dev: 'iommu0', type: 3, status: 0, domain: 1, virt_start: '0x2000', virt_end: '0x1fff', phys_start: '0x80000000' }
    : { kind: 'iommu.req', dev: 'iommu0', type: 3, status: 0, domain: 1, virt_start: '0x1000', virt_end: '0x1fff', phys_start: '0x80000000' });
  r.emit({ kind: 'iommu.req', dev: 'iommu0', type: 4, status: fault === 'bad-status' ? 12 : 0, domain: 1, virt_start: '0x1000', virt_end: '0x1fff' });
  return r.events;
}

function fs(fault?: string): Event[] {
  const r = new Run('virtio-fs');
  if (fault === '9p-only') {
    r.emit({ kind: 'device', dev: 'virtio0', view: 'guest', device_id: 9, driver: '9pnet_virtio' });
    return r.events;
  }
  r.initDevice('fs0', 26, VERSION_1);
  r.emit({ kind: 'fs.req', dev: 'fs0', opcode: 26 /* FUSE_INIT */, unique: 1, error: 0 });
  r.emit({ kind: 'fs.req', dev: 'fs0', opcode: 1 /* LOOKUP */, unique: 2, error: -2 });
  r.emit({ kind: 'fs.req', dev: 'fs0', opcode: 15 /* READ */, unique: 3, error: fault === 'bad-error' ? 5 : 0 });
  return r.events;
}

function rpmb(fault?: string): Event[] {
  const r = new Run('rpmb');
  r.initDevice('rpmb0', 28, VERSION_1);
  r.emit({ kind: 'rpmb.req', dev: 'rpmb0', req_type: 2 /* GET_WRITE_COUNTER */, result: 0 });
  r.emit({ kind: 'rpmb.req', dev: 'rpmb0', req_type: 4 /* DATA_READ */, result: fault === 'bad-result' ? 0x42 : 0, address: 0, blocks: 1 });
  return r.events;
}

function crypto(fault?: string): Event[] {
  const r = new Run('crypto');
  r.initDevice('crypto0', 20, VERSION_1);
  r.emit({ kind: 'crypto.req', dev: 'crypto0', opcode: 0x0402, status: 0, session: 1 });
  r.emit({ kind: 'crypto.req', dev: 'crypto0', opcode: 0x0400, status: fault === 'bad-status' ? 9 : 0, session: 1 });
  return r.events;
}

/** An arm64 platform description as dt.node events: PSCI, /chosen, an SBSA watchdog, two virtio-mmio transports. */
function deviceTree(fault?: string): Event[] {
  const r = new Run('dt-arm64');
  const node = (path: string, props: Record<string, string[] | number[] | string>) => r.emit({ kind: 'dt.node', path, props, ts: 0 });
  node('/', { compatible: ['linux,dummy-virt'], '#address-cells': [2], '#size-cells': [2] });
  node('/psci', { compatible: ['arm,psci-1.0', 'arm,psci-0.2', 'arm,psci'], method: ['hvc'] });
  node('/chosen', fault === 'no-kaslr-seed' ? { bootargs: ['console=ttyAMA0'] } : { bootargs: ['console=ttyAMA0'], 'kaslr-seed': [0x3e5f41c3, 0x94661f19] });
  if (fault !== 'no-watchdog') node('/watchdog@2a440000', { compatible: ['arm,sbsa-gwdt'], reg: [0, 0x2a440000, 0, 0x1000, 0, 0x2a450000, 0, 0x1000], interrupts: [0, 27, 4] });
  const transports = fault === 'undescribed-device' ? 1 : 2;
  for (let i = 0; i < transports; i++) node(`/virtio_mmio@a00${i}000`, { compatible: ['virtio,mmio'], reg: [0, 0xa000000 + i * 0x200, 0, 0x200], interrupts: [0, 16 + i, 1] });
  r.at(1000);
  // a read-only disk (VIRTIO_BLK_F_RO negotiated): the guest's write is refused with IOERR (§5.2.6.2)
  r.initDevice('blk0', 2, VERSION_1 | (1n << 5n) | (1n << 9n) | (1n << 11n) | (1n << 13n) | (1n << 14n));
  r.emit({ kind: 'notify.avail', dev: 'blk0', queue: 0 }, { kind: 'vq.pop', dev: 'blk0', queue: 0, elem: 'w0', in_num: 1, out_num: 2 });
  r.emit({ kind: 'blk.submit', dev: 'blk0', req: 'w0', op: 'write', sector: 0, nsectors: 8 });
  r.emit({ kind: 'blk.complete', dev: 'blk0', req: 'w0', status: fault === 'ro-write-ok' ? 0 : 1 /* IOERR */ });
  r.emit({ kind: 'vq.fill', dev: 'blk0', queue: 0, elem: 'w0', len: 1, idx: 0 }, { kind: 'vq.flush', dev: 'blk0', queue: 0, count: 1 }, { kind: 'notify.used', dev: 'blk0', queue: 0, via: 'irq' });
  r.initDevice('rng0', 4, VERSION_1);
  r.request('rng0', 0, 'r0', { in: 1, out: 0, len: 16 }).emit({ kind: 'rng.push', dev: 'rng0', bytes: 16 });
  return r.events;
}

/** A block, a network and a console device on virtio-mmio, offering what AVPS requires of them. */
function blkNet(fault?: string): Event[] {
  const r = new Run('blk-net');
  const blkBits = [9, 11, 13, 14].filter((b) => !((fault === 'offer-no-flush' || fault === 'wce-without-flush') && b === 9) && !(fault === 'offer-no-discard' && b === 13) && !(fault === 'offer-no-wce' && b === 11) && !(fault === 'offer-no-write-zeroes' && b === 14));
  r.initDevice('blk0', 2, blkBits.reduce((a, b) => a | (1n << BigInt(b)), VERSION_1));
  r.emit({ kind: 'blk.submit', dev: 'blk0', req: 'b0', op: 'write', sector: 0, nsectors: 8 });
  r.request('blk0', 0, 'b0', { in: 1, out: 2, len: 1 });
  const netBits = [3, 5, 17, 23].filter((b) => !(fault === 'offer-no-mtu' && b === 3) && !(fault === 'offer-no-mac' && b === 5) && !(fault === 'offer-no-ctrl-mac' && b === 23));
  r.initDevice('net0', 1, netBits.reduce((a, b) => a | (1n << BigInt(b)), VERSION_1));
  r.request('net0', 1, 'n0', { in: 0, out: 1, len: 0 });
  if (fault === 'net-double-completion') r.emit({ kind: 'vq.fill', dev: 'net0', queue: 1, elem: 'n0', len: 0, idx: 1 });
  r.initDevice('con0', 3, VERSION_1);
  r.request('con0', 1, 'k0', { in: 0, out: 1, len: 0 }).emit({ kind: 'console.data', dev: 'con0', dir: 'to_host', port: 0, bytes: 12 });
  // the device adds port 1 and removes it again (§5.3.6.2.1); the fault removes a port it never added
  r.emit({ kind: 'console.control', dev: 'con0', dir: 'to_driver', event: 1 /* DEVICE_ADD */, port: 1 });
  r.emit({ kind: 'console.control', dev: 'con0', dir: 'to_driver', event: 2 /* DEVICE_REMOVE */, port: fault === 'remove-unknown-port' ? 2 : 1 });
  if (fault === 'console-double-completion') r.emit({ kind: 'vq.fill', dev: 'con0', queue: 1, elem: 'k0', len: 0, idx: 1 });
  return r.events;
}

/**
 * A block and an entropy device on virtio-mmio, driven by the book (VIRTIO §3.1.1, §2.7): the
 * faults break one step each, on the device's side or the driver's.
 */
function virtioMmio(fault?: string): Event[] {
  const r = new Run('virtio-mmio');
  const blk = 'blk0';
  const features = '0x' + (VERSION_1 | (1n << 9n) | (1n << 11n) | (1n << 13n) | (1n << 14n)).toString(16);
  const legacy = fault === 'legacy-device';
  r.emit({ kind: 'device', dev: blk, device_id: 2, transport: 'mmio' });
  r.emit({ kind: 'mmio.read', dev: blk, offset: 0x4, value: fault === 'mmio-version-1' ? 1 : 2 });
  if (fault === 'write-read-only') r.emit({ kind: 'mmio.write', dev: blk, offset: 0x8, value: 2 });
  r.emit({ kind: 'status', dev: blk, value: 0 }, { kind: 'status', dev: blk, value: 1 });
  if (fault !== 'skip-driver-bit') r.emit({ kind: 'status', dev: blk, value: 3 });
  r.emit({ kind: 'features', dev: blk, side: 'device', value: legacy ? '0x6e54' : features });
  r.emit({ kind: 'features', dev: blk, side: 'driver', value: legacy ? '0x6e54' : features });
  const ok = fault === 'skip-driver-bit' ? 9 : 11;
  r.emit({ kind: 'status', dev: blk, value: ok });
  if (fault === 'late-features') r.emit({ kind: 'features', dev: blk, side: 'driver', value: features });
  r.emit({ kind: 'vq.size_max', dev: blk, queue: 0, max: 256 });
  r.emit({ kind: 'mmio.write', dev: blk, offset: 0x30, value: 0 });
  r.emit({ kind: 'mmio.write', dev: blk, offset: 0x38, value: fault === 'queue-num-too-big' ? 512 : 128 });
  if (fault !== 'queue-not-ready') r.emit({ kind: 'mmio.write', dev: blk, offset: 0x44, value: 1 });
  if (fault === 'notify-before-driver-ok') r.emit({ kind: 'notify.avail', dev: blk, queue: 0 });
  if (fault === 'pop-before-driver-ok') {
    r.emit({ kind: 'vq.pop', dev: blk, queue: 0, elem: 'e', in_num: 1, out_num: 1 }, { kind: 'vq.fill', dev: blk, queue: 0, elem: 'e', len: 1, idx: 0 }, { kind: 'vq.flush', dev: blk, queue: 0, count: 1 });
  }
  r.emit({ kind: 'status', dev: blk, value: ok | 4 });
  for (let i = 0; i < 4; i++) {
    const elem = `w${i}`;
    r.emit({ kind: 'notify.avail', dev: blk, queue: 0 });
    const noStatus = fault === 'chain-layout' && i === 1;
    // the last request reads 8 sectors back: header readable, data and status writable
    const read = i === 3;
    r.emit(read
      ? { kind: 'vq.pop', dev: blk, queue: 0, elem, in_num: 2, out_num: 1, in_bytes: 4097, out_bytes: 16 }
      : { kind: 'vq.pop', dev: blk, queue: 0, elem, in_num: noStatus ? 0 : 1, out_num: 2, in_bytes: noStatus ? 0 : 1, out_bytes: 4112 });
    r.emit({ kind: 'blk.submit', dev: blk, req: elem, op: read ? 'read' : 'write', sector: read ? 0 : i * 8, nsectors: 8 }, { kind: 'blk.backend', dev: blk, req: elem, ret: 0 });
    r.emit({ kind: 'blk.complete', dev: blk, req: elem, status: fault === 'bad-blk-status' && i === 2 ? 7 : 0 });
    // the queue has 128 entries (QueueNum): offset 130 is past the used ring
    const idx = fault === 'used-past-ring' && i === 2 ? 130 : i;
    r.emit({ kind: 'vq.fill', dev: blk, queue: 0, elem, len: noStatus ? 0 : read ? (fault === 'used-len' ? 8192 : 4097) : 1, idx });
    if (fault === 'double-completion' && i === 2) r.emit({ kind: 'vq.fill', dev: blk, queue: 0, elem, len: 1, idx: i });
    if (fault === 'completion-without-request' && i === 2) r.emit({ kind: 'vq.fill', dev: blk, queue: 0, elem: 'never-taken', len: 1, idx: i });
    r.emit({ kind: 'vq.flush', dev: blk, queue: 0, count: fault === 'used-more' && i === 3 ? 2 : 1 }, { kind: 'notify.used', dev: blk, queue: 0, via: 'irq' });
  }
  // the entropy device negotiates VIRTIO_F_IN_ORDER (bit 35): two requests in flight are used in the order taken
  r.initDevice('rng0', 4, VERSION_1 | (1n << 35n));
  r.emit({ kind: 'notify.avail', dev: 'rng0', queue: 0 });
  r.emit({ kind: 'vq.pop', dev: 'rng0', queue: 0, elem: 'r0', in_num: 1, out_num: 0 }, { kind: 'vq.pop', dev: 'rng0', queue: 0, elem: 'r1', in_num: 1, out_num: 0 });
  const order = fault === 'out-of-order' ? ['r1', 'r0'] : ['r0', 'r1'];
  order.forEach((elem, i) => r.emit({ kind: 'vq.fill', dev: 'rng0', queue: 0, elem, len: fault === 'empty-rng' ? 0 : 16, idx: i }));
  r.emit({ kind: 'vq.flush', dev: 'rng0', queue: 0, count: 2 }, { kind: 'notify.used', dev: 'rng0', queue: 0, via: 'irq' });
  if (fault !== 'empty-rng') r.emit({ kind: 'rng.push', dev: 'rng0', bytes: 32 });
  // the driver resets the live device and brings it up again: the device keeps quiet in between (§2.4.1)
  r.emit({ kind: 'status', dev: 'rng0', value: 0 });
  if (fault === 'notify-after-reset') r.emit({ kind: 'notify.used', dev: 'rng0', queue: 0, via: 'irq' });
  r.initDevice('rng0', 4, VERSION_1 | (1n << 35n));
  return r.events;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'virtio-mmio', description: 'a block and an entropy device on virtio-mmio, initialised and used by the book', build: virtioMmio,
    faults: {
      'skip-driver-bit': { what: 'the driver sets FEATURES_OK without DRIVER', rule: 'virtio.init-order' },
      'late-features': { what: 'the driver writes features after FEATURES_OK', rule: 'virtio.features-before-features-ok' },
      'legacy-device': { what: 'the device does not offer VIRTIO_F_VERSION_1', rule: 'virtio.version-1' },
      'pop-before-driver-ok': { what: 'the device takes and completes a chain before DRIVER_OK', rule: 'virtio.live-after-driver-ok' },
      'notify-before-driver-ok': { what: 'the driver kicks a queue before DRIVER_OK', rule: 'virtio.notify-after-driver-ok' },
      'mmio-version-1': {
        what: 'the Version register reads 1 (legacy)',
        rule: 'virtio-mmio.version-2',
        also: { rules: ['virtio-mmio.device-registers'], why: '§4.2.2.1 holds the register values a device returns, Version 0x2 among them: judged where reads carry values, as here' },
      },
      'write-read-only': { what: 'the driver writes the read-only DeviceID register', rule: 'virtio-mmio.driver-registers' },
      'queue-num-too-big': { what: 'QueueNum 512 over QueueNumMax 256', rule: 'virtio-mmio.queue-num' },
      'queue-not-ready': { what: 'the device takes chains from a queue whose QueueReady is 0', rule: 'virtio-mmio.queue-ready' },
      'used-len': { what: 'a used length of 8192 for a read of 8 sectors (4097 bytes with the status)', rule: 'virtio.vq.used-len' },
      'double-completion': { what: 'a chain completed twice', rule: 'virtio.vq.completed-once' },
      'completion-without-request': { what: 'a completion of a chain never taken', rule: 'virtio.vq.no-completion-without-request' },
      'used-more': { what: 'two used elements published for one completion', rule: 'virtio.vq.used-not-more-than-taken' },
      'chain-layout': { what: 'a block request without a writable status byte', rule: 'virtio.vq.chain-layout' },
      'bad-blk-status': { what: 'a request answered with status byte 7', rule: 'virtio-blk.status' },
      'empty-rng': { what: 'the entropy device answers with no bytes', rule: 'virtio-rng.answers' },
      'used-past-ring': { what: 'a used element written at offset 130 of a queue of 128 entries', rule: 'virtio.vq.queue-size' },
      'out-of-order': { what: 'VIRTIO_F_IN_ORDER negotiated, and the entropy device uses the second chain taken before the first', rule: 'virtio.vq.in-order' },
      'notify-after-reset': {
        what: 'the entropy device sends a used-buffer notification after the driver reset it, before it is initialised again',
        rule: 'virtio.reset-quiet',
        also: { rules: ['virtio.live-after-driver-ok'], why: '§2.4.1 and §3.1.1: a use after a reset is also a use before DRIVER_OK of the new session' },
      },
    },
  },
  {
    name: 'gpu-2d', description: 'virtio-gpu: EDID, display info and the 2D flow on the control queue, a cursor move on the cursor queue, both views', build: gpu,
    faults: {
      'wrong-device-id': { what: 'the guest reads device ID 18 from the device its GPU driver binds', rule: 'AVPS-v2.0-17' },
      'cursor-on-control': { what: 'a cursor command on the control queue', rule: 'AVPS-v2.0-18' },
      virgl: { what: 'the device offers VIRTIO_GPU_F_VIRGL', rule: 'AVPS-v2.0-19' },
      'edid-error': { what: 'GET_EDID answered with RESP_ERR_UNSPEC', rule: 'AVPS-v2.0-20' },
      'config-write': { what: 'the configuration written at num_capsets', rule: 'AVPS-v2.0-21' },
      'bad-response': { what: 'a RESOURCE_FLUSH answered with 0x1300, no VIRTIO_GPU_RESP_*', rule: 'AVPS-v2.0-22' },
    },
  },
  { name: 'watchdog', description: 'the SBSA generic watchdog refreshed, then left to raise WS0 and WS1', build: watchdog, faults: { 'late-watchdog': { what: 'WS0 and WS1 raised 4 ms after they are due', rule: 'AVPS-v2.0-35' } } },
  {
    name: 'psci', description: 'PSCI calls: PSCI_VERSION, PSCI_FEATURES, CPU_ON, SYSTEM_OFF', build: psci,
    faults: { 'psci-1.0': { what: 'PSCI_VERSION answers 1.0', rule: 'AVPS-v2.0-36' }, 'cpu-on-unsupported': { what: 'CPU_ON answered NOT_SUPPORTED', rule: 'AVPS-v2.0-36' } },
  },
  {
    name: 'scmi-sensors', description: 'the SCMI sensor protocol: its version and three readings', build: scmi,
    faults: { 'scmi-2.0': { what: 'the sensor protocol reports version 2.0', rule: 'AVPS-v2.0-39' }, 'sensor-error': { what: 'a sensor reading answered with an error', rule: 'AVPS-v2.0-39' } },
  },
  { name: 'vsock', description: 'virtio-vsock: a connection request, its response and data', build: vsock, faults: { 'bad-op': { what: 'a packet with op 9', rule: 'AVPS-v2.0-16' } } },
  {
    name: 'iommu', description: 'virtio-iommu: attach, map, unmap', build: iommu,
    faults: { 'bad-status': { what: 'UNMAP answered with status 12', rule: 'AVPS-v2.0-32' }, 'empty-map': { what: 'a MAP of an empty range answered OK', rule: 'AVPS-v2.0-32' } },
  },
  {
    name: 'virtio-fs', description: 'virtio-fs: FUSE INIT, LOOKUP (ENOENT), READ', build: fs,
    faults: { 'bad-error': { what: 'a FUSE reply with error 5 (positive)', rule: 'AVPS-v2.0-50' }, '9p-only': { what: 'the guest shares files through 9P only', rule: 'AVPS-v2.0-50' } },
  },
  { name: 'rpmb', description: 'virtio-rpmb: write counter, data read', build: rpmb, faults: { 'bad-result': { what: 'a result code RPMB does not define', rule: 'AVPS-v2.0-44' } } },
  { name: 'crypto', description: 'virtio-crypto: session create, cipher request', build: crypto, faults: { 'bad-status': { what: 'a status code virtio-crypto does not define', rule: 'AVPS-v2.0-45' } } },
  {
    name: 'dt-arm64', description: 'an arm64 platform described by its device tree (as dt.node events), with block and entropy devices on virtio-mmio', build: deviceTree,
    faults: {
      'no-kaslr-seed': { what: '/chosen without kaslr-seed', rule: 'AVPS-v2.0-42' },
      'no-watchdog': { what: 'no arm,sbsa-gwdt node', rule: 'AVPS-v2.0-35' },
      'undescribed-device': { what: 'two virtio-mmio devices, one virtio,mmio node', rule: 'AVPS-v2.0-3' },
      'ro-write-ok': { what: 'VIRTIO_BLK_F_RO negotiated, and a write request answered OK', rule: 'virtio-blk.ro-write-fails' },
    },
  },
  {
    name: 'blk-net', description: 'a block, a network and a console device on virtio-mmio, offering the features AVPS requires', build: blkNet,
    faults: {
      'offer-no-flush': {
        what: 'the block device offers CONFIG_WCE but not VIRTIO_BLK_F_FLUSH', rule: 'AVPS-v2.0-5',
        also: { rules: ['virtio-blk.flush-with-wce'], why: '§5.2.5.2: a device offering CONFIG_WCE must offer FLUSH' },
      },
      'wce-without-flush': {
        what: 'the same run: CONFIG_WCE offered without FLUSH', rule: 'virtio-blk.flush-with-wce',
        also: { rules: ['AVPS-v2.0-5'], why: 'AVPS requires FLUSH of every block device' },
      },
      'offer-no-wce': { what: 'the block device does not offer VIRTIO_BLK_F_CONFIG_WCE', rule: 'AVPS-v2.0-6' },
      'offer-no-discard': { what: 'the block device does not offer VIRTIO_BLK_F_DISCARD', rule: 'AVPS-v2.0-7' },
      'offer-no-write-zeroes': { what: 'the block device does not offer VIRTIO_BLK_F_WRITE_ZEROES', rule: 'AVPS-v2.0-7b' },
      'offer-no-mtu': { what: 'the network device does not offer VIRTIO_NET_F_MTU', rule: 'AVPS-v2.0-11' },
      'offer-no-mac': { what: 'the network device does not offer VIRTIO_NET_F_MAC', rule: 'AVPS-v2.0-12' },
      'offer-no-ctrl-mac': { what: 'the network device does not offer VIRTIO_NET_F_CTRL_MAC_ADDR', rule: 'AVPS-v2.0-13' },
      'net-double-completion': { what: 'the network device completes a transmit chain twice', rule: 'AVPS-v2.0-8' },
      'console-double-completion': { what: 'the console completes a transmit chain twice', rule: 'AVPS-v2.0-46' },
      'remove-unknown-port': { what: 'the console sends DEVICE_REMOVE for port 2, which it never added', rule: 'virtio-console.port-add-remove' },
    },
  },
];

export function scenario(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}
