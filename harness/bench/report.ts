// What `pinlab bench` produces (bench.json) and its table. Pure: the table is a function of the
// result, so it can be re-rendered from a saved bench.json.
import { compareShift, RESOLVE_PCT, ratioSummary, summarize, type ShiftComparison, type Summary } from './stats.js';

export interface TimedFigure {
  /** boot | edit | edit-restore | suite */
  figure: string;
  label: string;
  profile: string;
  unit: 'ms';
  samples: number[];
  summary?: Summary;
  /** the figure should be <= goalMs */
  goalMs?: number;
  met?: boolean;
  note?: string;
}

export interface FioPair {
  job: string;
  fioIops: number[];
  addonIops: number[];
  fioCpuUsPerIo: number[];
  addonCpuUsPerIo: number[];
  /** repeats lost to a guest command that hung (their figures are NaN) */
  failures?: string[];
  /** addon/fio per repeat */
  ratio?: Summary;
  met?: boolean;
}

export interface KernelSide {
  iops: number[];
  cpuUsPerIo: number[];
  /** latency (us) at BenchResult.percentiles, averaged over repeats */
  latencyUs: number[];
}

export interface PinnedRow {
  job: string;
  a: KernelSide;
  b: KernelSide;
  /** a against b: Mann-Whitney U test, Hodges-Lehmann shift with its 95 % interval (stats.ts) */
  iops: ShiftComparison;
  cpu: ShiftComparison;
}

export interface BenchResult {
  schema: 'pinlab.bench/2';
  startedAt: string;
  finishedAt: string;
  command: string;
  host: { cpus: number; loadavgStart: number[]; loadavgEnd: number[]; node: string; accel?: string; guestClocksource?: string; clocksourceReboots?: number };
  repeat: number;
  runtimeS: number;
  percentiles: number[];
  timings: TimedFigure[];
  fio?: { profile: string; device: string; goalRatio: number; pairs: FioPair[] };
  pinned?: { a: string; b: string; device: string; resolvePct: number; rows: PinnedRow[] };
  skipped: { figure: string; reason: string }[];
  errors: { figure: string; message: string }[];
}

export const FIO_GOAL_RATIO = 0.95;

export function timedFigure(f: Omit<TimedFigure, 'summary' | 'met'>): TimedFigure {
  const summary = summarize(f.samples);
  const out: TimedFigure = { ...f };
  if (summary) out.summary = summary;
  if (summary && f.goalMs !== undefined) out.met = summary.median <= f.goalMs;
  return out;
}

export function fioPair(p: Omit<FioPair, 'ratio' | 'met'>, goal = FIO_GOAL_RATIO): FioPair {
  const ratio = ratioSummary(p.addonIops, p.fioIops);
  const out: FioPair = { ...p };
  if (ratio) {
    out.ratio = ratio;
    out.met = ratio.median >= goal;
  }
  return out;
}

export function pinnedRow(job: string, a: KernelSide, b: KernelSide, names: [string, string]): PinnedRow {
  return { job, a, b, iops: compareShift(a.iops, b.iops, names), cpu: compareShift(a.cpuUsPerIo, b.cpuUsPerIo, names) };
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
}

function fmt(v: number | undefined, digits = 0): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v.toFixed(digits);
}

function range(s: Summary | undefined, f: (v: number) => string): string {
  return s ? `${f(s.min)}/${f(s.median)}/${f(s.max)}` : '-';
}

