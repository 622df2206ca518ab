/**
 * The embedded DuckDB store. Writes are atomic: a new database is built in a temporary file next
 * to the target and renamed over it only when complete, so a failed or interrupted ingest leaves
 * any earlier database as it was. Rows go in through the Appender, a data chunk (at most 2048
 * rows) at a time.
 *
 * Only a store replaces a store: the target must be missing or a database avpscope wrote (its
 * `meta` table says so), not an input, not held open by another process, and not being written by
 * another avpscope (`<store>.lock` holds its pid).
 */
import { closeSync, createWriteStream, existsSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import {
  BIGINT, BOOLEAN, DOUBLE, DuckDBAppender, DuckDBConnection, DuckDBDataChunk, DuckDBInstance, INTEGER, VARCHAR,
  type DuckDBType,
} from '@duckdb/node-api';
import { InputError } from '../ingest/errors.ts';
import { ADAPTERS } from '../ingest/registry.ts';
import { checkOutputPath } from '../io/atomic-write.ts';
import { own, pidAlive, release, removeTemp, scratchFile, sweepStale, tempBeside } from '../io/temp-files.ts';
import { ALL_TABLES, ddl, type Column, type ColumnType, type TableDecl } from './tables.ts';

const DUCK_TYPES: Record<ColumnType, DuckDBType> = { BIGINT, INTEGER, DOUBLE, VARCHAR, BOOLEAN };
const CHUNK_ROWS = 2048;
export const MEMORY = ':memory:';

/** DuckDB must never try to download an extension here: fail at once instead. Its buffer pool is
 *  capped so that loading a long trace costs the same memory as a short one (it spills to disk). */
const INSTANCE_OPTIONS = { autoinstall_known_extensions: 'false', autoload_known_extensions: 'true', memory_limit: '256MB' };

export class TableWriter<Row> {
  private readonly names: (keyof Row & string)[];
  private readonly types: ColumnType[];
  private chunk: DuckDBDataChunk;
  private rows = 0;
  written = 0;

  constructor(
    private readonly appender: DuckDBAppender,
    decl: TableDecl<Row>,
  ) {
    const cols = Object.entries(decl.columns) as [keyof Row & string, Column][];
    this.names = cols.map(([n]) => n);
    this.types = cols.map(([, c]) => c.type);
    this.chunk = DuckDBDataChunk.create(this.types.map((t) => DUCK_TYPES[t]), CHUNK_ROWS);
  }

  add(row: Row): void {
    const r = this.rows;
    for (let c = 0; c < this.names.length; c++) {
      const v = row[this.names[c]!] as unknown;
      const vec = this.chunk.getColumnVector(c);
      if (v === null || v === undefined) vec.setItem(r, null);
      else if (this.types[c] === 'BIGINT') vec.setItem(r, typeof v === 'bigint' ? v : BigInt(v as number));
      else vec.setItem(r, v as never);
    }
    this.rows++;
    if (this.rows === CHUNK_ROWS) this.flushChunk();
  }

  private flushChunk(): void {
    if (this.rows === 0) return;
    for (let c = 0; c < this.names.length; c++) this.chunk.getColumnVector(c).flush();
    this.chunk.rowCount = this.rows;
    this.appender.appendDataChunk(this.chunk);
    this.written += this.rows;
    this.rows = 0;
    this.chunk = DuckDBDataChunk.create(this.types.map((t) => DUCK_TYPES[t]), CHUNK_ROWS);
  }

  close(): void {
    this.flushChunk();
    this.appender.closeSync();
  }
}

/** One TSV cell: NULL as \\N; tabs and newlines cannot occur in a cell, so they become spaces. */
export function tsvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v !== 'string') return String(v);
  return /[\t\n\r]/.test(v) ? v.replace(/[\t\n\r]/g, ' ') : v;
}

/**
 * The bulk path for the one table that grows with the trace (events): rows are written as TSV
 * lines to a file beside the database and loaded at commit by DuckDB's own parallel reader, which
 * is several times faster than the appender from JavaScript, and keeps the replay loop free.
 */
const MAX_UNWRITTEN = 8 << 20;
const BUFFER_BYTES = 1 << 20;

export class TsvTableLoader {
  private readonly out: WriteStream;
  // rows are encoded straight into a buffer: no joined strings for the collector to chase
  private buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private pos = 0;
  rows = 0;

  constructor(
    readonly table: string,
    readonly file: string,
  ) {
    this.out = createWriteStream(file);
  }

  /** Adds one row (its cells already TSV-safe, tab-separated, no newline). */
  add(line: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit
    if (this.pos + line.length * 3 + 1 > this.buf.length) this.writeBuffer(line.length * 3 + 1);
    this.pos += this.buf.write(line, this.pos);
    this.buf[this.pos++] = 10;
    this.rows++;
  }

  /** Waits for the disk when it falls far behind; the replay goes on meanwhile otherwise. */
  async flushSome(): Promise<void> {
    if (this.out.writableLength > MAX_UNWRITTEN) await once(this.out, 'drain');
  }

