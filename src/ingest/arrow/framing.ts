/**
 * Checks the Arrow IPC framing of a byte stream before apache-arrow decodes it. apache-arrow trusts
 * the lengths a message's metadata states: a vector length of 2^31 field nodes, or a body length of
 * a petabyte, makes it allocate until the heap runs out (the process dies, no error to catch). This
 * pass-through reads each message's framing (continuation 0xFFFFFFFF, int32 metadata length, the
 * flatbuffer Message with its bodyLength, then the body) and checks that every length the decoder
 * will act on fits in the bytes that hold it; only then does it hand the message on. Bodies pass
 * through a chunk at a time, so memory stays that of one message, as apache-arrow's own.
 *
 * The file format ("ARROW1", padding, a stream with its end marker, footer, int32 footer length,
 * "ARROW1") passes through as it is, and its footer is held back until checked too: apache-arrow
 * reads a file-format stream whole and then finds its schema and batches by the footer's blocks, so
 * each block must be the start of a message checked here, with the same lengths.
 *
 * The generated flatbuffer classes apache-arrow ships (apache-arrow/fb/*) read a length without
 * decoding the vector; they read through the ByteBuffer of apache-arrow's own `flatbuffers`.
 */
import { ByteBuffer } from 'flatbuffers';
import { DictionaryBatch } from 'apache-arrow/fb/dictionary-batch';
import { Field } from 'apache-arrow/fb/field';
import { Footer } from 'apache-arrow/fb/footer';
import type { Block } from 'apache-arrow/fb/block';
import { Message } from 'apache-arrow/fb/message';
import { MessageHeader } from 'apache-arrow/fb/message-header';
import { RecordBatch } from 'apache-arrow/fb/record-batch';
import { Schema } from 'apache-arrow/fb/schema';
import { InputError } from '../errors.ts';

/** An avpscope schema or batch header is a few KB; a MiB leaves room for any sane producer. */
const MAX_METADATA = 1 << 20;
/** apache-arrow holds a body in one Uint8Array; a GiB is far past a 16384-row batch. */
const MAX_BODY = 1 << 30;
/** Field tables a schema may visit (children may share tables, so visits can outgrow the bytes). */
const MAX_FIELDS = 10_000;
const MAX_DEPTH = 64;
const MAGIC = 'ARROW1';
const CONTINUATION = -1; // 0xFFFFFFFF read as int32
const STRUCT = 16; // FieldNode and Buffer: two int64s
const BLOCK = 24; // a footer's Block: int64 offset, int32 metadata length and padding, int64 body length

type Counts = { batches: number; dictionaries: number };

/** A violation found in one message; the caller adds where. */
class Damage extends Error {}

