// End to end: `pinlab bisect` names exactly the commit that planted a pin leak, in a small
// history built on the 6.1 tree: the series as one commit, then four commits that each touch one
// .c file, one of them the planted fault (test/fixtures/planted/put-instead-of-unpin.patch, caught
// by ext2.psync.anon as pin-leak). Each bisection step rebuilds one or two .c files in pinlab's
// persistent worktree, boots, and runs that one workload.
//
// The history is made with git plumbing in a temporary index (no 1 GB checkout), with fixed
// dates, in a --shared clone of the imported Debian tree at a fixed place under the cache: the
// same commits every time, so pinlab's kernel worktree and build cache for them carry over from
// one test run to the next (a rerun costs boots, not builds).
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot, PROFILES, repoRoot } from '../../harness/config.js';
import { testTempDir } from '../tmp.js';
import { createContext } from '../../harness/context.js';
import { resolveSource } from '../../harness/kernel/source.js';
import type { BisectResult } from '../../harness/bisect/bisect.js';
import { rootOnly } from '../root.js';

const e2e = rootOnly('pinlab builds and boots kernels with host prerequisites only root can install');

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'pinlab test',
  GIT_AUTHOR_EMAIL: 'test@pinlab',
  GIT_COMMITTER_NAME: 'pinlab test',
  GIT_COMMITTER_EMAIL: 'test@pinlab',
  GIT_AUTHOR_DATE: '2021-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2021-01-01T00:00:00Z',
};
const WORKLOAD = 'ext2.psync.anon,!ext2.psync.anon.*';

const pinlab = (args: string[], timeoutMs = 60 * 60_000) =>
  execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), ...args], { reject: false, all: true, timeout: timeoutMs, env: { FORCE_COLOR: '0' } });

/** A commit on `parent` made in a temporary index: patches applied, a comment appended to files. */
async function commitOn(repo: string, parent: string, message: string, change: { patches?: string[]; comment?: string[] }): Promise<string> {
  const index = join(repo, '.git', 'pinlab-test-index');
  const env = { ...GIT_ENV, GIT_INDEX_FILE: index };
  const git = async (args: string[], input?: string) => (await execa('git', ['-C', repo, ...args], { env, input })).stdout.trim();
  await git(['read-tree', parent]);
  for (const p of change.patches ?? []) await git(['apply', '--cached', p]);
  for (const file of change.comment ?? []) {
    const text = (await execa('git', ['-C', repo, 'cat-file', 'blob', `${parent}:${file}`], { stripFinalNewline: false })).stdout;
    const blob = await git(['hash-object', '-w', '--stdin'], `${text}\n/* ${message} */\n`);
    await git(['update-index', '--cacheinfo', `100644,${blob},${file}`]);
  }
  const tree = await git(['write-tree']);
  rmSync(index, { force: true });
  return git(['commit-tree', tree, '-p', parent, '-m', message]);
}

e2e('bisect names exactly the commit that planted the pin leak', async (t) => {
  // the imported Debian 6.1 tree: pinlab imports it once, with its first build of a 6.1 profile
  const debian = await resolveSource(PROFILES['patched-6.1']!.source, createContext());
  if (!existsSync(join(debian.repo!, '.git'))) {
    const first = await pinlab(['build', '-p', 'patched-6.1']);
    t.is(first.exitCode, 0, first.all?.slice(-3000));
  }
  t.true(existsSync(join(debian.repo!, '.git')), `imported tree at ${debian.repo}`);

  const repo = join(cacheRoot(), 'test', 'bisect-6.1');
  rmSync(repo, { recursive: true, force: true });
  await execa('git', ['clone', '-q', '--shared', '--no-checkout', debian.repo!, repo]);
  const pristine = (await execa('git', ['-C', repo, 'rev-parse', 'pristine^{commit}'])).stdout.trim();
  const series = readdirSync(join(repoRoot, 'patches'))
    .filter((f) => /^000[1-3]-.*\.patch$/.test(f))
    .sort()
    .map((f) => join(repoRoot, 'patches', f));
  t.is(series.length, 3);
  const c1 = await commitOn(repo, pristine, 'bio: Direct IO: convert to pin_user_pages_fast() (the series)', { patches: series });
  const c2 = await commitOn(repo, c1, 'block: fops: comment only', { comment: ['block/fops.c'] });
  const c3 = await commitOn(repo, c2, 'ext2: inode: comment only', { comment: ['fs/ext2/inode.c'] });
  const planted = await commitOn(repo, c3, 'fs/direct-io: release pages with put_page() (planted pin leak)', {
    patches: [join(repoRoot, 'test/fixtures/planted/put-instead-of-unpin.patch')],
  });
  const c5 = await commitOn(repo, planted, 'mm: gup: comment only', { comment: ['mm/gup.c'] });
  await execa('git', ['-C', repo, 'update-ref', 'refs/heads/bisect-test', c5]);

  const dir = testTempDir('pinlab-e2e-bisect-');
  const t0 = Date.now();
  const r = await pinlab(['bisect', '--source', `git:${repo}`, '--good', c1, '--bad', 'bisect-test', '-f', WORKLOAD, '--reason', 'pin-leak', '--run-dir', dir]);
  t.log(`bisect took ${Math.round((Date.now() - t0) / 1000)} s`);
  t.log(r.stdout.split('\n').filter((l) => !l.startsWith('  | ')).join('\n'));
  t.is(r.exitCode, 0, r.all?.slice(-4000));
  const result = JSON.parse(readFileSync(join(dir, 'bisect.json'), 'utf8')) as BisectResult;
  t.deepEqual(result.outcome, { kind: 'found', commit: planted });
  t.regex(r.stdout, new RegExp(`^first bad commit: ${planted} fs/direct-io: release pages with put_page\\(\\)`, 'm'));
  // put_page() for a pin leaves the page's pin bias behind: the pages stay held after the unmap too
  t.regex(r.stdout, /evidence: ext2\.psync\.anon FAIL pages-held,pin-leak acq=\d+ rel=\d+ exp=\d+/);
  const ev = result.evidence!.result.evidence[0]!;
  t.deepEqual(ev.reasons, ['pages-held', 'pin-leak']);
  t.true(ev.numbers!.acquired > ev.numbers!.released, 'pins acquired and not released');
  // no step was skipped for infrastructure reasons, and the bisection needed no more than log2 steps
  t.true(result.steps.every((s) => s.verb !== 'skip'), result.steps.map((s) => s.line).join('\n'));
  t.true(result.steps.length <= 3);
  // the repository itself carries no bisect state
  t.false(existsSync(join(repo, '.git', 'BISECT_LOG')));
});

