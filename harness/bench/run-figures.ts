// The bench figures that time the run: boot (to ready, per profile), edit (one line of the
// series changed, then `pinlab run` of one workload to its verdict, and the original series
// back from the cache), fresh (empty caches to the first verdict) and suite (the default suite
// on a cached kernel).
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reachedVerdicts } from '../outcome.js';
import { cacheRoot, getProfile, paths } from '../config.js';
import { kernelRequest, prepareKernel } from '../kernel/index.js';
import { isDebianImageProfile } from '../kernel/debian-images.js';
import { seriesPatchFiles } from '../kernel/source.js';
import { newRunId, runOneKernel } from '../pipeline.js';
import { inPhase } from '../progress.js';
import type { Reporter, RunEvent } from '../report/events.js';
import { runJsonIfAny, runMetaIfAny } from '../rundir.js';
import { DEFAULT_SUITE } from '../workloads/catalogue.js';
import { editPatchLine } from './edit.js';
import { freshTimeline, type TimedLine } from './fresh.js';
import { timedFigure } from './report.js';
import { ratioSummary } from './stats.js';
import { COVERAGE_GOAL_RATIO, GOALS, type Bench } from './bench-state.js';

/** exactly one workload: a plain name also matches its fault variants (raw-virtio.psync.anon.efault-midway ...) */
export const EDIT_FILTER = 'raw-virtio.psync.anon,!raw-virtio.psync.anon.*';
/** the file whose hunk the edit changes */
export const EDIT_FILE = 'block/bio.c';

/** Records phase timings of runOneKernel without printing anything. */
function collectingReporter(): Reporter & { phases: Map<string, number>; verdicts: Map<string, number> } {
  const phases = new Map<string, number>();
  const verdicts = new Map<string, number>();
  return {
    phases,
    verdicts,
    onEvent(e: RunEvent) {
      if (e.type === 'phase-end') phases.set(e.phase, e.elapsedMs);
      if (e.type === 'verdict') verdicts.set(e.verdict.status, (verdicts.get(e.verdict.status) ?? 0) + 1);
    },
    finish: async () => undefined,
  };
}

export async function bootFigure(bench: Bench): Promise<void> {
  for (const profile of bench.profiles) {
    const samples: number[] = [];
    for (let i = 1; i <= bench.repeat; i++) {
      const ms = await inPhase(`boot ${profile} [${i}/${bench.repeat}]`, () => bench.withVm(profile, async (vm) => vm.bootMs), (ms) => `ready in ${(ms / 1000).toFixed(2)} s`);
      samples.push(ms);
    }
    bench.result.timings.push(
      timedFigure({ figure: 'boot', label: `boot to ready (${bench.accel ?? '?'})`, profile, unit: 'ms', samples, goalMs: GOALS.bootMs, note: undefined }),
    );
  }
}

