// The mutation report: one document (mutation.json) from which the terminal table and the HTML
// page are rendered; shards' documents merge into one equal to an unsharded run. Pure.
import { FINAL, percentOf, scoreOf, scoresBy, type MutantResult, type Score } from './outcome.js';

export interface MutationReport {
  schema: 'pinlab.mutation/1';
  kernel: { profile?: string; source: string; tree: string; patches: string[] };
  /** the command line, as typed */
  command: string;
  startedAt: string;
  finishedAt: string;
  /** wall time of the run(s) that made it (shards: summed) */
  elapsedMs: number;
  /** coverage run directories the reach came from; absent: every workload judged every mutant */
  coverage?: string[];
  /** coverage HTML report, relative to the report's directory, when there is one */
  coverageHtml?: string;
  /** the workloads that did not pass on the unmutated tree: left out of every mutant's judging */
  baselineProblems: string[];
  /** every mutant selected: results, and `pending` ones not run yet (an interrupted run) */
  mutants: MutantResult[];
  pending: string[];
  score: Score;
  files: { file: string; score: Score }[];
  sites: { site: string; score: Score }[];
  timing: { mutantsRun: number; medianMs?: number; medianBuildMs?: number };
}

function median(xs: number[]): number | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** The report of a set of results (the figures are computed here, never stored apart). */
export function buildReport(base: Omit<MutationReport, 'schema' | 'score' | 'files' | 'sites' | 'timing'>): MutationReport {
  const mutants = [...base.mutants].sort((a, b) => a.id.localeCompare(b.id));
  const ran = mutants.filter((m) => m.elapsedMs !== undefined && m.outcome !== 'error');
  return {
    schema: 'pinlab.mutation/1',
    ...base,
    mutants,
    score: scoreOf(mutants),
    files: scoresBy(mutants, (m) => m.file).map(([file, score]) => ({ file, score })),
    sites: scoresBy(mutants, (m) => m.site).map(([site, score]) => ({ site, score })),
    timing: {
      mutantsRun: ran.length,
      ...(ran.length ? { medianMs: median(ran.map((m) => m.elapsedMs!)) } : {}),
      ...(ran.some((m) => m.buildMs !== undefined) ? { medianBuildMs: median(ran.flatMap((m) => (m.buildMs === undefined ? [] : [m.buildMs]))) } : {}),
    },
  };
}

/** Shards (or several reports of one tree) into one; a final result beats an error or a pending id. */
export function mergeReports(reports: readonly MutationReport[]): MutationReport {
  if (reports.length === 0) throw new RangeError('no reports to merge');
  const trees = new Set(reports.map((r) => r.kernel.tree));
  if (trees.size > 1) throw new RangeError(`the reports are of different trees: ${[...trees].join(', ')}`);
  // the newest report's final result wins (a mutant judged again, or reviewed since)
  const byId = new Map<string, MutantResult>();
  for (const r of [...reports].sort((a, b) => a.finishedAt.localeCompare(b.finishedAt))) {
    for (const m of r.mutants) {
      const had = byId.get(m.id);
      if (!had || FINAL.includes(m.outcome) || !FINAL.includes(had.outcome)) byId.set(m.id, m);
    }
  }
  const pending = [...new Set(reports.flatMap((r) => r.pending))].filter((id) => !byId.has(id)).sort();
  const first = reports[0]!;
  return buildReport({
    kernel: first.kernel,
    command: reports.map((r) => r.command).join(' ; '),
    startedAt: reports.map((r) => r.startedAt).sort()[0]!,
    finishedAt: reports.map((r) => r.finishedAt).sort().at(-1)!,
    elapsedMs: reports.reduce((s, r) => s + r.elapsedMs, 0),
    ...(first.coverage ? { coverage: [...new Set(reports.flatMap((r) => r.coverage ?? []))] } : {}),
    ...(first.coverageHtml ? { coverageHtml: first.coverageHtml } : {}),
    baselineProblems: [...new Set(reports.flatMap((r) => r.baselineProblems))].sort(),
    mutants: [...byId.values()],
    pending,
  });
}

const COLUMNS: [keyof Score, string][] = [
  ['killed', 'KILLED'],
  ['timedOut', 'TIMEOUT'],
  ['survived', 'SURVIVED'],
  ['notReached', 'NOT-REACHED'],
  ['unbuildable', 'UNBUILDABLE'],
  ['equivalent', 'EQUIV'],
  ['unreachable', 'UNREACH'],
  ['error', 'ERROR'],
];

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

const scoreRow = (name: string, s: Score) => [name, ...COLUMNS.map(([k]) => String(s[k])), percentOf(s)];

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

