// `pinlab bisect`'s driver against real git on a tiny repository, with a fake checker in place
// of `pinlab check` (which builds and boots a kernel: that is test/e2e/bisect.test.ts).
import test from 'ava';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBisect, formatBisectResult, type Checker } from '../../harness/bisect/bisect.js';
import type { CheckRecord } from '../../harness/bisect/check.js';
import { decide, defaultThresholds, groupRounds } from '../../harness/bisect/decision.js';
import { repoRoot } from '../../harness/config.js';
import { createContext } from '../../harness/context.js';
import { bisectClone, type BisectRequest } from '../../harness/bisect/plan.js';
import type { Status, Verdict } from '../../harness/verdict/types.js';

const made: string[] = [];
/** A temporary directory, removed after the tests. */
function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
test.after.always(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

const env = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
const git = async (dir: string, ...args: string[]) => (await execa('git', ['-C', dir, ...args], { env })).stdout.trim();

/** c1..c8; the bug appears in `bugAt` (file bug.c), optional commits that do not build. */
async function history(bugAt: number, broken: number[] = []): Promise<{ repo: string; commits: string[] }> {
  const repo = tmp('pinlab-bisect-repo-');
  await execa('git', ['init', '-q', '-b', 'main', repo]);
  const commits: string[] = [];
  for (let i = 1; i <= 8; i++) {
    writeFileSync(join(repo, `f${i}.c`), `/* change ${i} */\n`);
    if (i === bugAt) writeFileSync(join(repo, 'bug.c'), 'put_page(page);\n');
    if (broken.includes(i)) writeFileSync(join(repo, 'broken'), `${i}\n`);
    else if (existsSync(join(repo, 'broken'))) await git(repo, 'rm', '-q', 'broken');
    await git(repo, 'add', '-A');
    await git(repo, 'commit', '-q', '-m', `c${i}${i === bugAt ? ': the planted bug' : ''}`);
    commits.push(await git(repo, 'rev-parse', 'HEAD'));
  }
  return { repo, commits };
}

/** Decides like pinlab check would, from the files of the commit: bug.c bad, `broken` skip. */
function fakeChecker(repo: string, seen: string[]): Checker {
  return async (commit, runDir) => {
    seen.push(commit);
    const files = (await git(repo, 'ls-tree', '--name-only', commit)).split('\n');
    const name = 'ext2.psync.anon';
    const status: Status = files.includes('broken') ? 'ERROR' : files.includes('bug.c') ? 'FAIL' : 'PASS';
    const v: Verdict = {
      name,
      target: 'ext2',
      engine: 'psync',
      status,
      reasons: status === 'FAIL' ? ['pin-leak' as const] : [],
      ...(status === 'ERROR' ? { cause: 'build' as const } : {}),
      path: [],
      pinning: 'pinned' as const,
      splats: [],
      message: status,
      ...(status === 'FAIL' ? { numbers: { acquired: 256, released: 0, expectedPins: 256, background: 0, userPageOps: 256, bytes: 1 << 20 } } : {}),
    };
    const result = decide(groupRounds([v], { strict: false }), defaultThresholds(1));
    const exitCode = result.decision === 'good' ? 0 : result.decision === 'bad' ? 1 : 125;
    const record = { schema: 'pinlab.check/1', runDir, exitCode, line: `check: ${result.decision.toUpperCase()}`, result } as unknown as CheckRecord;
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'check.json'), JSON.stringify(record));
    return { exitCode, record };
  };
}

const request = (repo: string, good: string, bad: string, extra: Partial<BisectRequest> = {}): BisectRequest => ({
  repo,
  good,
  bad,
  filter: 'ext2.psync.anon',
  repeat: 1,
  ...extra,
});