export async function editFigure(bench: Bench): Promise<void> {
  const profile = bench.profiles.find((p) => !isDebianImageProfile(p) && getProfile(p).patched);
  if (!profile) return bench.skip('edit', `no profile with the series among ${bench.profiles.join(', ')}`);
  const original = await bench.kernel(profile);
  const series = mkdtempSync(join(tmpdir(), 'pinlab-bench-series-'));
  const removeSeries = bench.ctx.teardown.add(`bench: series copy ${series}`, () => rmSync(series, { recursive: true, force: true }));
  const editedKeys = new Set<string>();
  try {
    cpSync(paths.patchesDir(), series, { recursive: true });
    const target = seriesPatchFiles(series).find((f) => readFileSync(f, 'utf8').includes(`diff --git a/${EDIT_FILE} b/${EDIT_FILE}`));
    if (!target) return bench.skip('edit', `no patch of the series touches ${EDIT_FILE}`);
    const pristine = readFileSync(target, 'utf8');
    const samples: number[] = [];
    const restore: number[] = [];
    const notes: string[] = [];
    let verdicts = '';
    // round 0 warms the tree (it may sit at another state); rounds 1..N are timed
    for (let i = 0; i <= bench.repeat; i++) {
      const edit = editPatchLine(pristine, EDIT_FILE, `[pinlab-bench ${bench.result.startedAt} ${i}]`);
      writeFileSync(target, edit.text);
      if (i === 0) notes.push(`edits ${target.split('/').pop()}:${edit.line} (a no-effect operand added to a call statement of a ${EDIT_FILE} hunk: a real recompile, no ccache hit)`);
      const runDir = join(bench.dir, `edit-${i}`);
      const label = i === 0 ? 'edit-to-verdict warm-up (untimed)' : `edit-to-verdict [${i}/${bench.repeat}]`;
      const r = await inPhase(
        label,
        () => bench.pinlabRun({ phase: 'bench:edit', profile, runDir, args: ['--filter', EDIT_FILTER], env: { PINLAB_PATCHES_DIR: series }, log: `edit-${i}.log`, timeoutMs: 60 * 60_000 }),
        (s) => `${(s.durationMs / 1000).toFixed(1)} s, exit ${s.exitCode}`,
      );
      const run = runJsonIfAny(runDir);
      bench.result.host.accel ??= run?.host.accel;
      const key = run?.kernel.buildKey;
      if (key && key !== original.key) editedKeys.add(key);
      if (!reachedVerdicts(r.exitCode) || !run) throw new Error(`pinlab run with the edited series exited ${r.exitCode}; see ${join(bench.dir, 'logs', `edit-${i}.log`)}`);
      verdicts = run.verdicts.map((v) => v.status).join(',');
      if (!key || key === original.key) throw new Error('the edited series did not produce a new kernel: the edit was not rebuilt');
      if (i > 0) samples.push(r.durationMs);

      // the original series must map to its cached kernel again, without a build
      const r0 = Date.now();
      const back = await inPhase(`original series ${profile}`, () => prepareKernel(kernelRequest({ profile }), bench.ctx, { logDir: join(bench.dir, 'logs'), jobs: bench.makeJobs }), (k) =>
        k.artifact.cacheHit && k.artifact.key === original.key ? 'cache hit' : `NOT a cache hit (${k.artifact.key.slice(0, 12)})`,
      );
      if (!back.artifact.cacheHit || back.artifact.key !== original.key) throw new Error('after the edit, the original series did not hit the kernel cache');
      if (i > 0) restore.push(Date.now() - r0);
    }
    bench.result.timings.push(
      timedFigure({ figure: 'edit', label: 'edit-to-verdict (1 workload)', profile, unit: 'ms', samples, goalMs: GOALS.editMs, note: `${notes.join('; ')}; whole \`pinlab run\` process, rebuild + boot + raw-virtio.psync.anon + verdict (last: ${verdicts})` }),
      timedFigure({ figure: 'edit-restore', label: 'original series again (cache)', profile, unit: 'ms', samples: restore, note: 'prepareKernel with the original series: a cache hit every time' }),
    );
  } finally {
    writeFileSync(join(bench.dir, 'logs', 'edit-kernels.txt'), `${[...editedKeys].join('\n')}\n`);
    // the edited kernels are of no use after the bench: keep the cache to real kernels
    for (const key of editedKeys) rmSync(join(paths.kernels(), key), { recursive: true, force: true });
    await removeSeries();
  }
}

/**
 * A fresh machine's first run: the whole `pinlab run` process of the first profile with an empty
 * kernel/image cache and an empty ccache (PINLAB_CACHE, CCACHE_DIR: new directories beside the
 * real cache, removed afterwards), so the source is imported, the kernel built cold and the
 * guest image made. Timed to the first verdict (the goal) and to the run's end; meta.json's
 * kernelStepsMs splits the kernel phase into source import, patched tree, config and make.
 * Not timed: `npm ci` and the apt packages, which this machine already has.
 */
