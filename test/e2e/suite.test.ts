// End to end: build, boot, workloads, verdicts — through the real CLI, as CI runs it.
// These are the tests that prove pinlab's main path; they skip only where the host cannot run
// them at all (not root: pinlab cannot install packages or use loop devices), with that reason.
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { readRunMeta } from '../../harness/rundir.js';
import { HW_SUITE } from '../../harness/workloads/catalogue.js';
import type { RunResult, Verdict } from '../../harness/verdict/types.js';
import { testTempDir } from '../tmp.js';
import { rootOnly } from '../root.js';

const e2e = rootOnly('pinlab setup needs apt-get; the guest disks need no root, but the host prerequisites do');

async function pinlabRun(args: string[]): Promise<{ exitCode: number; result: RunResult; stdout: string; stderr: string; runDir: string }> {
  const dir = testTempDir('pinlab-e2e-');
  const json = join(dir, 'run.json');
  const r = await execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), 'run', '--json', json, ...args], {
    reject: false,
    all: true,
    timeout: 60 * 60_000,
    env: { FORCE_COLOR: '0' },
  });
  let result: RunResult;
  try {
    result = JSON.parse(readFileSync(json, 'utf8')) as RunResult;
  } catch {
    throw new Error(`pinlab run ${args.join(' ')} wrote no JSON (exit ${r.exitCode}):\n${r.all?.slice(-4000)}`);
  }
  const runDir = /^run directory: (.+)$/m.exec(r.stdout)?.[1] ?? '';
  return { exitCode: r.exitCode ?? -1, result, stdout: r.stdout, stderr: r.stderr, runDir };
}

/** Workloads whose pins must equal their page accounting exactly on the patched 6.1 kernel. */
const EXACT_PINS = [
  'ext4.psync.anon',
  'ext4.psyncv.anon',
  'ext4.libaio.anon',
  'ext4.uring.anon',
  'ext4.uring-fixed.anon',
  'ext4.splice-read.anon',
  'ext4.vmsplice-write.anon',
  'loop.psync.anon',
];

const byName = (r: RunResult) => new Map(r.verdicts.map((v) => [v.name, v]));
const describe = (v: Verdict) => `${v.name}: ${v.status} ${v.reasons.join(',')} ${v.cause ?? ''} ${v.message}`;

e2e('patched-6.1: the default suite and every hardware variant pass, every user-memory DIO is pinned and balanced', async (t) => {
  const { exitCode, result } = await pinlabRun(['-p', 'patched-6.1', '--hw', 'all']);
  const hw = result.verdicts.filter((v) => HW_SUITE.some((w) => w.name === v.name));
  t.is(hw.length, HW_SUITE.length, 'every hardware-variant workload ran');
  t.deepEqual(hw.filter((v) => v.status !== 'PASS').map(describe), [], 'every hardware-variant workload passes');
  const bad = result.verdicts.filter((v) => v.status !== 'PASS' && v.status !== 'SKIP');
  t.deepEqual(bad.map(describe), [], 'no FAIL/ERROR on the patched kernel');
  t.is(exitCode, 0);
  const v = byName(result);
  for (const name of ['raw-virtio.psync.anon', 'ext4.psync.anon', 'ext2.psync.anon', 'raw-nvme.psync.anon']) {
    const w = v.get(name);
    t.truthy(w, name);
    t.is(w!.status, 'PASS', describe(w!));
    t.is(w!.pinning, 'pinned', name);
    t.true(w!.numbers!.acquired >= w!.numbers!.userPageOps && w!.numbers!.userPageOps > 0, `${name}: acquired >= user pages`);
    t.is(w!.numbers!.released, w!.numbers!.acquired, `${name}: balanced`);
    t.true(w!.path.length > 0, `${name}: path evidence`);
  }
  // the engines' pin counts, judged here rather than on the host (test/native/engines.test.ts):
  // the guest runs nothing else, and the evidence counts every pin at the kernel's primitives
  for (const name of EXACT_PINS) {
    const w = v.get(name);
    t.truthy(w, name);
    t.is(w!.numbers?.evidence, 'kprobe-hist', `${name}: pins counted at the primitives`);
    // a long-term pin (uring-fixed's registration) of movable pages pins them again after
    // migrating them (the guest has a movable zone): up to twice, as the judge allows
    const n = w!.numbers!;
    const repinned = (n.pagesMigrated ?? 0) > 0 && n.acquired > n.expectedPins && n.acquired <= 2 * n.expectedPins;
    t.true(n.acquired === n.expectedPins || repinned, `${name}: one pin per page-op (uring-fixed: per registered page, twice where its pages were migrated; vmsplice: none): ${n.acquired} for ${n.expectedPins}, ${n.pagesMigrated ?? 0} pages migrated`);
    t.is(w!.numbers?.released, w!.numbers?.acquired, `${name}: every pin released`);
  }
  const skipped = result.verdicts.filter((x) => x.status === 'SKIP');
  for (const s of skipped) t.log(`SKIP ${s.name}: ${s.skipReason}`);
  t.true(skipped.length <= 3, 'the suite is not hollowed out by skips');
});

