// What Debian's archive offers as prebuilt kernels, from apt's local lists (apt-cache; no
// download): linux-image-6.1.0-NN-FLAVOUR and linux-image-6.12.NNN+deb12-FLAVOUR, with or without
// -unsigned (same kernel and modules; the signed one exists for every version).
import type { RunContext } from '../context.js';
import { runStep } from '../exec.js';
import { DEBIAN_IMAGE_PREFIX } from './image.js';

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
