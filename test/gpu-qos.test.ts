/**
 * GPU QoS on the real three-VM capture (traces/gpu-multi: cluster, ivi and rear with virtio-gpu at once on one
 * 2-core host, a 3:2:1 framebuffer mix; one QEMU log per VM on the one host clock, one guest ftrace per VM).
 *
 * The expected figures are worked out here from the raw QEMU lines, without the analysis: QEMU's main loop
 * handles a VM's GPU commands one at a time, logging virtio_gpu_cmd_* as it starts one and virtqueue_fill
 * as it writes that command's response, before it starts the next (no other thread fills this device's
 * queues: the test checks that each command line is followed by its fill before the next command line).
 * The chain a command came in is the element that fill names, popped last before the fill
 * (virtqueue_pop). So each command has: submitted (pop), started (the command line), done (the fill).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, type Ingested } from '../src/api/ingest.ts';
import { gpuQos, type GpuQos } from '../src/perf/gpu-qos.ts';
import { queryRows } from '../src/perf/store.ts';
import { lines, real } from './helpers.ts';
import { jain, quantile } from './helpers.ts';

const VMS = ['cluster', 'ivi', 'rear'] as const;
const HOSTS = VMS.map((v) => real(`gpu-multi/${v}.trace.gz`));
const GUESTS = VMS.map((v) => real(`gpu-multi/${v}.guest-ftrace.txt.gz`));
const BIN = join(import.meta.dirname, '..', 'bin', 'avpscope.js');

interface Cmd {
  vm: string;
  name: string;
  submit: number;
  start: number;
  done: number;
}

/** Each VM's commands from its raw QEMU log; times in ns from `origin` (ns since the epoch). */
function rawCommands(vm: string, file: string, origin: bigint): Cmd[] {
  const popped = new Map<string, number>();
  const out: Cmd[] = [];
  let open: { name: string; start: number } | undefined;
  for (const l of lines(file)) {
    const m = /^\d+@(\d+)\.(\d{6}):(\w+)(.*)$/.exec(l);
    if (!m) continue;
    const t = Number(BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!) * 1000n - origin);
    const [name, args] = [m[3]!, m[4]!];
    if (name === 'virtqueue_pop') popped.set(/ elem (\S+)/.exec(args)![1]!, t);
    else if (name.startsWith('virtio_gpu_cmd_')) {
      if (open) throw new Error(`${file}: ${name} before the fill of ${open.name}`);
      open = { name, start: t };
    } else if (name === 'virtqueue_fill' && open) {
      out.push({ vm, name: open.name, submit: popped.get(/ elem (\S+)/.exec(args)![1]!)!, start: open.start, done: t });
      open = undefined;
    }
  }
  return out;
}


/**
 * Starvation by a sweep over time, not the view's islands: a VM waits from the moment it has work
 * outstanding (or from its own last completion while it still has), and when its next command is taken up
 * it was starved up to the last completion of another VM until then. Taken up: QEMU starts it (another VM's
 * completion at that very instant counts), or, without a start (the guest's view), it completes (one at
 * that instant does not).
 */
function sweepStarvation(cmds: { vm: string; submit: number; start?: number; done: number }[]): Map<string, number> {
  type Step = 'judge-at-done' | 'done' | 'start' | 'submit';
  const order: Record<Step, number> = { 'judge-at-done': 0, done: 1, start: 2, submit: 3 };
  const events = cmds
    .flatMap((c) => [
      { t: c.submit, vm: c.vm, step: 'submit' as Step },
      c.start === undefined ? { t: c.done, vm: c.vm, step: 'judge-at-done' as Step } : { t: c.start, vm: c.vm, step: 'start' as Step },
      { t: c.done, vm: c.vm, step: 'done' as Step },
    ])
    .sort((a, b) => a.t - b.t || order[a.step] - order[b.step]);
  const outstanding = new Map<string, number>();
  const since = new Map<string, number | undefined>();
  const lastDone = new Map<string, number>();
  const worst = new Map<string, number>(cmds.map((c) => [c.vm, 0]));
  for (const e of events) {
    const n = outstanding.get(e.vm) ?? 0;
    if (e.step === 'start' || e.step === 'judge-at-done') {
      const others = Math.max(-Infinity, ...[...lastDone].filter(([vm]) => vm !== e.vm).map(([, t]) => t));
      const s = since.get(e.vm);
      if (s !== undefined && others > s) worst.set(e.vm, Math.max(worst.get(e.vm)!, others - s));
    } else if (e.step === 'done') {
      outstanding.set(e.vm, n - 1);
      lastDone.set(e.vm, e.t);
      since.set(e.vm, n - 1 > 0 ? e.t : undefined);
    } else {
      outstanding.set(e.vm, n + 1);
      if (n === 0) since.set(e.vm, e.t);
    }
  }
  return worst;
}

async function open(files: string[]): Promise<{ r: Ingested; origin: bigint }> {
  const r = await ingest({ files, db: ':memory:' });
  const [m] = await queryRows(r.store.conn, "SELECT value FROM meta WHERE key = 'origin_ns'");
  return { r, origin: BigInt(m!.value as string) };
}

