/** The published JSON Schema of the canonical format is the one the zod schema generates now. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJsonSchema, canonicalJsonSchemaText } from '../src/api/schema.ts';
import { EVENT_KINDS } from '../src/model/events.ts';

describe('avpscope schema', () => {
  it('the committed docs/schema/avpscope-events.schema.json is current (regenerate: avpscope schema > it)', () => {
    const committed = readFileSync(join(import.meta.dirname, '..', 'docs', 'schema', 'avpscope-events.schema.json'), 'utf8');
    expect(committed).toBe(canonicalJsonSchemaText());
  });

  it('describes the header and every event kind, with the fields each requires', () => {
    const s = canonicalJsonSchema() as { anyOf: { oneOf?: { properties: { kind: { const: string } }; required: string[] }[]; properties?: { format?: unknown } }[] };
    const events = s.anyOf.find((x) => x.oneOf)!.oneOf!;
    expect(events.map((e) => e.properties.kind.const).sort()).toEqual([...EVENT_KINDS].sort());
    const wdt = events.find((e) => e.properties.kind.const === 'wdt.access')!;
    expect(wdt.required).toEqual(expect.arrayContaining(['ts', 'kind', 'frame', 'offset', 'dir']));
    expect(s.anyOf.some((x) => x.properties?.format)).toBe(true);
  });
});
