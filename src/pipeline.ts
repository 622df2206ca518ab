/**
 * The whole job, as a library: trace files -> canonical events -> attribution -> replay through the
 * platform model. Everything downstream (checks, store, reports) works from the `Run` it returns.
 */
import { basename } from 'node:path';
import { JoinFilter, planKvmJoins, type KvmJoin } from './align/kvm.ts';
import { planClocks, type GuestAlignment } from './align/sources.ts';
import type { OpenedSource, SourceInfo } from './ingest/adapter.ts';
import { InputError } from './ingest/errors.ts';
import { mergeSources } from './ingest/merge.ts';
import { readDeviceMap } from './ingest/kvm/device-map.ts';
import { detectFormat } from './ingest/registry.ts';
import { Stats } from './ingest/stats.ts';
import type { Analysis, RowSink } from './analyses/analysis.ts';
import { Attributor } from './model/attribute.ts';
import type { Event } from './model/events.ts';
import { Platform } from './model/platform.ts';
import type { Span } from './model/spans.ts';

export interface RunOptions {
  files: string[];
  /** VM name per file (default: the file name without extensions) */
  vms?: (string | undefined)[];
  /** adapter name to use instead of sniffing */
  format?: string;
  /** host KVM traces: a device tree blob or JSON map of virtio-mmio windows (src/ingest/kvm/device-map.ts) */
  deviceMap?: string;
  /** called with every event in replay order (after attribution) */
  onEvents?: (batch: Event[]) => void | Promise<void>;
  onSpan?: (s: Span) => void;
  /** analyses riding along the replay, with where their rows go */
  analyses?: { list: readonly Analysis[]; sink: RowSink };
}

export interface Run {
  sources: SourceInfo[];
  originNs: bigint;
  stats: Stats;
  platform: Platform;
  events: number;
  /** each guest trace's clock alignment with its VM's host trace */
  alignments: GuestAlignment[];
  /** each host KVM trace's join with the VMM log of the same VM (src/align/kvm.ts) */
  kvmJoins: KvmJoin[];
}

/** "traces/qemu-7.2/microvm-modern.trace.gz" -> "microvm-modern" */
export function defaultVmName(file: string): string {
  return basename(file).replace(/(\.(gz|trace|log|txt|jsonl|json|ftrace|qemu|guest-ftrace|kvm|dtb|console|guest|interrupts|virtio_devices|dmesg))+$/i, '') || 'vm';
}

export async function openSources(opts: Pick<RunOptions, 'files' | 'vms' | 'format' | 'deviceMap'> & { keepRaw?: boolean }, stats: Stats): Promise<OpenedSource[]> {
  if (opts.files.length === 0) throw new InputError('no trace files given');
  const deviceMap = opts.deviceMap !== undefined ? readDeviceMap(opts.deviceMap) : undefined;
  const out: OpenedSource[] = [];
  for (const [i, file] of opts.files.entries()) {
    const adapter = await detectFormat(file, opts.format);
    out.push(adapter.open({ file, vm: opts.vms?.[i] ?? defaultVmName(file), stats, keepRaw: opts.keepRaw, deviceMap }));
  }
  return out;
}

export async function run(opts: RunOptions): Promise<Run> {
  const stats = new Stats();
  // a guest trace among the files: a first pass measures its clock against the host's
  const plan = opts.files.length > 1 ? await planClocks(await openSources(opts, new Stats()), opts.vms) : undefined;
  const sources = await openSources({ ...opts, vms: plan?.vms ?? opts.vms }, stats);
  const alignments = plan?.alignments ?? [];
  // a host KVM trace beside the VMM's log of the same VM: one run seen twice, joined by measurement
  const kvmJoins = opts.files.length > 1 ? ((await planKvmJoins(await openSources({ ...opts, vms: plan?.vms ?? opts.vms }, new Stats()))) ?? []) : [];
  const join = new JoinFilter(kvmJoins);
  const platform = new Platform(stats, opts.onSpan);
  for (const s of sources) platform.evidence.noteSource(s.info.vm, s.info.format);
  const attributor = new Attributor(stats);
  const infos = sources.map((s) => s.info);
  const runs = (opts.analyses?.list ?? []).map((a) => a.start({ platform, stats, sources: infos, alignments, kvmJoins }, opts.analyses!.sink));
  let events = 0;
  // VMs of a host KVM trace (which sees no guest memory), and those whose rings some other host
  // trace shows (a device tree blob shows none either)
  const kvmFiles = new Set(infos.filter((s) => s.format === 'host-kvm').map((s) => s.file));
  const ringless = new Set(infos.filter((s) => s.format === 'host-kvm' || s.format === 'dtb').map((s) => s.file));
  const kvmVms = new Set<string>();
  const ringsSeen = new Set<string>();
  const feed = async (batch: Event[]) => {
    events += batch.length;
    const withKvm = kvmFiles.size > 0;
    for (const e of batch) {
      if (withKvm) {
        const file = e.src?.file ?? '';
        if (kvmFiles.has(file)) kvmVms.add(e.vm ?? '');
        else if (e.view !== 'guest' && !ringless.has(file)) ringsSeen.add(e.vm ?? '');
      }
      platform.replay(e);
      for (const a of runs) a.onEvent(e);
    }
    if (opts.onEvents) await opts.onEvents(batch);
  };
  const kvmClock = (i: number) => {
    const j = kvmJoins.find((x) => x.available && x.kvmFile === infos[i]!.file);
    return j ? { offsetNs: j.offsetNs!, driftPpm: 0, refTs: 0 } : undefined;
  };
  const merged = mergeSources(sources, { clock: (i) => plan?.clocks[i] ?? kvmClock(i) });
  let r = await merged.next();
  while (!r.done) {
    await feed(attributor.push(join.apply(r.value)));
    r = await merged.next();
  }
  await feed(attributor.end());
  platform.finish();
  for (const vm of kvmVms) {
    if (!ringsSeen.has(vm)) platform.ringsUnseen.set(vm, "the rings are not in a host KVM trace (descriptors and used elements live in guest memory, which no KVM tracepoint shows): give the VMM's own log of the same run");
  }
  join.annotate(platform);
  for (const a of runs) a.finish();
  return { sources: infos, originNs: r.value, stats, platform, events, alignments, kvmJoins };
}
