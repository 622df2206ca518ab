/**
 * Do two traces of the same workload get the same verdicts? Compares (rule, device type, verdict)
 * of `avpscope check` on both; device instance ids (QEMU pointers) differ between runs by nature.
 * Usage: node --import tsx scripts/same-verdicts.ts COMMITTED.trace.gz FRESH.trace.gz
 * Exit 0 when the verdicts agree, 1 with the differences listed otherwise.
 */
import { ingest } from '../src/api/ingest.ts';
import { loadReport } from '../src/api/report.ts';

async function verdicts(file: string): Promise<string[]> {
  const r = await ingest({ files: [file], db: ':memory:' });
  try {
    const report = await loadReport(r.store.conn);
    return report.findings.map((f) => `${f.rule} ${f.dev_type ?? 'platform'} ${f.verdict}`).sort();
  } finally {
    r.store.close();
  }
}

const [a, b] = process.argv.slice(2);
if (!a || !b) {
  process.stderr.write('usage: same-verdicts.ts COMMITTED FRESH\n');
  process.exit(2);
}
const [va, vb] = await Promise.all([verdicts(a), verdicts(b)]);
const only = (x: string[], y: string[]) => x.filter((v) => !y.includes(v));
const lost = only(va, vb);
const gained = only(vb, va);
if (lost.length === 0 && gained.length === 0) {
  process.stdout.write(`same verdicts: ${va.length} (rule, device type, verdict) triples agree\n`);
} else {
  for (const v of lost) process.stdout.write(`only in ${a}: ${v}\n`);
  for (const v of gained) process.stdout.write(`only in ${b}: ${v}\n`);
  process.exitCode = 1;
}
