/**
 * What the commands take: trace files (ingested into a store first) or one store written earlier.
 * Where the store goes by default: next to the first trace, `<name>.duckdb`.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../ingest/errors.ts';
import { readHead } from '../ingest/lines.ts';
import type { AssumedDriver } from '../model/features.ts';
import { defaultVmName } from '../pipeline.ts';
import { looksLikeDuckDb, MEMORY, openStore, type StoreHandle } from '../perf/store.ts';
import { ingest } from './ingest.ts';

export interface InputOptions {
  /** database path; false: keep the store in memory */
  db?: string | false;
  format?: string;
  vm?: string[];
  strict?: boolean;
  assumeDriver?: AssumedDriver;
  /** host KVM traces: a device tree blob or JSON map of virtio-mmio windows */
  deviceMap?: string;
}

export interface Opened {
  store: StoreHandle;
  /** where the store is, or null when it lives in memory */
  dbPath: string | null;
  /** true when the inputs were traces ingested now */
  ingested: boolean;
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

async function isDatabase(file: string): Promise<boolean> {
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

export async function openInputs(inputs: string[], opts: InputOptions): Promise<Opened> {
  if (inputs.length === 0) throw new InputError('no input: give trace files or a .duckdb store');
  if (inputs.length === 1 && (await isDatabase(inputs[0]!))) {
    return { store: await openStore(inputs[0]!), dbPath: inputs[0]!, ingested: false };
  }
  for (const f of inputs) if (await isDatabase(f)) throw new InputError('a database cannot be mixed with trace files', f);
  let db = opts.db === false ? MEMORY : (opts.db ?? defaultDbPath(inputs[0]!));
  if (db !== MEMORY && opts.db === undefined && !writableDir(db)) db = MEMORY;
  const r = await ingest({
    files: inputs,
    vms: opts.vm,
    format: opts.format,
    db,
    strict: opts.strict,
    assumeDriver: opts.assumeDriver,
    deviceMap: opts.deviceMap,
  });
  return { store: r.store, dbPath: db === MEMORY ? null : db, ingested: true };
}
