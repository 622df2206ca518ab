/**
 * The PCM stream analysis against what is known independently: the guests' own logs of the real
 * QEMU 10.0 captures, closed-form answers for simulated streams, and the chmap probe failure.
 *
 * Relating guest times to the trace: QEMU's log has no guest clock, and sndtest prints times on
 * each step's own clock. Each step opens the device and sets its parameters once, so the k-th
 * SET_PARAMS in the trace (the k-th stream session, in time order) is the k-th step of the guest
 * log; its HW_PARAMS ioctl is that SET_PARAMS. A step time t is then at
 * t_first + (t - hwParamsAt) on the run clock. The ioctl takes up to ~1 ms and QEMU handles the
 * request somewhere inside it, which bounds the error of this mapping; the TCG guest's clock
 * runs with the host's (B's and D's xrun triggers give the same guest-uptime offset to 10 µs).
 * Tolerances below are 3 ms unless said otherwise.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingest } from '../src/api/ingest.ts';
import { transition } from '../src/analyses/sound/stream-state.ts';
import { SND_R } from '../src/model/devices/sound-codes.ts';
import { audioPerf, type AudioPerf, type AudioStreamRow, type AudioXrunRow } from '../src/perf/audio.ts';
import { queryRows } from '../src/perf/store.ts';
import { latePlayback, toJsonl, type LatePlaybackOptions } from '../src/sim/sound.ts';
import { lineOf, lines, real, reportOf, tempDir, verdict, writeTrace } from './helpers.ts';
import { clean, guestSteps, type GuestStep } from './sound-guest-log.ts';

const MS = 1e6;
const TOL = 3 * MS;

async function perfOf(file: string): Promise<AudioPerf & { ticks: Record<string, number>[] }> {
  const r = await ingest({ files: [file], db: ':memory:' });
  try {
    const p = await audioPerf(r.store.conn);
    const ticks = await queryRows(r.store.conn, 'SELECT stream, session, tick, periods, timer_late_ms FROM pcm_ticks');
    return { ...p, ticks: ticks as Record<string, number>[] };
  } finally {
    r.store.close();
  }
}

/** Each guest step with its stream session and xruns, steps and sessions paired in order. */
function pair(p: AudioPerf, steps: GuestStep[]) {
  const sessions = [...p.streams].sort((a, b) => a.t_first - b.t_first);
  expect(sessions.length).toBe(steps.length);
  return steps.map((step, i) => {
    const s = sessions[i]!;
    const xruns = p.xruns.filter((x) => x.stream === s.stream && x.session === s.session);
    const at = (t: number) => s.t_first + (t - step.hwParamsAt!) * 1e9;
    return { step, s, xruns, at };
  });
}

const near = (actual: number | null, expected: number, tol = TOL) => {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThanOrEqual(tol);
};

function expectGuestXrunsFound(step: GuestStep, s: AudioStreamRow, xruns: AudioXrunRow[], at: (t: number) => number) {
  expect(xruns.length).toBe(step.xruns.length);
  for (const [i, g] of step.xruns.entries()) {
    const x = xruns[i]!;
    expect(x.kind).toBe(g.kind);
    // ALSA stops the stream when it finds the xrun: that STOP is the trigger. A playback underrun
    // starts when the device ran dry, which is within a period before it.
    near(x.t_stop, at(g.trigger));
    near(x.t_start, at(g.trigger), TOL + (s.period_ns ?? 0));
    expect(x.recovery).toBe('prepare');
    near(x.t_prepare, at(g.prepare));
    expect(x.t_restart! >= x.t_prepare!).toBe(true);
    expect(x.end_ns).toBe(x.t_restart);
  }
}

/** aplay measures from the xrun's trigger (the STOP) to its own detection, then prints its line
 *  (~40 characters on a 115200-baud console: ~3.5 ms) and prepares, which starts with RELEASE. */
function expectAplayUnderrun(step: GuestStep, xruns: AudioXrunRow[], periodNs: number) {
  expect(xruns.length).toBe(1);
  const x = xruns[0]!;
  expect(x.kind).toBe('underrun');
  expect(x.recovery).toBe('prepare');
  const detected = x.t_stop! + step.aplayUnderrunMs! * MS;
  expect(x.t_release!).toBeGreaterThanOrEqual(detected);
  expect(x.t_release! - detected).toBeLessThan(10 * MS);
  expect(x.duration_ns).toBeGreaterThanOrEqual(step.aplayUnderrunMs! * MS);
  // the guest stopped the stream at once: the device was dry for less than a period while RUNNING
  expect(x.dry_running_ns!).toBeLessThan(periodNs);
}

