/**
 * The guest ftrace adapter on the real captures (traces/guest-ftrace/): every line of the kinds it
 * reads becomes the event its name promises, counted from the raw text; the other formats of the
 * same lines (no header, trace-cmd report) read the same; sniffing never confuses it with QEMU.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { convert } from '../src/api/convert.ts';
import { ftraceAdapter, shiftTimestamp } from '../src/ingest/ftrace/index.ts';
import { rwbsOp } from '../src/ingest/ftrace/rwbs.ts';
import { InputError } from '../src/ingest/errors.ts';
import { jsonlAdapter } from '../src/ingest/jsonl/index.ts';
import { qemuLogAdapter } from '../src/ingest/qemu/index.ts';
import { detectFormat } from '../src/ingest/registry.ts';
import { Stats } from '../src/ingest/stats.ts';
import type { Event } from '../src/model/events.ts';
import { lines, real, tempDir, TRACES, writeTrace } from './helpers.ts';

const MICROVM_GUEST = real('guest-ftrace/microvm-modern.guest-ftrace.txt.gz');
const Q35_GUEST = real('guest-ftrace/q35-gpu.guest-ftrace.txt.gz');

async function readAll(file: string, adapter = ftraceAdapter) {
  const stats = new Stats();
  const src = adapter.open({ file, vm: 'vm', stats });
  const events: Event[] = [];
  for await (const b of src.batches) events.push(...b);
  return { events, stats, info: src.info };
}

/** The event name of an ftrace line, read the plain way: the word before ': ' after the timestamp. */
const nameOf = (l: string) => /\d+\.\d+: (\w+):/.exec(l)?.[1];
/** Without source lines, for comparing the same events read from differently laid-out files. */
const bare = (es: Event[]) => es.map(({ src: _src, ...e }) => e);