test('names exactly the commit that planted the bug, with its evidence; the repository is untouched', async (t) => {
  const { repo, commits } = await history(6);
  const headBefore = await git(repo, 'rev-parse', 'HEAD');
  const dir = tmp('pinlab-bisect-run-');
  const cache = tmp('pinlab-bisect-cache-');
  const seen: string[] = [];
  const r = await runBisect(request(repo, commits[0]!, 'main'), createContext(), { dir, cache, checker: fakeChecker(repo, seen) });
  t.deepEqual(r.outcome, { kind: 'found', commit: commits[5]! });
  t.true(seen.length <= 3, `log2(7) steps, got ${seen.length}`);
  t.is(r.evidence?.result.evidence[0]?.workload, 'ext2.psync.anon');
  t.deepEqual(r.evidence?.result.evidence[0]?.reasons, ['pin-leak']);
  const text = formatBisectResult(r, request(repo, commits[0]!, 'main')).join('\n');
  t.regex(text, new RegExp(`first bad commit: ${commits[5]} c6: the planted bug`));
  t.regex(text, /evidence: ext2\.psync\.anon FAIL pin-leak acq=256 rel=0 exp=256/);
  t.regex(readFileSync(join(dir, 'bisect.log'), 'utf8'), new RegExp(`first bad commit: \\[${commits[5]}\\]`));
  t.true(existsSync(join(dir, 'bisect.json')));
  // the user's repository: same HEAD, no bisect state
  t.is(await git(repo, 'rev-parse', 'HEAD'), headBefore);
  t.false(existsSync(join(repo, '.git', 'BISECT_LOG')));
  t.is(await git(repo, 'status', '--porcelain'), '');
});

test('a commit that does not build is skipped (125) and the bisection still converges', async (t) => {
  const { repo, commits } = await history(6, [3, 4]);
  const dir = tmp('pinlab-bisect-run-');
  const cache = tmp('pinlab-bisect-cache-');
  const r = await runBisect(request(repo, commits[0]!, commits[7]!), createContext(), { dir, cache, checker: fakeChecker(repo, []) });
  t.deepEqual(r.outcome, { kind: 'found', commit: commits[5]! });
  t.true(r.steps.some((s) => s.verb === 'skip'));
});

test('when only unbuildable commits remain, git says so and pinlab lists the candidates', async (t) => {
  const { repo, commits } = await history(5, [4, 5]);
  const dir = tmp('pinlab-bisect-run-');
  const cache = tmp('pinlab-bisect-cache-');
  const r = await runBisect(request(repo, commits[0]!, commits[7]!), createContext(), { dir, cache, checker: fakeChecker(repo, []) });
  t.is(r.outcome.kind, 'only-skipped');
  if (r.outcome.kind === 'only-skipped') t.true(r.outcome.candidates.includes(commits[4]!));
});

test('a second bisection of the same repository reuses the clone and starts clean', async (t) => {
  const { repo, commits } = await history(3);
  const cache = tmp('pinlab-bisect-cache-');
  const clone = bisectClone(repo, cache);
  const first = await runBisect(request(repo, commits[0]!, commits[7]!), createContext(), { dir: tmp('pinlab-bisect-run-'), cache, checker: fakeChecker(repo, []) });
  t.deepEqual(first.outcome, { kind: 'found', commit: commits[2]! });
  t.false(existsSync(join(clone, '.git', 'BISECT_LOG')), 'the first bisection reset its state');
  // what a second clone would lose: a file in the clone's git dir, and its inode
  writeFileSync(join(clone, '.git', 'pinlab-test-marker'), 'first\n');
  const inode = statSync(clone).ino;
  // a bisection killed mid-way (no teardown) leaves its state behind, with marks that would
  // mislead a run continuing it: c6 "good" puts the bug after c6
  await git(clone, 'bisect', 'start', '--no-checkout', commits[7]!, commits[0]!);
  await git(clone, 'bisect', 'good', commits[5]!);
  const seen: string[] = [];
  const second = await runBisect(request(repo, commits[0]!, commits[7]!), createContext(), { dir: tmp('pinlab-bisect-run-'), cache, checker: fakeChecker(repo, seen) });
  t.deepEqual(second.outcome, { kind: 'found', commit: commits[2]! }, 'the stale marks were dropped');
  t.is(statSync(clone).ino, inode, 'the same clone directory');
  t.is(readFileSync(join(clone, '.git', 'pinlab-test-marker'), 'utf8'), 'first\n', 'not cloned again');
  t.deepEqual(seen, first.steps.map((s) => s.commit), 'the second run bisects the whole range afresh, the same steps as the first');
  t.false(existsSync(join(clone, '.git', 'BISECT_LOG')));
});