/** The bytes of `source`, checked message by message; throws an InputError naming `file`. */
export async function* checkedIpc(source: AsyncIterable<Buffer>, file: string, size?: number): AsyncGenerator<Uint8Array> {
  const input = new Pull(source[Symbol.asyncIterator]());
  const counts = { batches: 0, dictionaries: 0 };
  let where = 'the start';
  const fail = (what: string, at: number) => new InputError(`damaged Arrow IPC data in ${where} at byte ${at}: ${what}`, file);
  const fileFormat = (await input.fill(MAGIC.length)) && input.peek(MAGIC.length).toString('latin1') === MAGIC;
  /** file format: where each message starts, and its lengths, for the footer's blocks to match */
  const starts = new Map<number, { meta: number; body: number }>();
  if (fileFormat) {
    if (!(await input.fill(8))) throw fail('cut short after the ARROW1 magic', 0);
    yield input.take(8); // magic and its padding to 8 bytes
  }
  for (let n = 1; ; n++) {
    const at = input.offset;
    where = `message ${n}`;
    if (!(await input.fill(4))) {
      if (input.buffered > 0) throw fail('cut short in the message length', at);
      if (fileFormat) throw fail('the file format ends without its end-of-stream marker and footer', at);
      return; // a stream may end without its end marker
    }
    let prefix = 4;
    let length = input.peek(4).readInt32LE(0);
    if (length === CONTINUATION) {
      if (!(await input.fill(8))) throw fail('cut short after the continuation marker', at);
      prefix = 8;
      length = input.peek(8).readInt32LE(4);
    }
    if (length === 0) {
      const end = input.take(prefix);
      if (!fileFormat) {
        yield end;
        return;
      }
      where = 'the footer';
      const footerAt = input.offset;
      let footer: Buffer;
      try {
        footer = await checkFooter(input, starts, counts);
      } catch (e) {
        if (e instanceof Damage) throw fail(e.message, footerAt);
        throw fail(`not a readable flatbuffer Footer (${(e as Error).message})`, footerAt);
      }
      yield end;
      yield footer;
      return;
    }
    if (length < 0 || length > MAX_METADATA) throw fail(`metadata length ${length} is not between 1 and ${MAX_METADATA} bytes`, at);
    if (size !== undefined && at + prefix + length > size) throw fail(`metadata length ${length} runs past the end of the file (${size} bytes)`, at);
    if (!(await input.fill(prefix + length))) throw fail(`cut short: ${length} bytes of metadata stated, ${input.buffered - prefix} present`, at);
    const head = input.take(prefix + length);
    let body: number;
    try {
      body = checkMessage(head.subarray(prefix), counts, (name) => (where = `message ${n} (${name})`));
    } catch (e) {
      if (e instanceof Damage) throw fail(e.message, at);
      throw fail(`metadata is not a readable flatbuffer Message (${(e as Error).message})`, at);
    }
    if (size !== undefined && input.offset + body > size) throw fail(`body length ${body} runs past the end of the file (${size} bytes)`, at);
    if (fileFormat) starts.set(at, { meta: prefix + length, body });
    yield head;
    const passed = yield* input.pass(body);
    if (passed < body) throw fail(`cut short: a body of ${body} bytes stated, ${passed} present`, at);
  }
}

/** What the Message holds and how long its body is, once every length in it is checked. */
function checkMessage(meta: Buffer, counts: Counts, named: (name: string) => void): number {
  const bb = new ByteBuffer(new Uint8Array(meta.buffer, meta.byteOffset, meta.byteLength));
  if (meta.byteLength < 8 || !tableFits(bb, bb.readUint32(0))) throw new Damage('metadata is not a flatbuffer Message (root table out of bounds)');
  const msg = Message.getRootAsMessage(bb);
  const type = msg.headerType();
  if (type === MessageHeader.Schema) named('schema');
  else if (type === MessageHeader.RecordBatch) named(`record batch ${++counts.batches}`);
  else if (type === MessageHeader.DictionaryBatch) named(`dictionary batch ${++counts.dictionaries}`);
  else throw new Damage(`message type ${MessageHeader[type] ?? type} is not a schema, record batch or dictionary batch`);
  vectorFits(bb, msg.customMetadataLength(), 4, 'custom metadata entries');
  const stated = msg.bodyLength();
  if (stated < 0n || stated > BigInt(MAX_BODY)) throw new Damage(`body length ${stated} is not between 0 and ${MAX_BODY} bytes`);
  const body = Number(stated);
  if (type === MessageHeader.Schema) checkSchema(bb, header(msg, new Schema(), bb));
  else if (type === MessageHeader.RecordBatch) checkBatch(bb, header(msg, new RecordBatch(), bb), body);
  else {
    const data = header(msg, new DictionaryBatch(), bb).data();
    if (data === null || !tableFits(bb, data.bb_pos)) throw new Damage('dictionary batch without its record batch');
    checkBatch(bb, data, body);
  }
  return body;
}

function checkSchema(bb: ByteBuffer, schema: Schema): void {
  vectorFits(bb, schema.customMetadataLength(), 4, 'schema metadata entries');
  vectorFits(bb, schema.featuresLength(), 8, 'schema features');
  checkFields(bb, schema.fieldsLength(), (i) => schema.fields(i), 0, { n: 0 });
}

