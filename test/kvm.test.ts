/**
 * The host kernel's KVM tracepoints, on the real runs of traces/kvm/ (each recorded two ways at once:
 * the host's tracefs and QEMU's log): devices found by address with their types seen, feature
 * negotiation judged from register values (q35 included), rings NOT-OBSERVED with the reason, and
 * the join with QEMU's log of the same run. Expected values are read from the raw lines here.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ingest } from '../src/api/ingest.ts';
import { readDeviceMap } from '../src/ingest/kvm/device-map.ts';
import { detectFormat } from '../src/ingest/registry.ts';
import { queryRows } from '../src/perf/store.ts';
import type { Event } from '../src/model/events.ts';
import type { Span } from '../src/model/spans.ts';
import { run } from '../src/pipeline.ts';
import { lineOf, lines, real, reportOf, tempDir, verdict, writeTrace } from './helpers.ts';

const kvm = (v: string) => real(`kvm/${v}.kvm.trace.gz`);
const qemu = (v: string) => real(`kvm/${v}.qemu.trace.gz`);
const MICROVM = 'qemu-microvm-mmio';
const Q35 = 'qemu-q35-pci';

/** The driver's accepted feature words per virtio-mmio window, read from the raw kvm_mmio writes. */
function mmioAcceptedFromLines(file: string): Map<number, bigint> {
  const sel = new Map<number, number>();
  const acc = new Map<number, bigint>();
  for (const l of lines(file)) {
    const m = /mmio write len 4 gpa 0x(feb02[0-9a-f]{3}) val 0x([0-9a-f]+)/.exec(l);
    if (!m) continue;
    const gpa = parseInt(m[1]!, 16);
    const base = gpa - (gpa % 0x200);
    const v = parseInt(m[2]!, 16);
    if ((gpa & 0x1ff) === 0x24) sel.set(base, v);
    if ((gpa & 0x1ff) === 0x70 && v === 0) acc.set(base, 0n); // a reset: a new negotiation
    if ((gpa & 0x1ff) === 0x20) {
      const shift = BigInt(32 * (sel.get(base) ?? 0));
      acc.set(base, ((acc.get(base) ?? 0n) & ~(0xffffffffn << shift)) | (BigInt(v) << shift));
    }
  }
  return acc;
}

async function devicesOf(files: string[]) {
  const r = await run({ files });
  return { r, devices: r.platform.allDevices() };
}

describe('detection', () => {
  it('reads a host KVM trace as host-kvm, and a guest ftrace still as ftrace', async () => {
    expect((await detectFormat(kvm(Q35))).name).toBe('host-kvm');
    expect((await detectFormat(kvm(MICROVM))).name).toBe('host-kvm');
    expect((await detectFormat(real('guest-ftrace/microvm-modern.guest-ftrace.txt.gz'))).name).toBe('ftrace');
  });
});

