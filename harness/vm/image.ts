// The guest userspace: a cached base initramfs built from images/recipe.json (busybox, sshd,
// node, their shared libraries, the init script), plus an optional "tools" tree shared over 9p
// for big, rarely used binaries (fio and its ~80 MB of libraries). The cache key is the hash of
// the recipe files and the identity (path, size, mtime) of every host file copied in, so a
// package upgrade on the host rebuilds the image. Per-run secrets go in a separate small cpio.
import { createHash } from 'node:crypto';
import { chmod, copyFile, lstat, mkdir, open, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { paths } from '../config.js';
import { cpioStep } from '../cpio.js';
import { runStep } from '../exec.js';
import type { RunContext } from '../context.js';
import type { ShareSpec } from './spec.js';
import { contentProblem, hasContentRecord, isNoSpace, noSpaceError, publishEntry, recordContent } from '../cache-entry.js';
import { stagingPath, sweepStaging } from '../owner.js';

/** Bump when the builder's output layout changes. */
const BUILDER_VERSION = 3;
export const TOOLS_TAG = 'pinlab-tools';
export const TOOLS_GUEST_PATH = '/tools';

type Placement = 'cpio' | 'tools';

interface RecipeBinary {
  path: string;
  place: Placement;
  package?: string;
  /** guest path, when not the host path */
  as?: string;
}

interface Recipe {
  binaries: RecipeBinary[];
  files: { src: string; dest: string; mode: string }[];
  dirs: string[];
}

export interface BaseImage {
  key: string;
  dir: string;
  /** the base initramfs (uncompressed newc cpio) */
  cpio: string;
  /** host directory to share at /tools, when the recipe places anything there */
  toolsDir?: string;
  sizeBytes: number;
}

/** One host file the image copies, with where it goes in the guest. */
interface PlannedFile {
  host: string;
  guest: string;
  place: Placement;
}

export async function loadRecipe(dir = paths.imagesDir()): Promise<Recipe> {
  return JSON.parse(await readFile(join(dir, 'recipe.json'), 'utf8')) as Recipe;
}

/** Debian has a merged /usr: name every guest path under /usr so one tree serves both. */
export function usrPath(p: string): string {
  return /^\/(bin|sbin|lib|lib64)\//.test(p) ? `/usr${p}` : p;
}

/** Shared libraries from `ldd` output (empty for static binaries). Pure. */
export function parseLdd(output: string): string[] {
  const libs: string[] = [];
  for (const line of output.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    if (arrow) libs.push(arrow[1]!);
    else {
      const bare = /^\s*(\/\S+)\s+\(0x/.exec(line);
      if (bare) libs.push(bare[1]!);
    }
  }
  return libs;
}

async function planFiles(recipe: Recipe, ctx: RunContext): Promise<PlannedFile[]> {
  const byGuest = new Map<string, PlannedFile>();
  // cpio binaries first: a library both need then lives in the initramfs
  const ordered = [...recipe.binaries].sort((a, b) => (a.place === b.place ? 0 : a.place === 'cpio' ? -1 : 1));
  for (const bin of ordered) {
    const guest = usrPath(bin.as ?? bin.path);
    if (!byGuest.has(guest)) byGuest.set(guest, { host: bin.path, guest, place: bin.place });
    const ldd = await runStep({ phase: 'vm:image:ldd', argv: ['ldd', bin.path], timeoutMs: 30_000 }, { signal: ctx.signal, allowFailure: true });
    for (const lib of parseLdd(ldd.stdout)) {
      const g = usrPath(lib);
      if (!byGuest.has(g)) byGuest.set(g, { host: lib, guest: g, place: bin.place });
    }
  }
  return [...byGuest.values()].sort((a, b) => a.guest.localeCompare(b.guest));
}

async function imageKey(recipe: Recipe, files: PlannedFile[]): Promise<string> {
  const h = createHash('sha256');
  h.update(`builder ${BUILDER_VERSION}\n`);
  h.update(JSON.stringify(recipe));
  for (const f of recipe.files) h.update(await readFile(join(paths.imagesDir(), f.src)));
  for (const f of files) {
    const real = await realpath(f.host);
    const st = await stat(real);
    h.update(`${f.guest} ${f.place} ${real} ${st.size} ${st.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

// cpio.ts is where the step is planned now; VM code that imports it from here keeps working
export { cpioStep };

async function place(root: string, guestPath: string): Promise<string> {
  const dest = join(root, guestPath);
  await mkdir(dirname(dest), { recursive: true });
  return dest;
}

async function buildInto(dir: string, recipe: Recipe, files: PlannedFile[], ctx: RunContext): Promise<void> {
  const tree = join(dir, 'tree');
  const tools = join(dir, 'tools');
  for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64']) await mkdir(join(tree, d), { recursive: true });
  for (const d of ['bin', 'sbin', 'lib', 'lib64']) await symlink(`usr/${d}`, join(tree, d));
  for (const d of recipe.dirs) await mkdir(join(tree, d), { recursive: true });
  await chmod(join(tree, 'tmp'), 0o1777);

  for (const f of files) {
    const src = await realpath(f.host);
    if (f.place === 'cpio') {
      await copyFile(src, await place(tree, f.guest));
    } else {
      await copyFile(src, await place(tools, f.guest));
      await symlink(join(TOOLS_GUEST_PATH, f.guest), await place(tree, f.guest));
    }
  }
  for (const f of recipe.files) {
    const dest = await place(tree, f.dest);
    await copyFile(join(paths.imagesDir(), f.src), dest);
    await chmod(dest, parseInt(f.mode, 8));
  }

  // busybox applets as symlinks, never over a real binary (sshd, node ...) nor over a tool's
  // link (mke2fs), which points into /tools and so dangles on the host: lstat, not exists
  const list = await runStep({ phase: 'vm:image:busybox', argv: [join(tree, 'usr/bin/busybox'), '--list-full'], timeoutMs: 10_000 }, { signal: ctx.signal });
  for (const applet of list.stdout.split('\n').filter(Boolean)) {
    const dest = join(tree, usrPath(`/${applet}`));
    if (await lstat(dest).then(() => true, () => false)) continue;
    await mkdir(dirname(dest), { recursive: true });
    await symlink('/usr/bin/busybox', dest);
  }

  await runStep(await cpioStep(tree, join(dir, 'base.cpio'), 'vm:image:cpio'), { signal: ctx.signal });
  await rm(tree, { recursive: true, force: true });
}

/** What a later run trusts in an image entry (size and sha256, checked on every lookup). */
const IMAGE_CONTENT = ['base.cpio', 'manifest.json'];

/**
 * The size of the entry's base.cpio when the entry can be trusted; otherwise the entry is removed
 * (truncated, corrupted, half-written) and undefined says: build it. Entries from before content
 * records are checked against their manifest's size and the cpio magic, then recorded.
 */
async function checkedImage(dir: string, ctx: RunContext): Promise<number | undefined> {
  if (!existsSync(join(dir, 'manifest.json'))) return undefined;
  let problem: string | undefined;
  try {
    if (hasContentRecord(dir)) problem = contentProblem(dir);
    else {
      const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { sizeBytes?: number };
      const fh = await open(join(dir, 'base.cpio'), 'r');
      const magic = Buffer.alloc(6);
      await fh.read(magic, 0, 6, 0);
      const size = (await fh.stat()).size;
      await fh.close();
      if (magic.toString('latin1') !== '070701' || size !== manifest.sizeBytes) problem = `base.cpio has ${size} bytes, the manifest says ${manifest.sizeBytes}`;
      else recordContent(dir, IMAGE_CONTENT);
    }
  } catch (e) {
    problem ??= `unreadable: ${(e as Error).message}`;
  }
  if (problem) {
    ctx.log(`vm: removed guest image ${dir}: ${problem}; building it again`);
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  return (await stat(join(dir, 'base.cpio'))).size;
}

/** The cached base image for the current recipe and host binaries; built when missing. */
export async function ensureBaseImage(ctx: RunContext): Promise<BaseImage> {
  const recipe = await loadRecipe();
  const files = await planFiles(recipe, ctx);
  const key = await imageKey(recipe, files);
  const dir = join(paths.images(), `base-${key}`);
  const hasTools = files.some((f) => f.place === 'tools');
  const image = (sizeBytes: number): BaseImage => ({
    key,
    dir,
    cpio: join(dir, 'base.cpio'),
    toolsDir: hasTools ? join(dir, 'tools') : undefined,
    sizeBytes,
  });
  // what a creation killed half-way left (its owner is gone)
  sweepStaging(paths.images(), ctx.log);
  const trusted = await checkedImage(dir, ctx);
  if (trusted !== undefined) return image(trusted);

  ctx.log(`vm: building guest image ${key} (recipe images/recipe.json)`);
  const t0 = Date.now();
  const tmp = stagingPath(dir);
  const removeTmp = ctx.teardown.add(`vm:image:staging ${tmp}`, () => rm(tmp, { recursive: true, force: true }));
  let sizeBytes: number;
  try {
    await mkdir(tmp, { recursive: true });
    await buildInto(tmp, recipe, files, ctx);
    sizeBytes = (await stat(join(tmp, 'base.cpio'))).size;
    await writeFile(
      join(tmp, 'manifest.json'),
      `${JSON.stringify({ key, builtAt: new Date().toISOString(), buildMs: Date.now() - t0, sizeBytes, files }, null, 2)}\n`,
    );
    recordContent(tmp, IMAGE_CONTENT);
    // another run may have built the same key meanwhile: publishEntry keeps a good one
    publishEntry(tmp, dir);
  } catch (error) {
    await removeTmp();
    if (isNoSpace(error)) throw noSpaceError(`building guest image ${key}`, paths.images(), error);
    throw error;
  }
  await removeTmp();
  ctx.log(`vm: guest image ${key}: ${(sizeBytes / 1e6).toFixed(0)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return image(sizeBytes);
}

export function toolsShare(image: BaseImage): ShareSpec | undefined {
  return image.toolsDir ? { hostPath: image.toolsDir, tag: TOOLS_TAG, guestPath: TOOLS_GUEST_PATH, readonly: true } : undefined;
}

export interface RunSecrets {
  /** OpenSSH public key line for root's authorized_keys */
  authorizedKey: string;
  /** the guest's private host key file (OpenSSH format) */
  hostKeyFile: string;
}

/** The per-run cpio (appended after the base): the client's public key and the guest host key. */
export async function writeRunCpio(tree: string, out: string, secrets: RunSecrets, ctx: RunContext): Promise<void> {
  await mkdir(join(tree, 'etc/ssh'), { recursive: true, mode: 0o700 });
  await writeFile(join(tree, 'etc/ssh/authorized_keys'), `${secrets.authorizedKey.trim()}\n`, { mode: 0o600 });
  await copyFile(secrets.hostKeyFile, join(tree, 'etc/ssh/ssh_host_ed25519_key'));
  await chmod(join(tree, 'etc/ssh/ssh_host_ed25519_key'), 0o600);
  await chmod(join(tree, 'etc/ssh'), 0o755);
  await runStep(await cpioStep(tree, out, 'vm:image:run-cpio'), { signal: ctx.signal });
}

/** For `pinlab doctor` and README: what the cached image holds. */
export async function describeImage(image: BaseImage): Promise<string> {
  const tools = image.toolsDir && (await lstat(image.toolsDir).catch(() => undefined)) ? `, tools tree ${image.toolsDir}` : '';
  return `guest image ${image.key}: ${(image.sizeBytes / 1e6).toFixed(0)} MB initramfs ${image.cpio}${tools}`;
}
