/**
 * GPU QoS on simulated shared GPUs (src/sim/gpu.ts) whose answers follow in closed form from the
 * arrival pattern, the service time and the policy. One server, one command at a time, never preempted;
 * a VM's device pops each command when it is submitted, processing starts when the server turns to it.
 * Each expected value below is worked out in the comment above it, not read from the simulator.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingest } from '../src/api/ingest.ts';
import { GPU_CMD } from '../src/model/devices/gpu-codes.ts';
import { gpuQos, type GpuQos } from '../src/perf/gpu-qos.ts';
import { queryRows, type Row } from '../src/perf/store.ts';
import { gpuTraceJsonl, periodic, sharedGpu, type SharedGpuOptions, type SimCommand } from '../src/sim/gpu.ts';
import { tempDir } from './helpers.ts';
import { jain, quantile } from './helpers.ts';

const MS = 1_000_000;
const BIN = join(import.meta.dirname, '..', 'bin', 'avpscope.js');
const dir = tempDir();

/** One trace holding every VM, as canonical JSON Lines. */
function simFile(name: string, cmds: SimCommand[], o: SharedGpuOptions): string {
  const p = join(dir, `${name}.jsonl`);
  writeFileSync(p, gpuTraceJsonl(sharedGpu(cmds, o)));
  return p;
}

async function qosOf(files: string[], o: Parameters<typeof gpuQos>[1] = {}, ...sql: string[]): Promise<GpuQos & { extra: Row[][] }> {
  const r = await ingest({ files, db: ':memory:' });
  try {
    const extra: Row[][] = [];
    for (const q of sql) extra.push(await queryRows(r.store.conn, q));
    return { ...(await gpuQos(r.store.conn, o)), extra };
  } finally {
    r.store.close();
  }
}

const host = <T extends { side: string; vm: string }>(rows: T[], vm: string) => rows.find((r) => r.side === 'host' && r.vm === vm)!;

function expectLatency(q: GpuQos, vm: string, latencies: number[]) {
  const r = host(q.latency, vm);
  expect(r.completed).toBe(latencies.length);
  for (const [col, p] of [['p50_ns', 0.5], ['p95_ns', 0.95], ['p99_ns', 0.99]] as const) expect(Math.abs(r[col]! - quantile(latencies, p))).toBeLessThanOrEqual(1);
  expect(r.max_ns).toBe(Math.max(...latencies));
}

