// `pinlab sweep`: the suite over every Debian image version of a series (oldest first), one run
// directory per image, then a table version x verdict counts naming the first version where any
// verdict changed. Verdicts come from each run as it is; this file only compares them. An image
// whose run ended in an infrastructure failure is run once more (the row says so).
import type { RunContext } from './context.js';
import { kernelRequest } from './kernel/index.js';
import { imageProfile, listDebianImages, seriesImages, type DebianImage } from './kernel/debian-images.js';
import { runOneKernel } from './pipeline.js';
import type { Reporter } from './report/events.js';
import { STATUSES, type RunResult, type Status } from './verdict/types.js';
import type { WorkloadSpec } from './workloads/types.js';
import { UserError } from './errors.js';
import { runPool } from './pool.js';
import { planVms, type VmBounds } from './vm/slots.js';

export interface SweepRow {
  image: Pick<DebianImage, 'pkg' | 'version' | 'series' | 'flavour'>;
  release?: string;
  runDir: string;
  counts: Record<Status, number>;
  /** workload -> status */
  statuses: Record<string, Status>;
  infra?: string;
  /** why the first run of this image ended early, when it was run a second time */
  retried?: string;
  /** sweep --coverage: what the tracer saw of the pin-path functions (coverage/ftrace.ts) */
  coverage?: { pinFunctions: { hit: number; total: number }; sitesReached: number; sites: number };
}

export function rowOf(image: SweepRow['image'], result: RunResult, runDir: string, infra?: string): SweepRow {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0])) as Record<Status, number>;
  const statuses: Record<string, Status> = {};
  for (const v of result.verdicts) {
    counts[v.status] = (counts[v.status] ?? 0) + 1;
    statuses[v.name] = v.status;
  }
  const c = result.coverage;
  const coverage = c ? { coverage: { pinFunctions: c.pinFunctions ?? { hit: 0, total: 0 }, sitesReached: c.sites.reached, sites: c.sites.total } } : {};
  return { image, ...(result.kernel.release ? { release: result.kernel.release } : {}), runDir, counts, statuses, ...(infra ? { infra } : {}), ...coverage };
}

/** Workloads whose status differs between two rows (a workload in only one counts). Pure. */
export function changedVerdicts(a: SweepRow, b: SweepRow): string[] {
  const names = new Set([...Object.keys(a.statuses), ...Object.keys(b.statuses)]);
  return [...names].filter((n) => a.statuses[n] !== b.statuses[n]).sort();
}

/**
 * The row a row's verdicts are compared with: the last one before it of the same series and
 * flavour that ran (a row whose run failed for infrastructure has no verdicts to compare). Pure.
 */
export function previousRun(rows: readonly SweepRow[], i: number): SweepRow | undefined {
  const r = rows[i]!;
  for (let j = i - 1; j >= 0; j--) {
    const p = rows[j]!;
    if (p.image.series !== r.image.series || p.image.flavour !== r.image.flavour) return undefined;
    if (!p.infra) return p;
  }
  return undefined;
}

/** Index of the first row (within one series and flavour) whose verdicts differ from the last run before it. Pure. */
export function firstChange(rows: readonly SweepRow[]): number | undefined {
  for (let i = 1; i < rows.length; i++) {
    const prev = previousRun(rows, i);
    if (!rows[i]!.infra && prev && changedVerdicts(prev, rows[i]!).length > 0) return i;
  }
  return undefined;
}

export function formatSweep(rows: readonly SweepRow[]): string {
  // sweep --coverage: what each image's run covered, function level (no gcov in shipped kernels)
  const covered = rows.some((r) => r.coverage);
  const head = ['SERIES', 'VERSION', 'RELEASE', ...STATUSES, ...(covered ? ['PIN-SITE FUNCTIONS RAN', 'SITES'] : []), 'CHANGED FROM PREVIOUS'];
  const body = rows.map((r, i) => {
    const prev = previousRun(rows, i);
    const changed = prev ? changedVerdicts(prev, r) : [];
    const verdictNote = r.infra ? `infrastructure: ${r.infra}` : !prev ? '(first)' : changed.length ? changed.map((n) => `${n} ${prev.statuses[n] ?? '-'}->${r.statuses[n] ?? '-'}`).join(', ') : '-';
    const note = r.retried ? `${verdictNote} (second run; the first: ${r.retried.length > 60 ? `${r.retried.slice(0, 59)}…` : r.retried})` : verdictNote;
    const cov = !covered ? [] : r.coverage ? [`${r.coverage.pinFunctions.hit}/${r.coverage.pinFunctions.total}`, `${r.coverage.sitesReached}/${r.coverage.sites}`] : ['-', '-'];
    return [r.image.flavour === 'amd64' ? r.image.series : `${r.image.series} ${r.image.flavour}`, r.image.version, r.release ?? '?', ...STATUSES.map((s) => String(r.counts[s])), ...cov, note];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((r) => r[c]!.length)));
  const fmt = (r: string[]) => r.map((x, c) => (c === r.length - 1 ? x : x.padEnd(widths[c]!))).join('  ');
  const lines = [fmt(head), ...body.map(fmt)];
  const first = firstChange(rows);
  lines.push(first === undefined ? 'first change: none (every version of each series gave the same verdicts)' : `first change: ${rows[first]!.image.pkg}=${rows[first]!.image.version} (against ${previousRun(rows, first)!.image.version})`);
  return lines.join('\n');
}

