// Prebuilt kernels, booted as shipped: Debian's linux-image packages (fetched with
// `apt-get download`, nothing installed on the host) and any bzImage with its lib/modules tree.
// An image becomes a cached KernelArtifact like a built kernel (bzImage, config, meta.json under
// paths.kernels()/KEY, KEY from the package's bytes), plus modules.cpio: the modules the guest
// needs (drivers for its disks, channel and shares; the file systems under test), closed over
// modules.dep, decompressed, with /etc/pinlab-modules naming what the guest init modprobes.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, copyFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MODULES_LIST } from '../boot-protocol.js';
import { isNoSpace, noSpaceError, publishEntry, recordContent } from '../cache-entry.js';
import { cacheRoot, paths, type ImageRef } from '../config.js';
import type { RunContext } from '../context.js';
import { UserError } from '../errors.js';
import { runStep } from '../exec.js';
import { withLock } from '../lock.js';
import { stagingPath, sweepStaging } from '../owner.js';
import { cpioStep } from '../cpio.js';
import { lookupArtifact, PVH_KERNEL, type KernelArtifact, type KernelMeta } from './build.js';
import { sha256 } from '../hash.js';

/** Profile spelling of a Debian image: `debian-image:PACKAGE` or `debian-image:PACKAGE=VERSION`. */
export const DEBIAN_IMAGE_PREFIX = 'debian-image:';

/**
 * What the guest loads when the kernel has it as a module, in this order: the PCI transport,
 * the ssh channel, the disks, the 9p shares (repository and tools), the file systems under test
 * (ext2 is served by ext4 on Debian: CONFIG_EXT4_USE_FOR_EXT2), vfat's code pages, loop.
 */
export const GUEST_MODULES = [
  'virtio_pci',
  'virtio_console',
  'virtio_blk',
  'nvme',
  '9pnet_virtio',
  '9p',
  'ext4',
  'ext2',
  'vfat',
  'nls_cp437',
  'nls_ascii',
  'nls_utf8',
  'loop',
];

/**
 * Shipped in the modules cpio but loaded only when the VM has a device or stack that needs them
 * (the hardware variants' virtio-scsi disk and device-mapper targets): the guest init modprobes
 * the names of the `pinlab.modules=` word (vm/session.ts), so other runs boot no slower.
 */
export const ON_DEMAND_MODULES = ['virtio_scsi', 'sd_mod', 'dm_mod', 'dm_crypt', 'essiv'];

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

export function isDebianImageProfile(name: string | undefined): boolean {
  return !!name && name.startsWith(DEBIAN_IMAGE_PREFIX);
}

export function parseDebianImageProfile(name: string): ImageRef {
  const body = name.slice(DEBIAN_IMAGE_PREFIX.length);
  const eq = body.indexOf('=');
  const pkg = eq < 0 ? body : body.slice(0, eq);
  const version = eq < 0 ? undefined : body.slice(eq + 1);
  if (!/^linux-image-[a-z0-9.+~-]+$/.test(pkg) || version === '') {
    throw new UserError(`-p ${name}: expected debian-image:linux-image-RELEASE[=VERSION], e.g. debian-image:linux-image-6.1.0-57-amd64`, {
      hint: 'pinlab kernels lists the images apt offers',
    });
  }
  return { kind: 'debian', pkg, ...(version ? { version } : {}) };
}

/** The identity string of an image kernel (KernelIdentity.source, known-state matchers). */
export function imageIdentity(ref: ImageRef, fileSha256: string, version?: string): string {
  if (ref.kind === 'debian') return `${DEBIAN_IMAGE_PREFIX}${ref.pkg}=${version ?? ref.version ?? '?'}`;
  return `image:${basename(ref.kernel)}@sha256:${fileSha256.slice(0, 16)}`;
}

