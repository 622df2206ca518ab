/**
 * avpscope under hostile input and interruption (issue 9), through the real command line: nothing
 * lost, nothing overwritten, no number that lies. Every case exits 0, 1 or 2 with a message naming
 * the file, never a stack trace.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { Field, Int64, Schema, Table, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { ingest } from '../src/api/ingest.ts';
import { queryRows } from '../src/perf/store.ts';
import { MICROVM_MODERN, lines, real, tempDir, writeTrace } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'avpscope.js');
function avpscope(args: string[], opts: { input?: string | Buffer; cwd?: string; shell?: boolean } = {}) {
  const r = opts.shell
    ? spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" ${args.join(' ')}`], { encoding: 'utf8', cwd: opts.cwd ?? tempDir() })
    : spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: opts.cwd ?? tempDir(), input: opts.input });
  expect(r.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(r.status === null ? r.signal : r.status).toSatisfy((c) => [0, 1, 2].includes(c as number));
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const GOOD_SUMMARY = /Summary: 76 PASS, 0 FAIL, 35 NOT-OBSERVED, 13 NOT-APPLICABLE/;

/** A store avpscope wrote, to be protected or replaced. */
function aStore(dir: string, name = 'run.duckdb'): string {
  const db = join(dir, name);
  expect(avpscope(['ingest', MICROVM_MODERN, '--db', db]).code).toBe(0);
  return db;
}

/** What is in a directory, besides what the test put there. */
const leftovers = (dir: string, keep: string[]) => readdirSync(dir).filter((n) => !keep.includes(n));

/** The microvm trace `copies` times over, each copy 10 s later: big enough to interrupt. */
function bigTrace(dir: string, copies: number): string {
  const ls = lines(MICROVM_MODERN);
  const out: string[] = [];
  for (let k = 0; k < copies; k++) for (const l of ls) out.push(l.replace(/^(\d+)@(\d+)\./, (_m, pid, s) => `${pid}@${Number(s) + 10 * k}.`));
  return writeTrace(dir, 'big.trace', out);
}

