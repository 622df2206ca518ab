/**
 * What the model knows and how (issue 7, items 3, 5, 7): device types seen or guessed, QEMU's own
 * status writes told from the driver's, logs pasted with other programs' lines, excerpts that begin
 * mid-run. Expectations come from reading the traces' lines, named in the comments.
 */
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/ingest/errors.ts';
import { run } from '../src/pipeline.ts';
import { MICROVM_MODERN, Q35_PCI, lineOf, lines, real, reportOf, tempDir, vdevOf, writeTrace } from './helpers.ts';

const devicesOf = async (file: string) => (await run({ files: [file] })).platform;

describe('device types: seen when a line names them, guessed only from queue shapes', () => {
  it('virtio-scsi: virtio_scsi_cmd_req names no device but follows the chain it serves', async () => {
    // microvm-scsi: 299 cmd_req lines, each right after a pop on the request queue; the chain has the
    // shape of a block request (header out, status in), which alone would say blk
    const p = await devicesOf(real('qemu-7.2-scenarios/microvm-scsi.trace.gz'));
    const [d] = p.allDevices();
    expect(d!.type()).toMatchObject({ name: 'scsi', how: 'seen', basis: 'event', attributed: true });
    const r = await reportOf([real('qemu-7.2-scenarios/microvm-scsi.trace.gz')]);
    // no block device in this VM: AVPS-v2.0-4 has nothing to judge, rather than a SCSI controller
    expect(r.findings.find((f) => f.rule === 'AVPS-v2.0-4')).toMatchObject({ verdict: 'NOT-OBSERVED', dev: null });
  });

  it('virtio-balloon seen; the keyboard and tablet look like entropy devices, and no entropy verdict rests on them', async () => {
    const file = real('qemu-7.2-scenarios/microvm-balloon-input.trace.gz');
    const p = await devicesOf(file);
    const types = p.allDevices().map((d) => `${d.type()?.name}/${d.type()?.basis}`).sort();
    // virtio_balloon_handle_output follows the pops of the inflate/deflate queues; QEMU 7.2 logs no
    // virtio-input event on delivery, so the two input devices show only their writable-only queue
    expect(types).toEqual(['balloon/event', 'rng/queue-shapes', 'rng/queue-shapes']);
    const r = await reportOf([file]);
    const f40 = r.findings.find((f) => f.rule === 'AVPS-v2.0-40')!;
    expect(f40.verdict).toBe('NOT-OBSERVED');
    expect(f40.evidence).toEqual([]);
  });

  it('virtio-gpu on PCI: virtio_gpu_features during setup names the type; virtio_pci_notify_write is the modern interface', async () => {
    const file = real('gpu-multi/rear.trace.gz');
    const p = await devicesOf(file);
    const [d] = p.allDevices();
    expect(d!.type()?.name).toBe('gpu');
    expect(d!.claims.some((c) => c.basis === 'event' && /virtio-gpu/.test(c.why))).toBe(true);
    // '26887@...:virtio_pci_notify_write 0x0 = 0x0 (2)' then 'virtio_queue_notify vdev ... n 0'
    expect(d!.modernNotify?.src?.line).toBe(lineOf(lines(file), /virtio_pci_notify_write/));
    expect(d!.isModern()).toBe(true);
    const r = await reportOf([file]);
    expect(r.findings.find((f) => f.rule === 'virtio.version-1')).toMatchObject({ verdict: 'PASS' });
  });

  it("virtio-sound: QEMU's get_features is the device's offered word, logged at realize before any status", async () => {
    const file = real('qemu-10.0-sound/chmaps-probe-fail.trace.gz');
    const [d] = (await devicesOf(file)).allDevices();
    // line 2: 'virtio_snd_get_features snd 0x55742cfba2a0: get_features 0x10179000000' (bit 32 set)
    expect(d!.offered?.bits.toString(16)).toBe('10179000000');
    expect(d!.offered?.ref.src?.line).toBe(2);
    const r = await reportOf([file]);
    expect(r.findings.find((f) => f.rule === 'virtio.version-1')).toMatchObject({ verdict: 'PASS' });
  });
});

