/**
 * Rows on their way to the store, column by column: numbers and booleans in typed arrays (handed to
 * the store's worker without a copy: their buffers are transferred), the cells of a text column
 * joined into one string (posted as one copy, not thousands of small ones). No object per row is
 * kept, and DuckDB takes each numeric column of a data chunk in one copy (TableWriter in store.ts).
 * Both store writers, the worker's and this thread's, take these batches.
 */
import type { Column, ColumnType, TableDecl } from './tables.ts';

/**
 * The cells of a text column one after the other in `text`; `ends[i]` is where cell i ends (in
 * UTF-16 code units), NaN for NULL; a cell starts where the last non-NULL one before it ended.
 */
export interface TextColumn {
  text: string;
  ends: Float64Array;
}

/**
 * One column of a batch, by declared type:
 * - BIGINT: Float64Array, NaN for NULL (every value is a safe integer, checked when added);
 * - BOOLEAN: Uint8Array, 0 or 1, NULL_BOOLEAN for NULL;
 * - VARCHAR: a TextColumn (while a batch is gathered: its cells, in an array);
 * - DOUBLE, HUGEINT: the values as they are (rare: a few rows a run).
 */
export type ColumnData = Float64Array | Uint8Array | TextColumn | unknown[];

export const NULL_BOOLEAN = 2;

/** Rows of one table, column by column in the declaration's order. */
export interface ColumnBatch {
  table: string;
  rows: number;
  cols: ColumnData[];
}

/** Rows per batch: several data chunks (2048 rows each), so that messages to the worker stay few. */
export const BATCH_ROWS = 8192;
/** A batch ends early past this much text (UTF-16 code units): a string holds at most 2^29. */
const BATCH_TEXT = 1 << 25;

/** The typed arrays of a batch: what a post to the worker transfers, and what comes back for reuse. */
export function typedArrays(b: ColumnBatch): (Float64Array | Uint8Array)[] {
  return b.cols.filter((c) => !Array.isArray(c)).map((c) => (c as TextColumn).ends ?? (c as Float64Array | Uint8Array));
}

/**
 * Full-size arrays of written batches, for the next batches: the worker hands them back instead of
 * dropping them, since it frees what it drops only at its rare garbage collections (tens of MB).
 */
const spare = { f64: [] as Float64Array[], u8: [] as Uint8Array[] };
const SPARE_MAX = 64;

export function recycle(arrays: readonly (Float64Array | Uint8Array)[]): void {
  for (const a of arrays) {
    if (a.length !== BATCH_ROWS) continue;
    const list: (Float64Array | Uint8Array)[] = a instanceof Float64Array ? spare.f64 : spare.u8;
    if (list.length < SPARE_MAX) list.push(a);
  }
}

function f64(n: number): Float64Array {
  return (n === BATCH_ROWS ? spare.f64.pop() : undefined) ?? new Float64Array(n);
}

function u8(n: number): Uint8Array {
  return (n === BATCH_ROWS ? spare.u8.pop() : undefined) ?? new Uint8Array(n);
}

/** The cells of a text column as one string and where each ends. */
function joinText(cells: (string | null)[]): TextColumn {
  const ends = f64(cells.length);
  let end = 0;
  for (let i = 0; i < cells.length; i++) {
    const s = cells[i];
    ends[i] = s === null || s === undefined ? NaN : (end += s.length);
  }
  return { text: cells.join(''), ends };
}

/** An integer cell. Values are integers by their schemas; one that is not is a bug, said plainly. */
export function integerCell(v: number, table: string, column: string): number {
  if (!Number.isSafeInteger(v)) throw new Error(`${table}.${column}: ${v} is not an integer the store can hold exactly`);
  return v;
}

/**
 * Gathers the rows of one table into batches of BATCH_ROWS. `add` takes a row object; a hot path
 * (the events) fills `cols` directly instead (next, then added).
 */
export class BatchBuilder<Row> {
  readonly table: string;
  private readonly names: (keyof Row & string)[];
  private readonly types: ColumnType[];
  cols: ColumnData[] = [];
  rows = 0;
  /** rows the typed arrays hold: they grow to BATCH_ROWS, so that a table of a few rows costs a few rows */
  private capacity = 0;
  /** the capacity the next batch starts with: the last one's */
  private start = 256;
  /** text in this batch so far (UTF-16 code units) */
  textLength = 0;

  constructor(decl: TableDecl<Row>) {
    this.table = decl.name;
    const cols = Object.entries(decl.columns) as [keyof Row & string, Column][];
    this.names = cols.map(([n]) => n);
    this.types = cols.map(([, c]) => c.type);
  }

  /** The index of the next row, its arrays ready: a hot path fills `cols` there, then calls added(). */
  next(): number {
    if (this.rows === this.capacity) this.grow();
    return this.rows;
  }

  private grow(): void {
    const cap = this.capacity === 0 ? this.start : Math.min(BATCH_ROWS, this.capacity * 4);
    this.cols = this.types.map((t, c) => {
      const old = this.cols[c];
      if (t !== 'BIGINT' && t !== 'BOOLEAN') return old ?? [];
      const a = t === 'BIGINT' ? f64(cap) : u8(cap);
      if (old !== undefined) a.set(old as Float64Array & Uint8Array);
      return a;
    });
    this.capacity = cap;
  }

  /** Adds a row; true when the batch is full (take it). */
  add(row: Row): boolean {
    const r = this.next();
    for (let c = 0; c < this.names.length; c++) {
      const v = row[this.names[c]!] as unknown;
      const col = this.cols[c]!;
      switch (this.types[c]) {
        case 'BIGINT':
          (col as Float64Array)[r] = v === null || v === undefined ? NaN : integerCell(v as number, this.table, this.names[c]!);
          break;
        case 'BOOLEAN':
          (col as Uint8Array)[r] = v === null || v === undefined ? NULL_BOOLEAN : v ? 1 : 0;
          break;
        case 'VARCHAR':
          if (typeof v === 'string') this.textLength += v.length;
          (col as unknown[])[r] = v ?? null;
          break;
        default:
          (col as unknown[])[r] = v ?? null;
      }
    }
    return this.added();
  }

  /** Counts the row filled at next() (a hot path adds its text's length to textLength); true when the batch is full. */
  added(): boolean {
    return ++this.rows === BATCH_ROWS || this.textLength > BATCH_TEXT;
  }

  /** The rows gathered so far, as a batch (its arrays are the batch's now), or undefined if none. */
  take(): ColumnBatch | undefined {
    if (this.rows === 0) return undefined;
    // the arrays go with the batch, cut to its rows: a transfer moves no more than it holds
    const cols = this.cols.map((c, i) => {
      if (this.types[i] === 'VARCHAR') return joinText(c as (string | null)[]);
      return Array.isArray(c) || (c as Float64Array).length === this.rows ? c : (c as Float64Array).slice(0, this.rows);
    });
    const b: ColumnBatch = { table: this.table, rows: this.rows, cols };
    this.cols = [];
    this.rows = 0;
    this.textLength = 0;
    this.start = this.capacity;
    this.capacity = 0;
    return b;
  }
}