describe('two VMs with a 3:1 command mix, FIFO (one trace holding both VMs)', () => {
  // a submits every 4 ms (3N commands), b every 12 ms (N + 1 commands), both from 0; each command takes
  // S = 1 ms. Every 12 ms both submit at once and FIFO serves a first: a [12j, 12j+1], b [12j+1, 12j+2];
  // a's other commands find the server idle. So a always waits 0 (latency S), b_j for j < N waits S
  // (latency 2S) behind a_3j, and b_N (at 12N, with no a beside it) waits 0.
  // Common window: both start at 0; a's last completion is 4(3N − 1) + 1 = 12N − 3 ms, b's 12N + 1 ms:
  // [0, 12N − 3 ms], holding all 3N commands of a and b_0..b_(N−1): exactly the 3:1 mix.
  // Shares 3/4 and 1/4; Jain on device time and on served commands/s alike (3 + 1)² / (2·(9 + 1)) = 0.8;
  // each VM served all it submitted: demand-normalised Jain 1.
  // Starvation: b waits S while a is served, N times; a never waits.
  const N = 100;
  const cmds = [...periodic('a', { count: 3 * N, periodNs: 4 * MS, serviceNs: MS }), ...periodic('b', { count: N + 1, periodNs: 12 * MS, serviceNs: MS })];
  const one = simFile('fifo-3to1', cmds, { policy: 'fifo' });

  it('gives the computed latency, shares, fairness and starvation', async () => {
    const q = await qosOf([one]);
    expectLatency(q, 'a', Array(3 * N).fill(MS));
    expectLatency(q, 'b', [...Array(N).fill(2 * MS), MS]);
    expect(q.windows.find((w) => w.side === 'host')).toMatchObject({ vms: 2, start_ns: 0, end_ns: (12 * N - 3) * MS });
    expect(host(q.share, 'a')).toMatchObject({ submitted: 3 * N, served: 3 * N, demand_ratio: 1, busy_ns: 3 * N * MS, share: 0.75 });
    expect(host(q.share, 'b')).toMatchObject({ submitted: N, served: N, demand_ratio: 1, busy_ns: N * MS, share: 0.25 });
    const f = q.fairness.find((x) => x.side === 'host')!;
    expect(f.vms).toBe(2);
    expect(f.jain_device_time).toBeCloseTo(0.8, 12);
    expect(f.jain_served).toBeCloseTo(0.8, 12);
    expect(f.jain_demand).toBe(1);
    expect(host(q.starvation, 'a')).toMatchObject({ starved_ns: 0, waits: 0, from_ns: null });
    expect(host(q.starvation, 'b')).toMatchObject({ starved_ns: MS, waits: N });
    // no guest trace: no guest side
    expect(q.latency.filter((r) => r.side === 'guest')).toEqual([]);
  });

  it('gives the same figures from one file per VM', async () => {
    const split = ['a', 'b'].map((vm) => {
      const t = sharedGpu(cmds, { policy: 'fifo' });
      const p = join(dir, `fifo-3to1-${vm}.jsonl`);
      writeFileSync(p, gpuTraceJsonl({ header: { ...t.header, vm }, events: t.events.filter((e) => e.vm === vm).map(({ vm: _vm, ...e }) => e as typeof t.events[number]) }));
      return p;
    });
    const [a, b] = await Promise.all([qosOf([one]), qosOf(split)]);
    for (const k of ['latency', 'windows', 'share', 'fairness', 'starvation'] as const) expect(b[k]).toEqual(a[k]);
  });
});

describe('declared priorities: FIFO inverts them, a priority server does not', () => {
  // Every 10 ms (M cycles), S = 1 ms: hi submits 2 commands at +0 and 2 at +0.75 ms, lo one at +0.5 ms.
  // FIFO: hi [0,1] [1,2]; at +2 lo (waiting since 0.5) goes before hi's two (since 0.75): lo [2,3], hi [3,4] [4,5].
  //   latencies hi 1, 2, 3.25, 4.25 ms, lo 2.5 ms. lo starts at +2 while hi's later two wait: one inversion a
  //   cycle, 1 ms of device time each, the longest of those waits hi's last: 4 − 0.75 = 3.25 ms.
  //   Starvation: lo waits from 0.5 to hi's completion at 2 (1.5 ms); hi from its completion at 2 to lo's at 3 (1 ms).
  // Priority (hi first): hi [0,1] [1,2] [2,3] [3,4], lo [4,5]: hi 1, 2, 2.25, 3.25 ms, lo 4.5 ms; no inversion;
  //   lo starves from 0.5 to hi's last completion at 4 (3.5 ms), hi never.
  const M = 50;
  const cmds: SimCommand[] = [];
  for (let m = 0; m < M; m++) {
    const t = m * 10 * MS;
    cmds.push({ vm: 'hi', at: t, serviceNs: MS }, { vm: 'hi', at: t, serviceNs: MS }, { vm: 'lo', at: t + 0.5 * MS, serviceNs: MS });
    cmds.push({ vm: 'hi', at: t + 0.75 * MS, serviceNs: MS }, { vm: 'hi', at: t + 0.75 * MS, serviceNs: MS });
  }
  const prio = { hi: 2, lo: 0 };
  const cycles = (xs: number[]) => Array.from({ length: M }, () => xs).flat();

  it('FIFO', async () => {
    const q = await qosOf([simFile('prio-fifo', cmds, { policy: 'fifo' })], { priorities: prio }, 'SELECT min(cmd_id) AS first FROM gpu_commands WHERE vm = \'lo\'');
    expectLatency(q, 'hi', cycles([1, 2, 3.25, 4.25].map((x) => x * MS)));
    expectLatency(q, 'lo', cycles([2.5 * MS]));
    expect(q.inversions).toEqual([
      { served_vm: 'lo', served_priority: 0, waiting_vm: 'hi', waiting_priority: 2, inversions: M, inverted_ns: M * MS, max_wait_ns: 3.25 * MS, first_cmd_id: q.extra[0]![0]!.first },
    ]);
    expect(host(q.starvation, 'lo')).toMatchObject({ starved_ns: 1.5 * MS, waits: M });
    expect(host(q.starvation, 'hi')).toMatchObject({ starved_ns: MS, waits: M });
  });

  it('priority', async () => {
    const q = await qosOf([simFile('prio-prio', cmds, { policy: 'priority', priority: prio })], { priorities: prio });
    expectLatency(q, 'hi', cycles([1, 2, 2.25, 3.25].map((x) => x * MS)));
    expectLatency(q, 'lo', cycles([4.5 * MS]));
    expect(q.inversions).toEqual([]);
    expect(host(q.starvation, 'lo')).toMatchObject({ starved_ns: 3.5 * MS, from_ns: 0.5 * MS, to_ns: 4 * MS, waits: M });
    expect(host(q.starvation, 'hi')).toMatchObject({ starved_ns: 0, waits: 0 });
  });

  it('without declared priorities there is nothing to invert', async () => {
    const q = await qosOf([simFile('prio-none', cmds, { policy: 'fifo' })]);
    expect(q.priorities).toBeNull();
    expect(q.inversions).toBeNull();
  });
});

