// `pinlab bisect`: drive `git bisect` in a clone under the cache, running `pinlab check` (a child
// process through exec.ts, exactly what `git bisect run pinlab check ...` would run) on each
// commit git proposes, and name the first bad commit with the evidence of its check.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Outcome } from '../outcome.js';
import { runsRoot } from '../config.js';
import type { RunContext } from '../context.js';
import { HostError, UserError } from '../errors.js';
import { runStep, type Step } from '../exec.js';
import { withLock } from '../lock.js';
import { newRunId } from '../pipeline.js';
import { parseReasons, type CheckRecord } from './check.js';
import { bisectVerb, evidenceText, thresholdProblem, defaultThresholds } from './decision.js';
import {
  bisectClone,
  parseBisectOutput,
  parseBisectSource,
  planCheck,
  planCurrent,
  planMark,
  planResolve,
  planStart,
  progressLine,
  type BisectCommon,
  type BisectRequest,
  type BisectState,
} from './plan.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

export interface StepRecord {
  n: number;
  commit: string;
  subject: string;
  /** 'verify' steps test --good/--bad themselves before bisecting */
  role: 'bisect' | 'verify-bad' | 'verify-good';
  exitCode: number;
  verb: 'good' | 'bad' | 'skip' | 'abort';
  line: string;
  runDir: string;
  durationMs: number;
}

export interface BisectResult {
  schema: 'pinlab.bisect/1';
  repo: string;
  good: string;
  bad: string;
  steps: StepRecord[];
  outcome: BisectState;
  /** the check of the first bad commit, when it was tested */
  evidence?: CheckRecord;
}

/** How one commit is checked: the real one runs `pinlab check`; tests pass a fake. */
export type Checker = (commit: string, runDir: string, logFile: string) => Promise<{ exitCode: number; record?: CheckRecord }>;

export function processChecker(req: BisectRequest, ctx: RunContext): Checker {
  return async (commit, runDir, logFile) => {
    const step: Step = { ...planCheck(req, commit, runDir), logFile };
    const r = await runStep(step, {
      signal: ctx.signal,
      allowFailure: true,
      onLine: (l) => {
        if (l.trim() && !l.startsWith('check: ')) out(`  | ${l}`);
      },
    });
    const file = join(runDir, 'check.json');
    const record = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as CheckRecord) : undefined;
    return { exitCode: r.exitCode, record };
  };
}

async function git(step: Step, ctx: RunContext): Promise<{ exitCode: number; stdout: string }> {
  const r = await runStep(step, { signal: ctx.signal, allowFailure: true });
  return { exitCode: r.exitCode, stdout: `${r.stdout}${r.stderr}` };
}

async function resolveCommit(repo: string, ref: string, what: string, ctx: RunContext): Promise<string> {
  const r = await runStep(planResolve(repo, ref), { signal: ctx.signal, allowFailure: true });
  if (r.exitCode !== 0) throw new UserError(`${what} ${ref}: not a commit in ${repo}`);
  return r.stdout.trim();
}

async function subjectOf(clone: string, commit: string, ctx: RunContext): Promise<string> {
  const r = await runStep({ phase: 'bisect:git', argv: ['git', '-C', clone, 'log', '-1', '--format=%s', commit] }, { signal: ctx.signal, allowFailure: true });
  return r.stdout.trim();
}

export function validateBisect(req: BisectRequest): void {
  if (req.reason !== undefined) parseReasons(req.reason);
  if (!existsSync(join(req.repo, '.git')) && !existsSync(join(req.repo, 'HEAD'))) {
    throw new UserError(`--source git:${req.repo}: not a git repository`);
  }
  const t = { ...defaultThresholds(req.repeat), ...req.thresholds };
  const problem = thresholdProblem(t, req.repeat);
  if (problem) throw new UserError(problem);
}

