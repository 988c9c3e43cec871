// A repro bundle round trip without booting: written with tar --zstd, unpacked, every file's
// sha256 checked, read back as a prebuilt kernel + specs + the recorded run.
import test from 'ava';
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { createContext } from '../../harness/context.js';
import type { KernelArtifact, KernelMeta } from '../../harness/kernel/build.js';
import { bootFormOf } from '../../harness/kernel/boot-form.js';
import { prepareImageKernel, PVH_KERNEL, type ImageMeta } from '../../harness/kernel/image.js';
import { BUNDLE_FILES, openBundle, planPack, planUnpack, recipeSha256, writeBundle } from '../../harness/repro/bundle.js';
import { parseRunJson } from '../../harness/report/json.js';
import { DEFAULT_SUITE } from '../../harness/workloads/catalogue.js';
import { fakeImageKernel, FAKE_RELEASE } from '../fake-image.js';
import { testTempDir } from '../tmp.js';

process.env.PINLAB_CACHE = testTempDir('pinlab-cache-bundle-');

function fakeKernel(): KernelArtifact {
  const dir = testTempDir('pinlab-kernel-');
  mkdirSync(join(dir, 'patches'));
  writeFileSync(join(dir, 'bzImage'), Buffer.alloc(4096, 7));
  writeFileSync(join(dir, 'config'), 'CONFIG_X=y\n');
  // application order is not alphabetical here: the bundle must keep it
  writeFileSync(join(dir, 'patches', 'b-first.patch'), 'diff --git a/b b/b\n');
  writeFileSync(join(dir, 'patches', 'a-second.patch'), 'diff --git a/a b/a\n');
  const meta = {
    key: 'f'.repeat(32),
    identity: 'debian:linux-source-6.1=6.1.192-2',
    patches: [
      { name: 'b-first.patch', sha256: 'x' },
      { name: 'a-second.patch', sha256: 'y' },
    ],
    configSha256: 'c',
    compiler: 'gcc 12',
    release: '6.1.192+',
    builtAt: '',
    buildMs: 0,
  } satisfies KernelMeta;
  return { key: meta.key, dir, bzImage: join(dir, 'bzImage'), config: join(dir, 'config'), meta, cacheHit: true, durationMs: 0 };
}

test('tar --zstd argv', (t) => {
  t.deepEqual(planPack('/s', '/o/b.tar.zst').argv, ['tar', '--zstd', '-cf', '/o/b.tar.zst', '-C', '/s', '.']);
  t.deepEqual(planUnpack('/o/b.tar.zst', '/d').argv, ['tar', '--zstd', '-xf', '/o/b.tar.zst', '-C', '/d']);
  t.regex(recipeSha256(), /^[0-9a-f]{64}$/);
});

test('a bundle round-trips, and a changed file is refused', async (t) => {
  const run = testTempDir('pinlab-run-');
  copyFileSync(join(repoRoot, 'test/fixtures/report/recorded-small/run.json'), join(run, 'run.json'));
  writeFileSync(join(run, 'meta.json'), '{"request":{}}');
  mkdirSync(join(run, 'vm'));
  writeFileSync(join(run, 'vm', 'console.log'), 'Linux version 6.1\n');
  mkdirSync(join(run, 'observations'));
  writeFileSync(join(run, 'observations', 'vfat.psync.anon.json'), '{}');
  writeFileSync(join(run, 'observations', 'raw-virtio.psync.anon.json'), '{}');
  const result = parseRunJson(readFileSync(join(run, 'run.json'), 'utf8'));
  const specs = DEFAULT_SUITE.filter((s) => s.name === 'vfat.psync.anon');
  const out = join(testTempDir('pinlab-out-'), 'case.tar.zst');
  const ctx = createContext();
  const manifest = await writeBundle(
    {
      run: { dir: run, result },
      artifact: fakeKernel(),
      request: { profile: 'stock-6.1', source: { kind: 'debian', pkg: 'linux-source-6.1', tarball: '/t' }, series: false, cmdline: ['quiet'], strict: false },
      specs,
      image: { recipeSha256: recipeSha256(), key: 'img' },
      qemuArgv: ['qemu-system-x86_64', '-kernel', 'bzImage'],
    },
    out,
    ctx,
  );
  t.deepEqual(manifest.cases, ['vfat.psync.anon']);
  t.truthy(manifest.files[BUNDLE_FILES.bzImage]);
  t.truthy(manifest.files['run/vm/console.log']);
  t.truthy(manifest.files['run/observations/vfat.psync.anon.json']);
  t.falsy(manifest.files['run/observations/raw-virtio.psync.anon.json'], 'only the bundled cases');

  const opened = await openBundle(out, ctx);
  t.is(opened.artifact.key, 'f'.repeat(32));
  t.true(existsSync(opened.artifact.bzImage));
  t.deepEqual(opened.patchFiles.map((p) => p.split('/').pop()), ['b-first.patch', 'a-second.patch']);
  t.deepEqual(opened.specs.map((s) => s.name), ['vfat.psync.anon']);
  t.is(opened.recorded.runId, result.runId);
  t.is(opened.manifest.request.profile, 'stock-6.1');

  // tamper: unpack, change the bzImage, repack
  const tmp = testTempDir('pinlab-tamper-');
  await execa('tar', ['--zstd', '-xf', out, '-C', tmp]);
  writeFileSync(join(tmp, BUNDLE_FILES.bzImage), 'not the kernel');
  const bad = join(tmp, '..', `${tmp.split('/').pop()}.tar.zst`);
  await execa('tar', ['--zstd', '-cf', bad, '-C', tmp, '.']);
  await t.throwsAsync(openBundle(bad, ctx), { message: /1 file\(s\) missing or changed: kernel\/bzImage/ });
  await t.throwsAsync(openBundle(join(tmp, 'nope.tar.zst'), ctx), { message: /no such bundle/ });
  const failures = await ctx.teardown.runAll();
  t.deepEqual(failures, []);
  rmSync(tmp, { recursive: true, force: true });
  rmSync(bad, { force: true });
});