describe('a VM starved by a saturating higher-priority one', () => {
  // hi submits one command every 1 ms (K of them from 0), each taking S = 1 ms: the server is never idle
  // and always has hi waiting when it frees, so lo's L commands (every 4 ms from 0) all wait until hi's last
  // completion at K ms and then run back to back: lo_j in [K + j, K + j + 1] ms, latency K + 1 − 3j ms.
  // Common window: from 0 to the earliest last completion, hi's at K: hi served all K it submitted, lo none
  // of its L. Jain: device time (K, 0), served/s (1000, 0) and demand ratios (1, 0) all give 1²/(2·1) = 0.5.
  // lo starved from 0 to hi's last completion: K ms.
  const K = 100;
  const L = 10;
  const cmds = [...periodic('hi', { count: K, periodNs: MS, serviceNs: MS }), ...periodic('lo', { count: L, periodNs: 4 * MS, serviceNs: MS })];

  it('has fairness 0.5 on every measure and lo starved for the whole burst', async () => {
    const q = await qosOf([simFile('saturated', cmds, { policy: 'priority', priority: { hi: 1, lo: 0 } })]);
    expectLatency(q, 'hi', Array(K).fill(MS));
    expectLatency(q, 'lo', Array.from({ length: L }, (_, j) => (K + 1 - 3 * j) * MS));
    expect(host(q.share, 'hi')).toMatchObject({ submitted: K, served: K, demand_ratio: 1, busy_ns: K * MS, share: 1 });
    expect(host(q.share, 'lo')).toMatchObject({ submitted: L, served: 0, demand_ratio: 0, busy_ns: 0, share: 0 });
    expect(host(q.share, 'hi').served_per_s).toBeCloseTo(1000, 9);
    expect(q.fairness.find((x) => x.side === 'host')).toMatchObject({ jain_device_time: 0.5, jain_served: 0.5, jain_demand: 0.5 });
    expect(jain([1, 0])).toBe(0.5);
    expect(host(q.starvation, 'lo')).toMatchObject({ starved_ns: K * MS, from_ns: 0, to_ns: K * MS });
    expect(host(q.starvation, 'hi').starved_ns).toBe(0);
  });
});

