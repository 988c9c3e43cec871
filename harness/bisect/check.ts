// `pinlab check`: one kernel, the chosen workloads R times in one boot, a good/bad/skip decision
// in the `git bisect run` exit protocol (decision.ts). It never fails with the CLI's usual codes:
// a usage error is 255 (git aborts the bisection) instead of 2 (which git would take for "bad"),
// and build/boot/guest trouble is 125 (skip this commit).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Outcome } from '../outcome.js';
import { parseSourceArg, runsRoot } from '../config.js';
import type { RunContext } from '../context.js';
import { InterruptedError, UserError } from '../errors.js';
import { kernelRequest, type KernelRequest } from '../kernel/index.js';
import { resolveSource } from '../kernel/source.js';
import { newRunId, runOneKernel } from '../pipeline.js';
import { writeFileAtomic } from '../report/file.js';
import { TerminalReporter } from '../report/terminal.js';
import type { FailReason, KernelIdentity } from '../verdict/types.js';
import { ALL_WORKLOADS, selectWorkloads } from '../workloads/catalogue.js';
import type { WorkloadSpec } from '../workloads/types.js';
import { repeatWorkloads } from '../workloads/repeat.js';
import {
  CHECK_EXIT,
  decide,
  defaultThresholds,
  exitCodeOfDecision,
  formatDecisionLine,
  groupRounds,
  thresholdProblem,
  type CheckDecision,
  type Judging,
  type Thresholds,
} from './decision.js';

/**
 * Options as commander hands them over. Values are optional on the command line (`[value]`) so
 * that commander never rejects an argument itself: every usage error comes through here and
 * becomes exit 255, not commander's 2.
 */
export interface CheckArgs {
  profile?: string | boolean;
  source?: string | boolean;
  /** an array when every --patch had a value; true when the last one had none */
  patch?: string[] | boolean;
  configFragment?: string[] | boolean;
  cmdline?: string | boolean;
  jobs?: string | boolean;
  filter?: string | boolean;
  repeat?: string | boolean;
  badThreshold?: string | boolean;
  minValid?: string | boolean;
  strict?: boolean;
  reason?: string | boolean;
  json?: string | boolean;
  runDir?: string | boolean;
  /** gcov on the pin-path objects: the step's run directory says what its workloads covered */
  coverage?: boolean;
}

export interface CheckRequest {
  kernel: KernelRequest;
  /** what the decision line calls the kernel: profile, or git:REPO@REF */
  label: string;
  workloads: WorkloadSpec[];
  repeat: number;
  thresholds: Thresholds;
  judging: Judging;
  cmdline: string[];
  jobs?: number;
  json?: string;
  runDir?: string;
}

function text(name: string, v: string | boolean | undefined): string | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true || v === '') throw new UserError(`${name} needs a value`);
  return v;
}

function positive(name: string, v: string | boolean | undefined): number | undefined {
  const s = text(name, v);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isInteger(n) || n < 1) throw new UserError(`${name} ${s}: expected a positive integer`);
  return n;
}

function list(name: string, v: string[] | boolean | undefined): string[] | undefined {
  if (v === undefined || v === false) return undefined;
  if (v === true || v.some((x) => x === '')) throw new UserError(`${name} needs a value`);
  return v;
}

// a Record, so that the compiler names any reason added to or removed from FailReason here
const FAIL_REASONS: Record<FailReason, true> = {
  'pin-leak': true,
  'not-pinned': true,
  'over-released': true,
  'unexpected-pins': true,
  'data-corruption': true,
  'fork-data-loss': true,
  'wrong-errno': true,
  'kernel-splat': true,
  'pages-held': true,
};

/** `--reason pin-leak,over-released` -> the fail reasons that count. */
export function parseReasons(text: string | undefined): FailReason[] | undefined {
  if (text === undefined) return undefined;
  const words = text.split(',').map((w) => w.trim()).filter(Boolean);
  const unknown = words.filter((w) => !Object.hasOwn(FAIL_REASONS, w));
  if (words.length === 0 || unknown.length > 0) {
    throw new UserError(`--reason ${text}: expected fail reasons from ${Object.keys(FAIL_REASONS).join(', ')}`);
  }
  return words as FailReason[];
}