describe('KVM trace alone: devices from addresses', () => {
  it('microvm: the four virtio-mmio windows by their MagicValue reads, types seen from DeviceID', async () => {
    const { devices } = await devicesOf([kvm(MICROVM)]);
    // "mmio read len 4 gpa 0xfeb02e08 val 0x2" etc.: DeviceID 2 blk, 1 net, 4 rng, 3 console
    const ls = lines(kvm(MICROVM));
    const ids = Object.fromEntries(['e', 'c', 'a', '8'].map((s) => [`mmio@0xfeb02${s}00`, Number(/val (0x[0-9a-f]+)/.exec(ls.find((l) => l.includes(`mmio read len 4 gpa 0xfeb02${s}08 `))!)![1])]));
    expect(ids).toEqual({ 'mmio@0xfeb02e00': 2, 'mmio@0xfeb02c00': 1, 'mmio@0xfeb02a00': 4, 'mmio@0xfeb02800': 3 });
    const t = Object.fromEntries(devices.map((d) => [d.id, `${d.type()?.name}/${d.type()?.how}/${d.transport}/v${d.mmio?.version}`]));
    expect(t).toEqual({
      'mmio@0xfeb02e00': 'blk/seen/mmio/v2', 'mmio@0xfeb02c00': 'net/seen/mmio/v2', 'mmio@0xfeb02a00': 'rng/seen/mmio/v2', 'mmio@0xfeb02800': 'console/seen/mmio/v2',
    });
  });

  it('q35: virtio-pci functions from configuration cycles, types from the PCI device id', async () => {
    const { devices } = await devicesOf([kvm(Q35)]);
    // QEMU's transitional ids: 0x1001 blk at 00:02.0, 0x1000 net, 0x1005 rng, 0x1003 console (the
    // "pio_read at 0xcfc size 4 ... val 0x10011af4" after "pio_write at 0xcf8 ... val 0x80001000")
    const t = Object.fromEntries(devices.map((d) => [d.id, `${d.type()?.name}/${d.type()?.how}/${d.transport}`]));
    expect(t).toEqual({ 'pci@00:02.0': 'blk/seen/pci', 'pci@00:03.0': 'net/seen/pci', 'pci@00:04.0': 'rng/seen/pci', 'pci@00:05.0': 'console/seen/pci' });
    // the modern BAR at 0xfe000000 (blk) came from SeaBIOS's programming through ECAM, so SeaBIOS's
    // own session (status 0 -> 3 -> 0xb -> 0xf at 1795985351.54) is there before Linux's
    const blk = devices.find((d) => d.id === 'pci@00:02.0')!;
    const statusLines = lines(kvm(Q35)).filter((l) => l.includes('mmio write len 1 gpa 0xfe000014 '));
    expect(statusLines.map((l) => /val (0x[0-9a-f]+)/.exec(l)![1])).toEqual(['0x0', '0x3', '0xb', '0xf', '0x0', '0x1', '0x3', '0xb', '0xf']);
    expect(blk.status.sessions.map((s) => s.writes.map((w) => w.value).join(','))).toEqual(['3,11,15', '1,3,11,15']);
  });

  it('q35: the features the driver negotiated through virtio-pci are those it negotiated on virtio-mmio with the same devices', async () => {
    const { devices } = await devicesOf([kvm(Q35)]);
    const { devices: mmioDevices } = await devicesOf([kvm(MICROVM)]);
    const mmio = mmioAcceptedFromLines(kvm(MICROVM));
    const mmioByType: Record<string, bigint> = { blk: mmio.get(0xfeb02e00)!, net: mmio.get(0xfeb02c00)!, rng: mmio.get(0xfeb02a00)!, console: mmio.get(0xfeb02800)! };
    for (const d of devices) {
      const linux = d.status.sessions.at(-1)!.accepted()!.bits;
      const type = d.type()!.name;
      // device-specific bits 0..23 and VERSION_1 agree; Linux 6.1 takes VIRTIO_F_RING_RESET (bit 40)
      // on virtio-pci only (its virtio-mmio driver has no queue reset)
      expect(linux & 0xffffffn, type).toBe(mmioByType[type]! & 0xffffffn);
      expect(linux & ~(1n << 40n), type).toBe(mmioByType[type]!);
      // and the device offered the same words on both transports (device_feature / DeviceFeatures reads)
      const twin = mmioDevices.find((x) => x.type()?.name === type)!;
      expect(d.status.sessions.at(-1)!.offered!.bits, type).toBe(twin.status.sessions.at(-1)!.offered!.bits);
    }
  });

  it('check: negotiation judged from register values, every ring rule NOT-OBSERVED with its reason', async () => {
    const r = await reportOf([kvm(Q35)]);
    // blk offered 0x30006e54 (device_feature read "gpa 0xfe000004 val 0x30006e54"): FLUSH 9, CONFIG_WCE 11, DISCARD 13, WRITE_ZEROES 14
    for (const id of ['AVPS-v2.0-5', 'AVPS-v2.0-6', 'AVPS-v2.0-7', 'AVPS-v2.0-7b']) expect(verdict(r, id, 'blk'), id).toEqual(['PASS']);
    // the evidence is the read of the word that holds the bit (word 0, after device_feature_select 0)
    expect(r.findings.find((f) => f.rule === 'AVPS-v2.0-5')!.evidence[0]!.raw).toMatch(/mmio read len 4 gpa 0xfe000004 val 0x30006e54$/);
    // net offered 0x30bf802c: MTU 3, MAC 5, CTRL_MAC_ADDR 23
    for (const id of ['AVPS-v2.0-10', 'AVPS-v2.0-11', 'AVPS-v2.0-12', 'AVPS-v2.0-13']) expect(verdict(r, id, 'net'), id).toEqual(['PASS']);
    // the driver's doorbells are trapped: its notifications are judged; the device's use of the rings is not in the trace
    for (const id of ['virtio.init-order', 'virtio.features-before-features-ok', 'virtio.version-1', 'virtio.notify-after-driver-ok']) {
      expect(verdict(r, id), id).toEqual(['PASS', 'PASS', 'PASS', 'PASS']);
    }
    const ring = r.findings.filter((f) => f.rule === 'virtio.vq.completed-once' || f.rule === 'virtio.live-after-driver-ok');
    expect(ring.length).toBe(8);
    // -4 rolls up the block device's statements: those a KVM trace shows are judged, the ring ones named as unobservable
    const avps4 = r.findings.find((f) => f.rule === 'AVPS-v2.0-4')!;
    expect(avps4.verdict).toBe('PASS');
    expect(avps4.message).toMatch(/not observable: .*virtio\.vq\.completed-once/);
    for (const f of ring) {
      expect(f.verdict).toBe('NOT-OBSERVED');
      expect(f.message).toMatch(/rings are not in a host KVM trace/);
    }
    expect(r.summary.fail).toBe(0);
  });

  it('virtio-mmio register values are judged: a Version or QueueReady a device must not return fails', async () => {
    const ok = await reportOf([kvm(MICROVM)]);
    expect(verdict(ok, 'virtio-mmio.device-registers')).toEqual(['PASS', 'PASS', 'PASS', 'PASS']);
    expect(verdict(await reportOf([qemu(MICROVM)]), 'virtio-mmio.device-registers')).toEqual([]); // QEMU's log has no read values
    const ls = lines(kvm(MICROVM));
    const version = lineOf(ls, /mmio read len 4 gpa 0xfeb02e04 val 0x2$/);
    // after the reset, a QueueReady read of the net device (0xfeb02c44) before the driver set it
    const ready = lineOf(ls, /mmio read len 4 gpa 0xfeb02c44 val 0x0$/);
    const edited = ls.map((l, i) => (i === version - 1 ? l.replace(/val 0x2$/, 'val 0x1') : i === ready - 1 ? l.replace(/val 0x0$/, 'val 0x1') : l));
    const r = await reportOf([writeTrace(tempDir(), 'edited.kvm.trace.gz', edited)]);
    const f = Object.fromEntries(r.findings.filter((x) => x.rule === 'virtio-mmio.device-registers').map((x) => [x.dev_type, x]));
    expect(f.blk!.verdict).toBe('FAIL');
    expect(f.blk!.message).toMatch(/Version reads 0x1, not 0x2 \(a legacy device/);
    expect(f.blk!.evidence[0]!.line).toBe(version);
    expect(f.net!.verdict).toBe('FAIL');
    expect(f.net!.message).toMatch(/QueueReady of queue \d+ reads 0x1 after the reset/);
    expect(f.rng!.verdict).toBe('PASS');
  });

  it('a trapped read is one event with the value the VMM returned, and its exit-to-resume time', async () => {
    const ls = lines(kvm(MICROVM));
    const unsat = lineOf(ls, /mmio unsatisfied-read len 4 gpa 0xfeb02e00 /);
    const read = lineOf(ls, /mmio read len 4 gpa 0xfeb02e00 val 0x74726976/);
    const sec = (l: string) => Number(/ (\d+\.\d+): /.exec(l)![1]);
    const got: Event[] = [];
    await run({ files: [kvm(MICROVM)], onEvents: (b) => void got.push(...b.filter((e) => e.src?.line === unsat || e.src?.line === read)) });
    expect(got.map((e) => e.kind)).toEqual(['mmio.read', 'kvm.exit']);
    expect(got[0]).toMatchObject({ dev: 'mmio@0xfeb02e00', offset: 0, size: 4, value: 0x74726976 });
    expect((got[1] as Extract<Event, { kind: 'kvm.exit' }>).dur_ns).toBeCloseTo((sec(ls[read - 1]!) - sec(ls[unsat - 1]!)) * 1e9, -3);
  });
});

describe('one run, both views: the KVM trace joined with QEMU\'s log', () => {
  it('measures the clock offset and maps each device from status writes and their echoes', async () => {
    const { r } = await devicesOf([kvm(Q35), qemu(Q35)]);
    const j = r.kvmJoins[0]!;
    expect(j.available).toBe(true);
    // "mmio write len 1 gpa 0xfe000014 val 0x3" at 1795985351.543018, echoed by
    // "virtio_set_status vdev 0x55fae3d39cc0 val 3" at .543022: the echo follows within microseconds
    expect(j.offsetNs).toBeGreaterThanOrEqual(0);
    expect(j.offsetNs).toBeLessThanOrEqual(4000);
    expect(j.deviceMap.find((m) => m.kvm === 'pci@00:02.0')?.vmm).toBe('0x55fae3d39cc0');
    expect(j.deviceMap).toHaveLength(4);
  });

  for (const v of [MICROVM, Q35]) {
    it(`${v}: the joined run gives the ring figures of QEMU's log alone, and q35's features are judged`, async () => {
      const spansOf = async (files: string[]) => {
        const s: Span[] = [];
        await run({ files, onSpan: (x) => s.push(x) });
        return s.map(({ file: _f, ...x }) => x).sort((a, b) => a.t_pop - b.t_pop || a.elem.localeCompare(b.elem));
      };
      const alone = await spansOf([qemu(v)]);
      expect(alone.length).toBeGreaterThan(20);
      expect(await spansOf([kvm(v), qemu(v)])).toEqual(alone);

      const joined = await reportOf([kvm(v), qemu(v)]);
      const before = await reportOf([qemu(v)]);
      for (const id of ['AVPS-v2.0-5', 'AVPS-v2.0-11', 'AVPS-v2.0-13']) {
        expect(verdict(joined, id), id).toEqual(['PASS']);
        // QEMU 7.2 logs no feature words for virtio-pci, and no virtio-net event (microvm's net type is only
        // guessed from its queues, so no net requirement is judged on QEMU's log alone); KVM reads both
        expect(verdict(before, id), id).toEqual(v === Q35 || id !== 'AVPS-v2.0-5' ? ['NOT-OBSERVED'] : ['PASS']);
      }
      // QEMU completes chains on every device: the ring rules are judged again
      expect(verdict(joined, 'virtio.vq.completed-once')).toEqual(['PASS', 'PASS', 'PASS', 'PASS']);
      expect(verdict(joined, 'host-kvm.status-echoed')).toEqual(['PASS', 'PASS', 'PASS', 'PASS']);
      expect(joined.summary.fail).toBe(0);
    });
  }

  it('a status QEMU reports that no trapped write carried is a disagreement', async () => {
    // drop Linux's DRIVER_OK write to the block device: QEMU still echoes "val 15"
    const ls = lines(kvm(Q35));
    const at = lineOf(ls, /mmio write len 1 gpa 0xfe000014 val 0xf/, lineOf(ls, /mmio write len 1 gpa 0xfe000014 val 0x1$/));
    const edited = writeTrace(tempDir(), `${Q35}.kvm.trace.gz`, ls.filter((_, i) => i !== at - 1));
    const r = await reportOf([edited, qemu(Q35)], { vms: [Q35, Q35] });
    const f = r.findings.filter((x) => x.rule === 'host-kvm.status-echoed' && x.verdict === 'FAIL');
    expect(f).toHaveLength(1);
    expect(f[0]!.dev_type).toBe('blk');
    expect(f[0]!.evidence[0]!.raw).toMatch(/virtio_set_status vdev 0x55fae3d39cc0 val 15/);
  });
});

describe('latency from the host kernel\'s side', () => {
  const sec = (l: string) => Number(/ (\d+\.\d+): /.exec(l)![1]);
  async function samples(files: string[], where: string): Promise<Record<string, unknown>[]> {
    const r = await ingest({ files, db: ':memory:' });
    try {
      return await queryRows(r.store.conn, `SELECT * FROM kvm_samples WHERE ${where} ORDER BY ts`);
    } finally {
      r.store.close();
    }
  }

  it('q35: doorbell -> interrupt on virtio-net\'s transmit queue, through its MSI-X vector', async () => {
    // queue_select 1 ("gpa 0xfe004016 val 0x1"), queue_msix_vector 2 ("gpa 0xfe00401a"), MSI-X entry 2's
    // data 0x29 ("write len 4 gpa 0xfebd2028 val 0x29"): queue 1 interrupts on vector 41; its notify
    // address is 0xfe007004 (notify at BAR + 0x3000, queue_notify_off 1 x multiplier 4)
    const ls = lines(kvm(Q35));
    const expected: number[] = [];
    for (let i = 0; i < ls.length; i++) {
      if (!ls[i]!.includes('mmio write len 2 gpa 0xfe007004 val 0x1')) continue;
      const irq = ls.slice(i + 1).find((l) => l.includes('kvm_msi_set_irq: dst 1 vec 41 '))!;
      expected.push(Math.round((sec(irq) - sec(ls[i]!)) * 1e6));
    }
    expect(expected.length).toBe(5);
    const got = await samples([kvm(Q35)], "kind = 'doorbell' AND dev = 'pci@00:03.0' AND what = '1'");
    expect(got.map((r) => Math.round(Number(r.dur_ns) / 1e3))).toEqual(expected);
  });

  it('microvm: interrupt injection from the raised line to the LAPIC accepting its vector', async () => {
    // blk's line is the kvm_set_irq raise before its first InterruptStatus read (0xfeb02e60): from then
    // on each raise of that line is blk's (the first one came before the guest's read told whose it is);
    // QEMU's userspace IOAPIC turns it into kvm_msi_set_irq vec V, then kvm_apic_accept_irq vec V
    const ls = lines(kvm(MICROVM));
    const isr = lineOf(ls, /mmio read len 4 gpa 0xfeb02e60 val 0x1/);
    const gsi = /gsi (\d+)/.exec(ls.slice(0, isr).findLast((l) => / kvm_set_irq: gsi \d+ level 1/.test(l))!)![1];
    const expected: { vec: string; us: number }[] = [];
    for (let i = isr; i < ls.length; i++) {
      if (!ls[i]!.includes(`kvm_set_irq: gsi ${gsi} level 1`)) continue;
      const vec = /vec (\d+)/.exec(ls.slice(i).find((l) => l.includes('kvm_msi_set_irq'))!)![1]!;
      const accept = ls.slice(i).find((l) => l.includes(`kvm_apic_accept_irq: apicid 0 vec ${vec} `))!;
      expected.push({ vec, us: Math.round((sec(accept) - sec(ls[i]!)) * 1e6) });
    }
    expect(expected.length).toBeGreaterThan(0);
    const got = await samples([kvm(MICROVM)], "kind = 'inject' AND dev = 'mmio@0xfeb02e00'");
    expect(got.map((r) => ({ vec: r.what, us: Math.round(Number(r.dur_ns) / 1e3) }))).toEqual(expected);
  });

  it('the joined run keeps the KVM figures, on the VMM\'s device names', async () => {
    const alone = await samples([kvm(Q35)], "kind = 'access'");
    const joined = await samples([kvm(Q35), qemu(Q35)], "kind = 'access'");
    expect(joined.map((r) => r.dur_ns)).toEqual(alone.map((r) => r.dur_ns));
    expect(new Set(joined.map((r) => r.dev))).toEqual(new Set(['0x55fae3d39cc0', '0x55fae3e5ba20', '0x55fae3f84b60', '0x55fae40a0c00']));
  });
});

describe('a device map given by the user, for a trace that begins after the probe', () => {
  it('finds nothing without it, and the four windows with a JSON map', async () => {
    const ls = lines(kvm(MICROVM));
    // cut everything up to the last probe read (MagicValue of 0xfeb02800): no window can be found by its probe
    const cut = lineOf(ls, /mmio read len 4 gpa 0xfeb02800 val 0x74726976/);
    const dir = tempDir();
    const trace = writeTrace(dir, 'late.kvm.trace.gz', ls.slice(cut + 20));
    expect((await devicesOf([trace])).devices).toHaveLength(0);
    const map = join(dir, 'map.json');
    writeFileSync(map, JSON.stringify({ virtio_mmio: [
      { base: '0xfeb02e00', type: 2 }, { base: '0xfeb02c00', type: 1 }, { base: '0xfeb02a00', type: 4 }, { base: '0xfeb02800', size: '0x200', type: 3 },
    ] }));
    const r = await reportOf([trace], { deviceMap: map });
    expect(r.devices.map((d) => `${d.dev}/${d.type}`).sort()).toEqual(['mmio@0xfeb02800/console', 'mmio@0xfeb02a00/rng', 'mmio@0xfeb02c00/net', 'mmio@0xfeb02e00/blk']);
    // the negotiation came after the probe: still judged from the register values
    expect(verdict(r, 'AVPS-v2.0-5', 'blk')).toEqual(['PASS']);
    expect(verdict(r, 'AVPS-v2.0-12', 'net')).toEqual(['PASS']);
  });

  it("reads a device tree blob's virtio,mmio nodes (QEMU arm64 virt: 32 windows of 0x200 from 0x0a000000)", () => {
    const m = readDeviceMap(real('qemu-7.2/arm64-virt.dtb.gz'));
    expect(m).toHaveLength(32);
    expect(m.map((d) => d.base)).toEqual(Array.from({ length: 32 }, (_, i) => 0x0a000000 + 0x200 * i));
    expect(m.every((d) => d.size === 0x200)).toBe(true);
  });

  it('a bad map is an error naming the file', () => {
    const p = join(tempDir(), 'bad.json');
    writeFileSync(p, JSON.stringify({ virtio_mmio: [{ base: 'feb02e00' }] }));
    expect(() => readDeviceMap(p)).toThrow(/virtio_mmio.0.base: expected a number or hex text/);
  });
});

describe('line formats', () => {
  /** the real microvm run's lines, as `record-tgid` prints them: "comm-pid (tgid) [cpu] ..." */
  const withTgid = (ls: string[], tgid: number) => ls.map((l) => l.replace(/^(\s*\S+-\d+)(\s+\[)/, `$1 (${tgid})$2`));

  it('several VMM processes in one host trace are several VMs', async () => {
    // the two real runs were made on one host, one after the other: one host trace of two VMMs
    const body = (f: string) => lines(f).filter((l) => !l.startsWith('#'));
    const both = [...withTgid(body(kvm(MICROVM)), 25077), ...withTgid(body(kvm(Q35)), 25312)];
    const { r } = await devicesOf([writeTrace(tempDir(), 'host.kvm.trace.gz', both)]);
    const byVm = (vm: string) => r.platform.allDevices().filter((d) => d.vm === vm).map((d) => `${d.id}/${d.type()?.name}`).sort();
    expect([...r.platform.vms.keys()].sort()).toEqual(['host/qemu-system-x86-25077', 'host/qemu-system-x86-25312']);
    expect(byVm('host/qemu-system-x86-25077')).toEqual(['mmio@0xfeb02800/console', 'mmio@0xfeb02a00/rng', 'mmio@0xfeb02c00/net', 'mmio@0xfeb02e00/blk']);
    expect(byVm('host/qemu-system-x86-25312')).toEqual(['pci@00:02.0/blk', 'pci@00:03.0/net', 'pci@00:04.0/rng', 'pci@00:05.0/console']);
  });

  it("reads trace-cmd report's layout (no flags column, padded event names) as tracefs'", async () => {
    const ls = lines(kvm(MICROVM)).filter((l) => !l.startsWith('#'));
    const report = ['version = 6', 'cpus=2', ...ls.map((l) => l.replace(/\] \S{5} (\d+\.\d+): (\w+): /, (_, t: string, e: string) => `] ${t}: ${`${e}:`.padEnd(21)} `))];
    expect(report.find((l) => l.includes('kvm_mmio'))).toMatch(/^\s*qemu-system-x86-\d+\s+\[\d+\] \d+\.\d+: kvm_mmio: +mmio /);
    const kinds = async (f: string) => {
      const out: string[] = [];
      await run({ files: [f], onEvents: (b) => void out.push(...b.map((e) => `${e.kind}:${e.dev ?? ''}:${e.ts}`)) });
      return out;
    };
    expect(await kinds(writeTrace(tempDir(), 'report.txt', report))).toEqual(await kinds(kvm(MICROVM)));
  });

  it('VMX/SVM and arm64 lines (none in the PVM captures): write cost up to kvm_entry, SMCCC calls', async () => {
    // kernel formats: kvm_entry "vcpu %u, rip 0x%lx"; kvm_hvc_arm64 "HVC at 0x%08lx (r0: 0x%08lx, imm: 0x%lx)"
    const ls = [
      ' qemu-system-x86-100   [000] ..... 100.000100: kvm_mmio: mmio read len 4 gpa 0xfeb02e00 val 0x74726976',
      ' qemu-system-x86-100   [000] ..... 100.000200: kvm_exit: vcpu 0 reason EPT_MISCONFIG rip 0xffffffff81000000 info1 0x0 info2 0x0',
      ' qemu-system-x86-100   [000] ..... 100.000210: kvm_mmio: mmio write len 4 gpa 0xfeb02e70 val 0x0',
      ' qemu-system-x86-100   [000] ..... 100.000215: kvm_userspace_exit: reason KVM_EXIT_MMIO (6)',
      ' qemu-system-x86-100   [000] ..... 100.000250: kvm_entry: vcpu 0, rip 0xffffffff81000004',
      ' qemu-system-aar-200   [001] ..... 100.000300: kvm_hvc_arm64: HVC at 0xffff80000800a5c8 (r0: 0x84000008, imm: 0x0)',
    ];
    const got: Event[] = [];
    await run({ files: [writeTrace(tempDir(), 'vmx.kvm.trace', ls)], onEvents: (b) => void got.push(...b.filter((e) => e.kind === 'kvm.exit')) });
    expect(got.map((e) => ({ ...e, src: undefined, vm: undefined }))).toEqual([
      { kind: 'kvm.exit', dev: 'mmio@0xfeb02e00', reason: 'mmio', dur_ns: 40_000, reg: 'Status', ts: 250_000, src: undefined, vm: undefined },
      { kind: 'kvm.exit', reason: 'hypercall', fn: 0x84000008, ts: 300_000, src: undefined, vm: undefined },
    ]);
  });
});

describe('the command line', () => {
  it('perf kvm prints the join and the three latency tables; check on a bad device map exits 2 naming the file', () => {
    const bin = join(import.meta.dirname, '..', 'bin', 'avpscope.js');
    const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: tempDir() });
    const r = cli('perf', 'kvm', kvm(Q35), qemu(Q35), '--no-db');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^joined .*qemu-q35-pci\.kvm\.trace\.gz with .*qemu-q35-pci\.qemu\.trace\.gz: VMM clock = KVM clock \+ 3\.00 µs, from 24 status write\/echo pairs/m);
    expect(r.stdout).toContain('pci@00:02.0 = 0x55fae3d39cc0');
    for (const t of ['Trapped register accesses', 'Doorbell → interrupt per queue', 'Interrupt injection']) expect(r.stdout).toContain(t);
    const map = join(tempDir(), 'map.json');
    writeFileSync(map, '{"virtio_mmio": 3}');
    const bad = cli('check', kvm(MICROVM), '--no-db', '--device-map', map);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/map\.json: device map: virtio_mmio: /);
    expect(bad.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe('the README verdict rows of the KVM runs, by whose duty', () => {
  const count = (r: Awaited<ReturnType<typeof reportOf>>) => {
    const by = (t: string) => ['PASS', 'FAIL', 'NOT-OBSERVED', 'NOT-APPLICABLE'].map((v) => r.findings.filter((f) => f.target === t && f.verdict === v).length);
    return { device: by('device'), platform: by('platform'), driver: by('driver') };
  };
  it.each([
    // alone: the device's ring statements NOT-OBSERVED with the reason (each device's, plus blk status, rng
    // answers, console ports); IN_ORDER and blk RO not negotiated (5 NOT-APPLICABLE); reset-quiet needs a
    // reset after the device was live (microvm: none; q35: blk only). Platform: the -4/-41/-46 roll-ups judge
    // what the registers show; the feature ids PASS from the words read. Driver: every doorbell after DRIVER_OK.
    ['microvm-mmio, KVM alone', [kvm(MICROVM)], { device: [13, 0, 35, 5], platform: [12, 0, 31, 8], driver: [20, 0, 4, 0] }],
    ['q35-pci, KVM alone', [kvm(Q35)], { device: [6, 0, 30, 5], platform: [12, 0, 31, 8], driver: [12, 0, 4, 0] }],
    // joined: QEMU's rings judge the ring statements again; host-kvm.status-echoed adds 4 platform PASS
    ['q35-pci, both joined', [kvm(Q35), qemu(Q35)], { device: [33, 0, 3, 5], platform: [17, 0, 30, 8], driver: [16, 0, 0, 0] }],
  ] as const)('%s', async (_name, files, expected) => {
    expect(count(await reportOf([...files]))).toEqual(expected);
  });
});
