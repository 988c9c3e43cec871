// The zonefs super block pinlab writes on the host (no zonefs-tools in Debian) and the zoned disk
// and target a zonefs workload brings.
import test from 'ava';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32Kernel, writeZonefsSuper, ZONEFS_MAGIC, ZONEFS_SUPER_SIZE, zonefsSuper } from '../../harness/vm/mkzonefs.js';
import { planDisks } from '../../harness/vm/disks.js';
import { disksOfTargets, targetRecord, ZONE_MIB } from '../../harness/workloads/targets.js';
import { targetEnv } from '../../harness/guest/runner.js';
import { DEFAULT_SUITE } from '../../harness/workloads/catalogue.js';
import { testTempDir } from '../tmp.js';

test("the kernel's crc32(~0, ...) is zlib's CRC-32 without the final inversion", (t) => {
  // the CRC-32 check value of "123456789" is 0xCBF43926 (with both inversions)
  t.is((crc32Kernel(0xffffffff, Buffer.from('123456789')) ^ 0xffffffff) >>> 0, 0xcbf43926);
});

test('the super block carries the magic, the label and uuid, and a checksum over itself with s_crc zeroed', (t) => {
  const uuid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  const sb = zonefsSuper('pinlab', uuid);
  t.is(sb.length, ZONEFS_SUPER_SIZE);
  t.is(sb.readUInt32LE(0), ZONEFS_MAGIC);
  t.is(sb.toString('latin1', 8, 14), 'pinlab');
  t.deepEqual(sb.subarray(72, 88), uuid);
  t.is(sb.readBigUInt64LE(88), 0n, 'no features');
  const zeroed = Buffer.from(sb);
  zeroed.writeUInt32LE(0, 4);
  t.is(sb.readUInt32LE(4), crc32Kernel(0xffffffff, zeroed));
  const other = zonefsSuper('pinlab', Buffer.alloc(16, 1));
  t.not(other.readUInt32LE(4), sb.readUInt32LE(4), 'the checksum covers the uuid');
});

test('writeZonefsSuper writes block 0 of the disk file and nothing else', (t) => {
  const file = join(testTempDir('pinlab-zonefs-'), 'disk.raw');
  writeFileSync(file, Buffer.alloc(3 * ZONEFS_SUPER_SIZE, 0xee));
  writeZonefsSuper(file);
  const d = readFileSync(file);
  t.is(d.length, 3 * ZONEFS_SUPER_SIZE);
  t.is(d.readUInt32LE(0), ZONEFS_MAGIC);
  t.true(d.subarray(ZONEFS_SUPER_SIZE).every((b) => b === 0xee));
  closeSync(openSync(file, 'r'));
});

test('a zonefs workload brings the zoned NVMe namespace, formatted by mkzonefs, and appends to the first sequential file', (t) => {
  const w = DEFAULT_SUITE.find((x) => x.target === 'zonefs');
  t.truthy(w, 'the default suite has a zonefs workload');
  const disks = disksOfTargets(['zonefs']);
  t.deepEqual(disks.map((d) => d.id), ['zns']);
  t.is(disks[0]!.props?.zoned, 'true');
  t.is(disks[0]!.props?.['zoned.zone_size'], `${ZONE_MIB}M`);
  const steps = planDisks([{ ...disks[0]!, format: 'raw', file: '/r/disk-zns.raw', sizeMiB: 256 }]);
  t.true(steps.some((s) => s.argv.some((a) => a.endsWith('mkzonefs.js')) && s.argv.at(-1) === '/r/disk-zns.raw'));
  t.is(256 % ZONE_MIB, 0, 'the disk is whole zones');
  const env = targetEnv(w!);
  t.true(env.zoned);
  t.true(env.path.endsWith('/seq/0'));
  t.true(targetRecord('zonefs').requires.some((r) => r.symbol === 'CONFIG_ZONEFS_FS'));
  t.true(w!.size <= ZONE_MIB * 2 ** 20, 'the workload fits one zone');
});
