// Two `pinlab run` at once on one cache and one kernel: both succeed, and the cache they shared
// still checks out afterwards (kernel and guest image match their recorded content).
import { execa } from 'execa';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths, repoRoot } from '../../harness/config.js';
import { contentProblem, hasContentRecord } from '../../harness/cache-entry.js';
import type { RunResult } from '../../harness/verdict/types.js';
import { testTempDir } from '../tmp.js';
import { rootOnly } from '../root.js';

const e2e = rootOnly('pinlab builds and boots kernels with host prerequisites only root can install');

e2e('two pinlab runs at once on one cache and one kernel both pass', async (t) => {
  t.timeout(20 * 60_000);
  const dir = testTempDir('pinlab-conc-');
  const run = (name: string) =>
    execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), 'run', '-p', 'patched-6.1', '-f', 'raw-virtio.psync.anon,ext4.psync.anon,!*.anon.*', '--no-setup', '--run-dir', join(dir, name)], {
      reject: false,
      all: true,
      timeout: 15 * 60_000,
      env: { FORCE_COLOR: '0' },
    });
  const [a, b] = await Promise.all([run('a'), run('b')]);
  for (const [name, r] of [['a', a], ['b', b]] as const) {
    t.is(r.exitCode, 0, `${name}: ${r.all?.slice(-2000)}`);
    const result = JSON.parse(readFileSync(join(dir, name, 'run.json'), 'utf8')) as RunResult;
    t.deepEqual(result.verdicts.map((v) => `${v.name} ${v.status}`).sort(), ['ext4.psync.anon PASS', 'raw-virtio.psync.anon PASS']);
  }
  const key = (JSON.parse(readFileSync(join(dir, 'a', 'run.json'), 'utf8')) as RunResult).kernel.buildKey!;
  t.is(contentProblem(join(paths.kernels(), key)), undefined, 'the kernel entry checks out');
  // the image the runs used was checked (and recorded, if older) by their lookups
  const recorded = readdirSync(paths.images()).filter((n) => n.startsWith('base-') && hasContentRecord(join(paths.images(), n)));
  t.true(recorded.length > 0);
  for (const image of recorded) t.is(contentProblem(join(paths.images(), image)), undefined, `${image} checks out`);
});