  private writeBuffer(room: number): void {
    if (this.pos > 0) this.out.write(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(Math.max(BUFFER_BYTES, room));
    this.pos = 0;
  }

  async load(conn: DuckDBConnection): Promise<void> {
    this.writeBuffer(0);
    await new Promise<void>((res, rej) => this.out.end((e?: Error | null) => (e ? rej(e) : res())));
    if (this.rows > 0) {
      await conn.run(
        `COPY ${this.table} FROM '${this.file.replace(/'/g, "''")}' (DELIMITER '\t', QUOTE '', ESCAPE '', NULLSTR '\\N', HEADER false, AUTO_DETECT false)`,
      );
    }
    rmSync(this.file, { force: true });
  }

  discard(): void {
    this.out.destroy();
    rmSync(this.file, { force: true });
  }

  /** A writer of whole rows of a declared table, cells in the declaration's column order. */
  rowsOf<Row>(decl: TableDecl<Row>): (row: Row) => void {
    const names = Object.keys(decl.columns) as (keyof Row)[];
    return (row) => this.add(names.map((n) => tsvCell(row[n] as string | number | boolean | null)).join('\t'));
  }
}

export class StoreWriter {
  private readonly writers: TableWriter<unknown>[] = [];
  private readonly loaders: TsvTableLoader[] = [];

  private constructor(
    readonly path: string,
    private readonly tmp: string,
    private readonly lock: string | undefined,
    private readonly instance: DuckDBInstance,
    readonly conn: DuckDBConnection,
    /** temporary files of killed runs removed before this one started */
    readonly swept: string[],
  ) {}

  /**
   * Starts a new database that will replace `path` on commit (`:memory:`: a database in memory).
   * `inputs` are the files being read: the store is never one of them.
   */
  static async create(path: string, inputs: readonly string[] = []): Promise<StoreWriter> {
    if (path === MEMORY) {
      const swept = sweepStale();
      const instance = await DuckDBInstance.create(MEMORY, INSTANCE_OPTIONS);
      const conn = await instance.connect();
      for (const t of ALL_TABLES) await conn.run(ddl(t as TableDecl<unknown>));
      return new StoreWriter(path, MEMORY, undefined, instance, conn, swept);
    }
    checkOutputPath(path, inputs, '--db');
    await assertReplaceable(path);
    const swept: string[] = [];
    const lock = takeLock(path, swept);
    swept.push(...sweepStale(path));
    const tmp = tempBeside(path);
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(tmp, INSTANCE_OPTIONS);
    } catch (e) {
      removeTemp(tmp);
      dropLock(lock);
      throw new InputError(`cannot create a database next to it: ${(e as Error).message}`, path);
    }
    const conn = await instance.connect();
    for (const t of ALL_TABLES) await conn.run(ddl(t as TableDecl<unknown>));
    return new StoreWriter(path, tmp, lock, instance, conn, swept);
  }

  /** A bulk writer for a table; tables not among the core ones are created first. */
  async table<Row>(decl: TableDecl<Row>): Promise<TableWriter<Row>> {
    if (!ALL_TABLES.some((t) => t.name === decl.name)) await this.conn.run(ddl(decl as TableDecl<unknown>));
    const w = new TableWriter<Row>(await this.conn.createAppender(decl.name), decl);
    this.writers.push(w as TableWriter<unknown>);
    return w;
  }

  /** A TSV loader for a declared table (see TsvTableLoader). */
  tsv<Row>(decl: TableDecl<Row>): TsvTableLoader {
    // several stores may be written at once in one process (tests, analyses of two runs)
    const l = new TsvTableLoader(decl.name, this.tmp === MEMORY ? scratchFile(`${decl.name}.tsv`) : `${this.tmp}.${decl.name}.tsv`);
    this.loaders.push(l);
    return l;
  }

  async rows<Row>(decl: TableDecl<Row>, rows: Row[]): Promise<void> {
    const w = await this.table(decl);
    for (const r of rows) w.add(r);
  }

  /** Makes the new database the one at `path`. An in-memory database stays open for reading. */
  async commit(): Promise<StoreHandle> {
    for (const w of this.writers) w.close();
    this.writers.length = 0;
    for (const l of this.loaders) await l.load(this.conn);
    this.loaders.length = 0;
    if (this.path === MEMORY) return { conn: this.conn, close: () => this.abort() };
    await this.conn.run('CHECKPOINT');
    this.conn.closeSync();
    this.instance.closeSync();
    // someone may have opened the old store while this one was built
    await assertReplaceable(this.path);
    if (existsSync(`${this.path}.wal`)) rmSync(`${this.path}.wal`, { force: true });
    renameSync(this.tmp, this.path);
    removeTemp(this.tmp);
    release(this.tmp);
    dropLock(this.lock);
    return openStore(this.path);
  }

  /** Drops the unfinished database; the one at `path`, if any, is untouched. */
  abort(): void {
    for (const l of this.loaders) l.discard();
    try {
      this.conn.closeSync();
      this.instance.closeSync();
    } catch {
      // already closed
    }
    if (this.tmp !== MEMORY) removeTemp(this.tmp);
    dropLock(this.lock);
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
    const probe = await DuckDBInstance.create(path, INSTANCE_OPTIONS);
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
    instance = await DuckDBInstance.create(path, { ...INSTANCE_OPTIONS, access_mode: 'READ_ONLY' });
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