function header<T extends { bb_pos: number }>(msg: Message, into: T, bb: ByteBuffer): T {
  const h = msg.header(into) as T | null;
  if (h === null || !tableFits(bb, h.bb_pos)) throw new Damage(`${MessageHeader[msg.headerType()]} header missing or out of bounds`);
  return h;
}

/** Nodes and buffers inside the metadata, buffers inside the body, rows the body can hold. */
function checkBatch(bb: ByteBuffer, batch: RecordBatch, body: number): void {
  const rows = batch.length();
  // every column but a Null one needs at least a bit per row, and an avpscope schema has no Null column
  const maxRows = BigInt(body) * 8n;
  if (rows < 0n || rows > maxRows) throw new Damage(`claims ${rows} rows, but its ${body}-byte body holds at most ${maxRows}`);
  const nodes = batch.nodesLength();
  structsFit(bb, nodes, (i) => batch.nodes(i)?.bb_pos, 'field nodes');
  for (let i = 0; i < nodes; i++) {
    const node = batch.nodes(i)!;
    const length = node.length();
    const nulls = node.nullCount();
    if (length < 0n || length > maxRows || nulls < 0n || nulls > length) throw new Damage(`field node ${i} claims ${length} values, ${nulls} null, beyond what the ${body}-byte body holds`);
  }
  const buffers = batch.buffersLength();
  structsFit(bb, buffers, (i) => batch.buffers(i)?.bb_pos, 'buffers');
  for (let i = 0; i < buffers; i++) {
    const buf = batch.buffers(i)!;
    const offset = buf.offset();
    const length = buf.length();
    if (offset < 0n || length < 0n || offset + length > BigInt(body)) throw new Damage(`buffer ${i} (offset ${offset}, length ${length}) lies outside the ${body}-byte body`);
  }
  vectorFits(bb, batch.variadicBufferCountsLength(), 8, 'variadic buffer counts');
}

/** A vector of `count` structs, first to last, inside the metadata. */
function structsFit(bb: ByteBuffer, count: number, pos: (i: number) => number | undefined, what: string, size = STRUCT): void {
  vectorFits(bb, count, size, what);
  if (count === 0) return;
  const first = pos(0);
  const last = pos(count - 1);
  if (first === undefined || last === undefined || first < 0 || last + size > bb.capacity()) throw new Damage(`its ${what} vector lies outside the ${bb.capacity()}-byte metadata`);
}

function vectorFits(bb: ByteBuffer, count: number, size: number, what: string): void {
  const room = Math.floor(bb.capacity() / size);
  if (count > room) throw new Damage(`claims ${count} ${what}, but its ${bb.capacity()}-byte metadata holds at most ${room}`);
}

function checkFields(bb: ByteBuffer, count: number, at: (i: number) => Field | null, depth: number, visits: { n: number }): void {
  vectorFits(bb, count, 4, 'fields');
  if (depth > MAX_DEPTH) throw new Damage(`fields nested deeper than ${MAX_DEPTH} levels`);
  for (let i = 0; i < count; i++) {
    if (++visits.n > MAX_FIELDS) throw new Damage(`more than ${MAX_FIELDS} fields (children shared or cyclic)`);
    const f = at(i);
    if (f === null) continue;
    if (!tableFits(bb, f.bb_pos)) throw new Damage(`field ${i} lies outside the metadata`);
    vectorFits(bb, f.customMetadataLength(), 4, 'field metadata entries');
    checkFields(bb, f.childrenLength(), (j) => f.children(j), depth + 1, visits);
  }
}

