/**
 * Cross-layer block latency on the real pairs: every guest request met with its QEMU chain (checked
 * against QEMU's own lines), its layers adding up to its latency, and requests or interrupts one
 * side lost (edited copies of the real traces) judged as findings with both sides' lines.
 */
import { AVPS_INDEX } from '../src/checks/avps-index.ts';
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ingest } from '../src/api/ingest.ts';
import { loadReport, type Report } from '../src/api/report.ts';
import { rwbsOp } from '../src/ingest/ftrace/rwbs.ts';
import { queryRows, type Row } from '../src/perf/store.ts';
import { lines, real, reportOf, tempDir, verdict, writeTrace } from './helpers.ts';

const MICROVM = { host: real('guest-ftrace/microvm-modern.qemu.trace.gz'), guest: real('guest-ftrace/microvm-modern.guest-ftrace.txt.gz') };
const Q35 = { host: real('guest-ftrace/q35-gpu.qemu.trace.gz'), guest: real('guest-ftrace/q35-gpu.guest-ftrace.txt.gz') };
const BIN = join(import.meta.dirname, '..', 'bin', 'avpscope.js');

async function query(files: string[], ...sql: string[]): Promise<{ rows: Row[][]; report: Report }> {
  const r = await ingest({ files, db: ':memory:' });
  try {
    const rows: Row[][] = [];
    for (const q of sql) rows.push(await queryRows(r.store.conn, q));
    return { rows, report: await loadReport(r.store.conn) };
  } finally {
    r.store.close();
  }
}

/** "... 1795579109.313526: ..." -> seconds as ns, exactly */
const tsOf = (l: string) => {
  const m = / (\d+)\.(\d{6}): /.exec(l)!;
  return BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!) * 1000n;
};