export async function runBisect(req: BisectRequest, ctx: RunContext, opts: { dir: string; checker?: Checker; cache?: string }): Promise<BisectResult> {
  validateBisect(req);
  const checker = opts.checker ?? processChecker(req, ctx);
  const goodCommit = await resolveCommit(req.repo, req.good, '--good', ctx);
  const badCommit = await resolveCommit(req.repo, req.bad, '--bad', ctx);
  if (goodCommit === badCommit) throw new UserError(`--good and --bad are the same commit ${goodCommit.slice(0, 12)}`);
  const clone = bisectClone(req.repo, opts.cache);
  mkdirSync(dirname(clone), { recursive: true });
  mkdirSync(join(opts.dir, 'steps'), { recursive: true });
  const result: BisectResult = { schema: 'pinlab.bisect/1', repo: req.repo, good: goodCommit, bad: badCommit, steps: [], outcome: { kind: 'next' } };
  const save = () => writeFileSync(join(opts.dir, 'bisect.json'), `${JSON.stringify(result, null, 2)}\n`);

  const checkOne = async (commit: string, role: StepRecord['role']): Promise<'good' | 'bad' | 'skip'> => {
    const n = result.steps.length + 1;
    const subject = await subjectOf(req.repo, commit, ctx);
    out(`bisect: step ${n}${role === 'bisect' ? '' : ` (${role})`}: ${commit.slice(0, 12)} ${subject}`);
    const runDir = join(opts.dir, 'steps', `${String(n).padStart(2, '0')}-${commit.slice(0, 12)}`);
    const t0 = Date.now();
    const r = await checker(commit, runDir, join(opts.dir, 'logs', `step-${n}.log`));
    const verb = bisectVerb(r.exitCode);
    const line = r.record?.line ?? `check exited ${r.exitCode}`;
    const step: StepRecord = { n, commit, subject, role, exitCode: r.exitCode, verb, line, runDir, durationMs: Date.now() - t0 };
    result.steps.push(step);
    save();
    out(`  ${line}`);
    out(`  -> ${verb} (exit ${r.exitCode}, ${Math.round(step.durationMs / 1000)} s)`);
    if (verb === 'abort') {
      throw new HostError(`bisect aborted: pinlab check exited ${r.exitCode} on ${commit.slice(0, 12)}`, { hint: `see ${join(opts.dir, 'logs', `step-${n}.log`)}` });
    }
    return verb;
  };

  if (req.verifyEnds) {
    const bad = await checkOne(badCommit, 'verify-bad');
    if (bad !== 'bad') throw new UserError(`--bad ${req.bad} is not bad (${bad}): nothing to bisect`, { hint: result.steps.at(-1)?.line });
    const good = await checkOne(goodCommit, 'verify-good');
    if (good !== 'good') throw new UserError(`--good ${req.good} is not good (${good}): the range does not bracket a regression`, { hint: result.steps.at(-1)?.line });
  }

  return withLock(clone, ctx, async () => {
    // the clone's bisect state is ours alone; reset it however this run ends
    const reset = ctx.teardown.add('bisect: git bisect reset', async () => {
      await runStep({ phase: 'bisect:git', argv: ['git', '-C', clone, 'bisect', 'reset'] }, { allowFailure: true });
    });
    const start = planStart(req.repo, clone, badCommit, goodCommit, existsSync(clone));
    let state: BisectState = { kind: 'next' };
    let said = '';
    for (const s of start) {
      const r = await git(s, ctx);
      if (s.argv.includes('clone') && r.exitCode !== 0) throw new HostError(`git clone of ${req.repo} into the cache failed: ${r.stdout.trim().split('\n').pop()}`);
      if (s.argv.includes('start')) {
        said = r.stdout;
        state = parseBisectOutput(r.stdout, r.exitCode);
      }
    }
    while (state.kind === 'next') {
      const head = (await runStep(planCurrent(clone), { signal: ctx.signal })).stdout.trim();
      const progress = progressLine(said);
      if (progress) out(`bisect: ${progress}`);
      const r = await git(planMark(clone, await checkOne(head, 'bisect'), head), ctx);
      said = r.stdout;
      state = parseBisectOutput(r.stdout, r.exitCode);
    }
    const log = await git({ phase: 'bisect:git', argv: ['git', '-C', clone, 'bisect', 'log'] }, ctx);
    writeFileSync(join(opts.dir, 'bisect.log'), log.stdout);
    await reset();
    result.outcome = state;
    if (state.kind === 'found') {
      const tested = [...result.steps].reverse().find((s) => s.commit === state.commit && s.verb === 'bad');
      if (tested && existsSync(join(tested.runDir, 'check.json'))) {
        result.evidence = JSON.parse(readFileSync(join(tested.runDir, 'check.json'), 'utf8')) as CheckRecord;
      }
    }
    save();
    return result;
  });
}