describe("QEMU's own status writes", () => {
  it('microvm-modern: the main thread (9908) resets every device and stops the VM; the driver (9910) resets each itself', async () => {
    const ls = lines(MICROVM_MODERN);
    const blk = vdevOf(ls, /virtio_blk_handle_write/);
    const d = (await devicesOf(MICROVM_MODERN)).device('microvm-modern', blk);
    const [first, second] = d.status.sessions;
    // line 4 '9908@...:virtio_set_status vdev <blk> val 0' (machine reset, no register write behind it);
    // line 24 'offset 0x70 value 0x0' by 9910, echoed at lines 25 and 26: the driver's reset
    expect(ls[3]).toMatch(new RegExp(`^9908@.*virtio_set_status vdev ${blk} val 0$`));
    expect(first!.hostReset?.src?.line).toBe(4);
    expect(first!.reset?.src?.line).toBe(26);
    expect(ls[23]).toMatch(/^9910@.*offset 0x70 value 0x0$/);
    // at the end, the driver's shutdown reset (9910), then QEMU's VM stop (9908, val 0 again)
    expect(second!.reset?.src?.line).toBe(lineOf(ls, new RegExp(`^9910@.*virtio_set_status vdev ${blk} val 0$`), 5000) + 1);
    expect(second!.hostReset?.src?.line).toBe(lineOf(ls, new RegExp(`^9908@.*virtio_set_status vdev ${blk} val 0$`), 5000));
  });

  it('without the driver reset the session starts from QEMU\'s reset only: no driver reset to cite', async () => {
    const ls = lines(MICROVM_MODERN);
    const blk = vdevOf(ls, /virtio_blk_handle_write/);
    // drop the driver's Status=0 write and its two echoes (lines 24-26)
    const e = ls.filter((_, i) => i < 23 || i > 25);
    const d = (await devicesOf(writeTrace(tempDir(), 'no-driver-reset.trace', e))).device('no-driver-reset', blk);
    expect(d.status.sessions[0]!.reset).toBeUndefined();
    expect(d.status.sessions[0]!.hostReset?.src?.line).toBe(4);
    expect(d.status.sessions[0]!.opened).toBe(true);
  });

  it('q35-pci: the first line\'s thread repeats no new value; the vCPU thread sets 3, 11, 15', async () => {
    const ls = lines(Q35_PCI);
    const p = await devicesOf(Q35_PCI);
    const main = ls[0]!.split('@')[0]!;
    const hostLines = new Set(p.allDevices().flatMap((d) => d.status.sessions.flatMap((s) => (s.hostReset?.src ? [s.hostReset.src.line] : []))));
    for (const l of hostLines) expect(ls[l - 1]!.startsWith(`${main}@`)).toBe(true);
    // the driver's writes (every non-zero value) are on the other thread
    const driverWrites = p.allDevices().flatMap((d) => d.status.sessions.flatMap((s) => s.writes.map((w) => w.ref.src!.line)));
    expect(driverWrites.length).toBeGreaterThan(0);
    for (const l of driverWrites) expect(ls[l - 1]!.startsWith(`${main}@`)).toBe(false);
  });

  it('chmaps-probe-fail: the VM stop re-asserts FAILED (val 128) from the main thread: not a driver write', async () => {
    const [d] = (await devicesOf(real('qemu-10.0-sound/chmaps-probe-fail.trace.gz'))).allDevices();
    expect(d!.status.hostWrites).toBe(1);
    expect(d!.status.sessions.at(-1)!.writes.map((w) => w.value)).toEqual([128]);
  });
});

