/**
 * Every rule of the catalogue on real traces: a PASS, a FAIL made by editing a real trace (or a
 * real trace that fails), and a NOT-OBSERVED where the trace cannot show the rule's input. The
 * edits are the smallest that break one statement; the comments say what each one does.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Report } from '../src/api/report.ts';
import { CATALOGUE } from '../src/checks/catalogue.ts';
import { defineRule } from '../src/checks/rule.ts';
import { PASS_WITHOUT_EVIDENCE, runChecks } from '../src/checks/runner.ts';
import { ingest } from '../src/api/ingest.ts';
import { MICROVM_LEGACY, MICROVM_MODERN, Q35_PCI, lineOf, lines, real, reportOf, tempDir, vdevOf, writeTrace } from './helpers.ts';

const SOUND_NONE = real('qemu-10.0-sound/none-duplex.trace.gz');
const ls = lines(MICROVM_MODERN);
const blk = vdevOf(ls, /virtio_blk_handle_write/);
const rng = vdevOf(ls, /virtio_rng_request/);

/** The verdicts of one rule, per device (or 'vm'). */
const of = (r: Report, rule: string) => Object.fromEntries(r.findings.filter((f) => f.rule === rule).map((f) => [f.dev ?? 'vm', f.verdict]));
const one = (r: Report, rule: string, dev?: string) => r.findings.find((f) => f.rule === rule && (dev === undefined || f.dev === dev))!;

/** microvm-modern with `edit` applied to its lines. */
async function edited(name: string, edit: (ls: string[]) => string[]): Promise<Report> {
  return reportOf([writeTrace(tempDir(), `${name}.trace`, edit([...ls]))]);
}
const replaceLine = (n: number, from: string | RegExp, to: string) => (xs: string[]) => {
  expect(xs[n - 1]).toMatch(from);
  xs[n - 1] = xs[n - 1]!.replace(from, to);
  return xs;
};

/**
 * microvm-modern as canonical JSON Lines with one line added that names the net device's type by
 * its device ID (1), as a guest's device list or a vendor's log would: QEMU 7.2 logs no event that
 * names a virtio-net device, so without it no net requirement is judged.
 */
function withNetNamed(qemuLines: string[]): string {
  const dir = tempDir();
  const src = writeTrace(dir, 'microvm-modern.trace', qemuLines);
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin', 'avpscope.js'), 'convert', src, '--to', 'jsonl'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  expect(r.status).toBe(0);
  const out = r.stdout.trim().split('\n');
  const net = JSON.parse(out.find((l) => l.includes('"kind":"status"') && !l.includes(blk) && !l.includes(rng))!).dev as string;
  out.splice(1, 0, JSON.stringify({ ts: 0, vm: 'microvm-modern', kind: 'device', dev: net, device_id: 1, name: 'virtio-net-device' }));
  return writeTrace(dir, 'microvm-modern-net-named.jsonl', out);
}

