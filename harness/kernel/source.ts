// Kernel sources: a git repository per source base in the cache (Debian tarball imported once, or
// a shared clone of the user's repo), and one persistent worktree per "slot". A request becomes
// a commit (base + patches, built in a temporary index, never in a worktree) and the slot's
// worktree is moved to it with `git checkout`, which rewrites only files whose contents differ:
// unchanged files keep their timestamps, so make rebuilds only what the patches touch.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { paths, type SourceSpec } from '../config.js';
import { HostError, UserError } from '../errors.js';
import { runStep, type Step } from '../exec.js';
import type { RunContext } from '../context.js';
import { isNoSpace, noSpaceError } from '../cache-entry.js';
import { sha256 } from '../hash.js';

export interface PatchFile {
  file: string; // absolute path
  name: string; // basename
  sha256: string;
  bytes: Buffer;
}

export interface ResolvedSource {
  spec: SourceSpec;
  /** exact identity: Debian package version, or git commit */
  identity: string;
  /** cache directory of this source base */
  baseDir: string;
  /** git repository in the cache (absent for plain --source DIR) */
  repo?: string;
  /** the commit the patches apply to (import commit or the resolved ref) */
  baseCommit?: string;
}

export interface PreparedTree {
  source: ResolvedSource;
  /** the kernel tree make runs in */
  tree: string;
  /** build output directory */
  objDir: string;
  /** the commit checked out (base + patches), if git-managed */
  commit?: string;
  patches: PatchFile[];
  /** ms this call spent importing the source (its first use in this cache), 0 otherwise */
  importMs?: number;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'pinlab',
  GIT_AUTHOR_EMAIL: 'pinlab@localhost',
  GIT_COMMITTER_NAME: 'pinlab',
  GIT_COMMITTER_EMAIL: 'pinlab@localhost',
  // fixed dates: the same base + patches always give the same commit id
  GIT_AUTHOR_DATE: '2020-08-31T00:00:00Z',
  GIT_COMMITTER_DATE: '2020-08-31T00:00:00Z',
};

const OBJ_SUBDIR = '.pinlab-o';

export function readPatches(files: string[]): PatchFile[] {
  return files.map((file) => {
    if (!existsSync(file)) throw new UserError(`patch not found: ${file}`);
    const bytes = readFileSync(file);
    return { file, name: basename(file), sha256: sha256(bytes), bytes };
  });
}

/** The series in patches/: NNNN-*.patch in order, cover letter (no diff) excluded. */
export function seriesPatchFiles(dir = paths.patchesDir()): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^\d{4}-.*\.patch$/.test(f))
    .sort()
    .map((f) => join(dir, f))
    .filter((f) => readFileSync(f, 'utf8').includes('\ndiff --git '));
}

