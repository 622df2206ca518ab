/**
 * QEMU trace-event signatures, as QEMU declares them in its `trace-events` files
 * (`name(type arg, ...) "printf format"`), compiled into small argument parsers for the text the
 * `log` backend prints. Parsing from the declared format, not from ad-hoc regexes, is what lets one
 * adapter read 7.2 and 10.0 logs: where a format changed, both declarations are listed.
 *
 * Two readers of one compiled format: `parseArgs` reads a line's text and is the reference;
 * `matchBytes` reads the line's bytes without a string per line (the fast path of a big log) and
 * answers only for the lines QEMU writes, leaving every other one to `parseArgs`.
 */

export type ArgValue = string | number;
export type Args = Record<string, ArgValue>;

/** udec: an unsigned conversion (%u, %zu): a minus sign there is a corrupt line, not a value */
type Conv = 'ptr' | 'dec' | 'udec' | 'hex' | 'str';

interface Slot {
  name: string;
  conv: Conv;
}

export interface CompiledFormat {
  /** literal text before each slot; `literals[slots.length]` is the trailing text */
  literals: string[];
  slots: Slot[];
  /** for matchBytes: the literals' bytes (the trailing one without its trailing blanks) */
  literalBytes: Buffer[];
  /** for matchBytes: the arguments of the last line matched, one object reused (its keys in slot order) */
  scratch: Args;
}

// C's inttypes.h macros as they appear between the string pieces of a format.
const PRI: Record<string, string> = {
  PRIx64: 'llx', PRIx32: 'x', PRIx16: 'x', PRIx8: 'x', PRIX64: 'llX',
  PRIu64: 'llu', PRIu32: 'u', PRIu16: 'u', PRIu8: 'u',
  PRId64: 'lld', PRId32: 'd', PRId16: 'd', PRId8: 'd', PRIi64: 'lli',
};

/** Parses one `trace-events` declaration. Throws on a declaration it cannot read (a bug in our table). */
export function compileDeclaration(decl: string): { name: string; format: CompiledFormat } {
  const m = /^(?:disable\s+)?(\w+)\((.*?)\)\s*(.*)$/.exec(decl.trim());
  if (!m) throw new Error(`bad trace-events declaration: ${decl}`);
  const [, name, params, rest] = m as unknown as [string, string, string, string];
  const argNames =
    params.trim() === 'void' || params.trim() === ''
      ? []
      : params.split(',').map((p) => /(\w+)\s*$/.exec(p.trim())![1]!);
  // Join the C string pieces: "a 0x%" PRIx64 " b" -> a 0x%llx b
  let fmt = '';
  const piece = /"((?:[^"\\]|\\.)*)"|(\w+)/g;
  let pm: RegExpExecArray | null;
  while ((pm = piece.exec(rest)) !== null) {
    if (pm[1] !== undefined) fmt += pm[1];
    else if (pm[2] !== undefined) {
      const p = PRI[pm[2]];
      if (p === undefined) throw new Error(`unknown format macro ${pm[2]} in ${decl}`);
      fmt += p;
    }
  }
  const literals: string[] = [];
  const slots: Slot[] = [];
  let lit = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%') {
      lit += c;
      continue;
    }
    if (fmt[i + 1] === '%') {
      lit += '%';
      i++;
      continue;
    }
    const spec = /^%[-+ #0]*\d*(?:\.\d+)?(hh|h|ll|l|z|j|t)?([diouxXps])/.exec(fmt.slice(i));
    if (!spec) throw new Error(`unsupported conversion at "${fmt.slice(i)}" in ${decl}`);
    const t = spec[2]!;
    const conv: Conv = t === 'p' ? 'ptr' : t === 's' ? 'str' : t === 'x' || t === 'X' ? 'hex' : t === 'u' ? 'udec' : 'dec';
    const argName = argNames[slots.length];
    if (argName === undefined) throw new Error(`more conversions than arguments in ${decl}`);
    literals.push(lit);
    lit = '';
    slots.push({ name: argName, conv });
    i += spec[0].length - 1;
  }
  literals.push(lit);
  const literalBytes = literals.map((l, i) => Buffer.from(i === slots.length ? l.trimEnd() : l, 'latin1'));
  const scratch: Args = {};
  for (const sl of slots) scratch[sl.name] = 0;
  return { name, format: { literals, slots, literalBytes, scratch } };
}

