/** `avpscope rules`: the catalogue, so a reader can see what is judged, whose duty it is and from which events. */
import { Option, type Command } from 'commander';
import { CATALOGUE } from '../checks/catalogue.ts';
import type { Rule } from '../checks/rule.ts';
import { deviceTypeName } from '../model/device-types.ts';
import { table } from './format.ts';

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

export function rulesJson(): string {
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
    ...(r.note ? { note: r.note } : {}),
  }));
  return JSON.stringify({ tool: 'avpscope', report: 'rules', rules: rows }, null, 2) + '\n';
}

export function rulesText(): string {
  return (
    table(
      ['id', 'target', 'level', 'source', 'devices', 'events needed'],
      CATALOGUE.map((r) => [r.id, r.target, r.level, `${r.source.spec} ${r.source.where}`, devices(r), r.rollUp ? `roll-up of ${rollsUp(r).length} device statements${r.needs ? `; ${r.needs.join(', ')}` : ''}` : needs(r).join(', ') || '-']),
      'llllll',
    ) + '\n'
  );
}

export function registerRules(program: Command): void {
  program
    .command('rules')
    .description('list the requirements avpscope judges: id, whose duty (target), level, source, devices, events needed')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action((o) => {
      process.stdout.write(o.format === 'json' ? rulesJson() : rulesText());
    });
}