describe('none-duplex: the guest log of every step agrees with what the tool finds', async () => {
  const file = real('qemu-10.0-sound/none-duplex.trace.gz');
  const steps = guestSteps(real('qemu-10.0-sound/none-duplex.console.txt'));
  const p = await perfOf(file);
  const paired = pair(p, steps);
  const step = (name: string) => paired.find((x) => x.step.name === name)!;

  it('has the six steps of the workload, each its own stream session of the right direction', () => {
    expect(steps.map((s) => s.name)).toEqual(['A', 'A2', 'B', 'C', 'D', 'E']);
    for (const { step: g, s } of paired) expect(s.direction).toBe(g.direction);
  });

  it("finds B's underrun and D's overrun at the guest's times, with their recovery", () => {
    expectGuestXrunsFound(step('B').step, step('B').s, step('B').xruns, step('B').at);
    expectGuestXrunsFound(step('D').step, step('D').s, step('D').xruns, step('D').at);
    expect(step('B').step.xruns.map((x) => x.kind)).toEqual(['underrun']);
    expect(step('D').step.xruns.map((x) => x.kind)).toEqual(['overrun']);
    // the capture overrun happened in the guest's ring: the device always had buffers to fill
    expect(step('D').xruns[0]!.dry_running_ns).toBeNull();
  });

  it("finds E's aplay underrun, at least as long as aplay says", () => {
    expectAplayUnderrun(step('E').step, step('E').xruns, step('E').s.period_ns!);
  });

  it("finds A2's late host timer, the burst that emptied the buffer, and the stream running dry until the guest gave up", () => {
    const { step: g, s, xruns, at } = step('A2');
    expect(g.eio).toBeDefined();
    expect(g.xrunCount).toBe(0); // ALSA never saw an xrun: the driver's hw_ptr did not move
    expect(xruns.length).toBe(1);
    const x = xruns[0]!;
    expect(x.kind).toBe('underrun');
    expect(x.recovery).toBe('none');
    // the guest's last write filled the buffer; the device ran dry within one buffer (plus a 10 ms
    // tick) after it, and stayed dry while RUNNING until the failed DRAIN stopped the stream
    const bufferNs = g.periods! * g.periodMs! * MS;
    expect(x.t_start).toBeGreaterThan(at(g.eio!.lastWrite));
    expect(x.t_start).toBeLessThanOrEqual(at(g.eio!.lastWrite) + bufferNs + 10 * MS);
    expect(x.t_start).toBeLessThan(at(g.eio!.writeFailed));
    near(x.end_ns, at(g.eio!.drainEnd));
    expect(x.dry_running_ns).toBe(x.duration_ns);
    // the tick that emptied it returned the whole buffer (HW_PARAMS: "x 4" periods) at once
    expect(x.burst_periods).toBe(g.periods);
    expect(p.bursts.filter((b) => b.session === s.session && b.stream === s.stream).map((b) => [b.periods, b.emptied])).toEqual([[g.periods, true]]);
    // the guest waited for its last period ~10 ms longer than the 10 ms host tick; the host's
    // audio_timer_delayed says the timer was late by that much (QEMU prints whole ms)
    expect(x.timer_late_ms).not.toBeNull();
    expect(Math.abs(x.timer_late_ms! - (g.eio!.lastWait - 10))).toBeLessThanOrEqual(2);
  });

  it('finds nothing in the steps the guest saw as clean (A, C)', () => {
    const quiet = paired.filter((x) => clean(x.step));
    expect(quiet.map((x) => x.step.name)).toEqual(['A', 'C']);
    for (const { s } of quiet) expect([s.underruns, s.overruns, s.bursts, s.starved_ns]).toEqual([0, 0, 0, 0]);
  });

  it('finds no other xrun or burst', () => {
    expect(p.xruns.length).toBe(4);
    expect(p.bursts.length).toBe(1);
    expect(p.timer_delays.map((t) => t.late_ms)).toEqual([10]);
  });
});