/** A flatbuffer table at `pos` with its vtable, both inside the buffer. */
function tableFits(bb: ByteBuffer, pos: number): boolean {
  const cap = bb.capacity();
  if (pos < 0 || pos + 4 > cap) return false;
  const vtable = pos - bb.readInt32(pos);
  if (vtable < 0 || vtable + 4 > cap) return false;
  const vtableSize = bb.readUint16(vtable);
  const tableSize = bb.readUint16(vtable + 2);
  return vtableSize >= 4 && vtable + vtableSize <= cap && pos + tableSize <= cap;
}

/**
 * After the file format's end marker: footer, its int32 length, "ARROW1", nothing else. The footer
 * (a schema and a block per batch) is held, so it is bounded like metadata; returned once checked.
 */
async function checkFooter(input: Pull, starts: Map<number, { meta: number; body: number }>, counts: Counts): Promise<Buffer> {
  const parts: Buffer[] = [];
  let rest = 0;
  for await (const chunk of input.drain()) {
    rest += chunk.length;
    if (rest > MAX_METADATA + 10) throw new Damage(`more than ${MAX_METADATA} bytes of footer`);
    parts.push(chunk);
  }
  const all = Buffer.concat(parts);
  if (rest < 18 || all.subarray(-6).toString('latin1') !== MAGIC) throw new Damage('the file format does not end with a footer and the ARROW1 magic');
  const length = all.readInt32LE(rest - 10);
  if (length !== rest - 10) throw new Damage(`footer length ${length} does not match the ${rest - 10} bytes before it`);
  const bytes = all.subarray(0, length);
  const bb = new ByteBuffer(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  if (!tableFits(bb, bb.readUint32(0))) throw new Damage('not a flatbuffer Footer (root table out of bounds)');
  const footer = Footer.getRootAsFooter(bb);
  const schema = footer.schema();
  if (schema === null || !tableFits(bb, schema.bb_pos)) throw new Damage('no schema in the footer');
  checkSchema(bb, schema);
  vectorFits(bb, footer.customMetadataLength(), 4, 'footer metadata entries');
  const blocks = (what: string, count: number, at: (i: number) => Block | null, stated: number) => {
    structsFit(bb, count, (i) => at(i)?.bb_pos, what, BLOCK);
    if (count > stated) throw new Damage(`lists ${count} ${what}, but the file holds ${stated}`);
    for (let i = 0; i < count; i++) {
      const b = at(i)!;
      const m = starts.get(Number(b.offset()));
      if (m === undefined || m.meta !== b.metaDataLength() || BigInt(m.body) !== b.bodyLength()) {
        throw new Damage(`its block ${i} of ${what} (offset ${b.offset()}, metadata ${b.metaDataLength()}, body ${b.bodyLength()} bytes) is not a message of the file`);
      }
    }
  };
  blocks('dictionary batches', footer.dictionariesLength(), (i) => footer.dictionaries(i), counts.dictionaries);
  blocks('record batches', footer.recordBatchesLength(), (i) => footer.recordBatches(i), counts.batches);
  return all;
}

/** Pulls exact byte counts from a chunked source; what it buffers is at most one header and a chunk. */
class Pull {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes taken or passed on so far. */
  offset = 0;
  constructor(private readonly source: AsyncIterator<Buffer>) {}

  get buffered(): number {
    return this.buf.length;
  }

  /** Buffers `n` bytes; false when the source ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.buf.length < n) {
      const r = await this.source.next();
      if (r.done) return false;
      this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    }
    return true;
  }

  peek(n: number): Buffer {
    return this.buf.subarray(0, n);
  }

  take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }

  /** Passes on up to `n` bytes as they arrive; returns how many there were. */
  async *pass(n: number): AsyncGenerator<Buffer, number> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill(1))) break;
      const part = this.take(Math.min(left, this.buf.length));
      left -= part.length;
      yield part;
    }
    return n - left;
  }

  /** Everything left. */
  async *drain(): AsyncGenerator<Buffer> {
    if (this.buf.length > 0) yield this.take(this.buf.length);
    for (let r = await this.source.next(); !r.done; r = await this.source.next()) {
      this.offset += r.value.length;
      yield r.value;
    }
  }
}
