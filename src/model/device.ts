/**
 * One virtio device instance as the replay knows it: transport, status sessions, queues, the
 * device type (seen or inferred) and what its device-specific events said.
 */
import { deviceIdFromModelName, deviceTypeName, DEVICE_ID } from './device-types.ts';
import { F_VERSION_1, hasBit } from './features.ts';
import type { Ref } from './observations.ts';
import { StatusTracker } from './device/status.ts';
import type { MmioState } from './transport/mmio.ts';
import type { PciState } from './transport/pci.ts';
import type { QueueState } from './virtqueue/queue.ts';

export interface TypeClaim {
  id: number;
  how: 'seen' | 'inferred';
  why: string;
  ref?: Ref;
}

export interface DeviceType extends TypeClaim {
  name: string;
}

/** Counts of chain shapes the device took on one queue. */
export interface QueueShapes {
  /** only device-readable segments (out) */
  readable: number;
  /** only device-writable segments (in) */
  writable: number;
  /** both */
  mixed: number;
  firstReadable?: Ref;
  firstWritable?: Ref;
  firstMixed?: Ref;
}

export interface SndAnswer {
  code: number;
  /** bytes written to the response (virtio_snd_hdr, then any info structures) */
  len: number;
  request: Ref;
  answer: Ref;
}

/** answers kept per request code: enough to judge a probe, bounded for a trace of any length */
const SND_ANSWERS_PER_CODE = 8;

export class Device {
  readonly status = new StatusTracker();
  transport?: 'mmio' | 'pci';
  mmio?: MmioState;
  /** virtio-pci modern registers, when the trace shows them (host KVM tracepoints) */
  pci?: PciState;
  /** one run seen by the host kernel and by the VMM (src/align/kvm.ts): status values the VMM
   *  logged that no trapped register write carried (the first few, and how many) */
  statusEchoes?: { unechoed: Ref[]; count: number };
  readonly queues = new Map<number, QueueState>();
  readonly shapes = new Map<number, QueueShapes>();
  readonly claims: TypeClaim[] = [];
  readonly msixNames = new Set<string>();
  readonly rng = { requests: 0, bytesRequested: 0, pushes: 0, bytesPushed: 0 };
  readonly console = { toDriver: [] as { event: number; value?: number; ref: Ref }[], toDevice: [] as { event: number; value?: number; ref: Ref }[], bytesToHost: 0, bytesToGuest: 0 };
  readonly gpuCommands = new Map<number, number>();
  readonly sndRequests = new Map<number, number>();
  sndConfig?: { jacks: number; streams: number; chmaps: number };
  /** sound control requests and the bytes the device wrote back (header + payload): the first few per code */
  readonly sndAnswers: SndAnswer[] = [];
  /** the sound control request handled since the control queue's last completion: that completion answers it */
  sndPending?: { code: number; request: Ref };
  /** chains still in flight when the device was reset (dropped by the reset, VIRTIO §2.4) */
  droppedAtReset = 0;
  /** chains still in flight when the trace ended */
  inFlightAtEnd = 0;
  events = 0;
  /** events attributed to this device by inference, not named by their line */
  inferredEvents = 0;
  first?: Ref;
  last?: Ref;

  constructor(
    readonly vm: string,
    readonly id: string,
  ) {}

  claim(c: TypeClaim): void {
    if (!this.claims.some((x) => x.id === c.id && x.how === c.how)) this.claims.push(c);
  }

  claimFromModelName(name: string, ref: Ref, attributionInferred: boolean): void {
    const id = deviceIdFromModelName(name);
    if (id === undefined) return;
    this.claim({
      id,
      how: attributionInferred ? 'inferred' : 'seen',
      why: attributionInferred ? `QEMU names device model ${name} during this device's setup (attribution inferred)` : `device model ${name}`,
      ref,
    });
  }

  /** The control queue completed a chain: the answer to the request handled since the last one. */
  sndAnswered(len: number, answer: Ref): void {
    const p = this.sndPending;
    if (!p) return;
    this.sndPending = undefined;
    if (this.sndAnswers.filter((a) => a.code === p.code).length < SND_ANSWERS_PER_CODE) this.sndAnswers.push({ ...p, len, answer });
  }

  shape(queue: number): QueueShapes {
    let s = this.shapes.get(queue);
    if (!s) this.shapes.set(queue, (s = { readable: 0, writable: 0, mixed: 0 }));
    return s;
  }

  /** Driven as a VIRTIO 1.x device: VERSION_1 accepted in the current session, or a version-2 MMIO transport. */
  isModern(): boolean {
    const acc = this.status.current?.accepted();
    if (acc && hasBit(acc.bits, F_VERSION_1)) return true;
    return this.mmio?.version === 2;
  }

  /** Known to be driven as a legacy device: legacy virtio-mmio registers, or features negotiated without VERSION_1. */
  isLegacy(): boolean {
    if (this.mmio?.version === 1) return true;
    const acc = this.status.sessions.map((s) => s.accepted()).findLast((a) => a !== undefined);
    return acc !== undefined && !hasBit(acc.bits, F_VERSION_1);
  }

  /** The device type: a seen claim wins; else an inferred one; else the queues' shapes. */
  type(): DeviceType | undefined {
    const c = this.claims.find((x) => x.how === 'seen') ?? this.claims.find((x) => x.how === 'inferred') ?? this.typeFromShapes();
    return c && { ...c, name: deviceTypeName(c.id) };
  }

  private typeFromShapes(): TypeClaim | undefined {
    const used = [...this.shapes.keys()].sort((a, b) => a - b);
    const s = (q: number) => this.shapes.get(q);
    const only = (q: number, k: 'readable' | 'writable') => {
      const x = s(q);
      return x !== undefined && x[k] > 0 && x.readable + x.writable + x.mixed === x[k];
    };
    if (used.length === 0) return undefined;
    if (used.length === 1 && used[0] === 0 && only(0, 'writable') && this.queues.size <= 1) {
      return { id: DEVICE_ID.rng, how: 'inferred', why: 'one queue, and every chain on it device-writable only (entropy requestq, VIRTIO §5.4)' };
    }
    if (only(0, 'writable') && only(1, 'readable') && used.every((q) => q <= 2)) {
      return {
        id: DEVICE_ID.net,
        how: 'inferred',
        why: 'queue 0 takes writable-only chains and queue 1 readable-only ones, with at most a control queue 2 (receiveq1/transmitq1/controlq, VIRTIO §5.1.2)',
      };
    }
    if (used.some((q) => q >= 2) && (only(2, 'writable') || only(3, 'readable')) && [...this.queues.keys()].length >= 4) {
      return { id: DEVICE_ID.console, how: 'inferred', why: 'four or more queues with control receive/transmit queues 2 and 3 (VIRTIO §5.3.2)' };
    }
    if (used.every((q) => (s(q)?.mixed ?? 0) > 0)) {
      return { id: DEVICE_ID.blk, how: 'inferred', why: 'every chain has readable and writable segments (request header and status, VIRTIO §5.2.6)' };
    }
    return undefined;
  }
}
