// KVM or TCG? /dev/kvm existing is not enough (on this machine class KVM_CREATE_VM works but
// QEMU+KVM asserts or hangs), so the probe boots the kernel once with KVM and a two-file
// initramfs and waits for its init to speak. The answer is cached per QEMU version and kernel.
import { constants, existsSync, readFileSync } from 'node:fs';
import { access, chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { paths } from '../config.js';
import type { RunContext } from '../context.js';
import { runStep } from '../exec.js';
import { cpioStep } from '../cpio.js';
import { QBOOT_ROM, QEMU_BINARY, type Accel } from './spec.js';

export interface AccelProbe {
  accel: Accel;
  /** why: "KVM boot reached init in 0.6 s" / "/dev/kvm missing" / "KVM boot failed: ..." */
  detail: string;
  qemuVersion: string;
  kernel: string;
  probedAt: string;
  cached: boolean;
}

const PROBE_TIMEOUT_MS = 20_000;
const PROBE_MARKER = 'PINLAB-KVM-OK';
const BUSYBOX = '/bin/busybox';

function cacheFile(): string {
  return join(paths.state(), 'accel.json');
}

async function qemuVersion(ctx: RunContext): Promise<string> {
  const r = await runStep({ phase: 'vm:accel', argv: [QEMU_BINARY, '--version'], timeoutMs: 10_000 }, { signal: ctx.signal });
  return r.stdout.split('\n')[0]?.trim() ?? 'unknown';
}

/** Whether KVM works is a property of the host and its QEMU, not of the kernel under test:
 * probe once per QEMU version (with whichever kernel comes first) and keep the answer. */
function probeKey(version: string): string {
  return version;
}

/** The cached probe answers (for `pinlab doctor`), newest first. */
export function cachedProbes(): AccelProbe[] {
  if (!existsSync(cacheFile())) return [];
  try {
    const cache = JSON.parse(readFileSync(cacheFile(), 'utf8')) as Record<string, Omit<AccelProbe, 'cached'>>;
    return Object.values(cache)
      .map((p) => ({ ...p, cached: true }))
      .sort((a, b) => (a.probedAt < b.probedAt ? 1 : -1));
  } catch {
    return [];
  }
}

/** QEMU argv for the KVM probe boot. Pure. */
export function kvmProbeArgv(kernel: string, initrd: string): string[] {
  return [
    QEMU_BINARY, '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-accel', 'kvm', '-cpu', 'host', '-smp', '1', '-m', '256M',
    '-bios', QBOOT_ROM,
    '-kernel', kernel, '-initrd', initrd,
    '-append', 'console=ttyS0 panic=-1 random.trust_cpu=on',
    '-serial', 'stdio',
  ];
}

async function kvmBoots(kernel: string, ctx: RunContext): Promise<{ ok: boolean; detail: string }> {
  try {
    await access('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return { ok: false, detail: '/dev/kvm missing or not accessible' };
  }
  const dir = await mkdtemp(join(tmpdir(), 'pinlab-kvm-'));
  const removeDir = ctx.teardown.add(`vm:accel ${dir}`, () => rm(dir, { recursive: true, force: true }));
  try {
    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'bin'), { recursive: true });
    await copyFile(BUSYBOX, join(tree, 'bin/busybox'));
    await writeFile(join(tree, 'init'), `#!/bin/busybox sh\n/bin/busybox echo ${PROBE_MARKER}\n/bin/busybox reboot -f\n`);
    await chmod(join(tree, 'init'), 0o755);
    const initrd = join(dir, 'probe.cpio');
    await runStep(await cpioStep(tree, initrd, 'vm:accel:cpio'), { signal: ctx.signal });
    const t0 = Date.now();
    const r = await runStep(
      { phase: 'vm:accel:kvm', argv: kvmProbeArgv(kernel, initrd), timeoutMs: PROBE_TIMEOUT_MS },
      { signal: ctx.signal, allowFailure: true },
    ).catch((e: Error & { stderrTail?: string }) => ({ exitCode: -1, stdout: '', stderr: `${e.message}\n${e.stderrTail ?? ''}` }));
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (r.stdout.includes(PROBE_MARKER)) return { ok: true, detail: `a KVM boot reached init in ${secs} s` };
    const why = r.stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ').slice(0, 300) || `no init output within ${PROBE_TIMEOUT_MS / 1000} s`;
    return { ok: false, detail: `a KVM boot did not reach init: ${why}` };
  } finally {
    await removeDir();
  }
}

/** KVM if a KVM boot of this kernel reaches init, else TCG. Probed once per QEMU version + kernel. */
export async function probeAccel(ctx: RunContext, kernel: string, opts: { force?: boolean } = {}): Promise<AccelProbe> {
  const version = await qemuVersion(ctx);
  const key = probeKey(version);
  let cache: Record<string, Omit<AccelProbe, 'cached'>> = {};
  if (existsSync(cacheFile())) {
    try {
      cache = JSON.parse(await readFile(cacheFile(), 'utf8')) as typeof cache;
    } catch {
      cache = {};
    }
  }
  const hit = cache[key];
  if (hit && !opts.force) return { ...hit, cached: true };

  const result = await kvmBoots(kernel, ctx);
  const probe: Omit<AccelProbe, 'cached'> = {
    accel: result.ok ? 'kvm' : 'tcg',
    detail: result.detail,
    qemuVersion: version,
    kernel,
    probedAt: new Date().toISOString(),
  };
  cache[key] = probe;
  await mkdir(dirname(cacheFile()), { recursive: true });
  await writeFile(cacheFile(), `${JSON.stringify(cache, null, 2)}\n`);
  return { ...probe, cached: false };
}

/** One line for `pinlab doctor`. */
export function describeAccel(p: AccelProbe): string {
  const how = p.accel === 'kvm' ? 'KVM' : 'TCG (-accel tcg,thread=multi -cpu max)';
  return `acceleration: ${how}; ${p.detail} (${p.qemuVersion}${p.cached ? `, cached ${p.probedAt}` : ''})`;
}
