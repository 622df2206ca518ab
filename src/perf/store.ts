/**
 * The embedded DuckDB store. Writes are atomic: a new database is built in a temporary file next
 * to the target and renamed over it only when complete, so a failed or interrupted ingest leaves
 * any earlier database as it was. Rows go in through the Appender, a data chunk (at most 2048
 * rows) at a time.
 *
 * Only a store replaces a store: the target must be missing or a database avpscope wrote (its
 * `meta` table says so), not an input, not held open by another process, and not being written by
 * another avpscope (`<store>.lock` holds its pid). Both writers (this thread's and the worker's in
 * store-client.ts) go through one StoreTarget for that.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { DuckDBAppender, DuckDBConnection, DuckDBDataChunk, DuckDBInstance, DuckDBType } from '@duckdb/node-api';
import { InputError } from '../ingest/errors.ts';
import { checkOutputPath } from '../io/atomic-write.ts';
import { own, pidAlive, release, removeTemp, sweepStale, tempBeside } from '../io/temp-files.ts';
import { BatchBuilder, NULL_BOOLEAN, recycle, typedArrays, type ColumnBatch, type ColumnData, type TextColumn } from './store-columns.ts';
import { ALL_TABLES, CORE_VIEWS, ddl, type Column, type ColumnType, type TableDecl } from './tables.ts';

type DuckDBModule = typeof import('@duckdb/node-api');
type Bindings = typeof import('@duckdb/node-bindings');
type DuckDBVectorHandle = ReturnType<Bindings['data_chunk_get_vector']>;
let loaded: DuckDBModule | undefined;
/** DuckDB's C API as node-api wraps it: a whole column goes into a vector in one copy through it. */
let bindings: Bindings | undefined;
/** DuckDB is loaded on first use, so that commands that need no store (`--help`) start fast. */
export async function duckdb(): Promise<DuckDBModule> {
  // a CommonJS module: its exports are the default export
  bindings ??= ((await import('@duckdb/node-bindings')) as unknown as { default: Bindings }).default;
  return (loaded ??= await import('@duckdb/node-api'));
}
/** The DuckDB type of a declared column (DuckDB is loaded: a writer exists). */
function duckType(t: ColumnType): DuckDBType {
  return loaded![t];
}
const CHUNK_ROWS = 2048;
export const MEMORY = ':memory:';

/** DuckDB must never try to download an extension here: fail at once instead. Its buffer pool is
 *  capped so that loading a long trace costs the same memory as a short one (it spills to disk). */
const INSTANCE_OPTIONS = { autoinstall_known_extensions: 'false', autoload_known_extensions: 'true', memory_limit: '256MB' };
/** A store file being written needs less: what it appended is on disk, and DuckDB's cache of it
 *  only grew with the trace. One thread: one appender feeds it, and each DuckDB thread keeps its own
 *  allocation caches. (64 MB and 2 threads -> 32 MB and 1: peak RSS 416 -> 356 MiB on the 5 M-line
 *  bench log, 372 MiB at 20 M, the same CPU.) A store in memory keeps the larger limit: all of it
 *  lives in that pool. */
const WRITE_OPTIONS = { ...INSTANCE_OPTIONS, memory_limit: '32MB', threads: '1' };

/**
 * Batches of one table (store-columns.ts) into DuckDB through the Appender's data chunks (at most
 * 2048 rows each). A numeric column goes into its vector in one copy; a text cell is handed over
 * as it is, so any string (tabs, newlines, NUL, `\\N`, any length) arrives exactly as it was.
 */
export class TableWriter {
  private readonly types: ColumnType[];
  private readonly chunk: DuckDBDataChunk;
  /** one column of a chunk as DuckDB lays it out (hugeint: 16 bytes a row), and its validity bits */
  private readonly data = new ArrayBuffer(CHUNK_ROWS * 16);
  private readonly lo32 = new Uint32Array(this.data);
  private readonly hi32 = new Int32Array(this.data);
  private readonly f64 = new Float64Array(this.data);
  private readonly i64 = new BigInt64Array(this.data);
  private readonly u8 = new Uint8Array(this.data);
  private readonly valid = new Uint8Array(CHUNK_ROWS / 8);
  private readonly textAt: number[];

