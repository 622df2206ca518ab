/**
 * The PCM command lifecycle (VIRTIO 1.3 §5.14.6.6 "PCM Command Lifecycle"): which request may follow
 * which. The state is the last request; before any, a stream is treated like a released one (the
 * spec names no initial state).
 */
import { SND_R } from '../../model/devices/sound-codes.ts';

export type PcmState = 'idle' | 'params' | 'prepared' | 'running' | 'stopped' | 'released';

const NEXT: Partial<Record<number, PcmState>> = {
  [SND_R.PCM_SET_PARAMS]: 'params',
  [SND_R.PCM_PREPARE]: 'prepared',
  [SND_R.PCM_START]: 'running',
  [SND_R.PCM_STOP]: 'stopped',
  [SND_R.PCM_RELEASE]: 'released',
};

const ALLOWED: Record<PcmState, number[]> = {
  idle: [SND_R.PCM_SET_PARAMS, SND_R.PCM_PREPARE],
  params: [SND_R.PCM_SET_PARAMS, SND_R.PCM_PREPARE],
  prepared: [SND_R.PCM_SET_PARAMS, SND_R.PCM_PREPARE, SND_R.PCM_START, SND_R.PCM_RELEASE],
  running: [SND_R.PCM_STOP],
  stopped: [SND_R.PCM_START, SND_R.PCM_RELEASE],
  released: [SND_R.PCM_SET_PARAMS, SND_R.PCM_PREPARE],
};

export function isLifecycleRequest(code: number): boolean {
  return NEXT[code] !== undefined;
}

/**
 * The state after `code`, and whether the lifecycle allows it. The trace does not show the device's
 * answer, so the model follows the driver even past a transition the spec does not allow.
 */
export function transition(from: PcmState, code: number): { to: PcmState; allowed: boolean } {
  return { to: NEXT[code] ?? from, allowed: ALLOWED[from].includes(code) };
}

/** States in which the driver may make PREPARE its next request (the stream of a PREPARE QEMU does not name). */
export function mayPrepare(s: PcmState): boolean {
  return ALLOWED[s].includes(SND_R.PCM_PREPARE);
}