test('a bundle of an image kernel carries its modules and identity, and boots as the run did without the cache', async (t) => {
  const ctx = createContext({ log: () => undefined });
  const img = fakeImageKernel(testTempDir('pinlab-image-src-'));
  const artifact = await prepareImageKernel({ kind: 'file', kernel: img.kernel, modules: img.modules }, ctx);
  const run = testTempDir('pinlab-run-');
  copyFileSync(join(repoRoot, 'test/fixtures/report/recorded-small/run.json'), join(run, 'run.json'));
  const recorded = parseRunJson(readFileSync(join(run, 'run.json'), 'utf8'));
  const kernel = { ...recorded.kernel, profile: 'debian-image:linux-image-6.1.0-99-amd64', source: 'debian-image:linux-image-6.1.0-99-amd64=6.1.999-1', release: FAKE_RELEASE, patches: [], buildKey: artifact.key };
  const out = join(testTempDir('pinlab-out-'), 'image.tar.zst');
  const manifest = await writeBundle(
    {
      run: { dir: run, result: { ...recorded, kernel } },
      artifact,
      request: { profile: kernel.profile, source: { kind: 'image', image: { kind: 'debian', pkg: 'linux-image-6.1.0-99-amd64' } }, series: false, cmdline: [], strict: false },
      specs: DEFAULT_SUITE.filter((s) => s.name === 'raw-virtio.psync.anon'),
      image: { recipeSha256: recipeSha256(), key: 'img' },
      qemuArgv: [],
    },
    out,
    ctx,
  );
  t.is(manifest.kernel.source, 'debian-image:linux-image-6.1.0-99-amd64=6.1.999-1', 'package and version: what known states match');
  t.is(manifest.release, FAKE_RELEASE);
  t.is(manifest.buildKey, artifact.key);
  t.truthy(manifest.files[BUNDLE_FILES.modules], 'the modules travel with the kernel');
  t.falsy(manifest.files[`kernel/${PVH_KERNEL}`], 'derived from the bzImage, not carried');
  t.deepEqual(manifest.request.source, { kind: 'image', image: { kind: 'debian', pkg: 'linux-image-6.1.0-99-amd64' } });

  // replayed with an empty cache: nothing but the bundle
  process.env.PINLAB_CACHE = testTempDir('pinlab-cache-empty-');
  const opened = await openBundle(out, ctx);
  const meta = (opened.artifact.meta as ImageMeta).image;
  t.is(meta.fileSha256, (artifact.meta as ImageMeta).image.fileSha256);
  t.true(meta.pvh);
  t.deepEqual(bootFormOf(opened.artifact.bzImage).initrds, [join(opened.dir, BUNDLE_FILES.modules)]);
  t.is(bootFormOf(opened.artifact.bzImage).kernel, join(opened.dir, 'kernel', PVH_KERNEL), 'vmlinux.pvh written again beside the bzImage');
  t.deepEqual(readFileSync(join(opened.dir, 'kernel', PVH_KERNEL)), img.elf);
  t.deepEqual(await ctx.teardown.runAll(), []);
});
