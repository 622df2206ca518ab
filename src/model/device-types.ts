/** VIRTIO device IDs (VIRTIO §5) for the devices avpscope models, and their queue names. */
export const DEVICE_ID = {
  net: 1,
  blk: 2,
  console: 3,
  rng: 4,
  balloon: 5,
  scsi: 8,
  gpu: 16,
  input: 18,
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
  const m = /^virtio-(net|blk|serial|console|rng|balloon|scsi|gpu|input|keyboard|mouse|tablet|vsock|iommu|sound)\b/.exec(name);
  if (!m) return undefined;
  // QEMU's virtio-input models are named for what they emulate (virtio-keyboard-pci, ...)
  const t = m[1] === 'serial' ? 'console' : m[1] === 'keyboard' || m[1] === 'mouse' || m[1] === 'tablet' ? 'input' : (m[1] as DeviceTypeName);
  return DEVICE_ID[t];
}