describe('cross-layer requests on the real pairs', () => {
  it.each([
    ['microvm-modern', MICROVM],
    ['q35-gpu', Q35],
  ])('%s: every guest request meets its QEMU chain, and its layers add up to its latency', async (_name, p) => {
    const {
      rows: [reqs, layers, align],
    } = await query(
      [p.host, p.guest],
      'SELECT * FROM xlayer_requests ORDER BY req_id',
      'SELECT req_id, sum(ns) AS ns FROM xlayer_layers GROUP BY req_id',
      'SELECT drift_ppm FROM clock_alignment',
    );
    const gl = lines(p.guest);
    const hl = lines(p.host);
    // one request per block_rq_issue, of the op its rwbs names
    const issues = gl.filter((l) => / block_rq_issue: /.test(l)).map((l) => rwbsOp(/block_rq_issue: \S+ (\S+)/.exec(l)![1]!));
    expect(reqs!.length).toBe(issues.length);
    for (const op of new Set(issues)) expect(reqs!.filter((r) => r.op === op).length).toBe(issues.filter((x) => x === op).length);
    // QEMU completed as many block requests as the guest issued (virtio_blk_req_complete lines):
    // every request is seen by both sides and completed
    expect(hl.filter((l) => l.includes(':virtio_blk_req_complete ')).length).toBeGreaterThanOrEqual(issues.length);
    expect(reqs!.every((r) => r.outcome === 'complete' && r.t_pop !== null && r.t_get_buf !== null)).toBe(true);

    const sums = new Map(layers!.map((l) => [l.req_id, l.ns]));
    const drift = align![0]!.drift_ppm as number;
    for (const r of reqs!) {
      // the layers add up to the whole, exactly
      expect(sums.get(r.req_id)).toBe(r.total_ns);
      // issue to completion as the guest's own lines stamp them, on a clock running `drift` off the host's
      const raw = Number(tsOf(gl[(r.done_line as number) - 1]!) - tsOf(gl[(r.issue_line as number) - 1]!));
      expect(Math.abs((r.t_done as number) - (r.t_issue as number) - raw * (1 + drift * 1e-6))).toBeLessThanOrEqual(2);
      expect(r.total_ns as number).toBeGreaterThanOrEqual((r.t_done as number) - (r.t_issue as number));

      // the chain met is QEMU's for this request: its pop names the element that QEMU then
      // reads or writes at the request's sector and length, or (flush, discard) completes without either
      const pop = /:virtqueue_pop vq \S+ elem (\S+)/.exec(hl[(r.pop_line as number) - 1]!)![1]!;
      const next = hl.slice(r.pop_line as number).find((l) => l.includes(`req ${pop} `) && /virtio_blk_(handle_read|handle_write|req_complete)/.test(l))!;
      if (r.op === 'read' || r.op === 'write') {
        expect(next).toContain(`:virtio_blk_handle_${r.op} `);
        expect(next).toMatch(new RegExp(` sector ${r.sector} nsectors ${r.nsectors}$`));
      } else expect(next).toContain(':virtio_blk_req_complete ');
    }
  });

  it.each([MICROVM, Q35])('adding the guest trace changes no verdict on the host devices (%#)', async (p) => {
    // the AVPS rules that read the guest's own view (GPU commands and responses) gain evidence from it
    const guestFed = new Set([...AVPS_INDEX].filter(([, e]) => e.sources.inputs.includes('ftrace')).map(([id]) => id));
    const hostRules = (r: Report) => r.findings.filter((f) => !f.rule.startsWith('xlayer.') && !guestFed.has(f.rule)).map(({ evidence: _e, ...f }) => f);
    expect(hostRules(await reportOf([p.host, p.guest]))).toEqual(hostRules(await reportOf([p.host])));
  });

  it('shows ioeventfd: the kick reaches QEMU in µs on virtio-mmio, tens of µs later on virtio-pci', async () => {
    const exit = async (p: typeof MICROVM) =>
      (await query([p.host, p.guest], "SELECT p50_ns FROM xlayer_layer_latency WHERE op = 'write' AND layer = 'exit'")).rows[0]![0]!.p50_ns as number;
    // README: microvm's kicks are handled on the vCPU thread (median − minimum 5–9 µs); q35's blk
    // kicks go through ioeventfd and QEMU's main loop (75 µs and more)
    expect(await exit(MICROVM)).toBeLessThan(20_000);
    expect(await exit(Q35)).toBeGreaterThan(50_000);
  });

  it('perf xlayer shows where the time of a read, a write, a flush and a discard goes', () => {
    const out = execFileSync('node', [BIN, 'perf', 'xlayer', MICROVM.host, MICROVM.guest, '--no-db'], { encoding: 'utf8' });
    for (const op of ['read', 'write', 'flush', 'discard']) expect(out).toMatch(new RegExp(`^${op} \\(VM microvm-modern\\): \\d+ requests?, all seen by both sides`, 'm'));
    expect(out).toMatch(/^backend +host /m);
    expect(out).toContain('One-sided: none');
    const json = JSON.parse(execFileSync('node', [BIN, 'perf', 'xlayer', MICROVM.host, MICROVM.guest, '--no-db', '--format', 'json'], { encoding: 'utf8' }));
    expect(json.latency.map((r: { op: string }) => r.op).sort()).toEqual(['discard', 'flush', 'read', 'write']);
    expect(json.alignments[0].available).toBe(true);
  });
});

