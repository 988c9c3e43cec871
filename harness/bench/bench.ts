// `pinlab bench`: how fast pinlab answers and whether its numbers can be trusted. Each figure is
// measured --repeat times and reported as min/median/max in bench.json, bench.txt and on the
// terminal, with latency.svg (pinned vs stock latency distributions) next to them:
//   boot    QEMU start -> first guest command output (Vm.bootMs), per profile
//   edit    one code line of a bio.c hunk changed in a copy of the series, then
//           `pinlab run -p <patched>` of raw-virtio.psync.anon alone with that copy
//           (PINLAB_PATCHES_DIR): incremental rebuild + boot + workload + verdict; after each,
//           the original series must hit the kernel cache again (edit-restore)
//   suite   the default suite on the first profile's (cached) kernel: boot + all workloads
//   fio     fio and the addon, same boot, same device/size/runtime, per engine and shape
//   pinned  the addon jobs on the first two profiles, one boot per kernel per repeat
//   fresh   (only with --only fresh) `pinlab run` with empty caches and ccache: cold import,
//           build and guest image, timed to the first verdict
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join, resolve } from 'node:path';
import { reachedVerdicts, type Outcome } from '../outcome.js';
import { cacheRoot, DEFAULT_PROFILE, getProfile, paths, repoRoot, runsRoot } from '../config.js';
import type { RunContext } from '../context.js';
import { HarnessTimeoutError, InterruptedError, UserError } from '../errors.js';
import { runStep } from '../exec.js';
import { kernelRequest, prepareKernel } from '../kernel/index.js';
import { isDebianImageProfile } from '../kernel/image.js';
import type { KernelArtifact } from '../kernel/build.js';
import { seriesPatchFiles } from '../kernel/source.js';
import { newRunId, runOneKernel } from '../pipeline.js';
import { inPhase } from '../progress.js';
import type { Reporter, RunEvent } from '../report/events.js';
import { writeFileAtomic } from '../report/file.js';
import { runJsonIfAny, runMetaIfAny } from '../rundir.js';
import type { BaseImage } from '../vm/image.js';
import type { Vm } from '../vm/runner.js';
import { withVm, type VmSession } from '../vm/session.js';
import { DEFAULT_SUITE } from '../workloads/catalogue.js';
import { editPatchLine } from './edit.js';
import { freshTimeline, type TimedLine } from './fresh.js';
import { DEFAULT_BENCH_DEVICE, DEFAULT_BENCH_SIZE, benchJobs, fioArgv, parseFioJson, type IoFigures, type IoJob } from './jobs.js';
import { GUEST_CLOCKSOURCE, isJiffies } from '../guest/bench.js';
import { GUEST_BENCH_ARGV, parseBenchLine, type GuestBenchInput } from '../guest-runner/protocol.js';
import { FIO_GOAL_RATIO, fioPair, formatBenchTable, pinnedRow, timedFigure, type BenchResult, type KernelSide } from './report.js';
import { LATENCY_PERCENTILES, meanCurve, RESOLVE_PCT } from './stats.js';
import { renderLatencyCdf } from './svg.js';

export const FIGURES = ['boot', 'edit', 'suite', 'fio', 'pinned', 'fresh'] as const;
export type FigureName = (typeof FIGURES)[number];
/** what `pinlab bench` measures without --only: `fresh` (minutes of cold builds per repeat) only when named */
export const DEFAULT_FIGURES: readonly FigureName[] = FIGURES.filter((f) => f !== 'fresh');

/** issue 17's goals (TCG, 2-core machine): boot to ready, edit -> verdict, default suite with boot, empty caches to the first verdict */
export const GOALS = { bootMs: 1_500, editMs: 20_000, suiteMs: 45_000, freshMs: 360_000 } as const;
/** exactly one workload: a plain name also matches its fault variants (raw-virtio.psync.anon.efault-midway ...) */
export const EDIT_FILTER = 'raw-virtio.psync.anon,!raw-virtio.psync.anon.*';
/** the file whose hunk the edit changes */
export const EDIT_FILE = 'block/bio.c';

