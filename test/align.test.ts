/**
 * Clock alignment on the real pairs of traces/guest-ftrace/: the measured offset against the lower
 * envelope of the kick pairs, worked out here from the raw lines; a guest trace shifted and
 * stretched by a known amount gives the shift and stretch back; traces that are not of one run,
 * or hold too few pairs, are said to be unaligned.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { lowerEnvelope, envelopeAt } from '../src/align/fit.ts';
import type { Alignment } from '../src/align/index.ts';
import { planClocks } from '../src/align/sources.ts';
import { Stats } from '../src/ingest/stats.ts';
import { openSources, run } from '../src/pipeline.ts';
import { lines, real, tempDir, writeTrace } from './helpers.ts';

const pair = (v: string) => ({ host: real(`guest-ftrace/${v}.qemu.trace.gz`), guest: real(`guest-ftrace/${v}.guest-ftrace.txt.gz`), ref: real(`guest-ftrace/${v}.align.txt`) });
const MICROVM = pair('microvm-modern');
const Q35 = pair('q35-gpu');

async function alignmentOf(host: string, guest: string): Promise<Alignment> {
  const plan = await planClocks(await openSources({ files: [host, guest] }, new Stats()));
  return plan!.alignments[0]!.alignment;
}

/** "1795579107.891434" -> ns */
const ns = (sec: string) => {
  const [s, f] = sec.split('.') as [string, string];
  return BigInt(s) * 1_000_000_000n + BigInt(f.padEnd(9, '0'));
};

interface Kick {
  t: bigint;
  dev: string;
  queue: number;
}
const guestKicks = (file: string): Kick[] =>
  lines(file).flatMap((l) => {
    const m = / (\d+\.\d+): vq_notify: .* dev=(\d+) vq=(\d+)/.exec(l);
    return m ? [{ t: ns(m[1]!), dev: `virtio${m[2]}`, queue: Number(m[3]) }] : [];
  });
const hostKicks = (file: string): Kick[] =>
  lines(file).flatMap((l) => {
    const m = /^\d+@(\d+\.\d+):virtio_queue_notify vdev (0x[0-9a-f]+) n (\d+)/.exec(l);
    return m ? [{ t: ns(m[1]!), dev: m[2]!, queue: Number(m[3]) }] : [];
  });
/** The capture's own device map (its V.align.txt): "guest virtioN -> QEMU vdev: virtio0=0x..., ..." */
const referenceMap = (file: string) => [...readFileSync(file, 'utf8').matchAll(/(virtio\d+)=(0x[0-9a-f]+)/g)].map((m) => ({ guest: m[1]!, host: m[2]! }));

/** host − guest of the measured line at absolute guest time g, ns */
const lineAt = (a: Alignment, g: bigint) => a.offsetNs! + a.driftPpm! * 1e-6 * Number(g - BigInt(a.refNs!));

