/**
 * Rows on their way to the store, column by column: numbers and booleans in typed arrays (handed to
 * the store's worker without a copy: their buffers are transferred), text in arrays of strings. No
 * object per row is kept, and DuckDB takes each numeric column of a data chunk in one copy
 * (TableWriter in store.ts). Both store writers, the worker's and this thread's, take these batches.
 */
import type { Column, ColumnType, TableDecl } from './tables.ts';

/**
 * One column of a batch, by declared type:
 * - BIGINT: Float64Array, NaN for NULL (every value is a safe integer, checked when added);
 * - BOOLEAN: Uint8Array, 0 or 1, NULL_BOOLEAN for NULL;
 * - VARCHAR, DOUBLE, HUGEINT: the values as they are (DOUBLE and HUGEINT are rare: a few rows a run).
 */
export type ColumnData = Float64Array | Uint8Array | unknown[];

export const NULL_BOOLEAN = 2;

/** Rows of one table, column by column in the declaration's order. */
export interface ColumnBatch {
  table: string;
  rows: number;
  cols: ColumnData[];
}

/** Rows per batch: several data chunks (2048 rows each), so that messages to the worker stay few. */
export const BATCH_ROWS = 8192;

/** The buffers a batch hands over when posted to the worker. */
export function transferables(b: ColumnBatch): ArrayBuffer[] {
  return b.cols.filter((c): c is Float64Array | Uint8Array => !Array.isArray(c)).map((c) => c.buffer as ArrayBuffer);
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
      const a = t === 'BIGINT' ? new Float64Array(cap) : new Uint8Array(cap);
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
        default:
          (col as unknown[])[r] = v ?? null;
      }
    }
    return this.added();
  }

  /** Counts the row filled at next(); true when the batch is full. */
  added(): boolean {
    return ++this.rows === BATCH_ROWS;
  }

  /** The rows gathered so far, as a batch (its arrays are the batch's now), or undefined if none. */
  take(): ColumnBatch | undefined {
    if (this.rows === 0) return undefined;
    // the arrays go with the batch, cut to its rows: a transfer moves no more than it holds
    const b: ColumnBatch = { table: this.table, rows: this.rows, cols: this.cols.map((c) => (Array.isArray(c) || c.length === this.rows ? c : c.slice(0, this.rows))) };
    this.cols = [];
    this.rows = 0;
    this.start = this.capacity;
    this.capacity = 0;
    return b;
  }
}