export interface BenchOpts {
  profile?: string[];
  repeat?: number;
  out?: string;
  only?: string;
  runtime?: number;
  jobs?: number;
}

export function parseOnly(only?: string): FigureName[] {
  if (only === undefined) return [...DEFAULT_FIGURES];
  const names = only.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !(FIGURES as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) throw new UserError(`--only ${only}: expected a comma-separated subset of ${FIGURES.join(',')}`);
  return FIGURES.filter((f) => names.includes(f));
}

const out = (s: string) => process.stdout.write(`${s}\n`);

const CLOCKSOURCE_BOOTS = 3;

/**
 * The guest's clocksource once the TSC has had its chance (it registers ~1 s after tsc_init).
 * Read with cat rather than by guest-bench's settledClocksource: node takes a second to start
 * under TCG, and this runs on every measuring boot.
 */
async function settledGuestClocksource(vm: Vm, waitMs = 3000): Promise<string> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = await vm.exec(['cat', GUEST_CLOCKSOURCE], { timeoutMs: 10_000 });
    const name = r.stdout.trim();
    if (r.exitCode !== 0) throw new Error(`cannot read ${GUEST_CLOCKSOURCE} in the guest: ${r.stderr.trim()}`);
    if (!isJiffies(name) || Date.now() > deadline) return name;
    await sleep(200);
  }
}

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

class Bench {
  private readonly kernels = new Map<string, KernelArtifact>();
  private image: BaseImage | undefined;
  private accel: 'tcg' | 'kvm' | undefined;
  private boots = 0;
  readonly result: BenchResult;
  private readonly jobs: IoJob[];

  constructor(
    private readonly ctx: RunContext,
    private readonly dir: string,
    private readonly profiles: string[],
    private readonly repeat: number,
    runtimeS: number,
    private readonly makeJobs: number | undefined,
    command: string,
  ) {
    this.jobs = benchJobs({ runtimeMs: runtimeS * 1000 });
    this.result = {
      schema: 'pinlab.bench/2',
      startedAt: new Date().toISOString(),
      finishedAt: '',
      command,
      host: { cpus: availableParallelism(), loadavgStart: loadavg(), loadavgEnd: [], node: process.version },
      repeat,
      runtimeS,
      percentiles: [...LATENCY_PERCENTILES],
      timings: [],
      skipped: [],
      errors: [],
    };
  }

  private async kernel(profile: string): Promise<KernelArtifact> {
    const known = this.kernels.get(profile);
    if (known) return known;
    const req = kernelRequest({ profile });
    const k = await inPhase(`build ${profile}`, (p) => prepareKernel(req, this.ctx, { logDir: join(this.dir, 'logs'), onLine: (l) => p.update(l), jobs: this.makeJobs }), (r) =>
      r.artifact.cacheHit ? `cache hit ${r.artifact.key.slice(0, 12)}` : `built ${r.artifact.meta.release}`,
    );
    this.kernels.set(profile, k.artifact);
    return k.artifact;
  }

  /** the next boot's directory: two in turn, so a boot never reuses the one just torn down */
  private vmDir(): string {
    return join(this.dir, `vm${++this.boots % 2}`);
  }

  /** fn on a fresh guest, shut down afterwards; 'timed': one whose clock can time I/O (timedVm). */
  private async withVm<T>(profile: string, fn: (vm: Vm, session: VmSession) => Promise<T>, kind: 'any' | 'timed' = 'any'): Promise<T> {
    const k = await this.kernel(profile);
    return withVm({ kernel: k.bzImage, vmDir: this.vmDir(), cmdline: [], workloads: [], image: this.image, accel: this.accel }, this.ctx, async (session) => {
      this.image = session.image;
      this.accel = session.accel;
      this.result.host.accel = session.accel;
      return fn(kind === 'timed' ? await this.timedVm(session, profile) : session.vm, session);
    });
  }