/**
 * Reads `text` (the arguments part of a log line) against a compiled format. Returns undefined
 * when the text does not have the declared shape; numbers outside the safe integer range are
 * rejected rather than rounded.
 */
export function parseArgs(f: CompiledFormat, text: string): Args | undefined {
  const out: Args = {};
  let pos = 0;
  const { literals, slots } = f;
  for (let i = 0; i < slots.length; i++) {
    const lit = literals[i]!;
    if (!text.startsWith(lit, pos)) return undefined;
    pos += lit.length;
    const slot = slots[i]!;
    const next = literals[i + 1]!;
    let end: number;
    if (slot.conv === 'str') {
      // a string runs to the next literal (or to the end when nothing follows)
      end = next.length === 0 ? (i + 1 === slots.length ? text.length : -1) : text.indexOf(next, pos);
      if (end < 0) return undefined;
      out[slot.name] = text.slice(pos, end);
    } else {
      end = pos;
      if (slot.conv === 'ptr') {
        if (text.startsWith('(nil)', pos)) {
          end = pos + 5;
        } else {
          if (text.charCodeAt(pos) !== 48 || text.charCodeAt(pos + 1) !== 120) return undefined; // "0x"
          end = pos + 2;
          while (end < text.length && isHex(text.charCodeAt(end))) end++;
          if (end === pos + 2) return undefined;
        }
        out[slot.name] = text.slice(pos, end);
      } else if (slot.conv === 'hex') {
        while (end < text.length && isHex(text.charCodeAt(end))) end++;
        const digits = text.slice(pos, end).replace(/^0+(?=.)/, '').toLowerCase();
        if (end === pos || digits.length > 32) return undefined;
        // up to 13 hex digits (52 bits) is an exact number; wider values (feature words) stay text
        out[slot.name] = digits.length <= 13 ? parseInt(digits, 16) : '0x' + digits;
      } else {
        if (slot.conv === 'dec' && text.charCodeAt(end) === 45) end++; // '-'
        const digits = end;
        while (end < text.length && isDigit(text.charCodeAt(end))) end++;
        if (end === digits) return undefined;
        const n = Number(text.slice(pos, end));
        if (!Number.isSafeInteger(n)) return undefined;
        out[slot.name] = n;
      }
    }
    pos = end;
  }
  const tail = literals[slots.length]!;
  // trailing text must match; tolerate trailing blanks (some declarations end with a space)
  if (text.slice(pos).trimEnd() !== tail.trimEnd()) return undefined;
  return out;
}

/** matchBytes' answers */
export const NOT_MATCHED = 0;
export const MATCHED = 1;
/** matched, and some number in it is negative */
export const MATCHED_NEGATIVE = 2;

/**
 * Reads `bytes[pos, end)` (the arguments part of a log line) against a compiled format into
 * `f.scratch`. MATCHED when the line has the shape QEMU prints (ASCII numbers of at most 15
 * digits, at most 13 significant hex digits, trailing blanks only), and then the arguments are
 * those `parseArgs` reads from the line's text; NOT_MATCHED for anything else, which only
 * `parseArgs` may judge (it rejects most such lines, but not all: leading zeros, wide hex).
 */
