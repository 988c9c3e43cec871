// Prebuilt kernels, booted as shipped: Debian's linux-image packages (fetched with
// `apt-get download`, nothing installed on the host) and any bzImage with its lib/modules tree.
// An image becomes a cached KernelArtifact like a built kernel (bzImage, config, meta.json under
// paths.kernels()/KEY, KEY from the package's bytes), plus modules.cpio: the modules the guest
// needs (drivers for its disks, channel and shares; the file systems under test), closed over
// modules.dep, decompressed, with /etc/pinlab-modules naming what the guest init modprobes.
// The pieces: debian-images.ts (profile spelling, apt), bzimage.ts (header, PVH kernel),
// image-modules.ts (module plan, modules.cpio); this file unpacks and caches the artifact.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { isNoSpace, noSpaceError, publishEntry, recordContent } from '../cache-entry.js';
import { paths, type ImageRef } from '../config.js';
import type { RunContext } from '../context.js';
import { UserError } from '../errors.js';
import { runStep } from '../exec.js';
import { withLock } from '../lock.js';
import { stagingPath, sweepStaging } from '../owner.js';
import { lookupArtifact, PVH_KERNEL, type KernelArtifact, type KernelMeta } from './build.js';
import { bzImageRelease, writePvhKernel } from './bzimage.js';
import { DEBIAN_IMAGE_PREFIX, fetchDebianPackage } from './debian-images.js';
import { buildModulesCpio, GUEST_MODULES, ON_DEMAND_MODULES, type ModulePlan } from './image-modules.js';
import { sha256 } from '../hash.js';

/** Where built image kernels record what they are (meta.json, beside KernelMeta's fields). */
export interface ImageMeta extends KernelMeta {
  image: {
    /** Debian package name and version, or the kernel file for --kernel */
    package?: string;
    version?: string;
    file: string;
    fileSha256: string;
    /** modules the guest loads (not built in), in load order */
    modules: string[];
    /** wanted modules this kernel has neither built in nor as a module */
    missingModules: string[];
    /** ON_DEMAND_MODULES this kernel has as modules: in the cpio, loaded when the VM needs them */
    onDemandModules?: string[];
    /** booted through PVH from the host-decompressed kernel (vmlinux.pvh) */
    pvh?: boolean;
  };
}

/** The identity string of an image kernel (KernelIdentity.source, known-state matchers). */
export function imageIdentity(ref: ImageRef, fileSha256: string, version?: string): string {
  if (ref.kind === 'debian') return `${DEBIAN_IMAGE_PREFIX}${ref.pkg}=${version ?? ref.version ?? '?'}`;
  return `image:${basename(ref.kernel)}@sha256:${fileSha256.slice(0, 16)}`;
}

/** Where the host-decompressed kernel of an image is kept, beside its bzImage (as for built kernels). */
export { PVH_KERNEL };

/**
 * The files of an image entry a lookup checks against their recorded size and sha256
 * (cache-entry.ts), those of them the entry has: a truncated modules.cpio or vmlinux.pvh is found
 * and the entry unpacked again, like a truncated bzImage.
 */
export const IMAGE_CONTENT = ['bzImage', PVH_KERNEL, 'modules.cpio', 'config', 'changelog.gz', 'meta.json'];

/**
 * A repro bundle carries the bzImage, not its decompressed copy (60 MB more): a kernel that
 * booted through PVH gets its vmlinux.pvh written again beside the bzImage, so that the replay
 * boots the way the run did. False when the kernel did not boot through PVH or it cannot be done.
 */
