import { Option, type Command } from 'commander';
import { kvmPerf, type KvmPerf } from '../../perf/kvm.ts';
import { duration, table } from '../../format.ts';
import { inputOptions, withInputs } from '../main.ts';

const KINDS = {
  access: 'Trapped register accesses the VMM served (exit to userspace → vCPU resumed)',
  doorbell: "Doorbell → interrupt per queue (notify write → the device's next interrupt for it)",
  inject: "Interrupt injection (raised by the VMM → accepted by the guest's local APIC), per vector",
} as const;

function kvmText(p: KvmPerf): string {
  const out: string[] = [];
  for (const j of p.joins) {
    if (!j.available) {
      out.push(`${j.kvm_file} and ${j.vmm_file} not joined: ${j.reason}`);
      continue;
    }
    const map = (JSON.parse(j.device_map) as { kvm: string; vmm: string }[]).map((m) => `${m.kvm} = ${m.vmm}`).join(', ');
    out.push(`joined ${j.kvm_file} with ${j.vmm_file}: VMM clock = KVM clock + ${duration(j.offset_ns!)}, from ${j.pairs} status write/echo pairs (median delay ${duration(j.median_delay_ns!)})`);
    out.push(`devices: ${map}`, '');
  }
  if (p.latency.length === 0) return [...out, 'no latency samples: no host KVM trace among the inputs'].join('\n') + '\n';
  for (const vm of new Set(p.latency.map((r) => r.vm))) {
    for (const [kind, title] of Object.entries(KINDS)) {
      const rows = p.latency.filter((r) => r.vm === vm && r.kind === kind);
      if (rows.length === 0) continue;
      out.push(`${title}, VM ${vm}`);
      out.push(table(['device', kind === 'access' ? 'register' : kind === 'doorbell' ? 'queue' : 'vector', 'n', 'p50', 'p90', 'p99', 'max'],
        rows.map((r) => [r.dev, r.what, r.n, duration(r.p50_ns), duration(r.p90_ns), duration(r.p99_ns), duration(r.max_ns)])));
      out.push('');
    }
  }
  return out.join('\n');
}

export function registerPerfKvm(perf: Command): void {
  inputOptions(
    perf
      .command('kvm')
      .description("host-side latency from KVM tracepoints, per VM and device: trapped accesses, doorbell → interrupt, interrupt injection")
      .argument('<inputs...>', 'a host KVM trace (and the VMM log of the same run), or one .duckdb store'),
  )
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((inputs: string[], o) =>
      withInputs(inputs, o, async ({ store }) => {
        const p = await kvmPerf(store.conn);
        process.stdout.write(o.format === 'json' ? JSON.stringify({ tool: 'avpscope', report: 'perf kvm', ...p }, null, 2) + '\n' : kvmText(p));
      }),
    );
}
