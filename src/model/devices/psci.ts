/**
 * PSCI (Arm DEN0022) calls as a VMM logs them: the version PSCI_VERSION returned and the calls
 * answered NOT_SUPPORTED that PSCI 1.1 makes mandatory.
 */
import type { EventOf } from '../events.ts';
import type { Ref } from '../observations.ts';
import { RequestLog } from './request-log.ts';

export const PSCI_FN = {
  PSCI_VERSION: 0x84000000,
  CPU_SUSPEND: 0xc4000001,
  CPU_OFF: 0x84000002,
  CPU_ON: 0xc4000003,
  AFFINITY_INFO: 0xc4000004,
  SYSTEM_OFF: 0x84000008,
  SYSTEM_RESET: 0x84000009,
  PSCI_FEATURES: 0x8400000a,
} as const;

/** the functions PSCI 1.0 and later make mandatory (DEN0022 §5.1), in their SMC64 form where both exist */
const MANDATORY = new Map<number, string>(Object.entries(PSCI_FN).map(([k, v]) => [v, k]));
const NOT_SUPPORTED = -1;

export function psciFnName(fn: number): string {
  return MANDATORY.get(fn) ?? `0x${fn.toString(16)}`;
}

export class PsciModel extends RequestLog {
  /** "1.1" from PSCI_VERSION's answer (major in bits 31:16, minor in 15:0) */
  version: { major: number; minor: number; ref: Ref } | undefined;

  take(e: EventOf<'psci.call'>, ref: Ref): void {
    this.seen(ref);
    if (e.fn === PSCI_FN.PSCI_VERSION && e.ret >= 0) this.version = { major: e.ret >>> 16, minor: e.ret & 0xffff, ref };
    else if (e.ret === NOT_SUPPORTED && MANDATORY.has(e.fn)) this.fault(ref, `${psciFnName(e.fn)}, mandatory since PSCI 1.0, answered NOT_SUPPORTED`);
  }
}
