import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileDeclaration, parseArgs } from '../src/ingest/qemu/format.ts';
import { qemuLogAdapter } from '../src/ingest/qemu/index.ts';
import { jsonlAdapter } from '../src/ingest/jsonl/index.ts';
import { detectFormat } from '../src/ingest/registry.ts';
import { Stats } from '../src/ingest/stats.ts';
import { InputError } from '../src/ingest/errors.ts';
import type { Event } from '../src/model/events.ts';
import { ARM64_VIRT, MICROVM_LEGACY, MICROVM_MODERN, Q35_PCI, lines, real, tempDir, writeTrace } from './helpers.ts';

async function readAll(file: string): Promise<{ events: Event[]; stats: Stats; origin: bigint; timed: boolean }> {
  const stats = new Stats();
  const src = qemuLogAdapter.open({ file, vm: 'vm', stats });
  const events: Event[] = [];
  for await (const b of src.batches) events.push(...b);
  return { events, stats, origin: src.info.originNs, timed: src.info.timed };
}

/** Event name of a QEMU log line, read the plain way. */
const nameOf = (l: string) => l.replace(/^\d+@[\d.]+:/, '').split(' ')[0]!;

describe('trace-events declarations', () => {
  it('compiles a format with C string pieces and inttypes macros', () => {
    const { name, format } = compileDeclaration(
      'virtio_mmio_write_offset(uint64_t offset, uint64_t value) "virtio_mmio_write offset 0x%" PRIx64 " value 0x%" PRIx64',
    );
    expect(name).toBe('virtio_mmio_write_offset');
    expect(parseArgs(format, 'virtio_mmio_write offset 0x70 value 0xb')).toEqual({ offset: 0x70, value: 0xb });
    expect(parseArgs(format, 'virtio_mmio_write offset 0x70')).toBeUndefined();
    expect(parseArgs(format, 'virtio_mmio_write offset 0x70 value 0xb trailing')).toBeUndefined();
  });

  it('reads pointers, strings that run to the next literal, and rejects minus signs in unsigned fields', () => {
    const rng = compileDeclaration('virtio_rng_request(void *rng, size_t size, unsigned quota) "rng %p: %zd bytes requested, %u bytes quota left"');
    expect(parseArgs(rng.format, 'rng 0x55ffcabdcb10: 64 bytes requested, 4294967295 bytes quota left')).toEqual({
      rng: '0x55ffcabdcb10', size: 64, quota: 4294967295,
    });
    expect(parseArgs(rng.format, 'rng 0x55ffcabdcb10: 64 bytes requested, -1 bytes quota left')).toBeUndefined();
    const msix = compileDeclaration('msix_write_config(char *name, bool enabled, bool masked) "dev %s enabled %d masked %d"');
    expect(parseArgs(msix.format, 'dev virtio-blk-pci enabled 1 masked 0')).toEqual({ name: 'virtio-blk-pci', enabled: 1, masked: 0 });
  });

  it('keeps hex values wider than 52 bits exact, as text', () => {
    const f = compileDeclaration('virtio_snd_get_features(void *vdev, uint64_t features) "snd %p: get_features 0x%"PRIx64');
    expect(parseArgs(f.format, 'snd 0x55bbcbca71a0: get_features 0x10179000000')).toEqual({ vdev: '0x55bbcbca71a0', features: 0x10179000000 });
    expect(parseArgs(f.format, 'snd 0x1: get_features 0xffffffffffffffff')).toEqual({ vdev: '0x1', features: '0xffffffffffffffff' });
  });
});