describe('wav-playback: the guest log agrees', async () => {
  const steps = guestSteps(real('qemu-10.0-sound/wav-playback.console.txt'));
  const p = await perfOf(real('qemu-10.0-sound/wav-playback.trace.gz'));
  const paired = pair(p, steps);
  const step = (name: string) => paired.find((x) => x.step.name === name)!;

  it("finds B's underrun and E's aplay underrun", () => {
    expect(steps.map((s) => s.name)).toEqual(['A', 'A2', 'B', 'E']);
    expectGuestXrunsFound(step('B').step, step('B').s, step('B').xruns, step('B').at);
    expectAplayUnderrun(step('E').step, step('E').xruns, step('E').s.period_ns!);
  });

  it('finds nothing in A and A2, which ran clean here (A2 returns 2-3 periods a tick: batching, not bursts)', () => {
    const quiet = paired.filter((x) => clean(x.step));
    expect(quiet.map((x) => x.step.name)).toEqual(['A', 'A2']);
    for (const { s } of quiet) expect([s.underruns, s.overruns, s.bursts]).toEqual([0, 0, 0]);
    const a2 = step('A2').s;
    expect(p.ticks.some((t) => t.session === a2.session && t.periods === 3)).toBe(true);
    expect(p.xruns.length).toBe(2);
    expect(p.bursts.length).toBe(0);
  });
});

describe('simulated playback fed one period late every N periods', () => {
  const base: LatePlaybackOptions = { periods: 200, bufferPeriods: 4, periodNs: 10 * MS, lateEvery: 25, lateNs: 50 * MS, reactNs: 0.3 * MS };

  /**
   * Closed form. The device returns one period per tick at S + kP; the writer hands period i over
   * d after period i-B came back. Late period i = mN waits d + L instead, and the writer writes
   * nothing meanwhile: the B-1 periods still queued play out, so the queue is empty from the
   * return of period i-1 (B-1 ticks after that of i-B) until the late one arrives:
   * dry = d + L - (B-1)P. That is an underrun when a tick found nothing: dry > P. Each underrun
   * skips e = ceil(dry/P) - 1 ticks, which delays every later return by eP, so underrun m starts
   * at S + (mN + (m-1)e)P.
   */
  function expected(o: LatePlaybackOptions, start: number) {
    const dry = o.reactNs + o.lateNs - (o.bufferPeriods - 1) * o.periodNs;
    if (dry <= o.periodNs) return [];
    const e = Math.ceil(dry / o.periodNs) - 1;
    const n = Math.floor((o.periods - 1) / o.lateEvery);
    return Array.from({ length: n }, (_, k) => ({ t_start: start + ((k + 1) * o.lateEvery + k * e) * o.periodNs, duration_ns: dry }));
  }

  async function found(o: LatePlaybackOptions) {
    const sim = latePlayback(o);
    const file = writeTrace(tempDir(), 'sim.jsonl', toJsonl(sim).trimEnd().split('\n'));
    const p = await perfOf(file);
    return { sim, p, file };
  }

  for (const [what, o] of [
    ['late 50 ms, QEMU-like log', base],
    ['late 45 ms, QEMU-like log', { ...base, lateNs: 45 * MS }],
    ['late 40.5 ms (dry just over a period)', { ...base, lateNs: 40.5 * MS }],
    ['late 50 ms, N = 7, rich log (snd.xfer, parameters)', { ...base, lateEvery: 7, rich: true }],
  ] as const) {
    it(`${what}: exactly the computed underruns`, async () => {
      const { sim, p } = await found(o);
      const want = expected(o, sim.start);
      expect(want.length).toBeGreaterThan(0);
      expect(p.xruns.map((x) => ({ t_start: x.t_start, duration_ns: x.duration_ns }))).toEqual(want);
      expect(p.xruns.every((x) => x.kind === 'underrun' && x.recovery === 'refill')).toBe(true);
      expect(p.streams[0]!.underruns).toBe(want.length);
      expect(p.streams[0]!.starved_ns).toBe(want.length * want[0]!.duration_ns);
      expect(p.streams[0]!.period_ns).toBe(o.periodNs);
    });
  }

  it('late by less than the buffer holds: no underrun (the queue empties for under a period)', async () => {
    const o = { ...base, lateNs: 30 * MS };
    const { p } = await found(o);
    expect(expected(o, 0)).toEqual([]);
    expect(p.xruns).toEqual([]);
    expect(p.streams[0]!.periods_returned).toBe(o.periods);
  });

  it("with a richer VMM's log: the queue level in frames, and latency_bytes checked against it", async () => {
    const { file } = await found({ ...base, rich: true });
    const r = await ingest({ files: [file], db: ':memory:' });
    try {
      const [s] = await queryRows(r.store.conn, 'SELECT period_frames, rate_hz, nominal_period_ns FROM pcm_streams');
      expect(s).toEqual({ period_frames: 480, rate_hz: 48000, nominal_period_ns: 10 * MS });
      const [l] = await queryRows(r.store.conn, 'SELECT count(*) AS n, count(*) FILTER (WHERE mismatch) AS bad, max(level_frames) AS top FROM audio_latency');
      expect(l).toEqual({ n: 200, bad: 0, top: 3 * 480 });
      const [m] = await queryRows(r.store.conn, 'SELECT underruns, latency_mismatches FROM audio_metrics');
      expect(m).toEqual({ underruns: 7, latency_mismatches: 0 });
    } finally {
      r.store.close();
    }
  });
});

