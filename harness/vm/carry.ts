// Kernels that cannot mount the host's files. The guest normally reads Node, fio and dmsetup
// (the image's tools tree) and the harness (the repository) over read-only 9p shares. A kernel
// without 9p (Debian's cloud flavour: CONFIG_NET_9P is not set) gets them in the initramfs
// instead: the tools tree as a cached cpio beside the base image, and the part of the repository
// the guest runs (package.json, dist/harness, the addon) as a small cpio per VM directory. The
// base image's symlinks (/usr/bin/node -> /tools/usr/bin/node) then resolve into the initramfs,
// and the init script, finding no share on the command line, mounts nothing.
// What no carrying can replace (the channel, the initramfs itself) is a BootError before the boot,
// one line naming the config symbol.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { existsSync, readdirSync, renameSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { RunContext } from '../context.js';
import { BootError } from '../errors.js';
import { runStep } from '../exec.js';
import { cpioStep, TOOLS_GUEST_PATH, type BaseImage } from './image.js';
import { REPO_GUEST_PATH } from './spec.js';

/** The symbols 9p needs, each with the module an image kernel would load for it. */
const NINEP: readonly { symbol: string; module: string }[] = [
  { symbol: 'CONFIG_NET_9P', module: '9pnet' },
  { symbol: 'CONFIG_NET_9P_VIRTIO', module: '9pnet_virtio' },
  { symbol: 'CONFIG_9P_FS', module: '9p' },
];

/**
 * What the guest cannot do without, and why; checked against the kernel's config before a boot.
 * A kernel built by pinlab has them all (kernel-config/pin-minimal.config).
 */
const ESSENTIAL: readonly { symbol: string; module?: string; why: string }[] = [
  { symbol: 'CONFIG_BLK_DEV_INITRD', why: 'the guest userspace is an initramfs' },
  { symbol: 'CONFIG_DEVTMPFS', why: 'the guest init finds its devices in devtmpfs' },
  { symbol: 'CONFIG_VIRTIO_PCI', module: 'virtio_pci', why: 'every guest device is virtio-pci' },
  { symbol: 'CONFIG_VIRTIO_CONSOLE', module: 'virtio_console', why: 'the host reaches the guest over a virtio-serial port' },
  { symbol: 'CONFIG_UNIX98_PTYS', why: 'sshd needs ptys' },
];

/** CONFIG_X=y|m lines of a config text. Pure. */
function symbols(configText: string): Map<string, string> {
  return new Map([...configText.matchAll(/^(CONFIG_\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/**
 * The 9p symbol a kernel lacks (unset in its config, or a module its image does not ship),
 * undefined when it can mount the shares. An unknown config (empty text) is taken to have 9p.
 * Pure.
 */
export function missing9p(configText: string, missingModules: readonly string[] = []): string | undefined {
  if (!configText.trim()) return undefined;
  const on = symbols(configText);
  return NINEP.find((s) => !on.has(s.symbol) || (on.get(s.symbol) === 'm' && missingModules.includes(s.module)))?.symbol;
}

/**
 * Why this kernel cannot run pinlab's guest at all, one line naming the config symbol, or
 * undefined. An unknown config (empty text) passes: the boot will tell. Pure.
 */
export function cannotRunGuest(configText: string, missingModules: readonly string[] = []): string | undefined {
  if (!configText.trim()) return undefined;
  const on = symbols(configText);
  const gap = ESSENTIAL.find((s) => !on.has(s.symbol) || (s.module && on.get(s.symbol) === 'm' && missingModules.includes(s.module)));
  return gap ? `this kernel cannot run pinlab's guest: ${gap.symbol} is not set (${gap.why})` : undefined;
}

export function assertCanRunGuest(configText: string, missingModules: readonly string[] = []): void {
  const why = cannotRunGuest(configText, missingModules);
  if (why) throw new BootError(why, 'init-died');
}

/** Where the carried archives are: the tools cpio beside the base image, the repo cpio in the VM directory. Pure. */
export function carryFiles(image: Pick<BaseImage, 'dir'>, vmDir: string): { tools: string; repo: string } {
  return { tools: join(image.dir, 'tools.cpio'), repo: join(vmDir, 'carry-repo.cpio') };
}

/** The files of the repository the guest runs: relative paths. */
export function repoPayload(repoDir: string): string[] {
  const out = ['package.json', 'build/Release/pinlab.node'];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(repoDir, rel), { withFileTypes: true })) {
      const p = join(rel, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.js$/.test(e.name)) out.push(p);
    }
  };
  walk('dist/harness');
  return out;
}

/** The tools tree as a cpio under /tools, once per base image (a truncated one is rebuilt). */
async function ensureToolsCpio(image: BaseImage, out: string, ctx: RunContext): Promise<void> {
  if (existsSync(out) && statSync(out).size > 0) return;
  if (!image.toolsDir) throw new Error('the guest image has no tools tree to carry');
  const tmp = `${out}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  const step = await cpioStep(image.toolsDir, tmp, 'vm:carry:tools');
  // the names are those of the tools tree; archived from its parent they land under /tools
  const under = TOOLS_GUEST_PATH.replace(/^\//, '');
  await runStep({ ...step, cwd: dirname(image.toolsDir), input: step.input!.split('\n').filter(Boolean).map((n) => `${under}/${n}`).join('\n') + `\n${under}\n` }, { signal: ctx.signal });
  renameSync(tmp, out);
}

/** The repository's guest part as a cpio under /pinlab, copied (the tree may change while QEMU reads it). */
async function writeRepoCpio(repoDir: string, out: string, ctx: RunContext): Promise<void> {
  const tree = `${out}.tree`;
  await rm(tree, { recursive: true, force: true });
  const root = join(tree, relative('/', REPO_GUEST_PATH));
  for (const f of repoPayload(repoDir)) {
    await mkdir(dirname(join(root, f)), { recursive: true });
    await copyFile(join(repoDir, f), join(root, f));
  }
  await runStep(await cpioStep(tree, out, 'vm:carry:repo'), { signal: ctx.signal });
  await rm(tree, { recursive: true, force: true });
}

/** Make both carried archives exist before a boot. */
export async function prepareCarry(image: BaseImage, repoDir: string, vmDir: string, ctx: RunContext): Promise<void> {
  const files = carryFiles(image, vmDir);
  await mkdir(vmDir, { recursive: true, mode: 0o700 });
  await Promise.all([ensureToolsCpio(image, files.tools, ctx), writeRepoCpio(repoDir, files.repo, ctx)]);
}