/** Columns padded to their widest cell. */
export function formatColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function formatBenchTable(r: BenchResult): string {
  const parts: string[] = [];
  if (r.timings.length > 0) {
    const rows: string[][] = [['FIGURE', 'PROFILE', 'N', 'MIN', 'MEDIAN', 'MAX', 'GOAL', 'MET']];
    for (const t of r.timings) {
      const s = t.summary;
      rows.push([
        t.label,
        t.profile,
        String(s?.n ?? 0),
        s ? secs(s.min) : '-',
        s ? secs(s.median) : '-',
        s ? secs(s.max) : '-',
        t.goalMs === undefined ? '' : `<= ${secs(t.goalMs)}`,
        t.met === undefined ? '' : t.met ? 'yes' : 'NO',
      ]);
    }
    parts.push(formatColumns(rows));
    for (const t of r.timings) if (t.note) parts.push(`  ${t.label}: ${t.note}`);
  }
  if (r.fio) {
    const f = r.fio;
    parts.push(`\naddon vs fio on ${f.profile}, ${f.device}, same boot, ${r.runtimeS} s per run (IOPS min/median/max; ratio addon/fio per repeat)`);
    const rows: string[][] = [['JOB', 'FIO IOPS', 'ADDON IOPS', 'RATIO', `>= ${f.goalRatio}`, 'CPU us/IO fio', 'CPU us/IO addon']];
    for (const p of f.pairs) {
      rows.push([
        p.job,
        range(summarize(p.fioIops), (v) => fmt(v)),
        range(summarize(p.addonIops), (v) => fmt(v)),
        range(p.ratio, (v) => fmt(v, 2)),
        p.met === undefined ? '-' : p.met ? 'yes' : 'NO',
        fmt(summarize(p.fioCpuUsPerIo)?.median, 1),
        fmt(summarize(p.addonCpuUsPerIo)?.median, 1),
      ]);
    }
    parts.push(formatColumns(rows));
    for (const p of f.pairs) for (const failure of p.failures ?? []) parts.push(`  ${p.job}: ${failure}`);
  }
  if (r.pinned) {
    const p = r.pinned;
    const resolve = p.resolvePct ?? RESOLVE_PCT;
    parts.push(
      `\npinned vs stock: ${p.a} vs ${p.b}, addon engines on ${p.device}, one boot per kernel per repeat, ABBA order (min/median/max;` +
        ` ${p.a} relative to ${p.b}: Hodges-Lehmann shift [95% interval], Mann-Whitney p; P(>): probability a repeat of ${p.a} is above one of ${p.b})`,
    );
    const rows: string[][] = [['JOB', 'N', `IOPS ${p.a}`, `IOPS ${p.b}`, 'IOPS', 'P(>)', `CPU us/IO ${p.a}`, `CPU us/IO ${p.b}`, 'CPU/IO']];
    for (const row of p.rows) {
      rows.push([
        row.job,
        `${row.iops.n[0]}+${row.iops.n[1]}`,
        range(summarize(row.a.iops), (v) => fmt(v)),
        range(summarize(row.b.iops), (v) => fmt(v)),
        row.iops.text,
        fmt(row.iops.superiority, 2),
        range(summarize(row.a.cpuUsPerIo), (v) => fmt(v, 1)),
        range(summarize(row.b.cpuUsPerIo), (v) => fmt(v, 1)),
        row.cpu.text,
      ]);
    }
    parts.push(formatColumns(rows));
    const by = (v: string) => p.rows.filter((x) => x.iops.verdict === v).map((x) => x.job);
    const real = [...by('a-higher'), ...by('b-higher')];
    const unresolved = [...by('unresolved'), ...by('undecidable')];
    const lines = [
      real.length > 0 ? `IOPS differ (p < 0.05) for ${real.join(', ')}` : `no IOPS difference between ${p.a} and ${p.b} is significant (p < 0.05)`,
      unresolved.length === 0
        ? `every job resolves +-${resolve}% (each 95% interval lies within it, or the difference is significant)`
        : `${unresolved.length} of ${p.rows.length} jobs do not resolve +-${resolve}%: ${unresolved.join(', ')} (more --repeat narrows the interval)`,
    ];
    parts.push(`verdict: ${lines.join('; ')}`);
  }
  for (const s of r.skipped) parts.push(`skipped ${s.figure}: ${s.reason}`);
  for (const e of r.errors) parts.push(`ERROR ${e.figure}: ${e.message}`);
  const load = (l: number[]) => l.map((v) => v.toFixed(2)).join(' ');
  parts.push(`\nhost: ${r.host.cpus} cpus, ${r.host.accel ?? '?'}${r.host.guestClocksource ? `, guest clocksource ${r.host.guestClocksource}` : ''}${r.host.clocksourceReboots ? ` (${r.host.clocksourceReboots} boot(s) on jiffies not measured)` : ''}, load average ${load(r.host.loadavgStart)} at start, ${load(r.host.loadavgEnd)} at end`);
  return `${parts.join('\n')}\n`;
}
