/** `avpscope gate` as CI runs it: exit codes, and the report files it writes. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MICROVM_LEGACY, MICROVM_MODERN, real, tempDir } from './helpers.ts';

const BIN = join(import.meta.dirname, '..', 'bin', 'avpscope.js');

function gate(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'gate', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('avpscope gate', () => {
  it('exit 0 when the budgets hold, with a table and a verdict line', () => {
    const r = gate(MICROVM_MODERN, '--no-db', '--budgets', 'budgets/real-traces.budgets');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^PASS +blk\.time_to_durable\.max <= 250 ms +microvm-modern 0x555e3b8df0f0 +96\.1 ms +0 of 257 writes > 250\.0 ms$/m);
    expect(r.out.trimEnd().split('\n').at(-1)).toBe('gate: PASS: 8 budgets, 8 pass');
  });

  it('exit 1 on a breach, and the JSON, JUnit and Markdown reports say the same', () => {
    const dir = tempDir();
    const [json, xml, md] = ['r.json', 'r.xml', 'r.md'].map((f) => join(dir, f));
    const r = gate(real('qemu-10.0-sound/none-duplex.trace.gz'), '--no-db', '--budgets', 'budgets/sound-breaks.budgets', '--format', 'json', '-o', json!, xml!, md!);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.out);
    expect(doc).toEqual(JSON.parse(readFileSync(json!, 'utf8')));
    expect([doc.passed, doc.counts]).toEqual([false, { PASS: 1, FAIL: 2, 'NO-DATA': 0, REGRESSION: 0 }]);
    const junit = readFileSync(xml!, 'utf8');
    expect(junit).toMatch(/<testsuites name="avpscope gate" tests="3" failures="2" errors="0" skipped="0">/);
    expect(junit).toContain('<failure type="FAIL" message="FAIL: value 3 (budget audio.underruns &lt;= 2)">');
    const markdown = readFileSync(md!, 'utf8');
    expect(markdown.split('\n')[0]).toBe('### avpscope gate: ❌ failed');
    expect(markdown).toContain('| ❌ **breached** | `audio.underruns <= 2` | none-duplex | 3 |  |');
  });

  it('exit 1 on a significant regression against a baseline; 0 within the tolerance', () => {
    const args = [MICROVM_LEGACY, '--no-db', '--budgets', 'budgets/real-traces.budgets', '--baseline', MICROVM_MODERN];
    const tight = gate(...args, '--tolerance', '5%');
    expect(tight.code).toBe(1);
    expect(tight.out).toMatch(/^REGRESSION +blk\.latency\.p50\{op=write\} <= 200 us .* 50\.0 µs → 57\.0 µs, \+14% \(95% CI \+10%\.\.\+24%\)/m);
    expect(gate(...args, '--tolerance', '25%').code).toBe(0);
  });

  it('exit 2 on a bad budgets file, naming file, line and key', () => {
    const f = join(tempDir(), 'bad.budgets');
    writeFileSync(f, 'blk.flush.p99 <= 20ms\nblk.flush.p99 <= 20\n');
    const r = gate(MICROVM_MODERN, '--no-db', '--budgets', f);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`avpscope: ${f}:2: limit: blk.flush.p99: a duration needs a unit (ns, us, µs, ms, s), e.g. 20ms\n`);
    expect(gate(MICROVM_MODERN, '--no-db').code).toBe(2);
    expect(gate(MICROVM_MODERN, '--no-db', '--budgets', 'budgets/real-traces.budgets', '--tolerance', 'lots').code).toBe(2);
  });

  it('--list-metrics lists the registry', () => {
    const r = gate('--list-metrics');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^blk\.time_to_durable\.max +ns +vm,dev +mann-whitney /m);
  });
});