/**
 * Why a run gave no workload any result though it booted: every verdict that is not a SKIP is
 * ERROR timeout (the runner never sent its first event within its bound: a guest starved on a
 * loaded host), or undefined. Pure.
 */
export function noResult(result: Pick<RunResult, 'verdicts'>): string | undefined {
  const ran = result.verdicts.filter((v) => v.status !== 'SKIP');
  if (ran.length === 0 || !ran.every((v) => v.status === 'ERROR' && v.cause === 'timeout')) return undefined;
  return `no workload gave a result: ${ran[0]!.message ?? 'timeout'}`;
}

/** One line per workload verdict as the runs go; the table comes at the end. */
function progressReporter(label: string, write: (s: string) => void): Reporter {
  return {
    onEvent(e) {
      if (e.type === 'phase-end' && !e.ok) write(`${label}: ${e.phase} failed: ${e.detail ?? ''}`);
      if (e.type === 'run-end') {
        const c = e.result.verdicts.reduce<Record<string, number>>((m, v) => ({ ...m, [v.status]: (m[v.status] ?? 0) + 1 }), {});
        write(`${label}: ${STATUSES.map((s) => `${c[s] ?? 0} ${s}`).join(', ')} (${(e.elapsedMs / 1000).toFixed(0)} s)`);
      }
    },
    finish: async () => {},
  };
}

export async function sweep(
  ctx: RunContext,
  opts: { series: string[]; flavour: string; workloads: WorkloadSpec[]; cmdline: string[]; strict: boolean; last?: number; coverage?: boolean; write: (s: string) => void; vms?: VmBounds },
): Promise<SweepRow[]> {
  const all = await listDebianImages(ctx);
  const flavours = opts.flavour.split(',').filter(Boolean);
  const images = opts.series.flatMap((s) =>
    flavours.flatMap((f) => {
      const list = seriesImages(all, s, f);
      return opts.last ? list.slice(-opts.last) : list;
    }),
  );
  if (images.length === 0) throw new UserError(`apt offers no ${opts.flavour} image of series ${opts.series.join(', ')}`, { hint: 'pinlab kernels lists what apt offers' });
  opts.write(`sweep: ${images.length} images: ${images.map((i) => `${i.pkg}=${i.version}`).join(', ')}`);
  // K VMs at once (--vms): images side by side; rows in version order whatever finishes first
  const plan = planVms(images.length, opts.vms ?? { vms: 1, hostThreads: 2, memoryMiB: 1024 });
  const vmOpts = { vms: plan.guestsPerKernel, ...(plan.bounds ? { vmBounds: plan.bounds } : {}) };
  return runPool(images, plan.kernelsAtOnce, async (image) => {
    const label = `${image.pkg}=${image.version}`;
    const kernel = kernelRequest({ profile: imageProfile(image), coverage: opts.coverage });
    const runImage = () => runOneKernel({ kernel, workloads: opts.workloads, cmdline: opts.cmdline, strict: opts.strict, ...vmOpts }, ctx, progressReporter(label, opts.write));
    let r = await runImage();
    // one boot failing on a loaded TCG host (a panic in the timer check, a stalled guest) should
    // not cost a version its row: an infrastructure failure gets one more run, and the row says so
    const first = r.infraFailure?.message.split('\n')[0] ?? noResult(r.result);
    if (first !== undefined) {
      opts.write(`${label}: infrastructure failure (${first}); running it once more`);
      r = await runImage();
    }
    return { ...rowOf(image, r.result, r.runDir, r.infraFailure?.message.split('\n')[0]), ...(first !== undefined ? { retried: first } : {}) };
  });
}
