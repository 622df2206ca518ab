/**
 * Every AVPS rule's id, level and wording against the AVPS 2.0 text the project carries
 * (docs/reference/AVPS-2.0.txt, extracted from the PDF: an id can stand before the end of its
 * sentence, so the wording is looked for in the lines around the id, in at most three pieces).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AVPS_INDEX } from '../src/checks/avps-index.ts';
import { CATALOGUE } from '../src/checks/catalogue.ts';

const avps = readFileSync(join(import.meta.dirname, '..', 'docs', 'reference', 'AVPS-2.0.txt'), 'utf8').split('\n');
const norm = (s: string) => s.replace(/\s+/g, ' ').trim();

/** Splits `text` into the fewest runs of whole words that each occur in `window` (greedy). */
function pieces(text: string, window: string): string[] | undefined {
  const words = norm(text).split(' ');
  const out: string[] = [];
  let i = 0;
  while (i < words.length) {
    let j = words.length;
    while (j > i && !window.includes(words.slice(i, j).join(' '))) j--;
    if (j === i) return undefined;
    out.push(words.slice(i, j).join(' '));
    i = j;
  }
  return out;
}

describe('AVPS rules match AVPS-2.0.txt', () => {
  const rules = CATALOGUE.filter((r) => r.source.spec === 'AVPS 2.0');

  it('has every AVPS id 1-50 and the WRITE_ZEROES line (-7b), each with where its verdict can come from', () => {
    const ids = avps.flatMap((l) => /^\s*\{(AVPS-v2\.0-\d+)\}\s*$/.exec(l)?.[1] ?? []);
    expect(ids).toHaveLength(50);
    expect(rules.map((r) => r.id).sort()).toEqual([...ids, 'AVPS-v2.0-7b'].sort());
    expect([...AVPS_INDEX.keys()].sort()).toEqual([...ids, 'AVPS-v2.0-7b'].sort());
    for (const [id, e] of AVPS_INDEX) {
      expect(e.rule.target, id).toBe('platform');
      expect(e.sources.classes.length, id).toBeGreaterThan(0);
      // a requirement no trace can prove has no inputs but the manifest, or none (a MAY)
      if (e.sources.classes.every((c) => c === 'e')) expect(e.rule.level, id).toBe('MAY');
    }
  });

  it.each(rules.map((r) => [r.id, r] as const))('%s: id at the cited line, level and wording from the text', (_id, r) => {
    const line = Number(/^line (\d+)$/.exec(r.source.where)![1]);
    // 12 lines back reach the heading that -11..-13 continue ("... MUST support the following feature flags:")
    const window = norm(avps.slice(line - 13, line + 6).join(' '));
    if (r.id === 'AVPS-v2.0-7b') {
      // the WRITE_ZEROES requirement has no id: it is the line right after -7's sentence
      expect(avps[line - 1]).toContain('VIRTIO_BLK_F_WRITE_ZEROS');
      expect(avps.slice(line - 5, line - 1).join(' ')).toContain('{AVPS-v2.0-7}');
      expect(r.note).toMatch(/no id of its own/);
    } else {
      expect(avps[line - 1]!.trim()).toBe(`{${r.id}}`);
    }
    const p = pieces(r.source.text, window);
    expect(p, `"${r.source.text}" not found around line ${line}`).toBeDefined();
    expect(p!.length).toBeLessThanOrEqual(3);
    // the level is the one the sentence uses (-11..-13 inherit -10's MUST, which heads the list);
    // AVPS lines 221-223: lower-case "shall"/"must" (and -36's "AVPS requires") are MUST, "may"/"optional"/"can be chosen" MAY, "recommended" SHOULD
    const sentence = norm(r.source.text);
    const words: Record<string, RegExp> = { MUST: /\bMUST\b|\bshall\b|\bmust\b|\brequires\b/, MAY: /\bMAY\b|\bmay\b|\boptional\b|can be chosen/, SHOULD: /\bSHOULD\b|\brecommended\b/ };
    expect(sentence).toMatch(words[r.level]!);
    if (r.level !== 'MUST') expect(sentence).not.toMatch(/\bMUST\b/);
  });

  it('ids are unique across the catalogue', () => {
    expect(new Set(CATALOGUE.map((r) => r.id)).size).toBe(CATALOGUE.length);
  });
});