describe('ftrace adapter on the real guest traces', () => {
  it.each([MICROVM_GUEST, Q35_GUEST])('turns every line of %s into the events its name promises', async (file) => {
    const ls = lines(file);
    const count = (...names: string[]) => ls.filter((l) => names.includes(nameOf(l) ?? '')).length;
    const { events, stats } = await readAll(file);
    const kinds = (k: string, phase?: string) => events.filter((e) => e.kind === k && (phase === undefined || (e as { phase?: string }).phase === phase)).length;
    expect(kinds('block.rq', 'insert')).toBe(count('block_rq_insert'));
    expect(kinds('block.rq', 'issue')).toBe(count('block_rq_issue'));
    expect(kinds('block.rq', 'complete')).toBe(count('block_rq_complete'));
    expect(kinds('irq.handler', 'entry')).toBe(count('irq_handler_entry'));
    expect(kinds('irq.handler', 'exit')).toBe(count('irq_handler_exit'));
    expect(kinds('vq.add')).toBe(count('vq_add_sgs', 'vq_add_outbuf', 'vq_add_inbuf', 'vq_add_inbuf_ctx'));
    expect(kinds('notify.avail')).toBe(count('vq_notify'));
    expect(kinds('notify.used')).toBe(count('vring_interrupt'));
    // a NULL return (data=0x0) is the driver finding nothing: no event
    expect(kinds('vq.get_buf')).toBe(count('vq_get_buf') - ls.filter((l) => nameOf(l) === 'vq_get_buf' && / data=0x0+$/.test(l)).length);
    expect(kinds('gpu.cmd', 'queue')).toBe(count('virtio_gpu_cmd_queue'));
    expect(kinds('gpu.cmd', 'response')).toBe(count('virtio_gpu_cmd_response'));
    expect(kinds('mark')).toBe(count('tracing_mark_write'));
    expect(kinds('net.packet')).toBe(count('net_dev_xmit', 'netif_receive_skb'));
    // the guest's view, each event pointing at a line of its own name
    expect(events.every((e) => e.view === 'guest' && e.cpu === 0)).toBe(true);
    for (const e of events.filter((_, i) => i % 97 === 0)) expect(ls[e.src!.line - 1]).toMatch(/\d+\.\d+: \w+:/);
    expect(stats.count('line.malformed')).toBe(0);
    expect(stats.count('event.unknown')).toBe(0);
    const ignored = stats.list().find((s) => s.name === 'event.ignored')!;
    expect(ignored.byKey.get('block_bio_queue')).toBe(count('block_bio_queue'));
    expect(ignored.byKey.get('block_getrq')).toBe(count('block_getrq'));
  });

  it('stamps time in ns from the first whole second of the trace clock', async () => {
    const ls = lines(MICROVM_GUEST);
    const { events, info } = await readAll(MICROVM_GUEST);
    // line 13 is the first record: "init-1 [000] ..... 1795579107.891434: tracing_mark_write: clock-sync ..."
    expect(ls[12]).toMatch(/ 1795579107\.891434: tracing_mark_write: clock-sync realtime=1795579107\.871815$/);
    expect(info.originNs).toBe(1795579107n * 1_000_000_000n);
    expect(events[0]).toMatchObject({ kind: 'mark', ts: 891_434_000, text: 'clock-sync realtime=1795579107.871815', src: { line: 13 } });
    const last = events.at(-1)!;
    const [, sec, usec] = / (\d+)\.(\d{6}): /.exec(ls[last.src!.line - 1]!)!;
    expect(last.ts).toBe((Number(sec) - 1795579107) * 1e9 + Number(usec) * 1000);
  });

  it('reads block requests, kprobes and GPU commands field by field', async () => {
    const ls = lines(MICROVM_GUEST);
    const { events } = await readAll(MICROVM_GUEST);
    const at = (re: RegExp) => {
      const line = ls.findIndex((l) => re.test(l)) + 1;
      return events.filter((e) => e.src!.line === line);
    };
    // "block_rq_issue: 254,0 FF 0 () 0 + 0" and its completion "254,0 FF () 18446744073709551615 + 0 [0]":
    // a flush has no position; the kernel prints (sector_t)-1 once it is done
    expect(at(/block_rq_issue: 254,0 FF /)).toMatchObject([{ kind: 'block.rq', phase: 'issue', disk: '254,0', rwbs: 'FF', sector: 0, nsectors: 0 }]);
    expect(at(/block_rq_complete: 254,0 FF \(\) 18446744073709551615 \+ 0 \[0\]/)).toMatchObject([{ phase: 'complete', rwbs: 'FF', sector: 0, error: 0 }]);
    expect(at(/block_rq_insert: 254,0 DS 1048576 \(\) 0 \+ 2048/)).toMatchObject([{ phase: 'insert', rwbs: 'DS', sector: 0, nsectors: 2048 }]);
    // the first blk request: add (token), kick, interrupt, get_buf of the same token
    const add = at(/vq_add_sgs: .* data=0xffff8940c47d2210/)[0]!;
    expect(add).toMatchObject({ kind: 'vq.add', dev: 'virtio0', queue: 0, name: 'req.0', out_sgs: 1, in_sgs: 2, token: '0xffff8940c47d2210' });
    expect(at(/vq_notify: .* dev=0 vq=0 name="req.0"/)[0]).toMatchObject({ kind: 'notify.avail', dev: 'virtio0', queue: 0 });
    expect(at(/vring_interrupt: .* irq=49 dev=0 vq=0/)[0]).toMatchObject({ kind: 'notify.used', dev: 'virtio0', queue: 0, irq: 49 });
    // get_buf names only the token: the device and queue come from the add that gave it, marked inferred
    expect(at(/vq_get_buf: .* data=0xffff8940c47d2210/)[0]).toMatchObject({ kind: 'vq.get_buf', token: '0xffff8940c47d2210', dev: 'virtio0', queue: 0, inferred: ['dev', 'queue'] });
    expect(at(/irq_handler_entry: irq=49 name=virtio0$/)[0]).toMatchObject({ kind: 'irq.handler', phase: 'entry', irq: 49, name: 'virtio0', dev: 'virtio0' });
    expect(at(/irq_handler_exit: irq=54 ret=unhandled/)[0]).toMatchObject({ phase: 'exit', irq: 54, handled: false });
    expect(at(/vq_add_inbuf_ctx: .*dev=1 vq=0 name="input.0" num=1/)[0]).toMatchObject({ kind: 'vq.add', dev: 'virtio1', out_sgs: 0, in_sgs: 1 });
    expect(at(/net_dev_xmit: dev=eth0 .* len=342 rc=0/)[0]).toMatchObject({ kind: 'net.packet', dir: 'tx', ifname: 'eth0', len: 342 });

    const q = await readAll(Q35_GUEST);
    const ql = lines(Q35_GUEST);
    const line = ql.findIndex((l) => / virtio_gpu_cmd_queue: vdev=0 vq=0 name=control type=0x10a/.test(l)) + 1;
    expect(q.events.find((e) => e.src!.line === line)).toMatchObject({ kind: 'gpu.cmd', phase: 'queue', dev: 'virtio0', queue: 0, type: 0x10a, fence: 0, ctx: 0 });
    const resp = ql.findIndex((l) => / virtio_gpu_cmd_response: .* type=0x1104 /.test(l)) + 1;
    expect(q.events.find((e) => e.src!.line === resp)).toMatchObject({ kind: 'gpu.cmd', phase: 'response', type: 0x1104 });
  });

  it('decodes rwbs as blk_fill_rwbs writes it', () => {
    expect(['R', 'RS', 'RA', 'W', 'WS', 'FWS', 'WFS', 'FF', 'F', 'DS', 'DE', 'N'].map(rwbsOp)).toEqual([
      'read', 'read', 'read', 'write', 'write', 'write', 'write', 'flush', 'flush', 'discard', 'secure_erase', 'other',
    ]);
  });
});

