/** Shared by the tests: real traces, edited copies of them, and a one-call ingest. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ingest, type IngestOptions } from '../src/api/ingest.ts';
import { loadReport, type Report } from '../src/api/report.ts';

export const TRACES = join(import.meta.dirname, '..', 'traces');
export const real = (rel: string) => join(TRACES, rel);
export const MICROVM_MODERN = real('qemu-7.2/microvm-modern.trace.gz');
export const MICROVM_LEGACY = real('qemu-7.2/microvm-legacy.trace.gz');
export const Q35_PCI = real('qemu-7.2/q35-pci.trace.gz');
export const ARM64_VIRT = real('qemu-7.2/arm64-virt.trace.gz');

/** The lines of a (gzipped) trace, without the final empty one. */
export function lines(path: string): string[] {
  const buf = readFileSync(path);
  const text = (buf[0] === 0x1f && buf[1] === 0x8b ? gunzipSync(buf) : buf).toString('utf8');
  const out = text.split('\n');
  if (out.at(-1) === '') out.pop();
  return out;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'avpscope-test-'));
}

/** Writes lines as a trace file (gzip when the name ends in .gz) and returns its path. */
export function writeTrace(dir: string, name: string, ls: string[], opts: { finalNewline?: boolean } = {}): string {
  const text = ls.join('\n') + (opts.finalNewline === false ? '' : '\n');
  const p = join(dir, name);
  writeFileSync(p, name.endsWith('.gz') ? gzipSync(text) : text);
  return p;
}

/** The 1-based line number of the first line matching `re` (after `from`). */
export function lineOf(ls: string[], re: RegExp, from = 1): number {
  for (let i = from - 1; i < ls.length; i++) if (re.test(ls[i]!)) return i + 1;
  throw new Error(`no line matches ${re}`);
}

/** Ingests into memory and returns the report the store gives back. */
export async function reportOf(files: string[], opts: Partial<IngestOptions> = {}): Promise<Report> {
  const r = await ingest({ files, db: ':memory:', ...opts });
  try {
    return await loadReport(r.store.conn);
  } finally {
    r.store.close();
  }
}

export function verdict(r: Report, rule: string, devType?: string | null): string[] {
  return r.findings.filter((f) => f.rule === rule && (devType === undefined || f.dev_type === devType)).map((f) => f.verdict);
}

/** vdev pointers of a QEMU log, by the first device-typed event naming them. */
export function vdevOf(ls: string[], re: RegExp): string {
  const l = ls.find((x) => re.test(x));
  const m = l && /(?:vdev|rng|snd) (0x[0-9a-f]+)/.exec(l);
  if (!m) throw new Error(`no vdev for ${re}`);
  return m[1]!;
}

/** An independent oracle for DuckDB's quantile_cont: linear interpolation between the order
 *  statistics around p·(n − 1). */
export function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = p * (s.length - 1);
  const lo = Math.floor(pos);
  return s[lo]! + (pos - lo) * ((s[Math.min(lo + 1, s.length - 1)] ?? 0) - s[lo]!);
}

/** Jain's fairness index (Σx)² / (n·Σx²). */
export const jain = (xs: number[]) => xs.reduce((a, b) => a + b, 0) ** 2 / (xs.length * xs.reduce((a, b) => a + b * b, 0));
