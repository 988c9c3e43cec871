// `pinlab repro`: run a saved run's cases again on the same kernel (the cached bzImage of its
// build key, or rebuilt from the recorded request), the same disks and fault rules (they follow
// from the workload specs) and the same kernel command line; or pack all that into a bundle, or
// replay a bundle on another machine. Each replay is a normal run directory, compared case by
// case with the recorded verdicts.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Outcome } from '../outcome.js';
import { outcomeOfRuns } from '../commands.js';
import { runsRoot } from '../config.js';
import type { RunContext } from '../context.js';
import { UserError } from '../errors.js';
import { lookupArtifact, type KernelArtifact } from '../kernel/build.js';
import { prepareKernel, type KernelRequest } from '../kernel/index.js';
import { newRunId, runOneKernel } from '../pipeline.js';
import { writeFileAtomic } from '../report/file.js';
import { TerminalReporter } from '../report/terminal.js';
import type { Verdict } from '../verdict/types.js';
import { ensureBaseImage, toolsShare } from '../vm/image.js';
import type { Vm } from '../vm/runner.js';
import { vmSpecFor } from '../vm/session.js';
import { qemuArgv } from '../vm/spec.js';
import type { WorkloadSpec } from '../workloads/types.js';
import { pinNumbers } from '../bisect/decision.js';
import { repeatWorkloads, splitRepeatName } from '../workloads/repeat.js';
import { openBundle, recipeSha256, writeBundle } from './bundle.js';
import { loadRecordedRun, pickCases, recordedVerdict, verdictWords, type RecordedRun } from './recorded.js';
import { GUEST_RUNNER_ARGV } from '../guest-runner/protocol.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

export interface ReproOpts {
  /** a run directory, or a .tar.zst bundle */
  target: string;
  case?: string[];
  times?: number;
  shell?: boolean;
  bundle?: boolean;
  output?: string;
  runDir?: string;
  jobs?: number;
}

/** The recorded kernel request, with patch paths that still exist (the run dir keeps copies). */
export function recordedKernelRequest(run: RecordedRun, forBuild: boolean): KernelRequest {
  const r = run.request;
  const patchFiles = r.patchFiles.map((p) => (existsSync(p) ? p : join(run.dir, 'kernel', basename(p))));
  for (const p of patchFiles) if (!existsSync(p)) throw new UserError(`patch ${basename(p)} of ${run.dir} is gone (neither at its path nor in kernel/)`);
  if (forBuild) for (const f of r.fragments) if (!existsSync(f)) throw new UserError(`config fragment ${f} of ${run.dir} is gone: cannot rebuild its kernel`);
  return { ...(r.profile ? { profile: r.profile } : {}), source: r.source, patchFiles, fragments: r.fragments, series: r.series };
}

/** The build key the run booted, if it got that far. */
export function recordedBuildKey(run: RecordedRun): string | undefined {
  return run.kernelMeta?.key ?? run.result.kernel.buildKey;
}

/** The cached kernel of the run's build key, or undefined when it has to be rebuilt. */
function cachedKernel(run: RecordedRun): KernelArtifact | undefined {
  const key = recordedBuildKey(run);
  return key ? lookupArtifact(key) : undefined;
}

export interface CaseComparison {
  name: string;
  round: number;
  recorded?: string;
  replayed: string;
  same: boolean;
  numbers: string;
}

/** Same verdict: same status and the same reasons (or error cause). */
export function compareVerdicts(replayed: readonly Verdict[], recorded: (name: string) => Verdict | undefined): CaseComparison[] {
  return replayed.map((v) => {
    const { workload, round } = splitRepeatName(v.name);
    const before = recorded(workload);
    const now = verdictWords({ ...v, reasons: [...v.reasons].sort() });
    const was = before ? verdictWords({ ...before, reasons: [...before.reasons].sort() }) : undefined;
    return { name: workload, round, ...(was ? { recorded: was } : {}), replayed: now, same: was === now, numbers: pinNumbers(v.numbers) };
  });
}