describe('a QEMU log pasted from a bug report', () => {
  const ls = lines(MICROVM_MODERN);
  const blk = vdevOf(ls, /virtio_blk_handle_write/);
  // lines 2009..2600 of the real trace: it begins right after a pop, so its first fill completes a chain
  // taken before the excerpt
  const excerpt = ls.slice(2008, 2600);
  const foreign = ['[I 0.000000] OPENED', 'libusb: error [udev_hotplug_event] ignoring udev action bind', '[R +0.020375] writel 0xfeb00070 0x0', 'OK', '[S +0.020412] OK'];
  const paste = [foreign[0]!, foreign[1]!, ...excerpt.slice(0, 300), foreign[2]!, foreign[3]!, foreign[4]!, ...excerpt.slice(300)];

  it('is read: the other programs\' lines are counted as foreign and skipped, nothing is malformed', async () => {
    const file = writeTrace(tempDir(), 'paste.log', paste);
    const r = await reportOf([file]);
    const st = (n: string) => r.stats.find((s) => s.name === n);
    expect(st('line.foreign')).toMatchObject({ severity: 'info', count: 5 });
    expect(st('line.foreign')!.samples.map((s) => s.line)).toEqual([1, 2, 303, 304, 305]);
    expect(st('line.malformed')).toBeUndefined();
    // the block device appears (virtio_blk_* name it), and its queue rules are judged
    expect(r.devices.map((d) => d.dev)).toContain(blk);
    const f = (rule: string) => r.findings.find((x) => x.rule === rule && x.dev === blk)!;
    expect(f('virtio.vq.completed-once').verdict).toBe('PASS');
    // the first fill answers a pop before the excerpt: no device fault when the trace shows no reset
    expect(excerpt[0]).toMatch(/virtio_blk_rw_complete|virtio_blk_req_complete|virtqueue_fill/);
    expect(f('virtio.vq.no-completion-without-request').verdict).toBe('PASS');
    expect(f('virtio.vq.used-not-more-than-taken').verdict).toBe('PASS');
  });

  it('a device seen only through notify, pop, fill and flush lines is in the report, its queues judged', async () => {
    // lines 5035..5060: the net device's control and transmit queues (kicked: 'virtio_queue_notify vdev <net> n 1/2')
    const net = ls.slice(5034, 5060);
    expect(net.some((l) => /virtio_blk|virtio_rng|virtio_serial/.test(l))).toBe(false);
    const netDev = vdevOf(net, /virtio_queue_notify/);
    const r = await reportOf([writeTrace(tempDir(), 'net-excerpt.log', ['libusb: error [op_open] libusb couldn\'t open USB device', ...net])]);
    expect(r.devices.map((d) => d.dev)).toContain(netDev);
    expect(r.findings.find((x) => x.rule === 'virtio.vq.completed-once' && x.dev === netDev)!.verdict).toBe('PASS');
  });

  it('is refused when no line is QEMU\'s, naming the file', async () => {
    const file = writeTrace(tempDir(), 'only-foreign.log', foreign);
    const sniffed = await reportOf([file]).catch((e: unknown) => e);
    expect(sniffed).toBeInstanceOf(InputError);
    expect((sniffed as InputError).describe()).toMatch(/only-foreign\.log:1: not a trace avpscope can read/);
    // read as a QEMU log on request: every line is another program's
    const forced = await reportOf([file], { format: 'qemu-log' }).catch((e: unknown) => e);
    expect((forced as InputError).describe()).toMatch(/only-foreign\.log:1: no line of this file is a QEMU trace event/);
  });

  it('an emulated NIC in the log is a VM fact, not a virtio device', async () => {
    const nic = '9908@1795565282.450020:e1000x_rx_link_down Received packet dropped because the link is down STATUS = 0';
    const p = await devicesOf(writeTrace(tempDir(), 'e1000.trace', [ls[0]!, nic, ...ls.slice(1, 200)]));
    const vm = [...p.vms.values()][0]!;
    expect([...vm.nonVirtio.values()]).toEqual([{ name: 'e1000', class: 'network', first: expect.objectContaining({ src: expect.objectContaining({ line: 2 }) }) }]);
    expect(p.allDevices().some((d) => d.id === 'e1000')).toBe(false);
  });
});