  constructor(
    private readonly appender: DuckDBAppender,
    decl: TableDecl<unknown>,
  ) {
    this.types = Object.values(decl.columns as Record<string, Column>).map((c) => c.type);
    this.textAt = this.types.map(() => 0);
    this.chunk = loaded!.DuckDBDataChunk.create(this.types.map(duckType));
  }

  write(b: ColumnBatch): void {
    // where the next cell of each text column starts
    this.textAt.fill(0);
    for (let at = 0; at < b.rows; at += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, b.rows - at);
      this.chunk.reset();
      for (let c = 0; c < this.types.length; c++) this.fill(bindings!.data_chunk_get_vector(this.chunk.chunk, c), c, b.cols[c]!, at, n);
      this.chunk.rowCount = n;
      this.appender.appendDataChunk(this.chunk);
    }
  }

  /** Rows `at` to `at + n` of column `c` into its vector of the chunk. */
  private fill(vec: DuckDBVectorHandle, c: number, col: ColumnData, at: number, n: number): void {
    const valid = this.valid;
    valid.fill(0xff);
    const isNull = (i: number) => (valid[i >> 3]! &= ~(1 << (i & 7)));
    let bytes = 0;
    switch (this.types[c]) {
      case 'BIGINT': {
        // int64 from a safe integer: its high and low 32 bits (no BigInt per cell)
        const v = col as Float64Array;
        for (let i = 0; i < n; i++) {
          const x = v[at + i]!;
          if (Number.isNaN(x)) isNull(i);
          const hi = Number.isNaN(x) ? 0 : Math.floor(x / 4294967296);
          this.lo32[2 * i] = Number.isNaN(x) ? 0 : x - hi * 4294967296;
          this.hi32[2 * i + 1] = hi;
        }
        bytes = n * 8;
        break;
      }
      case 'BOOLEAN': {
        const v = col as Uint8Array;
        for (let i = 0; i < n; i++) {
          const x = v[at + i]!;
          if (x === NULL_BOOLEAN) isNull(i);
          this.u8[i] = x === 1 ? 1 : 0;
        }
        bytes = n;
        break;
      }
      case 'DOUBLE': {
        const v = col as (number | null)[];
        for (let i = 0; i < n; i++) {
          const x = v[at + i];
          if (x === null || x === undefined) isNull(i);
          this.f64[i] = x ?? 0;
        }
        bytes = n * 8;
        break;
      }
      case 'HUGEINT': {
        const v = col as (bigint | number | null)[];
        for (let i = 0; i < n; i++) {
          const x = v[at + i];
          if (x === null || x === undefined) isNull(i);
          const big = BigInt(x ?? 0);
          this.i64[2 * i] = BigInt.asIntN(64, big);
          this.i64[2 * i + 1] = BigInt.asIntN(64, big >> 64n);
        }
        bytes = n * 16;
        break;
      }
      case 'VARCHAR': {
        const { text, ends } = col as TextColumn;
        let start = this.textAt[c]!;
        for (let i = 0; i < n; i++) {
          const end = ends[at + i]!;
          if (Number.isNaN(end)) isNull(i);
          else bindings!.vector_assign_string_element(vec, i, text.slice(start, (start = end)));
        }
        this.textAt[c] = start;
        break;
      }
    }
    if (bytes > 0) bindings!.copy_data_to_vector(vec, 0, this.data, 0, bytes);
    bindings!.vector_ensure_validity_writable(vec);
    bindings!.copy_data_to_vector_validity(vec, 0, valid.buffer, 0, Math.ceil(n / 64) * 8);
  }

  close(): void {
    this.appender.closeSync();
  }
}

/** Where rows of a table go: gathered into batches for the store (see BatchBuilder). */
export interface RowWriter<Row> {
  add(row: Row): void;
}