/** Validate the arguments of `pinlab check`. Throws UserError (exit 255) on any usage problem. */
export function checkRequest(args: CheckArgs, unexpected: readonly string[] = []): CheckRequest {
  if (unexpected.length > 0) throw new UserError(`unexpected argument(s): ${unexpected.join(' ')}`);
  const repeat = positive('--repeat', args.repeat) ?? 1;
  const defaults = defaultThresholds(repeat);
  const thresholds: Thresholds = {
    badAt: positive('--bad-threshold', args.badThreshold) ?? defaults.badAt,
    minValid: positive('--min-valid', args.minValid) ?? defaults.minValid,
  };
  const problem = thresholdProblem(thresholds, repeat);
  if (problem) throw new UserError(problem);
  const sourceArg = text('--source', args.source);
  const source = sourceArg === undefined ? undefined : parseSourceArg(sourceArg);
  const profile = text('--profile', args.profile);
  const kernel = kernelRequest({ profile, source, patch: list('--patch', args.patch), configFragment: list('--config-fragment', args.configFragment), coverage: args.coverage === true });
  const filter = text('--filter', args.filter);
  // a filter that names only hardware-variant workloads selects them (their VM gets the variant's
  // disks); any default-suite match keeps the selection to the default suite, as before
  const fromDefault = selectWorkloads(filter);
  const workloads = fromDefault.length > 0 ? fromDefault : selectWorkloads(filter, undefined, ALL_WORKLOADS);
  if (workloads.length === 0) throw new UserError(`no workload matches --filter '${filter ?? ''}'`);
  const cmdline = text('--cmdline', args.cmdline);
  const reasons = parseReasons(text('--reason', args.reason));
  return {
    kernel,
    label: sourceArg ?? kernel.profile ?? 'kernel',
    workloads,
    repeat,
    thresholds,
    judging: { strict: Boolean(args.strict), ...(reasons ? { reasons } : {}) },
    cmdline: cmdline ? cmdline.trim().split(/\s+/) : [],
    jobs: positive('--jobs', args.jobs),
    json: text('--json', args.json),
    runDir: text('--run-dir', args.runDir),
  };
}

/** What `--json` holds: the decision, its evidence, and where the run is. */
export interface CheckRecord {
  schema: 'pinlab.check/1';
  kernel: KernelIdentity;
  label: string;
  workloads: string[];
  repeat: number;
  judging: Judging;
  runDir: string;
  exitCode: number;
  line: string;
  result: CheckDecision;
}

export async function runCheck(ctx: RunContext, req: CheckRequest): Promise<CheckRecord> {
  // a ref that is not a commit is the user's mistake (abort), not this commit's (skip)
  await resolveSource(req.kernel.source, ctx);
  const runDir = req.runDir ?? join(runsRoot(), `check-${newRunId()}`);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  const terminal = new TerminalReporter({ stream: process.stdout });
  const r = await runOneKernel(
    { kernel: req.kernel, workloads: repeatWorkloads(req.workloads, req.repeat), cmdline: req.cmdline, strict: req.judging.strict, runDir, jobs: req.jobs },
    ctx,
    terminal,
  );
  await terminal.finish();
  if (r.infraFailure) process.stdout.write(`check: ${r.infraFailure.message.split('\n')[0]}\n`);
  const result = decide(groupRounds(r.result.verdicts, req.judging), req.thresholds, req.judging);
  const line = formatDecisionLine(result, req.label);
  const record: CheckRecord = {
    schema: 'pinlab.check/1',
    kernel: r.result.kernel,
    label: req.label,
    workloads: req.workloads.map((w) => w.name),
    repeat: req.repeat,
    judging: req.judging,
    runDir: r.runDir,
    exitCode: exitCodeOfDecision(result.decision),
    line,
    result,
  };
  await writeFileAtomic(join(r.runDir, 'check.json'), `${JSON.stringify(record, null, 2)}\n`);
  if (req.json) await writeFileAtomic(req.json, `${JSON.stringify(record, null, 2)}\n`);
  return record;
}

/** The command: every way out is an exit code of the bisect protocol (or 130 on interrupt). */
export async function check(ctx: RunContext, args: CheckArgs, unexpected: readonly string[] = []): Promise<Outcome> {
  try {
    const record = await runCheck(ctx, checkRequest(args, unexpected));
    process.stdout.write(`${record.line}\n`);
    process.stdout.write(`run directory: ${record.runDir}\n`);
    return { kind: 'code', code: record.exitCode };
  } catch (e) {
    if (e instanceof InterruptedError || ctx.signal.aborted) throw e;
    // usage errors, and harness bugs: neither says anything about the commit, so abort
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`pinlab check: ${message}\n`);
    if (e instanceof UserError && e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
    if (ctx.verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    process.stderr.write(`pinlab check: exit ${CHECK_EXIT.abort} (abort: git bisect run stops here)\n`);
    return { kind: 'code', code: CHECK_EXIT.abort };
  }
}
