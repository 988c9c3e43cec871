// End to end: a case that did not pass replays from its run directory, and from a bundle on
// "another machine" (a fresh PINLAB_CACHE: no kernel cache, guest image built there) with the same
// verdict. The case is stock-6.1's known state (Direct I/O takes references: XFAIL not-pinned),
// deterministic and on the reference kernel the suite builds anyway, so this test costs boots,
// not a kernel build of its own.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import type { RunResult } from '../../harness/verdict/types.js';
import type { CaseComparison } from '../../harness/repro/repro.js';
import { testTempDir } from '../tmp.js';
import { rootOnly } from '../root.js';

const e2e = rootOnly('pinlab builds and boots kernels with host prerequisites only root can install');

const pinlab = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), ...args], { reject: false, all: true, timeout: 60 * 60_000, env: { FORCE_COLOR: '0', ...env } });

const readJson = <T>(f: string) => JSON.parse(readFileSync(f, 'utf8')) as T;

e2e('a failed case replays from its run directory and from a bundle with the same verdict', async (t) => {
  const tmp = testTempDir('pinlab-e2e-repro-');
  const runDir = join(tmp, 'run');
  const run = await pinlab(['run', '-p', 'stock-6.1', '-f', 'raw-virtio.psync.anon,!raw-virtio.psync.anon.*', '--run-dir', runDir]);
  t.is(run.exitCode, 0, run.all?.slice(-3000));
  const recorded = readJson<RunResult>(join(runDir, 'run.json')).verdicts[0]!;
  t.is(recorded.status, 'XFAIL');
  t.deepEqual(recorded.reasons, ['not-pinned']);

  // from the run directory, twice in one boot, on the cached kernel of its build key
  const again = await pinlab(['repro', runDir, '--times', '2', '--run-dir', join(tmp, 'again')]);
  t.is(again.exitCode, 0, again.all?.slice(-3000));
  t.regex(again.stdout, /on cached kernel [0-9a-f]{32}/);
  t.regex(again.stdout, /repro: 2 of 2 replays gave the recorded verdict/);

  // a bundle, replayed with a cache that has never seen this kernel
  const bundle = join(tmp, 'case.tar.zst');
  const made = await pinlab(['repro', '--bundle', runDir, '-o', bundle]);
  t.is(made.exitCode, 0, made.all?.slice(-3000));
  t.true(existsSync(bundle));
  const listing = (await execa('tar', ['--zstd', '-tf', bundle])).stdout.split('\n');
  for (const f of ['./bundle.json', './kernel/bzImage', './kernel/config', './workloads.json', './qemu-argv.json', './run/run.json', './run/vm/console.log']) {
    t.true(listing.includes(f), `bundle holds ${f}`);
  }
  const elsewhere = join(tmp, 'other-machine-cache');
  const replay = await pinlab(['repro', bundle, '--run-dir', join(tmp, 'replay')], { PINLAB_CACHE: elsewhere });
  t.is(replay.exitCode, 0, replay.all?.slice(-3000));
  const replayed = readJson<RunResult>(join(tmp, 'replay', 'run.json')).verdicts[0]!;
  t.is(replayed.status, recorded.status);
  t.deepEqual(replayed.reasons, recorded.reasons);
  t.is(readJson<RunResult>(join(tmp, 'replay', 'run.json')).kernel.buildKey, readJson<RunResult>(join(runDir, 'run.json')).kernel.buildKey);
  const cases = readJson<{ cases: CaseComparison[] }>(join(tmp, 'replay', 'repro.json')).cases;
  t.deepEqual(cases.map((c) => [c.name, c.same]), [['raw-virtio.psync.anon', true]]);
  t.false(existsSync(join(elsewhere, 'kernels')), 'the replay needed no kernel cache');
});