e2e('stock-6.1: user-memory Direct I/O is reported not-pinned (XFAIL: known state), the run does not fail', async (t) => {
  const { exitCode, result, runDir } = await pinlabRun(['-p', 'stock-6.1', '-f', 'raw-virtio.psync.anon,ext4.psync.anon,ext2.psync.anon,raw-virtio.uring-fixed.anon']);
  const v = byName(result);
  for (const name of ['raw-virtio.psync.anon', 'ext4.psync.anon', 'ext2.psync.anon']) {
    const w = v.get(name)!;
    t.is(w.status, 'XFAIL', describe(w));
    t.deepEqual(w.reasons, ['not-pinned']);
    t.is(w.pinning, 'not-pinned');
    t.is(w.numbers!.acquired, 0, `${name}: stock 6.1 takes references, not pins`);
  }
  // io_uring registration pins on every kernel: a control that pin accounting works here
  t.is(v.get('raw-virtio.uring-fixed.anon')!.status, 'PASS', describe(v.get('raw-virtio.uring-fixed.anon')!));
  t.is(exitCode, 0);
  // the run directory as rundir.ts types it: the request, and the QEMU argv meta.json names
  const meta = readRunMeta(runDir);
  // (the filter's names also match their fault variants: the request lists what ran)
  t.deepEqual([...meta.request.workloads].sort(), result.verdicts.map((x) => x.name).filter((n) => !n.startsWith('calibration.')).sort());
  const argv = JSON.parse(readFileSync(join(runDir, meta.vm!.argvFile), 'utf8')) as string[];
  t.is(argv[0], 'qemu-system-x86_64', `${meta.vm!.argvFile}: the argv the run booted`);
  const strict = await pinlabRun(['-p', 'stock-6.1', '--strict', '-f', 'raw-virtio.psync.anon']);
  t.is(strict.exitCode, 1, '--strict: a known state fails the run');
});

const planted: { patch: string; filter: string; catches: string[]; reasons: string[] }[] = [
  { patch: 'skip-unpin.patch', filter: 'nvme-passthru.passthru.anon,raw-virtio.psync.anon', catches: ['nvme-passthru.passthru.anon'], reasons: ['pin-leak'] },
  { patch: 'put-instead-of-unpin.patch', filter: 'ext2.psync.anon,raw-virtio.psync.anon', catches: ['ext2.psync.anon'], reasons: ['pin-leak'] },
  { patch: 'double-pin.patch', filter: 'ext2.splice-read.anon,raw-virtio.psync.anon', catches: ['ext2.splice-read.anon'], reasons: ['pin-leak'] },
];

/**
 * A comment with a fresh nonce in mm/gup.c (the context of 6.1-comment-only.patch, which the
 * series leaves alone): a kernel no run has built, so the build is never a cache hit.
 */
function noncePatch(): string {
  const text = readFileSync(join(repoRoot, 'test/fixtures/planted/6.1-comment-only.patch'), 'utf8');
  const patch = join(testTempDir('pinlab-nonce-'), 'zz-nonce.patch');
  writeFileSync(patch, text.replace(/^\+\/\*.*\*\/$/m, `+/* pinlab e2e nonce ${randomUUID()} */`));
  return patch;
}

