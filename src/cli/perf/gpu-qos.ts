/** The text of `perf gpu`'s QoS part: per-VM latency, share, fairness, starvation, frame pacing, priority inversions. */
import type { GpuQos, Side } from '../../perf/gpu-qos.ts';
import { duration, table } from '../../format.ts';

const QUEUE = ['control', 'cursor'];
const SIDE: Record<Side, string> = { host: 'QEMU', guest: 'guest' };
const at = (ns: number | null) => (ns === null ? '-' : `${(ns / 1e9).toFixed(3)} s`);
const ratio = (x: number | null, digits = 3) => (x === null ? '-' : x.toFixed(digits));
const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);

function latencyTable(q: GpuQos): string {
  const key = (r: { vm: string; queue: number | null; ctx: number | null }) => `${r.vm}\t${r.queue}\t${r.ctx}`;
  const groups = [...new Set(q.latency.map(key))];
  const cells = (side: Side, k: string) => {
    const r = q.latency.find((x) => x.side === side && key(x) === k);
    return r ? [r.completed, duration(r.p50_ns), duration(r.p95_ns), duration(r.p99_ns), duration(r.max_ns)] : ['-', '-', '-', '-', '-'];
  };
  return table(
    ['vm', 'queue', 'ctx', 'QEMU n', 'p50', 'p95', 'p99', 'max', 'guest n', 'p50', 'p95', 'p99', 'max'],
    groups.map((k) => {
      const [vm, queue, ctx] = k.split('\t');
      return [vm!, QUEUE[Number(queue)] ?? queue!, ctx === 'null' ? '-' : ctx!, ...cells('host', k), ...cells('guest', k)];
    }),
    'lllrrrrrrrrrr',
  );
}

function fairnessLine(q: GpuQos, side: Side): string | undefined {
  const f = q.fairness.find((x) => x.side === side);
  const w = q.windows.find((x) => x.side === side);
  if (!f || !w) return undefined;
  const device = side === 'host' ? `, ${ratio(f.jain_device_time)} on device time` : '';
  return (
    `${SIDE[side]} view, common window ${duration(w.window_ns)} (${at(w.start_ns)} .. ${at(w.end_ns)}): Jain's index across ${f.vms} VMs ` +
    `${ratio(f.jain_served)} on served commands/s${device}, ${ratio(f.jain_demand)} demand-normalised (served/submitted)`
  );
}

export function gpuQosText(q: GpuQos): string {
  const out: string[] = [];
  const vms = [...new Set(q.latency.map((r) => r.vm))];
  out.push(`GPU QoS across ${vms.length} VM(s). Command latency, submitted → completed (QEMU: virtqueue_pop → virtqueue_fill; guest: virtio_gpu_cmd_queue → virtio_gpu_cmd_response):`);
  out.push(latencyTable(q), '');

  out.push('Share of the device and starvation (submitted/served/share: QEMU view, in its common window; starvation: longest wait with a command outstanding while other VMs got completions):');
  const share = (vm: string) => q.share.find((s) => s.side === 'host' && s.vm === vm);
  const starved = (side: Side, vm: string) => q.starvation.find((s) => s.side === side && s.vm === vm);
  out.push(
    table(
      ['vm', 'submitted', 'served', 'served/s', 'served/submitted', 'device time', 'share', 'starved QEMU', 'from', 'starved guest', 'from'],
      vms.map((vm) => {
        const s = share(vm);
        const h = starved('host', vm);
        const g = starved('guest', vm);
        return [
          vm, s?.submitted ?? '-', s?.served ?? '-', s?.served_per_s === null || !s ? '-' : s.served_per_s.toFixed(1), ratio(s?.demand_ratio ?? null),
          duration(s?.busy_ns), pct(s?.share ?? null), duration(h?.starved_ns), at(h?.from_ns ?? null), duration(g?.starved_ns), at(g?.from_ns ?? null),
        ];
      }),
    ),
  );
  for (const side of ['host', 'guest'] as const) {
    const l = fairnessLine(q, side);
    if (l) out.push(l);
  }
  out.push('');

  if (q.pacing.length > 0) {
    const target = q.pacing[0]!.target_ns;
    out.push(`Frame pacing (RESOURCE_FLUSH intervals per VM and scanout) against ${q.refresh_hz} Hz (${duration(target)}); missed: interval > ${duration(1.5 * target)}:`);
    out.push(
      table(
        ['vm', 'scanout', 'frames', 'fps', 'p50', 'p99', 'max', 'jitter', 'missed'],
        q.pacing.map((p) => [
          p.vm, p.scanout ?? '-', p.frames, p.fps === null ? '-' : p.fps.toFixed(1), duration(p.p50_ns), duration(p.p99_ns), duration(p.max_ns),
          duration(p.jitter_ns === null ? null : Math.round(p.jitter_ns)), p.missed,
        ]),
        'lrrrrrrrr',
      ),
      '',
    );
  }

  if (q.priorities && q.inversions) {
    const declared = Object.entries(q.priorities).sort((a, b) => b[1] - a[1]).map(([vm, l]) => `${vm} ${l}`).join(', ');
    out.push(`Priority inversions (declared: ${declared}; larger = more important): a lower VM's command processed while a higher VM's command waited (guest queue → QEMU's start):`);
    if (q.inversions.length === 0) out.push('none');
    else {
      out.push(
        table(
          ['served', 'while waiting', 'commands', 'device time', 'longest wait', 'first (cmd_id)'],
          q.inversions.map((r) => [`${r.served_vm} (${r.served_priority})`, `${r.waiting_vm} (${r.waiting_priority})`, r.inversions, duration(r.inverted_ns), duration(r.max_wait_ns), r.first_cmd_id]),
        ),
      );
    }
    out.push('');
  }
  return out.join('\n');
}
