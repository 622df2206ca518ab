/**
 * The guest's console output or dmesg (free text): the lines that say something a requirement needs
 * become `boot.log` events by topic (PSCI and SCMI versions, EFI, KASLR, watchdog, OP-TEE, consoles,
 * the GPU driver's feature line, vsock, IOMMU, virtio-fs, RPMB, crypto). Every other line is read and
 * skipped: a console log has no bad lines. No clock is used (dmesg's is the guest's uptime): ts 0.
 */
import type { BootTopic, Event } from '../../model/events.ts';
import type { Adapter, LineParser, OpenOptions, OpenedSource, SourceInfo } from '../adapter.ts';
import { readLineSource } from '../adapter.ts';

/** A dmesg line, a firmware banner, or the capture script's `== step` markers. */
const BOOT_LINE = /^(\[\s*\d+\.\d+\] |SeaBIOS \(version|Linux version \d|== \S|EFI stub: |Booting Linux on)/m;

/** Topic patterns in the order they are tried; the first group, when present, is the version. */
const TOPICS: [BootTopic, RegExp][] = [
  ['psci', /\bpsci: PSCIv(\d+\.\d+) detected|\bpsci: /],
  ['scmi', /\bSCMI Protocol v(\d+\.\d+)|\bscmi|arm-scmi/i],
  ['efi', /\befi: EFI v(\d+\.\d+)|\bEFI stub\b|\befi: /],
  // the firmware or boot stub that ran: SeaBIOS and Linux's x86 setup code say the guest is x86
  ['firmware', /SeaBIOS \(version ([^)]+)\)|Probing EDD|EDK II|U-Boot \d/],
  ['kaslr', /KASLR (?:enabled|disabled)|kaslr-seed|nokaslr/i],
  ['watchdog', /sbsa[-_]gwdt|watchdog/i],
  ['optee', /\boptee\b/i],
  ['gpu', /\[drm\].*(?:virtio|features:)|virtio[-_]gpu/i],
  ['vsock', /vsock/i],
  ['iommu', /virtio[-_]iommu/i],
  ['fs', /virtio[-_]?fs\b|virtiofs/i],
  ['rpmb', /rpmb/i],
  ['crypto', /virtio[-_]crypto/i],
  ['console', /console \[\w+\] enabled|\bgetty\b.*\b(?:hvc\d+|ttyS\d+|ttyAMA\d+)/],
];

export const bootLogAdapter: Adapter = {
  name: 'boot-log',
  description: "the guest's console output or dmesg: PSCI, SCMI, EFI, KASLR, watchdog, console and device driver lines",
  sniff: (head) => BOOT_LINE.test(head.replace(/\x1b(\[[0-9;?]*[A-Za-z]|c)/g, '')),
  open(opts: OpenOptions): OpenedSource {
    const info: SourceInfo = { file: opts.file, format: 'boot-log', view: 'guest', vm: opts.vm, originNs: 0n, timed: false, events: 0, lines: 0 };
    return { info, batches: readLineSource(info, new BootLogParser(info), opts.stats, opts.keepRaw) };
  },
};

/** The topic a boot log line speaks to, and the version it states, if any. */
export function classifyBootLine(line: string): { topic: BootTopic; version?: string } | undefined {
  for (const [topic, re] of TOPICS) {
    const m = re.exec(line);
    if (m) return m[1] !== undefined ? { topic, version: m[1] } : { topic };
  }
  return undefined;
}

class BootLogParser implements LineParser {
  constructor(private readonly info: SourceInfo) {}

  parseLine(line: string, lineNo: number, out: Event[]): string | undefined {
    // terminal control sequences (the firmware clears the screen) are not text
    const text = line.replace(/\x1b(\[[0-9;?]*[A-Za-z]|c)/g, '').trim();
    const c = classifyBootLine(text);
    if (c) out.push({ kind: 'boot.log', ts: 0, vm: this.info.vm, view: 'guest', src: { file: this.info.file, line: lineNo }, text, ...c });
    return undefined;
  }
}
