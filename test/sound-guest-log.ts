/**
 * Reads the guest's console log of a sound capture (traces/qemu-10.0-sound/V.console.txt): the
 * workload steps in order, and what the guest itself saw in each. Times are seconds on the step's
 * own clock (sndtest's CLOCK_MONOTONIC since the program started), as the log prints them.
 */
import { readFileSync } from 'node:fs';

export interface GuestXrun {
  kind: 'underrun' | 'overrun';
  /** when ALSA stopped the stream for the xrun: detection time minus (tstamp - trigger_tstamp) */
  trigger: number;
  /** start of the recovery's PREPARE ioctl */
  prepare: number;
}

export interface GuestStep {
  name: string;
  direction: 'output' | 'input';
  /** start of the HW_PARAMS ioctl: the guest's side of the step's SET_PARAMS (undefined for aplay) */
  hwParamsAt?: number;
  periodMs?: number;
  periods?: number;
  /** ALSA's xrun count at the end of the step */
  xrunCount?: number;
  xruns: GuestXrun[];
  /** a write failed with -EIO: the last write that succeeded before it, the failure, the end of the failed DRAIN */
  eio?: { lastWrite: number; lastWait: number; writeFailed: number; drainEnd: number };
  /** aplay's "underrun!!! (at least N ms long)" */
  aplayUnderrunMs?: number;
}

export function guestSteps(consoleFile: string): GuestStep[] {
  const steps: GuestStep[] = [];
  let s: GuestStep | undefined;
  let lastW: number | undefined;
  let lastWait: number | undefined;
  let waitBeforeLastW: number | undefined;
  for (const line of readFileSync(consoleFile, 'utf8').split(/\r?\n/)) {
    const head = /^== \[uptime [\d.]+\] (\w+): (.*)$/.exec(line);
    if (head) {
      s = { name: head[1]!, direction: /capture/.test(head[2]!) ? 'input' : 'output', xruns: [] };
      steps.push(s);
      lastW = lastWait = waitBeforeLastW = undefined;
      continue;
    }
    if (!s) continue;
    let m;
    if ((m = /HW_PARAMS ok \(ioctl at ([\d.]+),.*period \d+ frames \(([\d.]+) ms\) x (\d+)/.exec(line))) {
      s.hwParamsAt = Number(m[1]);
      s.periodMs = Number(m[2]);
      s.periods = Number(m[3]);
    } else if ((m = /XRUN \((underrun|overrun)\) #\d+: \w+ returned -EPIPE at \+([\d.]+), state \d+, trigger_tstamp ([\d.]+), tstamp ([\d.]+)/.exec(line))) {
      s.xruns.push({ kind: m[1] as GuestXrun['kind'], trigger: Number(m[2]) - (Number(m[4]) - Number(m[3])), prepare: NaN });
    } else if ((m = /recover: PREPARE ok \(ioctl at \+([\d.]+)/.exec(line))) {
      s.xruns.at(-1)!.prepare = Number(m[1]);
    } else if ((m = /(\d+) xrun\(s\)/.exec(line))) {
      s.xrunCount = Number(m[1]);
      if ((m = /DRAIN Input\/output error \(ioctl at ([\d.]+), took ([\d.]+) ms\)/.exec(line))) {
        s.eio = { lastWrite: NaN, lastWait: NaN, writeFailed: NaN, ...s.eio, drainEnd: Number(m[1]) + Number(m[2]) / 1000 };
      }
    } else if ((m = /^\[sndtest\s+([\d.]+)\] WRITEI: Input\/output error/.exec(line))) {
      s.eio = { lastWrite: NaN, lastWait: NaN, drainEnd: NaN, ...s.eio, writeFailed: Number(m[1]) };
    } else if ((m = /^XFER t=([\d.]+) op=e blocked=([\d.]+)ms/.exec(line))) {
      lastWait = Number(m[2]);
    } else if ((m = /^XFER t=([\d.]+) .*op=W ret=(-?\d+)/.exec(line))) {
      if (Number(m[2]) > 0) {
        lastW = Number(m[1]);
        waitBeforeLastW = lastWait;
      } else if (Number(m[2]) === -5 && s.eio && lastW !== undefined) {
        s.eio.lastWrite = lastW;
        s.eio.lastWait = waitBeforeLastW ?? NaN;
      }
    } else if ((m = /underrun!!! \(at least ([\d.]+) ms long\)/.exec(line))) {
      s.aplayUnderrunMs = Number(m[1]);
    }
  }
  return steps;
}

/** A step whose guest saw nothing wrong: no xrun counted, no failed write, no aplay underrun. */
export function clean(s: GuestStep): boolean {
  return s.xrunCount === 0 && s.xruns.length === 0 && !s.eio && s.aplayUnderrunMs === undefined;
}
