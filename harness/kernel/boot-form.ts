// How a kernel boots, read once from the directory it lies in (a cache entry, a repro bundle's
// kernel/): the file QEMU loads, the initrds it brings, the modules its guest may load on
// demand, and whether it needs single-threaded TCG. The VM layer reads this as data instead of
// asking kernel/image.ts about the same kernel again for each of them.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PVH_KERNEL } from './build.js';
import { imageMetaBeside, kernelInitrds } from './image.js';

export interface BootForm {
  /** the kernel as stored */
  bzImage: string;
  /** the file QEMU boots: the ELF with a PVH note beside the bzImage when there is one, else the bzImage */
  kernel: string;
  pvh: boolean;
  /** archives the kernel brings (an image's modules.cpio), appended to the guest image's */
  initrds: string[];
  /** modules an image kernel ships for its guest to load only when a workload's target needs them */
  onDemandModules: string[];
  /**
   * A prebuilt image boots under single-threaded TCG (vm/spec.ts tcgSingleThread): Debian's 6.12
   * image oopsed on a stale int3 under multi-threaded TCG while patching its own code at boot.
   */
  tcgSingleThread: boolean;
}

/** The boot form of the kernel at `bzImage`, from the files beside it. */
export function bootFormOf(bzImage: string): BootForm {
  const dir = dirname(bzImage);
  const pvh = join(dir, PVH_KERNEL);
  const hasPvh = existsSync(pvh);
  const image = imageMetaBeside(bzImage);
  return {
    bzImage,
    kernel: hasPvh ? pvh : bzImage,
    pvh: hasPvh,
    initrds: kernelInitrds({ dir }),
    onDemandModules: image?.onDemandModules ?? [],
    tcgSingleThread: image !== undefined,
  };
}
