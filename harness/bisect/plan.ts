// Pure planning for `pinlab bisect`: the git commands (argv arrays) that drive `git bisect` in a
// clone under the cache, the `pinlab check` argv of each step, and the parsing of git's answers.
// The user's repository is only read (rev-parse); bisect state never touches its worktree.
import { join, resolve } from 'node:path';
import { cacheRoot, repoRoot } from '../config.js';
import type { Step } from '../exec.js';
import { sha256 } from '../hash.js';
import type { Thresholds } from './decision.js';

/** What the command line and the plan say alike of a bisection: the ends and how each step is checked. */
export interface BisectCommon {
  good: string;
  bad: string;
  filter?: string;
  strict?: boolean;
  /** only FAILs with these reasons make a commit bad (check --reason) */
  reason?: string;
  patch?: string[];
  configFragment?: string[];
  cmdline?: string;
  jobs?: number;
  /** each step's run directory reports what its workloads covered (check --coverage) */
  coverage?: boolean;
  /** test --bad and --good themselves before bisecting */
  verifyEnds?: boolean;
}

/** What to bisect and how each commit is checked. */
export interface BisectRequest extends BisectCommon {
  /** the user's repository (absolute) */
  repo: string;
  repeat: number;
  thresholds?: Partial<Thresholds>;
}

/** `--source git:REPO` (a ref after @ is not wanted here: --good/--bad name the commits). */
export function parseBisectSource(arg: string): string | { error: string } {
  const body = arg.startsWith('git:') ? arg.slice(4) : arg;
  if (body === '') return { error: `--source ${arg}: expected git:REPO` };
  if (/@[^/]*$/.test(body) && body.lastIndexOf('@') > 0) {
    return { error: `--source ${arg}: name the repository only (git:REPO); --good and --bad name the commits` };
  }
  return resolve(body);
}

/** The cache-side clone where `git bisect` keeps its state: one per repository path. */
export function bisectClone(repo: string, cache = cacheRoot()): string {
  return join(cache, 'bisect', `git-${sha256(repo).slice(0, 12)}`, 'repo');
}

const git = (dir: string, args: string[], extra: Partial<Step> = {}): Step => ({ phase: 'bisect:git', argv: ['git', '-C', dir, ...args], ...extra });

/** `git rev-parse` of a ref in the user's repository (read only). */
export function planResolve(repo: string, ref: string): Step {
  return git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
}

/**
 * Make the clone (once; --shared: it borrows the repository's objects, so commits made there
 * later are visible without a fetch) and start a fresh bisection without a checkout: git only
 * moves BISECT_HEAD, and each step builds that commit in pinlab's own kernel worktree.
 */
export function planStart(repo: string, clone: string, badCommit: string, goodCommit: string, cloneExists: boolean): Step[] {
  return [
    ...(cloneExists ? [] : [{ phase: 'bisect:clone', argv: ['git', 'clone', '-q', '--shared', '--no-checkout', repo, clone], timeoutMs: 30 * 60_000 }]),
    git(clone, ['bisect', 'reset']),
    git(clone, ['bisect', 'start', '--no-checkout', badCommit, goodCommit]),
  ];
}

export function planMark(clone: string, verb: 'good' | 'bad' | 'skip', commit: string): Step {
  return git(clone, ['bisect', verb, commit]);
}

export function planCurrent(clone: string): Step {
  return git(clone, ['rev-parse', 'BISECT_HEAD']);
}

/** The arguments every step's `pinlab check` gets besides --source and --run-dir. */
export function checkArgs(req: BisectRequest): string[] {
  const a: string[] = [];
  if (req.filter) a.push('-f', req.filter);
  a.push('--repeat', String(req.repeat));
  if (req.thresholds?.badAt !== undefined) a.push('--bad-threshold', String(req.thresholds.badAt));
  if (req.thresholds?.minValid !== undefined) a.push('--min-valid', String(req.thresholds.minValid));
  if (req.strict) a.push('--strict');
  if (req.reason) a.push('--reason', req.reason);
  for (const p of req.patch ?? []) a.push('--patch', resolve(p));
  for (const f of req.configFragment ?? []) a.push('--config-fragment', resolve(f));
  if (req.cmdline) a.push('--cmdline', req.cmdline);
  if (req.jobs !== undefined) a.push('-j', String(req.jobs));
  if (req.coverage) a.push('--coverage');
  return a;
}

/**
 * One bisection step: `pinlab check` on the user's repository at that commit. The kernel is
 * named by the user's repository (not the bisect clone), so the kernel built for the first bad
 * commit is the one `pinlab run --source git:REPO@<commit>` finds in the cache afterwards.
 */
export function planCheck(req: BisectRequest, commit: string, runDir: string, node = process.execPath): Step {
  return {
    phase: 'bisect:check',
    argv: [node, join(repoRoot, 'bin', 'pinlab.js'), 'check', '--source', `git:${req.repo}@${commit}`, ...checkArgs(req), '--run-dir', runDir],
    // a cold kernel build on 2 cores plus R repeats under TCG
    timeoutMs: 3 * 3600_000,
  };
}

export type BisectState =
  | { kind: 'next' }
  | { kind: 'found'; commit: string }
  | { kind: 'only-skipped'; candidates: string[] }
  | { kind: 'error'; message: string };

/** What git said after `bisect start` or a mark. */
export function parseBisectOutput(stdout: string, exitCode: number): BisectState {
  const found = /^([0-9a-f]{40}) is the first bad commit$/m.exec(stdout);
  if (found) return { kind: 'found', commit: found[1]! };
  if (/only 'skip'ped commits left to test/.test(stdout)) {
    const tail = stdout.split(/could be any of:\n/)[1] ?? '';
    return { kind: 'only-skipped', candidates: [...tail.matchAll(/^([0-9a-f]{40})$/gm)].map((m) => m[1]!) };
  }
  if (exitCode !== 0) return { kind: 'error', message: stdout.trim().split('\n').pop() ?? `git bisect exited ${exitCode}` };
  return { kind: 'next' };
}

/** git's own progress line: "Bisecting: 3 revisions left to test after this (roughly 2 steps)" */
export function progressLine(stdout: string): string | undefined {
  return /^Bisecting: .*$/m.exec(stdout)?.[0];
}
