/**
 * Every AVPS requirement answered on the real captures: the arm64 capture with its device tree and
 * console (-3, -35, -36, -38, -42), the q35 GPU captures with the guest's own evidence (-17..-22,
 * the feature requirements the guest's sysfs settles), the edid=off capture (-20 FAIL), x86
 * (no device tree: NOT-APPLICABLE), and the platform manifest (DECLARED with file:line).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AVPS_IDS } from '../src/checks/avps-index.ts';
import { InputError } from '../src/ingest/errors.ts';
import { readManifest } from '../src/ingest/manifest.ts';
import { real, reportOf, tempDir } from './helpers.ts';

const ARM = ['qemu-7.2/arm64-virt.trace.gz', 'qemu-7.2/arm64-virt.dtb.gz', 'qemu-7.2/arm64-virt.console.txt'].map(real);
const GPU = ['q35-gpu.qemu.trace.gz', 'q35-gpu.guest-ftrace.txt.gz', 'q35-gpu.guest.virtio_devices.txt', 'q35-gpu.guest.interrupts.txt', 'q35-gpu.console.txt'].map((f) => real(`guest-ftrace/${f}`));
const NOEDID = ['q35-gpu-noedid.trace.gz', 'q35-gpu-noedid.guest.virtio_devices.txt', 'q35-gpu-noedid.guest.interrupts.txt', 'q35-gpu-noedid.guest.dmesg.txt'].map((f) => real(`qemu-7.2-scenarios/${f}`));
const MANIFEST = join(import.meta.dirname, '..', 'docs', 'examples', 'platform-manifest.yaml');

type Report = Awaited<ReturnType<typeof reportOf>>;
const one = (r: Report, id: string) => {
  const f = r.findings.filter((x) => x.rule === id);
  expect(f, id).toHaveLength(1);
  return f[0]!;
};

describe('every check report answers every AVPS requirement', () => {
  it.each([
    ['arm64-virt with DTB and console', ARM],
    ['q35-gpu with guest evidence', GPU],
    ['microvm-modern alone', [real('qemu-7.2/microvm-modern.trace.gz')]],
  ])('%s: a row for each of the 51 ids, in each VM', async (_n, files) => {
    const r = await reportOf(files);
    for (const vm of new Set(r.findings.map((f) => f.vm))) {
      const ids = new Set(r.findings.filter((f) => f.vm === vm && f.spec === 'AVPS 2.0').map((f) => f.rule));
      expect([...ids].sort()).toEqual([...AVPS_IDS].sort());
    }
    // NOT-OBSERVED says what would decide it; NOT-APPLICABLE says why
    for (const f of r.findings.filter((x) => x.verdict === 'NOT-OBSERVED' || x.verdict === 'NOT-APPLICABLE')) expect(f.message.length, f.rule).toBeGreaterThan(20);
  });
});

describe('the device tree and the boot log (arm64 capture)', () => {
  it('answers -3, -35, -36, -38 and -42 from the DTB', async () => {
    const r = await reportOf(ARM);
    const f3 = one(r, 'AVPS-v2.0-3');
    expect(f3.verdict).toBe('PASS');
    expect(f3.message).toMatch(/32 virtio,mmio transports.*4 virtio-mmio devices/);
    expect(f3.inferred.join()).toMatch(/matched to nodes by count/);
    const f35 = one(r, 'AVPS-v2.0-35');
    expect(f35.verdict).toBe('FAIL');
    expect(f35.message).toMatch(/no arm,sbsa-gwdt node/);
    expect(f35.evidence[0]!.file).toMatch(/arm64-virt\.dtb\.gz$/);
    const f36 = one(r, 'AVPS-v2.0-36');
    // arm,psci-1.0 says 1.0 or later; 1.1 needs the boot log or a PSCI_VERSION call
    expect(f36.verdict).toBe('NOT-OBSERVED');
    expect(f36.message).toMatch(/arm,psci-1\.0, through hvc/);
    expect(one(r, 'AVPS-v2.0-42')).toMatchObject({ verdict: 'PASS', message: expect.stringMatching(/64-bit kaslr-seed/) });
    expect(one(r, 'AVPS-v2.0-38')).toMatchObject({ verdict: 'PASS', message: expect.stringMatching(/pl061/) });
  });

  it('without the DTB: -35 and -42 are NOT-OBSERVED (never PASS), -42 then taken from the guest\'s /chosen', async () => {
    const bare = await reportOf([ARM[0]!]);
    expect(one(bare, 'AVPS-v2.0-35').verdict).toBe('NOT-OBSERVED');
    expect(one(bare, 'AVPS-v2.0-42').verdict).toBe('NOT-OBSERVED');
    const withConsole = await reportOf([ARM[0]!, ARM[2]!]);
    const f = one(withConsole, 'AVPS-v2.0-42');
    expect(f.verdict).toBe('PASS');
    expect(f.evidence[0]!.raw).toContain('kaslr-seed');
  });

  it('x86 has no device tree: -3, -36 and -42 are NOT-APPLICABLE, citing what shows x86', async () => {
    const r = await reportOf([real('qemu-7.2/q35-pci.trace.gz'), real('qemu-7.2/q35-pci.console.txt')]);
    for (const id of ['AVPS-v2.0-3', 'AVPS-v2.0-36', 'AVPS-v2.0-42']) {
      const f = one(r, id);
      expect(f.verdict, id).toBe('NOT-APPLICABLE');
      expect(f.evidence[0]!.raw, id).toMatch(/SeaBIOS/);
    }
  });
});

describe('the GPU chapter on the real GPU captures', () => {
  it('q35-gpu with both views: -17 .. -20 and -22 PASS, each on its own evidence', async () => {
    const r = await reportOf(GPU);
    expect(one(r, 'AVPS-v2.0-17')).toMatchObject({ verdict: 'PASS', message: expect.stringMatching(/device ID 16 from virtio0/) });
    const f18 = one(r, 'AVPS-v2.0-18');
    expect(f18.verdict).toBe('PASS');
    expect(f18.message).toMatch(/virtio0-control 49, virtio0-cursor 0.*113 control commands on queue 0/);
    expect(one(r, 'AVPS-v2.0-19')).toMatchObject({ verdict: 'PASS', message: expect.stringMatching(/virgl 0/) });
    const f20 = one(r, 'AVPS-v2.0-20');
    expect(f20.verdict).toBe('PASS');
    expect(f20.evidence[0]!.raw).toMatch(/virtio_gpu_cmd_response: .*type=0x1104/);
    expect(one(r, 'AVPS-v2.0-21').verdict).toBe('NOT-OBSERVED');
    expect(one(r, 'AVPS-v2.0-22')).toMatchObject({ verdict: 'PASS', message: expect.stringMatching(/113 responses, all VIRTIO_GPU_RESP_\* codes/) });
    // no vsock, RPMB or fs in the guest's own device list: those conditional requirements do not apply
    for (const id of ['AVPS-v2.0-16', 'AVPS-v2.0-44', 'AVPS-v2.0-50']) expect(one(r, id).verdict, id).toBe('NOT-APPLICABLE');
  });

  it('gpu-multi: three VMs, each judged on its own GPU with both views', async () => {
    const vms = ['cluster', 'ivi', 'rear'];
    const files = ['trace.gz', 'guest-ftrace.txt.gz', 'guest.virtio_devices.txt', 'guest.interrupts.txt'].flatMap((x) => vms.map((v) => real(`gpu-multi/${v}.${x}`)));
    const r = await reportOf(files);
    for (const vm of vms) {
      const v = (id: string) => r.findings.filter((f) => f.vm === vm && f.rule === id).map((f) => f.verdict);
      for (const id of ['AVPS-v2.0-17', 'AVPS-v2.0-18', 'AVPS-v2.0-19', 'AVPS-v2.0-20', 'AVPS-v2.0-22']) expect(v(id), `${vm} ${id}`).toEqual(['PASS']);
      expect(v('AVPS-v2.0-21'), vm).toEqual(['NOT-OBSERVED']);
      const f18 = r.findings.find((f) => f.vm === vm && f.rule === 'AVPS-v2.0-18')!;
      expect(f18.evidence[0]!.file).toBe(real(`gpu-multi/${vm}.guest.interrupts.txt`));
    }
  });

  it('the host view alone still judges the GPU from QEMU\'s log', async () => {
    const r = await reportOf([real('qemu-7.2/q35-gpu.trace.gz')]);
    expect(one(r, 'AVPS-v2.0-19').verdict).toBe('PASS');
    const f20 = one(r, 'AVPS-v2.0-20');
    expect(f20.verdict).toBe('PASS');
    expect(f20.inferred.join()).toMatch(/virtio_gpu_cmd_get_edid/);
    expect(one(r, 'AVPS-v2.0-22').verdict).toBe('PASS');
    // without the guest's device list an absent vsock is not proven absent
    expect(one(r, 'AVPS-v2.0-16').verdict).toBe('NOT-OBSERVED');
  });

  it('edid=off: -20 FAILs, from the guest\'s dmesg and from QEMU\'s log alone (assuming the Linux driver)', async () => {
    const r = await reportOf(NOEDID);
    const f = one(r, 'AVPS-v2.0-20');
    expect(f.verdict).toBe('FAIL');
    expect(f.evidence[0]!.raw).toMatch(/\[drm\] features: -virgl -edid/);
    const host = await reportOf([NOEDID[0]!]);
    const h = one(host, 'AVPS-v2.0-20');
    expect(h.verdict).toBe('FAIL');
    expect(h.assumptions.join()).toMatch(/GET_EDID before GET_DISPLAY_INFO/);
    const none = await reportOf([NOEDID[0]!], { assumeDriver: 'none' });
    expect(one(none, 'AVPS-v2.0-20').verdict).toBe('NOT-OBSERVED');
  });

  it('the guest\'s sysfs features settle the q35 feature requirements QEMU 7.2 cannot show', async () => {
    const host = await reportOf([NOEDID[0]!]);
    expect(host.findings.filter((f) => f.rule === 'AVPS-v2.0-5').map((f) => f.verdict)).toEqual(['NOT-OBSERVED']);
    const r = await reportOf(NOEDID);
    for (const id of ['AVPS-v2.0-5', 'AVPS-v2.0-6', 'AVPS-v2.0-7', 'AVPS-v2.0-7b', 'AVPS-v2.0-11', 'AVPS-v2.0-12', 'AVPS-v2.0-13']) {
      const f = one(r, id);
      expect(f.verdict, id).toBe('PASS');
      expect(f.evidence[0]!.file, id).toMatch(/guest\.virtio_devices\.txt$/);
      expect(f.inferred.join(), id).toMatch(/joined to 0x[0-9a-f]+ in VM q35-gpu-noedid: the only device with ID/);
    }
  });
});

describe('the platform manifest', () => {
  it('gives DECLARED verdicts citing its file and line, never counted as observed', async () => {
    const r = await reportOf([real('qemu-7.2/q35-pci.trace.gz')], { manifest: MANIFEST });
    const f9 = one(r, 'AVPS-v2.0-9');
    expect(f9.verdict).toBe('DECLARED');
    expect(f9.evidence[0]).toMatchObject({ file: MANIFEST, line: 11 });
    expect(f9.evidence[0]!.raw).toMatch(/^nic_passthrough:/);
    expect(one(r, 'AVPS-v2.0-48').verdict).toBe('DECLARED');
    expect(one(r, 'AVPS-v2.0-14').verdict).toBe('NOT-APPLICABLE');
  });

  it('--profile production: a console in the trace FAILs -48', async () => {
    const r = await reportOf([real('qemu-7.2/q35-pci.trace.gz')], { manifest: MANIFEST, profile: 'production' });
    const f = one(r, 'AVPS-v2.0-48');
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/a console is present in a production run: virtio console/);
  });

  it('a MUST the manifest declares unmet FAILs, citing the line', async () => {
    const dir = tempDir();
    const m = join(dir, 'm.yaml');
    writeFileSync(m, 'usb:\n  host_controller_passthrough: false\n');
    const r = await reportOf([real('qemu-7.2/q35-pci.trace.gz')], { manifest: m });
    expect(one(r, 'AVPS-v2.0-33')).toMatchObject({ verdict: 'FAIL', evidence: [expect.objectContaining({ file: m, line: 2 })] });
  });

  it('errors name the file, the line and the key', () => {
    const dir = tempDir();
    const cases: [string, RegExp][] = [
      ['network:\n  nic_passthrough: true\n  nic_pasthrough: true\n', /m\.yaml:3: network\.nic_pasthrough: Unrecognized key/],
      ['usb:\n  host_controller_passthrough: 3\n', /m\.yaml:2: usb\.host_controller_passthrough: expected true, false or a sentence/],
      ['arch: sparc\n', /m\.yaml:1: arch: /],
      ['usb: [\n', /m\.yaml:2: not valid YAML/],
    ];
    for (const [text, re] of cases) {
      const m = join(dir, 'm.yaml');
      writeFileSync(m, text);
      const e = (() => {
        try {
          readManifest(m);
        } catch (x) {
          return x;
        }
      })();
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).describe()).toMatch(re);
    }
  });
});

describe('avpscope rules with the inputs of a run', () => {
  it('lists all 51 AVPS ids with their evidence, and which inputs given can decide each', async () => {
    const { givenInputs, rulesJson } = await import('../src/cli/rules.ts');
    const j = JSON.parse(rulesJson(await givenInputs(ARM, MANIFEST))) as { rules: { id: string; evidence?: string[]; decided_by?: string[]; given?: string[] }[] };
    const avps = j.rules.filter((r) => r.id.startsWith('AVPS-'));
    expect(avps.map((r) => r.id).sort()).toEqual([...AVPS_IDS].sort());
    const by = new Map(avps.map((r) => [r.id, r]));
    expect(by.get('AVPS-v2.0-42')).toMatchObject({ evidence: ['b', 'c'], given: ['dtb', 'boot-log'] });
    expect(by.get('AVPS-v2.0-9')).toMatchObject({ given: ['manifest'] });
    // nothing the arm64 capture carries shows a GPU's queues
    expect(by.get('AVPS-v2.0-18')!.given).toEqual(['qemu-log']);
  });
});