describe('QEMU log adapter on the real traces', () => {
  it.each([MICROVM_MODERN, MICROVM_LEGACY, Q35_PCI, ARM64_VIRT])('turns every line of %s into the events its name promises', async (file) => {
    const ls = lines(file);
    const count = (n: string) => ls.filter((l) => nameOf(l) === n).length;
    const { events, stats } = await readAll(file);
    const kinds = (k: string) => events.filter((e) => e.kind === k).length;
    // one canonical event per line of these names, counted independently from the raw text
    expect(kinds('mmio.read')).toBe(count('virtio_mmio_read'));
    expect(kinds('mmio.write')).toBe(count('virtio_mmio_write_offset'));
    expect(kinds('status')).toBe(count('virtio_set_status'));
    expect(kinds('notify.avail')).toBe(count('virtio_queue_notify'));
    expect(kinds('notify.used')).toBe(count('virtio_notify') + count('virtio_notify_irqfd'));
    expect(kinds('vq.pop')).toBe(count('virtqueue_pop'));
    expect(kinds('vq.fill')).toBe(count('virtqueue_fill'));
    expect(kinds('vq.flush')).toBe(count('virtqueue_flush'));
    expect(kinds('blk.submit')).toBe(count('virtio_blk_handle_read') + count('virtio_blk_handle_write'));
    expect(kinds('blk.complete')).toBe(count('virtio_blk_req_complete'));
    // nothing in QEMU's own logs is malformed or unknown to the adapter
    expect(stats.count('line.malformed')).toBe(0);
    expect(stats.count('event.unknown')).toBe(0);
    // alloc_element is known but redundant with pop
    expect(stats.list().find((s) => s.name === 'event.ignored')!.byKey.get('virtqueue_alloc_element')).toBe(count('virtqueue_alloc_element'));
  });

  it('stamps time in ns from the first whole second, exactly', async () => {
    const ls = lines(MICROVM_MODERN);
    const { events, origin, timed } = await readAll(MICROVM_MODERN);
    // line 1: 9908@1795565282.449977:virtio_console_chr_event ... (ignored); line 2 is the first event
    expect(ls[1]).toMatch(/^9908@1795565282\.450011:/);
    expect(timed).toBe(true);
    expect(origin).toBe(1795565282n * 1_000_000_000n);
    expect(events[0]!.ts).toBe(450_011_000);
    expect(events[0]!.src).toEqual({ file: MICROVM_MODERN, line: 2 });
    // the last event of the trace, seconds later, still exact to the microsecond
    const lastEvent = events.at(-1)!;
    const [, sec, usec] = /@(\d+)\.(\d+):/.exec(ls[lastEvent.src!.line - 1]!)!;
    expect(lastEvent.ts).toBe((Number(sec) - 1795565282) * 1e9 + Number(usec) * 1000);
  });

  it('reads a log written without -msg timestamp=on: same events, no time', async () => {
    const dir = tempDir();
    const stripped = lines(MICROVM_MODERN).map((l) => l.replace(/^\d+@[\d.]+:/, ''));
    const file = writeTrace(dir, 'untimed.trace', stripped);
    expect((await detectFormat(file)).name).toBe('qemu-log');
    const a = await readAll(MICROVM_MODERN);
    const b = await readAll(file);
    expect(b.timed).toBe(false);
    expect(b.events.map((e) => e.kind)).toEqual(a.events.map((e) => e.kind));
    expect(b.events.every((e) => e.ts === 0)).toBe(true);
  });
});

