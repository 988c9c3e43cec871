// Targets and hardware variants as data (workloads/targets.ts): one record drives the catalogue,
// the guest placement, the VM's devices and the config requirements.
import test from 'ava';
import { ALL_TARGETS, HW_VARIANTS, SMALL_MDTS_BYTES, disksOfTargets, targetRecord } from '../../harness/workloads/targets.js';
import { DEFAULT_SUITE, HW_SUITE, matchesFilter, selectWorkloads, suiteWithHw } from '../../harness/workloads/catalogue.js';
import { targetEnv } from '../../harness/guest/runner.js';
import { disksFor } from '../../harness/vm/session.js';
import { diskDevices, guestCmdline, qemuArgv, makeVmSpec } from '../../harness/vm/spec.js';
import { requirementsOf } from '../../harness/kernel/requirements.js';

const spec = (name: string) => {
  const s = HW_SUITE.find((w) => w.name === name);
  if (!s) throw new Error(`no workload ${name}`);
  return s;
};

test('every variant workload is named after its variant, carries it, and reaches only that variant`s targets', (t) => {
  t.true(HW_SUITE.length > 0);
  for (const v of HW_VARIANTS) {
    for (const w of HW_SUITE.filter((x) => x.hw === v.name)) {
      t.true(w.name.startsWith(`${v.name}.`), w.name);
      t.is(targetRecord(w.target).hw, v.name);
    }
  }
  t.true(DEFAULT_SUITE.every((w) => w.hw === undefined), 'the default suite runs on the default hardware');
  t.is(new Set([...DEFAULT_SUITE, ...HW_SUITE].map((w) => w.name)).size, DEFAULT_SUITE.length + HW_SUITE.length, 'names are unique');
  t.is(new Set(ALL_TARGETS.map((x) => x.name)).size, ALL_TARGETS.length);
});

test('--hw selects the default suite plus the named variants; all is every variant; a wrong name says the known ones', (t) => {
  t.is(suiteWithHw(['scsi']).length, DEFAULT_SUITE.length + HW_SUITE.filter((w) => w.hw === 'scsi').length);
  t.is(suiteWithHw(['all']).length, DEFAULT_SUITE.length + HW_SUITE.length);
  t.throws(() => suiteWithHw(['floppy']), { message: /unknown hardware variant 'floppy'.*nvme-mdts/ });
  t.true(matchesFilter('nvme-mdts.nvme-passthru.passthru.anon.over-limit', 'nvme-mdts'));
  t.deepEqual(selectWorkloads('nvme-mdts', undefined, suiteWithHw(['all'])).map((w) => w.hw), Array(4).fill('nvme-mdts'));
});

test('the VM gets the variant disks its workloads need, and only those', (t) => {
  const plain = disksFor('/r', DEFAULT_SUITE);
  // the default suite's workloads on reiserfs, zonefs, 4 KiB logical blocks and SCSI bring those disks
  t.deepEqual(plain.map((d) => d.id), ['raw-virtio', 'ext4', 'ext2', 'vfat', 'raw-nvme', 'reiserfs', 'zns', 'virtio-lbs4k', 'scsi-hd']);
  const noLbs4k = disksFor('/r', DEFAULT_SUITE.filter((w) => !['raw-lbs4k', 'sg-io', 'reiserfs', 'zonefs'].includes(w.target)));
  t.deepEqual(noLbs4k.map((d) => d.id), ['raw-virtio', 'ext4', 'ext2', 'vfat', 'raw-nvme']);
  const withNs = disksFor('/r', [spec('nvme-2ns.ns2.psync.anon')]);
  t.deepEqual(withNs.map((d) => d.id), ['raw-virtio', 'ext4', 'ext2', 'vfat', 'raw-nvme', 'nvme-ns1', 'nvme-ns2'], 'both namespaces of the controller');
  t.deepEqual(disksOfTargets(['loop4k.loop']).map((d) => d.id), ['ext4'], 'loop4k lives on the default ext4 disk');
});

test('QEMU devices: properties, one NVMe controller for two namespaces, one virtio-scsi host; the guest finds namespace 2 as SERIAL~2', (t) => {
  const disks = disksFor('/r', suiteWithHw(['all']));
  const devs = diskDevices(disks).filter((a) => a !== '-device');
  t.true(devs.some((d) => d.startsWith('virtio-blk-pci,') && d.includes('serial=pinlab-v4k,logical_block_size=4096,physical_block_size=4096')));
  t.true(devs.some((d) => d.startsWith('nvme,') && d.includes('serial=pinlab-nmdts,mdts=3')));
  t.is(devs.filter((d) => d.startsWith('nvme,id=nvme-n2ns,')).length, 1);
  // the zoned namespace (its own controller), then the two namespaces of one controller
  t.deepEqual(devs.filter((d) => d.startsWith('nvme-ns,')).map((d) => /nsid=(\d)/.exec(d)?.[1]), ['1', '1', '2']);
  t.is(devs.filter((d) => d.startsWith('nvme,id=nvme-zns,')).length, 1);
  t.true(devs.some((d) => d.startsWith('nvme-ns,') && d.includes('bus=nvme-zns') && d.includes('zoned=true,zoned.zone_size=4M')));
  t.is(devs.filter((d) => d === 'virtio-scsi-pci,id=scsi0').length, 1);
  t.true(devs.some((d) => d.startsWith('scsi-hd,') && d.includes('bus=scsi0.0') && d.includes('product=pinlab-scsi')));
  const words = guestCmdline(disks, []).join(' ');
  t.regex(words, /pinlab-n2ns:nvme-ns1:raw,pinlab-n2ns~2:nvme-ns2:raw/);
  // every -blockdev has its device
  const spec = makeVmSpec({ kernel: 'k', runDir: '/r', baseInitrd: 'i', disks, baseCmdline: [] });
  const argv = qemuArgv(spec);
  t.is(argv.filter((a) => a === '-blockdev').length, disks.length);
  for (let i = 0; i < disks.length; i++) t.true(argv.some((a) => a.includes(`drive=disk${i}`)), `disk${i} has a device`);
});

