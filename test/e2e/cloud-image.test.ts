// Debian's cloud flavour has no 9p (CONFIG_NET_9P unset): the guest's Node, tools and runner
// travel in the initramfs (harness/vm/carry.ts). Pinned versions, as in debian-image.test.ts; the
// truth is the generic flavour's: 6.1 takes page references (XFAIL not-pinned), 6.12 pins (PASS),
// and what the config lacks SKIPs naming the symbol. Before carry.ts every workload was
// "ERROR guest: node: not found". Run as a matrix with two VMs at once (--vms 2).
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import type { RunResult } from '../../harness/verdict/types.js';
import { testTempDir } from '../tmp.js';
import { rootOnly } from '../root.js';

const e2e = rootOnly('apt-get download into the cache, pinlab setup');

const CLOUD = {
  '6.1': 'debian-image:linux-image-6.1.0-57-cloud-amd64=6.1.192-3',
  '6.12': 'debian-image:linux-image-6.12.118+deb12-cloud-amd64=6.12.118-1~deb12u1',
} as const;

e2e('the cloud flavour of 6.1 and 6.12 runs without 9p and is judged like the generic one', async (t) => {
  t.timeout(40 * 60_000);
  const dir = testTempDir('pinlab-cloud-');
  const json = join(dir, 'runs.json');
  const r = await execa(
    process.execPath,
    [join(repoRoot, 'bin/pinlab.js'), 'run', '-p', CLOUD['6.1'], '-p', CLOUD['6.12'], '-f', 'raw-virtio.psync.anon,ext4.psync.anon,ext2.psync.anon', '--vms', '2', '--json', json],
    { reject: false, all: true, timeout: 30 * 60_000, env: { FORCE_COLOR: '0' } },
  );
  t.false((r.all ?? '').includes('node: not found'), r.all?.slice(-3000));
  // a matrix writes its results as an array, in the order of the -p options
  const parsed = JSON.parse(readFileSync(json, 'utf8')) as RunResult | RunResult[];
  const results = Array.isArray(parsed) ? parsed : [parsed];
  t.is(results.length, 2, r.all?.slice(-3000));
  const [v61, v612] = results.map((x) => Object.fromEntries(x.verdicts.map((v) => [v.name, v])));
  t.regex(results[0]!.kernel.release ?? '', /cloud-amd64$/);
  t.regex(results[1]!.kernel.release ?? '', /cloud-amd64$/);
  for (const name of ['raw-virtio.psync.anon', 'ext4.psync.anon']) {
    t.is(v61![name]?.status, 'XFAIL', `6.1 ${name}: ${v61![name]?.message}`);
    t.true(v61![name]?.reasons.includes('not-pinned'));
    t.is(v612![name]?.status, 'PASS', `6.12 ${name}: ${v612![name]?.message}`);
  }
  for (const v of [v61!, v612!]) {
    t.is(v['ext2.psync.anon']?.status, 'SKIP');
    t.regex(v['ext2.psync.anon']?.skipReason ?? '', /CONFIG_EXT2_FS/);
  }
  t.is(r.exitCode, 0, r.all?.slice(-3000));
});
