/**
 * The real `avpscope explore` binary in a real terminal (tmux, 80x24) on a real trace with FAILs:
 * open it, jump to a FAIL, open its evidence, quit. tmux comes from Debian's package (.ci/run
 * installs it); without it this test fails, it is never skipped.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { MICROVM_LEGACY, tempDir } from './helpers.ts';

const ROOT = join(import.meta.dirname, '..');
const SOCKET = `avpscope-test-${process.pid}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V']);
    return true;
  } catch {
    return false;
  }
}

async function screen(ok: (s: string) => boolean, what: string): Promise<string> {
  const end = Date.now() + 30_000;
  let s = '';
  while (Date.now() < end) {
    s = tmux('capture-pane', '-p', '-t', 'explore');
    if (ok(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; the screen:\n${s}`);
}

afterAll(() => {
  try {
    tmux('kill-server');
  } catch {
    // already gone
  }
});

it('avpscope explore under tmux: open a real trace, e jumps to a FAIL, Enter opens its evidence, q quits', async () => {
  expect(hasTmux(), 'tmux is not installed: .ci/run installs it (apt-get install tmux)').toBe(true);
  const db = join(tempDir(), 'legacy.duckdb');
  const cmd = `node bin/avpscope.js explore ${MICROVM_LEGACY} --db ${db}; echo "exit=$?"; sleep 60`;
  tmux('new-session', '-d', '-s', 'explore', '-x', '80', '-y', '24', '-c', ROOT, cmd);
  const overview = await screen((s) => /Verdicts: \d/.test(s), 'the overview');
  expect(overview).toContain('Verdicts: 11 FAIL');
  expect(overview.split('\n')[0]).toContain('[1 Overview]');
  tmux('send-keys', '-t', 'explore', 'e');
  const list = await screen((s) => s.includes('[2 Findings]'), 'the findings list');
  expect(list).toMatch(/FAIL\s+MUST\s+virtio\.version-1/);
  tmux('send-keys', '-t', 'explore', 'Enter');
  const evidence = await screen((s) => s.includes('Evidence'), 'the evidence');
  expect(evidence).toContain('FAIL MUST virtio.version-1');
  expect(evidence).toMatch(/^>\s+24\s+\d+@[\d.]+:virtio_mmio_write_offset/m);
  tmux('send-keys', '-t', 'explore', 'q');
  const after = await screen((s) => s.includes('exit='), 'the exit');
  expect(after).toContain('exit=0');
  // the alternate screen is left: the explorer's frame is gone from the shell's screen
  expect(after).not.toContain('[2 Findings]');
});

it('explore without a terminal is a clear error (exit 2), not a crash', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'avpscope.js'), 'explore', MICROVM_LEGACY, '--no-db'], { encoding: 'utf8', cwd: tempDir() });
  expect(r.status).toBe(2);
  expect(r.stderr).toBe('avpscope: explore needs a terminal on stdin and stdout; for a pipe use check, perf or report\n');
});
