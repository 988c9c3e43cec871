// What Debian's archive offers as prebuilt kernels, from apt's local lists (apt-cache):
// linux-image-6.1.0-NN-FLAVOUR and linux-image-6.12.NNN+deb12-FLAVOUR, with or without -unsigned
// (same kernel and modules; the signed one exists for every version); how a profile names one
// (debian-image:PACKAGE[=VERSION]); and the one download, `apt-get download` into the cache.
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cacheRoot, type ImageRef } from '../config.js';
import type { RunContext } from '../context.js';
import { UserError } from '../errors.js';
import { runStep } from '../exec.js';
import { withLock } from '../lock.js';

/** Profile spelling of a Debian image: `debian-image:PACKAGE` or `debian-image:PACKAGE=VERSION`. */
export const DEBIAN_IMAGE_PREFIX = 'debian-image:';

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

export interface DebianImage {
  pkg: string;
  version: string;
  /** '6.1', '6.12' */
  series: string;
  /** the ABI/upload number that orders versions within a series: 57 of 6.1.0-57, 117 of 6.12.117 */
  abi: number;
  /** 'amd64', 'cloud-amd64', 'rt-amd64' */
  flavour: string;
  signed: boolean;
  sizeBytes?: number;
}

/** Package name -> its parts, or undefined for meta-packages, debug symbols and templates. Pure. */
export function parseImageName(pkg: string): Omit<DebianImage, 'version'> | undefined {
  const m = /^linux-image-(\d+\.\d+)\.(\d+)(?:-(\d+)|\+deb\d+)-((?:[a-z]+-)?amd64)(-unsigned)?$/.exec(pkg);
  if (!m) return undefined;
  const [, series, minor, abi, flavour, unsigned] = m;
  // 6.1.0-57 numbers by ABI; 6.12.117+deb12 by the stable release
  const n = abi !== undefined ? Number(abi) : Number(minor);
  return { pkg, series: series!, abi: n, flavour: flavour!, signed: !unsigned };
}

/** `apt-cache show` stanzas -> package -> {version, size}. Pure. */
export function parseAptShow(text: string): Map<string, { version: string; sizeBytes?: number }> {
  const out = new Map<string, { version: string; sizeBytes?: number }>();
  for (const stanza of text.split(/\n\n+/)) {
    const pkg = /^Package: (\S+)$/m.exec(stanza)?.[1];
    const version = /^Version: (\S+)$/m.exec(stanza)?.[1];
    const size = /^Size: (\d+)$/m.exec(stanza)?.[1];
    if (pkg && version && !out.has(pkg)) out.set(pkg, { version, ...(size ? { sizeBytes: Number(size) } : {}) });
  }
  return out;
}

export function sortImages(images: DebianImage[]): DebianImage[] {
  const num = (s: string) => s.split('.').map(Number);
  return [...images].sort((a, b) => {
    const [a1, a2] = num(a.series);
    const [b1, b2] = num(b.series);
    return a1! - b1! || a2! - b2! || a.flavour.localeCompare(b.flavour) || a.abi - b.abi || Number(b.signed) - Number(a.signed);
  });
}

/** Every prebuilt linux-image package apt's lists know, one per package name. */
export async function listDebianImages(ctx: RunContext): Promise<DebianImage[]> {
  const names = await runStep({ phase: 'kernel:images', argv: ['apt-cache', 'pkgnames', 'linux-image-'], timeoutMs: 60_000 }, { signal: ctx.signal });
  const parsed = names.stdout.split('\n').map((n) => parseImageName(n.trim())).filter((p): p is NonNullable<typeof p> => !!p);
  if (parsed.length === 0) return [];
  const show = await runStep(
    { phase: 'kernel:images', argv: ['apt-cache', 'show', '--no-all-versions', ...parsed.map((p) => p.pkg)], timeoutMs: 60_000 },
    { signal: ctx.signal, allowFailure: true },
  );
  const versions = parseAptShow(show.stdout);
  return sortImages(parsed.flatMap((p) => (versions.has(p.pkg) ? [{ ...p, ...versions.get(p.pkg)! }] : [])));
}

/** The images of one series and flavour, oldest first: what a sweep runs (signed names: one per version). */
export function seriesImages(all: readonly DebianImage[], series: string, flavour = 'amd64'): DebianImage[] {
  return sortImages(all.filter((i) => i.series === series && i.flavour === flavour && i.signed));
}

export function imageProfile(i: Pick<DebianImage, 'pkg' | 'version'>): string {
  return `${DEBIAN_IMAGE_PREFIX}${i.pkg}=${i.version}`;
}

export function formatImageList(images: readonly DebianImage[]): string {
  const rows = images.map((i) => [i.series, i.flavour, i.version, i.signed ? 'signed' : 'unsigned', `${((i.sizeBytes ?? 0) / 1e6).toFixed(0)} MB`, `-p ${DEBIAN_IMAGE_PREFIX}${i.pkg}`]);
  const head = ['SERIES', 'FLAVOUR', 'VERSION', 'SIGNING', 'DEB', 'PROFILE'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const fmt = (r: string[]) => r.map((x, c) => (c === r.length - 1 ? x : x.padEnd(widths[c]!))).join('  ');
  return [fmt(head), ...rows.map(fmt)].join('\n');
}
