import { Option, type Command } from 'commander';
import { InputError } from '../../ingest/errors.ts';
import { gpuPerf, type GpuPerf } from '../../perf/gpu.ts';
import { DEFAULT_REFRESH_HZ, parsePriorities } from '../../perf/gpu-qos.ts';
import { alignmentBrief } from '../align.ts';
import { duration, table } from '../../format.ts';
import { inputOptions, withInputs } from '../main.ts';
import { gpuQosText } from './gpu-qos.ts';

const QUEUE = ['control', 'cursor'];

function gpuText(p: GpuPerf): string {
  const out: string[] = [];
  if (p.latency.length === 0) return 'no virtio-gpu command in the input\n';
  for (const vm of new Set(p.latency.map((r) => r.vm))) {
    for (const a of p.alignments.filter((x) => x.vm === vm)) out.push(alignmentBrief(a));
    out.push(`GPU commands of VM ${vm}. guest: virtio_gpu_cmd_queue → virtio_gpu_cmd_response; QEMU: virtqueue_pop → response written (virtqueue_fill)`);
    const rows = p.latency.filter((r) => r.vm === vm);
    out.push(
      table(
        ['command', 'queue', 'n', 'both sides', 'guest only', 'host only', 'guest p50', 'p99', 'max', 'QEMU p50', 'p99', 'max'],
        rows.map((r) => [
          r.type_name, QUEUE[r.queue ?? 0] ?? String(r.queue), r.n, r.paired, r.guest_only, r.host_only,
          duration(r.guest_p50_ns), duration(r.guest_p99_ns), duration(r.guest_max_ns),
          duration(r.host_p50_ns), duration(r.host_p99_ns), duration(r.host_max_ns),
        ]),
      ),
    );
    const resp = p.responses.filter((r) => r.vm === vm);
    if (resp.length > 0) out.push('', `responses: ${resp.map((r) => `${r.type_name} → ${r.resp_name ?? 'none in the trace'} ×${r.n}`).join(', ')}`);
    out.push('');
  }
  if (p.mismatched > 0) out.push(`warning: ${p.mismatched} command(s) named differently by the two sides (view gpu_type_mismatch): their pairing is not to be trusted`, '');
  if (p.qos) out.push(gpuQosText(p.qos));
  else out.push('note: the store predates the GPU QoS views (queries/gpu_qos.sql): ingest the traces again for them', '');
  return out.join('\n');
}

export function registerPerfGpu(perf: Command): void {
  inputOptions(
    perf
      .command('gpu')
      .description('virtio-gpu command latency per command type from the guest and from QEMU; QoS across VMs: latency, share, fairness, starvation, frame pacing')
      .argument('<inputs...>', 'the host and guest traces of one run (one or several VMs), or one .duckdb store'),
  )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--refresh <hz>', 'target refresh rate for frame pacing', String(DEFAULT_REFRESH_HZ))
    .option('--priority <vm=level,...>', 'declared VM priorities (low, normal, high or a whole number; larger = more important): report priority inversions')
    .action((inputs: string[], o) =>
      withInputs(inputs, o, async ({ store, dbPath }) => {
        const refreshHz = Number(o.refresh);
        if (!(refreshHz > 0 && Number.isFinite(refreshHz))) throw new InputError(`--refresh: '${o.refresh}' is not a refresh rate in Hz (e.g. 60)`);
        const priorities = o.priority === undefined ? undefined : parsePriorities(o.priority);
        const p = await gpuPerf(store.conn, dbPath ?? 'the store', { refreshHz, priorities });
        process.stdout.write(o.format === 'json' ? JSON.stringify({ tool: 'avpscope', report: 'perf gpu', ...p }, null, 2) + '\n' : gpuText(p));
      }),
    );
}