describe('alignment of the real pairs', () => {
  it('microvm: the offset is the lower envelope of the kick pairs, and every guest device is mapped', async () => {
    const a = await alignmentOf(MICROVM.host, MICROVM.guest);
    const map = referenceMap(MICROVM.ref);
    expect(a.available).toBe(true);
    expect(a.deviceMap.map(({ guest, host }) => ({ guest, host }))).toEqual(map);
    // virtio-mmio kicks are MMIO writes QEMU handles on the vCPU thread as they happen, and QEMU logs
    // none before the guest starts tracing (align.txt: 0 before): the k-th kick of a queue on each side pair up
    const hosts = hostKicks(MICROVM.host);
    const pairs: { g: bigint; d: number }[] = [];
    for (const { guest, host } of map) {
      for (const q of new Set(guestKicks(MICROVM.guest).filter((k) => k.dev === guest).map((k) => k.queue))) {
        const gs = guestKicks(MICROVM.guest).filter((k) => k.dev === guest && k.queue === q);
        const hs = hosts.filter((k) => k.dev === host && k.queue === q);
        gs.forEach((g, i) => pairs.push({ g: g.t, d: Number(hs[i]!.t - g.t) }));
      }
    }
    expect(pairs.length).toBe(301);
    const envelope = Math.min(...pairs.map((p) => p.d));
    // the capture measured the same envelope: min −0.364771 s
    expect(Math.abs(envelope - -364_771_000)).toBeLessThan(1000);
    // the measured line runs along the bottom of the pairs: under every one, touching the lowest
    const residuals = pairs.map((p) => p.d - lineAt(a, p.g));
    expect(Math.min(...residuals)).toBeGreaterThan(-1000);
    expect(Math.min(...residuals)).toBeLessThan(5000);
    expect(Math.abs(a.offsetNs! - envelope)).toBeLessThan(50_000);
    // drift: 1.6 s of pairs, 5 µs of envelope noise: a few ppm at most
    expect(Math.abs(a.driftPpm!)).toBeLessThan(10);
    expect(a.pairs).toEqual({ notify: 301, blk: 274 });
    // QEMU's 8 extra kicks all come after the guest stopped tracing (align.txt says so too)
    expect(a.unmatched).toEqual({ guest: { notify: 0, blk: 0 }, host: { notify: 8, blk: 0, notifyOutsideGuest: 8 } });
  });

  it('q35: ioeventfd delays and mispairs do not lift or sink the envelope of the tight GPU kicks', async () => {
    const a = await alignmentOf(Q35.host, Q35.guest);
    const map = referenceMap(Q35.ref);
    expect(a.available).toBe(true);
    expect(a.deviceMap.map(({ guest, host }) => ({ guest, host }))).toEqual(map);
    // virtio-gpu kicks reach QEMU without ioeventfd delay (README); pair each with the first GPU kick
    // QEMU logs after it, the clocks being about 0.1434 s apart (align.txt)
    const gpu = map.find((m) => m.guest === 'virtio0')!.host;
    const hs = hostKicks(Q35.host).filter((k) => k.dev === gpu);
    const pairs = guestKicks(Q35.guest)
      .filter((k) => k.dev === 'virtio0')
      .map((g) => {
        const h = hs.find((x) => x.t >= g.t + 143_300_000n && x.queue === g.queue)!;
        return { g: g.t, d: Number(h.t - g.t) };
      });
    expect(pairs.length).toBe(56);
    const residuals = pairs.map((p) => p.d - lineAt(a, p.g));
    expect(Math.min(...residuals)).toBeGreaterThan(-1000);
    expect(Math.min(...residuals)).toBeLessThan(50_000);
    // the capture's all-device minimum (0.142704 s) comes from kicks paired with the wrong QEMU kick:
    // it lies 700 µs below the GPU's, which is the clock
    expect(a.offsetNs!).toBeGreaterThan(142_704_000 + 500_000);
    // ioeventfd: the typical kick lies tens of µs above the envelope
    expect(a.spread!.p50Ns).toBeGreaterThan(30_000);
  });

  /** The guest trace with every timestamp moved to t + shift + drift·(t − t0), printed to the µs. */
  function warped(file: string, shiftNs: bigint, driftPpm: number): { file: string; t0: bigint } {
    const ls = lines(file);
    const t0 = ns(/ (\d+\.\d+): /.exec(ls.find((l) => !l.startsWith('#'))!)![1]!);
    const out = ls.map((l) =>
      l.replace(/ (\d+\.\d+): /, (_, ts: string) => {
        const t = ns(ts);
        const us = (t + shiftNs + BigInt(Math.round(driftPpm * 1e-6 * Number(t - t0))) + 500n) / 1000n;
        return ` ${us / 1_000_000n}.${String(us % 1_000_000n).padStart(6, '0')}: `;
      }),
    );
    return { file: writeTrace(tempDir(), 'warped.txt.gz', out), t0 };
  }

  it.each([
    [MICROVM, 250_000_000n, 40],
    [Q35, -600_000_000n, -25],
  ])('gives back a known shift and drift of the guest clock (%#)', async (p, shift, drift) => {
    const a = await alignmentOf(p.host, p.guest);
    const { file, t0 } = warped(p.guest, shift, drift);
    const b = await alignmentOf(p.host, file);
    expect(b.available).toBe(true);
    // host = g + line(g); g' = g + shift + drift·(g − t0): host − g' = line(g) − shift − drift·(g − t0)
    for (const g of [BigInt(a.refNs!), BigInt(a.refNs!) + 1_000_000_000n]) {
      const gw = g + shift + BigInt(Math.round(drift * 1e-6 * Number(g - t0)));
      const expected = lineAt(a, g) - Number(shift) - drift * 1e-6 * Number(g - t0);
      expect(Math.abs(lineAt(b, gw) - expected)).toBeLessThan(10_000);
    }
    // a stretched guest clock runs `drift` faster against the host
    expect(Math.abs(b.driftPpm! - ((1 + a.driftPpm! * 1e-6) / (1 + drift * 1e-6) - 1) * 1e6)).toBeLessThan(5);
    expect(b.deviceMap).toEqual(a.deviceMap);
  });
});