describe('GPU QoS of the real three-VM capture', () => {
  let both: { r: Ingested; origin: bigint };
  let q: GpuQos;
  let cmds: Cmd[];
  beforeAll(async () => {
    both = await open([...HOSTS, ...GUESTS]);
    q = await gpuQos(both.r.store.conn);
    cmds = VMS.flatMap((vm, i) => rawCommands(vm, HOSTS[i]!, both.origin));
  });
  afterAll(() => both.r.store.close());

  it('pairs each guest trace with its own VM among several', async () => {
    const rows = await queryRows(both.r.store.conn, 'SELECT vm, guest_file, host_files, available FROM clock_alignment ORDER BY vm');
    expect(rows.map((r) => [r.vm, String(r.guest_file).endsWith(`${r.vm}.guest-ftrace.txt.gz`), JSON.parse(String(r.host_files)).join() === real(`gpu-multi/${r.vm}.trace.gz`), r.available])).toEqual(
      VMS.map((v) => [v, true, true, true]),
    );
  });

  it('has QEMU latency per VM as the raw lines give it, and the guest counts of its ftrace', () => {
    for (const [i, vm] of VMS.entries()) {
      const lat = cmds.filter((c) => c.vm === vm).map((c) => c.done - c.submit);
      const h = q.latency.find((r) => r.side === 'host' && r.vm === vm)!;
      expect(h).toMatchObject({ queue: 0, ctx: 0, commands: lat.length, completed: lat.length, max_ns: Math.max(...lat) });
      for (const [col, p] of [['p50_ns', 0.5], ['p95_ns', 0.95], ['p99_ns', 0.99]] as const) expect(Math.abs(h[col]! - quantile(lat, p))).toBeLessThanOrEqual(1);
      const gl = lines(GUESTS[i]!);
      const g = q.latency.find((r) => r.side === 'guest' && r.vm === vm)!;
      expect(g.commands).toBe(gl.filter((l) => l.includes(' virtio_gpu_cmd_queue: ')).length);
      expect(g.completed).toBe(gl.filter((l) => l.includes(' virtio_gpu_cmd_response: ')).length);
    }
    // the capture's README: 1175, 795 and 433 virtio_gpu_cmd_* lines
    expect(VMS.map((vm) => cmds.filter((c) => c.vm === vm).length)).toEqual([1175, 795, 433]);
  });

  it('has the common window, device time, shares and fairness the raw lines give', () => {
    const start = Math.max(...VMS.map((vm) => Math.min(...cmds.filter((c) => c.vm === vm).map((c) => c.submit))));
    const end = Math.min(...VMS.map((vm) => Math.max(...cmds.filter((c) => c.vm === vm).map((c) => c.done))));
    expect(q.windows.find((w) => w.side === 'host')).toMatchObject({ vms: 3, start_ns: start, end_ns: end, window_ns: end - start });
    const mine = (vm: string) => cmds.filter((c) => c.vm === vm);
    const busy = VMS.map((vm) => mine(vm).reduce((a, c) => a + Math.max(0, Math.min(c.done, end) - Math.max(c.start, start)), 0));
    const submitted = VMS.map((vm) => mine(vm).filter((c) => c.submit >= start && c.submit < end).length);
    const served = VMS.map((vm) => mine(vm).filter((c) => c.done >= start && c.done <= end).length);
    for (const [i, vm] of VMS.entries()) {
      const s = q.share.find((r) => r.side === 'host' && r.vm === vm)!;
      expect(s).toMatchObject({ submitted: submitted[i], served: served[i], busy_ns: busy[i] });
      expect(s.share).toBeCloseTo(busy[i]! / (busy[0]! + busy[1]! + busy[2]!), 12);
    }
    const f = q.fairness.find((r) => r.side === 'host')!;
    expect(f.jain_device_time).toBeCloseTo(jain(busy), 12);
    expect(f.jain_served).toBeCloseTo(jain(served), 12);
    expect(f.jain_demand).toBeCloseTo(jain(VMS.map((_, i) => served[i]! / submitted[i]!)), 12);
    // the 3:2:1 mix shows in the commands served; each VM was served what it asked for
    expect(served[0]! > served[1]! && served[1]! > served[2]!).toBe(true);
    expect(f.jain_demand).toBeGreaterThan(0.999);
  });

  it('has the starvation a sweep over the raw lines gives (QEMU) and over the guest times (guest)', async () => {
    // QEMU took up every command before another VM completed one: each VM's device served its own
    // queue at once; the waiting happened before QEMU popped (the guests' view below)
    const host = sweepStarvation(cmds);
    for (const vm of VMS) expect(q.starvation.find((r) => r.side === 'host' && r.vm === vm)!.starved_ns).toBe(host.get(vm));
    expect([...host.values()]).toEqual([0, 0, 0]);
    // the guest's times are the analysis' pairing of its ftrace (test/gpu.test.ts checks that against the raw lines)
    const g = await queryRows(both.r.store.conn, 'SELECT vm, t_queue AS submit, t_response AS done FROM gpu_commands WHERE t_queue IS NOT NULL AND t_response IS NOT NULL');
    const guest = sweepStarvation(g as unknown as { vm: string; submit: number; done: number }[]);
    for (const vm of VMS) expect(q.starvation.find((r) => r.side === 'guest' && r.vm === vm)!.starved_ns).toBe(guest.get(vm));
    expect(Math.min(...guest.values())).toBeGreaterThan(0);
  });

  it('has the frame pacing of the RESOURCE_FLUSH responses', () => {
    for (const vm of VMS) {
      const t = cmds.filter((c) => c.vm === vm && c.name === 'virtio_gpu_cmd_res_flush').map((c) => c.done).sort((a, b) => a - b);
      const iv = t.slice(1).map((x, i) => x - t[i]!);
      const mean = iv.reduce((a, b) => a + b, 0) / iv.length;
      const p = q.pacing.find((r) => r.vm === vm)!;
      // every flush is of the resource the VM's last SET_SCANOUT put on scanout 0
      expect(p).toMatchObject({ scanout: 0, frames: t.length, max_ns: Math.max(...iv), missed: iv.filter((x) => x > 1.5e9 / 60).length });
      expect(Math.abs(p.p50_ns! - quantile(iv, 0.5))).toBeLessThanOrEqual(1);
      expect(Math.abs(p.p99_ns! - quantile(iv, 0.99))).toBeLessThanOrEqual(1);
      expect(p.jitter_ns).toBeCloseTo(Math.sqrt(iv.reduce((a, x) => a + (x - mean) ** 2, 0) / iv.length), 3);
    }
  });
});