describe('never overwrite what is not ours', { timeout: 240_000 }, () => {
  it('--db refuses a text file, a trace, the input itself and another program\'s DuckDB database, and leaves each as it was', async () => {
    const dir = tempDir();
    const text = writeTrace(dir, 'notes.txt', ['my notes']);
    const otherTrace = writeTrace(dir, 'other.trace', lines(MICROVM_MODERN).slice(0, 50));
    const input = writeTrace(dir, 'input.trace', lines(MICROVM_MODERN));
    const foreign = join(dir, 'app.duckdb');
    const inst = await DuckDBInstance.create(foreign);
    const conn = await inst.connect();
    await conn.run('CREATE TABLE accounts (id INTEGER)');
    conn.closeSync();
    inst.closeSync();
    const cases: [string, RegExp][] = [
      [text, /notes\.txt: --db: refusing to replace it: it is a text file, not an avpscope store/],
      [otherTrace, /other\.trace: --db: refusing to replace it: it is a trace \(qemu-log\)/],
      [input, /input\.trace: --db: is also an input \(.*input\.trace\); an input is never overwritten/],
      [foreign, /app\.duckdb: --db: refusing to replace it: it is another program's DuckDB database \(no avpscope meta table\)/],
      [dir, /--db: is a directory/],
    ];
    for (const [target, msg] of cases) {
      const before = existsSync(target) && !target.endsWith(dir) ? readFileSync(target) : undefined;
      const r = avpscope(['ingest', input, '--db', target]);
      expect(r.code, target).toBe(2);
      expect(r.err).toMatch(msg);
      if (before) expect(readFileSync(target).equals(before)).toBe(true);
    }
    expect(leftovers(dir, ['notes.txt', 'other.trace', 'input.trace', 'app.duckdb'])).toEqual([]);
    // the same input reached by another path (a symlink's target, ./name) is still the input
    expect(avpscope(['ingest', 'input.trace', '--db', './input.trace'], { cwd: dir }).code).toBe(2);
    // a store avpscope wrote is replaced
    const db = aStore(dir);
    expect(avpscope(['ingest', input, '--db', db]).code).toBe(0);
  });

  it('a store another process holds is an exit-2 error naming the holder, never replaced', async () => {
    const dir = tempDir();
    const db = aStore(dir);
    const before = readFileSync(db);
    for (const mode of ['READ_WRITE', 'READ_ONLY']) {
      const holder = `
        const { DuckDBInstance } = await import('@duckdb/node-api');
        const i = await DuckDBInstance.create(${JSON.stringify(db)}, { access_mode: '${mode}' });
        await i.connect();
        process.stdout.write('holding\\n');
        setTimeout(() => {}, 20000);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', holder], { cwd: ROOT });
      await new Promise<void>((res) => child.stdout.once('data', () => res()));
      try {
        const r = avpscope(['ingest', MICROVM_MODERN, '--db', db]);
        expect(r.code, mode).toBe(2);
        expect(r.err).toMatch(/run\.duckdb: --db: held by another process \(.*lock.*PID \d+.*\); it is not replaced while in use/i);
      } finally {
        child.kill();
      }
      expect(readFileSync(db).equals(before)).toBe(true);
    }
  });

  it('another avpscope writing the store holds its lock: exit 2 naming the lock; a dead owner\'s lock is stale and removed', () => {
    const dir = tempDir();
    const db = aStore(dir);
    writeFileSync(`${db}.lock`, `${process.pid}\n`);
    const r = avpscope(['ingest', MICROVM_MODERN, '--db', db]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`run.duckdb: --db: another avpscope (pid ${process.pid}) is writing this store (lock ${db}.lock)`);
    // a process that has exited: its pid is gone
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(`${db}.lock`, `${gone}\n`);
    mkdirSync(`${db}.tmp-${gone}-1.tmp`);
    writeFileSync(`${db}.tmp-${gone}-1`, 'half a database');
    writeFileSync(`${db}.tmp-${gone}-1.wal`, 'x');
    writeFileSync(`${db}.tmp-${gone}-1.events.tsv`, 'x');
    const ok = avpscope(['ingest', MICROVM_MODERN, '--db', db]);
    expect(ok.code).toBe(0);
    expect(ok.err).toMatch(new RegExp(`removed 5 temporary file\\(s\\) left by a killed avpscope run: .*run\\.duckdb\\.lock`));
    expect(leftovers(dir, ['run.duckdb'])).toEqual([]);
  });

  it('SIGINT and SIGTERM stop an ingest with one line and leave the earlier store and no temporary file', async () => {
    const dir = tempDir();
    const trace = bigTrace(dir, 40);
    const db = aStore(dir);
    const before = readFileSync(db);
    for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const child = spawn(process.execPath, [BIN, 'ingest', trace, '--db', db], { cwd: dir });
      let err = '';
      child.stderr.on('data', (d) => (err += String(d)));
      // wait until the new store is being written
      while (!readdirSync(dir).some((n) => n.startsWith('run.duckdb.tmp-'))) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
      child.kill(sig);
      const exit = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
      expect(exit, err).toBe(code);
      expect(err.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^avpscope: interrupted by ${sig}: stopped, \\d+ temporary file\\(s\\) removed; no output was replaced$`))]);
      expect(leftovers(dir, ['big.trace', 'run.duckdb'])).toEqual([]);
      expect(readFileSync(db).equals(before)).toBe(true);
    }
  });

  it('convert -o: never onto its input, never a directory; a failed convert leaves the earlier output and no partial file', () => {
    const dir = tempDir();
    const input = writeTrace(dir, 'in.trace', lines(MICROVM_MODERN));
    const before = readFileSync(input);
    const self = avpscope(['convert', input, '--to', 'jsonl', '-o', input]);
    expect(self.code).toBe(2);
    expect(self.err).toMatch(/in\.trace: -o: is also an input/);
    expect(readFileSync(input).equals(before)).toBe(true);
    const toDir = avpscope(['convert', input, '--to', 'jsonl', '-o', dir]);
    expect(toDir.code).toBe(2);
    expect(toDir.err).toMatch(/-o: is a directory; give a file name/);
    const out = join(dir, 'out.jsonl');
    expect(avpscope(['convert', input, '--to', 'jsonl', '-o', out]).code).toBe(0);
    const good = readFileSync(out);
    expect(good.toString().split('\n').length).toBe(4811);
    // mostly garbage: found unusable only at its end, after many events were written
    const ls = lines(MICROVM_MODERN);
    const bad = writeTrace(dir, 'bad.trace', [...ls, ...Array.from({ length: ls.length + 10 }, (_, k) => `garbage ${k}`)]);
    const failed = avpscope(['convert', bad, '--to', 'jsonl', '-o', out]);
    expect(failed.code).toBe(2);
    expect(failed.err).toMatch(/bad\.trace:5141: not a usable qemu-log trace/);
    expect(readFileSync(out).equals(good)).toBe(true);
    expect(leftovers(dir, ['in.trace', 'out.jsonl', 'bad.trace'])).toEqual([]);
  });

  it('gate -o is written whole, never over the budgets file', () => {
    const dir = tempDir();
    const budgets = writeTrace(dir, 'b.budgets', ['blk.latency.p99{op=write} <= 2ms']);
    const r = avpscope(['gate', MICROVM_MODERN, '--no-db', '--budgets', budgets, '-o', budgets]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/b\.budgets: -o: is also an input/);
    const out = join(dir, 'gate.json');
    expect(avpscope(['gate', MICROVM_MODERN, '--no-db', '--budgets', budgets, '-o', out]).code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).passed).toBe(true);
    expect(leftovers(dir, ['b.budgets', 'gate.json'])).toEqual([]);
  });
});