describe('bad input', () => {
  const good = lines(MICROVM_MODERN);

  it('counts garbage, cut and unknown lines with file:line and keeps the rest', async () => {
    const dir = tempDir();
    const ls = [...good];
    ls.splice(100, 0, 'this is not a trace line');
    ls.splice(200, 0, '9910@1795565284.511170:virtio_mmio_write_offset virtio_mmio_write offset 0x50 val');
    ls.splice(300, 0, '9910@1795565284.600000:virtio_made_up_event foo 1');
    const file = writeTrace(dir, 'bad.trace', ls);
    const { events, stats } = await readAll(file);
    const malformed = stats.list().find((s) => s.name === 'line.malformed')!;
    expect(malformed.count).toBe(2);
    expect(malformed.samples.map((s) => s.line)).toEqual([101, 201]);
    expect(malformed.samples[1]!.detail).toMatch(/virtio_mmio_write_offset's declared format/);
    expect(stats.list().find((s) => s.name === 'event.unknown')!.byKey.get('virtio_made_up_event')).toBe(1);
    expect(events.length).toBe((await readAll(MICROVM_MODERN)).events.length);
  });

  it('reports a last line cut in the middle as truncated', async () => {
    const dir = tempDir();
    const ls = good.slice(0, 500);
    ls.push('9910@1795565284.511170:virtio_mmio_write_offset virtio_mmio_wri');
    const file = writeTrace(dir, 'cut.trace.gz', ls, { finalNewline: false });
    const { stats } = await readAll(file);
    expect(stats.list().find((s) => s.name === 'line.truncated')!.samples[0]!.line).toBe(501);
  });

  it('drops lines with absurd values: negative sizes, time jumping back seconds', async () => {
    const dir = tempDir();
    const ls = [...good];
    const popAt = ls.findIndex((l) => l.includes('virtqueue_fill'));
    ls[popAt] = ls[popAt]!.replace(/len \d+/, 'len -5');
    const back = ls.findIndex((l, i) => i > popAt + 10 && l.includes('virtio_mmio_read'));
    ls[back] = ls[back]!.replace(/@1795565284\./, '@1795565280.');
    const notify = ls.findIndex((l) => l.includes('virtio_queue_notify'));
    ls[notify] = ls[notify]!.replace(/ n 0 /, ' n -1 ');
    const file = writeTrace(dir, 'absurd.trace', ls);
    const { stats } = await readAll(file);
    expect(stats.list().find((s) => s.name === 'line.malformed')!.samples[0]!.line).toBe(popAt + 1); // %u with a minus sign
    const invalid = stats.list().find((s) => s.name === 'event.invalid')!;
    expect(invalid.samples.map((s) => s.line)).toEqual([notify + 1]);
    const dropped = stats.list().find((s) => s.name === 'time.dropped')!;
    expect(dropped.samples.map((s) => [s.line, s.detail])).toEqual([[back + 1, expect.stringMatching(/timestamp 4\.\d+ s behind the lines before and after it: line dropped/)]]);
  });

  it('one line stamped far ahead is dropped and reported, and the lines after it are not lost', async () => {
    const dir = tempDir();
    const ls = [...good];
    const i = ls.findIndex((l) => l.includes('virtio_blk_handle_write'));
    ls[i] = ls[i]!.replace(/@(\d+)\./, (_m, sec) => `@${Number(sec) + 700}.`);
    const file = writeTrace(dir, 'ahead.trace', ls);
    const { events, stats } = await readAll(file);
    const dropped = stats.list().find((s) => s.name === 'time.dropped')!;
    expect(dropped.count).toBe(1);
    expect(dropped.samples[0]!.line).toBe(i + 1);
    expect(dropped.samples[0]!.detail).toMatch(/700\.\d+ s ahead of the lines before and after it: line dropped/);
    const all = (await readAll(MICROVM_MODERN)).events;
    const bare = (es: Event[]) => es.map((e) => ({ ...e, src: e.src?.line }));
    expect(bare(events)).toEqual(bare(all.filter((e) => e.src?.line !== i + 1)));
  });

  it('counts small steps back in time (thread interleaving) but keeps file order', async () => {
    const dir = tempDir();
    const ls = [...good];
    const i = ls.findIndex((l) => l.includes('virtio_blk_rw_complete'));
    // rw_complete (main loop) stamped 200 µs before the line preceding it
    ls[i] = ls[i]!.replace(/@(\d+)\.(\d+):/, (_m, s, u) => `@${s}.${String(Number(u) - 300).padStart(6, '0')}:`);
    const file = writeTrace(dir, 'interleaved.trace', ls);
    const { events, stats } = await readAll(file);
    expect(stats.list().find((s) => s.name === 'time.backwards')!.samples[0]!.line).toBe(i + 1);
    expect(events.find((e) => e.src?.line === i + 1)!.kind).toBe('blk.backend');
  });

  it('refuses files that are not usable traces, naming the file (and line)', async () => {
    const dir = tempDir();
    const empty = join(dir, 'empty.trace');
    writeFileSync(empty, '');
    await expect(detectFormat(empty)).rejects.toThrow(/empty file/);
    await expect(detectFormat(join(dir, 'missing.trace'))).rejects.toThrow(/no such file/);
    await expect(detectFormat(dir)).rejects.toThrow(/is a directory/);
    const binary = join(dir, 'bin.trace');
    writeFileSync(binary, Buffer.from([0, 1, 2, 3, 255, 254, 0, 0]));
    await expect(detectFormat(binary)).rejects.toThrow(/binary data/);
    const prose = writeTrace(dir, 'prose.txt', ['Dear diary,', 'today I traced nothing.']);
    const err = await detectFormat(prose).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).describe()).toMatch(/prose\.txt:1: not a trace avpscope can read/);
  });

  it('a file that starts like a QEMU log but is mostly garbage is unusable', async () => {
    const dir = tempDir();
    const ls = [good[1]!, ...Array.from({ length: 20 }, (_, k) => `garbage ${k}`)];
    const file = writeTrace(dir, 'mostly-garbage.trace', ls);
    await expect(readAll(file)).rejects.toThrow(/not a usable qemu-log trace: 1 good lines, 20 bad; first bad line 2/);
  });

  it('corrupt and truncated gzip are input errors naming the file', async () => {
    const dir = tempDir();
    const gz = readFileSync(MICROVM_MODERN);
    const truncated = join(dir, 'truncated.trace.gz');
    writeFileSync(truncated, gz.subarray(0, Math.floor(gz.length / 2)));
    await expect(readAll(truncated)).rejects.toThrow(/corrupt or truncated gzip data \(unexpected end of file\) after line \d+/);
    const corrupt = join(dir, 'corrupt.trace.gz');
    const bytes = Buffer.from(gz);
    for (let k = 2000; k < 2100; k++) bytes[k] = bytes[k]! ^ 0x5a;
    writeFileSync(corrupt, bytes);
    const err = await readAll(corrupt).catch((e) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).file).toBe(corrupt);
  });
});

describe('format detection', () => {
  it('tells the formats apart by content, not by name', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'x'));
    const misnamed = join(dir, 'x', 'trace.jsonl');
    writeFileSync(misnamed, gzipSync(lines(MICROVM_MODERN).join('\n')));
    expect((await detectFormat(misnamed)).name).toBe('qemu-log');
    const jsonl = writeTrace(dir, 'events.log', ['{"ts":0,"kind":"status","dev":"d","value":1}']);
    expect((await detectFormat(jsonl)).name).toBe(jsonlAdapter.name);
    expect((await detectFormat(real('qemu-10.0-sound/none-duplex.trace.gz'))).name).toBe('qemu-log');
  });
});