export function matchBytes(f: CompiledFormat, b: Buffer, pos: number, end: number): number {
  const { literalBytes, slots, scratch } = f;
  let negative = false;
  for (let i = 0; i < slots.length; i++) {
    const lit = literalBytes[i]!;
    if (!bytesAt(b, pos, end, lit)) return NOT_MATCHED;
    pos += lit.length;
    const slot = slots[i]!;
    let q = pos;
    switch (slot.conv) {
      case 'ptr': {
        if (bytesAt(b, pos, end, NIL)) {
          scratch[slot.name] = '(nil)';
          pos += 5;
          continue;
        }
        if (pos + 2 >= end || b[pos] !== 48 || b[pos + 1] !== 120) return NOT_MATCHED; // "0x"
        q = pos + 2;
        // the value in two small integers: its high digits and its last 7 (28 bits)
        let high = 0;
        let low = 0;
        let upper = false;
        for (; q < end && isHex(b[q]!); q++) {
          const c = b[q]!;
          upper ||= c >= 65 && c <= 70;
          high = (high << 4) | (low >>> 24);
          low = ((low << 4) & 0xfffffff) | (c <= 57 ? c - 48 : (c | 32) - 87);
        }
        if (q === pos + 2) return NOT_MATCHED;
        scratch[slot.name] = upper || q - pos > 15 ? b.toString('latin1', pos, q) : pointer(b, pos, q, high, low);
        break;
      }
      case 'hex': {
        while (q < end && b[q] === 48) q++;
        const sig = q;
        let v = 0;
        for (; q < end && isHex(b[q]!); q++) v = v * 16 + (b[q]! <= 57 ? b[q]! - 48 : (b[q]! | 32) - 87);
        if (q === pos || q - sig > 13) return NOT_MATCHED;
        scratch[slot.name] = v;
        break;
      }
      case 'str': {
        const next = literalBytes[i + 1]!;
        if (i + 1 === slots.length) return NOT_MATCHED; // a string at the end: the reference's trimming rules
        if (next.length === 0) return NOT_MATCHED;
        q = b.indexOf(next, pos);
        if (q < 0 || q + next.length > end) return NOT_MATCHED;
        scratch[slot.name] = b.toString('utf8', pos, q);
        break;
      }
      default: {
        const neg = slot.conv === 'dec' && q < end && b[q] === 45; // '-'
        if (neg) q++;
        const digits = q;
        let v = 0;
        for (; q < end && isDigit(b[q]!); q++) v = v * 10 + (b[q]! - 48);
        // up to 15 digits is an exact, safe integer
        if (q === digits || q - digits > 15) return NOT_MATCHED;
        scratch[slot.name] = neg ? -v : v;
        negative ||= neg;
      }
    }
    pos = q;
  }
  const tail = literalBytes[slots.length]!;
  if (!bytesAt(b, pos, end, tail)) return NOT_MATCHED;
  for (pos += tail.length; pos < end; pos++) if (b[pos] !== 32) return NOT_MATCHED;
  return negative ? MATCHED_NEGATIVE : MATCHED;
}

const NIL = Buffer.from('(nil)');

function bytesAt(b: Buffer, pos: number, end: number, lit: Buffer): boolean {
  if (pos + lit.length > end) return false;
  for (let k = 0; k < lit.length; k++) if (b[pos + k] !== lit[k]) return false;
  return true;
}

/**
 * Pointer texts last seen: a device's or a queue's pointer is on most lines of a log, and one
 * string for all its lines saves a decode and an allocation each. A pointer of at most 13
 * lowercase digits is known by its value and its length (leading zeros); a bounded table (a new
 * pointer takes its slot's place), so memory does not grow with the log.
 */
const POINTER_SLOTS = 4096;
const pointerHigh = new Int32Array(POINTER_SLOTS).fill(-1);
const pointerLow = new Int32Array(POINTER_SLOTS);
const pointerText: string[] = new Array<string>(POINTER_SLOTS).fill('');

/** The text of `b[start, end)`: "0x" and 1 to 13 lowercase hex digits, their value high * 2^28 + low. */
function pointer(b: Buffer, start: number, end: number, high: number, low: number): string {
  const slot = (low ^ (low >>> 12) ^ high) & (POINTER_SLOTS - 1);
  const known = pointerText[slot]!;
  if (pointerLow[slot] === low && pointerHigh[slot] === high && known.length === end - start) return known;
  // hex digits: latin1 is their UTF-8 text
  const text = b.toString('latin1', start, end);
  pointerHigh[slot] = high;
  pointerLow[slot] = low;
  pointerText[slot] = text;
  return text;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