for (const p of planted) {
  e2e(`planted fault ${p.patch} is caught on ${p.catches.join(', ')} and nowhere else; the rebuild is incremental`, async (t) => {
    const patches = [join(repoRoot, 'test/fixtures/planted', p.patch), noncePatch()];
    const { exitCode, result, runDir } = await pinlabRun(['-p', 'patched-6.1', ...patches.flatMap((x) => ['--patch', x]), '-f', p.filter]);
    t.is(exitCode, 1, 'a planted pin bug fails the run');
    // the persistent worktree recompiles what changed since its previous build (and relinks),
    // not the kernel (a cold build compiles ~1200 objects): always mm/gup.o, whose nonce is new;
    // the rest depends on that previous build (the planted file unless it was built with it
    // last; a coverage build's instrumented files, ~20). The nonce makes sure there is a build.
    const buildLog = join(runDir, 'logs', 'build.log');
    t.true(existsSync(buildLog), 'a kernel no run built before is built, not taken from the cache');
    const compiled = readFileSync(buildLog, 'utf8').split('\n').flatMap((l) => /^\s+CC\s+(\S+\.o)$/.exec(l)?.[1] ?? []);
    t.true(compiled.includes('mm/gup.o'), `the changed file is recompiled (compiled: ${compiled.join(' ')})`);
    t.true(compiled.length <= 60, `incremental rebuild compiled ${compiled.length} objects: ${compiled.slice(0, 30).join(' ')}`);
    // a filter word selects the workload and its fault variants (name prefix): the planted bug
    // is on their path too
    const onPath = (name: string) => p.catches.some((c) => name === c || name.startsWith(`${c}.`));
    t.true(result.verdicts.some((v) => p.catches.includes(v.name)), 'the catching workload ran');
    for (const v of result.verdicts) {
      if (p.catches.includes(v.name)) {
        t.is(v.status, 'FAIL', describe(v));
        for (const r of p.reasons) t.true(v.reasons.includes(r as never), `${describe(v)} should include ${r}`);
      } else if (!onPath(v.name)) {
        t.is(v.status, 'PASS', `${describe(v)} (the planted fault is not on this path)`);
      }
    }
  });
}

// after the stock-6.1 build (ccache) and after the planted patches, which rebuild the shared
// 'custom' worktree incrementally from the series: this one flips it to stock 6.1
e2e('stock-6.1 with a --patch is not the reference kernel: its not-pinned is a FAIL, not an XFAIL', async (t) => {
  const { exitCode, result } = await pinlabRun(['-p', 'stock-6.1', '--patch', join(repoRoot, 'test/fixtures/planted/6.1-comment-only.patch'), '-f', 'raw-virtio.psync.anon,raw-virtio.uring-fixed.anon']);
  const v = result.verdicts.find((x) => x.name === 'raw-virtio.psync.anon')!;
  t.is(v.status, 'FAIL', describe(v));
  t.deepEqual(v.reasons, ['not-pinned']);
  t.is(v.knownState, undefined);
  t.is(result.verdicts.find((x) => x.name === 'raw-virtio.uring-fixed.anon')!.status, 'PASS');
  t.is(exitCode, 1);
});

e2e('a patch that does not apply names the patch and the failing hunk, exit 2, no stack', async (t) => {
  const dir = testTempDir('pinlab-badpatch-');
  const patch = join(dir, '0099-bad.patch');
  writeFileSync(
    patch,
    ['diff --git a/block/bio.c b/block/bio.c', '--- a/block/bio.c', '+++ b/block/bio.c', '@@ -1,3 +1,3 @@', ' this line is not in bio.c', '-nor this one', '+so the hunk fails', ' at all', ''].join('\n'),
  );
  const r = await execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), 'build', '-p', 'patched-6.1', '--patch', patch], { reject: false });
  t.is(r.exitCode, 2, r.stderr);
  t.regex(r.stderr, /patch 0099-bad\.patch does not apply: hunk at block\/bio\.c:1/);
  t.notRegex(r.stderr, /\n\s+at .*:\d+:\d+\)/);
});
