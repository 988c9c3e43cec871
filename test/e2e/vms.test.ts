// --vms K: one kernel's suite split over two guests gives the verdicts, the report and the exit
// code a single guest gives (issue 26). The verdict sets are compared, not hard-coded.
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import type { RunResult } from '../../harness/verdict/types.js';
import { testTempDir } from '../tmp.js';
import { rootOnly } from '../root.js';

const e2e = rootOnly('pinlab builds and boots kernels with host prerequisites only root can install');

const FILTER = 'raw-virtio.psync*,ext4.psync*,raw-nvme.uring*,vfat.psync.anon';

e2e('--vms 2 and --vms 1: the same verdict set, the same exit code', async (t) => {
  t.timeout(30 * 60_000);
  const dir = testTempDir('pinlab-vms-');
  const run = (name: string, vms: number) =>
    execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), 'run', '-p', 'patched-6.1', '-f', FILTER, '--vms', String(vms), '--no-setup', '--run-dir', join(dir, name), '--json', join(dir, `${name}.json`)], {
      reject: false,
      all: true,
      timeout: 20 * 60_000,
      env: { FORCE_COLOR: '0' },
    });
  // one after the other: the comparison is about the split, not two runs sharing the cores
  const one = await run('one', 1);
  const two = await run('two', 2);
  const verdictSet = (name: string) =>
    (JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8')) as RunResult).verdicts.map((v) => `${v.name} ${v.status} ${[...v.reasons].sort().join('+')}${v.cause ? ` ${v.cause}` : ''}`).sort();
  t.is(two.exitCode, one.exitCode, `exit codes: ${one.all?.slice(-1500)}\n---\n${two.all?.slice(-1500)}`);
  const a = verdictSet('one');
  t.true(a.length >= 15, `${a.length} verdicts`);
  t.deepEqual(verdictSet('two'), a);
  // the split happened: a second guest with its own console and runner log
  t.false(existsSync(join(dir, 'one', 'vm.2')));
  t.true(existsSync(join(dir, 'two', 'vm.2', 'console.log')) || existsSync(join(dir, 'two', 'logs', 'runner.vm2.log')));
  t.regex(two.all ?? '', /workloads \(vm 2\/2\)/, 'progress names each guest');
  // the summary lines (counts, verdict) agree
  const summary = (s: string | undefined) => (s ?? '').split('\n').find((l) => / workloads on patched-6\.1 /.test(l));
  t.is(summary(two.all), summary(one.all));
});