describe('the same lines, other layouts', () => {
  it('reads the trace without its # header, plain instead of gzip', async () => {
    const dir = tempDir();
    const ls = lines(MICROVM_GUEST).filter((l) => !l.startsWith('#'));
    const file = writeTrace(dir, 'guest.txt', ls);
    expect((await detectFormat(file)).name).toBe('ftrace');
    expect(bare((await readAll(file)).events)).toEqual(bare((await readAll(MICROVM_GUEST)).events));
  });

  it('reads trace-cmd report output: preamble, no flags column, padded event names, ns timestamps', async () => {
    const dir = tempDir();
    // what `trace-cmd report -t` prints for the same records
    const ls = lines(Q35_GUEST)
      .filter((l) => !l.startsWith('#'))
      .map((l) => {
        const m = /^(\s*.+?-\d+\s+\[\d+\]) \S{5} (\d+\.\d+): (\w+): (.*)$/.exec(l)!;
        return `${m[1]} ${m[2]}000: ${`${m[3]}:`.padEnd(24)}${m[4]}`;
      });
    const file = writeTrace(dir, 'report.txt', ['version = 6', 'CPU 1 is empty', 'cpus=2', ...ls]);
    expect((await detectFormat(file)).name).toBe('ftrace');
    expect(bare((await readAll(file)).events)).toEqual(bare((await readAll(Q35_GUEST)).events));
  });

  it('repeats a trace with shiftTimestamp (for benchmarks): twice the events, the clock never stepping back', async () => {
    const ls = lines(Q35_GUEST).filter((l) => !l.startsWith('#'));
    const file = writeTrace(tempDir(), 'twice.txt.gz', [...ls, ...ls.map((l) => shiftTimestamp(l, 10))]);
    const once = await readAll(Q35_GUEST);
    const twice = await readAll(file);
    expect(twice.events.length).toBe(2 * once.events.length);
    expect(twice.stats.count('time.backwards')).toBe(0);
    expect(twice.events.at(-1)!.ts).toBe(once.events.at(-1)!.ts + 10e9);
  });

  it('round-trips through the canonical JSON Lines format', async () => {
    const chunks: string[] = [];
    const sink = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) });
    await convert({ files: [Q35_GUEST], raw: false, to: 'jsonl' }, sink);
    const file = writeTrace(tempDir(), 'guest.jsonl', chunks.join('').split('\n').filter((l) => l.length > 0));
    const back = await readAll(file, jsonlAdapter);
    expect(back.info.view).toBe('guest');
    expect(back.info.originNs).toBe((await readAll(Q35_GUEST)).info.originNs);
    const orig = (await readAll(Q35_GUEST)).events.map((e) => ({ ...e, vm: 'q35-gpu' }));
    expect(back.events).toEqual(orig);
  });
});

