/**
 * The store's worker thread: it owns the DuckDB database being written and appends the rows the
 * main thread sends, so that DuckDB's load runs on the second core beside the replay. Messages are
 * handled in order; each is answered with its id (and the error, if any).
 */
import { readFileSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { InputError } from '../ingest/errors.ts';
import { typedArrays, type ColumnBatch } from './store-columns.ts';
import { DbWriter } from './store.ts';
import type { TableDecl } from './tables.ts';

export type StoreRequest =
  | { op: 'open'; file: string; shown: string }
  | { op: 'table'; decl: TableDecl<unknown> }
  | { op: 'rows'; batch: ColumnBatch }
  | { op: 'run'; sql: string }
  | { op: 'complete'; tables: string[] }
  | { op: 'close' }
  | { op: 'abort' };

export interface StoreReply {
  id: number;
  /** a written batch's typed arrays, handed back for reuse (store-columns.ts) */
  arrays?: (Float64Array | Uint8Array)[];
  /** this thread's CPU seconds so far (Linux; else absent) */
  cpu?: number;
  error?: { message: string; input: boolean; file?: string; line?: number };
}

/** CPU time of the calling thread, from /proc (the bench reports where the second core went). */
function threadCpuSeconds(): number | undefined {
  try {
    // fields after the command name: utime and stime are the 12th and 13th, in clock ticks (100/s)
    const f = readFileSync('/proc/thread-self/stat', 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return undefined;
  }
}

let db: DbWriter | undefined;

async function handle(m: StoreRequest): Promise<void> {
  switch (m.op) {
    case 'open':
      db = await DbWriter.open(m.file, m.shown);
      return;
    case 'table':
      await db!.table(m.decl);
      return;
    case 'rows':
      db!.write(m.batch);
      return;
    case 'run':
      await db!.conn.run(m.sql);
      return;
    case 'complete':
      await db!.complete(m.tables, true);
      return;
    case 'close':
      await db!.close();
      return;
    case 'abort':
      db?.abort();
      return;
  }
}

let queue = Promise.resolve();
parentPort!.on('message', ({ id, req }: { id: number; req: StoreRequest }) => {
  queue = queue.then(async () => {
    const reply: StoreReply = { id };
    try {
      await handle(req);
    } catch (e) {
      reply.error = e instanceof InputError ? { message: e.message, input: true, file: e.file, line: e.line } : { message: (e as Error).message, input: false };
    }
    if (req.op === 'close') reply.cpu = threadCpuSeconds();
    if (req.op === 'rows') reply.arrays = typedArrays(req.batch);
    parentPort!.postMessage(reply, reply.arrays?.map((a) => a.buffer as ArrayBuffer) ?? []);
  });
});
