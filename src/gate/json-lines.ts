/**
 * JSON.parse that also remembers the line of every value, so that a validation error about
 * `budgets[3].op` can name the line it is on. Strict JSON (RFC 8259), nothing more.
 */

export type JsonPath = (string | number)[];

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

export interface LocatedJson {
  value: unknown;
  /** line (1-based) of the value at `path`, or of its nearest ancestor that exists */
  lineOf(path: readonly PropertyKey[]): number;
}

/** Deeper nesting is no budgets file, and would cost the parser its stack. */
const MAX_DEPTH = 64;

export function parseJsonWithLines(text: string): LocatedJson {
  const lines = new Map<string, number>();
  let i = 0;
  let line = 1;

  const fail = (what: string): never => {
    throw new JsonSyntaxError(i >= text.length ? `unexpected end of JSON (${what})` : `${what}, found '${text[i]}'`, line);
  };
  const space = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i]!)) if (text[i++] === '\n') line++;
  };
  const expect = (c: string): void => {
    if (text[i] !== c) fail(`expected '${c}'`);
    i++;
  };

  const str = (): string => {
    expect('"');
    let out = '';
    for (;;) {
      const c = text[i++];
      if (c === undefined || c === '\n') return fail('unterminated string');
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = text[i++];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e !== undefined && e in simple) out += simple[e];
      else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i, i + 4))) {
        out += String.fromCharCode(Number.parseInt(text.slice(i, i + 4), 16));
        i += 4;
      } else fail('bad escape in string');
    }
  };

  const value = (path: JsonPath): unknown => {
    if (path.length > MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
    space();
    lines.set(JSON.stringify(path), line);
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      space();
      if (text[i] === '}') return i++, obj;
      for (;;) {
        space();
        const keyLine = line;
        const k = str();
        space();
        expect(':');
        obj[k] = value([...path, k]);
        // the key's line, not the value's, is where an editor should look
        lines.set(JSON.stringify([...path, k]), keyLine);
        space();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return i++, obj;
        else fail("expected ',' or '}'");
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      space();
      if (text[i] === ']') return i++, arr;
      for (;;) {
        arr.push(value([...path, arr.length]));
        space();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return i++, arr;
        else fail("expected ',' or ']'");
      }
    }
    if (c === '"') return str();
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
    if (!m) return fail('expected a JSON value');
    i += m[0].length;
    return JSON.parse(m[0]);
  };

  const v = value([]);
  space();
  if (i < text.length) fail('unexpected text after the JSON value');
  return {
    value: v,
    lineOf(path) {
      for (let n = path.length; n >= 0; n--) {
        const l = lines.get(JSON.stringify(path.slice(0, n).map((p) => (typeof p === 'symbol' ? String(p) : p))));
        if (l !== undefined) return l;
      }
      return 1;
    },
  };
}
