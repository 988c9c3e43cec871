// Subcommand implementations. Each returns an Outcome; cli.ts turns outcomes and errors into
// exit codes. Terminal output here is the user-facing summary; detailed logs go to run dirs.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RunContext } from './context.js';
import { DEFAULT_PROFILE, paths, profileNames, runsRoot, type SourceSpec } from './config.js';
import { HostError, UserError } from './errors.js';
import { runStep } from './exec.js';
import { checkPackages, installCommand, isRoot, neededPackages, planInstall } from './host.js';
import { kernelRequest, prepareKernel } from './kernel/index.js';
import { formatPlan, planKernel, type PlannedStep } from './plan.js';
import { laneEvents, newRunId, runOneKernel } from './pipeline.js';
import { runPool, serialGate } from './pool.js';
import { describeVms, hostCapacity, planVms, vmBounds } from './vm/slots.js';
import type { Reporter, RunEvent } from './report/events.js';
import { DEFAULT_SUITE, HW_SUITE, hwWorkloads, parseShard, selectWorkloads, suiteWithHw, type Shard } from './workloads/catalogue.js';
import { HW_VARIANTS } from './workloads/targets.js';
import type { WorkloadSpec } from './workloads/types.js';
import type { RunResult } from './verdict/types.js';
import { judgeRun } from './verdict/judge.js';
import { applyKnownStates } from './verdict/known-states.js';
import { outcomeOf as outcomeOfVerdict } from './report/common.js';
import { TerminalReporter, formatSummary } from './report/terminal.js';
import { writeFileAtomic } from './report/file.js';
import { parseRunJson } from './report/json.js';
import { reportStream, runsJson, writeReports, type ReportOptions } from './report/outputs.js';
import { diffRuns, formatDiff, regressions } from './report/diff.js';
import { kernelKey, mergeRuns } from './report/merge.js';
import { recomputeRun } from './report/parse.js';
import { readRunFiles } from './report/run-files.js';
import { cachedProbes, describeAccel } from './vm/accel.js';
import { vmSpecFor, withVm } from './vm/session.js';
import { diskDevices, disksFrom, qemuArgv } from './vm/spec.js';
import { inPhase, phaseLines } from './progress.js';
import { describeError, type Outcome } from './outcome.js';
import { GUEST_RUNNER_ARGV } from './guest-runner/protocol.js';
import { RUN_LAYOUT } from './rundir.js';
import { reportCoverage } from './coverage/run-coverage.js';
import { formatCoverageTable, runCoverage } from './coverage/summary.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

export interface KernelOpts {
  profile?: string;
  source?: SourceSpec;
  patch?: string[];
  configFragment?: string[];
  cmdline?: string;
  jobs?: number;
  dryRun?: boolean;
  /** build: where to write the artifact's paths and identity as JSON (scripts/test.js reads it) */
  json?: string;
}

/** What `pinlab build --json` writes: the kernel to hand to tests and tools, without parsing its lines. */
export interface BuildJson {
  cacheHit: boolean;
  /** the bzImage; the VM boots vmlinux.pvh beside it when there is one (vm/session.ts) */
  bzImage: string;
  key: string;
  release: string;
}

function profilesFor(opts: { profile?: string | string[]; source?: SourceSpec }): string[] {
  if (opts.source) return [];
  const p = opts.profile;
  return Array.isArray(p) ? p : [p ?? DEFAULT_PROFILE];
}

export async function doctor(ctx: RunContext, opts: { profiles?: string[] }): Promise<Outcome> {
  // packages of other profiles are listed as optional; only the checked profiles decide the exit
  const profiles = opts.profiles ?? [DEFAULT_PROFILE];
  const required = new Set(neededPackages(profiles).map((p) => p.pkg));
  const status = await checkPackages(neededPackages(profileNames()), ctx);
  for (const s of status) {
    const mark = s.installed ? 'OK     ' : required.has(s.pkg) ? 'MISSING' : 'absent ';
    out(`${mark} ${s.pkg.padEnd(18)} ${s.why}${required.has(s.pkg) ? '' : ' (optional)'}`);
  }
  out(`${Number(process.versions.node.split('.')[0]) >= 20 ? 'OK     ' : 'MISSING'} node ${process.version.padEnd(13)} host and guest Node.js (N-API 9)`);
  const [probe] = cachedProbes();
  out(probe ? `OK      ${describeAccel(probe)}` : 'OK      acceleration: not probed yet (the first boot probes KVM once and falls back to TCG)');
  out(`OK      ${describeVms(hostCapacity())}`);
  const missing = status.filter((s) => !s.installed && required.has(s.pkg)).map((s) => s.pkg);
  if (missing.length > 0) {
    out(`\nto install what is missing (as root):\n  ${installCommand(missing)}\n(or: npx pinlab setup)`);
    return { kind: 'infra' };
  }
  return { kind: 'ok' };
}