export function formatBisectResult(r: BisectResult, req: BisectRequest): string[] {
  const lines: string[] = [];
  const o = r.outcome;
  if (o.kind === 'found') {
    const step = r.steps.find((s) => s.commit === o.commit);
    lines.push(`first bad commit: ${o.commit} ${step?.subject ?? ''}`.trimEnd());
    const ev = r.evidence;
    if (ev) {
      for (const e of ev.result.evidence.slice(0, 3)) lines.push(`  evidence: ${evidenceText(e)}: ${e.message}`);
      const c = ev.result.counts;
      lines.push(`  decision: ${c.fail} fail, ${c.pass} pass, ${c.error} error of ${c.total} (${ev.result.why})`);
      lines.push(`  run directory: ${ev.runDir}`);
    } else {
      lines.push('  evidence: none: this is the --bad commit itself and it was not tested (use --verify-ends to test it)');
    }
    const goods = r.steps.filter((s) => s.verb === 'good');
    lines.push(`  last good tested: ${goods.length ? goods.map((s) => s.commit.slice(0, 12)).join(' ') : `none (--good ${r.good.slice(0, 12)} given)`}`);
    lines.push(`  reproduce: pinlab run --source git:${req.repo}@${o.commit.slice(0, 12)}${req.filter ? ` -f ${req.filter}` : ''}`);
  } else if (o.kind === 'only-skipped') {
    lines.push(`bisect: could not decide: only skipped commits left (they did not build, boot or run); the first bad commit is one of:`);
    for (const c of o.candidates) lines.push(`  ${c}`);
  } else if (o.kind === 'error') {
    lines.push(`bisect: git bisect failed: ${o.message}`);
  }
  lines.push(`steps: ${r.steps.map((s) => `${s.commit.slice(0, 8)}=${s.verb}`).join(' ')}`);
  return lines;
}

export interface BisectOpts extends BisectCommon {
  source: string;
  repeat?: number;
  badThreshold?: number;
  minValid?: number;
  runDir?: string;
  dryRun?: boolean;
}

export function bisectRequest(o: BisectOpts): BisectRequest {
  const repo = parseBisectSource(o.source);
  if (typeof repo !== 'string') throw new UserError(repo.error);
  return {
    repo,
    good: o.good,
    bad: o.bad,
    filter: o.filter,
    repeat: o.repeat ?? 1,
    thresholds: { ...(o.badThreshold !== undefined ? { badAt: o.badThreshold } : {}), ...(o.minValid !== undefined ? { minValid: o.minValid } : {}) },
    strict: o.strict,
    reason: o.reason,
    patch: o.patch,
    configFragment: o.configFragment,
    cmdline: o.cmdline,
    jobs: o.jobs,
    ...(o.coverage ? { coverage: true } : {}),
    verifyEnds: o.verifyEnds,
  };
}

/** The command: 0 when a first bad commit was named, 3 when the bisection could not finish. */
export async function bisect(ctx: RunContext, req: BisectRequest, opts: { runDir?: string; dryRun?: boolean }): Promise<Outcome> {
  validateBisect(req);
  const dir = opts.runDir ?? join(runsRoot(), `bisect-${newRunId()}`);
  if (opts.dryRun) {
    const clone = bisectClone(req.repo);
    const steps = [
      planResolve(req.repo, req.good),
      planResolve(req.repo, req.bad),
      ...planStart(req.repo, clone, '<bad>', '<good>', existsSync(clone)),
      planCurrent(clone),
      planCheck(req, '<commit>', join(dir, 'steps', 'NN-<commit>')),
      planMark(clone, 'good', '<commit>'),
    ];
    for (const s of steps) out(`${s.phase.padEnd(14)} ${JSON.stringify(s.argv)}`);
    out('# check exit 0 -> git bisect good, 1 -> bad, 125 -> skip, 255 -> abort; repeated until git names the first bad commit');
    return { kind: 'ok' };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  out(`pinlab bisect ${req.repo}: good ${req.good}, bad ${req.bad}${req.filter ? `, workloads ${req.filter}` : ''}, ${req.repeat} repeat(s) per commit`);
  out(`bisect directory: ${dir}`);
  const r = await runBisect(req, ctx, { dir });
  for (const l of formatBisectResult(r, req)) out(l);
  out(`bisect log: ${join(dir, 'bisect.log')}`);
  return r.outcome.kind === 'found' ? { kind: 'ok' } : { kind: 'infra' };
}
