// Host prerequisites: what pinlab needs from Debian, how to see what is missing (doctor), and
// how to install it (setup). Planning is pure; apt-get runs only through exec.ts.
import { existsSync } from 'node:fs';
import { runStep, type Step } from './exec.js';
import type { RunContext } from './context.js';

export interface Prerequisite {
  pkg: string;
  why: string;
  /** needed only for these profiles (default: always) */
  profiles?: string[];
}

export const PREREQUISITES: Prerequisite[] = [
  { pkg: 'linux-source-6.1', why: 'kernel source of the patched-6.1 and stock-6.1 profiles', profiles: ['patched-6.1', 'stock-6.1'] },
  { pkg: 'linux-source-6.12', why: 'kernel source of the stock-6.12 reference profile', profiles: ['stock-6.12'] },
  { pkg: 'build-essential', why: 'gcc and make for the kernel' },
  { pkg: 'flex', why: 'kernel kconfig' },
  { pkg: 'bison', why: 'kernel kconfig' },
  { pkg: 'bc', why: 'kernel build' },
  { pkg: 'libelf-dev', why: 'kernel build (objtool)' },
  { pkg: 'libssl-dev', why: 'kernel build (certs)' },
  { pkg: 'dwarves', why: 'kernel build (pahole)' },
  { pkg: 'ccache', why: 'fast kernel rebuilds' },
  { pkg: 'lz4', why: 'kernel image compression (CONFIG_KERNEL_LZ4)' },
  { pkg: 'git', why: 'kernel trees, patches, bisect' },
  { pkg: 'xz-utils', why: 'extracting linux-source tarballs' },
  { pkg: 'cpio', why: 'guest initramfs' },
  { pkg: 'qemu-system-x86', why: 'booting the kernel under test' },
  { pkg: 'busybox-static', why: 'guest userspace' },
  { pkg: 'openssh-server', why: 'guest control channel (sshd -i on virtio-serial)' },
  { pkg: 'openssh-client', why: 'ssh-keygen for per-run keys' },
  { pkg: 'e2fsprogs', why: 'ext4/ext2 guest disks' },
  { pkg: 'dosfstools', why: 'vfat guest disk' },
  { pkg: 'reiserfsprogs', why: 'reiserfs guest disk' },
  { pkg: 'fio', why: 'benchmark reference in the guest' },
  { pkg: 'dmsetup', why: 'device-mapper stacks of the dm hardware variant (in the guest)' },
  { pkg: 'lcov', why: 'HTML coverage reports of pinlab run --coverage (genhtml)' },
  { pkg: 'kmod', why: "depmod: the module index of a Debian image kernel's modules" },
];

export interface PrereqStatus extends Prerequisite {
  installed: boolean;
}

export function neededPackages(profiles: string[]): Prerequisite[] {
  return PREREQUISITES.filter((p) => !p.profiles || p.profiles.some((q) => profiles.includes(q)));
}

export async function checkPackages(list: Prerequisite[], ctx: RunContext): Promise<PrereqStatus[]> {
  const r = await runStep(
    { phase: 'host:doctor', argv: ['dpkg-query', '-W', '-f=${Package} ${db:Status-Abbrev}\n', ...list.map((p) => p.pkg)] },
    { signal: ctx.signal, allowFailure: true },
  );
  const installed = new Set(
    r.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 2 && f[1] === 'ii')
      .map((f) => f[0]!.replace(/:.*$/, '')),
  );
  return list.map((p) => ({ ...p, installed: installed.has(p.pkg) }));
}

export function planInstall(missing: string[]): Step[] {
  if (missing.length === 0) return [];
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  return [
    { phase: 'host:setup', argv: ['apt-get', 'update', '-q'], env, timeoutMs: 15 * 60_000 },
    { phase: 'host:setup', argv: ['apt-get', 'install', '-y', '-q', '--no-install-recommends', ...missing], env, timeoutMs: 30 * 60_000 },
  ];
}

export function installCommand(missing: string[]): string {
  return `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function kvmDevicePresent(): boolean {
  return existsSync('/dev/kvm');
}