/** A store being written, in this thread or in a worker (see store-client.ts). */
export interface StoreWriting {
  table<Row>(decl: TableDecl<Row>): Promise<RowWriter<Row>>;
  rows<Row>(decl: TableDecl<Row>, rows: Row[]): Promise<void>;
  /** Writes a batch of a table opened with table() (its arrays are the store's now). */
  write(batch: ColumnBatch): void;
  /** No more rows for these tables: DuckDB writes them out now (a worker does it while this thread
   *  goes on: the bulk of the store is on disk before the checks end, not after). */
  complete(tables: readonly TableDecl<unknown>[]): Promise<void>;
  run(sql: string): Promise<void>;
  /** Waits while the writer is far behind, so that rows in flight stay bounded. */
  flushSome(): Promise<void>;
  commit(): Promise<StoreHandle>;
  abort(): void;
  /** CPU seconds of the thread that wrote the store, when it was not this one (after commit) */
  readonly workerCpuSeconds?: number;
  /** temporary files of killed runs removed before this one started */
  readonly swept: string[];
}

/** Rows of a table into batches, each written to the store when full and at the end (flush). */
export class BatchingWriter<Row> implements RowWriter<Row> {
  private readonly builder: BatchBuilder<Row>;
  readonly table: string;

  constructor(
    decl: TableDecl<Row>,
    private readonly sink: (b: ColumnBatch) => void,
  ) {
    this.builder = new BatchBuilder(decl);
    this.table = decl.name;
  }

  add(row: Row): void {
    if (this.builder.add(row)) this.flush();
  }

  flush(): void {
    const b = this.builder.take();
    if (b !== undefined) this.sink(b);
  }
}

/** A DuckDB database being written: the core tables, and a bulk writer per table. */
export class DbWriter {
  private readonly writers = new Map<string, TableWriter>();

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  /** Creates the database at `file` (`:memory:`: in memory) with the core tables; `shown` names it in errors. */
  static async open(file: string, shown: string): Promise<DbWriter> {
    let instance: DuckDBInstance;
    try {
      instance = await (await duckdb()).DuckDBInstance.create(file, file === MEMORY ? INSTANCE_OPTIONS : WRITE_OPTIONS);
    } catch (e) {
      throw new InputError(`cannot create a database next to it: ${(e as Error).message}`, shown);
    }
    const conn = await instance.connect();
    // one transaction: one commit to the file instead of one per table
    await conn.run('BEGIN TRANSACTION');
    for (const t of ALL_TABLES) await conn.run(ddl(t as TableDecl<unknown>));
    for (const v of CORE_VIEWS) await conn.run(v.sql);
    await conn.run('COMMIT');
    return new DbWriter(instance, conn);
  }

  /** Opens a table for write(); tables not among the core ones are created first. */
  async table(decl: TableDecl<unknown>): Promise<void> {
    if (this.writers.has(decl.name)) return;
    if (!ALL_TABLES.some((t) => t.name === decl.name)) await this.conn.run(ddl(decl));
    this.writers.set(decl.name, new TableWriter(await this.conn.createAppender(decl.name), decl));
  }

  /** Rows of a table opened with table(). */
  write(b: ColumnBatch): void {
    this.writers.get(b.table)!.write(b);
  }

  /** No more rows for these tables: their appenders write out what they hold, and (`checkpoint`)
   *  DuckDB writes it to the file now rather than at close. */
  async complete(tables: readonly string[], checkpoint: boolean): Promise<void> {
    for (const t of tables) {
      this.writers.get(t)?.close();
      this.writers.delete(t);
    }
    if (checkpoint) await this.conn.run('CHECKPOINT');
  }

  /** Writes out every row written. */
  closeWriters(): void {
    for (const w of this.writers.values()) w.close();
    this.writers.clear();
  }

  /** Writes everything to the file and closes it. */
  async close(): Promise<void> {
    this.closeWriters();
    await this.conn.run('CHECKPOINT');
    this.conn.closeSync();
    this.instance.closeSync();
  }

  abort(): void {
    try {
      this.conn.closeSync();
      this.instance.closeSync();
    } catch {
      // already closed
    }
  }
}

/** Where a new store is built (`tmp`) before it replaces `path`, and what guards it meanwhile. */
export interface StoreTarget {
  path: string;
  tmp: string;
  lock: string | undefined;
  /** temporary files of killed runs removed on the way */
  swept: string[];
}

/**
 * Checks that `path` may become a store (see the header) and takes it: its lock, and a temporary
 * file beside it. `inputs` are the files being read: the store is never one of them.
 */
