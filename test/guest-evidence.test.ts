/**
 * Guest and platform evidence on the real captures: the guest's virtio device list, its
 * /proc/interrupts, its console, and the arm64 capture's device tree blob (checked node by node and
 * property by property against `dtc -I dtb -O dts` of the same blob, committed beside it).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseFdt, type FdtValue } from '../src/ingest/dtb/fdt.ts';
import { InputError } from '../src/ingest/errors.ts';
import { classifyBootLine } from '../src/ingest/guest/boot-log.ts';
import { sysfsFeaturesToHex } from '../src/ingest/guest/virtio-devices.ts';
import { detectFormat } from '../src/ingest/registry.ts';
import { run } from '../src/pipeline.ts';

const T = join(import.meta.dirname, '..', 'traces');

/** `dtc -O dts` output to path -> property -> value text, as dtc writes it. */
function readDts(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  const stack: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    let m;
    if ((m = /^([^\s=]+) \{$/.exec(line))) {
      const name = m[1]!;
      const path = name === '/' ? '/' : stack.length === 1 ? `/${name}` : `${stack.at(-1)}/${name}`;
      stack.push(path);
      out.set(path, new Map());
    } else if (line === '};') stack.pop();
    else if ((m = /^([^\s=;]+)(?: = (.*))?;$/.exec(line)) && stack.length > 0) out.get(stack.at(-1)!)!.set(m[1]!, m[2] ?? '');
  }
  return out;
}

/** A parsed value written the way dtc writes it. */
function asDts(v: FdtValue): string {
  if (typeof v === 'string') return v === '' ? '' : `[${v.slice(2).match(/../g)!.join(' ')}]`;
  if (v.length > 0 && typeof v[0] === 'string') return `"${(v as string[]).join('\\0')}"`;
  return `<${(v as number[]).map((c) => '0x' + c.toString(16).padStart(2, '0')).join(' ')}>`;
}

describe('device tree blob', () => {
  const blob = gunzipSync(readFileSync(join(T, 'qemu-7.2', 'arm64-virt.dtb.gz')));
  const nodes = parseFdt(blob);
  const dts = readDts(readFileSync(join(T, 'qemu-7.2', 'arm64-virt.dts'), 'utf8'));

  it('has every node and property dtc shows, with the same values', () => {
    expect(nodes.map((n) => n.path).sort()).toEqual([...dts.keys()].sort());
    for (const n of nodes) {
      const want = dts.get(n.path)!;
      expect(Object.keys(n.props).sort(), n.path).toEqual([...want.keys()].sort());
      for (const [k, v] of Object.entries(n.props)) expect(asDts(v), `${n.path} ${k}`).toBe(want.get(k));
    }
  });

  it('reads what the AVPS rules need: PSCI, kaslr-seed, no SBSA watchdog, the virtio-mmio transports', () => {
    const psci = nodes.find((n) => n.path === '/psci')!;
    expect(psci.props.compatible).toEqual(['arm,psci-1.0', 'arm,psci-0.2', 'arm,psci']);
    expect(psci.props.method).toEqual(['hvc']);
    expect(nodes.find((n) => n.path === '/chosen')!.props['kaslr-seed']).toHaveLength(2);
    expect(nodes.filter((n) => (n.props.compatible as string[] | undefined)?.includes('arm,sbsa-gwdt'))).toHaveLength(0);
    expect(nodes.filter((n) => (n.props.compatible as string[] | undefined)?.includes('virtio,mmio'))).toHaveLength(32);
  });

  it('is sniffed by content, plain or gzip; a damaged blob is an error naming the file and byte', async () => {
    const plain = join(tmpdir(), `avps-${process.pid}.dtb`);
    writeFileSync(plain, blob);
    expect((await detectFormat(plain)).name).toBe('dtb');
    expect((await detectFormat(join(T, 'qemu-7.2', 'arm64-virt.dtb.gz'))).name).toBe('dtb');
    const cut = join(tmpdir(), `avps-${process.pid}-cut.dtb`);
    writeFileSync(cut, blob.subarray(0, 600));
    const err = await run({ files: [cut] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).describe()).toMatch(/-cut\.dtb: bad device tree blob at byte \d+: truncated/);
  });
});

describe('guest evidence files', () => {
  it('joins the guest virtio list, /proc/interrupts and console to the host trace of the same VM', async () => {
    const dir = join(T, 'guest-ftrace');
    const r = await run({
      files: ['q35-gpu.qemu.trace.gz', 'q35-gpu.guest.virtio_devices.txt', 'q35-gpu.guest.interrupts.txt', 'q35-gpu.console.txt'].map((f) => join(dir, f)),
    });
    expect(r.sources.map((s) => [s.format, s.vm])).toEqual([
      ['qemu-log', 'q35-gpu'], ['guest-virtio-devices', 'q35-gpu'], ['guest-interrupts', 'q35-gpu'], ['boot-log', 'q35-gpu'],
    ]);
    const v = r.platform.evidence.vm('q35-gpu');
    expect([...v.guestDevices.values()].map((g) => [g.dev, g.deviceId, g.driver])).toEqual([
      ['virtio0', 16, 'virtio_gpu'], ['virtio1', 2, 'virtio_blk'], ['virtio2', 1, 'virtio_net'], ['virtio3', 4, 'virtio_rng'], ['virtio4', 3, 'virtio_console'],
    ]);
    const gpuIrqs = v.irqs.filter((i) => i.name?.startsWith('virtio0-'));
    expect(gpuIrqs.map((i) => [i.irq, i.name, i.count])).toEqual([['24', 'virtio0-config', 0], ['25', 'virtio0-control', 49], ['26', 'virtio0-cursor', 0]]);
    expect(v.irqs.find((i) => i.irq === '0')).toMatchObject({ chip: 'IO-APIC', name: 'timer', count: 148 });
    // no clock in these files: nothing to align, and no alignment reported for them
    expect(r.alignments).toHaveLength(0);
  });

  it('reads the console of the arm64 capture: the guest saw kaslr-seed in /chosen', async () => {
    const r = await run({ files: [join(T, 'qemu-7.2', 'arm64-virt.trace.gz'), join(T, 'qemu-7.2', 'arm64-virt.console.txt')] });
    const k = r.platform.evidence.vm('arm64-virt').bootLines('kaslr');
    expect(k).toHaveLength(1);
    expect(k[0]!.text).toContain('kaslr-seed');
    expect(k[0]!.ref.src).toEqual({ file: join(T, 'qemu-7.2', 'arm64-virt.console.txt'), line: 1 });
  });

  it('classifies boot log lines and reads sysfs feature bits', () => {
    expect(classifyBootLine('[    0.000000] psci: PSCIv1.1 detected in firmware.')).toEqual({ topic: 'psci', version: '1.1' });
    expect(classifyBootLine('[    0.000000] efi: EFI v2.70 by EDK II')).toEqual({ topic: 'efi', version: '2.70' });
    expect(classifyBootLine('[    1.2] [drm] features: -virgl +edid -resource_blob -host_visible')).toEqual({ topic: 'gpu' });
    expect(classifyBootLine('[    1.3] sbsa-gwdt 2a440000.watchdog: Initialized with 10s timeout @ 62500000 Hz')).toEqual({ topic: 'watchdog' });
    expect(classifyBootLine('256+0 records out')).toBeUndefined();
    // bit 0 first, as /sys/bus/virtio/devices/*/features writes them: bits 9 and 32
    expect(sysfsFeaturesToHex('0000000001' + '0'.repeat(22) + '1')).toBe('0x100000200');
  });
});
