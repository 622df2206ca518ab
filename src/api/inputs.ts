/**
 * What the commands take: trace files (ingested into a store first) or one store written earlier.
 * Where the store goes by default: next to the first trace, `<name>.duckdb`.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants, createReadStream, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../ingest/errors.ts';
import { isStream, readHead } from '../ingest/lines.ts';
import type { Profile } from '../checks/rule.ts';
import type { AssumedDriver } from '../model/features.ts';
import { defaultVmName } from '../pipeline.ts';
import { looksLikeDuckDb, MEMORY, openStore, type StoreHandle } from '../perf/store.ts';
import { ingest, type IngestProgress, type IngestTimings } from './ingest.ts';

export interface InputOptions {
  /** database path; false: keep the store in memory */
  db?: string | false;
  format?: string;
  vm?: string[];
  strict?: boolean;
  assumeDriver?: AssumedDriver;
  onProgress?: (p: IngestProgress) => void;
  manifest?: string;
  profile?: Profile;
  /** host KVM traces: a device tree blob or JSON map of virtio-mmio windows */
  deviceMap?: string;
}

export interface Opened {
  store: StoreHandle;
  /** where the store is, or null when it lives in memory */
  dbPath: string | null;
  /** true when the inputs were traces ingested now */
  ingested: boolean;
  /** how long that took (ingested only) */
  timings?: IngestTimings;
  /** temporary files of killed runs removed on the way */
  swept: string[];
}

export function defaultDbPath(trace: string): string {
  return join(dirname(trace), `${defaultVmName(trace)}.duckdb`);
}

function writableDir(path: string): boolean {
  try {
    accessSync(dirname(path), constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export async function isDatabase(file: string): Promise<boolean> {
  if (await isStream(file)) return false;
  try {
    if (statSync(file).isDirectory()) return false;
  } catch {
    return false;
  }
  if (file.endsWith('.duckdb') || file.endsWith('.db')) return true;
  try {
    return looksLikeDuckDb(await readHead(file, 16));
  } catch {
    return false;
  }
}

async function contentHash(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * The same file given twice (by name, link or path) or two files with the same bytes is a mistake
 * that would double every event: an error naming both arguments. Streams are not compared.
 */
export async function assertDistinct(inputs: readonly string[]): Promise<void> {
  const seen: { arg: string; id: string; size: number }[] = [];
  for (const arg of inputs) {
    const same = (other: string, how: string) => new InputError(`given twice: ${other} and ${arg} ${how}; give each trace once`, arg);
    if (arg === '-') {
      const prev = seen.find((s) => s.id === '-');
      if (prev) throw same(prev.arg, 'are both standard input');
      seen.push({ arg, id: '-', size: -1 });
      continue;
    }
    let st;
    try {
      st = statSync(arg);
    } catch {
      continue; // the reader says what is wrong with it
    }
    const id = `${st.dev}:${st.ino}`;
    const prev = seen.find((s) => s.id === id);
    if (prev) throw same(prev.arg, 'are the same file');
    if (st.isFile() && st.size > 0) {
      for (const s of seen.filter((x) => x.size === st.size)) {
        if ((await contentHash(s.arg)) === (await contentHash(arg))) throw same(s.arg, 'have the same content');
      }
    }
    seen.push({ arg, id, size: st.isFile() ? st.size : -1 });
  }
}

export async function openInputs(inputs: string[], opts: InputOptions): Promise<Opened> {
  if (inputs.length === 0) throw new InputError('no input: give trace files or a .duckdb store');
  if (inputs.length === 1 && (await isDatabase(inputs[0]!))) {
    return { store: await openStore(inputs[0]!), dbPath: inputs[0]!, ingested: false, swept: [] };
  }
  await assertDistinct(inputs);
  for (const f of inputs) if (await isDatabase(f)) throw new InputError('a database cannot be mixed with trace files', f);
  // a stream (standard input, a FIFO) has no directory to put the store beside: memory, unless --db
  let db = opts.db === false ? MEMORY : (opts.db ?? ((await isStream(inputs[0]!)) ? MEMORY : defaultDbPath(inputs[0]!)));
  if (db !== MEMORY && opts.db === undefined && !writableDir(db)) db = MEMORY;
  const r = await ingest({
    files: inputs,
    vms: opts.vm,
    format: opts.format,
    db,
    strict: opts.strict,
    assumeDriver: opts.assumeDriver,
    onProgress: opts.onProgress,
    manifest: opts.manifest,
    profile: opts.profile,
    deviceMap: opts.deviceMap,
  });
  return { store: r.store, dbPath: db === MEMORY ? null : db, ingested: true, timings: r.timings, swept: r.swept };
}
