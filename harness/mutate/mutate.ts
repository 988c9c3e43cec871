// `pinlab mutate`: plant each small pin bug of the plan (plan.ts) in the tree, rebuild
// incrementally in the slot's worktree (the mutant is one more --patch after the series, so only
// the mutated file and the link run), boot, run the workloads that reach the mutated lines, and
// judge the mutant by their verdicts (outcome.ts). Every finished mutant is appended to a state
// file in the cache, so the same command run again goes on where it stopped.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { paths, runsRoot } from '../config.js';
import type { RunContext } from '../context.js';
import type { KernelOpts } from '../commands.js';
import { InterruptedError, UserError } from '../errors.js';
import { sha256 } from '../hash.js';
import type { Outcome } from '../outcome.js';
import { kernelRequest, type KernelRequest } from '../kernel/index.js';
import { runOneKernel } from '../pipeline.js';
import type { Reporter } from '../report/events.js';
import { writeFileAtomic } from '../report/file.js';
import { COVERAGE_SOURCES } from '../coverage/objects.js';
import { ALL_WORKLOADS, DEFAULT_SUITE, parseShard } from '../workloads/catalogue.js';
import type { WorkloadSpec } from '../workloads/types.js';
import type { RunResult, Verdict } from '../verdict/types.js';
import { equivalentReason } from './equivalent.js';
import { judgeMutant, type MutantResult } from './outcome.js';
import { planMutants, selectMutants, type Mutant } from './plan.js';
import { reachOf, readReach, type Reach, type ReachData } from './reach.js';
import { buildReport, formatMutationReport, mergeReports, mutationHtml, type MutationReport } from './report.js';
import { CALIBRATION_COVERAGE } from '../coverage/run-coverage.js';
import { appendState, isFinal, mutateStateDir, readState, treeKey } from './state.js';
import { mutationTree } from './tree.js';

/** The kernel options of every command, and mutate's own (its `json` is mutation.json's path). */
export interface MutateOpts extends Omit<KernelOpts, 'json'> {
  filter?: string;
  shard?: string;
  max?: number;
  /** `pinlab run --coverage` directories of this tree (or its shards): the reach of each mutant */
  coverage?: string[];
  /** where mutation.json and mutation.html go */
  out?: string;
  json?: string;
  html?: string;
  /** the state directory (default: in the cache, named by the tree) */
  state?: string;
  /** mutation.json files of shards to merge instead of running */
  merge?: string[];
  /** the command line as typed, for the report */
  command?: string;
}

const out = (s: string) => process.stdout.write(`${s}\n`);
const silent: Reporter = { onEvent: () => undefined, finish: async () => undefined };
const CALIBRATION_PREFIX = 'calibration.';

/** A mutant's result that needs no kernel: equivalent (reviewed or compiled out), unreachable, not reached. */
export function staticResult(m: Mutant, reach: Reach, reviewed = equivalentReason(m.id)): MutantResult | undefined {
  const base = { id: m.id, file: m.file, site: m.site, operator: m.operator, line: m.line, workloads: [], diff: m.diff };
  if (reviewed) return { ...base, outcome: 'equivalent', detail: reviewed };
  if (reach.status === 'compiled-out') return { ...base, outcome: 'equivalent', detail: reach.reason };
  if (reach.status === 'unreachable') return { ...base, outcome: 'unreachable', detail: reach.reason };
  if (reach.status === 'not-reached') return { ...base, outcome: 'not-reached', detail: 'no workload of the coverage run ran these lines' };
  return undefined;
}

/**
 * A survivor that workloads it did not run reach now (a newer coverage run, new workloads): judged
 * again, since what killed none may kill it now. Other final outcomes stand.
 */
export function reachedAnew(prev: MutantResult, reach: Reach): boolean {
  if (prev.outcome !== 'survived' || reach.status !== 'reached') return false;
  return reach.workloads.some((w) => w !== CALIBRATION_COVERAGE && !prev.workloads.includes(w));
}

/** The workloads that judge a mutant: those that reached it (all, without coverage), minus baseline problems. */
export function judgingWorkloads(reach: Reach, usable: readonly WorkloadSpec[]): WorkloadSpec[] {
  if (reach.status !== 'reached') return [...usable];
  return usable.filter((w) => reach.workloads.includes(w.name));
}

/**
 * A mutant reached only by workloads that cannot judge it here: ones this pinlab's catalogue
 * lacks (a coverage run of another version) or ones that did not pass unmutated. It is a gap of
 * this suite, not a survivor.
 */
