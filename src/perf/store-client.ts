/**
 * The store written by a worker thread (store-worker.ts): rows are gathered here column by column
 * (store-columns.ts) and sent in batches whose arrays are transferred, not copied, and DuckDB
 * appends them on the second core while this thread goes on with the replay. Only a bounded number of batches is ever in flight (flushSome), so memory stays flat.
 * The target (checks, lock, temporary file, the final rename) is this thread's, as for StoreWriter.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InputError } from '../ingest/errors.ts';
import { recycle, typedArrays, type ColumnBatch } from './store-columns.ts';
import { BatchingWriter, dropTarget, duckdb, installTarget, openStore, takeTarget, type RowWriter, type StoreHandle, type StoreTarget, type StoreWriting } from './store.ts';
import type { StoreReply, StoreRequest } from './store-worker.ts';
import type { TableDecl } from './tables.ts';

/** Batches sent but not yet appended before the replay waits for the worker: 16 (~10 MB) carry the
 *  replay through the ~0.3 s the worker takes to load DuckDB at the start (8 left it waiting). */
const MAX_IN_FLIGHT = 16;

/** Store writers whose worker still runs: a signal stops them before the process exits. A worker
 *  torn down while inside DuckDB (by process.exit or terminate) aborts the whole process instead of
 *  exiting with the signal's code, so each is asked to close DuckDB first and ended when idle. */
const live = new Set<ThreadedStoreWriter>();

/** Stops every store worker (their unfinished databases are temporary files the caller removes). */
export async function stopStoreWorkers(): Promise<void> {
  await Promise.all([...live].map((w) => w.stop()));
}

/**
 * The worker's young generation is kept small: nearly all it allocates (a batch's cells, sliced
 * from its text) is dead by the next batch, and V8's default (up to 48 MB) only let garbage pile up
 * (~60 MB less peak RSS on the 1 M-line bench log, the same CPU).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 8 };

/** This process's node options that load code (tsx in development, a user's --import): the worker
 *  needs them. Worker refuses V8 and process-wide flags (`node --expose-gc avpscope ...` would fail). */
const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader', '--conditions', '-C']);

export function workerExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    if (!LOADER_FLAGS.has(eq < 0 ? a : a.slice(0, eq))) continue;
    out.push(a);
    if (eq < 0 && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}

/** The worker runs the compiled module next to this one, or (in development) the TypeScript through tsx. */
function startWorker(): Worker {
  const options = { execArgv: workerExecArgv(process.execArgv), resourceLimits: WORKER_LIMITS };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./store-worker.js', import.meta.url), options);
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href;
  const url = new URL('./store-worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then((t) => { t.register(); return import(${JSON.stringify(url)}); })`, { ...options, eval: true });
}

export class ThreadedStoreWriter implements StoreWriting {
  private readonly writers: BatchingWriter<unknown>[] = [];
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private answered = 0;
  private failure: Error | undefined;
  /** an abort was asked: the worker closes DuckDB and answers; nothing more is sent; then it is ended */
  private aborting = false;
  workerCpuSeconds: number | undefined;

  private constructor(
    private readonly target: StoreTarget,
    private readonly worker: Worker,
  ) {
    worker.on('message', (r: StoreReply) => {
      this.answered = r.id;
      if (r.arrays !== undefined) recycle(r.arrays);
      if (r.cpu !== undefined) this.workerCpuSeconds = r.cpu;
      const e = r.error === undefined ? undefined : r.error.input ? new InputError(r.error.message, r.error.file, r.error.line) : new Error(r.error.message);
      if (e !== undefined) this.failure ??= e;
      const w = this.waiting.get(r.id);
      this.waiting.delete(r.id);
      if (e !== undefined) w?.reject(e);
      else w?.resolve();
    });
    worker.on('error', (e) => this.fail(e));
    worker.on('exit', (code) => {
      live.delete(this);
      this.fail(new Error(`the store's worker stopped (exit ${code})`));
    });
    live.add(this);
  }

  /** Starts the worker and has it open the database, without waiting: the replay starts while DuckDB
   *  loads (a failure to open surfaces at the next request waited for, as any error of the worker). */
  static async create(path: string, inputs: readonly string[] = []): Promise<ThreadedStoreWriter> {
    const w = new ThreadedStoreWriter(await takeTarget(path, inputs), startWorker());
    w.post({ op: 'open', file: w.target.tmp, shown: path });
    return w;
  }

  get swept(): string[] {
    return this.target.swept;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiting.values()) w.reject(this.failure);
    this.waiting.clear();
  }

  /** Sends a request without waiting for it (errors surface at the next awaited one). */
  private post(req: StoreRequest): number {
    const id = ++this.nextId;
    // after an abort the worker must go idle, so that ending it never lands inside DuckDB
    if (!this.aborting || req.op === 'abort') this.worker.postMessage({ id, req }, req.op === 'rows' ? typedArrays(req.batch).map((a) => a.buffer as ArrayBuffer) : []);
    return id;
  }

  private request(req: StoreRequest): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.post(req);
    return new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  async table<Row>(decl: TableDecl<Row>): Promise<RowWriter<Row>> {
    if (this.failure) throw this.failure;
    this.post({ op: 'table', decl: decl as TableDecl<unknown> });
    const w = new BatchingWriter(decl, (b) => this.write(b));
    this.writers.push(w as BatchingWriter<unknown>);
    return w;
  }

  write(batch: ColumnBatch): void {
    this.post({ op: 'rows', batch });
  }

  /** Posted, not waited for (an error surfaces at the next request waited for). */
  async complete(tables: readonly TableDecl<unknown>[]): Promise<void> {
    if (this.failure) throw this.failure;
    const names = tables.map((t) => t.name);
    for (const w of this.writers.filter((x) => names.includes(x.table))) w.flush();
    this.post({ op: 'complete', tables: names });
  }

  async rows<Row>(decl: TableDecl<Row>, rows: Row[]): Promise<void> {
    const w = await this.table(decl);
    for (const r of rows) w.add(r);
  }

  async run(sql: string): Promise<void> {
    for (const w of this.writers) w.flush();
    await this.request({ op: 'run', sql });
  }

  async flushSome(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.nextId - this.answered <= MAX_IN_FLIGHT) return;
    // wait until half of what is in flight is appended: the worker never runs dry meanwhile
    const id = this.nextId - MAX_IN_FLIGHT / 2;
    await new Promise<void>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
  }

  async commit(): Promise<StoreHandle> {
    for (const w of this.writers) w.flush();
    // this thread reads the store next: it loads DuckDB while the worker finishes writing
    duckdb().catch(() => undefined);
    await this.request({ op: 'close' });
    await this.worker.terminate();
    await installTarget(this.target);
    return openStore(this.target.path);
  }

  /** Drops the unfinished database once the worker has closed it; the one at `path` is untouched. */
  abort(): void {
    if (this.aborting) return;
    const done = () => {
      dropTarget(this.target);
      void this.worker.terminate();
    };
    if (this.failure) return done();
    this.request({ op: 'abort' }).then(done, done);
    this.aborting = true;
    this.failure = new Error('aborted');
  }

  /** Aborts (DuckDB closed in the worker first) and waits until the worker is gone. */
  stop(): Promise<void> {
    if (!live.has(this)) return Promise.resolve();
    const gone = new Promise<void>((res) => this.worker.once('exit', () => res()));
    this.abort();
    return gone;
  }
}