/** Install what the given profiles need. Root: apt-get; otherwise print the command (HostError). */
export async function ensurePrerequisites(ctx: RunContext, profiles: string[], dryRun = false): Promise<string[]> {
  const status = await checkPackages(neededPackages(profiles), ctx);
  const missing = status.filter((s) => !s.installed).map((s) => s.pkg);
  if (missing.length === 0) return [];
  const steps = planInstall(missing);
  if (dryRun) {
    for (const s of steps) out(`${s.phase.padEnd(14)} ${JSON.stringify(s.argv)}`);
    return missing;
  }
  if (!isRoot()) {
    throw new HostError(`missing packages: ${missing.join(' ')}`, { hint: `as root run: ${installCommand(missing)}` });
  }
  await inPhase(`setup: apt-get install ${missing.length} package(s)`, async () => {
    for (const s of steps) await runStep({ ...s, logFile: paths.setupLog() }, { signal: ctx.signal });
  });
  return missing;
}

export async function setup(ctx: RunContext, opts: { profiles?: string[]; dryRun: boolean }): Promise<Outcome> {
  const missing = await ensurePrerequisites(ctx, opts.profiles ?? profileNames(), opts.dryRun);
  out(missing.length === 0 ? 'setup: everything is installed' : opts.dryRun ? '' : `setup: installed ${missing.join(' ')}`);
  return { kind: 'ok' };
}

export async function build(ctx: RunContext, opts: KernelOpts): Promise<Outcome> {
  const req = kernelRequest({ profile: opts.profile, source: opts.source, patch: opts.patch, configFragment: opts.configFragment });
  if (opts.dryRun) {
    out(formatPlan(await planKernel(req, ctx)));
    return { kind: 'ok' };
  }
  const logDir = join(runsRoot(), `build-${newRunId()}`, 'logs');
  mkdirSync(logDir, { recursive: true });
  const k = await inPhase(
    `build ${req.profile ?? 'kernel'}`,
    (p) => prepareKernel(req, ctx, { logDir, onProgress: (text) => p.update(text), jobs: opts.jobs }),
    (r) => (r.artifact.cacheHit ? `cache hit ${r.artifact.key}` : `built ${r.artifact.meta.release}`),
  );
  out(`${k.artifact.cacheHit ? 'cache hit' : 'built'}: ${k.artifact.bzImage}`);
  out(`source: ${k.artifact.meta.identity}${k.artifact.meta.commit ? ` (tree ${k.artifact.meta.commit.slice(0, 12)})` : ''}`);
  out(`patches: ${k.artifact.meta.patches.map((p) => p.name).join(', ') || 'none'}`);
  out(`key: ${k.artifact.key}  release: ${k.artifact.meta.release}`);
  if (!k.artifact.cacheHit) out(`logs: ${logDir}`);
  if (opts.json) {
    const built: BuildJson = { cacheHit: k.artifact.cacheHit, bzImage: k.artifact.bzImage, key: k.artifact.key, release: k.artifact.meta.release };
    writeFileSync(opts.json, `${JSON.stringify(built, null, 2)}\n`);
  }
  return { kind: 'ok' };
}

export interface RunOpts extends Omit<KernelOpts, 'profile'>, ReportOptions {
  profile?: string[];
  filter?: string;
  /** hardware variants whose workloads join the suite ('all': every one) */
  hw?: string[];
  shard?: string;
  strict?: boolean;
  runDir?: string;
  setup?: boolean;
  /** gcov on the pin-path objects (a build of its own), coverage per workload and for the run */
  coverage?: boolean;
  /** VMs at once (default: vm/slots.ts, from the host's cores and memory) */
  vms?: number;
}

