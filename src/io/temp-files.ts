/**
 * Temporary files of this process. Each is named after the file it will become (or a tag) and this
 * process's pid, so that a later run can tell the leftovers of a killed run (owner gone) from the
 * files of a run still going. Whatever this process registers is removed when it exits, including
 * on SIGINT and SIGTERM (see src/cli/main.ts); what a killed run left is removed by the next run on
 * the same target (`sweepStale`).
 */
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { tmpdir } from 'node:os';

/** Prefixes of this process's temporary files: every entry whose path starts with one is ours. */
const owned = new Set<string>();
let serial = 0;

/** `<target>.tmp-<pid>-<n>`: a temporary file beside `target`, ours until released. */
export function tempBeside(target: string): string {
  const p = `${target}.tmp-${process.pid}-${++serial}`;
  owned.add(p);
  return p;
}

/** `<tmpdir>/avpscope-<pid>-<n>-<tag>`: a scratch file that becomes nothing. */
export function scratchFile(tag: string): string {
  const p = join(tmpdir(), `avpscope-${process.pid}-${++serial}-${tag}`);
  owned.add(p);
  return p;
}

/** Registers a path as ours (removed at exit unless released). */
export function own(path: string): void {
  owned.add(path);
}

/** Removes a temporary file (and whatever shares its prefix: DuckDB's .wal and spill directory). */
export function removeTemp(prefix: string): void {
  removePrefixed(prefix);
  owned.delete(prefix);
}

/** Forgets a temporary file that became a real one (renamed into place). */
export function release(prefix: string): void {
  owned.delete(prefix);
}

/** The files this process's temporary files are now (nothing removed). */
export function ownedFiles(): string[] {
  return [...owned].flatMap((p) => prefixed(p));
}

function prefixed(prefix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dirname(prefix));
  } catch {
    return [];
  }
  const base = basename(prefix);
  return names.filter((n) => n === base || n.startsWith(base + '.')).map((n) => join(dirname(prefix), n));
}

function removePrefixed(prefix: string): string[] {
  const dir = dirname(prefix);
  const base = basename(prefix);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const n of names) {
    if (n !== base && !n.startsWith(base + '.')) continue;
    try {
      rmSync(join(dir, n), { recursive: true, force: true });
      removed.push(join(dir, n));
    } catch {
      // best effort: a file we cannot remove is reported by the next run's sweep
    }
  }
  return removed;
}

/** Removes every temporary file this process still owns; returns what was removed. */
export function removeOwned(): string[] {
  const removed: string[] = [];
  for (const p of owned) removed.push(...removePrefixed(p));
  owned.clear();
  return removed;
}

/** True unless the process is known to be gone (a pid of another user's process is alive too). */
export function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Removes what killed runs left beside `target` (`<target>.tmp-<pid>...` whose pid is gone) and in
 * the scratch directory (`avpscope-<pid>-...`). Returns the paths removed, for the report.
 */
export function sweepStale(target?: string): string[] {
  const removed: string[] = [];
  const sweep = (dir: string, re: RegExp) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const m = re.exec(n);
      if (!m || pidAlive(Number(m[1]))) continue;
      try {
        rmSync(join(dir, n), { recursive: true, force: true });
        removed.push(join(dir, n));
      } catch {
        // not ours to remove after all (permissions): leave it
      }
    }
  };
  if (target !== undefined) sweep(dirname(target), new RegExp(`^${escape(basename(target))}\\.tmp-(\\d+)(?:[-.].*)?$`));
  sweep(tmpdir(), /^avpscope-(\d+)-\d+-/);
  return removed;
}