describe('the PCM command lifecycle (§5.14.6.6)', () => {
  it('allows what the spec lists and flags the rest', () => {
    expect(transition('idle', SND_R.PCM_SET_PARAMS)).toEqual({ to: 'params', allowed: true });
    expect(transition('prepared', SND_R.PCM_START)).toEqual({ to: 'running', allowed: true });
    expect(transition('stopped', SND_R.PCM_START)).toEqual({ to: 'running', allowed: true });
    expect(transition('released', SND_R.PCM_PREPARE)).toEqual({ to: 'prepared', allowed: true });
    expect(transition('running', SND_R.PCM_RELEASE)).toEqual({ to: 'released', allowed: false });
    expect(transition('params', SND_R.PCM_START)).toEqual({ to: 'running', allowed: false });
  });

  it('sees the real traces follow it, with the PREPAREs QEMU logs without a stream put on the right one', async () => {
    const r = await ingest({ files: [real('qemu-10.0-sound/none-duplex.trace.gz')], db: ':memory:' });
    try {
      const rows = await queryRows(r.store.conn, 'SELECT sum(bad_transitions) AS bad, sum(runs) AS runs FROM pcm_streams');
      // 9 STARTs in the trace (summary: 18 start_stop events, half of them START)
      expect(rows[0]).toEqual({ bad: 0, runs: 9 });
    } finally {
      r.store.close();
    }
  });
});

describe('virtio-snd.chmap-info', () => {
  const chmaps = real('qemu-10.0-sound/chmaps-probe-fail.trace.gz');

  it('FAILs the device that announces 2 channel maps and answers CHMAP_INFO with a bare header', async () => {
    const ls = lines(chmaps);
    const r = await reportOf([chmaps]);
    const f = r.findings.find((x) => x.rule === 'virtio-snd.chmap-info')!;
    expect(f.verdict).toBe('FAIL');
    // get_config says chmaps=2; the CHMAP_INFO request's chain is filled with len 4; then status 0x80
    const request = lineOf(ls, /VIRTIO_SND_R_CHMAP_INFO/);
    const answer = lineOf(ls, /virtqueue_fill .* len 4 /, request);
    const failed = lineOf(ls, /virtio_set_status .* val 128/, answer);
    expect(f.evidence.map((e) => e.line)).toEqual([request, answer, failed]);
    expect(f.message).toContain('announces 2 channel map(s)');
  });

  it('PASSes the same device when the answer carries both maps (4 + 2 × 24 bytes)', async () => {
    const ls = lines(chmaps);
    const i = lineOf(ls, /virtqueue_fill .* len 4 /, lineOf(ls, /VIRTIO_SND_R_CHMAP_INFO/)) - 1;
    ls[i] = ls[i]!.replace(' len 4 ', ' len 52 ');
    const r = await reportOf([writeTrace(tempDir(), 'chmaps-ok.trace', ls)]);
    expect(verdict(r, 'virtio-snd.chmap-info')).toEqual(['PASS']);
  });

  it('is NOT-OBSERVED for a device that announces none', async () => {
    const r = await reportOf([real('qemu-10.0-sound/none-duplex.trace.gz')]);
    expect(verdict(r, 'virtio-snd.chmap-info')).toEqual(['NOT-OBSERVED']);
  });
});

describe('avpscope perf audio', () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin', 'avpscope.js'), 'perf', 'audio', ...args], { encoding: 'utf8' });

  it('reports in JSON what the text shows', () => {
    const r = cli(real('qemu-10.0-sound/wav-playback.trace.gz'), '--no-db', '--format', 'json');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.report).toBe('perf audio');
    expect(j.xruns.map((x: AudioXrunRow) => x.kind)).toEqual(['underrun', 'underrun']);
  });

  it('names file and line of bad input, exit 2, no stack trace', () => {
    const dir = tempDir();
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"ts":0,"kind":"snd.ctrl","dev":"d","code":257}\n{"ts":1,"kind":"snd.ctrl","dev":"d","code":-1}\n');
    const r = cli(bad, '--no-db', '--strict');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${bad}:2:`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