function git(repo: string, args: string[], extra: Partial<Step> = {}): Step {
  return { phase: 'kernel:source', argv: ['git', '-C', repo, ...args], env: GIT_ENV, ...extra };
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export function requireSpace(dir: string, needGiB: number): void {
  mkdirSync(dir, { recursive: true });
  const st = statfsSync(dir);
  const freeGiB = (st.bavail * st.bsize) / 2 ** 30;
  if (freeGiB < needGiB) {
    throw new HostError(`no space left: ${dir} has ${freeGiB.toFixed(1)} GiB free, pinlab needs about ${needGiB} GiB there`, {
      hint: 'free some space or point PINLAB_CACHE at a larger file system',
    });
  }
}

/** Installed version of a Debian package, read from dpkg's status file. */
export function debianVersion(pkg: string, statusFile = '/var/lib/dpkg/status'): string | undefined {
  if (!existsSync(statusFile)) return undefined;
  for (const stanza of readFileSync(statusFile, 'utf8').split('\n\n')) {
    if (!new RegExp(`^Package: ${pkg.replace(/[.+]/g, '\\$&')}$`, 'm').test(stanza)) continue;
    if (!/^Status: install ok installed$/m.test(stanza)) continue;
    return /^Version: (.+)$/m.exec(stanza)?.[1];
  }
  return undefined;
}

/** Resolve the identity of a source without changing anything (used by --dry-run too). */
export async function resolveSource(spec: SourceSpec, ctx: RunContext): Promise<ResolvedSource> {
  // a prebuilt image has no tree: kernel/image.ts fetches and unpacks it (its identity then
  // carries the resolved package version)
  if (spec.kind === 'image') {
    const i = spec.image;
    return { spec, identity: i.kind === 'debian' ? `debian-image:${i.pkg}${i.version ? `=${i.version}` : ''}` : `image:${i.kernel}`, baseDir: paths.kernels() };
  }
  if (spec.kind === 'debian') {
    if (!existsSync(spec.tarball)) {
      throw new HostError(`${spec.tarball} is missing (Debian package ${spec.pkg})`, {
        hint: `run 'pinlab setup' as root, or: apt-get install -y ${spec.pkg}`,
      });
    }
    const version = debianVersion(spec.pkg) ?? `unpackaged-${sha256(readFileSync(spec.tarball)).slice(0, 16)}`;
    const baseDir = join(paths.sources(), slug(`debian-${spec.pkg}_${version}`));
    return { spec, identity: `debian:${spec.pkg}=${version}`, baseDir, repo: join(baseDir, 'repo') };
  }
  if (spec.kind === 'git') {
    if (!existsSync(spec.repo)) throw new UserError(`--source git:${spec.repo}@${spec.ref}: no such repository`);
    const r = await runStep(git(spec.repo, ['rev-parse', '--verify', '--quiet', `${spec.ref}^{commit}`]), {
      signal: ctx.signal,
      allowFailure: true,
    });
    if (r.exitCode !== 0) {
      throw new UserError(`--source git:${spec.repo}@${spec.ref}: '${spec.ref}' is not a commit in that repository`);
    }
    const commit = r.stdout.trim();
    const baseDir = join(paths.sources(), `git-${sha256(spec.repo).slice(0, 12)}`);
    return { spec, identity: `git:${spec.repo}@${commit}`, baseDir, repo: join(baseDir, 'repo'), baseCommit: commit };
  }
  if (!existsSync(join(spec.path, 'Makefile')) || !existsSync(join(spec.path, 'scripts', 'kconfig'))) {
    throw new UserError(`--source ${spec.path}: not a kernel source tree (no Makefile / scripts/kconfig)`);
  }
  const r = await runStep(git(spec.path, ['rev-parse', 'HEAD']), { signal: ctx.signal, allowFailure: true });
  const head = r.exitCode === 0 ? r.stdout.trim() : 'no-git';
  let dirty = '';
  if (r.exitCode === 0) {
    const st = await runStep(git(spec.path, ['status', '--porcelain', '--untracked-files=no']), { signal: ctx.signal });
    if (st.stdout.trim()) dirty = `+dirty-${sha256(st.stdout).slice(0, 8)}`;
  }
  return {
    spec,
    identity: `dir:${spec.path}@${head}${dirty}`,
    baseDir: join(paths.sources(), `dir-${sha256(spec.path).slice(0, 12)}`),
  };
}

/** Steps that create the cached repository of a source base (empty when it exists). */
export function planImport(src: ResolvedSource): Step[] {
  if (!src.repo || existsSync(join(src.repo, '.git'))) return [];
  const tmp = `${src.repo}.tmp`;
  if (src.spec.kind === 'debian') {
    return [
      { phase: 'kernel:import', argv: ['rm', '-rf', tmp] },
      { phase: 'kernel:import', argv: ['mkdir', '-p', tmp] },
      { phase: 'kernel:import', argv: ['tar', '-xf', src.spec.tarball, '-C', tmp, '--strip-components=1'], timeoutMs: 15 * 60_000 },
      // Debian's top-level .gitignore ignores '/*': force-add everything of the pristine tree
      git(tmp, ['init', '-q', '-b', 'import']),
      git(tmp, ['config', 'core.excludesFile', '/dev/null']),
      // an automatic gc after the 80k-file commit repacks for minutes, racing the first build
      git(tmp, ['config', 'gc.auto', '0']),
      git(tmp, ['add', '-f', '-A'], { timeoutMs: 15 * 60_000 }),
      git(tmp, ['commit', '-q', '-m', `${src.identity} (pristine import)`], { timeoutMs: 15 * 60_000 }),
      git(tmp, ['tag', 'pristine']),
      { phase: 'kernel:import', argv: ['mv', tmp, src.repo] },
    ];
  }
  if (src.spec.kind === 'git') {
    return [
      { phase: 'kernel:import', argv: ['rm', '-rf', tmp] },
      { phase: 'kernel:import', argv: ['git', 'clone', '-q', '--shared', '--no-checkout', src.spec.repo, tmp], timeoutMs: 30 * 60_000 },
      { phase: 'kernel:import', argv: ['mv', tmp, src.repo] },
    ];
  }
  return [];
}

/** Which worktree a request uses: one per source base and patch "shape", reused across runs. */
export function slotName(patches: PatchFile[], profileSeries: boolean): string {
  return patches.length === 0 ? 'stock' : profileSeries ? 'series' : 'custom';
}

/** A step as a person reads it: the command and its first words, paths as their last part
 * ("tar -xf linux-source-6.1.tar.xz", "git add -f -A"). */
function stageName(step: Step): string {
  const words = step.argv[0] === 'git' && step.argv[1] === '-C' ? ['git', ...step.argv.slice(3)] : step.argv;
  return words.slice(0, 4).map((w) => (w.includes('/') ? basename(w) : w)).join(' ');
}

/** Import the source into the cache on its first use; returns the ms spent importing. */
async function ensureImported(src: ResolvedSource, ctx: RunContext): Promise<number> {
  const steps = planImport(src);
  if (steps.length === 0) {
    if (src.spec.kind === 'git' && src.repo && src.baseCommit) {
      // the user's repo may have moved on since the clone: fetch when the commit is unknown here
      const has = await runStep(git(src.repo, ['cat-file', '-e', `${src.baseCommit}^{commit}`]), { signal: ctx.signal, allowFailure: true });
      if (has.exitCode !== 0) await runStep(git(src.repo, ['fetch', '-q', 'origin', src.baseCommit]), { signal: ctx.signal });
    }
    return 0;
  }
  const t0 = Date.now();
  requireSpace(src.baseDir, 4);
  ctx.log(`importing ${src.identity} into ${src.repo} (once)`);
  const tmp = `${src.repo}.tmp`;
  const undo = ctx.teardown.add('remove partial import', () => rmSync(tmp, { recursive: true, force: true }));
  try {
    // the import takes minutes (tar, then git hashing every file): each stage gets a line
    for (const [i, s] of steps.entries()) {
      ctx.log(`importing ${src.identity}: stage ${i + 1}/${steps.length} ${stageName(s)} (${Math.round((Date.now() - t0) / 1000)} s so far)`);
      await runStep(s, { signal: ctx.signal });
    }
  } catch (e) {
    // the space check above is an estimate: a disk that fills anyway is one line, not tar's output
    if (isNoSpace(e)) throw noSpaceError(`importing ${src.identity}`, src.baseDir, e);
    throw e;
  }
  await undo();
  return Date.now() - t0;
}

/** The git commands that turn base + patches into a tree in a temporary index (pure). */
export function planPatchApply(repo: string, base: string, patches: PatchFile[], index: string): TreeStep[] {
  const env = { ...GIT_ENV, GIT_INDEX_FILE: index };
  return [
    { phase: 'kernel:patch', argv: ['git', '-C', repo, 'read-tree', base], env, badInput: true },
    ...patches.map((p) => ({ phase: 'kernel:patch', argv: ['git', '-C', repo, 'apply', '--cached', '--whitespace=nowarn', p.file], env, badInput: p })),
    { phase: 'kernel:patch', argv: ['git', '-C', repo, 'write-tree'], env, badInput: true, yields: 'tree' as const },
  ];
}

/** The temporary index the patches are applied in: one per process, so parallel runs do not share it. */
export function tempIndexFile(repo: string, pid = process.pid): string {
  return join(repo, '.git', `pinlab-index-${pid}`);
}

/** A value a step's stdout gives to the steps after it, which name it as `<base>`, `<tree>`, `<commit>`. */
export type TreeValue = 'base' | 'tree' | 'commit';

export interface TreeStep extends Step {
  yields?: TreeValue;
  /** a failure is bad input, not a broken host: this patch does not apply, or the base does not take the patches */
  badInput?: PatchFile | true;
}

export interface TreePlan {
  steps: TreeStep[];
  /** the kernel tree make runs in, and its build output directory */
  tree: string;
  objDir: string;
  /** the temporary index the steps use, removed afterwards */
  tempIndex?: string;
}

const placeholder = (v: TreeValue): string => `<${v}>`;

/**
 * What moves the slot's worktree to base + patches: the one plan --dry-run prints and
 * prepareTree runs. A commit is made in a temporary index (no worktree is touched), then the
 * worktree is created (after a prune of worktrees whose directory is gone) or checked out.
 * Reads only whether the worktree exists.
 */
export function planTree(src: ResolvedSource, patches: PatchFile[], slot: string, index = src.repo ? tempIndexFile(src.repo) : undefined): TreePlan {
  if (src.spec.kind === 'dir') {
    if (patches.length > 0) {
      throw new UserError('--patch needs a managed source (a profile or --source git:REPO@REF): pinlab never edits a --source DIR tree', {
        hint: 'commit the patches in that tree, or use --source git:DIR@HEAD',
      });
    }
    // the user's tree is built in place with its objects in the cache: absolute srctree
    return { steps: [], tree: src.spec.path, objDir: join(src.baseDir, 'obj') };
  }
  const repo = src.repo!;
  const steps: TreeStep[] = [];
  const base = src.baseCommit ?? placeholder('base');
  if (!src.baseCommit) steps.push({ ...git(repo, ['rev-parse', 'pristine^{commit}']), yields: 'base' });
  if (patches.length > 0) {
    steps.push(...planPatchApply(repo, base, patches, index!));
    steps.push({ ...git(repo, ['commit-tree', placeholder('tree'), '-p', base, '-m', `pinlab: ${patches.map((p) => p.name).join(', ')}`]), phase: 'kernel:patch', yields: 'commit' });
  }
  const target = patches.length > 0 ? placeholder('commit') : base;
  const tree = join(src.baseDir, `wt-${slot}`);
  if (!existsSync(join(tree, '.git'))) {
    steps.push(git(repo, ['worktree', 'prune']));
    steps.push(git(repo, ['worktree', 'add', '-q', '--detach', tree, target], { timeoutMs: 15 * 60_000 }));
  } else {
    // --force: the cache's worktree is ours; files equal to the target keep their mtime
    steps.push(git(tree, ['checkout', '-q', '--force', '--detach', target], { timeoutMs: 15 * 60_000 }));
  }
  // the object dir is a direct subdirectory of the tree: kbuild then uses srctree=.. (relative
  // paths), which lets ccache share objects between worktrees
  return { steps, tree, objDir: join(tree, OBJ_SUBDIR), ...(patches.length > 0 ? { tempIndex: index } : {}) };
}

export type StepRunner = typeof runStep;

/** Run a tree plan: each step's argv with the values earlier steps gave; returns those values. */
async function runTreePlan(plan: TreePlan, ctx: RunContext, run: StepRunner): Promise<Partial<Record<TreeValue, string>>> {
  const values: Partial<Record<TreeValue, string>> = {};
  const removeIndex = plan.tempIndex ? ctx.teardown.add('remove temp index', () => rmSync(plan.tempIndex!, { force: true })) : undefined;
  try {
    for (const planned of plan.steps) {
      const { yields, badInput, ...step } = planned;
      const argv = step.argv.map((a) => (/^<(base|tree|commit)>$/.test(a) ? values[a.slice(1, -1) as TreeValue] ?? a : a));
      const r = await run({ ...step, argv }, { signal: ctx.signal, allowFailure: Boolean(badInput) });
      if (r.exitCode !== 0 && badInput) {
        throw badInput === true ? new UserError(`git ${argv[3]} failed in ${argv[2]}: ${r.stderr.trim().split('\n')[0]}`) : patchDoesNotApply(badInput, r.stderr);
      }
      if (yields) values[yields] = r.stdout.trim();
    }
    return values;
  } finally {
    await removeIndex?.();
  }
}

/** "patch X does not apply: file:line" from git apply's stderr. */
export function patchDoesNotApply(p: PatchFile, stderr: string): UserError {
  const failed = /error: patch failed: (\S+)/.exec(stderr)?.[1];
  const missing = /error: (\S+): does not exist in index/.exec(stderr)?.[1];
  const where = failed ? `hunk at ${failed}` : missing ? `${missing} does not exist in the tree` : stderr.trim().split('\n')[0] ?? 'unknown';
  return new UserError(`patch ${p.name} does not apply: ${where}`, { hint: `patch file: ${p.file}` });
}

/** Import if needed, then move the slot's worktree to base + patches (planTree's steps, through `run`). */
export async function prepareTree(src: ResolvedSource, patches: PatchFile[], slot: string, ctx: RunContext, run: StepRunner = runStep): Promise<PreparedTree> {
  const plan = planTree(src, patches, slot);
  if (src.spec.kind === 'dir') return { source: src, tree: plan.tree, objDir: plan.objDir, patches };
  const importMs = await ensureImported(src, ctx);
  const values = await runTreePlan(plan, ctx, run);
  src.baseCommit ??= values.base;
  return { source: src, tree: plan.tree, objDir: plan.objDir, commit: values.commit ?? src.baseCommit, patches, importMs };
}