function selected(opts: { filter?: string; shard?: string; hw?: string[] }): WorkloadSpec[] {
  let shard: Shard | undefined;
  if (opts.shard !== undefined) {
    const s = parseShard(opts.shard);
    if (typeof s === 'string') throw new UserError(s);
    shard = s;
  }
  let suite: readonly WorkloadSpec[] = DEFAULT_SUITE;
  try {
    if (opts.hw?.length) suite = suiteWithHw(opts.hw);
  } catch (e) {
    throw new UserError(`--hw: ${(e as Error).message}`);
  }
  const picked = selectWorkloads(opts.filter, shard, suite);
  if (picked.length === 0) {
    const hint = !opts.hw?.length && opts.filter && selectWorkloads(opts.filter, undefined, HW_SUITE).length > 0 ? ' (it matches hardware-variant workloads: add --hw NAME or --hw all)' : '';
    throw new UserError(`no workload matches --filter '${opts.filter ?? ''}'${opts.shard ? ` in shard ${opts.shard}` : ''}${hint}`);
  }
  return picked;
}

const splitCmdline = (c?: string) => (c ? c.trim().split(/\s+/) : []);

/** FAIL/ERROR decide the exit code; XFAIL fails only under --strict; all-SKIP means nothing ran. */
export function outcomeOfRuns(results: RunResult[], infra: boolean): Outcome {
  const all = results.flatMap((r) => r.verdicts.map((v) => outcomeOfVerdict(v, r.strict)));
  if (all.includes('fail')) return { kind: 'failed' };
  if (infra) return { kind: 'infra' };
  if (all.includes('error')) return { kind: 'failed' };
  if (all.length === 0 || all.every((o) => o === 'skip')) return { kind: 'nothing-ran' };
  return { kind: 'ok' };
}

export async function run(ctx: RunContext, opts: RunOpts): Promise<Outcome> {
  const profiles = opts.source ? [undefined] : (opts.profile?.length ? opts.profile : [DEFAULT_PROFILE]);
  if (opts.runDir && profiles.length > 1) throw new UserError('--run-dir names one run: use it with a single --profile');
  const workloads = selected(opts);
  const requests = profiles.map((profile) =>
    kernelRequest({ profile, source: opts.source, patch: opts.patch, configFragment: opts.configFragment, coverage: opts.coverage }),
  );
  if (opts.dryRun) {
    await ensurePrerequisites(ctx, profilesFor({ profile: profiles.filter((p): p is string => !!p), source: opts.source }), true);
    for (const req of requests) {
      out(`# kernel ${req.profile ?? opts.source?.kind}`);
      out(formatPlan(await planKernel(req, ctx)));
      out(formatPlan(planGuest(workloads, splitCmdline(opts.cmdline))));
    }
    out(`# ${workloads.length} workloads: ${workloads.map((w) => w.name).join(' ')}`);
    return { kind: 'ok' };
  }
  if (opts.setup !== false && isRoot()) await ensurePrerequisites(ctx, profilesFor({ profile: profiles.filter((p): p is string => !!p), source: opts.source }));

  const stream = reportStream(opts);
  const terminal = new TerminalReporter({ stream });
  const results: RunResult[] = [];
  const runDirs: string[] = [];
  let infra = false;
  // K VMs at once (--vms): kernels of a matrix side by side, one guest each; a single kernel's
  // suite split over K guests. Builds pass one at a time; what each reports comes out in order.
  const plan = planVms(requests.length, vmBounds(opts.vms, hostCapacity(), requests.length));
  const buildGate = serialGate();
  const held: RunEvent[][] = requests.map(() => []);
  const outputs = await runPool(requests, plan.kernelsAtOnce, (kernel, i) => {
    const side = plan.kernelsAtOnce > 1 ? laneEvents(terminal, ` (${kernel.profile ?? kernel.source.kind})`) : terminal;
    const reporter: Reporter = plan.kernelsAtOnce > 1 ? { onEvent: (e) => (e.type === 'run-end' ? held[i]!.push(e) : side.onEvent(e)), finish: async () => {} } : terminal;
    return runOneKernel(
      { kernel, workloads, cmdline: splitCmdline(opts.cmdline), strict: Boolean(opts.strict), runDir: opts.runDir, jobs: opts.jobs, vms: plan.guestsPerKernel, ...(plan.bounds ? { vmBounds: plan.bounds } : {}), buildGate },
      ctx,
      reporter,
    );
  });
  for (const [i, r] of outputs.entries()) {
    for (const e of held[i]!) terminal.onEvent(e);
    results.push(r.result);
    runDirs.push(r.runDir);
    if (r.infraFailure) {
      infra = true;
      process.stderr.write(`${describeError(r.infraFailure, false)}\n`);
    }
    stream.write(`run directory: ${r.runDir}\n`);
  }
  await terminal.finish();
  for (const [i, r] of results.entries()) if (r.coverage) stream.write(`coverage of ${runDirs[i]}:\n${formatCoverageTable(r.coverage)}`);
  await writeReports(results, opts, () => results.map((r, i) => readRunFiles(runDirs[i]!, r)), warn);
  return outcomeOfRuns(results, infra);
}