describe('priority inversion on the real capture, QEMU logs alone', () => {
  // Without the guest traces a command waits from its pop to its start. Declared ivi above cluster: each
  // cluster command QEMU started while an ivi command was popped and not yet started is an inversion.
  it('counts the cluster commands started while an ivi command waited', async () => {
    const { r, origin } = await open(HOSTS);
    try {
      const q = await gpuQos(r.store.conn, { priorities: { ivi: 5, cluster: 1 } });
      const raw = VMS.flatMap((vm, i) => rawCommands(vm, HOSTS[i]!, origin));
      const ivi = raw.filter((c) => c.vm === 'ivi');
      const inverted = raw.filter((c) => c.vm === 'cluster' && ivi.some((h) => h.submit < c.start && h.start > c.start));
      expect(inverted.length).toBeGreaterThan(0);
      expect(q.inversions).toHaveLength(1);
      expect(q.inversions![0]).toMatchObject({
        served_vm: 'cluster', waiting_vm: 'ivi', inversions: inverted.length, inverted_ns: inverted.reduce((a, c) => a + c.done - c.start, 0),
      });
      // rear has no level: it takes part in none
      expect(q.inversions!.some((x) => x.served_vm === 'rear' || x.waiting_vm === 'rear')).toBe(false);
    } finally {
      r.store.close();
    }
  });
});

describe('perf gpu on the three-VM capture', () => {
  it('prints latency, share, starvation and fairness per VM, and frame pacing', () => {
    const out = execFileSync('node', [BIN, 'perf', 'gpu', ...HOSTS, ...GUESTS, '--no-db', '--refresh', '30'], { encoding: 'utf8' });
    expect(out).toContain('GPU QoS across 3 VM(s)');
    expect(out).toMatch(/^cluster +control +0 +1175 +\S+ (µs|ms) /m);
    expect(out).toMatch(/^ivi +control +0 +795 /m);
    expect(out).toMatch(/^rear +control +0 +433 /m);
    expect(out).toMatch(/^QEMU view, common window .* Jain's index across 3 VMs 0\.\d{3} on served commands\/s, 0\.\d{3} on device time, 1\.000 demand-normalised/m);
    expect(out).toMatch(/^guest view, common window .* Jain's index across 3 VMs /m);
    expect(out).toContain('against 30 Hz (33.3 ms); missed: interval > 50.0 ms');
    expect(out).not.toContain('Priority inversions');
    const json = JSON.parse(execFileSync('node', [BIN, 'perf', 'gpu', ...HOSTS, '--no-db', '--format', 'json', '--priority', 'cluster=high,ivi=normal,rear=low'], { encoding: 'utf8' }));
    expect(json.qos.priorities).toEqual({ cluster: 2, ivi: 1, rear: 0 });
    expect(Array.isArray(json.qos.inversions)).toBe(true);
    expect(json.qos.share.map((s: { vm: string }) => s.vm)).toEqual([...VMS]);
  });

  it('refuses a priority for a VM that is not in the run', () => {
    const r = spawnSync('node', [BIN, 'perf', 'gpu', HOSTS[0]!, '--no-db', '--priority', 'ivi=high'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--priority: no VM 'ivi' with GPU commands in the run (its VMs: cluster)");
  });
});