describe('one side saw it, the other never did', () => {
  const gl = lines(MICROVM.guest);
  const hl = lines(MICROVM.host);
  /** the 100th write of the guest's 1 MiB O_DIRECT run: a request in the middle of a busy stretch */
  const victim = gl.filter((l) => / block_rq_issue: 254,0 WS /.test(l))[100]!;
  const [, sector, count] = / (\d+) \+ (\d+) \[/.exec(victim)!;

  it('the unedited pair passes both cross-layer checks', async () => {
    const r = await reportOf([MICROVM.host, MICROVM.guest]);
    expect(verdict(r, 'xlayer.blk.request-seen-through')).toEqual(['PASS']);
    expect(verdict(r, 'xlayer.interrupt-sent')).toEqual(['PASS', 'PASS', 'PASS', 'PASS']);
  });

  it('a dropped guest block_rq_complete: QEMU returned it, the guest never completed it', async () => {
    const done = gl.findIndex((l) => l.includes(`block_rq_complete: 254,0 WS () ${sector} + ${count} [0]`));
    const file = writeTrace(tempDir(), 'guest.txt.gz', gl.filter((_, i) => i !== done));
    const {
      rows: [lost],
      report,
    } = await query([MICROVM.host, file], 'SELECT * FROM xlayer_one_sided');
    expect(lost!.map((r) => [r.outcome, r.sector, r.nsectors])).toEqual([['never-completed', Number(sector), Number(count)]]);
    const f = report.findings.find((x) => x.rule === 'xlayer.blk.request-seen-through')!;
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/the driver took the buffer back \(vq_get_buf\) but the block layer never completed it/);
    // both sides' lines: the guest's issue, QEMU's used element
    expect(f.evidence.some((e) => e.file === file && e.raw === victim)).toBe(true);
    expect(f.evidence.some((e) => e.file === MICROVM.host && /:virtqueue_fill /.test(e.raw ?? ''))).toBe(true);
  });

  it('a dropped QEMU virtqueue_pop: the guest issued and kicked it, QEMU never took it', async () => {
    const submit = hl.findIndex((l) => new RegExp(`:virtio_blk_handle_write .* sector ${sector} nsectors ${count}$`).test(l));
    const elem = / req (\S+) /.exec(hl[submit]!)![1]!;
    const pop = hl.slice(0, submit).findLastIndex((l) => l.includes(`:virtqueue_pop `) && l.includes(`elem ${elem} `));
    const file = writeTrace(tempDir(), 'host.trace.gz', hl.filter((_, i) => i !== pop));
    const {
      rows: [lost],
      report,
    } = await query([file, MICROVM.guest], 'SELECT * FROM xlayer_one_sided');
    expect(lost!.map((r) => [r.outcome, r.sector])).toEqual([['never-popped', Number(sector)]]);
    const f = report.findings.find((x) => x.rule === 'xlayer.blk.request-seen-through')!;
    expect(f.verdict).toBe('FAIL');
    expect(f.message).toMatch(/QEMU never took it \(no virtqueue_pop\)/);
    expect(f.evidence.some((e) => e.file === MICROVM.guest && e.raw === victim)).toBe(true);
    // QEMU's side: the kick it logged for the request, and the next chain it took instead
    expect(f.evidence.some((e) => e.file === file && /:virtio_queue_notify /.test(e.raw ?? ''))).toBe(true);
    expect(f.evidence.some((e) => e.file === file && /:virtqueue_pop /.test(e.raw ?? ''))).toBe(true);
  });

  it('a dropped QEMU virtio_notify: the guest handled an interrupt QEMU never sent', async () => {
    // the notification that answered the victim: the first virtio_notify after its handle_write
    const submit = hl.findIndex((l) => new RegExp(`:virtio_blk_handle_write .* sector ${sector} nsectors ${count}$`).test(l));
    const notify = hl.findIndex((l, i) => i > submit && l.includes(':virtio_notify '));
    const file = writeTrace(tempDir(), 'host.trace.gz', hl.filter((_, i) => i !== notify));
    const report = await reportOf([file, MICROVM.guest]);
    const f = report.findings.find((x) => x.rule === 'xlayer.interrupt-sent' && x.verdict === 'FAIL')!;
    expect(f.message).toMatch(/the guest handled interrupt \d+ of virtio0 \(irq 49\) but QEMU had sent only \d+ notification\(s\)/);
    expect(f.evidence.some((e) => e.file === MICROVM.guest && /irq_handler_entry: irq=49 name=virtio0$/.test(e.raw ?? ''))).toBe(true);
  });

  it('judges nothing cross-layer without a guest trace, and says NOT-OBSERVED for one it cannot align', async () => {
    const hostOnly = await reportOf([MICROVM.host]);
    expect(hostOnly.findings.filter((f) => f.rule.startsWith('xlayer.'))).toEqual([]);
    const other = await reportOf([MICROVM.host, Q35.guest]);
    expect(verdict(other, 'xlayer.blk.request-seen-through')).toEqual(['NOT-OBSERVED']);
    expect(other.findings.find((f) => f.rule === 'xlayer.blk.request-seen-through')!.message).toMatch(/could not be aligned/);
  });
});