describe('inputs as users give them', { timeout: 240_000 }, () => {
  const gz = readFileSync(MICROVM_MODERN);

  it("'-' reads standard input, gzip or plain, with the evidence lines", () => {
    for (const input of [gz, Buffer.from(lines(MICROVM_MODERN).join('\n') + '\n')]) {
      const r = avpscope(['check', '-'], { input });
      expect(r.code).toBe(0);
      expect(r.out).toMatch(GOOD_SUMMARY);
      expect(r.out).toMatch(/at -:114: 9910@1795565284\.500065:virtio_set_status vdev 0x555e3b8df0f0 val 15/);
    }
  });

  it('a FIFO and process substitution are read as streams', () => {
    const dir = tempDir();
    const sub = avpscope(['check', `<(zcat ${MICROVM_MODERN})`], { shell: true, cwd: dir });
    expect(sub.code).toBe(0);
    expect(sub.out).toMatch(GOOD_SUMMARY);
    const fifo = join(dir, 'trace.fifo');
    spawnSync('mkfifo', [fifo]);
    const viaFifo = avpscope(['check', fifo, '&', 'cat', MICROVM_MODERN, '>', fifo, ';', 'wait', '$!'], { shell: true, cwd: dir });
    expect(viaFifo.code).toBe(0);
    expect(viaFifo.out).toMatch(GOOD_SUMMARY);
    // a guest trace and its host trace, both streamed: the clock alignment reads them twice
    const host = real('guest-ftrace/microvm-modern.qemu.trace.gz');
    const guest = real('guest-ftrace/microvm-modern.guest-ftrace.txt.gz');
    const files = avpscope(['perf', 'xlayer', host, guest, '--no-db', '--vm', 'm', 'm']);
    const streams = avpscope(['perf', 'xlayer', `<(cat ${host})`, `<(cat ${guest})`, '--no-db', '--vm', 'm', 'm'], { shell: true, cwd: dir });
    expect(streams.code).toBe(0);
    expect(streams.out.replace(/\/dev\/fd\/\d+/g, 'F')).toBe(files.out.replace(new RegExp(`${host}|${guest}`, 'g'), 'F'));
    expect(leftovers(dir, ['trace.fifo'])).toEqual([]);
  });

  it('the same file, or the same content, given twice is an error naming both', () => {
    const dir = tempDir();
    const copy = join(dir, 'copy.trace.gz');
    writeFileSync(copy, gz);
    const twice = avpscope(['check', MICROVM_MODERN, MICROVM_MODERN, '--no-db']);
    expect(twice.code).toBe(2);
    expect(twice.err).toContain(`given twice: ${MICROVM_MODERN} and ${MICROVM_MODERN} are the same file`);
    const same = avpscope(['check', MICROVM_MODERN, copy, '--no-db']);
    expect(same.code).toBe(2);
    expect(same.err).toContain(`given twice: ${MICROVM_MODERN} and ${copy} have the same content`);
  });

  it('budgets files are read with a limit and a linear parser', () => {
    const dir = tempDir();
    const gate = (budgets: string) => avpscope(['gate', MICROVM_MODERN, '--no-db', '--budgets', budgets]);
    const zero = gate('/dev/zero');
    expect(zero.code).toBe(2);
    expect(zero.err).toMatch(/\/dev\/zero: the budgets file is larger than 1024 KiB/);
    const deep = join(dir, 'deep.json');
    writeFileSync(deep, '{"budgets":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}');
    expect(gate(deep).err).toMatch(/deep\.json:1: not valid JSON: nested deeper than 64 levels/);
    // 40k lines of spaces: the line pattern must not backtrack on them
    const spaces = join(dir, 'spaces.budgets');
    writeFileSync(spaces, `a${' '.repeat(1_000_000)}x\n`);
    const t0 = Date.now();
    expect(gate(spaces).err).toMatch(/spaces\.budgets:1: expected `metric/);
    expect(Date.now() - t0).toBeLessThan(20_000);
    const huge = writeTrace(dir, 'huge.budgets', ['blk.flush.p99 <= 1e400s']);
    expect(gate(huge).err).toMatch(/huge\.budgets:1: limit: blk\.flush\.p99: '1e400' is too large a number/);
    const dur = avpscope(['perf', 'blk', MICROVM_MODERN, '--no-db', '--durable-window', '1e400s']);
    expect(dur.code).toBe(2);
    expect(dur.err).toMatch(/--durable-window: '1e400' is too large a number/);
  });

  it('a JSONL header without events, an unreadable trace, a guest timestamp of 10^14 s: exit 2 naming the file', () => {
    const dir = tempDir();
    const header = writeTrace(dir, 'header.jsonl', ['{"format":"avpscope-events","version":1,"origin_ns":"0","view":"host"}']);
    const h = avpscope(['check', header, '--no-db']);
    expect(h.code).toBe(2);
    expect(h.err).toMatch(/header\.jsonl: a JSON Lines header and no event/);
    const guest = lines(real('guest-ftrace/microvm-modern.guest-ftrace.txt.gz'));
    const at = guest.findIndex((l) => / \d+\.\d+: /.test(l));
    const one = [...guest];
    one[at] = one[at]!.replace(/ (\d+)\.(\d+): /, ' 100000000000000.$2: ');
    const oneBad = writeTrace(dir, 'one.txt', one);
    const r1 = avpscope(['ingest', oneBad, '--no-db']);
    expect(r1.code).toBe(0);
    expect(r1.out).toMatch(/1 bad input lines/);
    const all = writeTrace(dir, 'all.txt', guest.map((l) => l.replace(/ (\d+)\.(\d+): /, ' 100000000000000.$2: ')));
    const r2 = avpscope(['check', all, '--no-db']);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(new RegExp(`all\\.txt:${at + 1}: not a usable ftrace trace: \\d+ good lines, \\d+ bad; first bad line ${at + 1}: timestamp beyond the year 2262`));
    // EACCES: run as an unprivileged user (root reads everything)
    const locked = join(dir, 'locked.trace.gz');
    writeFileSync(locked, gz);
    chmodSync(locked, 0o000);
    chmodSync(dir, 0o755);
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'check', locked, '--no-db'], { encoding: 'utf8', cwd: '/tmp', env: { ...process.env, HOME: '/tmp' } });
    if (r.error === undefined && process.getuid?.() === 0) {
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`${locked}: permission denied (EACCES)`);
    }
  });
});

describe('time you can trust', { timeout: 240_000 }, () => {
  const ls = lines(MICROVM_MODERN);

  it('five lines 100000 s in the future cost only themselves: same verdicts, counted, and --strict fails on them', () => {
    const dir = tempDir();
    const edited = [...ls];
    const from = 2000;
    for (let k = from; k < from + 5; k++) edited[k] = edited[k]!.replace(/@(\d+)\./, (_m, s) => `@${Number(s) + 100000}.`);
    const file = writeTrace(dir, 'future.trace', edited);
    const r = avpscope(['check', file, '--no-db', '--format', 'json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.summary.must_failures).toBe(0);
    const dropped = j.stats.find((s: { name: string }) => s.name === 'time.dropped');
    expect(dropped.count).toBe(5);
    expect(dropped.samples.map((s: { line: number }) => s.line)).toEqual([2001, 2002, 2003, 2004, 2005]);
    const strict = avpscope(['check', file, '--no-db', '--strict']);
    expect(strict.code).toBe(2);
    expect(strict.err).toMatch(/future\.trace:2001: --strict: .*5 time\.dropped/);
  });

  it('JSON Lines stepping 7 s back for a stretch: counted, and no latency spans the steps', () => {
    const dir = tempDir();
    const jl = avpscope(['convert', MICROVM_MODERN, '--to', 'jsonl']).out.trim().split('\n');
    // the lines that take a write request's chain
    const writes = jl.flatMap((l, i) => (l.includes('"kind":"vq.pop"') && jl.slice(i + 1, i + 4).some((n) => n.includes('"op":"write"')) ? [i] : []));
    // from just after the 21st write was taken to just after the 121st: 7 s earlier
    const [from, to] = [writes[20]! + 1, writes[120]! + 1];
    const shifted = jl.map((l, i) => (i >= from && i < to ? l.replace(/^\{"ts":(\d+)/, (_m, t) => `{"ts":${Number(t) - 7e9}`) : l));
    const file = writeTrace(dir, 'back.jsonl', shifted);
    const perf = (f: string) => JSON.parse(avpscope(['perf', 'blk', f, '--no-db', '--format', 'json']).out).latency.find((r: { op: string }) => r.op === 'write');
    const orig = perf(MICROVM_MODERN);
    const back = perf(file);
    // the request taken before the step back and the one taken before the step forward: no figure
    expect(back.n).toBe(orig.n - 2);
    expect(back.max_ns).toBeLessThanOrEqual(orig.max_ns);
    expect(back.p99_ns).toBeLessThan(1e6);
    const j = JSON.parse(avpscope(['check', file, '--no-db', '--format', 'json']).out);
    const stat = (n: string) => j.stats.find((s: { name: string }) => s.name === n);
    expect(stat('time.backwards').samples[0].detail).toMatch(/^7\.\d+ s earlier than the line before, and the lines after it follow/);
    expect(stat('pair.broken').samples.map((s: { detail: string }) => s.detail)).toEqual([
      expect.stringMatching(/ends 69\d{5} µs before it starts: no latency/),
      expect.stringMatching(/the clock steps at line \d+, between its start and its end: no latency/),
    ]);
  });

  it('an Arrow row with a null ts is a bad row, not time 0', async () => {
    const dir = tempDir();
    const meta = new Map([['avpscope', 'events/1'], ['origin_ns', '0'], ['view', 'host']]);
    const n = 40;
    const ts = vectorFromArray(Array.from({ length: n }, (_, i) => (i === 7 ? null : BigInt(1000 * (i + 1)))), new Int64());
    const kind = vectorFromArray(Array.from({ length: n }, () => 'status'), new Utf8());
    const dev = vectorFromArray(Array.from({ length: n }, () => 'blk0'), new Utf8());
    const fields = vectorFromArray(Array.from({ length: n }, (_, i) => JSON.stringify({ value: i % 2 === 0 ? 0 : 1 })), new Utf8());
    const table = new Table(new Schema([new Field('ts', new Int64(), true), new Field('kind', new Utf8()), new Field('dev', new Utf8()), new Field('fields', new Utf8())], meta), { ts, kind, dev, fields } as never);
    const file = join(dir, 'null-ts.arrow');
    writeFileSync(file, tableToIPC(table, 'stream'));
    const r = await ingest({ files: [file], db: ':memory:' });
    try {
      expect(r.run.stats.list().find((s) => s.name === 'line.malformed')!.samples).toEqual([{ file, line: 8, detail: 'ts: null (every event needs its time)' }]);
      const rows = await queryRows(r.store.conn, 'SELECT min(ts) lo, count(*) n FROM events');
      expect(rows[0]).toEqual({ lo: 1000, n: n - 1 });
    } finally {
      r.store.close();
    }
  });

  it('a shuffled GPU trace gives no negative latency: broken pairs are counted instead', async () => {
    const dir = tempDir();
    const host = lines(real('gpu-multi/cluster.trace.gz'));
    // every 10 lines in reverse order: completions stamped before their requests
    const sh: string[] = [];
    for (let i = 0; i < host.length; i += 10) sh.push(...host.slice(i, i + 10).reverse());
    const file = writeTrace(dir, 'cluster.trace', sh);
    const r = await ingest({ files: [file], db: ':memory:' });
    try {
      const [spans] = await queryRows(r.store.conn, 'SELECT count(*) n, min(latency_ns) lo FROM spans');
      expect(spans!.lo).toBeGreaterThanOrEqual(0);
      const [gpu] = await queryRows(r.store.conn, 'SELECT least(min(host_ns), min(guest_ns)) lo FROM gpu_commands');
      expect(gpu!.lo).toBeGreaterThanOrEqual(0);
      // before: 216 spans of negative latency among 779
      expect(r.run.stats.count('pair.broken')).toBe(216);
      expect(spans!.n).toBe(779 - 216);
    } finally {
      r.store.close();
    }
  });
});

// keep gzip-made helpers honest: a gzip stream on stdin is recognised by content
it('gzip on standard input is sniffed from its first bytes', () => {
  const r = avpscope(['convert', '-', '--to', 'jsonl'], { input: gzipSync(lines(MICROVM_MODERN).slice(0, 200).join('\n') + '\n') });
  expect(r.code).toBe(0);
  expect(r.out.split('\n')[0]).toMatch(/"format":"avpscope-events"/);
});

// found by the long campaign: a DriverFeaturesSel of 2^40 made the feature set a BigInt too large to exist (exit 3)
it('a feature word selector of 2^40 is no crash', async () => {
  const dir = tempDir();
  const w = (ts: number, offset: number, value: number) => JSON.stringify({ ts, kind: 'mmio.write', dev: 'blk0', offset, value });
  const st = (ts: number, value: number) => JSON.stringify({ ts, kind: 'status', dev: 'blk0', value });
  const file = writeTrace(dir, 'sel.jsonl', [
    JSON.stringify({ ts: 0, kind: 'device', dev: 'blk0', device_id: 2, name: 'virtio-blk-device', transport: 'mmio' }),
    st(10, 1), st(20, 3), w(30, 0x24, 2 ** 40), w(40, 0x20, 1), w(50, 0x24, 0), w(60, 0x20, 0x200), st(70, 11), st(80, 15),
  ]);
  const r = await ingest({ files: [file], db: ':memory:' });
  try {
    // the word behind the absurd selector holds no feature; the one of word 0 (FLUSH, bit 9) counts
    expect(await queryRows(r.store.conn, 'SELECT features_accepted FROM devices')).toEqual([{ features_accepted: '0x200' }]);
  } finally {
    r.store.close();
  }
});
