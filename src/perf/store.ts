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
import type { DuckDBAppender, DuckDBConnection, DuckDBDataChunk, DuckDBInstance, DuckDBType, DuckDBVector } from '@duckdb/node-api';
import { InputError } from '../ingest/errors.ts';
import { ADAPTERS } from '../ingest/registry.ts';
import { checkOutputPath } from '../io/atomic-write.ts';
import { own, pidAlive, release, removeTemp, sweepStale, tempBeside } from '../io/temp-files.ts';
import { ALL_TABLES, ddl, type Column, type ColumnType, type TableDecl } from './tables.ts';

type DuckDBModule = typeof import('@duckdb/node-api');
let loaded: DuckDBModule | undefined;
/** DuckDB is loaded on first use, so that commands that need no store (`--help`) start fast. */
async function duckdb(): Promise<DuckDBModule> {
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

/**
 * Rows of one table into DuckDB through the Appender's data chunks (at most 2048 rows each), typed
 * cell by cell: no text row is ever built, so any string (tabs, newlines, NUL, `\\N`, any length)
 * arrives exactly as it was.
 */
export class TableWriter<Row> {
  private readonly names: (keyof Row & string)[];
  private readonly types: ColumnType[];
  private chunk!: DuckDBDataChunk;
  private vectors!: DuckDBVector[];
  private readonly table: string;
  private rows = 0;

  constructor(
    private readonly appender: DuckDBAppender,
    decl: TableDecl<Row>,
  ) {
    this.table = decl.name;
    const cols = Object.entries(decl.columns) as [keyof Row & string, Column][];
    this.names = cols.map(([n]) => n);
    this.types = cols.map(([, c]) => c.type);
    this.newChunk();
  }

  private newChunk(): void {
    this.chunk = loaded!.DuckDBDataChunk.create(this.types.map(duckType), CHUNK_ROWS);
    this.vectors = this.types.map((_, c) => this.chunk.getColumnVector(c));
  }

  add(row: Row): void {
    for (let c = 0; c < this.names.length; c++) this.set(c, this.rows, row[this.names[c]!]);
    this.rows++;
    if (this.rows === CHUNK_ROWS) this.flushChunk();
  }

  /** Adds `n` rows given column by column (cells in the declaration's column order). */
  addColumns(cols: readonly (readonly unknown[])[], n: number): void {
    for (let i = 0; i < n; ) {
      const take = Math.min(n - i, CHUNK_ROWS - this.rows);
      for (let c = 0; c < cols.length; c++) {
        const col = cols[c]!;
        for (let k = 0; k < take; k++) this.set(c, this.rows + k, col[i + k]);
      }
      this.rows += take;
      i += take;
      if (this.rows === CHUNK_ROWS) this.flushChunk();
    }
  }

  private set(c: number, r: number, v: unknown): void {
    const vec = this.vectors[c]!;
    if (v === null || v === undefined) vec.setItem(r, null);
    else if (typeof v === 'number' && this.types[c] !== 'DOUBLE') vec.setItem(r, bigintCell(v, this.table, this.names[c]!));
    else vec.setItem(r, v as never);
  }

  private flushChunk(): void {
    if (this.rows === 0) return;
    for (const v of this.vectors) v.flush();
    this.chunk.rowCount = this.rows;
    this.appender.appendDataChunk(this.chunk);
    this.rows = 0;
    this.newChunk();
  }

  close(): void {
    this.flushChunk();
    this.appender.closeSync();
  }
}

/** An integer cell. Values are integers by their schemas; one that is not is a bug, said plainly. */
function bigintCell(v: number, table: string, column: string): bigint {
  if (!Number.isSafeInteger(v)) throw new Error(`${table}.${column}: ${v} is not an integer the store can hold exactly`);
  return BigInt(v);
}

/** Where rows of a table go: a TableWriter here, or a batch to the store's worker. */
export interface RowWriter<Row> {
  add(row: Row): void;
}

/** A store being written, in this thread or in a worker (see store-client.ts). */
export interface StoreWriting {
  table<Row>(decl: TableDecl<Row>): Promise<RowWriter<Row>>;
  rows<Row>(decl: TableDecl<Row>, rows: Row[]): Promise<void>;
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

/** A DuckDB database being written: the core tables, and a bulk writer per table. */
export class DbWriter {
  private readonly writers: TableWriter<unknown>[] = [];

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
  ) {}

  /** Creates the database at `file` (`:memory:`: in memory) with the core tables; `shown` names it in errors. */
  static async open(file: string, shown: string): Promise<DbWriter> {
    let instance: DuckDBInstance;
    try {
      instance = await (await duckdb()).DuckDBInstance.create(file, INSTANCE_OPTIONS);
    } catch (e) {
      throw new InputError(`cannot create a database next to it: ${(e as Error).message}`, shown);
    }
    const conn = await instance.connect();
    for (const t of ALL_TABLES) await conn.run(ddl(t as TableDecl<unknown>));
    return new DbWriter(instance, conn);
  }

  /** A bulk writer for a table; tables not among the core ones are created first. */
  async table<Row>(decl: TableDecl<Row>): Promise<TableWriter<Row>> {
    if (!ALL_TABLES.some((t) => t.name === decl.name)) await this.conn.run(ddl(decl as TableDecl<unknown>));
    const w = new TableWriter<Row>(await this.conn.createAppender(decl.name), decl);
    this.writers.push(w as TableWriter<unknown>);
    return w;
  }

  /** Writes out every row added. */
  closeWriters(): void {
    for (const w of this.writers) w.close();
    this.writers.length = 0;
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

  table<Row>(decl: TableDecl<Row>): Promise<TableWriter<Row>> {
    return this.db.table(decl);
  }

  async rows<Row>(decl: TableDecl<Row>, rows: Row[]): Promise<void> {
    const w = await this.table(decl);
    for (const r of rows) w.add(r);
  }

  async run(sql: string): Promise<void> {
    await this.db.conn.run(sql);
  }

  async flushSome(): Promise<void> {}

  /** Makes the new database the one at `path`. An in-memory database stays open for reading. */
  async commit(): Promise<StoreHandle> {
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

/** What a file is, for a message that refuses to replace it. */
function whatItIs(path: string): string {
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
  if (!looksLikeDuckDb(head)) throw refuse(whatItIs(path));
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
