/**
 * QEMU trace-event signatures, as QEMU declares them in its `trace-events` files
 * (`name(type arg, ...) "printf format"`), compiled into small argument parsers for the text the
 * `log` backend prints. Parsing from the declared format, not from ad-hoc regexes, is what lets one
 * adapter read 7.2 and 10.0 logs: where a format changed, both declarations are listed.
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
  return { name, format: { literals, slots } };
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

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