export function lackingWorkloads(m: Mutant, reach: Reach, usable: readonly WorkloadSpec[]): MutantResult | undefined {
  if (reach.status !== 'reached') return undefined;
  if (reach.workloads.some((w) => w === CALIBRATION_COVERAGE || usable.some((u) => u.name === w))) return undefined;
  return {
    id: m.id,
    file: m.file,
    site: m.site,
    operator: m.operator,
    line: m.line,
    outcome: 'not-reached',
    detail: `reached only by workloads that cannot judge it here (not in this catalogue, or failing unmutated): ${reach.workloads.join(', ')}`,
    workloads: [],
    diff: m.diff,
  };
}

function patchFileOf(stateDir: string, m: Mutant): string {
  return join(stateDir, 'patches', `mutant-${sha256(m.id).slice(0, 12)}.patch`);
}

export async function mutate(ctx: RunContext, opts: MutateOpts): Promise<Outcome> {
  if (opts.merge?.length) return mergeCommand(opts);
  const t0 = Date.now();
  const startedAt = new Date().toISOString();
  const req = kernelRequest({ profile: opts.profile, source: opts.source, patch: opts.patch, configFragment: opts.configFragment });
  const tree = await mutationTree(req, COVERAGE_SOURCES, ctx);
  let shard;
  if (opts.shard !== undefined) {
    const s = parseShard(opts.shard);
    if (typeof s === 'string') throw new UserError(s);
    shard = s;
  }
  const all = planMutants(tree.sources);
  const selected = selectMutants(all, { filter: opts.filter, shard, max: opts.max });
  if (selected.length === 0) throw new UserError(`no mutant matches${opts.filter ? ` --filter '${opts.filter}'` : ''}${opts.shard ? ` in shard ${opts.shard}` : ''} (${all.length} in all)`);
  if (opts.dryRun) {
    for (const m of selected) out(`${m.id}  ${m.file}:${m.line}  ${m.before.trim().replace(/\s+/g, ' ')}  ->  ${m.after.trim().replace(/\s+/g, ' ')}`);
    out(`# ${selected.length} of ${all.length} mutants of ${tree.source.identity} (tree ${tree.tree.slice(0, 12)})`);
    return { kind: 'ok' };
  }

  const reachData: ReachData | undefined = opts.coverage?.length ? await readReach(opts.coverage.map((d) => resolve(d)), tree.sources, ctx.signal) : undefined;
  const stateDir = opts.state ? resolve(opts.state) : mutateStateDir(treeKey(tree.source.identity, tree.tree, req.fragments));
  mkdirSync(stateDir, { recursive: true });
  const done = readState(stateDir);
  const reaches = new Map(selected.map((m) => [m.id, reachOf(m, reachData)]));
  const results = new Map<string, MutantResult>();
  const toRun: Mutant[] = [];
  for (const m of selected) {
    const fixed = staticResult(m, reaches.get(m.id)!);
    if (fixed) results.set(m.id, fixed);
    else if (isFinal(done.get(m.id)) && !reachedAnew(done.get(m.id)!, reaches.get(m.id)!)) results.set(m.id, done.get(m.id)!);
    else toRun.push(m);
  }
  out(`pinlab mutate: ${selected.length} mutants of ${req.profile ?? tree.source.identity} (tree ${tree.tree.slice(0, 12)}): ${toRun.length} to run, ${results.size} decided (${[...results.values()].filter((r) => done.has(r.id)).length} in ${stateDir})`);

  let baselineProblems: string[] = [];
  const outDir = resolve(opts.out ?? (opts.coverage?.length ? join(opts.coverage[0]!, 'mutation') : join(runsRoot(), `mutate-${stateDir.split('/').pop()}`)));
  const report = (): MutationReport =>
    buildReport({
      kernel: { ...(req.profile ? { profile: req.profile } : {}), source: tree.source.identity, tree: tree.tree, patches: req.patchFiles.map((p) => p.split('/').pop()!) },
      command: opts.command ?? 'pinlab mutate',
      startedAt,
      finishedAt: new Date().toISOString(),
      elapsedMs: Date.now() - t0,
      ...(reachData ? { coverage: reachData.from } : {}),
      ...coverageHtmlOf(reachData, outDir),
      baselineProblems,
      mutants: [...results.values()],
      pending: selected.filter((m) => !results.has(m.id)).map((m) => m.id),
    });

  let interrupted: unknown;
  try {
    if (toRun.length) {
      // with coverage, whichever workloads reached a mutant (hardware variants' too); without, the default suite
      const candidates = reachData ? ALL_WORKLOADS : DEFAULT_SUITE;
      const wanted = new Set(toRun.flatMap((m) => judgingWorkloads(reaches.get(m.id)!, candidates).map((w) => w.name)));
      const baseline = await runBaseline(ctx, req, stateDir, candidates.filter((w) => wanted.has(w.name)), opts);
      baselineProblems = baseline.problems;
      const usable = candidates.filter((w) => wanted.has(w.name) && !baselineProblems.includes(w.name));
      for (const [i, m] of toRun.entries()) {
        const reach = reaches.get(m.id)!;
        const lacking = lackingWorkloads(m, reach, usable);
        const r = lacking ?? (await runMutant(ctx, req, m, reach, usable, stateDir, baseline.buildKey, opts));
        results.set(m.id, r);
        appendState(stateDir, r);
        out(`[${i + 1}/${toRun.length}] ${r.outcome.toUpperCase().padEnd(11)} ${m.id}  ${r.detail}  (${((r.elapsedMs ?? 0) / 1000).toFixed(1)} s, build ${((r.buildMs ?? 0) / 1000).toFixed(1)} s)`);
      }
    }
  } catch (e) {
    if (!(e instanceof InterruptedError) && !ctx.signal.aborted) throw e;
    interrupted = e;
  }
  const r = report();
  await writeReportFiles(r, outDir, opts);
  process.stdout.write(formatMutationReport(r));
  out(`mutation report: ${join(outDir, 'mutation.html')} (${join(outDir, 'mutation.json')})`);
  if (interrupted) throw interrupted;
  return r.score.survived + r.score.notReached > 0 ? { kind: 'failed' } : { kind: 'ok' };
}

