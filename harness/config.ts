// Profiles, kernel source specs, paths and defaults. Pure: nothing here touches the system
// except reading environment variables for paths.
import { homedir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from './errors.js';

/** Repository root (works from harness/ and from dist/harness/). */
export const repoRoot: string = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.includes(`${join('dist', 'harness')}`) ? resolve(here, '..', '..') : resolve(here, '..');
})();

/** Everything expensive (sources, build trees, kernels, images) lives here, outside the clone. */
export function cacheRoot(): string {
  return process.env.PINLAB_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'pinlab');
}

/** Run directories (logs, results) default under the clone's runs/ (git-ignored). */
export function runsRoot(): string {
  return process.env.PINLAB_RUNS ?? join(repoRoot, 'runs');
}

export type SourceSpec =
  | { kind: 'debian'; pkg: string; tarball: string } // linux-source-X.Y under /usr/src
  | { kind: 'dir'; path: string }
  | { kind: 'git'; repo: string; ref: string }
  | { kind: 'image'; image: ImageRef }; // a prebuilt kernel, booted as shipped (kernel/image.ts)

/** A prebuilt kernel: a Debian linux-image package, or a bzImage with its lib/modules tree. */
export type ImageRef = { kind: 'debian'; pkg: string; version?: string } | { kind: 'file'; kernel: string; modules?: string };

export interface Profile {
  name: string;
  description: string;
  source: SourceSpec;
  /** apply the series in patches/ */
  patched: boolean;
}

export const PROFILES: Record<string, Profile> = {
  'patched-6.1': {
    name: 'patched-6.1',
    description: "Debian's linux-source-6.1 + the pin_user_pages_fast() Direct I/O series (patches/)",
    source: { kind: 'debian', pkg: 'linux-source-6.1', tarball: '/usr/src/linux-source-6.1.tar.xz' },
    patched: true,
  },
  'stock-6.1': {
    name: 'stock-6.1',
    description: "Debian's linux-source-6.1 unmodified (Direct I/O takes page references, not pins)",
    source: { kind: 'debian', pkg: 'linux-source-6.1', tarball: '/usr/src/linux-source-6.1.tar.xz' },
    patched: false,
  },
  'stock-6.12': {
    name: 'stock-6.12',
    description: "Debian's linux-source-6.12 unmodified (upstream pins Direct I/O since ~6.5): a reference",
    source: { kind: 'debian', pkg: 'linux-source-6.12', tarball: '/usr/src/linux-source-6.12.tar.xz' },
    patched: false,
  },
};

export const DEFAULT_PROFILE = 'patched-6.1';

/** `--source DIR` or `--source git:REPO@REF` (the same spelling everywhere). */
export function parseSourceArg(arg: string): SourceSpec {
  if (arg.startsWith('git:')) {
    const body = arg.slice(4);
    const at = body.lastIndexOf('@');
    if (at <= 0 || at === body.length - 1) {
      throw new UserError(`--source ${arg}: expected git:REPO@REF, e.g. git:/src/linux@v6.1`);
    }
    return { kind: 'git', repo: resolve(body.slice(0, at)), ref: body.slice(at + 1) };
  }
  if (arg === '') throw new UserError('--source needs a directory or git:REPO@REF');
  return { kind: 'dir', path: resolve(arg) };
}

export function profileNames(): string[] {
  return Object.keys(PROFILES);
}

export function getProfile(name: string): Profile {
  const p = PROFILES[name];
  if (!p) throw new UserError(`unknown profile '${name}'`, { hint: `known profiles: ${profileNames().join(', ')}` });
  return p;
}

export const paths = {
  patchesDir: () => process.env.PINLAB_PATCHES_DIR ?? join(repoRoot, 'patches'),
  configDir: () => join(repoRoot, 'kernel-config'),
  defaultFragment: () => join(repoRoot, 'kernel-config', 'pin-minimal.config'),
  imagesDir: () => join(repoRoot, 'images'),
  sources: () => join(cacheRoot(), 'sources'),
  kernels: () => join(cacheRoot(), 'kernels'),
  images: () => join(cacheRoot(), 'images'),
  state: () => join(cacheRoot(), 'state'),
  /** pin-path sources of a series' source package, for function coverage of prebuilt kernels */
  coverageSources: () => join(cacheRoot(), 'coverage-sources'),
  /** apt-get's output of `pinlab setup` (and of a run that installs as root) */
  setupLog: () => join(cacheRoot(), 'logs', 'setup.log'),
};

/**
 * Kernel command line pinlab always uses; user --cmdline args are appended. loglevel=5: during
 * the boot the serial console carries warnings and worse only (a panic, an oops, a BUG, a WARN),
 * not the ~250 info lines, each character of which is a trapped port write under TCG; the guest's
 * init sets it back to 7 before anything runs, and dmesg has every line either way.
 * movablecore=50%: half the guest's memory is ZONE_MOVABLE, where user pages come from first, as
 * on machines with CMA or hot-pluggable memory. A long-term pin (FOLL_LONGTERM: io_uring buffer
 * registration, udmabuf, gup_test) of such a page must migrate it first: GUP gives the pins back,
 * migrates, and pins again (check_and_migrate_movable_pages/_folios), a route of its own that a
 * guest without a movable zone never takes. secretmem.enable=1: memfd_secret(2), off by default
 * before 6.5, for the secretmem workload (GUP's refusal of such pages).
 */
export const BASE_CMDLINE = ['console=ttyS0', 'random.trust_cpu=on', 'panic=-1', 'loglevel=5', 'movablecore=50%', 'secretmem.enable=1'];
