/**
 * The progress line of a long ingest, on stderr: stage, bytes read of the total, events and
 * events/s. Only on a terminal: nothing when stderr is a pipe or a file, or under CI (CI set), so
 * logs and captured output stay clean.
 */
import { statSync } from 'node:fs';
import type { IngestProgress } from '../api/ingest.ts';
import { bytesRead } from '../ingest/lines.ts';
import { bytes } from '../format.ts';

export interface ProgressSink {
  isTTY?: boolean;
  write(s: string): unknown;
}

export interface Progress {
  update(p: IngestProgress): void;
  /** clears the line */
  done(): void;
}

const EVERY_MS = 200;

export function progressLine(p: IngestProgress, read: number, total: number, seconds: number): string {
  const rate = seconds > 0 ? `, ${Math.round(p.events / seconds / 1000)} k events/s` : '';
  if (p.stage !== 'reading traces') return `${p.stage}: ${p.events} events${rate}`;
  const r = Math.min(read, total);
  return `${p.stage}: ${bytes(r)} of ${bytes(total)} (${total > 0 ? Math.floor((r / total) * 100) : 100}%), ${p.events} events${rate}`;
}

/** A progress line for ingesting `files`, or undefined where none should be shown. */
export function progressDisplay(files: string[], out: ProgressSink = process.stderr, env: NodeJS.ProcessEnv = process.env): Progress | undefined {
  if (!out.isTTY || env.CI) return undefined;
  let total = 0;
  for (const f of files) {
    try {
      total += statSync(f).size;
    } catch {
      // the ingest names the missing file
    }
  }
  const start = Date.now();
  const before = bytesRead.n;
  // a run with a guest trace reads all its files once before the replay, to measure the clocks:
  // by the replay's first batch more than the total has been read then, and that pass does not count
  let base: number | undefined;
  let last = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      base ??= before + (bytesRead.n - before > total ? total : 0);
      if (now - last < EVERY_MS && p.stage === 'reading traces') return;
      last = now;
      shown = true;
      out.write(`\r\x1b[K${progressLine(p, bytesRead.n - base, total, (now - start) / 1000)}`);
    },
    done() {
      if (shown) out.write('\r\x1b[K');
    },
  };
}
