/**
 * The canonical format's JSON Schema, generated from the zod schemas of src/model/events.ts: a
 * JSON Lines file is a header line (optional) and event lines, so the schema accepts either. A VMM
 * vendor validates what they emit with any JSON Schema validator, without running avpscope.
 * Published as docs/schema/avpscope-events.schema.json (test/schema.test.ts keeps it current).
 */
import { z } from 'zod';
import { Event, SourceHeader } from '../model/events.ts';

export function canonicalJsonSchema(): Record<string, unknown> {
  const line = z.union([SourceHeader, Event]).meta({
    title: 'avpscope canonical events, one JSON Lines line',
    description: 'A header ({"format":"avpscope-events",...}, first line only) or one event; see README "The canonical format".',
  });
  return z.toJSONSchema(line, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

export function canonicalJsonSchemaText(): string {
  return JSON.stringify(canonicalJsonSchema(), null, 2) + '\n';
}