test('--verify-ends refuses a range whose --bad end is good', async (t) => {
  const { repo, commits } = await history(8);
  const dir = tmp('pinlab-bisect-run-');
  const cache = tmp('pinlab-bisect-cache-');
  await t.throwsAsync(
    runBisect(request(repo, commits[0]!, commits[5]!, { verifyEnds: true }), createContext(), { dir, cache, checker: fakeChecker(repo, []) }),
    { message: /--bad .* is not bad \(good\)/ },
  );
});

const pinlab = (...args: string[]) => execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), ...args], { reject: false });

for (const [args, pattern] of [
  [['check', '--frob'], /unexpected argument\(s\): --frob/],
  [['check', '--repeat'], /--repeat needs a value/],
  [['check', '--repeat', 'two'], /--repeat two: expected a positive integer/],
  [['check', '--repeat', '2', '--bad-threshold', '3'], /can never be reached/],
  [['check', '--profile', 'nope'], /unknown profile 'nope'/],
  [['check', '--source', 'git:/nonexistent@HEAD'], /no such repository/],
  [['check', '-f', 'no-such-workload'], /no workload matches/],
  [['check', 'extra-operand'], /unexpected argument/],
  [['check', '--reason', 'leaky'], /--reason leaky: expected fail reasons from pin-leak/],
] as const) {
  test(`check: usage error '${args.slice(1).join(' ')}' exits 255 (git bisect run aborts), not 2`, async (t) => {
    const r = await pinlab(...args);
    t.is(r.exitCode, 255, r.stderr);
    t.regex(r.stderr, pattern);
  });
}

test('bisect: usage errors exit 2 like every other command; --dry-run prints the plan', async (t) => {
  const missing = await pinlab('bisect', '--source', 'git:/x', '--good', 'a');
  t.is(missing.exitCode, 2);
  const ref = await pinlab('bisect', '--source', 'git:/x@v1', '--good', 'a', '--bad', 'b');
  t.is(ref.exitCode, 2);
  t.regex(ref.stderr, /name the repository only/);
  const { repo } = await history(2);
  const dry = await pinlab('bisect', '--source', `git:${repo}`, '--good', 'HEAD~3', '--bad', 'HEAD', '-f', 'ext2.psync.anon', '--dry-run');
  t.is(dry.exitCode, 0, dry.stderr);
  t.regex(dry.stdout, /"bisect","start","--no-checkout"/);
  t.regex(dry.stdout, new RegExp(`"check","--source","git:${repo}@<commit>","-f","ext2.psync.anon"`));
  t.notRegex(dry.stdout, /"--coverage"/);
  // --coverage reaches every step's check, so each step's run directory reports its coverage
  const cov = await pinlab('bisect', '--source', `git:${repo}`, '--good', 'HEAD~3', '--bad', 'HEAD', '-f', 'ext2.psync.anon', '--coverage', '--dry-run');
  t.is(cov.exitCode, 0, cov.stderr);
  t.regex(cov.stdout, new RegExp(`"check","--source","git:${repo}@<commit>","-f","ext2.psync.anon",[^\\n]*"--coverage"`));
});

test('check, bisect and repro have --help', async (t) => {
  for (const sub of ['check', 'bisect', 'repro']) {
    const r = await pinlab(sub, '--help');
    t.is(r.exitCode, 0, sub);
    t.regex(r.stdout, new RegExp(`Usage: pinlab ${sub}`));
  }
});
