// The cache on real file systems: a full disk while creating the guest image or storing a
// kernel is one clear HostError and leaves no entry a later run would trust; a corrupted cached
// image is rebuilt; two processes creating the same image at once both get a good one. Each test
// uses a cache of its own (PINLAB_CACHE in a child process, or a small tmpfs: root).
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { testTempDir } from '../tmp.js';
import { rootOnly } from '../root.js';

const asRoot = rootOnly('mounting a small tmpfs needs root');

/** The child process script that runs `body` against the dist modules. */
function script(body: string): string {
  return `
    const { createContext } = await import(${JSON.stringify(join(repoRoot, 'dist/harness/context.js'))});
    const image = await import(${JSON.stringify(join(repoRoot, 'dist/harness/vm/image.js'))});
    const build = await import(${JSON.stringify(join(repoRoot, 'dist/harness/kernel/build.js'))});
    const logs = [];
    const ctx = createContext({ log: (m) => logs.push(m) });
    let out;
    try { out = { ok: true, value: await (async () => { ${body} })() }; }
    catch (e) { out = { ok: false, name: e.name, message: e.message }; }
    await ctx.teardown.runAll();
    console.log(JSON.stringify({ ...out, logs }));`;
}

/** Run a snippet against the dist modules in a child process with its own cache. */
async function inCache(cache: string, body: string) {
  const r = await execa(process.execPath, ['--input-type=module', '-e', script(body)], { env: { PINLAB_CACHE: cache }, reject: false });
  if (r.exitCode !== 0) throw new Error(`child failed (${r.exitCode}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; value?: any; name?: string; message?: string; logs: string[] };
}

/** Entries under dir that a later run would look at (anything but nothing). */
const entries = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

async function withTmpfs(sizeKiB: number, fn: (dir: string) => Promise<void>) {
  const dir = testTempDir('pinlab-fullfs-');
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'pinlab-test', dir]);
  try {
    await fn(dir);
  } finally {
    await execa('umount', [dir], { reject: false });
  }
}

asRoot('a full disk while creating the guest image: one HostError line, no image entry, no staging left', async (t) => {
  await withTmpfs(4096, async (cache) => {
    const r = await inCache(cache, 'return await image.ensureBaseImage(ctx);');
    t.false(r.ok);
    t.is(r.name, 'HostError');
    t.regex(r.message!, /^building guest image \w+: no space left on device in \S+\/images$/);
    t.deepEqual(entries(join(cache, 'images')), [], 'nothing a later run would trust');
  });
});

asRoot('a full disk while storing a kernel: one HostError line, no kernel entry, no staging left', async (t) => {
  await withTmpfs(1024, async (cache) => {
    const big = join(testTempDir('pinlab-bz-'), 'bzImage');
    const b = Buffer.alloc(4 << 20, 1);
    b.write('HdrS', 0x202, 'latin1');
    writeFileSync(big, b);
    const key = 'd'.repeat(32);
    const r = await inCache(cache, `return build.storeKernel('${key}', { bzImage: ${JSON.stringify(big)}, configText: '', patches: [] }, { key: '${key}' });`);
    t.false(r.ok);
    t.is(r.name, 'HostError');
    t.regex(r.message!, /^storing kernel d+: no space left on device in \S+\/kernels$/);
    t.deepEqual(entries(join(cache, 'kernels')), []);
  });
});

test.serial('a corrupted cached guest image is detected and rebuilt', async (t) => {
  const cache = testTempDir('pinlab-cache-');
  const first = await inCache(cache, 'return await image.ensureBaseImage(ctx);');
  t.true(first.ok, first.message);
  const cpio = first.value.cpio as string;
  const good = readFileSync(cpio);
  const bad = Buffer.from(good);
  bad[bad.length >> 1] ^= 0xff; // same size, one byte flipped
  writeFileSync(cpio, bad);
  const again = await inCache(cache, 'return await image.ensureBaseImage(ctx);');
  t.true(again.ok, again.message);
  t.regex(again.logs.join('\n'), /removed guest image .*base\.cpio does not match its recorded sha256; building it again/);
  t.false(readFileSync(cpio).equals(bad), 'the corrupted bytes are gone');
  const check = await inCache(cache, "const { contentProblem } = await import(" + JSON.stringify(join(repoRoot, 'dist/harness/cache-entry.js')) + `); return contentProblem(${JSON.stringify(first.value.dir)}) ?? 'ok';`);
  t.is(check.value, 'ok', 'the rebuilt entry matches its record');
});

test.serial('two processes creating the same guest image at once both succeed with one good entry', async (t) => {
  const cache = testTempDir('pinlab-cache-');
  const [a, b] = await Promise.all([0, 1].map(() => inCache(cache, 'return await image.ensureBaseImage(ctx);')));
  t.true(a!.ok, a!.message);
  t.true(b!.ok, b!.message);
  t.is(a!.value.key, b!.value.key);
  t.deepEqual(entries(join(cache, 'images')), [`base-${a!.value.key}`], 'one entry, no staging left');
  const check = await inCache(cache, "const { contentProblem } = await import(" + JSON.stringify(join(repoRoot, 'dist/harness/cache-entry.js')) + `); return contentProblem(${JSON.stringify(join(cache, 'images', `base-${a!.value.key}`))}) ?? 'ok';`);
  t.is(check.value, 'ok');
});

test.serial('SIGKILL while the guest image is being created leaves only staging, which the next creation removes', async (t) => {
  const cache = testTempDir('pinlab-cache-');
  const staged: string[] = [];
  for (let i = 0; i < 5; i++) {
    const child = execa(process.execPath, ['--input-type=module', '-e', script('return await image.ensureBaseImage(ctx);')], { env: { PINLAB_CACHE: cache }, reject: false });
    // the image takes 1-2 s to create: wait until its staging directory exists, then kill
    for (let n = 0; n < 500 && !entries(join(cache, 'images')).some((e) => e.includes('.tmp-')); n++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 300)));
    child.kill('SIGKILL');
    await child;
    staged.push(...entries(join(cache, 'images')).filter((e) => e.includes('.tmp-')));
    // a kill before the rename leaves no entry; one after it leaves a whole one
    const check = await inCache(cache, `const { contentProblem } = await import(${JSON.stringify(join(repoRoot, 'dist/harness/cache-entry.js'))}); const fs = await import('node:fs'); const d = ${JSON.stringify(join(cache, 'images'))}; return fs.readdirSync(d).filter((e) => !e.includes('.tmp-')).map((e) => contentProblem(d + '/' + e) ?? 'ok');`);
    t.true((check.value as string[]).every((v) => v === 'ok'), `round ${i}: ${JSON.stringify(check.value)}`);
  }
  t.true(staged.length > 0, 'the kills landed while the image was being created');
  const next = await inCache(cache, 'return await image.ensureBaseImage(ctx);');
  t.true(next.ok, next.message);
  t.deepEqual(entries(join(cache, 'images')), [`base-${next.value.key}`], 'staging of the killed ones removed');
  t.true(next.logs.some((l) => /left by pinlab \d+, which is gone/.test(l)), 'the sweep says what it removed');
});