export async function takeTarget(path: string, inputs: readonly string[]): Promise<StoreTarget> {
  if (path === MEMORY) return { path, tmp: MEMORY, lock: undefined, swept: sweepStale() };
  checkOutputPath(path, inputs, '--db');
  await assertReplaceable(path);
  const swept: string[] = [];
  const lock = takeLock(path, swept);
  swept.push(...sweepStale(path));
  return { path, tmp: tempBeside(path), lock, swept };
}

/** Puts the completed database in place of the target's path. */
export async function installTarget(t: StoreTarget): Promise<void> {
  // someone may have opened the old store while this one was built
  await assertReplaceable(t.path);
  if (existsSync(`${t.path}.wal`)) rmSync(`${t.path}.wal`, { force: true });
  renameSync(t.tmp, t.path);
  removeTemp(t.tmp);
  release(t.tmp);
  dropLock(t.lock);
}

/** Drops the unfinished database; the one at the target's path, if any, is untouched. */
export function dropTarget(t: StoreTarget): void {
  if (t.tmp !== MEMORY) removeTemp(t.tmp);
  dropLock(t.lock);
}

/** The store written in this thread: in memory (kept open for reading), or the reference path. */
export class StoreWriter implements StoreWriting {
  private readonly writers: BatchingWriter<unknown>[] = [];

  private constructor(
    private readonly target: StoreTarget,
    private readonly db: DbWriter,
  ) {}

  /** Starts a new database that will replace `path` on commit (`:memory:`: a database in memory). */
  static async create(path: string, inputs: readonly string[] = []): Promise<StoreWriter> {
    const target = await takeTarget(path, inputs);
    try {
      return new StoreWriter(target, await DbWriter.open(target.tmp, path));
    } catch (e) {
      dropTarget(target);
      throw e;
    }
  }

  get swept(): string[] {
    return this.target.swept;
  }

  async table<Row>(decl: TableDecl<Row>): Promise<RowWriter<Row>> {
    await this.db.table(decl as TableDecl<unknown>);
    const w = new BatchingWriter(decl, (b) => this.write(b));
    this.writers.push(w as BatchingWriter<unknown>);
    return w;
  }

  async rows<Row>(decl: TableDecl<Row>, rows: Row[]): Promise<void> {
    const w = await this.table(decl);
    for (const r of rows) w.add(r);
  }

  write(batch: ColumnBatch): void {
    this.db.write(batch);
    recycle(typedArrays(batch));
  }

  async complete(tables: readonly TableDecl<unknown>[]): Promise<void> {
    const names = tables.map((t) => t.name);
    for (const w of this.writers.filter((x) => names.includes(x.table))) w.flush();
    await this.db.complete(names, this.target.path !== MEMORY);
  }

  async run(sql: string): Promise<void> {
    this.flushWriters();
    await this.db.conn.run(sql);
  }

  private flushWriters(): void {
    for (const w of this.writers) w.flush();
  }

  async flushSome(): Promise<void> {}

  /** Makes the new database the one at `path`. An in-memory database stays open for reading. */
  async commit(): Promise<StoreHandle> {
    this.flushWriters();
    if (this.target.path === MEMORY) {
      this.db.closeWriters();
      return { conn: this.db.conn, close: () => this.abort() };
    }
    await this.db.close();
    await installTarget(this.target);
    return openStore(this.target.path);
  }

  /** Drops the unfinished database; the one at `path`, if any, is untouched. */
  abort(): void {
    this.db.abort();
    dropTarget(this.target);
  }
}

/** What a file is, for a message that refuses to replace it. The sniffers (every adapter, zod with
 *  them) are loaded only then: the store's worker imports this module and needs none of them. */
async function whatItIs(path: string): Promise<string> {
  const head = Buffer.alloc(4096);
  let n = 0;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, head, 0, head.length, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return `a file avpscope cannot read (${(e as NodeJS.ErrnoException).code})`;
  }
  const b = head.subarray(0, n);
  if (n === 0) return 'an empty file';
  if (b[0] === 0x1f && b[1] === 0x8b) return 'gzip data (a compressed trace?)';
  const text = b.toString('utf8');
  const { ADAPTERS } = await import('../ingest/registry.ts');
  const a = ADAPTERS.find((x) => x.sniff(text, b));
  if (a) return `a trace (${a.name})`;
  return b.includes(0) ? 'binary data' : 'a text file';
}