/** The terminal's report: per file, the sites with a mutant not killed, each survivor with its diff. */
export function formatMutationReport(r: MutationReport, opts: { diffs?: boolean } = {}): string {
  const out: string[] = [];
  out.push(...table(['FILE', ...COLUMNS.map(([, h]) => h), 'SCORE'], [...r.files.map((f) => scoreRow(f.file, f.score)), scoreRow('total', r.score)]));
  const weak = r.sites.filter((s) => s.score.survived + s.score.notReached > 0);
  if (weak.length) {
    out.push('', 'sites with a mutant not killed:');
    out.push(...table(['SITE', ...COLUMNS.map(([, h]) => h), 'SCORE'], weak.map((s) => scoreRow(s.site, s.score))).map((l) => `  ${l}`));
  }
  for (const m of r.mutants.filter((x) => x.outcome === 'survived' || x.outcome === 'not-reached')) {
    out.push('', `${m.outcome.toUpperCase()} ${m.id} (line ${m.line}; ${m.workloads.length ? `ran ${m.workloads.join(', ')}` : 'no workload reaches it'})`);
    if (opts.diffs !== false) out.push(...m.diff.trimEnd().split('\n').filter((l) => /^[-+@]/.test(l) && !/^(---|\+\+\+) /.test(l)).map((l) => `  ${l}`));
  }
  if (r.baselineProblems.length) out.push('', `left out (not passing on the unmutated tree): ${r.baselineProblems.join(', ')}`);
  if (r.pending.length) out.push('', `${r.pending.length} mutants not run yet (run the same command again to go on)`);
  out.push(
    '',
    `${r.mutants.length + r.pending.length} mutants on ${r.kernel.profile ?? r.kernel.source}${r.pending.length ? ` (${r.pending.length} not run yet)` : ''}: score ${percentOf(r.score)} (killed ${r.score.killed + r.score.timedOut} of ${r.score.killed + r.score.timedOut + r.score.survived + r.score.notReached} non-equivalent); ` +
      `${r.timing.mutantsRun} run, median ${seconds(r.timing.medianMs)} per mutant (build ${seconds(r.timing.medianBuildMs)}), ${seconds(r.elapsedMs)} in all`,
  );
  return `${out.join('\n')}\n`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function htmlTable(head: string[], rows: string[][]): string {
  return `<table><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</table>`;
}

/** The HTML page: scores per file and per site, every mutant, each survivor's diff. */
export function mutationHtml(r: MutationReport): string {
  const head = ['', ...COLUMNS.map(([, h]) => h.toLowerCase()), 'score'];
  const mutantRows = r.mutants.map((m) => [m.id, m.outcome, m.detail, m.workloads.join(' '), seconds(m.elapsedMs)]);
  const survivors = r.mutants.filter((m) => m.outcome === 'survived' || m.outcome === 'not-reached');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>pinlab mutation report</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%;text-align:left}pre{background:#f6f6f6;padding:.5em}.add{color:#070}.del{color:#a00}</style>
</head><body>
<h1>pinlab mutation report</h1>
<p>${esc(r.kernel.profile ?? r.kernel.source)} (tree ${esc(r.kernel.tree.slice(0, 12))}; patches: ${esc(r.kernel.patches.join(', ') || 'none')}); ${esc(r.startedAt)} to ${esc(r.finishedAt)}; <code>${esc(r.command)}</code></p>
<p>Score ${esc(percentOf(r.score))}: killed ${r.score.killed + r.score.timedOut} of ${r.score.killed + r.score.timedOut + r.score.survived + r.score.notReached} non-equivalent mutants; ${r.timing.mutantsRun} run, median ${esc(seconds(r.timing.medianMs))} per mutant, ${esc(seconds(r.elapsedMs))} in all.
${r.coverageHtml ? `Reach from <a href="${esc(r.coverageHtml)}">the coverage report</a>.` : r.coverage ? `Reach from ${esc(r.coverage.join(', '))}.` : 'No coverage: every workload judged every mutant.'}</p>
<h2>Per file</h2>
${htmlTable(head, [...r.files.map((f) => scoreRow(f.file, f.score)), scoreRow('total', r.score)])}
<h2>Survivors and coverage gaps</h2>
${survivors.length ? survivors.map((m) => `<h3>${esc(m.outcome)}: ${esc(m.id)}</h3><p>${m.workloads.length ? `ran ${esc(m.workloads.join(', '))}` : 'no workload reaches it'}</p><pre>${m.diff.split('\n').map((l) => (l.startsWith('+') ? `<span class="add">${esc(l)}</span>` : l.startsWith('-') ? `<span class="del">${esc(l)}</span>` : esc(l))).join('\n')}</pre>`).join('\n') : '<p>none</p>'}
<h2>Per site</h2>
${htmlTable(head, r.sites.map((s) => scoreRow(s.site, s.score)))}
<h2>Every mutant</h2>
${htmlTable(['mutant', 'outcome', 'detail', 'workloads', 'time'], mutantRows)}
${r.pending.length ? `<p>${r.pending.length} mutants not run yet.</p>` : ''}
</body></html>
`;
}
