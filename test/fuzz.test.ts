/**
 * A short property-based campaign over every adapter (test/fuzz/property.ts says what holds);
 * `node --import tsx scripts/fuzz.ts N` runs a long one.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { fuzzer, FORMATS, input } from './fuzz/property.ts';
import { tempDir } from './helpers.ts';

describe('hostile input, generated', () => {
  for (const format of FORMATS) {
    it(`${format}: mutated real lines end as exit 0, 1 or 2, every bad line counted where it is, nothing from a dropped line`, async () => {
      const f = await fuzzer(tempDir());
      await fc.assert(fc.asyncProperty(input([format]), (inp) => f.check(inp).then(() => undefined)), { numRuns: 60, seed: 9 });
    }, 60_000);
  }
});
