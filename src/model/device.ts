/**
 * One virtio device instance as the replay knows it: transport, status sessions, queues, the
 * device type (seen or inferred) and what its device-specific events said.
 */
import { deviceIdFromModelName, deviceTypeName, DEVICE_ID } from './device-types.ts';
import { F_VERSION_1, hasBit } from './features.ts';
import type { BlkOp } from './events.ts';
import type { Ref } from './observations.ts';
import { StatusTracker, type AcceptedFeatures } from './device/status.ts';
import type { MmioState } from './transport/mmio.ts';
import type { PciState } from './transport/pci.ts';
import type { QueueState } from './virtqueue/queue.ts';

/**
 * What grounds a device type: an event of that device type (`event`: virtio_blk_*, rng, sound,
 * GPU, SCSI, balloon, input, console events), the hypervisor's model name (`model-name`: QEMU's
 * msix name), a device ID the trace gives (`device-id`), or only the layout of the chains on the
 * device's queues (`queue-shapes`, a guess: a SCSI controller has the shape of a block device, a
 * keyboard that of an entropy device).
 */
export type TypeBasis = 'event' | 'model-name' | 'device-id' | 'queue-shapes';

export interface TypeClaim {
  id: number;
  /** seen: the trace names the type; inferred: it is guessed (queue shapes) */
  how: 'seen' | 'inferred';
  basis: TypeBasis;
  why: string;
  /** the line that names this device was attributed to it by inference (its line names no device) */
  attributed?: boolean;
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
  /** the guest's virtioN this device is joined to, and how (guest-join.ts) */
  guestJoin?: { dev: string; how: string };
  readonly msixNames = new Set<string>();
  /** the feature bits the device offers, where the trace shows them (QEMU logs them for virtio-sound) */
  offered?: { bits: bigint; ref: Ref };
  /** the driver wrote the modern virtio-pci notify capability (VIRTIO §4.1.4.4): only a VIRTIO 1.x device has one */
  modernNotify?: Ref;
  /** lastFill: the last used element on the requestq, whose bytes QEMU logs right after it (virtio_rng_pushed) */
  readonly rng = { requests: 0, bytesRequested: 0, pushes: 0, bytesPushed: 0, lastFill: undefined as { len: number; ref: Ref } | undefined };
  readonly console = {
    /** DEVICE_ADD messages the device sent, and the first few (a count, not a list: memory stays flat) */
    deviceAdds: { n: 0, first: [] as Ref[] },
    bytesToHost: 0,
    bytesToGuest: 0,
    /** ports the device announced with DEVICE_ADD since the last reset */
    ports: new Set<number>(),
  };
  readonly gpuCommands = new Map<number, number>();
  readonly sndRequests = new Map<number, number>();
  sndConfig?: { jacks: number; streams: number; chmaps: number };
  /** sound control requests and the bytes the device wrote back (header + payload): the first few per code */
  readonly sndAnswers: SndAnswer[] = [];
  /** the sound control request handled since the control queue's last completion: that completion answers it */
  sndPending?: { code: number; request: Ref };
  /** completions whose used length the trace can check against what the device wrote (§2.7.8.2), and the first */
  readonly lenChecked = { n: 0, first: undefined as Ref | undefined };
  /** virtio-blk: requests of a type the device offers that it answered VIRTIO_BLK_S_UNSUPP, by type (the first few) */
  readonly blkUnsupp = new Map<BlkOp, Ref[]>();
  /** virtio-blk: write requests completed while VIRTIO_BLK_F_RO was negotiated, and the first */
  readonly roWrites = { n: 0, first: undefined as Ref | undefined };
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
    if (!this.claims.some((x) => x.id === c.id && x.basis === c.basis && x.attributed === c.attributed)) this.claims.push(c);
  }

  claimFromModelName(name: string, ref: Ref, attributionInferred: boolean): void {
    const id = deviceIdFromModelName(name);
    if (id === undefined) return;
    this.claim({
      id,
      how: 'seen',
      basis: 'model-name',
      why: attributionInferred ? `QEMU names device model ${name} during this device's setup (the line names no device: attributed by the setup it falls in)` : `device model ${name}`,
      ...(attributionInferred ? { attributed: true } : {}),
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

  /** Driven as a VIRTIO 1.x device: VERSION_1 accepted in the current session, a version-2 MMIO
   *  transport, or the modern virtio-pci notify capability in use. */
  isModern(): boolean {
    const acc = this.status.current?.accepted();
    if (acc && hasBit(acc.bits, F_VERSION_1)) return true;
    return this.mmio?.version === 2 || this.modernNotify !== undefined;
  }

  /** The driver accepted this feature bit in the current session; undefined when the trace does not show the features. */
  negotiated(bit: number): boolean | undefined {
    // the last session that negotiated: the current one may be a reset with no features written since
    const acc = this.lastAccepted();
    return acc === undefined ? undefined : hasBit(acc.bits, bit);
  }

  /** The features of the last session that shows them. */
  lastAccepted(): AcceptedFeatures | undefined {
    const sessions = this.status.sessions;
    for (let i = sessions.length - 1; i >= 0; i--) {
      const acc = sessions[i]!.accepted();
      if (acc !== undefined) return acc;
    }
    return undefined;
  }

  /** Whether a session the trace shows the features of accepted this bit; undefined when none shows them. */
  everNegotiated(bit: number): boolean | undefined {
    const acc = this.status.sessions.map((s) => s.accepted()).filter((a) => a !== undefined);
    return acc.length === 0 ? undefined : acc.some((a) => hasBit(a.bits, bit));
  }

  /** Known to be driven as a legacy device: legacy virtio-mmio registers, or features negotiated without VERSION_1. */
  isLegacy(): boolean {
    if (this.mmio?.version === 1) return true;
    const acc = this.lastAccepted();
    return acc !== undefined && !hasBit(acc.bits, F_VERSION_1);
  }

  /**
   * The device type: a claim from a line that names the device wins, then one from a line
   * attributed to it; only without either, the queues' shapes (a guess, marked as such).
   */
  type(): DeviceType | undefined {
    if (this.claims.length === 0) {
      const c = this.typeFromShapes();
      return c && { ...c, name: deviceTypeName(c.id) };
    }
    // claims only accumulate: the answer changes only when one is added (the replay asks at every chain)
    if (this.claimedType?.claims !== this.claims.length) {
      const c = this.claims.find((x) => !x.attributed) ?? this.claims[0]!;
      this.claimedType = { claims: this.claims.length, type: { ...c, name: deviceTypeName(c.id) } };
    }
    return this.claimedType.type;
  }
  private claimedType?: { claims: number; type: DeviceType };

  /** Known only from the layout of its chains: no type-specific verdict may rest on it. */
  typeFromShapesOnly(): boolean {
    return this.type()?.basis === 'queue-shapes';
  }

  /** Claims of different types from lines that name this device: the trace contradicts itself. */
  conflictingClaims(): TypeClaim[] {
    const named = this.claims.filter((x) => !x.attributed);
    return named.some((x) => x.id !== named[0]!.id) ? named : [];
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
      return { id: DEVICE_ID.rng, how: 'inferred', basis: 'queue-shapes', why: 'one queue, and every chain on it device-writable only (entropy requestq, VIRTIO §5.4)' };
    }
    if (only(0, 'writable') && only(1, 'readable') && used.every((q) => q <= 2)) {
      return {
        id: DEVICE_ID.net,
        how: 'inferred',
        basis: 'queue-shapes',
        why: 'queue 0 takes writable-only chains and queue 1 readable-only ones, with at most a control queue 2 (receiveq1/transmitq1/controlq, VIRTIO §5.1.2)',
      };
    }
    if (used.some((q) => q >= 2) && (only(2, 'writable') || only(3, 'readable')) && [...this.queues.keys()].length >= 4) {
      return { id: DEVICE_ID.console, how: 'inferred', basis: 'queue-shapes', why: 'four or more queues with control receive/transmit queues 2 and 3 (VIRTIO §5.3.2)' };
    }
    if (used.every((q) => (s(q)?.mixed ?? 0) > 0)) {
      return { id: DEVICE_ID.blk, how: 'inferred', basis: 'queue-shapes', why: 'every chain has readable and writable segments (request header and status, VIRTIO §5.2.6)' };
    }
    return undefined;
  }
}