const warn = (line: string) => process.stderr.write(`pinlab: ${line}\n`);

/** The guest-side commands of a run, for --dry-run. */
export function planGuest(workloads: WorkloadSpec[], cmdline: string[]): PlannedStep[] {
  const vmDir = join(runsRoot(), '<run-id>', 'vm');
  const spec = vmSpecFor('<bzImage>', vmDir, '<guest-image.cpio>', { accel: 'tcg', cmdline, workloads, tscKhz: '<host-TSC-kHz>' });
  return [
    { phase: 'vm:boot', argv: qemuArgv(spec) },
    { phase: 'guest:run', argv: ['ssh(virtio-serial)', ...GUEST_RUNNER_ARGV], note: `${workloads.length} workload specs on stdin` },
  ];
}

export async function boot(ctx: RunContext, opts: KernelOpts & { cmd: string[] }): Promise<Outcome> {
  const req = kernelRequest({ profile: opts.profile, source: opts.source, patch: opts.patch, configFragment: opts.configFragment });
  if (opts.dryRun) {
    out(formatPlan(await planKernel(req, ctx)));
    out(formatPlan(planGuest([], splitCmdline(opts.cmdline)).slice(0, 1)));
    return { kind: 'ok' };
  }
  const runDir = join(runsRoot(), `boot-${newRunId()}`);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const k = await inPhase(`build ${req.profile ?? 'kernel'}`, (p) => prepareKernel(req, ctx, { logDir: join(runDir, 'logs'), onProgress: (text) => p.update(text), jobs: opts.jobs }), (r) => (r.artifact.cacheHit ? 'cache hit' : 'built'));
  return withVm<Outcome>({ kernel: k.artifact.bzImage, vmDir: join(runDir, 'vm'), cmdline: splitCmdline(opts.cmdline), workloads: [], events: phaseLines() }, ctx, async ({ vm }) => {
    if (opts.cmd.length === 0) {
      const code = await vm.shell();
      return code === 0 ? { kind: 'ok' } : { kind: 'code', code };
    }
    const r = await vm.exec(opts.cmd, { onStdout: (c) => process.stdout.write(c), onStderr: (c) => process.stderr.write(c), timeoutMs: 3600_000 });
    return r.exitCode === 0 ? { kind: 'ok' } : { kind: 'code', code: r.exitCode ?? 128 };
  });
}

/** A run directory, or a run.json file (whose folder is then taken as its run directory). */
function runDirOf(path: string): string {
  return existsSync(join(path, RUN_LAYOUT.run)) ? path : dirname(path);
}

function loadRun(path: string): RunResult {
  const file = existsSync(join(path, RUN_LAYOUT.run)) ? join(path, RUN_LAYOUT.run) : path;
  if (!existsSync(file) || statSync(file).isDirectory()) throw new UserError(`${path}: no run.json there (not a pinlab run directory)`);
  return parseRunJson(readFileSync(file, 'utf8'), file);
}