describe('frame pacing', () => {
  // disp: SET_SCANOUT of resource 1 on scanout 0, then 101 RESOURCE_FLUSHes of it, 20 ms apart except every
  // 10th interval, 40 ms (a frame skipped). rear: the same setup, 51 flushes 40 ms apart. Each takes 0.1 ms
  // and they never meet (disp's at 10 mod 20 ms, rear's at 5 mod 20), so presentation times keep the
  // intervals. Against 50 Hz (20 ms; missed: > 30 ms): disp 90 × 20 + 10 × 40 ms, mean 22, variance
  // (90·2² + 10·18²)/100 = 36: jitter 6 ms; 10 missed; 100 frames in 2.2 s. rear: 40 ms each, all 50 missed, jitter 0, 25 fps.
  const S = 0.1 * MS;
  const cmds: SimCommand[] = [
    { vm: 'disp', at: 0, serviceNs: S, type: GPU_CMD.SET_SCANOUT, scanout: 0, resource: 1 },
    { vm: 'rear', at: MS, serviceNs: S, type: GPU_CMD.SET_SCANOUT, scanout: 0, resource: 1 },
  ];
  let t = 10 * MS;
  for (let i = 0; i <= 100; i++) {
    if (i > 0) t += (i % 10 === 0 ? 40 : 20) * MS;
    cmds.push({ vm: 'disp', at: t, serviceNs: S, type: GPU_CMD.RESOURCE_FLUSH, resource: 1 });
  }
  for (let k = 0; k <= 50; k++) cmds.push({ vm: 'rear', at: 5 * MS + k * 40 * MS, serviceNs: S, type: GPU_CMD.RESOURCE_FLUSH, resource: 1 });

  it('gives the computed intervals, jitter and missed frames', async () => {
    const q = await qosOf([simFile('frames', cmds, { policy: 'fifo' })], { refreshHz: 50 });
    expect(q.pacing).toHaveLength(2);
    const [disp, rear] = q.pacing;
    expect(disp).toMatchObject({ vm: 'disp', scanout: 0, frames: 101, target_ns: 20 * MS, p50_ns: 20 * MS, p99_ns: 40 * MS, max_ns: 40 * MS, missed: 10 });
    expect(disp!.jitter_ns).toBeCloseTo(6 * MS, 3);
    expect(disp!.fps).toBeCloseTo(100 / 2.2, 9);
    expect(rear).toMatchObject({ vm: 'rear', scanout: 0, frames: 51, p50_ns: 40 * MS, p99_ns: 40 * MS, missed: 50, jitter_ns: 0 });
    expect(rear!.fps).toBeCloseTo(25, 9);
    // at 25 Hz (40 ms, missed > 60 ms) nothing is missed
    const slow = await qosOf([simFile('frames', cmds, { policy: 'fifo' })], { refreshHz: 25 });
    expect(slow.pacing.map((p) => p.missed)).toEqual([0, 0]);
  });
});

describe('bad input to perf gpu', () => {
  const file = simFile('small', periodic('a', { count: 3, periodNs: MS, serviceNs: MS / 2 }), { policy: 'fifo' });
  const run = (...args: string[]) => spawnSync('node', [BIN, 'perf', 'gpu', ...args, '--no-db'], { encoding: 'utf8' });

  it('names what is wrong and exits 2, without a stack trace', () => {
    for (const [args, msg] of [
      [['--priority', 'a=urgent'], "--priority: 'a=urgent' is not VM=LEVEL"],
      [['--priority', 'nosuch=high'], "--priority: no VM 'nosuch' with GPU commands in the run (its VMs: a)"],
      [['--refresh', '0'], "--refresh: '0' is not a refresh rate in Hz"],
    ] as const) {
      const r = run(file, ...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(msg);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('points at the file and line of a bad event (--strict)', () => {
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"ts":0,"vm":"a","dev":"gpu0","kind":"gpu.cmd","phase":"process"}\n');
    const r = run(bad, '--strict');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: .*type`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
