/**
 * virtio-sound requirements (VIRTIO 1.3 §5.14) judged from the device's answers to control
 * requests. Section numbers follow the 1.3 text: §5.14.4 Device Configuration Layout, §5.14.5
 * Device Initialization, §5.14.6.1 Item Information Request, §5.14.6.9 Channel Map Control Messages.
 */
import { DEVICE_ID } from '../../model/device-types.ts';
import type { Ref } from '../../model/observations.ts';
import { SND_CHMAP_INFO_BYTES, SND_HDR_BYTES, SND_R } from '../../model/devices/sound-codes.ts';
import { defineRule } from '../rule.ts';

export const chmapInfo = defineRule({
  id: 'virtio-snd.chmap-info',
  title: 'The channel maps the device announces are described by CHMAP_INFO',
  level: 'MUST',
  target: 'device',
  area: 'sound',
  needs: ['snd.config', 'snd.ctrl', 'vq.fill'],
  source: {
    spec: 'VIRTIO 1.3',
    where: '§5.14.4, §5.14.5, §5.14.6.1, §5.14.6.9',
    text:
      'chmaps is the number of channel maps available; the driver queries them with VIRTIO_SND_R_CHMAP_INFO during initialization, ' +
      'and the answer is a virtio_snd_hdr followed by one virtio_snd_chmap_info (24 bytes) per map asked for.',
  },
  note:
    'VIRTIO words no device-normative sentence for this; it follows from what chmaps means (§5.14.4) and from the answer to an item ' +
    'information request (§5.14.6.1). A device that announces maps and then refuses to describe them stops the initialization the ' +
    'spec lays out (§5.14.5): Linux fails the probe with -EOPNOTSUPP. QEMU logs no status code; an answer of only the 4-byte header ' +
    'is a refusal (QEMU 10.0 answers VIRTIO_SND_S_NOT_SUPP).',
  scope: 'device',
  deviceTypes: [DEVICE_ID.sound],
  evaluate(_ctx, d) {
    const announced = d!.sndConfig?.chmaps;
    const answers = d!.sndAnswers.filter((a) => a.code === SND_R.CHMAP_INFO);
    if (answers.length === 0) {
      return {
        verdict: 'NOT-OBSERVED',
        message:
          announced === 0 ? 'the device announces no channel map (config chmaps = 0)'
          : announced === undefined ? 'the trace shows neither the channel maps announced nor a CHMAP_INFO request'
          : `the device announces ${announced} channel map(s) but the trace shows no CHMAP_INFO request`,
      };
    }
    const short = answers.find((a) => a.len < SND_HDR_BYTES + SND_CHMAP_INFO_BYTES);
    if (short) {
      const failed = d!.status.sessions.map((s) => s.failed).find((f): f is Ref => f !== undefined && f.ts >= short.answer.ts);
      const what = short.len <= SND_HDR_BYTES ? 'only the status header: a refusal' : 'less than one virtio_snd_chmap_info';
      return {
        verdict: 'FAIL',
        message:
          `${announced !== undefined ? `the device announces ${announced} channel map(s), but ` : ''}` +
          `it answered CHMAP_INFO with ${short.len} byte(s), ${what}` +
          (failed ? '; the driver then gave up on the device (status FAILED)' : ''),
        evidence: [short.request, short.answer, ...(failed ? [failed] : [])],
      };
    }
    const a = answers[0]!;
    const maps = Math.floor((a.len - SND_HDR_BYTES) / SND_CHMAP_INFO_BYTES);
    return {
      verdict: 'PASS',
      message: `CHMAP_INFO answered with ${a.len} bytes: the header and ${maps} channel map(s)${announced !== undefined ? ` of the ${announced} announced` : ''}`,
      evidence: [a.request, a.answer],
    };
  },
});