/** modules.dep text -> module file (relative) -> its dependencies (relative). Pure. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    deps.set(line.slice(0, colon), line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

/** A module's name from its file (dashes and underscores are one to modprobe). */
export function moduleName(file: string): string {
  return basename(file).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

export interface ModulePlan {
  /** module files to ship (relative to lib/modules/REL), dependencies before dependents */
  files: string[];
  /** wanted modules the guest loads, in GUEST_MODULES order */
  load: string[];
  builtin: string[];
  missing: string[];
  /** ON_DEMAND_MODULES shipped as modules (absent: none planned) */
  onDemand?: string[];
}

/**
 * Soft dependencies (modules.softdep "softdep MOD pre: X Y"), with aliases resolved through
 * modules.alias (crypto-crc32c -> crc32c_generic, preferred over CPU-specific variants, which an
 * emulated CPU may lack). ext4 and jbd2 cannot mount without crc32c this way. Pure.
 */
export function parseSoftdeps(softdepText: string, aliasText: string, known: ReadonlySet<string>): Map<string, string[]> {
  const aliases = new Map<string, string[]>();
  for (const m of aliasText.matchAll(/^alias (\S+) (\S+)$/gm)) aliases.set(m[1]!, [...(aliases.get(m[1]!) ?? []), m[2]!.replace(/-/g, '_')]);
  const resolve1 = (n: string): string | undefined => {
    const name = n.replace(/-/g, '_');
    if (known.has(name)) return name;
    const targets = (aliases.get(n) ?? []).filter((t) => known.has(t));
    return targets.find((t) => t.endsWith('_generic')) ?? targets[0];
  };
  const soft = new Map<string, string[]>();
  for (const m of softdepText.matchAll(/^softdep (\S+) (.*)$/gm)) {
    const pre = /pre:((?:\s+[^\s:]+(?=\s|$))+)/.exec(m[2]!)?.[1]?.trim().split(/\s+/) ?? [];
    const resolved = pre.map(resolve1).filter((x): x is string => !!x);
    if (resolved.length) soft.set(m[1]!.replace(/-/g, '_'), resolved);
  }
  return soft;
}

/** Which module files the guest needs for `wanted`, given modules.dep and modules.builtin. Pure. */
export function planModules(wanted: readonly string[], depText: string, builtinText: string, softdepText = '', aliasText = ''): ModulePlan {
  const deps = parseModulesDep(depText);
  const byName = new Map([...deps.keys()].map((f) => [moduleName(f), f]));
  const builtinNames = new Set(builtinText.split('\n').filter(Boolean).map(moduleName));
  const soft = parseSoftdeps(softdepText, aliasText, new Set(byName.keys()));
  const files: string[] = [];
  const seen = new Set<string>();
  const load: string[] = [];
  const visit = (f: string): void => {
    if (seen.has(f)) return;
    seen.add(f);
    // a soft dependency loads first, by name (modprobe does not follow it from modules.dep)
    for (const s of soft.get(moduleName(f)) ?? []) {
      const sf = byName.get(s)!;
      if (!seen.has(sf) && !load.includes(s)) {
        visit(sf);
        load.push(s);
      }
    }
    for (const d of deps.get(f) ?? []) visit(d);
    files.push(f);
  };
  const builtin: string[] = [];
  const missing: string[] = [];
  for (const w of wanted) {
    const name = w.replace(/-/g, '_');
    const f = byName.get(name);
    if (f) {
      visit(f);
      if (!load.includes(name)) load.push(name);
    } else if (builtinNames.has(name)) builtin.push(name);
    else missing.push(name);
  }
  return { files, load, builtin, missing };
}

/** The PVH entry note QEMU boots an ELF by: XEN_ELFNOTE_PHYS32_ENTRY (type 18, name "Xen"). */
const PVH_NOTE_TAIL = Buffer.from([18, 0, 0, 0, 0x58, 0x65, 0x6e, 0]);

export function hasPvhNote(elf: Buffer): boolean {
  if (elf.subarray(0, 4).toString('latin1') !== '\x7fELF') return false;
  // namesz 4, descsz 4 or 8 (a .long or .quad entry address), then the tail
  for (let i = elf.indexOf(PVH_NOTE_TAIL); i >= 8; i = elf.indexOf(PVH_NOTE_TAIL, i + 1)) {
    if (elf.readUInt32LE(i - 8) === 4 && [4, 8].includes(elf.readUInt32LE(i - 4))) return true;
  }
  return false;
}

/** The compressed payload of a bzImage (setup header payload_offset/length) and its format. Pure. */
export function bzImagePayload(image: Buffer): { data: Buffer; tool: 'xz' | 'zstd' | 'gzip' | 'lz4' } | undefined {
  if (image.length < 0x250 || image.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const setupSects = image[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + image.readUInt32LE(0x248);
  const data = image.subarray(start, start + image.readUInt32LE(0x24c));
  const magic = data.subarray(0, 6).toString('hex');
  const tool = magic.startsWith('fd377a585a00') ? 'xz' : magic.startsWith('28b52ffd') ? 'zstd' : magic.startsWith('1f8b') ? 'gzip' : magic.startsWith('02214c18') ? 'lz4' : undefined;
  return tool && data.length > 0 ? { data, tool } : undefined;
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
 * The shipped kernel decompressed on the host, for QEMU's PVH entry. Under TCG the bzImage's
 * own decompressor (xz on Debian 6.1, zstd on 6.12) is what took most of the boot: measured on
 * linux-image-6.1.0-57-amd64, QEMU start to ready 26.7/34.1 s with the bzImage vs 8.6/17.6 s with
 * the same kernel decompressed (a loaded host, load average ~12). The code that runs is the
 * same; what is lost is the decompressor's KASLR placement (PVH starts the kernel at its link
 * address). Only when the kernel has a PVH note (CONFIG_PVH).
 */
async function writePvhKernel(image: Buffer, out: string, work: string, ctx: RunContext): Promise<boolean> {
  const payload = bzImagePayload(image);
  if (!payload) return false;
  mkdirSync(work, { recursive: true });
  // the build appends the uncompressed size (le32) to the payload (size_append): the decompressors
  // call it trailing garbage and exit non-zero, so the size is the integrity check instead
  const size = payload.data.readUInt32LE(payload.data.length - 4);
  const compressed = join(work, 'payload');
  writeFileSync(compressed, payload.data.subarray(0, payload.data.length - 4));
  await runStep(
    { phase: 'kernel:image', argv: ['sh', '-c', `${payload.tool} -dc <"$1" >"$2"`, 'sh', compressed, out], timeoutMs: 120_000 },
    { signal: ctx.signal, allowFailure: true },
  );
  rmSync(compressed, { force: true });
  const elf = existsSync(out) ? readFileSync(out) : undefined;
  const ok = !!elf && elf.length === size && hasPvhNote(elf);
  if (!ok) rmSync(out, { force: true });
  return ok;
}

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

/** Linux release string from a bzImage's setup header (kernel_version), or undefined. */
export function bzImageRelease(image: Buffer): string | undefined {
  if (image.length < 0x210 || image.toString('latin1', 0x202, 0x206) !== 'HdrS') return undefined;
  const off = image.readUInt16LE(0x20e) + 0x200;
  if (off >= image.length) return undefined;
  const end = image.indexOf(0, off);
  const text = image.toString('latin1', off, end < 0 ? Math.min(image.length, off + 256) : end);
  return text.split(' ')[0] || undefined;
}

function debsDir(): string {
  return join(cacheRoot(), 'debs');
}

/** The candidate (or given) version of a package, from apt's lists. */
async function aptVersion(pkg: string, version: string | undefined, ctx: RunContext): Promise<string> {
  const r = await runStep(
    { phase: 'kernel:image', argv: ['apt-cache', 'show', '--no-all-versions', version ? `${pkg}=${version}` : pkg], timeoutMs: 60_000 },
    { signal: ctx.signal, allowFailure: true },
  );
  const v = /^Version: (\S+)$/m.exec(r.stdout)?.[1];
  if (r.exitCode !== 0 || !v) {
    throw new UserError(`apt knows no package ${pkg}${version ? ` version ${version}` : ''}`, { hint: 'pinlab kernels lists the images apt offers (apt-get update refreshes the lists)' });
  }
  return v;
}

/** `apt-get download` into the cache (once per package version): the .deb's path. */
export async function fetchDebianPackage(pkg: string, version: string | undefined, ctx: RunContext): Promise<{ deb: string; version: string }> {
  const v = await aptVersion(pkg, version, ctx);
  const dir = debsDir();
  mkdirSync(dir, { recursive: true });
  const deb = join(dir, `${pkg}_${v.replace(/:/g, '%3a')}_amd64.deb`);
  if (existsSync(deb)) return { deb, version: v };
  return withLock(join(dir, pkg), ctx, async () => {
    if (!existsSync(deb)) {
      ctx.log(`kernel: apt-get download ${pkg}=${v}`);
      await runStep({ phase: 'kernel:image', argv: ['apt-get', 'download', '-q', `${pkg}=${v}`], cwd: dir, timeoutMs: 15 * 60_000 }, { signal: ctx.signal });
      if (!existsSync(deb)) throw new UserError(`apt-get download ${pkg}=${v} wrote no ${basename(deb)}`);
    }
    return { deb, version: v };
  });
}

/** The one file in `dir` whose name starts with `prefix` (vmlinuz-*, config-*). */
function onlyFile(dir: string, prefix: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  const found = readdirSync(dir).filter((f) => f.startsWith(prefix));
  return found.length === 1 ? join(dir, found[0]!) : undefined;
}

async function decompressInto(src: string, dest: string, ctx: RunContext): Promise<void> {
  mkdirSync(dirname(dest), { recursive: true });
  if (src.endsWith('.ko')) return copyFileSync(src, dest);
  if (src.endsWith('.gz')) return writeFileSync(dest, gunzipSync(readFileSync(src)));
  const tool = src.endsWith('.xz') ? 'xz' : src.endsWith('.zst') ? 'zstd' : undefined;
  if (!tool) throw new UserError(`module ${src}: unknown compression`);
  // execa's output is text and modules are binary: the shell writes the file
  await runStep({ phase: 'kernel:image', argv: ['sh', '-c', `${tool} -dc "$1" > "$2"`, 'sh', src, dest], timeoutMs: 60_000 }, { signal: ctx.signal });
}

/**
 * Build modules.cpio for `release` from a lib/modules/RELEASE tree (modules.dep made by depmod
 * when the tree has none, as a .deb's has not: its postinst runs depmod).
 */
async function buildModulesCpio(modRoot: string, release: string, out: string, work: string, ctx: RunContext): Promise<ModulePlan> {
  let depText: string;
  if (existsSync(join(modRoot, 'modules.dep'))) depText = readFileSync(join(modRoot, 'modules.dep'), 'utf8');
  else {
    // depmod -b BASE wants BASE/lib/modules/RELEASE
    if (basename(modRoot) !== release || basename(dirname(modRoot)) !== 'modules') {
      throw new UserError(`--modules ${modRoot}: no modules.dep there, and it is not a lib/modules/${release} tree depmod could index`);
    }
    await runStep({ phase: 'kernel:image', argv: ['depmod', '-b', dirname(dirname(dirname(modRoot))), release], timeoutMs: 120_000 }, { signal: ctx.signal });
    depText = readFileSync(join(modRoot, 'modules.dep'), 'utf8');
  }
  const text = (name: string) => (existsSync(join(modRoot, name)) ? readFileSync(join(modRoot, name), 'utf8') : '');
  const builtinFile = join(modRoot, 'modules.builtin');
  const plan = planModules(GUEST_MODULES, depText, text('modules.builtin'), text('modules.softdep'), text('modules.alias'));
  if (plan.load.length === 0) return plan;
  // the on-demand modules travel too (their dependencies after the base set's)
  const full = planModules([...GUEST_MODULES, ...ON_DEMAND_MODULES], depText, text('modules.builtin'), text('modules.softdep'), text('modules.alias'));
  plan.files = full.files;
  plan.onDemand = ON_DEMAND_MODULES.filter((m) => full.load.includes(m));
  const tree = join(work, 'tree');
  rmSync(tree, { recursive: true, force: true });
  const dest = join(tree, 'usr/lib/modules', release);
  const plain = (f: string) => f.replace(/\.ko\.(xz|zst|gz)$/, '.ko');
  for (const f of plan.files) await decompressInto(join(modRoot, f), join(dest, plain(f)), ctx);
  const deps = parseModulesDep(depText);
  writeFileSync(join(dest, 'modules.dep'), plan.files.map((f) => `${plain(f)}: ${(deps.get(f) ?? []).map(plain).join(' ')}\n`).join(''));
  if (existsSync(builtinFile)) copyFileSync(builtinFile, join(dest, 'modules.builtin'));
  mkdirSync(join(tree, 'etc'), { recursive: true });
  writeFileSync(join(tree, MODULES_LIST.slice(1)), `${plan.load.join('\n')}\n`);
  await runStep(await cpioStep(tree, out, 'kernel:image:cpio'), { signal: ctx.signal });
  rmSync(tree, { recursive: true, force: true });
  return plan;
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
