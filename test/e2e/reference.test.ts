// Trees pinlab did not write, reached the way a bisect or a CI job reaches them: a pristine
// Debian 6.12 source imported into a git repository by this test (no profile name, no Debian
// identity: `--source git:REPO@REF`) must pass with 0 FAIL / 0 XFAIL; planted pin bugs on 6.12
// and on patched 6.1 (test/fixtures/planted/) must each be named by exactly the workloads on
// their path (a --patch on stock 6.1 is tested in suite.test.ts, after stock 6.1 is built).
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import type { RunResult, Verdict } from '../../harness/verdict/types.js';
import { HW_SUITE } from '../../harness/workloads/catalogue.js';
import { pristineRepo } from './pristine-6.12.js';
import { rootOnly } from '../root.js';

const e2e = rootOnly('pinlab setup needs apt-get');

async function pinlabRun(args: string[]): Promise<{ exitCode: number; result: RunResult; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-ref-'));
  const json = join(dir, 'run.json');
  try {
    const r = await execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), 'run', '--json', json, ...args], { reject: false, all: true, timeout: 60 * 60_000, env: { FORCE_COLOR: '0' } });
    if (!existsSync(json)) throw new Error(`pinlab run ${args.join(' ')} wrote no JSON (exit ${r.exitCode}):\n${r.all?.slice(-4000)}`);
    return { exitCode: r.exitCode ?? -1, result: JSON.parse(readFileSync(json, 'utf8')) as RunResult, out: r.all ?? '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const describe = (v: Verdict) => `${v.name}: ${v.status} ${v.reasons.join(',')} ${v.cause ?? ''} ${v.message}`;

e2e('6.12 reached as git:REPO@REF (no profile, no Debian identity): the whole suite and every hardware variant pass, 0 FAIL, 0 XFAIL', async (t) => {
  const repo = await pristineRepo();
  const { exitCode, result } = await pinlabRun(['--source', `git:${repo}@HEAD`, '--hw', 'all']);
  const hw = result.verdicts.filter((v) => HW_SUITE.some((w) => w.name === v.name));
  t.is(hw.length, HW_SUITE.length, 'every hardware-variant workload ran');
  t.deepEqual(hw.filter((v) => v.status !== 'PASS').map(describe), [], 'every hardware-variant workload passes');
  t.is(result.kernel.profile, undefined);
  t.regex(result.kernel.source, /^git:/);
  const bad = result.verdicts.filter((v) => v.status !== 'PASS' && v.status !== 'SKIP');
  t.deepEqual(bad.map(describe), [], 'a correct kernel is judged correct by what it did');
  t.is(exitCode, 0);
  // the fs/direct-io.c pins vmstat does not count (folio_add_pin, 6.5+) are a finding, not a failure
  const vfat = result.verdicts.find((v) => v.name === 'vfat.psync.anon')!;
  t.is(vfat.numbers?.evidence, 'kprobe-hist', describe(vfat));
  t.true((vfat.numbers?.uncountedPins ?? 0) > 0, `vfat: pins vmstat missed are reported (${describe(vfat)})`);
  t.is(vfat.numbers?.acquired, vfat.numbers?.released);
});

interface Planted {
  patch: string;
  kernel: 'git-6.12' | 'patched-6.1';
  filter: string;
  catches: string[];
  reasons: string[];
  /** hardware variants the run adds (--hw) */
  hw?: string[];
  /** pin-evidence calibration sources whose own path the bug sits on: a FAIL verdict of their own */
  calibration?: string[];
}

// one workload per path class next to the one the bug sits on: nothing else may fail
const PLANTED: Planted[] = [
  { patch: '6.12-dio-leak-unpin.patch', kernel: 'git-6.12', filter: 'vfat.psync.anon,raw-virtio.psync.anon,ext4.psync.anon', catches: ['vfat.psync.anon'], reasons: ['pin-leak'] },
  { patch: '6.12-fops-simple-over-release.patch', kernel: 'git-6.12', filter: 'raw-virtio.psync.anon,raw-virtio.libaio.anon,ext4.psync.anon', catches: ['raw-virtio.psync.anon'], reasons: ['over-released'], calibration: ['calibration.odirect-loop'] },
  { patch: '6.12-iomap-write-leak.patch', kernel: 'git-6.12', filter: 'ext4.psync.anon,ext4.uring-fixed.anon,raw-virtio.psync.anon,vfat.psync.anon', catches: ['ext4.psync.anon'], reasons: ['pin-leak'] },
  { patch: '6.12-bio-merge-leak.patch', kernel: 'git-6.12', filter: 'raw-virtio.psyncv.anon.subpage,ext4.psyncv.anon,raw-virtio.psync.thp', catches: ['raw-virtio.psyncv.anon.subpage', 'ext4.psyncv.anon.subpage'], reasons: ['pin-leak'] },
  { patch: '6.12-blkmap-unmap-leak.patch', kernel: 'git-6.12', filter: 'nvme-passthru.passthru.anon,raw-nvme.psync.anon', catches: ['nvme-passthru.passthru.anon'], reasons: ['pin-leak'] },
  // a page-reference leak, no pin: only the freed-frame check sees it (the pin counters balance)
  { patch: '6.12-pipe-overflow-ref-leak.patch', kernel: 'git-6.12', filter: 'ext4.vmsplice-write,raw-virtio.vmsplice-write', catches: ['ext4.vmsplice-write.anon.small-pipe'], reasons: ['pages-held'] },
  // a passthrough above the controller's limit fills a bio before the buffer ends: the leak of the
  // pages that did not fit shows on the small-MDTS variant and on the default controller's 2 MiB
  // over-limit command, nowhere else (passthrough within the limit stays balanced)
  { patch: 'blkmap-leftover-leak.patch', kernel: 'patched-6.1', hw: ['nvme-mdts'], filter: 'nvme-passthru,nvme-mdts', catches: ['nvme-mdts.nvme-passthru.passthru.anon.over-limit', 'nvme-passthru.passthru.anon.over-limit'], reasons: ['pin-leak'] },
  { patch: 'fops-simple-over-release.patch', kernel: 'patched-6.1', filter: 'raw-virtio.psync.anon,raw-virtio.libaio.anon,ext2.psync.anon', catches: ['raw-virtio.psync.anon'], reasons: ['over-released'], calibration: ['calibration.odirect-loop'] },
];

for (const p of PLANTED) {
  e2e(`planted ${p.patch} on ${p.kernel} is named by ${p.catches.join(', ')} and nothing else`, async (t) => {
    const kernel = p.kernel === 'git-6.12' ? ['--source', `git:${await pristineRepo()}@HEAD`] : ['-p', 'patched-6.1'];
    const { exitCode, result } = await pinlabRun([...kernel, '--patch', join(repoRoot, 'test/fixtures/planted', p.patch), '-f', p.filter, ...(p.hw ?? []).flatMap((h) => ['--hw', h])]);
    t.is(exitCode, 1, 'a planted pin bug fails the run');
    const onPath = (name: string) => p.catches.some((c) => name === c || name.startsWith(`${c}.`));
    for (const v of result.verdicts) {
      if (p.catches.includes(v.name)) {
        t.is(v.status, 'FAIL', describe(v));
        for (const r of p.reasons) t.true(v.reasons.includes(r as never), `${describe(v)} should include ${r}`);
        t.is(v.numbers?.evidence, 'kprobe-hist', describe(v));
      } else if (p.calibration?.includes(v.name)) {
        // the calibration's O_DIRECT read runs through the same block/fops.c path: its FAIL is a finding too
        t.is(v.status, 'FAIL', describe(v));
        for (const r of p.reasons) t.true(v.reasons.includes(r as never), `${describe(v)} should include ${r}`);
      } else if (!onPath(v.name)) {
        t.is(v.status, 'PASS', `${describe(v)} (the planted bug is not on this path)`);
      }
    }
  });
}

e2e('a leak where vmstat undercounts (6.12 fs/direct-io.c) is a leak, though the counters read over-released', async (t) => {
  const { result } = await pinlabRun(['--source', `git:${await pristineRepo()}@HEAD`, '--patch', join(repoRoot, 'test/fixtures/planted/6.12-dio-leak-unpin.patch'), '-f', 'vfat.psync.anon']);
  const v = result.verdicts.find((x) => x.name === 'vfat.psync.anon')!;
  // the leaked pins keep their pages too: the freed-frame check sees the same leak
  t.deepEqual(v.reasons, ['pages-held', 'pin-leak'], describe(v));
  const n = v.numbers!;
  t.true(n.vmstatReleased! > n.vmstatAcquired!, `vmstat alone would call it over-released: ${n.vmstatAcquired}/${n.vmstatReleased}`);
  t.true(n.acquired > n.released, `the evidence sees the leak: ${n.acquired}/${n.released}`);
});