  /**
   * A VM whose clock can time I/O. Under TCG on a loaded host the kernel's TSC calibration
   * against the PIT can fail ("tsc: Unable to calibrate against PIT"); the guest then runs on
   * the jiffies clocksource (1/HZ latencies, clock_gettime() as a system call) and every I/O
   * figure of that boot would be wrong, fio's too. Such a boot is not measured: boot again.
   */
  private async timedVm(session: VmSession, profile: string): Promise<Vm> {
    for (let attempt = 1; ; attempt++) {
      const clocksource = await settledGuestClocksource(session.vm);
      if (!isJiffies(clocksource)) {
        this.result.host.guestClocksource = clocksource;
        return session.vm;
      }
      this.result.host.clocksourceReboots = (this.result.host.clocksourceReboots ?? 0) + 1;
      const what = `the ${profile} guest fell back to the ${clocksource} clocksource (its TSC calibration failed)`;
      if (attempt >= CLOCKSOURCE_BOOTS) throw new Error(`${what} in ${attempt} boots: I/O figures not measured`);
      process.stderr.write(`pinlab bench: ${what}; booting again\n`);
      await session.fresh(this.vmDir());
    }
  }

  /** A figure that fails is recorded and the next one runs; an interrupt stops everything. */
  async figure(name: FigureName, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (e instanceof InterruptedError || this.ctx.signal.aborted) throw e;
      const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      this.result.errors.push({ figure: name, message });
      process.stderr.write(`pinlab bench: ${name}: ${message}\n`);
    }
  }

  skip(figure: FigureName, reason: string): void {
    this.result.skipped.push({ figure, reason });
  }

  async bootFigure(): Promise<void> {
    for (const profile of this.profiles) {
      const samples: number[] = [];
      for (let i = 1; i <= this.repeat; i++) {
        const ms = await inPhase(`boot ${profile} [${i}/${this.repeat}]`, () => this.withVm(profile, async (vm) => vm.bootMs), (ms) => `ready in ${(ms / 1000).toFixed(2)} s`);
        samples.push(ms);
      }
      this.result.timings.push(
        timedFigure({ figure: 'boot', label: `boot to ready (${this.accel ?? '?'})`, profile, unit: 'ms', samples, goalMs: GOALS.bootMs, note: undefined }),
      );
    }
  }

  /** `pinlab run -p PROFILE` as a child process of its own (what a user types), into runDir. */
  private pinlabRun(o: { phase: string; profile: string; runDir: string; args?: string[]; env: Record<string, string>; log: string; timeoutMs: number; onLine?: (line: string) => void }) {
    return runStep(
      {
        phase: o.phase,
        argv: [process.execPath, join(repoRoot, 'bin', 'pinlab.js'), 'run', '-p', o.profile, ...(o.args ?? []), '--run-dir', o.runDir, '--no-setup', ...(this.makeJobs ? ['-j', String(this.makeJobs)] : [])],
        env: o.env,
        logFile: join(this.dir, 'logs', o.log),
        timeoutMs: o.timeoutMs,
      },
      { signal: this.ctx.signal, allowFailure: true, ...(o.onLine ? { onLine: o.onLine } : {}) },
    );
  }

  async editFigure(): Promise<void> {
    const profile = this.profiles.find((p) => !isDebianImageProfile(p) && getProfile(p).patched);
    if (!profile) return this.skip('edit', `no profile with the series among ${this.profiles.join(', ')}`);
    const original = await this.kernel(profile);
    const series = mkdtempSync(join(tmpdir(), 'pinlab-bench-series-'));
    const removeSeries = this.ctx.teardown.add(`bench: series copy ${series}`, () => rmSync(series, { recursive: true, force: true }));
    const editedKeys = new Set<string>();
    try {
      cpSync(paths.patchesDir(), series, { recursive: true });
      const target = seriesPatchFiles(series).find((f) => readFileSync(f, 'utf8').includes(`diff --git a/${EDIT_FILE} b/${EDIT_FILE}`));
      if (!target) return this.skip('edit', `no patch of the series touches ${EDIT_FILE}`);
      const pristine = readFileSync(target, 'utf8');
      const samples: number[] = [];
      const restore: number[] = [];
      const notes: string[] = [];
      let verdicts = '';
      // round 0 warms the tree (it may sit at another state); rounds 1..N are timed
      for (let i = 0; i <= this.repeat; i++) {
        const edit = editPatchLine(pristine, EDIT_FILE, `[pinlab-bench ${this.result.startedAt} ${i}]`);
        writeFileSync(target, edit.text);
        if (i === 0) notes.push(`edits ${target.split('/').pop()}:${edit.line} (a no-effect operand added to a call statement of a ${EDIT_FILE} hunk: a real recompile, no ccache hit)`);
        const runDir = join(this.dir, `edit-${i}`);
        const label = i === 0 ? 'edit-to-verdict warm-up (untimed)' : `edit-to-verdict [${i}/${this.repeat}]`;
        const r = await inPhase(
          label,
          () => this.pinlabRun({ phase: 'bench:edit', profile, runDir, args: ['--filter', EDIT_FILTER], env: { PINLAB_PATCHES_DIR: series }, log: `edit-${i}.log`, timeoutMs: 60 * 60_000 }),
          (s) => `${(s.durationMs / 1000).toFixed(1)} s, exit ${s.exitCode}`,
        );
        const run = runJsonIfAny(runDir);
        this.result.host.accel ??= run?.host.accel;
        const key = run?.kernel.buildKey;
        if (key && key !== original.key) editedKeys.add(key);
        if (!reachedVerdicts(r.exitCode) || !run) throw new Error(`pinlab run with the edited series exited ${r.exitCode}; see ${join(this.dir, 'logs', `edit-${i}.log`)}`);
        verdicts = run.verdicts.map((v) => v.status).join(',');
        if (!key || key === original.key) throw new Error('the edited series did not produce a new kernel: the edit was not rebuilt');
        if (i > 0) samples.push(r.durationMs);

        // the original series must map to its cached kernel again, without a build
        const r0 = Date.now();
        const back = await inPhase(`original series ${profile}`, () => prepareKernel(kernelRequest({ profile }), this.ctx, { logDir: join(this.dir, 'logs'), jobs: this.makeJobs }), (k) =>
          k.artifact.cacheHit && k.artifact.key === original.key ? 'cache hit' : `NOT a cache hit (${k.artifact.key.slice(0, 12)})`,
        );
        if (!back.artifact.cacheHit || back.artifact.key !== original.key) throw new Error('after the edit, the original series did not hit the kernel cache');
        if (i > 0) restore.push(Date.now() - r0);
      }
      this.result.timings.push(
        timedFigure({ figure: 'edit', label: 'edit-to-verdict (1 workload)', profile, unit: 'ms', samples, goalMs: GOALS.editMs, note: `${notes.join('; ')}; whole \`pinlab run\` process, rebuild + boot + raw-virtio.psync.anon + verdict (last: ${verdicts})` }),
        timedFigure({ figure: 'edit-restore', label: 'original series again (cache)', profile, unit: 'ms', samples: restore, note: 'prepareKernel with the original series: a cache hit every time' }),
      );
    } finally {
      writeFileSync(join(this.dir, 'logs', 'edit-kernels.txt'), `${[...editedKeys].join('\n')}\n`);
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
  async freshFigure(): Promise<void> {
    const profile = this.profiles[0]!;
    const first: number[] = [];
    const whole: number[] = [];
    let note = '';
    for (let i = 1; i <= this.repeat; i++) {
      const base = join(cacheRoot(), `bench-fresh-${newRunId()}`);
      const remove = this.ctx.teardown.add(`bench: fresh caches ${base}`, () => rmSync(base, { recursive: true, force: true }));
      try {
        mkdirSync(base, { recursive: true });
        const runDir = join(this.dir, `fresh-${i}`);
        const lines: TimedLine[] = [];
        const t0 = Date.now();
        const r = await inPhase(
          `fresh machine to first verdict ${profile} [${i}/${this.repeat}]`,
          () =>
            this.pinlabRun({
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
          throw new Error(`the fresh pinlab run exited ${r.exitCode}${tl.firstVerdictMs === undefined ? ' without a verdict' : ''}; see ${join(this.dir, 'logs', `fresh-${i}.log`)}`);
        }
        first.push(tl.firstVerdictMs);
        whole.push(r.durationMs);
        const k = runMetaIfAny(runDir)?.kernelStepsMs;
        const s = (ms: number | undefined) => (ms === undefined ? '?' : `${(ms / 1000).toFixed(1)} s`);
        const phase = tl.phasesMs;
        note =
          `empty PINLAB_CACHE and CCACHE_DIR, \`pinlab run -p ${profile} --no-setup\` (npm ci and apt not included); last: source import ${s(k?.import)}, ` +
          `patched tree ${s(k?.tree)}, config ${s(k?.config)}, make ${s(k?.build)}, guest image ${s(phase['guest image'])}, boot ${s(phase.boot)}, first verdict at ${s(tl.firstVerdictMs)}, all workloads ${s(phase.workloads)}`;
        this.result.host.accel ??= runJsonIfAny(runDir)?.host.accel;
      } finally {
        await remove();
      }
    }
    this.result.timings.push(
      timedFigure({ figure: 'fresh', label: 'fresh caches to first verdict', profile, unit: 'ms', samples: first, goalMs: GOALS.freshMs, note }),
      timedFigure({ figure: 'fresh-run', label: 'fresh caches, whole run', profile, unit: 'ms', samples: whole, note: 'the same runs to their end (the default suite)' }),
    );
  }

  async suiteFigure(): Promise<void> {
    const profile = this.profiles[0]!;
    await this.kernel(profile);
    const samples: number[] = [];
    let note = '';
    for (let i = 1; i <= this.repeat; i++) {
      const rep = collectingReporter();
      const t0 = Date.now();
      const r = await inPhase(`suite ${profile} [${i}/${this.repeat}]`, () =>
        runOneKernel({ kernel: kernelRequest({ profile }), workloads: [...DEFAULT_SUITE], cmdline: [], strict: false, runDir: join(this.dir, `suite-${i}`), jobs: this.makeJobs }, this.ctx, rep),
      );
      const ms = Date.now() - t0;
      if (r.infraFailure) throw r.infraFailure;
      samples.push(ms);
      const v = [...rep.verdicts].map(([s, n]) => `${n} ${s}`).join(', ');
      note = `${DEFAULT_SUITE.length} workloads (last: ${v}; boot ${((rep.phases.get('boot') ?? 0) / 1000).toFixed(1)} s, workloads ${((rep.phases.get('workloads') ?? 0) / 1000).toFixed(1)} s)`;
    }
    this.result.timings.push(timedFigure({ figure: 'suite', label: 'default suite, cached kernel', profile, unit: 'ms', samples, goalMs: GOALS.suiteMs, note }));
  }

  private async fio(vm: Vm, job: IoJob): Promise<IoFigures> {
    const r = await vm.exec(fioArgv(job), { timeoutMs: job.runtimeMs + 120_000 });
    if (r.exitCode !== 0) throw new Error(`fio ${job.name} exited ${r.exitCode}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
    return parseFioJson(r.stdout);
  }

  private async addon(vm: Vm, jobs: IoJob[], prefill = false): Promise<Map<string, IoFigures>> {
    const timeoutMs = 120_000 + jobs.reduce((s, j) => s + j.runtimeMs + 30_000, 0);
    const input: GuestBenchInput = { jobs, ...(prefill ? { prefill: { device: DEFAULT_BENCH_DEVICE, sizeBytes: DEFAULT_BENCH_SIZE } } : {}) };
    const r = await vm.exec([...GUEST_BENCH_ARGV], { input: JSON.stringify(input), timeoutMs });
    const figures = new Map<string, IoFigures>();
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      const ev = parseBenchLine(line);
      if (!ev) continue;
      // (a 'clocksource' line is for standalone use: timedVm has recorded the clocksource)
      if (ev.type === 'result') figures.set(ev.name, ev.figures);
      else if (ev.type === 'error') throw new Error(`guest-bench ${ev.name}: ${ev.message}`);
    }
    for (const j of jobs) if (!figures.has(j.name)) throw new Error(`guest-bench gave no result for ${j.name} (exit ${r.exitCode}; ${r.stderr.trim().split('\n').pop() ?? ''})`);
    return figures;
  }

  async fioFigure(): Promise<void> {
    const profile = this.profiles[0]!;
    const acc = new Map(
      this.jobs.map((j) => [j.name, { fioIops: [] as number[], addonIops: [] as number[], fioCpuUsPerIo: [] as number[], addonCpuUsPerIo: [] as number[], failures: [] as string[] }]),
    );
    await this.withVm(
      profile,
      async (first, session) => {
        let vm = first;
        const prefill = () => inPhase('prefill the device', () => this.addon(vm, [], true));
        await prefill();
        for (let i = 1; i <= this.repeat; i++) {
          for (const job of this.jobs) {
            const a = acc.get(job.name)!;
            // alternate which side goes first, so slow drift of the host load hits both alike
            const order = i % 2 === 1 ? (['fio', 'addon'] as const) : (['addon', 'fio'] as const);
            try {
              const got = await inPhase(`fio vs addon ${job.name} [${i}/${this.repeat}]`, async () => {
                const r: Record<'fio' | 'addon', IoFigures | undefined> = { fio: undefined, addon: undefined };
                for (const side of order) r[side] = side === 'fio' ? await this.fio(vm, job) : (await this.addon(vm, [job])).get(job.name)!;
                return r as Record<'fio' | 'addon', IoFigures>;
              }, (r) => `fio ${r.fio.iops.toFixed(0)} addon ${r.addon.iops.toFixed(0)} IOPS`);
              a.fioIops.push(got.fio.iops);
              a.fioCpuUsPerIo.push(got.fio.cpuUsPerIo);
              a.addonIops.push(got.addon.iops);
              a.addonCpuUsPerIo.push(got.addon.cpuUsPerIo);
            } catch (e) {
              // A guest command that hangs costs this pair this repeat, not the figure: the
              // repeat is recorded as missing (NaN keeps the repeats paired) and a new guest
              // takes over. The stuck command's kernel stacks are in that boot's console log.
              if (!(e instanceof HarnessTimeoutError)) throw e;
              a.failures.push(`repeat ${i}: ${e.message} (${vm.consoleLog})`);
              for (const xs of [a.fioIops, a.fioCpuUsPerIo, a.addonIops, a.addonCpuUsPerIo]) xs.push(NaN);
              await session.fresh(this.vmDir());
              vm = await this.timedVm(session, profile);
              await prefill();
            }
          }
        }
      },
      'timed',
    );
    this.result.fio = { profile, device: DEFAULT_BENCH_DEVICE, goalRatio: FIO_GOAL_RATIO, pairs: this.jobs.map((j) => fioPair({ job: j.name, ...acc.get(j.name)! })) };
  }

  async pinnedFigure(): Promise<void> {
    const [a, b] = this.profiles;
    if (!a || !b || a === b) return this.skip('pinned', 'needs two different profiles (-p patched-6.1 -p stock-6.1)');
    const sides = new Map<string, Map<string, { iops: number[]; cpu: number[]; curves: number[][] }>>();
    for (const p of [a, b]) sides.set(p, new Map(this.jobs.map((j) => [j.name, { iops: [], cpu: [], curves: [] }])));
    for (let i = 1; i <= this.repeat; i++) {
      for (const profile of i % 2 === 1 ? [a, b] : [b, a]) {
        const figures = await inPhase(`addon jobs on ${profile} [${i}/${this.repeat}]`, () =>
          this.withVm(profile, (vm) => this.addon(vm, this.jobs, true), 'timed'),
        );
        for (const [name, f] of figures) {
          const s = sides.get(profile)!.get(name)!;
          s.iops.push(f.iops);
          s.cpu.push(f.cpuUsPerIo);
          s.curves.push(f.latencyUs);
        }
      }
    }
    const side = (p: string, job: string): KernelSide => {
      const s = sides.get(p)!.get(job)!;
      return { iops: s.iops, cpuUsPerIo: s.cpu, latencyUs: meanCurve(s.curves) };
    };
    this.result.pinned = { a, b, device: DEFAULT_BENCH_DEVICE, resolvePct: RESOLVE_PCT, rows: this.jobs.map((j) => pinnedRow(j.name, side(a, j.name), side(b, j.name), [a, b])) };
  }

  latencySvg(): string | undefined {
    const p = this.result.pinned;
    if (!p) return undefined;
    const panels = p.rows.map((row) => ({
      title: row.job,
      series: [
        { label: `${p.a} (pinned)`, color: '#1f77b4', percentiles: this.result.percentiles, latencyUs: row.a.latencyUs },
        { label: `${p.b}`, color: '#ff7f0e', dashed: true, percentiles: this.result.percentiles, latencyUs: row.b.latencyUs },
      ],
    }));
    return renderLatencyCdf(panels, { title: `Completion latency CDF, ${p.a} vs ${p.b} (${this.result.runtimeS} s x ${this.repeat} per job, ${p.device})` });
  }
}

export async function bench(ctx: RunContext, opts: BenchOpts, argv: string[] = process.argv.slice(2)): Promise<Outcome> {
  const figures = parseOnly(opts.only);
  const profiles = opts.profile?.length ? opts.profile : [DEFAULT_PROFILE, 'stock-6.1'];
  for (const p of profiles) kernelRequest({ profile: p }); // a known profile or a debian-image: spelling
  const repeat = opts.repeat ?? 5;
  const runtimeS = opts.runtime ?? 3;
  const dir = resolve(opts.out ?? join(runsRoot(), `bench-${newRunId()}`));
  mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o700 });
  const b = new Bench(ctx, dir, profiles, repeat, runtimeS, opts.jobs, `pinlab ${argv.join(' ')}`);
  if (b.result.host.loadavgStart[0]! > b.result.host.cpus) {
    process.stderr.write(`pinlab bench: load average ${b.result.host.loadavgStart[0]!.toFixed(1)} on ${b.result.host.cpus} cpus: these numbers measure the other load too\n`);
  }
  const run: Record<FigureName, () => Promise<void>> = {
    boot: () => b.bootFigure(),
    edit: () => b.editFigure(),
    suite: () => b.suiteFigure(),
    fio: () => b.fioFigure(),
    pinned: () => b.pinnedFigure(),
    fresh: () => b.freshFigure(),
  };
  for (const f of figures) await b.figure(f, run[f]);
  b.result.finishedAt = new Date().toISOString();
  b.result.host.loadavgEnd = loadavg();
  const table = formatBenchTable(b.result);
  await writeFileAtomic(join(dir, 'bench.json'), `${JSON.stringify(b.result, null, 2)}\n`);
  await writeFileAtomic(join(dir, 'bench.txt'), table);
  const svg = b.latencySvg();
  if (svg) await writeFileAtomic(join(dir, 'latency.svg'), svg);
  out(`\n${table}`);
  out(`bench directory: ${dir} (bench.json, bench.txt${svg ? ', latency.svg' : ''})`);
  return b.result.errors.length > 0 ? { kind: 'infra' } : { kind: 'ok' };
}