export async function freshFigure(bench: Bench): Promise<void> {
  const profile = bench.profiles[0]!;
  const first: number[] = [];
  const whole: number[] = [];
  let note = '';
  for (let i = 1; i <= bench.repeat; i++) {
    const base = join(cacheRoot(), `bench-fresh-${newRunId()}`);
    const remove = bench.ctx.teardown.add(`bench: fresh caches ${base}`, () => rmSync(base, { recursive: true, force: true }));
    try {
      mkdirSync(base, { recursive: true });
      const runDir = join(bench.dir, `fresh-${i}`);
      const lines: TimedLine[] = [];
      const t0 = Date.now();
      const r = await inPhase(
        `fresh machine to first verdict ${profile} [${i}/${bench.repeat}]`,
        () =>
          bench.pinlabRun({
            phase: 'bench:fresh',
            profile,
            runDir,
            env: { PINLAB_CACHE: join(base, 'cache'), CCACHE_DIR: join(base, 'ccache') },
            log: `fresh-${i}.log`,
            timeoutMs: 90 * 60_000,
            onLine: (line) => lines.push({ ms: Date.now() - t0, line }),
          }),
        (s) => `${(s.durationMs / 1000).toFixed(0)} s, exit ${s.exitCode}`,
      );
      const tl = freshTimeline(lines);
      if (!reachedVerdicts(r.exitCode) || tl.firstVerdictMs === undefined) {
        throw new Error(`the fresh pinlab run exited ${r.exitCode}${tl.firstVerdictMs === undefined ? ' without a verdict' : ''}; see ${join(bench.dir, 'logs', `fresh-${i}.log`)}`);
      }
      first.push(tl.firstVerdictMs);
      whole.push(r.durationMs);
      const k = runMetaIfAny(runDir)?.kernelStepsMs;
      const s = (ms: number | undefined) => (ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`);
      const phase = tl.phasesMs;
      note =
        `empty PINLAB_CACHE and CCACHE_DIR, \`pinlab run -p ${profile} --no-setup\` (npm ci and apt not included); last: source import ${s(k?.import)}, ` +
        `patched tree ${s(k?.tree)}, config ${s(k?.config)}, make ${s(k?.build)}, guest image ${s(phase['guest image'])}, boot ${s(phase.boot)}, first verdict at ${s(tl.firstVerdictMs)}, all workloads ${s(phase.workloads)}`;
      bench.result.host.accel ??= runJsonIfAny(runDir)?.host.accel;
    } finally {
      await remove();
    }
  }
  bench.result.timings.push(
    timedFigure({ figure: 'fresh', label: 'fresh caches to first verdict', profile, unit: 'ms', samples: first, goalMs: GOALS.freshMs, note }),
    timedFigure({ figure: 'fresh-run', label: 'fresh caches, whole run', profile, unit: 'ms', samples: whole, note: 'the same runs to their end (the default suite)' }),
  );
}

/** One run of the default suite on a cached kernel (coverage: its gcov build), timed whole. */
async function timedSuite(bench: Bench, profile: string, name: string, coverage = false): Promise<{ ms: number; note: string }> {
  const rep = collectingReporter();
  const t0 = Date.now();
  const r = await inPhase(name, () =>
    runOneKernel({ kernel: kernelRequest({ profile, coverage }), workloads: [...DEFAULT_SUITE], cmdline: [], strict: false, runDir: join(bench.dir, name.replace(/[^\w.-]+/g, '-')), jobs: bench.makeJobs }, bench.ctx, rep),
  );
  const ms = Date.now() - t0;
  if (r.infraFailure) throw r.infraFailure;
  const secs = (phase: string) => `${((rep.phases.get(phase) ?? 0) / 1000).toFixed(1)} s`;
  const v = [...rep.verdicts].map(([s, n]) => `${n} ${s}`).join(', ');
  return { ms, note: `${DEFAULT_SUITE.length} workloads (last: ${v}; boot ${secs('boot')}, workloads ${secs('workloads')}${coverage ? `, coverage report ${secs('coverage')}` : ''})` };
}

export async function suiteFigure(bench: Bench): Promise<void> {
  const profile = bench.profiles[0]!;
  await bench.kernel(profile);
  const samples: number[] = [];
  let note = '';
  for (let i = 1; i <= bench.repeat; i++) {
    const r = await timedSuite(bench, profile, `suite ${profile} [${i}/${bench.repeat}]`);
    samples.push(r.ms);
    note = r.note;
  }
  bench.result.timings.push(timedFigure({ figure: 'suite', label: 'default suite, cached kernel', profile, unit: 'ms', samples, goalMs: GOALS.suiteMs, note }));
}

/**
 * What --coverage costs: the default suite on the gcov build against the same suite on the plain
 * build, interleaved, both kernels cached by an untimed first run each. The goal is the plain
 * suite's median times COVERAGE_GOAL_RATIO, so `met` says whether the ratio holds.
 */
export async function coverageFigure(bench: Bench): Promise<void> {
  const profile = bench.profiles[0]!;
  await bench.kernel(profile);
  await timedSuite(bench, profile, `coverage ${profile} [warm-up]`, true);
  const plain: number[] = [];
  const covered: number[] = [];
  let note = '';
  for (let i = 1; i <= bench.repeat; i++) {
    plain.push((await timedSuite(bench, profile, `coverage ${profile} plain [${i}/${bench.repeat}]`)).ms);
    const c = await timedSuite(bench, profile, `coverage ${profile} --coverage [${i}/${bench.repeat}]`, true);
    covered.push(c.ms);
    note = c.note;
  }
  const base = timedFigure({ figure: 'coverage-plain', label: 'default suite, plain build (the baseline)', profile, unit: 'ms', samples: plain, note: 'interleaved with the --coverage runs' });
  const ratio = ratioSummary(covered, plain);
  const goalMs = base.summary ? Math.round(base.summary.median * COVERAGE_GOAL_RATIO) : undefined;
  bench.result.timings.push(
    base,
    timedFigure({
      figure: 'coverage',
      label: 'default suite with --coverage',
      profile,
      unit: 'ms',
      samples: covered,
      ...(goalMs !== undefined ? { goalMs } : {}),
      note: `${note}; per repeat ${ratio ? `${ratio.median.toFixed(2)}x (${ratio.min.toFixed(2)}-${ratio.max.toFixed(2)})` : '?'} the plain suite; goal <= ${COVERAGE_GOAL_RATIO}x its median`,
    }),
  );
}
