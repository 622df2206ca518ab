/**
 * The device status state machine (VIRTIO §2.1, §3.1.1), the one place it lives. A *session* is
 * one driver's life with the device: from a reset (status 0) to the next. One device may meet
 * several drivers in a trace (firmware, then the OS).
 */

/** feature words a driver can select that may hold a feature (VIRTIO defines bits below 128) */
const MAX_FEATURE_WORDS = 64;
import type { Ref } from '../observations.ts';

export const STATUS = {
  ACKNOWLEDGE: 1,
  DRIVER: 2,
  DRIVER_OK: 4,
  FEATURES_OK: 8,
  DEVICE_NEEDS_RESET: 0x40,
  FAILED: 0x80,
} as const;

export function statusName(v: number): string {
  if (v === 0) return 'RESET';
  const names = Object.entries(STATUS).filter(([, b]) => (v & b) !== 0).map(([n]) => n);
  return names.join('|') || `0x${v.toString(16)}`;
}

export interface FeatureWord {
  sel: number;
  value: number;
  ref: Ref;
}

export interface AcceptedFeatures {
  bits: bigint;
  refs: Ref[];
  refFor(bit: number): Ref[];
}

export interface OrderProblem {
  ref: Ref;
  detail: string;
}

export class Session {
  readonly writes: { value: number; ref: Ref }[] = [];
  /** DriverFeatures words as written through DriverFeaturesSel (MMIO), in order */
  readonly featureWords: FeatureWord[] = [];
  /** a whole accepted feature set, from a canonical `features` event */
  acceptedEvent?: { bits: bigint; ref: Ref };
  /** `words`: when read word by word (register values), the read of each word, by its select value */
  offered?: { bits: bigint; ref: Ref; words?: Map<number, Ref> };
  readonly orderProblems: OrderProblem[] = [];
  readonly clearedBits: OrderProblem[] = [];
  readonly lateFeatureWrites: Ref[] = [];
  /** feature words written before DRIVER was set */
  readonly earlyFeatureWrites: Ref[] = [];
  featuresOk?: Ref;
  driverOk?: Ref;
  failed?: Ref;
  /** ACKNOWLEDGE and DRIVER set by one write (as SeaBIOS does) */
  combinedAckDriver?: Ref;

  /** the hypervisor's own reset (QEMU's machine reset) that opened the session, if that is what did */
  hostReset?: Ref;

  constructor(
    readonly index: number,
    /** the driver's reset that began the session (its last one before its first status bit);
     *  undefined when the trace shows none (joined midway, or only the hypervisor reset the device) */
    public reset: Ref | undefined,
  ) {}

  /** The session began from a known reset state (the driver's reset or the hypervisor's). */
  get opened(): boolean {
    return this.reset !== undefined || this.hostReset !== undefined;
  }

  get value(): number {
    return this.writes.at(-1)?.value ?? 0;
  }

  /** accepted()'s answer and what it was computed from: the replay asks it at every completion */
  private acceptedMemo?: { words: number; late: number; event: Session['acceptedEvent']; value: AcceptedFeatures | undefined };

  /** The accepted feature bits, if the trace shows them: from a features event, else the words. */
  accepted(): AcceptedFeatures | undefined {
    const m = this.acceptedMemo;
    if (m && m.words === this.featureWords.length && m.late === this.lateFeatureWrites.length && m.event === this.acceptedEvent) return m.value;
    const value = this.computeAccepted();
    this.acceptedMemo = { words: this.featureWords.length, late: this.lateFeatureWrites.length, event: this.acceptedEvent, value };
    return value;
  }

  private computeAccepted(): AcceptedFeatures | undefined {
    if (this.acceptedEvent) {
      const ref = this.acceptedEvent.ref;
      return { bits: this.acceptedEvent.bits, refs: [ref], refFor: () => [ref] };
    }
    // what counts is what the driver had written when it set FEATURES_OK; later writes are
    // violations, reported as such, not a change of the negotiated set
    const words = this.featureWords.filter((w) => !this.lateFeatureWrites.includes(w.ref));
    if (words.length === 0) return undefined;
    const bySel = new Map<number, FeatureWord>();
    for (const w of words) bySel.set(w.sel, w);
    let bits = 0n;
    // a selector past the words VIRTIO defines (a corrupt or hostile trace) holds no feature: a
    // shift by 32 × 2^40 bits would not fit any integer
    for (const w of bySel.values()) if (w.sel < MAX_FEATURE_WORDS) bits |= BigInt(w.value >>> 0) << BigInt(32 * w.sel);
    const refs = [...bySel.values()].sort((a, b) => a.sel - b.sel).map((w) => w.ref);
    // the evidence for one bit is the write of the word that holds it
    return { bits, refs, refFor: (bit) => (bySel.has(bit >> 5) ? [bySel.get(bit >> 5)!.ref] : refs) };
  }

  /** Did the driver write its features (any word, or a whole set) before FEATURES_OK? */
  wroteFeaturesBeforeFeaturesOk(): boolean {
    const okTs = this.featuresOk?.ts ?? Infinity;
    const okLine = this.featuresOk?.src?.line ?? Infinity;
    const before = (r: Ref) => r.ts < okTs || (r.ts === okTs && (r.src?.line ?? 0) < okLine);
    return this.featureWords.some((w) => before(w.ref)) || (this.acceptedEvent !== undefined && before(this.acceptedEvent.ref));
  }
}

