// --dry-run prints what runs: the kernel tree steps (worktree, temporary index, commit) that
// planKernel prints are the ones prepareTree runs, recorded here through a fake step runner.
import test from 'ava';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testTempDir } from '../tmp.js';

const cache = testTempDir('pinlab-tree-plan-');
process.env.PINLAB_CACHE = cache;
const { createContext } = await import('../../harness/context.js');
const { planKernel } = await import('../../harness/plan.js');
const { prepareTree, readPatches, resolveSource, slotName, tempIndexFile } = await import('../../harness/kernel/source.js');
type Step = import('../../harness/exec.js').Step;
type StepRunner = import('../../harness/kernel/source.js').StepRunner;

const tarball = join(cache, 'linux-source-test.tar.xz');
writeFileSync(tarball, 'not a real tarball');
const source = { kind: 'debian' as const, pkg: 'linux-source-pinlab-test', tarball };
const patchFiles = ['0001-a.patch', '0002-b.patch'].map((n) => {
  const f = join(cache, n);
  writeFileSync(f, `${n}\ndiff --git a/x b/x\n`);
  return f;
});
const ctx = createContext({ log: () => undefined });
// an imported source base: no import steps, the tree steps start at the base commit
const src0 = await resolveSource(source, ctx);
mkdirSync(join(src0.repo!, '.git'), { recursive: true });

const OUTPUT: Record<string, string> = { 'rev-parse': 'b4se', 'write-tree': '7ree', 'commit-tree': 'c0mmit' };

/** A runner that records each step and answers as git would, failing `git apply` of `failing`. */
function recorder(failing?: string): { steps: Step[]; run: StepRunner } {
  const steps: Step[] = [];
  const run: StepRunner = async (step) => {
    steps.push(step);
    const fails = failing !== undefined && step.argv.includes(failing);
    return { exitCode: fails ? 1 : 0, stdout: OUTPUT[step.argv[3]!] ?? '', stderr: fails ? 'error: patch failed: block/bio.c:10\n' : '', durationMs: 0 };
  };
  return { steps, run };
}

const treeSteps = async (patches: string[]) =>
  (await planKernel({ source, patchFiles: patches, fragments: [], series: patches.length > 0 }, ctx)).filter((s) => s.phase === 'kernel:source' || s.phase === 'kernel:patch');

/** The plan as it runs: each <value> replaced by what the step that yields it printed. */
const filled = (argv: string[]) => argv.map((a) => ({ '<base>': 'b4se', '<tree>': '7ree', '<commit>': 'c0mmit' })[a] ?? a);

for (const [title, patches] of [['base + patches', patchFiles], ['no patches', []]] as const) {
  test.serial(`${title}: the printed tree plan is what prepareTree runs`, async (t) => {
    const planned = await treeSteps([...patches]);
    const rec = recorder();
    const src = await resolveSource(source, ctx);
    const tree = await prepareTree(src, readPatches([...patches]), slotName(readPatches([...patches]), patches.length > 0), ctx, rec.run);
    t.deepEqual(rec.steps.map((s) => s.argv), planned.map((s) => filled(s.argv)));
    t.deepEqual(rec.steps.map((s) => s.phase), planned.map((s) => s.phase));
    t.is(tree.commit, patches.length > 0 ? 'c0mmit' : 'b4se');
    const words = planned.map((s) => s.argv.slice(3, 5).join(' '));
    t.true(words.includes('worktree prune'), 'a stale worktree entry is pruned before the add');
    if (patches.length > 0) {
      const index = tempIndexFile(src.repo!);
      t.true(rec.steps.filter((s) => s.phase === 'kernel:patch' && s.argv[3] !== 'commit-tree').every((s) => s.env?.GIT_INDEX_FILE === index), 'one temporary index, the same in plan and run');
    }
  });
}

test.serial('an existing worktree is checked out, in the plan and in the run', async (t) => {
  const wt = join(src0.baseDir, 'wt-series');
  mkdirSync(join(wt, '.git'), { recursive: true });
  const planned = await treeSteps(patchFiles);
  const rec = recorder();
  await prepareTree(await resolveSource(source, ctx), readPatches(patchFiles), 'series', ctx, rec.run);
  t.deepEqual(rec.steps.map((s) => s.argv), planned.map((s) => filled(s.argv)));
  t.deepEqual(rec.steps.at(-1)!.argv, ['git', '-C', wt, 'checkout', '-q', '--force', '--detach', 'c0mmit']);
});

test.serial('a patch that does not apply stops the run at that patch, names it, and removes the temporary index', async (t) => {
  const rec = recorder(patchFiles[1]);
  const src = await resolveSource(source, ctx);
  const index = tempIndexFile(src.repo!);
  writeFileSync(index, '');
  await t.throwsAsync(prepareTree(src, readPatches(patchFiles), 'series', ctx, rec.run), { message: 'patch 0002-b.patch does not apply: hunk at block/bio.c:10' });
  t.true(rec.steps.at(-1)!.argv.includes(patchFiles[1]!));
  t.false(existsSync(index));
  t.is(ctx.teardown.size, 0);
});
