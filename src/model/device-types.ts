/** VIRTIO device IDs (VIRTIO §5) for the devices avpscope models, and their queue names. */
export const DEVICE_ID = {
  net: 1,
  blk: 2,
  console: 3,
  rng: 4,
  gpu: 16,
  vsock: 19,
  iommu: 23,
  sound: 25,
} as const;

export type DeviceTypeName = keyof typeof DEVICE_ID;

const BY_ID = new Map<number, DeviceTypeName>(Object.entries(DEVICE_ID).map(([k, v]) => [v, k as DeviceTypeName]));

export function deviceTypeName(id: number): string {
  return BY_ID.get(id) ?? `virtio-${id}`;
}

/** QEMU device model names ("virtio-blk-pci", "virtio-serial-device") to device IDs. */
export function deviceIdFromModelName(name: string): number | undefined {
  const m = /^virtio-(net|blk|serial|console|rng|gpu|vsock|iommu|sound)\b/.exec(name);
  if (!m) return undefined;
  const t = m[1] === 'serial' ? 'console' : m[1] === 'sound' ? 'sound' : (m[1] as DeviceTypeName);
  return DEVICE_ID[t];
}