describe('no alignment where there is none to measure', () => {
  it('refuses to align a guest with the host trace of another run', async () => {
    // q35's guest ran the same workload as the microvm host, so block requests match by sector:
    // only a clock running 10% fast could pair them
    const a = await alignmentOf(MICROVM.host, Q35.guest);
    expect(a.available).toBe(false);
    expect(a.reason).toMatch(/fit no clock .* ppm\): are the traces of one run\?/);
    expect(a.offsetNs).toBeNull();
  });

  it('says so when too few events pair up, and keeps the guest on its own clock', async () => {
    // the guest trace up to its first block request and first two kicks: too little to measure a clock
    const ls = lines(MICROVM.guest);
    const cut = ls.findIndex((l, i) => i > 0 && / vq_notify: /.test(l) && ls.slice(0, i).filter((x) => / vq_notify: /.test(x)).length === 2);
    const file = writeTrace(tempDir(), 'short.txt', ls.slice(0, cut + 1));
    const a = await alignmentOf(MICROVM.host, file);
    expect(a.available).toBe(false);
    expect(a.reason).toMatch(/^only [0-4] event pair\(s\) found \(at least 5 needed\)$/);
    const r = await run({ files: [MICROVM.host, file] });
    expect(r.alignments[0]!.alignment.available).toBe(false);
    // the guest's events are not moved: its first record keeps its own clock on the run clock
    expect(r.sources[1]!.originNs).toBe(1795579107n * 1_000_000_000n);
  });

  it('leaves several host traces (several VMs) on the host clock, unaligned', async () => {
    const r = await run({ files: [MICROVM.host, Q35.host] });
    expect(r.alignments).toEqual([]);
    expect([...r.platform.vms.keys()].sort()).toEqual(['microvm-modern', 'q35-gpu']);
  });
});

describe('the lower envelope', () => {
  it('follows the bottom of delayed pairs, ignoring a lone pair below them', () => {
    // clock: d = 1 ms + 5 ppm·t; every pair is delayed 0..18 µs, one in seven not at all
    const pairs = Array.from({ length: 2000 }, (_, i) => ({ t: i * 1e6, d: 1e6 + 5e-6 * i * 1e6 + (i % 7) * 3000 }));
    pairs[700]!.d -= 500_000; // a kick paired with the wrong partner
    const e = lowerEnvelope(pairs)!;
    expect(Math.abs(e.slope - 5e-6)).toBeLessThan(1e-9);
    for (const t of [0, 1e9, 2e9]) expect(Math.abs(envelopeAt(e, t) - (1e6 + 5e-6 * t))).toBeLessThan(1);
  });
});
