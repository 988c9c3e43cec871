// The main job for one kernel: build -> guest image -> boot -> workloads (in-guest runner) ->
// verdicts -> run directory + reports. Each phase is a function of its own module; this file
// only sequences them, keeps the run directory, and turns phase failures into ERROR verdicts.
import { copyFileSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { runsRoot } from './config.js';
import type { RunContext } from './context.js';
import { BootError, BuildError, InterruptedError, PinlabError, UserError } from './errors.js';
import { prepareKernel, type KernelRequest, type KernelStepsMs } from './kernel/index.js';
import type { KernelArtifact } from './kernel/build.js';
import { imageMetaOf } from './kernel/image.js';
import { partitionByConfig } from './kernel/requirements.js';
import { patchsetHash } from './hash.js';
import type { Vm } from './vm/runner.js';
import { qemuArgv, type VmSpec } from './vm/spec.js';
import { withVm } from './vm/session.js';
import { inPhase, type Phase } from './progress.js';
import { dealLanes, runPool } from './pool.js';
import type { VmBounds } from './vm/slots.js';
import type { BackgroundNoise, PinControl, PinEvidenceInfo, WorkloadObservation, WorkloadSpec } from './workloads/types.js';
import { runWorkloadsInGuest, stalledVerdict, type RunnerBounds } from './guest-runner/watch.js';
import { judgeRun } from './verdict/judge.js';
import { calibrationVerdicts, controlVerdict, evidenceHealth } from './verdict/calibration.js';
import { applyKnownStates } from './verdict/known-states.js';
import type { ErrorCause, KernelIdentity, RunCoverage, RunResult, Verdict } from './verdict/types.js';
import type { Reporter } from './report/events.js';
import { makeRunDir, RUN_LAYOUT, writeKernelMeta, writeObservation, writeQemuArgv, writeRunJson, writeRunMeta, type RunMeta } from './rundir.js';
import { CALIBRATION_COVERAGE, keepCoverageInputs, prepareFunctionCoverage, reportCoverage, writeFtraceTraceable, writeWorkloadGcda } from './coverage/run-coverage.js';
import { runCoverage } from './coverage/summary.js';

export interface RunRequest {
  kernel: KernelRequest;
  workloads: WorkloadSpec[];
  cmdline: string[];
  strict: boolean;
  runDir?: string;
  jobs?: number;
  /** boot this kernel instead of preparing one (repro of a cached or bundled bzImage) */
  prebuilt?: KernelArtifact;
  /** called once the guest is ready, before the workloads start (repro --shell) */
  beforeWorkloads?: (vm: Vm) => Promise<void>;
  /** how long the runner may take per step (default DEFAULT_RUNNER_BOUNDS) */
  runnerBounds?: RunnerBounds;
  /** the in-guest runner command (tests substitute one that hangs) */
  runnerArgv?: string[];
  /** guests of this kernel to split the suite over (--vms; default 1) */
  vms?: number;
  /** what each VM may use when several run at once (vm/slots.ts) */
  vmBounds?: VmBounds;
  /** kernel preparation passes through it: one build at a time when kernels run side by side */
  buildGate?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** A reporter whose phase names say which of several guests they are about. */
export function laneEvents(reporter: Reporter, suffix: string): Reporter {
  return {
    onEvent: (e) => reporter.onEvent('phase' in e && (e.type === 'phase-start' || e.type === 'phase-progress' || e.type === 'phase-end') ? { ...e, phase: `${e.phase}${suffix}` } : e),
    finish: () => reporter.finish(),
  };
}

export interface RunOutput {
  result: RunResult;
  runDir: string;
  /** the phase that failed before any workload could run */
  infraFailure?: PinlabError;
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** What run.json and every report say about the kernel a run tested. */
export function kernelIdentity(req: KernelRequest, artifact?: KernelArtifact, release?: string): KernelIdentity {
  const patches = artifact?.meta.patches ?? [];
  return {
    ...(req.profile ? { profile: req.profile } : {}),
    source: artifact?.meta.identity ?? `${req.source.kind}`,
    ...(release ?? artifact?.meta.release ? { release: release ?? artifact?.meta.release } : {}),
    patches: patches.map((p) => ({ file: p.name, sha256: p.sha256 })),
    ...(patches.length ? { patchsetHash: patchsetHash(patches.map((p) => p.sha256)) } : {}),
    ...(artifact ? { configSha256: artifact.meta.configSha256, buildKey: artifact.key } : {}),
  };
}

function errorVerdict(spec: WorkloadSpec, cause: ErrorCause, message: string): Verdict {
  return {
    name: spec.name,
    target: spec.target,
    engine: spec.engine,
    status: 'ERROR',
    reasons: [],
    cause,
    path: [],
    pinning: 'unknown',
    splats: [],
    message,
  };
}

function causeOf(e: unknown): ErrorCause {
  if (e instanceof BuildError) return 'build';
  if (e instanceof BootError) return 'boot';
  if (e instanceof PinlabError && e.name === 'HarnessTimeoutError') return 'timeout';
  return 'harness';
}

/**
 * The run's coverage report: gcov counts on a coverage build, function hits from the tracer on a
 * kernel without gcov (a prebuilt image); neither: the phase line says why.
 */
async function coverageOf(runDir: string, artifact: KernelArtifact | undefined, traced: boolean, reporter: Reporter, signal: AbortSignal): Promise<RunCoverage | undefined> {
  if (!artifact) return undefined;
  if (!artifact.coverage && !traced) {
    reporter.onEvent({ type: 'phase-end', phase: 'coverage', elapsedMs: 0, ok: false, detail: 'this kernel has no gcov on the pin-path objects, and no function coverage was traced' });
    return undefined;
  }
  // a report that cannot be made loses the coverage, never the run's verdicts
  try {
    const report = await inPhase('coverage', () => reportCoverage([runDir], runDir, signal), (r) => (r ? `${r.summary.sites.reached}/${r.summary.sites.total} pin sites reached` : 'no counters came back'), reporter);
    return report ? runCoverage(report.summary, report) : undefined;
  } catch (e) {
    if (signal.aborted) throw e;
    return undefined;
  }
}

export async function runOneKernel(req: RunRequest, ctx: RunContext, reporter: Reporter): Promise<RunOutput> {
  const runId = newRunId();
  // absolute: some steps run in another directory (the guest image's cpio runs in its tree)
  const runDir = resolve(req.runDir ?? join(runsRoot(), runId));
  const dirs = makeRunDir(runDir);
  const startedAt = new Date().toISOString();
  const t0 = Date.now();
  const verdicts = new Map<string, Verdict>();
  let artifact: KernelArtifact | undefined;
  let release: string | undefined;
  let background: BackgroundNoise | undefined;
  let evidence: PinEvidenceInfo | undefined;
  /** the first guest's pin-accounting control, when it did not add up (a FAIL verdict) */
  let controlFinding: Verdict | undefined;
  let infraFailure: PinlabError | undefined;
  let interrupted: unknown;
  let accelUsed = 'tcg';
  /** function coverage of a kernel without gcov: the functions the runner traces */
  let traceFunctions: string[] | undefined;
  // background is set when the run ends (the guest's idle window, or none)
  const meta: Omit<RunMeta, 'background'> = { runId, startedAt, request: { ...req.kernel, cmdline: req.cmdline, strict: req.strict, workloads: req.workloads.map((w) => w.name) } };

  const phase = <T>(name: string, fn: (p: Phase) => Promise<T>, detail?: (r: T) => string): Promise<T> => inPhase(name, fn, detail, reporter);

  reporter.onEvent({ type: 'run-start', runId, kernel: kernelIdentity(req.kernel), workloads: req.workloads.length, strict: req.strict });
  try {
    const k = await phase(
      `build ${req.kernel.profile ?? req.kernel.source.kind}`,
      (p) => (req.prebuilt ? Promise.resolve<{ artifact: KernelArtifact; stepsMs?: KernelStepsMs }>({ artifact: req.prebuilt }) : (req.buildGate ?? ((fn) => fn()))(() => prepareKernel(req.kernel, ctx, { logDir: dirs.logs, jobs: req.jobs, onProgress: (text) => p.update(text) }))),
      (r) => (r.artifact.cacheHit ? `cache hit ${r.artifact.key.slice(0, 12)}` : `built ${r.artifact.meta.release}`),
    );
    artifact = k.artifact;
    if (k.stepsMs) meta.kernelStepsMs = k.stepsMs;
    copyFileSync(artifact.config, join(dirs.kernel, 'config'));
    for (const p of req.kernel.patchFiles) copyFileSync(p, join(dirs.kernel, p.split('/').pop()!));
    writeKernelMeta(runDir, artifact.meta);
    if (req.kernel.coverage && artifact.coverage) keepCoverageInputs(artifact.coverage, runDir);
    // a kernel without gcov (a prebuilt image): function coverage from the function tracer, with
    // the functions of its series' source; without that source the run goes on uncovered
    if (req.kernel.coverage && !artifact.coverage) {
      const release = artifact.meta.release;
      const fc = await phase('coverage sources', () => prepareFunctionCoverage(release, runDir, ctx), (r) => `function coverage from the tracer: ${r.names.length} functions of linux-source-${r.series}`).catch((e: unknown) => {
        if (e instanceof PinlabError && !ctx.signal.aborted) return undefined;
        throw e;
      });
      traceFunctions = fc?.names;
    }

    // what this kernel's config cannot run is SKIP, naming the symbol (kernel/requirements.ts)
    // (a prebuilt image's drivers built as modules count only when its guest loads them)
    const image = imageMetaOf(artifact);
    const loadedModules = image ? [...(image.modules ?? []), ...(image.onDemandModules ?? [])] : undefined;
    const { runnable, skipped } = partitionByConfig(req.workloads, readFileSync(artifact.config, 'utf8'), loadedModules);
    let skippedShown = false;
    const beforeBoot = (spec: VmSpec) => {
      accelUsed = spec.accel;
      if (!skippedShown) {
        skippedShown = true;
        for (const v of skipped) {
          verdicts.set(v.name, v);
          reporter.onEvent({ type: 'verdict', verdict: v });
        }
      }
      if (!meta.vm) writeQemuArgv(runDir, qemuArgv(spec));
      meta.vm = { accel: spec.accel, argvFile: RUN_LAYOUT.qemuArgv, ...(lanes.length > 1 ? { vms: lanes.length } : {}) };
    };
    const setVerdict = (v: Verdict) => {
      verdicts.set(v.name, v);
      reporter.onEvent({ type: 'verdict', verdict: v });
    };
    const index = new Map(runnable.map((w, i) => [w.name, i + 1]));
    // the suite split over K guests of this kernel (--vms): each lane boots its own VM with the
    // disks of its own workloads; verdicts are judged one by one as in a single guest
    const lanes = runnable.length ? dealLanes(runnable, req.vms ?? 1) : [[]];
    const runLane = async (laneWorkloads: WorkloadSpec[], lane: number): Promise<void> => {
      const many = lanes.length > 1;
      const vmDir = lane === 0 ? dirs.vm : `${dirs.vm}.${lane + 1}`;
      const events: Reporter = many ? laneEvents(reporter, ` (vm ${lane + 1}/${lanes.length})`) : reporter;
      const laneLog = (guestNo: number) => join(dirs.logs, `runner${lane === 0 ? '' : `.vm${lane + 1}`}${guestNo === 1 ? '' : `-${guestNo}`}.log`);
      // each guest's own idle-window background and control judge its own workloads
      let laneBackground: BackgroundNoise | undefined;
      let laneControl: PinControl | undefined;
      await withVm({ kernel: artifact!.bzImage, vmDir, cmdline: req.cmdline, workloads: laneWorkloads, events, beforeBoot, ...(req.vmBounds ? { bounds: req.vmBounds } : {}) }, ctx, async (session) => {
        release = session.vm.kernelRelease;
        if (req.beforeWorkloads) await req.beforeWorkloads(session.vm);

        const onHello = (bg: BackgroundNoise, c: PinControl | undefined, ev?: PinEvidenceInfo, gcda?: Record<string, string>, functionsTraceable?: string[]) => {
          if (gcda && lane === 0) writeWorkloadGcda(runDir, CALIBRATION_COVERAGE, gcda);
          if (traceFunctions && functionsTraceable && lane === 0) writeFtraceTraceable(runDir, functionsTraceable);
          laneBackground = bg;
          laneControl = c;
          background ??= bg;
          // a calibration source that did not add up is a finding on its own path: a verdict
          // (the first guest's; a fresh guest after a stall calibrates again, judged the same way)
          if (!evidence) for (const v of calibrationVerdicts(ev)) reporter.onEvent({ type: 'verdict', verdict: v });
          evidence ??= ev;
          if (ev) meta.evidence ??= ev;
          if (lane === 0) {
            // the first guest's control that did not add up is a finding about the kernel
            if (meta.control === undefined) {
              controlFinding = controlVerdict(c);
              if (controlFinding) reporter.onEvent({ type: 'verdict', verdict: controlFinding });
            }
            meta.control = c ?? { skipped: 'the guest runner ran no control' };
          }
          if (c && !c.ok && !c.skipped) events.onEvent({ type: 'phase-end', phase: 'pin accounting control', elapsedMs: 0, ok: false, detail: c.message });
        };
        const handlers = {
          reporter: events,
          index,
          total: runnable.length,
          onHello,
          onObservation: (obs: WorkloadObservation) => {
            if (obs.gcda) {
              writeWorkloadGcda(runDir, obs.spec.name, obs.gcda);
              delete obs.gcda;
            }
            writeObservation(runDir, obs);
            const v = judgeRun(obs, { background: laneBackground ?? { windowMs: 1, acquired: 0, released: 0 }, ...(laneControl ? { control: laneControl } : {}) });
            const [known] = applyKnownStates([v], kernelIdentity(req.kernel, artifact, release), req.strict);
            setVerdict(known!);
          },
        };
        // A workload the watchdog gave up on is judged as it stands; the rest go on in a fresh guest
        // (its own vm-N directory, so each guest's console log is kept).
        let guestNo = 1;
        for (;;) {
          const todo = laneWorkloads.filter((w) => !verdicts.has(w.name));
          const logFile = laneLog(guestNo);
          const phaseName = guestNo === 1 ? 'workloads' : `workloads (guest ${guestNo})`;
          const guest = await inPhase(
            phaseName,
            () => runWorkloadsInGuest(session.vm, todo, handlers, logFile, { signal: ctx.signal, bounds: req.runnerBounds, runnerArgv: req.runnerArgv, ...(traceFunctions ? { traceFunctions } : {}) }),
            (g) => (g.stall ? `gave up on ${g.stall.name ?? 'the runner'}: ${g.stall.detail}` : ''),
            events,
          );
          const stall = guest.stall;
          // every wait that ended early is kept in meta.json, with its splats (also one that came
          // after the last workload, which no verdict holds)
          if (stall) meta.stalls = [...(meta.stalls ?? []), { guest: guestNo, ...(many ? { vm: lane + 1 } : {}), ...stall }];
          if (!stall) {
            for (const w of todo) {
              if (verdicts.has(w.name)) continue;
              setVerdict(errorVerdict(w, 'guest', `the guest runner produced no result (exit ${guest.exitCode}; ${guest.stderr.trim().split('\n').pop() ?? ''}); see ${logFile.slice(runDir.length + 1)}`));
            }
            break;
          }
          const stuck = todo.find((w) => w.name === stall.name);
          if (stuck) setVerdict(stalledVerdict(stuck, stall));
          // a splat the kernel printed while no workload ran (guest timestamps) is no workload's:
          // said once, and the rest go on in a fresh guest when this one got any result
          const progressed = todo.some((w) => verdicts.has(w.name));
          if (stall.between) events.onEvent({ type: 'phase-end', phase: `workloads (guest ${guestNo})`, elapsedMs: 0, ok: false, detail: stall.detail });
          await session.shutdown();
          const rest = laneWorkloads.filter((w) => !verdicts.has(w.name));
          if (!stuck && !(stall.between && progressed)) {
            // no workload to blame (the runner hung before its first one): a fresh guest would too
            for (const w of rest) setVerdict(errorVerdict(w, stall.why === 'timeout' ? 'timeout' : 'guest', `${stall.detail}; see ${logFile.slice(runDir.length + 1)}`));
            break;
          }
          if (rest.length === 0) break;
          guestNo++;
          await session.fresh(`${vmDir}-${guestNo}`, `boot (guest ${guestNo})`, (v) => `ready in ${(v.bootMs / 1000).toFixed(2)} s after ${stall.name ?? 'a splat between workloads'}: ${stall.why}`);
        }
      });
    };
    await runPool(lanes, lanes.length, runLane);
  } catch (e) {
    // bad input (a patch that does not apply, a missing fragment) is the user's to fix: exit 2
    if (e instanceof UserError) throw e;
    if (e instanceof InterruptedError || ctx.signal.aborted) {
      // what ran is still reported; the interruption is passed on once run.json is written
      interrupted = e;
      for (const w of req.workloads) if (!verdicts.has(w.name)) verdicts.set(w.name, errorVerdict(w, 'harness', 'interrupted before it finished'));
    } else {
      if (!(e instanceof PinlabError)) throw e;
      infraFailure = e;
      for (const w of req.workloads) {
        if (!verdicts.has(w.name)) verdicts.set(w.name, errorVerdict(w, causeOf(e), e.message.split('\n')[0]!));
      }
    }
  }

  const coverage = req.kernel.coverage && !interrupted ? await coverageOf(runDir, artifact, traceFunctions !== undefined, reporter, ctx.signal) : undefined;
  writeRunMeta(runDir, { ...meta, background: background ?? { windowMs: 1, acquired: 0, released: 0 } });
  const result: RunResult = {
    schema: 'pinlab.run/1',
    runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    kernel: kernelIdentity(req.kernel, artifact, release),
    host: { accel: accelUsed, node: process.version },
    verdicts: [...req.workloads.map((w) => verdicts.get(w.name)!), ...calibrationVerdicts(evidence), ...(controlFinding ? [controlFinding] : [])],
    strict: req.strict,
    ...(coverage ? { coverage } : {}),
  };
  result.evidence = evidenceHealth(evidence, result.verdicts);
  writeRunJson(runDir, result);
  if (interrupted) throw interrupted;
  reporter.onEvent({ type: 'run-end', result, elapsedMs: Date.now() - t0 });
  return { result, runDir, infraFailure };
}
