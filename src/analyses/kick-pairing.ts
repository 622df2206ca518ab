/**
 * The guest's kicks (the driver's vq_notify) met with QEMU's handling of them (virtio_queue_notify)
 * on the host queue the guest's queue maps to. The clock alignment puts the kick pairs it was
 * fitted on at the same ns as the guest's kick, and QEMU's line may then come first in the replay:
 * a host kick already seen at or after the guest's is the one; else it is the next host kick of
 * that queue. The other direction, the guest interrupt that announced a used buffer, is
 * `announcingInterrupt`.
 */
import type { Ref } from '../model/observations.ts';
import type { Chain } from '../model/virtqueue/chain.ts';
import { push, take } from './list-map.ts';

/** What the driver placed in a ring: the kick that announced it, and QEMU's handling of that kick. */
export interface Kicked {
  kick?: Ref;
  notify?: Ref;
}

export class KickPairing<T extends Kicked> {
  /** per guest queue ("dev#queue"): placed in the ring, awaiting the driver's kick */
  private readonly unkicked = new Map<string, T[]>();
  /** per host queue: QEMU's last kick, and the guest's kicks awaiting QEMU's next */
  private readonly lastHostKick = new Map<string, Ref>();
  private readonly awaitingHost = new Map<string, T[]>();

  added(guestQueue: string, x: T): void {
    push(this.unkicked, guestQueue, x);
  }

  /** The driver kicked `guestQueue`, which is `hostQueue` on the host when the devices are mapped.
   *  Returns what the kick announced. */
  guestKick(guestQueue: string, hostQueue: string | undefined, ref: Ref): T[] {
    const kicked = take(this.unkicked, guestQueue);
    for (const x of kicked) {
      x.kick = ref;
      if (hostQueue === undefined) continue;
      const same = this.lastHostKick.get(hostQueue);
      if (same && same.ts >= ref.ts) x.notify = same;
      else push(this.awaitingHost, hostQueue, x);
    }
    return kicked;
  }

  hostKick(hostQueue: string, ref: Ref): void {
    this.lastHostKick.set(hostQueue, ref);
    for (const x of take(this.awaitingHost, hostQueue)) x.notify ??= ref;
  }
}

/**
 * The guest interrupt that announced a buffer the driver took: the queue's last interrupt, if it came
 * after the device published the buffer (or, with the host side unknown, after `notBefore`); an
 * earlier one means the driver found the buffer while busy, without an interrupt of its own.
 */
export function announcingInterrupt(last: Ref | undefined, chain: Chain | undefined, notBefore: number): Ref | undefined {
  const after = chain?.used?.ts ?? chain?.fill?.ts ?? notBefore;
  return last !== undefined && last.ts >= after ? last : undefined;
}