function coverageHtmlOf(reach: ReachData | undefined, outDir: string): { coverageHtml?: string } {
  const html = reach?.from.map((d) => join(d, 'coverage', 'html', 'index.html')).find((f) => existsSync(f));
  return html ? { coverageHtml: relative(outDir, html) } : {};
}

async function writeReportFiles(r: MutationReport, outDir: string, opts: Pick<MutateOpts, 'json' | 'html'>): Promise<void> {
  const json = `${JSON.stringify(r, null, 2)}\n`;
  await writeFileAtomic(join(outDir, 'mutation.json'), json);
  await writeFileAtomic(join(outDir, 'mutation.html'), mutationHtml(r));
  if (opts.json) await writeFileAtomic(opts.json, json);
  if (opts.html) await writeFileAtomic(opts.html, mutationHtml(r));
}

interface Baseline {
  /** each workload judged on the unmutated tree: its status */
  judged: Record<string, string>;
  buildKey?: string;
}

/**
 * The unmutated tree with the workloads the mutants need that it has not run yet (the statuses
 * are kept in the state directory): it warms the worktree (each mutant then rebuilds one file)
 * and names the workloads that do not pass without any mutant, which would otherwise kill
 * mutants they never judged.
 */
async function runBaseline(ctx: RunContext, req: KernelRequest, stateDir: string, workloads: WorkloadSpec[], opts: MutateOpts): Promise<{ problems: string[]; buildKey?: string }> {
  const file = join(stateDir, 'baseline.json');
  const known: Baseline = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Baseline) : { judged: {} };
  const missing = workloads.filter((w) => known.judged[w.name] === undefined);
  if (missing.length) {
    out(`baseline: the unmutated tree with ${missing.length} workloads`);
    const r = await runOneKernel({ kernel: req, workloads: missing, cmdline: splitCmdline(opts.cmdline), strict: false, runDir: join(stateDir, 'baseline'), jobs: opts.jobs }, ctx, silent);
    if (r.infraFailure) throw r.infraFailure;
    const calibration = r.result.verdicts.filter((v) => v.name.startsWith(CALIBRATION_PREFIX) && v.status !== 'PASS');
    if (calibration.length) throw new UserError(`the unmutated tree fails its pin-evidence calibration (${calibration.map((v) => v.name).join(', ')}): mutants cannot be judged on it`);
    for (const v of r.result.verdicts) if (!v.name.startsWith(CALIBRATION_PREFIX)) known.judged[v.name] = v.status;
    if (r.result.kernel.buildKey) known.buildKey = r.result.kernel.buildKey;
    writeFileSync(file, `${JSON.stringify(known, null, 2)}\n`);
  }
  const problems = workloads.map((w) => w.name).filter((n) => known.judged[n] !== 'PASS' && known.judged[n] !== 'SKIP');
  out(`baseline: ${workloads.length - problems.length} of ${workloads.length} pass unmutated${problems.length ? `; left out: ${problems.join(', ')}` : ''}`);
  return { problems, ...(known.buildKey ? { buildKey: known.buildKey } : {}) };
}