const heldMessage = (msg: string) => `held by another process (${msg.split('\n')[0]}); it is not replaced while in use`;

/**
 * Refuses a target that is not a missing file or an avpscope store, or that another process holds
 * open (DuckDB's lock: a reader holds a shared lock, a writer an exclusive one).
 */
async function assertReplaceable(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const refuse = (what: string) => new InputError(`--db: refusing to replace it: it is ${what}, not an avpscope store (--db takes a new file or a store avpscope wrote)`, path);
  const head = Buffer.alloc(16);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (!looksLikeDuckDb(head)) throw refuse(await whatItIs(path));
  let store: StoreHandle;
  try {
    store = await openStore(path);
  } catch (e) {
    const msg = (e as InputError).message;
    if (/locked/.test(msg)) throw new InputError(`--db: ${heldMessage(msg)}`, path);
    throw refuse(/not one avpscope wrote/.test(msg) ? "another program's DuckDB database (no avpscope meta table)" : 'a damaged DuckDB database');
  }
  store.close();
  // a reader elsewhere holds a shared lock: opening for writing is what finds it
  try {
    const probe = await (await duckdb()).DuckDBInstance.create(path, INSTANCE_OPTIONS);
    probe.closeSync();
  } catch (e) {
    throw new InputError(`--db: ${heldMessage((e as Error).message)}`, path);
  }
}

/** `<store>.lock` with our pid: one avpscope writes a store at a time. A dead owner's lock is stale. */
function takeLock(path: string, swept: string[]): string {
  const lock = `${path}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      own(lock);
      return lock;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw new InputError(`--db: cannot take the lock ${lock} (${(e as NodeJS.ErrnoException).code})`, path);
    }
    const pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
    if (Number.isInteger(pid) && pidAlive(pid)) throw new InputError(`--db: another avpscope (pid ${pid}) is writing this store (lock ${lock})`, path);
    rmSync(lock, { force: true });
    swept.push(lock);
  }
}

function dropLock(lock: string | undefined): void {
  if (lock === undefined) return;
  rmSync(lock, { force: true });
  release(lock);
}

export interface StoreHandle {
  conn: DuckDBConnection;
  close(): void;
}

/** Opens an existing store read-only. Locked or damaged files are input errors (exit 2). */
export async function openStore(path: string): Promise<StoreHandle> {
  if (!existsSync(path)) throw new InputError('no such database', path);
  let instance: DuckDBInstance;
  try {
    instance = await (await duckdb()).DuckDBInstance.create(path, { ...INSTANCE_OPTIONS, access_mode: 'READ_ONLY' });
  } catch (e) {
    const msg = (e as Error).message;
    const why = /lock/i.test(msg) ? 'database is locked by another process' : /not a valid|corrupt|invalid|magic|Serialization/i.test(msg) ? 'not a valid avpscope database (damaged or not DuckDB)' : 'cannot open the database';
    throw new InputError(`${why}: ${msg.split('\n')[0]}`, path);
  }
  const conn = await instance.connect();
  try {
    const r = await conn.runAndReadAll("SELECT value FROM meta WHERE key = 'schema_version'");
    if (r.getRows().length === 0) throw new Error('no schema version');
  } catch (e) {
    conn.closeSync();
    instance.closeSync();
    throw new InputError(`a DuckDB database, but not one avpscope wrote (${(e as Error).message.split('\n')[0]})`, path);
  }
  return {
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** True when the file starts like a DuckDB database. */
export function looksLikeDuckDb(head: Buffer): boolean {
  return head.length >= 12 && head.subarray(8, 12).toString('latin1') === 'DUCK';
}

export type Row = Record<string, string | number | boolean | null | bigint>;

/** Runs a query and returns plain rows; BIGINTs become numbers where exact (all but epoch origins). */
export async function queryRows(conn: DuckDBConnection, sql: string, values?: Record<string, string | number>): Promise<Row[]> {
  const reader = await conn.runAndReadAll(sql, values);
  return reader.getRowObjectsJS().map((r) => {
    const out: Row = {};
    for (const [k, v] of Object.entries(r)) {
      out[k] = typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : (v as Row[string]);
    }
    return out;
  });
}
