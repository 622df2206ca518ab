/**
 * The report page: one self-contained HTML file (inline CSS and SVG, no script, nothing fetched
 * when viewed) with each run's summary, the verdict matrix linked to each finding's evidence, and
 * every notebook: drawn where the runs have its data, a sentence where they do not.
 */
import { verdictRank } from '../api/explore.ts';
import type { Report, ReportFinding } from '../api/report.ts';
import type { DrawnNotebook } from './charts.ts';

export interface ReportRun {
  name: string;
  report: Report;
}

export interface PageInput {
  runs: ReportRun[];
  notebooks: DrawnNotebook[];
  tool: string;
  created: string;
}

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const slug = (s: string) => s.replace(/[^A-Za-z0-9_-]+/g, '-');
const vclass = (v: string) => `v-${slug(v.toLowerCase())}`;

/** Notebook prose: paragraphs, `code`, **bold** and - lists; everything else is text. */
export function prose(md: string): string {
  return md
    .split(/\n\s*\n/)
    .map((block) => {
      const inline = (s: string) => esc(s).replace(/`([^`]+)`/g, '<code>$1</code>').replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
      const lines = block.split('\n');
      if (lines.every((l) => /^\s*- /.test(l))) return `<ul>${lines.map((l) => `<li>${inline(l.replace(/^\s*- /, ''))}</li>`).join('')}</ul>`;
      const h = /^(#{2,4}) (.*)$/.exec(block);
      if (h) return `<h${h[1]!.length + 1}>${inline(h[2]!)}</h${h[1]!.length + 1}>`;
      return `<p>${inline(block.replace(/\n/g, ' '))}</p>`;
    })
    .join('\n');
}

const CSS = `
body{font:14px/1.45 "DejaVu Sans",Helvetica,Arial,sans-serif;margin:0 auto;max-width:1100px;padding:1.5em;color:#1c2833}
h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:1px solid #ccd;padding-bottom:.2em;margin-top:2em}h3{margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d5d8dc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f4f6f7}td.num{text-align:right}code,pre{font:12px/1.4 "DejaVu Sans Mono",monospace}
pre{background:#f8f9f9;border:1px solid #e5e8e8;padding:.5em;overflow-x:auto;white-space:pre-wrap}
.v-pass{background:#d5f5e3}.v-fail{background:#f5b7b1;font-weight:bold}.v-not-observed{background:#fcf3cf}
.v-declared{background:#d6eaf8}.v-not-applicable{background:#eaeded;color:#566573}
.matrix td{text-align:center;font-size:12px}.matrix td a{color:inherit;text-decoration:none;display:block}
.matrix th.rule{white-space:nowrap}.matrix th.dev{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;font-size:12px}
.finding{margin:.6em 0;padding:.4em .6em;border-left:4px solid #aab7b8}.finding.v-fail{border-left-color:#c0392b}
.finding .msg{margin:.2em 0}.ev{margin:.2em 0 .2em 1em}.nodata{color:#566573;font-style:italic}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{font-size:12px;color:#566573}
.counts span{display:inline-block;margin-right:.6em;padding:1px 6px;border-radius:3px}
nav p{margin:.3em 0}nav a{margin-right:.3em}nav small{color:#566573;margin-right:1em}
`;

function counts(r: Report): string {
  const by = new Map<string, number>();
  for (const f of r.findings) by.set(f.verdict, (by.get(f.verdict) ?? 0) + 1);
  return [...by]
    .sort((a, b) => verdictRank(a[0]) - verdictRank(b[0]))
    .map(([v, n]) => `<span class="${vclass(v)}">${n} ${esc(v)}</span>`)
    .join('');
}

const SHORT: Record<string, string> = { 'NOT-OBSERVED': 'N-O', 'NOT-APPLICABLE': 'N/A' };
const shortVerdict = (v: string) => SHORT[v] ?? v;
const findingId = (run: number, i: number) => `f-${run}-${i}`;
const deviceLabel = (f: Pick<ReportFinding, 'dev' | 'dev_type' | 'vm'>) => (f.dev === null ? `VM ${f.vm}` : `${f.dev_type ?? '?'} ${f.dev}`);

function summary(run: ReportRun, ri: number): string {
  const r = run.report;
  const problems = r.stats.filter((s) => s.severity !== 'info' && s.count > 0);
  return `
<h2 id="run-${ri}">Run ${esc(run.name)}</h2>
<p class="counts">${counts(r)} — ${r.summary.must_failures > 0 ? `<strong>${r.summary.must_failures} MUST requirement(s) fail</strong>` : 'no MUST requirement fails'}</p>
<table><tr><th>trace</th><th>format</th><th>view</th><th>VM</th><th>lines</th><th>events</th></tr>
${r.sources.map((s) => `<tr><td><code>${esc(s.file)}</code></td><td>${esc(s.format)}</td><td>${esc(s.view)}</td><td>${esc(s.vm)}</td><td class="num">${s.lines}</td><td class="num">${s.events}</td></tr>`).join('\n')}
</table>
<table><tr><th>VM</th><th>device</th><th>type</th><th>how known</th><th>transport</th><th>events</th></tr>
${r.devices.map((d) => `<tr><td>${esc(d.vm)}</td><td><code>${esc(d.dev)}</code></td><td>${esc(d.type ?? '?')}</td><td>${esc(d.type_how ?? '-')}</td><td>${esc(d.transport ?? '-')}${d.mmio_version !== null ? ` v${d.mmio_version}` : ''}</td><td class="num">${d.events}</td></tr>`).join('\n')}
</table>
<p>Input problems: ${problems.length === 0 ? 'none' : problems.map((p) => `${p.count} ${esc(p.name)} (${esc(p.severity)})`).join(', ')}</p>`;
}

function matrix(run: ReportRun, ri: number): string {
  const fs = run.report.findings;
  const rules = [...new Set(fs.map((f) => f.rule))];
  const devs = [...new Set(fs.map(deviceLabel))];
  const cell = new Map(fs.map((f, i) => [`${f.rule}\t${deviceLabel(f)}`, [f, i] as const]));
  const rows = rules.map((rule) => {
    const level = fs.find((f) => f.rule === rule)!.level;
    const tds = devs.map((d) => {
      const hit = cell.get(`${rule}\t${d}`);
      if (!hit) return '<td></td>';
      const [f, i] = hit;
      return `<td class="${vclass(f.verdict)}"><a href="#${findingId(ri, i)}" title="${esc(f.verdict)}: ${esc(f.message)}">${esc(shortVerdict(f.verdict))}</a></td>`;
    });
    return `<tr><th class="rule">${esc(rule)} <small>${esc(level)}</small></th>${tds.join('')}</tr>`;
  });
  return `
<h3>Verdict matrix: requirement × device</h3>
<p>Each cell links to the finding and its evidence below; an empty cell is a requirement that does not apply to the device.</p>
<table class="matrix"><tr><th></th>${devs.map((d) => `<th class="dev">${esc(d)}</th>`).join('')}</tr>
${rows.join('\n')}
</table>`;
}

function findings(run: ReportRun, ri: number): string {
  const fs = run.report.findings.map((f, i) => [f, i] as const).sort((a, b) => verdictRank(a[0].verdict) - verdictRank(b[0].verdict) || a[1] - b[1]);
  return `
<h3>Findings and their evidence</h3>
${fs
  .map(([f, i]) => {
    const ev = f.evidence.map((e) => `<div class="ev"><code>${esc(e.file !== null ? `${e.file}:${e.line}` : `t=${e.ts}`)}</code>${e.raw !== null ? ` <code>${esc(e.raw)}</code>` : ''}</div>`).join('');
    return `<div class="finding ${vclass(f.verdict)}" id="${findingId(ri, i)}"><strong>${esc(f.verdict)}</strong> ${esc(f.level)} <code>${esc(f.rule)}</code> on ${esc(deviceLabel(f))} (VM ${esc(f.vm)}): ${esc(f.title)} <small>${esc(f.spec)} ${esc(f.source_ref)}</small>
<div class="msg">${esc(f.message)}</div>${ev || '<div class="ev nodata">no trace line cited</div>'}</div>`;
  })
  .join('\n')}`;
}

function notebook(d: DrawnNotebook, runs: ReportRun[]): string {
  const nb = d.notebook;
  const head = `<h2 id="nb-${esc(nb.id)}">${esc(nb.title)}</h2><p><small>notebook <code>notebooks/${esc(nb.id)}.md</code></small></p>`;
  if (!d.hasData) return `${head}\n<p class="nodata">No data for ${runs.length === 1 ? 'this run' : 'these runs'}: the trace${runs.length === 1 ? '' : 's'} show${runs.length === 1 ? 's' : ''} none of what this notebook plots.</p>`;
  const body = d.parts.map((p) => {
    if (p.kind === 'prose') return prose(p.text);
    if (p.kind === 'query') return `<details><summary>SQL <code>${esc(p.name)}</code></summary><pre>${esc(p.sql)}</pre></details>`;
    const c = p.chart;
    return c.svg === null
      ? `<p class="nodata" id="${esc(c.id)}">${esc(c.title)}: no data for ${runs.length === 1 ? 'this run' : 'these runs'}.</p>`
      : `<figure class="chart" id="${esc(c.id)}">${c.svg}<figcaption>${esc(c.title)} (${c.rows} rows)</figcaption></figure>`;
  });
  return `${head}\n${body.join('\n')}`;
}

export function reportPage(p: PageInput): string {
  const title = `avpscope report: ${p.runs.map((r) => r.name).join(', ')}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body>
<h1>${esc(title)}</h1>
<p><small>${esc(p.tool)}, ${esc(p.created)}. Verdicts against AVPS 2.0 and VIRTIO 1.3; charts from the notebooks in <code>notebooks/</code>.</small></p>
<nav><p>Run${p.runs.length > 1 ? 's' : ''}: ${p.runs.map((r, i) => `<a href="#run-${i}">${esc(r.name)}</a>`).join('')}</p>
<p>Notebooks: ${p.notebooks
  .map((d) => `<a href="#nb-${esc(d.notebook.id)}">${esc(d.notebook.title)}</a>${d.hasData ? '' : ' <small>(no data)</small>'}`)
  .join(' ')}</p></nav>
${p.runs.map((r, i) => summary(r, i) + matrix(r, i) + findings(r, i)).join('\n')}
${p.notebooks.map((d) => notebook(d, p.runs)).join('\n')}
</body></html>
`;
}
