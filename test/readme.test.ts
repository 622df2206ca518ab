/** The README promises things a newcomer relies on: its examples must stay true. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOGUE } from '../src/checks/catalogue.ts';
import { Event, EVENT_KINDS } from '../src/model/events.ts';
import { ALL_TABLES, CORE_VIEWS } from '../src/perf/tables.ts';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

describe('README', () => {
  it('shows one canonical line per event kind, each valid against the schema', () => {
    const block = /<!-- canonical-examples -->\n```\n([\s\S]*?)```/.exec(readme)![1]!;
    const events = block.trim().split('\n').map((l) => Event.parse(JSON.parse(l)));
    expect(new Set(events.map((e) => e.kind))).toEqual(new Set(EVENT_KINDS));
  });

  it('lists every rule of the catalogue and every core table and view', () => {
    for (const r of CATALOGUE) expect(readme, r.id).toContain(`| \`${r.id}\` | ${r.level} | ${r.target} |`);
    for (const t of [...ALL_TABLES, ...CORE_VIEWS.map((v) => v.decl)]) expect(readme).toContain(`\`${t.name}\``);
  });

  it('gives the two first-screen commands', () => {
    expect(readme).toContain('npm ci && npx avpscope check traces/qemu-7.2/microvm-modern.trace.gz');
    expect(readme).toContain('npm test');
  });
});
