// A real O_DIRECT-capable file system for the native tests: an ext4 image on a loop device,
// mounted in a temp dir. Teardown is registered before setup, so a failed setup still cleans up.
// Where the host cannot do this, `skip` holds the exact reason and the tests are skipped with it.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestFn } from 'ava';
import { execa, execaSync } from 'execa';

export interface Ext4Mount {
  dir: string;
  mnt: string;
  image: string;
  loop: string;
}

export type Ext4 = { ok: true; fs: Ext4Mount } | { ok: false; skip: string };

export function reasonOf(e: unknown): string {
  const err = e as { shortMessage?: string; stderr?: string; message?: string };
  const stderr = typeof err.stderr === 'string' && err.stderr.trim() ? `: ${err.stderr.trim().split('\n').slice(-1)[0]}` : '';
  return `${err.shortMessage ?? err.message ?? String(e)}${stderr}`;
}

/**
 * Mounts a fresh ext4 image; registers its teardown on `test.after.always` first. Synchronous,
 * because ava wants every test declared synchronously and which tests run depends on this.
 */
export function mountExt4(test: TestFn, sizeMiB = 256): Ext4 {
  const state: Partial<Ext4Mount> & { mounted?: boolean } = {};
  test.after.always('unmount ext4, detach loop, remove temp dir', async () => {
    if (state.mounted) await execa('umount', [state.mnt!], { reject: false });
    if (state.loop) await execa('losetup', ['-d', state.loop], { reject: false });
    if (state.dir) await rm(state.dir, { recursive: true, force: true });
  });
  if (process.getuid?.() !== 0) return { ok: false, skip: 'needs root: losetup and mount of an ext4 image' };
  if (!existsSync('/dev/loop-control')) return { ok: false, skip: 'no /dev/loop-control: the kernel has no loop driver' };
  try {
    state.dir = mkdtempSync(join(tmpdir(), 'pinlab-native-'));
    state.image = join(state.dir, 'ext4.img');
    state.mnt = join(state.dir, 'mnt');
    execaSync('truncate', ['-s', `${sizeMiB}M`, state.image]);
    execaSync('mkfs.ext4', ['-q', '-F', state.image]);
    state.loop = execaSync('losetup', ['--find', '--show', state.image]).stdout.trim();
    execaSync('mkdir', [state.mnt]);
    execaSync('mount', ['-t', 'ext4', state.loop, state.mnt]);
    state.mounted = true;
  } catch (e) {
    return { ok: false, skip: `cannot mount an ext4 image on a loop device: ${reasonOf(e)}` };
  }
  return { ok: true, fs: state as Ext4Mount };
}

/**
 * Limits reads from a block device (e.g. the ext4 mount's loop device) to `bps` for this process,
 * the host's counterpart of QEMU's throttle on a fork-race disk (FORK_RACE_THROTTLE): the blkio
 * cgroup's read_bps_device (cgroup v1, or io.max on v2) of the cgroup this process is in. Returns
 * the function that lifts the limit, or why there is no limit to set.
 */
export function throttleReads(device: string, bps: number): { lift: () => void } | { skip: string } {
  const devNo = readFileSync(`/sys/block/${device.replace(/^\/dev\//, '')}/dev`, 'utf8').trim();
  const groups = readFileSync('/proc/self/cgroup', 'utf8').split('\n').map((l) => l.split(':'));
  const v1 = groups.find((g) => g[1]?.split(',').includes('blkio'));
  const v2 = groups.find((g) => g[0] === '0' && g[1] === '');
  const candidates: { file: string; set: string; unset: string }[] = [];
  if (v1) candidates.push({ file: join('/sys/fs/cgroup/blkio', v1[2]!, 'blkio.throttle.read_bps_device'), set: `${devNo} ${bps}`, unset: `${devNo} 0` });
  if (v2 && v2[2] !== '/') candidates.push({ file: join('/sys/fs/cgroup', v2[2]!, 'io.max'), set: `${devNo} rbps=${bps}`, unset: `${devNo} rbps=max` });
  const tried: string[] = [];
  for (const c of candidates) {
    try {
      writeFileSync(c.file, c.set);
      return { lift: () => writeFileSync(c.file, c.unset) };
    } catch (e) {
      tried.push(`${c.file}: ${(e as Error).message}`);
    }
  }
  return { skip: `no blkio throttle for ${device} (${tried.join('; ') || 'no blkio controller in /proc/self/cgroup, and the v2 root cgroup has no io.max'})` };
}

/** `test` when the mount exists, else a test.skip whose title carries the reason. */
export type Body = (t: import('ava').ExecutionContext) => Promise<void> | void;

export function when(test: TestFn, ext4: Ext4): (title: string, fn: Body) => void {
  return (title, fn) => {
    if (ext4.ok) test.serial(title, fn);
    else test.skip(`${title} (skipped: ${ext4.skip})`, fn);
  };
}

/** Asserts a Node-style errno error: code, negative errno, syscall, and Node's message shape. */
export async function assertErrno(
  t: import('ava').ExecutionContext,
  promise: Promise<unknown>,
  code: string,
  errno: number,
  syscall: string,
): Promise<void> {
  const e = (await t.throwsAsync(promise, { code })) as (Error & { errno?: number; syscall?: string }) | undefined;
  t.is(e?.errno, errno);
  t.is(e?.syscall, syscall);
  t.regex(e?.message ?? '', new RegExp(`^${code}: .+, ${syscall}`));
}
