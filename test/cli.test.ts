/** The command line as a user runs it: exit codes, help, output formats, no stack traces. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MICROVM_LEGACY, MICROVM_MODERN, tempDir, writeTrace } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'avpscope.js');
function avpscope(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: tempDir() });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const noStack = (s: string) => expect(s).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);

describe('avpscope command line', () => {
  it('exit 0 when no MUST fails, 1 when one does; text names the summary', () => {
    const ok = avpscope('check', MICROVM_MODERN, '--no-db');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/Summary: \d+ PASS, 0 FAIL, \d+ NOT-OBSERVED(, \d+ NOT-APPLICABLE)? — no device or platform MUST requirement fails\./);
    const fail = avpscope('check', MICROVM_LEGACY, '--no-db');
    expect(fail.code).toBe(1);
    expect(fail.out).toMatch(/10 device or platform MUST requirement\(s\) FAIL/);
  });

  it('--format json is the same report, machine-readable', () => {
    const r = avpscope('check', MICROVM_LEGACY, '--no-db', '--format', 'json');
    const j = JSON.parse(r.out);
    expect(j.summary.must_failures).toBe(10);
    const failed = j.findings.filter((f: { verdict: string }) => f.verdict === 'FAIL').map((f: { rule: string }) => f.rule);
    expect([...new Set(failed)].sort()).toEqual(['AVPS-v2.0-4', 'AVPS-v2.0-41', 'AVPS-v2.0-46', 'virtio-mmio.version-2', 'virtio.version-1']);
  });

  it('ingest writes a store that check and perf read back', () => {
    const db = join(tempDir(), 'run.duckdb');
    const ing = avpscope('ingest', MICROVM_MODERN, '--db', db);
    expect(ing.code).toBe(0);
    expect(ing.out).toMatch(/run\.duckdb: 4809 events, \d+ devices, 303 request spans/);
    expect(avpscope('check', db).code).toBe(0);
    const perf = avpscope('perf', 'blk', db, '--format', 'json');
    expect(JSON.parse(perf.out).latency.find((r: { op: string }) => r.op === 'read').n).toBe(17);
  });

  it('bad input: exit 2, file and line named, no stack trace', () => {
    const dir = tempDir();
    const cases = [
      [join(dir, 'missing.trace'), /missing\.trace: no such file/],
      [dir, /is a directory/],
      [writeTrace(dir, 'prose.txt', ['hello', 'world']), /prose\.txt:1: not a trace avpscope can read/],
      [writeTrace(dir, 'db.duckdb', ['not a database']), /db\.duckdb: .*(not a valid|cannot open)/],
    ] as const;
    for (const [input, msg] of cases) {
      const r = avpscope('check', input, '--no-db');
      expect(r.code, input).toBe(2);
      expect(r.err).toMatch(msg);
      noStack(r.err);
    }
    const bad = avpscope('check', '--bogus');
    expect(bad.code).toBe(2);
    noStack(bad.err);
  });

  it('--help on every command', () => {
    for (const cmd of [[], ['check'], ['ingest'], ['perf'], ['perf', 'blk'], ['perf', 'xlayer'], ['perf', 'gpu'], ['perf', 'audio'], ['convert'], ['align'], ['gate'], ['schema'], ['simulate']]) {
      const r = avpscope(...cmd, '--help');
      expect(r.code, cmd.join(' ')).toBe(0);
      expect(r.out).toMatch(/^Usage: avpscope/);
    }
  });

  it('convert writes canonical JSON Lines to stdout', () => {
    const r = avpscope('convert', MICROVM_MODERN, '--to', 'jsonl');
    expect(r.code).toBe(0);
    const ls = r.out.trim().split('\n');
    expect(JSON.parse(ls[0]!).format).toBe('avpscope-events');
    expect(ls.length).toBe(4810);
  });
});
