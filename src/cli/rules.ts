/** `avpscope rules`: the catalogue, so a reader can see what is judged, whose duty it is and from which events. */
import { Option, type Command } from 'commander';
import { AVPS_INDEX } from '../checks/avps-index.ts';
import { detectFormat } from '../ingest/registry.ts';
import { CATALOGUE } from '../checks/catalogue.ts';
import type { Rule } from '../checks/rule.ts';
import { deviceTypeName } from '../model/device-types.ts';
import { table } from '../format.ts';

function devices(r: Rule): string {
  if (r.scope === 'vm') return r.deviceTypes ? `VM (${r.deviceTypes.map(deviceTypeName).join(', ')})` : 'VM';
  return r.deviceTypes ? r.deviceTypes.map(deviceTypeName).join(', ') : 'any';
}

/** A roll-up reads what its parts read. */
function needs(r: Rule): string[] {
  const parts = r.rollUp ? CATALOGUE.filter((p) => !p.rollUp && p.target === r.rollUp!.target && r.rollUp!.areas.includes(p.area)) : [];
  return [...new Set([...(r.needs ?? []), ...parts.flatMap((p) => p.needs ?? [])])];
}

function rollsUp(r: Rule): string[] {
  if (!r.rollUp) return [];
  return CATALOGUE.filter((p) => !p.rollUp && p.target === r.rollUp!.target && r.rollUp!.areas.includes(p.area) && (!p.deviceTypes || !r.deviceTypes || p.deviceTypes.some((t) => r.deviceTypes!.includes(t)))).map((p) => p.id);
}

/** For an AVPS requirement: its evidence classes, the inputs that can decide it, and which of those were given. */
function sources(r: Rule, given: Set<string> | undefined) {
  const e = AVPS_INDEX.get(r.id);
  if (!e) return {};
  return { evidence: e.sources.classes, facts: e.sources.needs, decided_by: e.sources.inputs, ...(given ? { given: e.sources.inputs.filter((i) => given.has(i)) } : {}) };
}

/** The input formats of the files given (sniffed as `check` would), plus `manifest`. */
export async function givenInputs(files: string[], manifest: string | undefined): Promise<Set<string> | undefined> {
  if (files.length === 0 && manifest === undefined) return undefined;
  const out = new Set<string>();
  for (const f of files) out.add((await detectFormat(f)).name);
  if (manifest !== undefined) out.add('manifest');
  return out;
}

export function rulesJson(given?: Set<string>): string {
  const rows = CATALOGUE.map((r) => ({
    id: r.id,
    title: r.title,
    target: r.target,
    level: r.level,
    area: r.area,
    spec: r.source.spec,
    where: r.source.where,
    text: r.source.text,
    devices: devices(r),
    needs: needs(r),
    rolls_up: rollsUp(r),
    ...sources(r, given),
    ...(r.note ? { note: r.note } : {}),
  }));
  return JSON.stringify({ tool: 'avpscope', report: 'rules', rules: rows }, null, 2) + '\n';
}

export function rulesText(given?: Set<string>): string {
  // AVPS rows also say from which inputs a verdict can come; with inputs given, those present are marked *
  const inputs = (r: Rule): string => {
    const e = AVPS_INDEX.get(r.id);
    if (!e) return '';
    const list = e.sources.inputs.map((i) => (given?.has(i) ? `${i}*` : i)).join(', ') || 'none: never fails';
    return `${e.sources.classes.join('')}: ${list}`;
  };
  return (
    table(
      ['id', 'target', 'level', 'source', 'devices', 'events needed', 'evidence: inputs'],
      CATALOGUE.map((r) => [r.id, r.target, r.level, `${r.source.spec} ${r.source.where}`, devices(r), r.rollUp ? `roll-up of ${rollsUp(r).length} device statements${r.needs ? `; ${r.needs.join(', ')}` : ''}` : needs(r).join(', ') || '-', inputs(r)]),
      'lllllll',
    ) + '\n' + (given ? `* given: ${[...given].join(', ')}\n` : '')
  );
}

export function registerRules(program: Command): void {
  program
    .command('rules')
    .description('list the requirements avpscope judges: id, whose duty (target), level, source, devices, events needed')
    .argument('[inputs...]', 'the inputs of a run: shows which of them can decide each AVPS requirement')
    .option('--manifest <file>', 'a platform manifest counts as given')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (inputs: string[], o) => {
      const given = await givenInputs(inputs, o.manifest);
      process.stdout.write(o.format === 'json' ? rulesJson(given) : rulesText(given));
    });
}