describe('sniffing', () => {
  const qemuLogs = [
    ...readdirSync(join(TRACES, 'qemu-7.2')).filter((f) => f.endsWith('.trace.gz')).map((f) => join(TRACES, 'qemu-7.2', f)),
    real('guest-ftrace/microvm-modern.qemu.trace.gz'),
    real('guest-ftrace/q35-gpu.qemu.trace.gz'),
  ];

  it('takes the guest traces for ftrace and every QEMU log for a QEMU log', async () => {
    for (const f of [MICROVM_GUEST, Q35_GUEST]) expect((await detectFormat(f)).name).toBe('ftrace');
    for (const f of qemuLogs) expect((await detectFormat(f)).name).toBe('qemu-log');
  });

  it('never lets one sniffer claim the other format', () => {
    const heads = (f: string) => {
      const ls = lines(f);
      return [ls.slice(0, 40).join('\n') + '\n', ls.filter((l) => !l.startsWith('#')).slice(0, 40).join('\n') + '\n'];
    };
    for (const f of [MICROVM_GUEST, Q35_GUEST]) for (const h of heads(f)) expect(qemuLogAdapter.sniff(h, Buffer.from(h))).toBe(false);
    for (const f of qemuLogs) {
      const h = lines(f).slice(0, 40).join('\n') + '\n';
      expect(ftraceAdapter.sniff(h, Buffer.from(h))).toBe(false);
      // and QEMU's log without timestamps
      expect(ftraceAdapter.sniff(h.replace(/^\d+@[\d.]+:/gm, ''), Buffer.alloc(0))).toBe(false);
    }
  });
});

describe('bad input', () => {
  const good = lines(MICROVM_GUEST);

  it('counts garbage, unknown events and lost events with file:line, and keeps the rest', async () => {
    const ls = [...good];
    // inserted lines carry the time of the line before them
    const tsAt = (i: number) => / (\d+\.\d+): /.exec(ls[i - 1]!)![1];
    ls.splice(100, 0, 'this is not an ftrace line');
    ls.splice(200, 0, `          dd-106     [000] ..... ${tsAt(200)}: block_rq_issue: 254,0 WS 4096 () sector + 8 [dd]`);
    ls.splice(300, 0, `          dd-106     [000] ..... ${tsAt(300)}: sched_switch: prev_comm=dd prev_pid=106 ==> next_comm=swapper/0`);
    ls.splice(400, 0, 'CPU:0 [LOST 42 EVENTS]');
    const file = writeTrace(tempDir(), 'bad.txt.gz', ls);
    const { events, stats } = await readAll(file);
    const malformed = stats.list().find((s) => s.name === 'line.malformed')!;
    expect(malformed.samples.map((s) => s.line)).toEqual([101, 201]);
    expect(malformed.samples[1]!.detail).toMatch(/^block_rq_issue: expected/);
    expect(stats.list().find((s) => s.name === 'event.unknown')!.byKey.get('sched_switch')).toBe(1);
    expect(stats.list().find((s) => s.name === 'events.lost')!.samples[0]).toMatchObject({ line: 401, detail: 'CPU 0: 42 events lost by the tracer' });
    expect(events.length).toBe((await readAll(MICROVM_GUEST)).events.length);
  });

  it("counts events named like an object's own properties as unknown (they crashed the ingest)", async () => {
    const at = (ev: string) => `            init-1       [000] ..... 1795579107.891435: ${ev}: x`;
    const file = writeTrace(tempDir(), 'proto.txt', [...good.slice(0, 40), ...['__proto__', 'hasOwnProperty', 'constructor', 'toString'].map(at)]);
    const { events, stats } = await readAll(file);
    expect(events.length).toBe((await readAll(writeTrace(tempDir(), 'head.txt', good.slice(0, 40)))).events.length);
    expect([...stats.list().find((s) => s.name === 'event.unknown')!.byKey.keys()]).toEqual(['__proto__', 'hasOwnProperty', 'constructor', 'toString']);
  });

  it('rejects a file that is not a usable trace, naming it', async () => {
    const file = writeTrace(tempDir(), 'notes.txt', ['# tracer: nop', ...Array.from({ length: 20 }, (_, i) => `line ${i} of prose`)]);
    await expect(readAll(file)).rejects.toThrow(InputError);
    await expect(readAll(file)).rejects.toThrow(/not a usable ftrace trace: 1 good lines, 20 bad; first bad line 2/);
  });
});