test('the guest places each kind of target from its record', (t) => {
  t.deepEqual(targetEnv(spec('scsi.sg-io.sg-io.anon')), { path: '/dev/pinlab/scsi-hd', diskProbe: '/dev/pinlab/scsi-hd' });
  t.deepEqual(targetEnv(spec('dm.crypt.psync.anon')).dm, { kind: 'crypt', lower: '/dev/pinlab/dm-crypt-lower', name: 'pinlab-dm-crypt' });
  t.is(targetEnv(spec('dm.linear.psync.anon')).path, '/dev/mapper/pinlab-dm-linear');
  const loop = targetEnv(spec('loop4k.loop.psync.anon'));
  t.is(loop.loopBlockSize, 4096);
  t.is(loop.fileSystem, '/mnt/ext4');
});

test('variant workloads: the over-limit passthrough exceeds MDTS, the 512-byte misalignment is aligned for 512 but not for 4 KiB, requirements name the drivers', (t) => {
  const over = spec('nvme-mdts.nvme-passthru.passthru.anon.over-limit');
  t.true(over.fault?.kind === 'over-limit' && over.fault.bytes > SMALL_MDTS_BYTES && over.blockSize <= SMALL_MDTS_BYTES);
  const mis = spec('virtio-lbs4k.raw.psync.anon.misaligned');
  t.deepEqual(mis.fault, { kind: 'misaligned', what: 'offset', by: 512 });
  t.false(mis.paths.flat().includes('bio_iov_iter_get_pages'), 'rejected before any page lookup: entry paths only');
  t.deepEqual(requirementsOf(spec('scsi.sg-io.sg-io.anon')).map((r) => r.symbol), ['CONFIG_SCSI_VIRTIO', 'CONFIG_BLK_DEV_SD']);
  t.true(requirementsOf(spec('dm.crypt.psync.anon')).some((r) => r.symbol === 'CONFIG_DM_CRYPT'));
});

test('pinlab check: a filter naming only variant workloads selects them; a default match keeps the default suite', async (t) => {
  const { checkRequest } = await import('../../harness/bisect/check.js');
  t.deepEqual(checkRequest({ filter: 'nvme-mdts.nvme-passthru.passthru.anon.over-limit' }).workloads.map((w) => w.hw), ['nvme-mdts']);
  t.true(checkRequest({ filter: 'psync' }).workloads.every((w) => w.hw === undefined));
});

test('a driver built as a module counts only when the guest loads it (prebuilt images): otherwise SKIP naming the module', async (t) => {
  const { partitionByConfig } = await import('../../harness/kernel/requirements.js');
  const sgio = spec('scsi.sg-io.sg-io.anon');
  const config = 'CONFIG_SCSI_VIRTIO=m\nCONFIG_BLK_DEV_SD=m\n';
  const skipped = partitionByConfig([sgio], config, ['virtio_blk', 'nvme']).skipped;
  t.is(skipped.length, 1);
  t.regex(skipped[0]!.skipReason ?? '', /CONFIG_SCSI_VIRTIO \(the virtio-scsi host: built as module virtio_scsi, which the guest does not load\)/);
  t.deepEqual(partitionByConfig([sgio], config, ['virtio_scsi', 'sd-mod']).runnable.map((w) => w.name), [sgio.name]);
  t.deepEqual(partitionByConfig([sgio], config).runnable.map((w) => w.name), [sgio.name], 'own builds: no module list, the config decides');
});

test('image kernels: pinlab.modules names the on-demand drivers the workloads need, and only those', async (t) => {
  const { onDemandWords } = await import('../../harness/vm/session.js');
  const { bootFormOf } = await import('../../harness/kernel/boot-form.js');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-ondemand-'));
  try {
    const kernel = join(dir, 'bzImage');
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ image: { modules: ['virtio_blk'], onDemandModules: ['virtio_scsi', 'sd_mod', 'dm_mod', 'dm_crypt', 'essiv'] } }));
    t.deepEqual(onDemandWords(bootFormOf(kernel), DEFAULT_SUITE), ['pinlab.modules=virtio_scsi,sd_mod'], "the default suite loads the SCSI drivers its SG_IO workload needs");
    t.deepEqual(onDemandWords(bootFormOf(kernel), DEFAULT_SUITE.filter((w) => w.engine !== 'sg-io')), [], 'nothing else of the default suite is on demand');
    t.deepEqual(onDemandWords(bootFormOf(kernel), [spec('scsi.raw.psync.anon')]), ['pinlab.modules=virtio_scsi,sd_mod']);
    t.deepEqual(onDemandWords(bootFormOf(kernel), [spec('dm.crypt.psync.anon')]), ['pinlab.modules=dm_mod,dm_crypt,essiv']);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ compiler: 'gcc' }));
    t.deepEqual(onDemandWords(bootFormOf(kernel), [spec('scsi.raw.psync.anon')]), [], "pinlab's own builds have the drivers built in");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write or read the host cannot store is an I/O error in the guest, never a paused VM: every virtio-blk and scsi-hd disk reports host errors', (t) => {
  const devs = diskDevices(disksFor('/r', suiteWithHw(['all']))).filter((a) => a !== '-device');
  const blockDevs = devs.filter((d) => d.startsWith('virtio-blk-pci,') || d.startsWith('scsi-hd,'));
  t.true(blockDevs.length >= 8);
  for (const d of blockDevs) t.regex(d, /,werror=report,rerror=report$/, d);
});
