// Cache entries appear whole or not at all, and a lookup checks their recorded content.
// PINLAB_CACHE points at a temporary directory for this file's process (ava: one per file).
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTENT_FILE, contentProblem, publishEntry, recordContent } from '../../harness/cache-entry.js';
import { createContext } from '../../harness/context.js';
import { lookupArtifact, storeKernel, type KernelMeta } from '../../harness/kernel/build.js';
import { bootFormOf } from '../../harness/kernel/boot-form.js';
import { prepareImageKernel, PVH_KERNEL } from '../../harness/kernel/image.js';
import { stagingPath } from '../../harness/owner.js';
import { fakeImageKernel } from '../fake-image.js';
import { testTempDir } from '../tmp.js';

const cache = testTempDir('pinlab-cache-unit-');
process.env.PINLAB_CACHE = cache;

/** A file with a bzImage boot header ("HdrS" at 0x202) and some bytes. */
function fakeBzImage(dir: string, size = 64 * 1024): string {
  const b = Buffer.alloc(size, 0x5a);
  b.write('HdrS', 0x202, 'latin1');
  const f = join(dir, 'bzImage.src');
  writeFileSync(f, b);
  return f;
}

const meta = (key: string): KernelMeta => ({ key, identity: 'test', patches: [], configSha256: 'x', compiler: 'gcc', release: '6.1.0-test', builtAt: new Date(0).toISOString(), buildMs: 1 });

test('contentProblem finds a truncated and a corrupted file', (t) => {
  const dir = testTempDir('pinlab-entry-');
  writeFileSync(join(dir, 'a'), 'hello world\n');
  recordContent(dir, ['a']);
  t.is(contentProblem(dir), undefined);
  truncateSync(join(dir, 'a'), 5);
  t.regex(contentProblem(dir)!, /a has 5 bytes, 12 were recorded/);
  writeFileSync(join(dir, 'a'), 'hello WORLD\n');
  t.regex(contentProblem(dir)!, /does not match its recorded sha256/);
});

test('publishEntry keeps a good entry another writer published first, and replaces a bad one', (t) => {
  const root = testTempDir('pinlab-publish-');
  const final = join(root, 'entry');
  const write = (dir: string, text: string) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'f'), text);
    recordContent(dir, ['f']);
  };
  write(final, 'first');
  write(stagingPath(final), 'second');
  publishEntry(stagingPath(final), final);
  t.is(readFileSync(join(final, 'f'), 'utf8'), 'first');
  t.false(existsSync(stagingPath(final)));
  writeFileSync(join(final, 'f'), 'firXt'); // corrupted in place
  write(stagingPath(final), 'third');
  publishEntry(stagingPath(final), final);
  t.is(readFileSync(join(final, 'f'), 'utf8'), 'third');
});

test('a truncated cached kernel is not trusted: the lookup removes it, and a stored one is found again', (t) => {
  const src = testTempDir('pinlab-kernel-src-');
  const key = 'a'.repeat(32);
  storeKernel(key, { bzImage: fakeBzImage(src), configText: 'CONFIG_BLOCK=y\n', patches: [] }, meta(key));
  const hit = lookupArtifact(key, () => undefined);
  t.truthy(hit);
  truncateSync(hit!.bzImage, 1000);
  const logs: string[] = [];
  t.is(lookupArtifact(key, (m) => logs.push(m)), undefined);
  t.regex(logs.join('\n'), /bzImage has 1000 bytes/);
  t.false(existsSync(hit!.dir), 'the bad entry is gone, so the next build stores a fresh one');
  storeKernel(key, { bzImage: fakeBzImage(src), configText: 'CONFIG_BLOCK=y\n', patches: [] }, meta(key));
  t.truthy(lookupArtifact(key, () => undefined));
  t.deepEqual(readdirSync(join(cache, 'kernels')).filter((n) => n.includes('.tmp-')), [], 'no staging left');
});

test('a kernel entry from before content records is adopted when its bzImage has a boot header, removed when not', (t) => {
  const src = testTempDir('pinlab-kernel-src-');
  for (const [key, good] of [['b'.repeat(32), true], ['c'.repeat(32), false]] as const) {
    const dir = join(cache, 'kernels', key);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'bzImage'), good ? readFileSync(fakeBzImage(src)) : Buffer.alloc(4096));
    writeFileSync(join(dir, 'config'), '');
    writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta(key)));
    const hit = lookupArtifact(key, () => undefined);
    t.is(Boolean(hit), good, key);
    if (hit) t.false(bootFormOf(hit.bzImage).tcgSingleThread, 'a built kernel keeps multi-threaded TCG');
    t.is(existsSync(join(dir, 'content.json')), good, 'recorded from now on');
  }
});

test('an image kernel entry records modules.cpio and vmlinux.pvh: either truncated is found and the image unpacked again', async (t) => {
  const img = fakeImageKernel(testTempDir('pinlab-image-src-'));
  const logs: string[] = [];
  const ctx = createContext({ log: (m) => logs.push(m) });
  const ref = { kind: 'file', kernel: img.kernel, modules: img.modules } as const;
  const first = await prepareImageKernel(ref, ctx);
  t.false(first.cacheHit);
  const recorded = JSON.parse(readFileSync(join(first.dir, CONTENT_FILE), 'utf8')) as { files: Record<string, unknown> };
  t.deepEqual(Object.keys(recorded.files).sort(), ['bzImage', 'config', 'meta.json', 'modules.cpio', PVH_KERNEL].sort());
  t.deepEqual(readFileSync(join(first.dir, PVH_KERNEL)), img.elf, 'the payload decompressed on the host');
  const boot = bootFormOf(first.bzImage);
  t.is(boot.kernel, join(first.dir, PVH_KERNEL));
  t.deepEqual(boot.initrds, [join(first.dir, 'modules.cpio')]);
  t.true(boot.tcgSingleThread, 'boots under single-threaded TCG');
  for (const f of ['modules.cpio', PVH_KERNEL]) {
    const size = statSync(join(first.dir, f)).size;
    truncateSync(join(first.dir, f), 100);
    const again = await prepareImageKernel(ref, ctx);
    t.false(again.cacheHit, `${f} truncated: unpacked again`);
    t.regex(logs.join('\n'), new RegExp(`${f.replace('.', '\\.')} has 100 bytes`));
    t.is(statSync(join(again.dir, f)).size, size);
  }
  t.true((await prepareImageKernel(ref, ctx)).cacheHit);
  t.deepEqual(readdirSync(join(cache, 'kernels')).filter((n) => n.includes('.tmp-')), [], 'no staging left');
  t.deepEqual(await ctx.teardown.runAll(), []);
});
