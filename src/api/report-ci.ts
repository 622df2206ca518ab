/**
 * The check report in the formats CI systems read: SARIF 2.1.0 (code-scanning dashboards) and
 * JUnit XML (test reports). Both are views of the same Report the text and JSON show.
 */
import { xml } from '../format.ts';
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Sarif from 'sarif';
import { CATALOGUE } from '../checks/catalogue.ts';
import type { Rule, Verdict } from '../checks/rule.ts';
import { TOOL_VERSION } from './ingest.ts';
import type { EvidenceLine, Report, ReportFinding } from './report.ts';

const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';

/**
 * SARIF levels: a MUST the platform answers for is an error; a SHOULD, or a MUST of the
 * guest's driver (reported apart, not the platform's), a warning; a MAY a note.
 */
function sarifLevel(level: string, target: string): Sarif.ReportingConfiguration.level {
  if (level === 'MUST') return target === 'driver' ? 'warning' : 'error';
  return level === 'SHOULD' ? 'warning' : 'note';
}

const KIND: Record<Verdict, Sarif.Result.kind> = {
  PASS: 'pass',
  FAIL: 'fail',
  'NOT-OBSERVED': 'open',
  'NOT-APPLICABLE': 'notApplicable',
  DECLARED: 'review',
};

function descriptor(r: Rule): Sarif.ReportingDescriptor {
  return {
    id: r.id,
    name: r.title,
    shortDescription: { text: r.title },
    fullDescription: { text: r.source.text },
    defaultConfiguration: { level: sarifLevel(r.level, r.target) },
    properties: {
      level: r.level,
      target: r.target,
      area: r.area,
      specReference: `${r.source.spec} ${r.source.where}`,
      tags: [r.target, r.area, r.source.spec],
      ...(r.rollUp ? { rollUp: r.rollUp } : {}),
    },
  };
}

/** A file as SARIF wants it: a relative reference as given, an absolute path as a file: URL. */
function uri(file: string): string {
  return isAbsolute(file) ? pathToFileURL(file).href : file.split('\\').join('/');
}

function location(e: EvidenceLine): Sarif.Location | undefined {
  if (e.file === null) return undefined;
  return {
    physicalLocation: {
      artifactLocation: { uri: uri(e.file) },
      ...(e.line !== null ? { region: { startLine: e.line, ...(e.raw !== null ? { snippet: { text: e.raw } } : {}) } } : {}),
    },
  };
}

function resultOf(f: ReportFinding, ruleIndex: Map<string, number>, traceOf: Map<string, string>): Sarif.Result {
  const locs = f.evidence.map(location).filter((l): l is Sarif.Location => l !== undefined);
  // a verdict without evidence lines still belongs to a trace: the VM's file
  const trace = traceOf.get(f.vm);
  const primary = locs[0] ?? (trace !== undefined ? { physicalLocation: { artifactLocation: { uri: uri(trace) } } } : undefined);
  const index = ruleIndex.get(f.rule);
  const notes = [...f.assumptions.map((a) => `assumed: ${a}`), ...f.inferred.map((i) => `inferred: ${i}`)];
  return {
    ruleId: f.rule,
    ...(index !== undefined ? { ruleIndex: index } : {}),
    kind: KIND[f.verdict],
    level: f.verdict === 'FAIL' ? sarifLevel(f.level, f.target) : 'none',
    message: { text: `${f.verdict}${f.dev ? ` (${f.dev_type ?? 'device'} ${f.dev})` : ''}: ${f.message}${notes.length > 0 ? ` [${notes.join('; ')}]` : ''}` },
    ...(primary ? { locations: [primary] } : {}),
    ...(locs.length > 1 ? { relatedLocations: locs.slice(1).map((l, i) => ({ ...l, id: i + 1 })) } : {}),
    properties: {
      verdict: f.verdict,
      target: f.target,
      vm: f.vm,
      dev: f.dev,
      devType: f.dev_type,
      devTypeHow: f.dev_type_how,
      assumptions: f.assumptions,
      inferred: f.inferred,
    },
  };
}

export function reportSarif(r: Report): string {
  // the catalogue, plus any rule an older or newer store names that this build does not know
  const known = new Map(CATALOGUE.map((x) => [x.id, descriptor(x)]));
  for (const f of r.findings) {
    if (!known.has(f.rule)) {
      known.set(f.rule, {
        id: f.rule, name: f.title, shortDescription: { text: f.title },
        defaultConfiguration: { level: sarifLevel(f.level, f.target) },
        properties: { level: f.level, target: f.target, area: f.area, specReference: `${f.spec} ${f.source_ref}` },
      });
    }
  }
  const rules = [...known.values()];
  const ruleIndex = new Map(rules.map((d, i) => [d.id, i]));
  const traceOf = new Map(r.sources.map((s) => [s.vm, s.file]));
  const log: Sarif.Log = {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'avpscope', version: TOOL_VERSION, rules } },
        artifacts: r.sources.map((s) => ({ location: { uri: uri(s.file) }, properties: { format: s.format, vm: s.vm } })),
        results: r.findings.map((f) => resultOf(f, ruleIndex, traceOf)),
        properties: { summary: r.summary },
      },
    ],
  };
  return JSON.stringify(log, null, 2) + '\n';
}

/** One test suite per target (device, platform, driver); a FAIL is a failure, a verdict not reached a skip. */
export function reportJunit(r: Report): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const suites = (['device', 'platform', 'driver'] as const).map((t) => ({ t, fs: r.findings.filter((f) => f.target === t) })).filter((s) => s.fs.length > 0);
  const failures = r.findings.filter((f) => f.verdict === 'FAIL').length;
  const skipped = r.findings.filter((f) => f.verdict !== 'PASS' && f.verdict !== 'FAIL').length;
  out.push(`<testsuites name="avpscope check" tests="${r.findings.length}" failures="${failures}" errors="0" skipped="${skipped}">`);
  for (const { t, fs } of suites) {
    const sf = fs.filter((f) => f.verdict === 'FAIL').length;
    const ss = fs.filter((f) => f.verdict !== 'PASS' && f.verdict !== 'FAIL').length;
    out.push(`  <testsuite name="${t} duties" tests="${fs.length}" failures="${sf}" errors="0" skipped="${ss}">`);
    for (const f of fs) {
      const name = xml(`${f.rule}${f.dev ? ` [${f.dev_type ?? 'device'} ${f.dev}]` : ''}`);
      const head = `    <testcase classname="avpscope.check.${xml(t)}.${xml(f.vm)}" name="${name}"`;
      const evidence = f.evidence.map((e) => `${e.file ?? ''}:${e.line ?? ''}: ${e.raw ?? ''}`);
      const notes = [...f.assumptions.map((a) => `assumed: ${a}`), ...f.inferred.map((i) => `inferred: ${i}`)];
      if (f.verdict === 'PASS') out.push(`${head}/>`);
      else if (f.verdict === 'FAIL') {
        out.push(`${head}>`, `      <failure message="${xml(`${f.level}: ${f.message}`)}" type="${xml(f.level)}">${xml([...evidence, ...notes].join('\n'))}</failure>`, '    </testcase>');
      } else out.push(`${head}>`, `      <skipped message="${xml(`${f.verdict}: ${f.message}`)}"/>`, '    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}
