/**
 * The compiled CLI (the `prepare` build users run): built from the sources with tsconfig.build.json,
 * it gives the report the sources give, including a store written by its worker thread (which
 * loads the compiled worker module next to it, not the TypeScript one).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MICROVM_LEGACY, tempDir } from './helpers.ts';

const root = join(import.meta.dirname, '..');
// inside the repository, so that the compiled modules find node_modules as dist/ does
const out = join(root, 'tmp', `build-test-${process.pid}`);
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runCompiled(code: string, nodeFlags: string[] = []): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [...nodeFlags, '--input-type=module', '-e', code], { encoding: 'utf8', cwd: tempDir() });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('the compiled CLI', () => {
  it('builds, and answers as the sources do', () => {
    mkdirSync(out, { recursive: true });
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(out, 'dist')]);
    symlinkSync(join(root, 'queries'), join(out, 'queries'));
    const main = JSON.stringify(join(out, 'dist', 'cli', 'main.js'));
    const ingest = JSON.stringify(join(out, 'dist', 'api', 'ingest.js'));
    const db = join(tempDir(), 'legacy.duckdb');

    const help = runCompiled(`const { main } = await import(${main}); process.exitCode = await main(['--help']);`);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Usage: avpscope/);

    // a store written by the compiled worker thread, then judged by the compiled CLI; node started
    // with V8 flags a Worker refuses (a user profiling or raising the heap) still gets its worker
    const w = runCompiled(
      `const { ingest } = await import(${ingest}); const r = await ingest({ files: [${JSON.stringify(MICROVM_LEGACY)}], db: ${JSON.stringify(db)}, storeThread: 'worker' }); r.store.close(); console.log(r.timings.storeWorkerCpu !== undefined);`,
      ['--expose-gc', '--max-old-space-size=2048'],
    );
    expect(w.err).toBe('');
    expect(w.out.trim()).toBe('true');
    const compiled = runCompiled(`const { main } = await import(${main}); process.exitCode = await main(['check', ${JSON.stringify(db)}]);`);
    const source = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `const { main } = await import(${JSON.stringify(join(root, 'src', 'cli', 'main.ts'))}); process.exitCode = await main(['check', ${JSON.stringify(MICROVM_LEGACY)}, '--no-db']);`], { encoding: 'utf8', cwd: root });
    expect(compiled.code).toBe(1);
    expect(source.status).toBe(1);
    const body = (s: string) => s.replace(/^(trace|Store:).*$/gm, '');
    expect(body(compiled.out)).toBe(body(source.stdout));
    expect(compiled.out).toMatch(/10 device or platform MUST requirement\(s\) FAIL/);
  }, 240_000); // a whole tsc build: a few seconds idle, minutes on a busy machine
});
