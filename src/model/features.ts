/**
 * Feature bits by name (VIRTIO §6 reserved bits and the device chapters), and the feature
 * requirements avpscope judges. Bit sets are bigint: feature bits run past 63.
 */
import { DEVICE_ID } from './device-types.ts';

export const F_VERSION_1 = 32;
export const F_RING_PACKED = 34;
export const F_IN_ORDER = 35;

export const RESERVED_FEATURES: Record<number, string> = {
  24: 'VIRTIO_F_NOTIFY_ON_EMPTY', 27: 'VIRTIO_F_ANY_LAYOUT', 28: 'VIRTIO_F_INDIRECT_DESC', 29: 'VIRTIO_F_EVENT_IDX',
  32: 'VIRTIO_F_VERSION_1', 33: 'VIRTIO_F_ACCESS_PLATFORM', 34: 'VIRTIO_F_RING_PACKED', 35: 'VIRTIO_F_IN_ORDER',
  36: 'VIRTIO_F_ORDER_PLATFORM', 37: 'VIRTIO_F_SR_IOV', 38: 'VIRTIO_F_NOTIFICATION_DATA', 39: 'VIRTIO_F_NOTIF_CONFIG_DATA',
  40: 'VIRTIO_F_RING_RESET', 41: 'VIRTIO_F_ADMIN_VQ', 43: 'VIRTIO_F_SUSPEND',
};

export const DEVICE_FEATURES: Record<number, Record<number, string>> = {
  [DEVICE_ID.blk]: {
    0: 'VIRTIO_BLK_F_BARRIER', 1: 'VIRTIO_BLK_F_SIZE_MAX', 2: 'VIRTIO_BLK_F_SEG_MAX', 4: 'VIRTIO_BLK_F_GEOMETRY',
    5: 'VIRTIO_BLK_F_RO', 6: 'VIRTIO_BLK_F_BLK_SIZE', 7: 'VIRTIO_BLK_F_SCSI', 9: 'VIRTIO_BLK_F_FLUSH',
    10: 'VIRTIO_BLK_F_TOPOLOGY', 11: 'VIRTIO_BLK_F_CONFIG_WCE', 12: 'VIRTIO_BLK_F_MQ', 13: 'VIRTIO_BLK_F_DISCARD',
    14: 'VIRTIO_BLK_F_WRITE_ZEROES', 15: 'VIRTIO_BLK_F_LIFETIME', 16: 'VIRTIO_BLK_F_SECURE_ERASE', 17: 'VIRTIO_BLK_F_ZONED',
  },
  [DEVICE_ID.net]: {
    0: 'VIRTIO_NET_F_CSUM', 1: 'VIRTIO_NET_F_GUEST_CSUM', 2: 'VIRTIO_NET_F_CTRL_GUEST_OFFLOADS', 3: 'VIRTIO_NET_F_MTU',
    5: 'VIRTIO_NET_F_MAC', 6: 'VIRTIO_NET_F_GSO', 7: 'VIRTIO_NET_F_GUEST_TSO4', 8: 'VIRTIO_NET_F_GUEST_TSO6',
    9: 'VIRTIO_NET_F_GUEST_ECN', 10: 'VIRTIO_NET_F_GUEST_UFO', 11: 'VIRTIO_NET_F_HOST_TSO4', 12: 'VIRTIO_NET_F_HOST_TSO6',
    13: 'VIRTIO_NET_F_HOST_ECN', 14: 'VIRTIO_NET_F_HOST_UFO', 15: 'VIRTIO_NET_F_MRG_RXBUF', 16: 'VIRTIO_NET_F_STATUS',
    17: 'VIRTIO_NET_F_CTRL_VQ', 18: 'VIRTIO_NET_F_CTRL_RX', 19: 'VIRTIO_NET_F_CTRL_VLAN', 20: 'VIRTIO_NET_F_CTRL_RX_EXTRA',
    21: 'VIRTIO_NET_F_GUEST_ANNOUNCE', 22: 'VIRTIO_NET_F_MQ', 23: 'VIRTIO_NET_F_CTRL_MAC_ADDR',
    50: 'VIRTIO_NET_F_DEVICE_STATS', 57: 'VIRTIO_NET_F_HASH_REPORT', 60: 'VIRTIO_NET_F_RSS', 62: 'VIRTIO_NET_F_STANDBY',
    63: 'VIRTIO_NET_F_SPEED_DUPLEX',
  },
  [DEVICE_ID.console]: { 0: 'VIRTIO_CONSOLE_F_SIZE', 1: 'VIRTIO_CONSOLE_F_MULTIPORT', 2: 'VIRTIO_CONSOLE_F_EMERG_WRITE' },
  [DEVICE_ID.gpu]: {
    0: 'VIRTIO_GPU_F_VIRGL', 1: 'VIRTIO_GPU_F_EDID', 2: 'VIRTIO_GPU_F_RESOURCE_UUID', 3: 'VIRTIO_GPU_F_RESOURCE_BLOB',
    4: 'VIRTIO_GPU_F_CONTEXT_INIT',
  },
  [DEVICE_ID.sound]: { 0: 'VIRTIO_SND_F_CTLS' },
};

export function featureName(deviceId: number | undefined, bit: number): string {
  return RESERVED_FEATURES[bit] ?? (deviceId !== undefined ? DEVICE_FEATURES[deviceId]?.[bit] : undefined) ?? `bit ${bit}`;
}

export function hasBit(bits: bigint, bit: number): boolean {
  return ((bits >> BigInt(bit)) & 1n) === 1n;
}

export function hexBits(bits: bigint): string {
  return '0x' + bits.toString(16);
}

/**
 * Drivers whose acceptance of a feature can be assumed whenever the device offers it: Linux's
 * drivers list these bits in their feature tables and negotiation keeps every listed bit the
 * device offers (drivers/virtio/virtio.c). With this assumption a missing bit proves the device
 * did not offer it.
 */
export const ASSUMED_DRIVERS = {
  linux: {
    description: "Linux's virtio drivers (6.1), which accept every feature of their feature table that the device offers",
    accepts: {
      [DEVICE_ID.blk]: [9, 11, 13, 14], // FLUSH, CONFIG_WCE, DISCARD (since 5.0), WRITE_ZEROES (since 5.0)
      [DEVICE_ID.net]: [3, 5, 17, 23], // MTU, MAC, CTRL_VQ, CTRL_MAC_ADDR
    } as Record<number, number[]>,
  },
} as const;

export type AssumedDriver = keyof typeof ASSUMED_DRIVERS | 'none';