interface Replay {
  kernel: KernelRequest;
  prebuilt?: KernelArtifact;
  specs: WorkloadSpec[];
  times: number;
  cmdline: string[];
  strict: boolean;
  runDir?: string;
  jobs?: number;
  shell: boolean;
  recorded: (name: string) => Verdict | undefined;
  expectKey?: string;
  from: string;
}

/** Before the workloads: the cases' specs in the guest, and a shell until the user exits it. */
function shellHook(specs: WorkloadSpec[]): (vm: Vm) => Promise<void> {
  return async (vm) => {
    const dir = mkdtempSync(join(tmpdir(), 'pinlab-shell-'));
    try {
      writeFileSync(join(dir, 'cases.json'), JSON.stringify(specs));
      await vm.copyTo(join(dir, 'cases.json'), '/tmp/pinlab-cases.json');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    out('repro: guest ready, disks and fault rules set up; the case has not run yet.');
    out(`repro: run it by hand:  ${GUEST_RUNNER_ARGV.join(' ')} < /tmp/pinlab-cases.json`);
    out('repro: exit the shell to run it under pinlab and get the verdict.');
    await vm.shell();
  };
}

async function replay(r: Replay, ctx: RunContext): Promise<Outcome> {
  if (r.shell && !process.stdin.isTTY) throw new UserError('--shell needs a terminal on stdin');
  const runDir = r.runDir ?? join(runsRoot(), `repro-${newRunId()}`);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const terminal = new TerminalReporter({ stream: process.stdout });
  const workloads = repeatWorkloads(r.specs, r.times);
  const o = await runOneKernel(
    {
      kernel: r.kernel,
      workloads,
      cmdline: r.cmdline,
      strict: r.strict,
      runDir,
      jobs: r.jobs,
      ...(r.prebuilt ? { prebuilt: r.prebuilt } : {}),
      ...(r.shell ? { beforeWorkloads: shellHook(workloads) } : {}),
    },
    ctx,
    terminal,
  );
  await terminal.finish();
  if (o.infraFailure) process.stderr.write(`pinlab: ${o.infraFailure.message.split('\n')[0]}\n`);
  const key = o.result.kernel.buildKey;
  if (r.expectKey && key && key !== r.expectKey) {
    out(`repro: warning: this kernel's build key ${key} differs from the recorded ${r.expectKey} (source, patches, .config or compiler changed)`);
  }
  const cases = compareVerdicts(o.result.verdicts, r.recorded);
  for (const c of cases) {
    const rec = c.recorded ? `recorded ${c.recorded}: ${c.same ? 'same' : 'DIFFERENT'}` : 'not in the recorded run';
    out(`repro: ${c.name}${r.times > 1 ? ` #${c.round}` : ''}: ${c.replayed} ${c.numbers} (${rec})`);
  }
  const same = cases.filter((c) => c.same).length;
  out(`repro: ${same} of ${cases.length} replays gave the recorded verdict`);
  await writeFileAtomic(join(o.runDir, 'repro.json'), `${JSON.stringify({ schema: 'pinlab.repro/1', from: r.from, buildKey: key, cases }, null, 2)}\n`);
  out(`run directory: ${o.runDir}`);
  return outcomeOfRuns([o.result], Boolean(o.infraFailure));
}

async function bundleRun(run: RecordedRun, opts: ReproOpts, ctx: RunContext): Promise<Outcome> {
  if (!opts.output) throw new UserError('--bundle needs -o FILE.tar.zst');
  if (!/\.tar\.zst$/.test(opts.output)) throw new UserError(`-o ${opts.output}: a bundle is a .tar.zst file`);
  const specs = pickCases(run, opts.case);
  let artifact = cachedKernel(run);
  if (!artifact) {
    // not in this cache (anymore): rebuild it from the recorded request
    const logDir = mkdtempSync(join(tmpdir(), 'pinlab-repro-build-'));
    artifact = (await prepareKernel(recordedKernelRequest(run, true), ctx, { logDir, jobs: opts.jobs })).artifact;
    const want = recordedBuildKey(run);
    if (want && artifact.key !== want) throw new UserError(`rebuilt kernel has key ${artifact.key}, the run had ${want}: the inputs changed; cannot bundle the same kernel`);
  }
  const image = await ensureBaseImage(ctx);
  const argv = qemuArgv(
    vmSpecFor(artifact.bzImage, join(run.dir, 'vm'), image.cpio, {
      accel: run.result.host.accel === 'kvm' ? 'kvm' : 'tcg',
      cmdline: run.request.cmdline,
      workloads: specs,
      tools: toolsShare(image),
    }),
  );
  const output = resolve(opts.output);
  const manifest = await writeBundle(
    {
      run: { dir: run.dir, result: run.result },
      artifact,
      request: { ...(run.request.profile ? { profile: run.request.profile } : {}), source: run.request.source, series: run.request.series, cmdline: run.request.cmdline, strict: run.request.strict },
      specs,
      image: { recipeSha256: recipeSha256(), key: image.key },
      qemuArgv: argv,
    },
    output,
    ctx,
  );
  out(`bundle: ${output} (${(statSync(output).size / 1e6).toFixed(1)} MB, ${Object.keys(manifest.files).length} files)`);
  out(`  kernel ${manifest.release} key ${manifest.buildKey}; cases: ${manifest.cases.join(', ')}`);
  out(`  replay anywhere with pinlab: pinlab repro ${basename(output)}`);
  return { kind: 'ok' };
}

async function replayBundle(file: string, opts: ReproOpts, ctx: RunContext): Promise<Outcome> {
  const b = await openBundle(resolve(file), ctx);
  const m = b.manifest;
  out(`repro: bundle of run ${m.fromRun.runId}: kernel ${m.release} (${m.kernel.source}), key ${m.buildKey}`);
  if (m.image.recipeSha256 !== recipeSha256()) out('repro: warning: this pinlab has another guest image recipe than the one that made the bundle');
  const specs = opts.case?.length ? b.specs.filter((s) => opts.case!.includes(s.name)) : b.specs;
  if (specs.length === 0) throw new UserError(`--case ${opts.case!.join(',')}: the bundle has ${b.specs.map((s) => s.name).join(', ')}`);
  return replay(
    {
      kernel: { ...(m.request.profile ? { profile: m.request.profile } : {}), source: m.request.source, patchFiles: b.patchFiles, fragments: [], series: m.request.series },
      prebuilt: b.artifact,
      specs,
      times: opts.times ?? 1,
      cmdline: m.request.cmdline,
      strict: m.request.strict,
      runDir: opts.runDir,
      shell: Boolean(opts.shell),
      recorded: (name) => recordedVerdict({ result: b.recorded }, name),
      from: resolve(file),
    },
    ctx,
  );
}

export async function repro(ctx: RunContext, opts: ReproOpts): Promise<Outcome> {
  if (opts.times !== undefined && (!Number.isInteger(opts.times) || opts.times < 1)) throw new UserError(`--times ${opts.times}: expected a positive integer`);
  if (!existsSync(opts.target)) throw new UserError(`${opts.target}: no such run directory or bundle`);
  const isBundle = statSync(opts.target).isFile();
  if (isBundle) {
    if (opts.bundle) throw new UserError('--bundle makes a bundle from a run directory; this is already a bundle');
    return replayBundle(opts.target, opts, ctx);
  }
  const run = loadRecordedRun(resolve(opts.target));
  if (opts.bundle) return bundleRun(run, opts, ctx);
  const specs = pickCases(run, opts.case);
  const prebuilt = cachedKernel(run);
  out(`repro: ${specs.map((s) => s.name).join(', ')} from ${run.dir} on ${prebuilt ? `cached kernel ${prebuilt.key}` : 'the kernel rebuilt from the recorded request'}`);
  return replay(
    {
      kernel: recordedKernelRequest(run, !prebuilt),
      ...(prebuilt ? { prebuilt } : {}),
      specs,
      times: opts.times ?? 1,
      cmdline: run.request.cmdline,
      strict: run.request.strict,
      runDir: opts.runDir,
      jobs: opts.jobs,
      shell: Boolean(opts.shell),
      recorded: (name) => recordedVerdict(run, name),
      expectKey: recordedBuildKey(run),
      from: run.dir,
    },
    ctx,
  );
}
