/** virtio-sound numbers (VIRTIO 1.3 §5.14; docs: VIRTIO-FACTS.md §9) that the sound analysis and rule use. */

/** VIRTIO_SND_R_* control request codes. */
export const SND_R = {
  JACK_INFO: 0x0001,
  PCM_INFO: 0x0100,
  PCM_SET_PARAMS: 0x0101,
  PCM_PREPARE: 0x0102,
  PCM_RELEASE: 0x0103,
  PCM_START: 0x0104,
  PCM_STOP: 0x0105,
  CHMAP_INFO: 0x0200,
} as const;

/** Queue indices: controlq, eventq, txq (output PCM), rxq (input PCM). */
export const SND_Q = { control: 0, event: 1, tx: 2, rx: 3 } as const;

export const SND_S_IO_ERR = 0x8003;

/** Sizes on the wire: the response header, one channel-map info, the rx status trailer. */
export const SND_HDR_BYTES = 4;
export const SND_CHMAP_INFO_BYTES = 24;
export const SND_PCM_STATUS_BYTES = 8;

/** VIRTIO_SND_PCM_RATE_* code -> Hz (§5.14.6.6). */
const RATES = [5512, 8000, 11025, 16000, 22050, 32000, 44100, 48000, 64000, 88200, 96000, 176400, 192000, 384000, 12000, 24000];

/** VIRTIO_SND_PCM_FMT_* code -> physical bits per sample; 0 where a frame is not a whole number of bytes (IMA ADPCM). */
const FORMAT_BITS = [4, 8, 8, 8, 8, 16, 16, 24, 24, 24, 24, 24, 24, 32, 32, 32, 32, 32, 32, 32, 64, 8, 16, 32, 32];

export function rateHz(code: number): number | undefined {
  return RATES[code];
}

/** Bytes of one frame (all channels), or undefined when the format is unknown or sub-byte. */
export function frameBytes(format: number, channels: number): number | undefined {
  const bits = FORMAT_BITS[format];
  if (bits === undefined || bits % 8 !== 0 || channels === 0) return undefined;
  return (bits / 8) * channels;
}
