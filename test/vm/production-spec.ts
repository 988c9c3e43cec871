// The VM spec of the VM tests and their boot driver: the one `pinlab run` boots. No ava here: the
// driver (boot-driver.ts) runs outside ava.
import type { RunContext } from '../../harness/context.js';
import { probeAccel } from '../../harness/vm/accel.js';
import { ensureBaseImage, toolsShare } from '../../harness/vm/image.js';
import { vmSpecFor } from '../../harness/vm/session.js';
import type { VmSpec } from '../../harness/vm/spec.js';
import { DEFAULT_SUITE } from '../../harness/workloads/catalogue.js';
import type { WorkloadSpec } from '../../harness/workloads/types.js';

/**
 * The VM spec `pinlab run` boots for `kernel`, built the way withVm builds it (vm/session.ts):
 * the accelerator probed for this kernel, vmSpecFor (vmlinux.pvh beside the bzImage, the TCG
 * clock words tsc_early_khz and lpj from the host TSC and the kernel's HZ, the workloads' disks,
 * the repo and tools shares). A test changes only what it is about: the boot timeout, extra words.
 */
export async function productionSpec(
  ctx: RunContext,
  o: { kernel: string; runDir: string; workloads?: readonly WorkloadSpec[]; cmdline?: readonly string[]; bootTimeoutMs?: number },
): Promise<VmSpec> {
  const image = await ensureBaseImage(ctx);
  const { accel } = await probeAccel(ctx, o.kernel);
  const spec = vmSpecFor(o.kernel, o.runDir, image.cpio, { accel, cmdline: o.cmdline ?? [], workloads: o.workloads ?? DEFAULT_SUITE, tools: toolsShare(image) });
  return o.bootTimeoutMs === undefined ? spec : { ...spec, bootTimeoutMs: o.bootTimeoutMs };
}