describe('every rule: PASS, FAIL and NOT-OBSERVED on real traces', async () => {
  const modern = await reportOf([MICROVM_MODERN]);
  const legacy = await reportOf([MICROVM_LEGACY]);
  const q35 = await reportOf([Q35_PCI]);
  const sound = await reportOf([SOUND_NONE]);
  // the trace cut at line 72, the block device's 'val 3' (ACKNOWLEDGE|DRIVER): every device reset
  // and acknowledged, none has reached FEATURES_OK or taken a chain
  expect(ls[71]).toMatch(new RegExp(`virtio_set_status vdev ${blk} val 3$`));
  const cut = await reportOf([writeTrace(tempDir(), 'cut.trace', ls.slice(0, 72))]);
  // cut again before the first block completion: the block device is named (virtio_blk_handle_read)
  // and has taken a request, but answered none
  const firstDone = lineOf(ls, /virtio_blk_req_complete/);
  const cutBlk = await reportOf([writeTrace(tempDir(), 'cut-blk.trace', ls.slice(0, firstDone - 1))]);

  it('no PASS without an evidence line, on any bundled trace', async () => {
    for (const r of [modern, legacy, q35, sound, cut, cutBlk]) {
      for (const f of r.findings) {
        if (f.verdict === 'PASS') expect(f.evidence.length, `${f.rule} ${f.dev}`).toBeGreaterThan(0);
        expect(f.message, `${f.rule} ${f.dev}`).not.toContain(PASS_WITHOUT_EVIDENCE);
      }
    }
  });

  it('the runner turns a PASS without evidence (a rule\'s bug) into NOT-OBSERVED', async () => {
    const careless = defineRule({
      id: 'test.careless', title: 'passes without showing why', level: 'MUST', target: 'device', area: 'test',
      source: { spec: 'VIRTIO 1.3', where: '§0', text: 'nothing' }, scope: 'device',
      evaluate: () => ({ verdict: 'PASS', message: 'fine' }),
    });
    const run = await ingest({ files: [MICROVM_MODERN], db: ':memory:' });
    try {
      const fs = runChecks(run.run.platform, { rules: [careless] });
      expect(fs.length).toBe(4);
      for (const f of fs) expect(f).toMatchObject({ verdict: 'NOT-OBSERVED', message: `fine (${PASS_WITHOUT_EVIDENCE})` });
    } finally {
      run.store.close();
    }
  });

  it('virtio.init-order (driver): in order; DRIVER and FEATURES_OK in one write; seen only as 0x1 → 0x3', async () => {
    expect(Object.values(of(modern, 'virtio.init-order'))).toEqual(['PASS', 'PASS', 'PASS', 'PASS']);
    expect(one(cut, 'virtio.init-order', blk)).toMatchObject({ verdict: 'NOT-OBSERVED', target: 'driver' });
    expect(one(cut, 'virtio.init-order', blk).message).toMatch(/no session reached DRIVER_OK in the trace \(seen only as 0x1 → 0x3\)/);
    // FAIL: test/checks-real.test.ts 'drop a status write'
  });

  it('virtio.features-before-features-ok (driver): legacy drivers have no FEATURES_OK', () => {
    expect(of(modern, 'virtio.features-before-features-ok')[blk]).toBe('PASS');
    expect(Object.values(of(legacy, 'virtio.features-before-features-ok'))).toEqual(Array(4).fill('NOT-OBSERVED'));
    expect(of(cut, 'virtio.features-before-features-ok')[blk]).toBe('NOT-OBSERVED');
  });

  it('virtio.version-1 (device): word 1 = 0x0 under the Linux assumption FAILs; --assume-driver none does not judge', async () => {
    expect(of(modern, 'virtio.version-1')[blk]).toBe('PASS');
    expect(one(legacy, 'virtio.version-1', undefined).verdict).toBe('FAIL');
    // the block driver's DriverFeaturesSel=1 write is followed by DriverFeatures 0x1 (VERSION_1): make it 0x0
    const sel1 = lineOf(ls, /offset 0x24 value 0x1$/);
    expect(ls[sel1]).toMatch(/offset 0x20 value 0x1$/);
    const r = await edited('no-version-1', replaceLine(sel1 + 1, /value 0x1$/, 'value 0x0'));
    const f = one(r, 'virtio.version-1', blk);
    expect(f.verdict).toBe('FAIL');
    expect(f.target).toBe('device');
    expect(f.assumptions[0]).toMatch(/accept VIRTIO_F_VERSION_1 whenever it is offered, as §6\.1 requires/);
    expect(Object.values(of(q35, 'virtio.version-1'))).toEqual(Array(4).fill('NOT-OBSERVED'));
    const none = await reportOf([MICROVM_LEGACY], { assumeDriver: 'none' });
    expect(Object.values(of(none, 'virtio.version-1'))).toEqual(Array(4).fill('NOT-OBSERVED'));
  });

  it('virtio.live-after-driver-ok (device) and virtio.notify-after-driver-ok (driver): a notify moved before DRIVER_OK', async () => {
    expect(of(modern, 'virtio.live-after-driver-ok')[rng]).toBe('PASS');
    expect(of(modern, 'virtio.notify-after-driver-ok')[rng]).toBe('PASS');
    // the entropy driver's first notify (MMIO write 0x50 and QEMU's virtio_queue_notify, lines 1065-1066)
    // moved before its DRIVER_OK (lines 1062-1063): QEMU answers the request at once, before DRIVER_OK
    const ok = lineOf(ls, new RegExp(`virtio_set_status vdev ${rng} val 15$`));
    expect(ls[ok + 2]).toMatch(/virtio_queue_notify/);
    const r = await edited('notify-early', (xs) => [...xs.slice(0, ok - 2), xs[ok + 1]!, xs[ok + 2]!, ...xs.slice(ok - 2, ok + 1), ...xs.slice(ok + 3)]);
    expect(one(r, 'virtio.notify-after-driver-ok', rng)).toMatchObject({ verdict: 'FAIL', target: 'driver' });
    expect(of(cut, 'virtio.notify-after-driver-ok')[blk]).toBe('NOT-OBSERVED');
    expect(of(cut, 'virtio.live-after-driver-ok')[blk]).toBe('NOT-OBSERVED');
    // the device's own FAIL: test/checks-real.test.ts 'judges use before DRIVER_OK'
  });

  it('virtio-mmio.version-2 (device): legacy registers mean Version 1, under the Linux assumption', async () => {
    expect(Object.values(of(modern, 'virtio-mmio.version-2'))).toEqual(Array(4).fill('PASS'));
    expect(one(modern, 'virtio-mmio.version-2', blk).assumptions[0]).toMatch(/Linux's virtio-mmio uses the legacy registers/);
    expect(Object.values(of(legacy, 'virtio-mmio.version-2'))).toEqual(Array(4).fill('FAIL'));
    const none = await reportOf([MICROVM_MODERN], { assumeDriver: 'none' });
    expect(Object.values(of(none, 'virtio-mmio.version-2'))).toEqual(Array(4).fill('NOT-OBSERVED'));
    expect(of(q35, 'virtio-mmio.version-2')).toEqual({}); // not listed for virtio-pci devices
  });

  it('virtio-mmio.driver-registers and virtio-mmio.queue-num (driver)', async () => {
    expect(of(modern, 'virtio-mmio.driver-registers')[blk]).toBe('PASS');
    expect(of(modern, 'virtio-mmio.queue-num')[blk]).toBe('PASS');
    // a write to Version (0x004, read-only) right after the entropy driver's DRIVER_OK write
    const ok = lineOf(ls, new RegExp(`virtio_set_status vdev ${rng} val 15$`));
    const r = await edited('ro-write', (xs) => [...xs.slice(0, ok), xs[ok - 2]!.replace('offset 0x70 value 0xf', 'offset 0x4 value 0x2'), ...xs.slice(ok)]);
    expect(one(r, 'virtio-mmio.driver-registers', rng)).toMatchObject({ verdict: 'FAIL', target: 'driver' });
    expect(one(r, 'virtio-mmio.driver-registers', rng).message).toMatch(/read-only Version/);
    // queue-num FAIL: test/checks-real.test.ts 'a queue size above QueueNumMax'
    expect(Object.values(of(sound, 'virtio-mmio.queue-num')).every((v) => v === 'NOT-OBSERVED')).toBe(true);
  });

  it('virtqueue rules (device): completed once, used not more than taken, no completion without request, within the size', async () => {
    for (const rule of ['virtio.vq.completed-once', 'virtio.vq.used-not-more-than-taken', 'virtio.vq.no-completion-without-request', 'virtio.vq.queue-size']) {
      expect(of(modern, rule)[blk], rule).toBe('PASS');
      expect(of(cut, rule)[blk], rule).toBe('NOT-OBSERVED');
    }
    // the entropy device's first used element written at offset 5000 of a 1024-entry ring
    const fill = lineOf(ls, /virtqueue_fill vq 0x7f48b849c010 elem 0x555e3c2a6fa0 len 64 idx 0$/);
    const r = await edited('idx-past', replaceLine(fill, /idx 0$/, 'idx 5000'));
    expect(one(r, 'virtio.vq.queue-size', rng)).toMatchObject({ verdict: 'FAIL', target: 'device' });
    // the other FAILs: test/checks-real.test.ts 'drop a completion', 'complete twice', 'a completion of a chain never taken'
  });

  it('virtio.vq.chain-layout (driver): an entropy request on a device-readable buffer', async () => {
    expect(of(modern, 'virtio.vq.chain-layout')[rng]).toBe('PASS');
    const pop = lineOf(ls, /virtqueue_pop vq 0x7f48b849c010 elem 0x555e3c2a6fa0 in_num 1 out_num 0$/);
    const r = await edited('readable-rng', replaceLine(pop, /in_num 1 out_num 0$/, 'in_num 0 out_num 1'));
    expect(one(r, 'virtio.vq.chain-layout', rng)).toMatchObject({ verdict: 'FAIL', target: 'driver' });
    expect(of(cut, 'virtio.vq.chain-layout')[blk]).toBe('NOT-OBSERVED');
    // the network device's type is guessed from its chains' layout: that layout is not judged against the guess
    const net = modern.findings.find((f) => f.rule === 'virtio.vq.chain-layout' && f.dev_type === 'net')!;
    expect(net).toMatchObject({ verdict: 'NOT-OBSERVED', dev_type_how: 'inferred' });
    expect(net.inferred.join(' ')).toMatch(/is virtio-net: .*queue/);
  });

  it('virtio-blk.status (device) and AVPS-v2.0-4 (its roll-up): a status byte no VIRTIO_BLK_S_* defines', async () => {
    expect(of(modern, 'virtio-blk.status')[blk]).toBe('PASS');
    const done = lineOf(ls, new RegExp(`virtio_blk_req_complete vdev ${blk} req 0x[0-9a-f]+ status 0$`));
    const r = await edited('bad-status', replaceLine(done, /status 0$/, 'status 9'));
    expect(one(r, 'virtio-blk.status', blk).verdict).toBe('FAIL');
    const avps4 = one(r, 'AVPS-v2.0-4', blk);
    expect(avps4.verdict).toBe('FAIL');
    expect(avps4.message).toMatch(/^1 of 12 device statements fail: virtio-blk\.status \(VIRTIO §5\.2\.6\): status 9/);
    expect(avps4.evidence[0]!.line).toBe(done);
    expect(of(cutBlk, 'virtio-blk.status')[blk]).toBe('NOT-OBSERVED');
    expect(of(cutBlk, 'AVPS-v2.0-4')[blk]).toBe('PASS'); // what it did before the cut: in order, VERSION_1 offered, ...
    expect(of(cut, 'AVPS-v2.0-4')).toEqual({ vm: 'NOT-OBSERVED' }); // no line names a block device yet
  });

  it('AVPS-v2.0-4 PASS lists the statements checked; the legacy capture FAILs citing §6.2, §7.4 and §4.2.2.1', () => {
    const pass = one(modern, 'AVPS-v2.0-4', blk);
    expect(pass.verdict).toBe('PASS');
    // 14 device statements apply to a virtio-mmio block device; IN_ORDER and RO were not negotiated, so 12 count
    expect(pass.message).toMatch(/^12 of 12 device statements checked, none fails: virtio\.version-1 \(VIRTIO §6\.2, §7\.4\), virtio\.live-after-driver-ok/);
    expect(pass.evidence.length).toBeGreaterThan(3);
    const fail = one(legacy, 'AVPS-v2.0-4');
    expect(fail.verdict).toBe('FAIL');
    expect(fail.message).toMatch(/^2 of \d+ device statements fail: virtio\.version-1 \(VIRTIO §6\.2, §7\.4\): .*not a VIRTIO 1\.x device \(§7\.4\); virtio-mmio\.version-2 \(VIRTIO §4\.2\.2\.1, §4\.2\.4\): /);
    expect(fail.evidence.some((e) => e.raw?.endsWith('offset 0x28 value 0x1000'))).toBe(true);
    expect(fail.assumptions.length).toBe(2);
    expect(of(sound, 'AVPS-v2.0-4')).toEqual({ vm: 'NOT-OBSERVED' });
  });

  it('AVPS-v2.0-5..-7b: each flag cleared from what Linux accepted FAILs; no feature words on virtio-pci', async () => {
    // blk word 0 = 0x30006e54: FLUSH bit 9, CONFIG_WCE 11, DISCARD 13, WRITE_ZEROES 14
    for (const [rule, bit] of [['AVPS-v2.0-5', 9], ['AVPS-v2.0-6', 11], ['AVPS-v2.0-7', 13], ['AVPS-v2.0-7b', 14]] as const) {
      expect(of(modern, rule)[blk], rule).toBe('PASS');
      const word = (0x30006e54 & ~(1 << bit)) >>> 0;
      const r = await edited(`no-bit-${bit}`, (xs) => xs.map((l) => l.replace(/offset 0x20 value 0x30006e54$/, `offset 0x20 value 0x${word.toString(16)}`)));
      expect(one(r, rule, blk).verdict, rule).toBe('FAIL');
      expect(one(r, rule, blk).assumptions[0]).toMatch(/^the driver is Linux's virtio drivers/);
      expect(Object.values(of(q35, rule)), rule).toEqual(['NOT-OBSERVED']);
    }
  });

  it('AVPS-v2.0-8, -10..-13 and -46: NOT-OBSERVED on a type guessed from queue shapes, judged once a line names it', async () => {
    for (const rule of ['AVPS-v2.0-8', 'AVPS-v2.0-10', 'AVPS-v2.0-11', 'AVPS-v2.0-12', 'AVPS-v2.0-13']) {
      const f = one(modern, rule);
      expect(f.verdict, rule).toBe('NOT-OBSERVED');
      expect(f.message).toMatch(/only by inference .* judged only where a trace line names the type/);
      expect(f.inferred[0]).toMatch(/is virtio-net: queue 0 takes writable-only chains/);
    }
    // q35-pci: QEMU's msix_write_config names virtio-net-pci: -8 PASS; no feature words: -10..-13 NOT-OBSERVED
    expect(Object.values(of(q35, 'AVPS-v2.0-8'))).toEqual(['PASS']);
    expect(Object.values(of(q35, 'AVPS-v2.0-11'))).toEqual(['NOT-OBSERVED']);
    const named = await reportOf([withNetNamed(ls)]);
    for (const rule of ['AVPS-v2.0-8', 'AVPS-v2.0-10', 'AVPS-v2.0-11', 'AVPS-v2.0-12', 'AVPS-v2.0-13']) expect(Object.values(of(named, rule)), rule).toEqual(['PASS']);
    // net word 0 = 0x30af802c: MAC (bit 5) cleared fails -12 and -10; MTU (bit 3) cleared fails -11
    // with the caveat that Linux also clears it for a config mtu below 68
    const noMac = await reportOf([withNetNamed(ls.map((l) => l.replace(/offset 0x20 value 0x30af802c$/, 'offset 0x20 value 0x30af800c')))]);
    expect(Object.values(of(noMac, 'AVPS-v2.0-12'))).toEqual(['FAIL']);
    expect(one(noMac, 'AVPS-v2.0-10').message).toBe('not supported: AVPS-v2.0-12');
    const noMtu = await reportOf([withNetNamed(ls.map((l) => l.replace(/offset 0x20 value 0x30af802c$/, 'offset 0x20 value 0x30af8024')))]);
    const mtu = one(noMtu, 'AVPS-v2.0-11');
    expect(mtu.verdict).toBe('FAIL');
    expect(mtu.assumptions[1]).toMatch(/config mtu below 68, which Linux refuses by clearing the bit/);
    expect(mtu.message).toMatch(/or it offered it with a config mtu below 68/);
  });

  it('AVPS-v2.0-8 rolls up the net device statements: a net completion logged twice FAILs it', async () => {
    // the net device's first completion (its receive queue) logged twice
    // the net device is the second the driver initialises (its 'val 3' comes after the block device's)
    const net = /vdev (0x[0-9a-f]+) val 3$/.exec(ls.filter((l) => / val 3$/.test(l))[1]!)![1]!;
    const vq = new RegExp(`virtio_queue_notify vdev ${net} n \\d+ vq (0x[0-9a-f]+)`).exec(ls.find((l) => l.includes(`virtio_queue_notify vdev ${net} `))!)![1]!;
    const fill = lineOf(ls, new RegExp(`virtqueue_fill vq ${vq} `));
    const r = await reportOf([withNetNamed([...ls.slice(0, fill), ls[fill - 1]!, ...ls.slice(fill)])]);
    const f = one(r, 'AVPS-v2.0-8');
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/virtio\.vq\.completed-once \(VIRTIO §2\.7\.8, §2\.7\.14\): .*completed at line \d+ and again here/);
  });

  it('virtio-rng.answers (device), AVPS-v2.0-40 and -41: an answer of 0 bytes', async () => {
    expect(of(modern, 'virtio-rng.answers')[rng]).toBe('PASS');
    expect(of(modern, 'AVPS-v2.0-40')).toEqual({ vm: 'PASS' });
    expect(of(modern, 'AVPS-v2.0-41')[rng]).toBe('PASS');
    const fill = lineOf(ls, /virtqueue_fill vq 0x7f48b849c010 elem 0x555e3c2a6fa0 len 64 idx 0$/);
    const r = await edited('empty-rng', replaceLine(fill, /len 64 idx 0$/, 'len 0 idx 0'));
    expect(one(r, 'virtio-rng.answers', rng).verdict).toBe('FAIL');
    expect(one(r, 'AVPS-v2.0-41', rng).verdict).toBe('FAIL');
    expect(one(r, 'AVPS-v2.0-41', rng).level).toBe('SHOULD');
    // a platform MUST the trace cannot fail: an entropy device missing from a trace may exist all the same
    expect(of(sound, 'AVPS-v2.0-40')).toEqual({ vm: 'NOT-OBSERVED' });
    expect(of(cut, 'virtio-rng.answers')[rng]).toBe('NOT-OBSERVED');
    expect(of(legacy, 'AVPS-v2.0-41')).toMatchObject({ [one(legacy, 'AVPS-v2.0-41').dev!]: 'FAIL' });
  });

  it('AVPS-v2.0-46: the console roll-up PASSes on microvm-modern, FAILs on the legacy capture', () => {
    const f = one(modern, 'AVPS-v2.0-46');
    expect(f.verdict).toBe('PASS');
    expect(f.message).toMatch(/^11 of 11 device statements checked/);
    expect(one(legacy, 'AVPS-v2.0-46').verdict).toBe('FAIL');
    expect(of(sound, 'AVPS-v2.0-46')).toEqual({ vm: 'NOT-OBSERVED' });
  });

  it('every rule of the catalogue is exercised here or in the files named', () => {
    // sound.test.ts, xlayer.test.ts; kvm.test.ts (register read values and the joined run exist only with a host KVM trace)
    const elsewhere = new Set(['virtio-snd.chmap-info', 'xlayer.blk.request-seen-through', 'xlayer.interrupt-sent', 'virtio-mmio.device-registers', 'host-kvm.status-echoed']);
    const here = new Set(
      [modern, legacy, q35, cut].flatMap((r) => r.findings.map((f) => f.rule)),
    );
    for (const r of CATALOGUE) expect(here.has(r.id) || elsewhere.has(r.id), r.id).toBe(true);
  });
});
