// What `pinlab repro` reads back from a run directory and how it compares verdicts (pure parts;
// booting is test/e2e/repro.test.ts).
import test from 'ava';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { loadRecordedRun, pickCases, recordedVerdict, verdictWords } from '../../harness/repro/recorded.js';
import { compareVerdicts, recordedBuildKey, recordedKernelRequest } from '../../harness/repro/repro.js';
import type { Verdict } from '../../harness/verdict/types.js';
import { DEFAULT_SUITE } from '../../harness/workloads/catalogue.js';
import { testTempDir } from '../tmp.js';

/** A run directory like pipeline.ts writes: run.json, meta.json, kernel/, observations/. */
function runDir(): string {
  const dir = testTempDir('pinlab-repro-unit-');
  copyFileSync(join(repoRoot, 'test/fixtures/report/recorded-small/run.json'), join(dir, 'run.json'));
  mkdirSync(join(dir, 'kernel'));
  mkdirSync(join(dir, 'observations'));
  writeFileSync(join(dir, 'kernel', 'leak.patch'), 'diff --git a/x b/x\n');
  writeFileSync(join(dir, 'kernel', 'meta.json'), JSON.stringify({ key: 'k'.repeat(32), identity: 'debian:linux-source-6.1=6.1.192-2', patches: [] }));
  writeFileSync(
    join(dir, 'meta.json'),
    JSON.stringify({
      request: {
        profile: 'stock-6.1',
        source: { kind: 'debian', pkg: 'linux-source-6.1', tarball: '/usr/src/linux-source-6.1.tar.xz' },
        patchFiles: ['/elsewhere/gone/leak.patch'],
        fragments: ['/elsewhere/gone/pin-minimal.config'],
        series: false,
        cmdline: ['quiet'],
        strict: false,
        workloads: [],
      },
    }),
  );
  // the exact spec that ran, with a size the catalogue does not have: repro must use this one
  const spec = { ...DEFAULT_SUITE.find((s) => s.name === 'ext4.libaio.anon.efault-midway')!, name: 'ext4.libaio.anon.efault-midway#2', size: 12345 * 4096 };
  writeFileSync(join(dir, 'observations', `${spec.name}.json`), JSON.stringify({ spec }));
  return dir;
}

test('default cases: every case that did not pass (FAIL, XFAIL, ERROR), with the spec that ran', (t) => {
  const run = loadRecordedRun(runDir());
  const cases = pickCases(run);
  t.deepEqual(cases.map((c) => c.name).sort(), ['ext4.libaio.anon.efault-midway', 'nvme-passthru.passthru.anon', 'raw-virtio.psync.anon', 'vfat.psync.anon']);
  const fromObservation = cases.find((c) => c.name === 'ext4.libaio.anon.efault-midway')!;
  t.is(fromObservation.size, 12345 * 4096, 'the observation spec, renamed to the case name');
  t.is(recordedBuildKey(run), 'k'.repeat(32), 'kernel/meta.json key first');
});

test('--case names a case; an unknown one is a usage error listing the cases', (t) => {
  const run = loadRecordedRun(runDir());
  t.deepEqual(pickCases(run, ['raw-virtio.uring-fixed.anon']).map((c) => c.name), ['raw-virtio.uring-fixed.anon'], 'a PASS, when named');
  t.throws(() => pickCases(run, ['nope']), { message: /--case nope: not a case of/ });
  t.throws(() => loadRecordedRun(tmpdir()), { message: /no run\.json there/ });
});

test('the recorded request: patches fall back to the copies in kernel/; fragments only matter for a rebuild', (t) => {
  const run = loadRecordedRun(runDir());
  const req = recordedKernelRequest(run, false);
  t.deepEqual(req.patchFiles, [join(run.dir, 'kernel', 'leak.patch')]);
  t.is(req.profile, 'stock-6.1');
  t.throws(() => recordedKernelRequest(run, true), { message: /config fragment .* is gone: cannot rebuild/ });
});

test('a replay has the same verdict when status and reasons (or error cause) match', (t) => {
  const run = loadRecordedRun(runDir());
  const v = (name: string, status: Verdict['status'], reasons: Verdict['reasons'] = [], cause?: Verdict['cause']): Verdict => ({
    name,
    target: 't',
    engine: 'e',
    status,
    reasons,
    ...(cause ? { cause } : {}),
    path: [],
    pinning: 'unknown',
    splats: [],
    message: '',
  });
  t.is(verdictWords(recordedVerdict(run, 'vfat.psync.anon')!), 'XFAIL not-pinned');
  t.is(verdictWords(recordedVerdict(run, 'nvme-passthru.passthru.anon')!), `ERROR ${recordedVerdict(run, 'nvme-passthru.passthru.anon')!.cause}`);
  const cmp = compareVerdicts(
    [v('vfat.psync.anon#1', 'XFAIL', ['not-pinned']), v('vfat.psync.anon#2', 'PASS'), v('brand-new', 'PASS')],
    (name) => recordedVerdict(run, name),
  );
  t.deepEqual(
    cmp.map((c) => [c.name, c.round, c.same]),
    [
      ['vfat.psync.anon', 1, true],
      ['vfat.psync.anon', 2, false],
      ['brand-new', 1, false],
    ],
  );
  t.is(cmp[2]!.recorded, undefined);
});

test('repro: usage errors exit 2 with one line', async (t) => {
  const { execa } = await import('execa');
  const pinlab = (...args: string[]) => execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), ...args], { reject: false });
  const missing = await pinlab('repro', '/nonexistent/run');
  t.is(missing.exitCode, 2);
  t.regex(missing.stderr, /no such run directory or bundle/);
  const noOut = await pinlab('repro', '--bundle', runDir());
  t.is(noOut.exitCode, 2);
  t.regex(noOut.stderr, /--bundle needs -o FILE\.tar\.zst/);
  const passed = await pinlab('repro', runDir(), '--case', 'nope');
  t.is(passed.exitCode, 2);
  t.regex(passed.stderr, /--case nope: not a case of/);
});