export async function restorePvhKernel(artifact: Pick<KernelArtifact, 'dir' | 'bzImage' | 'meta'>, ctx: RunContext): Promise<boolean> {
  if (!imageMetaOf(artifact)?.pvh) return false;
  const out = join(artifact.dir, PVH_KERNEL);
  if (existsSync(out)) return true;
  const work = join(artifact.dir, 'pvh-work');
  try {
    return await writePvhKernel(readFileSync(artifact.bzImage), out, work, ctx);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The one file in `dir` whose name starts with `prefix` (vmlinuz-*, config-*). */
function onlyFile(dir: string, prefix: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const found = readdirSync(dir).filter((f) => f.startsWith(prefix));
  return found.length === 1 ? join(dir, found[0]!) : undefined;
}

/** The extra initramfs archives a kernel needs (its modules), empty for self-contained kernels. */
export function kernelInitrds(artifact: Pick<KernelArtifact, 'dir'>): string[] {
  const f = join(artifact.dir, 'modules.cpio');
  return existsSync(f) ? [f] : [];
}

/** The image meta in the meta.json beside a kernel file; undefined for own builds and unreadable meta. */
export function imageMetaBeside(kernel: string): ImageMeta['image'] | undefined {
  try {
    return (JSON.parse(readFileSync(join(dirname(kernel), 'meta.json'), 'utf8')) as Partial<ImageMeta>).image;
  } catch {
    return undefined;
  }
}

/** The wanted modules a kernel beside its meta.json has neither built in nor as a module; none for own builds. */
export function missingModulesOf(kernel: string): string[] {
  return imageMetaBeside(kernel)?.missingModules ?? [];
}

/** Image meta of a cached artifact, when it is an image kernel. */
export function imageMetaOf(artifact: Pick<KernelArtifact, 'meta'>): ImageMeta['image'] | undefined {
  return (artifact.meta as Partial<ImageMeta>).image;
}

/** Unpack (or find in the cache) a Debian image or a --kernel file as a bootable artifact. */
export async function prepareImageKernel(ref: ImageRef, ctx: RunContext): Promise<KernelArtifact> {
  const t0 = Date.now();
  const fetched = ref.kind === 'debian' ? await fetchDebianPackage(ref.pkg, ref.version, ctx) : undefined;
  const file = ref.kind === 'file' ? resolve(ref.kernel) : fetched!.deb;
  if (!existsSync(file)) throw new UserError(`--kernel ${file}: no such file`);
  const fileSha = sha256(readFileSync(file));
  const modulesDir = ref.kind === 'file' && ref.modules ? resolve(ref.modules) : undefined;
  if (modulesDir && !existsSync(modulesDir)) throw new UserError(`--modules ${modulesDir}: no such directory`);
  // a --kernel is keyed by its bytes and its modules' index, a .deb by its bytes
  const modKey = modulesDir && existsSync(join(modulesDir, 'modules.dep')) ? sha256(readFileSync(join(modulesDir, 'modules.dep'))) : modulesDir ?? '';
  // v6: the content record covers modules.cpio and vmlinux.pvh (IMAGE_CONTENT); v7: the cpio
  // carries the module lists below, which are part of the key (a new module means a new cpio)
  const key = sha256(JSON.stringify({ v: 7, image: fileSha, modules: modKey, wanted: [...GUEST_MODULES, ...ON_DEMAND_MODULES] })).slice(0, 32);
  const hit = lookupArtifact(key, ctx.log);
  if (hit) return { ...hit, durationMs: Date.now() - t0 };

  const dir = join(paths.kernels(), key);
  return withLock(dir, ctx, async () => {
    const again = lookupArtifact(key, ctx.log);
    if (again) return { ...again, durationMs: Date.now() - t0 };
    sweepStaging(paths.kernels());
    const tmp = stagingPath(dir);
    const unpack = stagingPath(`${dir}.unpack`);
    const cleanup = ctx.teardown.add(`kernel:image ${tmp}`, () => {
      rmSync(tmp, { recursive: true, force: true });
      rmSync(unpack, { recursive: true, force: true });
    });
    rmSync(tmp, { recursive: true, force: true });
    rmSync(unpack, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    let kernelFile: string;
    let configFile: string | undefined;
    let modRoot: string | undefined;
    let changelog: string | undefined;
    if (fetched && ref.kind === 'debian') {
      await runStep({ phase: 'kernel:image', argv: ['dpkg-deb', '-x', fetched.deb, unpack], timeoutMs: 10 * 60_000 }, { signal: ctx.signal });
      const k = onlyFile(join(unpack, 'boot'), 'vmlinuz-');
      if (!k) throw new UserError(`${basename(fetched.deb)} has no single /boot/vmlinuz-*: not a kernel image package (a meta-package? name the versioned package)`);
      kernelFile = k;
      configFile = onlyFile(join(unpack, 'boot'), 'config-');
      const rel = basename(k).slice('vmlinuz-'.length);
      modRoot = join(unpack, 'lib/modules', rel);
      const doc = join(unpack, 'usr/share/doc', ref.pkg);
      changelog = ['changelog.Debian.gz', 'changelog.gz'].map((n) => join(doc, n)).find((f) => existsSync(f));
    } else {
      kernelFile = file;
      modRoot = modulesDir;
      // the config as shipped next to the kernel (/boot/config-RELEASE beside /boot/vmlinuz-RELEASE)
      const rel = basename(file).replace(/^(vmlinuz|bzImage)-?/, '');
      configFile = [join(dirname(file), `config-${rel}`), modulesDir ? join(modulesDir, 'build/.config') : ''].find((f) => f && existsSync(f));
    }
    const kernelBytes = readFileSync(kernelFile);
    const release = bzImageRelease(kernelBytes) ?? (modRoot ? basename(modRoot) : 'unknown');
    copyFileSync(kernelFile, join(tmp, 'bzImage'));
    const pvh = await writePvhKernel(kernelBytes, join(tmp, PVH_KERNEL), unpack, ctx);
    const configText = configFile ? readFileSync(configFile, 'utf8') : '';
    writeFileSync(join(tmp, 'config'), configText);
    if (changelog) copyFileSync(changelog, join(tmp, 'changelog.gz'));
    let plan: ModulePlan = { files: [], load: [], builtin: [], missing: [...GUEST_MODULES] };
    if (modRoot && existsSync(modRoot)) plan = await buildModulesCpio(modRoot, release, join(tmp, 'modules.cpio'), unpack, ctx);
    const meta: ImageMeta = {
      key,
      identity: imageIdentity(ref, fileSha, fetched?.version),
      patches: [],
      configSha256: sha256(configText),
      compiler: 'as shipped',
      release,
      builtAt: new Date().toISOString(),
      buildMs: Date.now() - t0,
      image: {
        ...(ref.kind === 'debian' ? { package: ref.pkg, version: fetched!.version } : {}),
        file: basename(file),
        fileSha256: fileSha,
        modules: plan.load,
        missingModules: plan.missing,
        ...(plan.onDemand?.length ? { onDemandModules: plan.onDemand } : {}),
        pvh,
      },
    };
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
    try {
      recordContent(tmp, IMAGE_CONTENT.filter((f) => existsSync(join(tmp, f))));
      publishEntry(tmp, dir);
    } catch (e) {
      if (isNoSpace(e)) throw noSpaceError(`storing image kernel ${key}`, paths.kernels(), e);
      throw e;
    }
    await cleanup();
    const sizeMb = statSync(join(dir, 'bzImage')).size / 1e6;
    ctx.log(`kernel: image ${meta.identity} (${release}, ${sizeMb.toFixed(1)} MB, ${plan.load.length} modules) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { key, dir, bzImage: join(dir, 'bzImage'), config: join(dir, 'config'), meta, cacheHit: false, durationMs: Date.now() - t0 };
  });
}