const splitCmdline = (c?: string) => (c ? c.trim().split(/\s+/) : []);

async function runMutant(ctx: RunContext, req: KernelRequest, m: Mutant, reach: Reach, usable: readonly WorkloadSpec[], stateDir: string, baselineKey: string | undefined, opts: MutateOpts): Promise<MutantResult> {
  const t0 = Date.now();
  const patch = patchFileOf(stateDir, m);
  mkdirSync(join(stateDir, 'patches'), { recursive: true });
  writeFileSync(patch, m.diff);
  const workloads = judgingWorkloads(reach, usable);
  const kernel = kernelRequest({ profile: opts.profile, source: opts.source, patch: [...(opts.patch ?? []), patch], configFragment: opts.configFragment });
  const runDir = join(stateDir, 'runs', `mutant-${sha256(m.id).slice(0, 12)}`);
  rmSync(runDir, { recursive: true, force: true });
  const base = { id: m.id, file: m.file, site: m.site, operator: m.operator, line: m.line, diff: m.diff, runDir };
  // the first verdict that kills the mutant ends its run: the rest could only kill it again
  const stop = new AbortController();
  const onParent = () => stop.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', onParent, { once: true });
  const untilKilled: Reporter = {
    onEvent: (e) => {
      if (e.type === 'verdict' && !stop.signal.aborted && judgeMutant([e.verdict]).outcome === 'killed') stop.abort(new InterruptedError(`killed by ${e.verdict.name}`));
    },
    finish: async () => undefined,
  };
  let verdicts: Verdict[];
  try {
    const r = await runOneKernel({ kernel, workloads, cmdline: splitCmdline(opts.cmdline), strict: false, runDir, jobs: opts.jobs }, { ...ctx, signal: stop.signal }, untilKilled);
    verdicts = r.result.verdicts;
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    if (e instanceof UserError) return { ...base, outcome: 'unbuildable', detail: e.message.split('\n')[0]!, workloads: [], elapsedMs: Date.now() - t0, finishedAt: new Date().toISOString() };
    if (!stop.signal.aborted) throw e;
    // stopped at its first kill: run.json holds the verdicts so far
    verdicts = (JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RunResult).verdicts;
  } finally {
    ctx.signal.removeEventListener('abort', onParent);
  }
  const key = (JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RunResult).kernel.buildKey;
  // a mutant's kernel is of no use once judged: keep the cache to real kernels
  if (key && key !== baselineKey && /^[0-9a-f]{32}$/.test(key)) rmSync(join(paths.kernels(), key), { recursive: true, force: true });
  const meta = JSON.parse(readFileSync(join(runDir, 'meta.json'), 'utf8')) as { kernelStepsMs?: { build?: number } };
  const judged = judgeMutant(verdicts);
  return {
    ...base,
    outcome: judged.outcome,
    detail: judged.detail,
    ...(judged.killedBy ? { killedBy: judged.killedBy } : {}),
    // what actually judged it (a run stopped at its first kill did not get to the rest)
    workloads: verdicts.filter((v) => v.status !== 'ERROR' || v.cause !== 'harness').map((v) => v.name),
    elapsedMs: Date.now() - t0,
    ...(meta.kernelStepsMs?.build !== undefined ? { buildMs: meta.kernelStepsMs.build } : {}),
    finishedAt: new Date().toISOString(),
  };
}

/** `--merge A.json B.json ...`: the shards' reports as one. */
async function mergeCommand(opts: MutateOpts): Promise<Outcome> {
  const reports = opts.merge!.map((f) => {
    if (!existsSync(f)) throw new UserError(`${f}: no such file`);
    const doc = JSON.parse(readFileSync(f, 'utf8')) as MutationReport;
    if (doc.schema !== 'pinlab.mutation/1') throw new UserError(`${f}: not a pinlab mutation report (schema ${String(doc.schema)})`);
    return doc;
  });
  let merged: MutationReport;
  try {
    merged = mergeReports(reports);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const outDir = resolve(opts.out ?? join(runsRoot(), 'mutate-merged'));
  await writeReportFiles(merged, outDir, opts);
  process.stdout.write(formatMutationReport(merged));
  out(`mutation report: ${join(outDir, 'mutation.html')} (${join(outDir, 'mutation.json')})`);
  return merged.score.survived + merged.score.notReached > 0 ? { kind: 'failed' } : { kind: 'ok' };
}