export async function parse(ctx: RunContext, opts: { runDir: string; strict?: boolean; coverage?: boolean } & ReportOptions): Promise<Outcome> {
  const r = await recomputeRun(opts.runDir, { judge: judgeRun, applyKnownStates }, { strict: opts.strict });
  const stream = reportStream(opts);
  stream.write(`${formatSummary(r.recomputed)}\n`);
  stream.write(`${formatDiff(diffRuns(r.original, r.recomputed))}\n`);
  if (opts.coverage) {
    const c = await reportCoverage([opts.runDir], opts.runDir, ctx.signal);
    if (!c) throw new UserError(`${opts.runDir} has no coverage counters: it was not a pinlab run --coverage (gcov counts, or function hits on a kernel without gcov)`);
    r.recomputed.coverage = runCoverage(c.summary, c);
    stream.write(formatCoverageTable(r.recomputed.coverage));
  }
  await writeReports([r.recomputed], opts, () => [readRunFiles(opts.runDir, r.recomputed)], warn);
  return outcomeOfRuns([r.recomputed], false);
}

/** `pinlab hw`: each variant with its QEMU devices (as the VM gets them) and its workloads. */
export function hw(opts: { json: boolean }): Outcome {
  const rows = HW_VARIANTS.map((v) => ({
    name: v.name,
    exercises: v.exercises,
    devices: diskDevices(disksFrom('/RUN', v.disks)).filter((a) => a !== '-device'),
    targets: v.targets.map((t) => ({ name: t.name, kind: t.kind, disk: t.disk, requires: t.requires.map((r) => r.symbol) })),
    workloads: hwWorkloads(v).map((w) => w.name),
  }));
  if (opts.json) {
    out(JSON.stringify(rows, null, 2));
    return { kind: 'ok' };
  }
  for (const r of rows) {
    out(`${r.name}: ${r.exercises}`);
    if (r.devices.length) out(`  devices:   ${r.devices.join('  ')}`);
    out(`  targets:   ${r.targets.map((t) => `${t.name} (${t.kind} on ${t.disk}; ${t.requires.join(', ')})`).join('; ')}`);
    for (const w of r.workloads) out(`  workload:  ${w}`);
  }
  out(`run them: pinlab run --hw NAME (repeatable) or --hw all; their names start with the variant's`);
  return { kind: 'ok' };
}

export async function diff(_ctx: RunContext, opts: { a: string; b: string }): Promise<Outcome> {
  const d = diffRuns(loadRun(opts.a), loadRun(opts.b));
  out(formatDiff(d));
  return regressions(d).length > 0 ? { kind: 'failed' } : { kind: 'ok' };
}

export async function merge(ctx: RunContext, opts: { inputs: string[]; output?: string; coverage?: string } & ReportOptions): Promise<Outcome> {
  const shards = opts.inputs.map((path) => ({ path, result: loadRun(path) }));
  const merged = mergeRuns(shards.map((s) => s.result));
  if (opts.coverage) {
    // each kernel's shards add up to one report (in DIR, or DIR/<n> for the n-th kernel of a matrix)
    for (const [i, m] of merged.entries()) {
      const dirs = shards.filter((s) => kernelKey(s.result.kernel) === kernelKey(m.kernel)).map((s) => runDirOf(s.path));
      const outDir = merged.length === 1 ? opts.coverage : join(opts.coverage, String(i + 1));
      mkdirSync(outDir, { recursive: true });
      const c = await reportCoverage(dirs, outDir, ctx.signal);
      if (!c) throw new UserError(`no shard of ${m.kernel.profile ?? m.kernel.source} has coverage counters (pinlab run --coverage)`);
      m.coverage = runCoverage(c.summary, c);
    }
  }
  if (opts.output) await writeFileAtomic(opts.output, runsJson(merged));
  await writeReports(merged, opts, () => shards.map((s) => readRunFiles(runDirOf(s.path), s.result)), warn);
  const stream = reportStream(opts);
  for (const r of merged) stream.write(`${formatSummary(r)}\n${r.coverage && opts.coverage ? formatCoverageTable(r.coverage) : ''}`);
  return outcomeOfRuns(merged, false);
}