/**
 * The steps of VIRTIO §3.1.1 that must come before setting a bit: `set` bits must be set by then
 * (the same write may set ACKNOWLEDGE and DRIVER together, as SeaBIOS does: no step lies between
 * them); `earlier` bits must have been set by an earlier write, because a step lies between them
 * (feature negotiation before FEATURES_OK, device setup before DRIVER_OK).
 */
function prerequisites(bit: number, modern: boolean): { set: number; earlier: number } {
  switch (bit) {
    case STATUS.DRIVER:
      return { set: STATUS.ACKNOWLEDGE, earlier: 0 };
    case STATUS.FEATURES_OK:
      return { set: STATUS.ACKNOWLEDGE | STATUS.DRIVER, earlier: STATUS.DRIVER };
    case STATUS.DRIVER_OK:
      // legacy drivers have no FEATURES_OK step (VIRTIO §3.1.2)
      return modern
        ? { set: STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK, earlier: STATUS.FEATURES_OK }
        : { set: STATUS.ACKNOWLEDGE | STATUS.DRIVER, earlier: STATUS.DRIVER };
    default:
      return { set: 0, earlier: 0 };
  }
}

/** Sessions kept in full; beyond that, clean ones are dropped (counted) so that a trace of a
 *  device reset a million times keeps the model's memory flat. Problem sessions are always kept. */
const KEPT_SESSIONS = 32;

export class StatusTracker {
  readonly sessions: Session[] = [];
  /** sessions seen, kept or not */
  count = 0;
  /** resets seen (consecutive zero writes count once) */
  resets = 0;

  private open(reset: Ref | undefined): void {
    this.sessions.push(new Session(this.count++, reset));
    if (this.sessions.length <= KEPT_SESSIONS) return;
    // drop the oldest clean, finished session but the first (the report names the first)
    const i = this.sessions.findIndex((x, k) => k > 0 && k < this.sessions.length - 1 && x.orderProblems.length + x.clearedBits.length + x.lateFeatureWrites.length + x.earlyFeatureWrites.length === 0);
    if (i > 0) this.sessions.splice(i, 1);
  }

  get current(): Session | undefined {
    return this.sessions.at(-1);
  }

  /** status writes the hypervisor made itself (QEMU at VM run and stop: the value the device already had) */
  hostWrites = 0;

  /**
   * The hypervisor set the status itself: a machine reset (0) puts the device in its reset state
   * and opens a session without a driver reset; any other value repeats what the device has.
   */
  host(value: number, ref: Ref): void {
    if (value !== 0) {
      this.hostWrites++;
      return;
    }
    const s = this.current;
    if (s === undefined || s.writes.length > 0) {
      this.resets++;
      this.open(undefined);
    }
    this.current!.hostReset ??= ref;
  }

  /** Applies a status write by the driver. `modern`: whether this device is driven as a VIRTIO 1.x device. */
  write(value: number, ref: Ref, modern: () => boolean): void {
    let s = this.current;
    if (value === 0) {
      if (s === undefined || s.writes.length > 0) {
        this.resets++;
        this.open(ref);
      } else s.reset = ref;
      return;
    }
    if (s === undefined) {
      this.open(undefined);
      s = this.current!;
    }
    const prev = s.value;
    s.writes.push({ value, ref });
    const cleared = prev & ~value;
    if (cleared !== 0) {
      s.clearedBits.push({ ref, detail: `status 0x${prev.toString(16)} -> 0x${value.toString(16)} clears ${statusName(cleared)}` });
    }
    const added = value & ~prev;
    if (!s.opened && prev === 0) return; // joined midway: earlier writes unseen
    for (const bit of [STATUS.DRIVER, STATUS.FEATURES_OK, STATUS.DRIVER_OK]) {
      if ((added & bit) === 0) continue;
      const need = prerequisites(bit, modern());
      const missing = need.set & ~value;
      const sameWrite = need.earlier & added;
      const v = `status 0x${value.toString(16)}`;
      if (missing !== 0) s.orderProblems.push({ ref, detail: `${statusName(bit)} set (${v}) before ${statusName(missing)}` });
      else if (sameWrite !== 0) {
        s.orderProblems.push({ ref, detail: `${statusName(bit)} set (${v}) in the same write as ${statusName(sameWrite)}, with no step between them` });
      }
    }
    if ((added & STATUS.ACKNOWLEDGE) !== 0 && (added & STATUS.DRIVER) !== 0) s.combinedAckDriver ??= ref;
    if ((added & STATUS.FEATURES_OK) !== 0) s.featuresOk ??= ref;
    if ((added & STATUS.DRIVER_OK) !== 0) s.driverOk ??= ref;
    if ((added & STATUS.FAILED) !== 0) s.failed ??= ref;
  }

  /** A device_feature / DeviceFeatures word read back with its value (a trace with read values):
   *  builds the offered set word by word, as the driver sees it. */
  deviceFeatureWord(sel: number, value: number, ref: Ref): void {
    const s = this.current;
    if (!s || sel > 3) return;
    const shift = BigInt(32 * sel);
    const old = s.offered?.bits ?? 0n;
    const words = new Map(s.offered?.words ?? []).set(sel, ref);
    s.offered = { bits: (old & ~(0xffffffffn << shift)) | (BigInt(value >>> 0) << shift), ref, words };
  }

  driverFeatureWord(sel: number, value: number, ref: Ref): void {
    const s = this.current;
    if (!s) return;
    if (s.featuresOk) s.lateFeatureWrites.push(ref);
    if ((s.value & STATUS.DRIVER) === 0) s.earlyFeatureWrites.push(ref);
    s.featureWords.push({ sel, value, ref });
  }
}
