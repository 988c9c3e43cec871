// The guest's clock under TCG. Without help a 2-vCPU TCG guest ends up on the jiffies
// clocksource (1/HZ timestamps, clock_gettime() as a system call), which makes every latency
// and CPU-time figure wrong:
// - its AMD-family TSC without constant_tsc fails the "TSCs unsynchronized" check at boot,
//   unless tsc=reliable (TCG derives every vCPU's TSC from the one host TSC, so they agree);
// - its calibration against the emulated PIT fails when the host is busy ("tsc: Unable to
//   calibrate against PIT", then "Marking TSC unstable"), in about one boot in five here,
//   unless tsc_early_khz= gives it the rate. A TCG guest's RDTSC reads the host's TSC, so the
//   rate is the host's, measured by the addon (tscKhz) against CLOCK_MONOTONIC_RAW.
// KVM guests get kvm-clock and need neither. The command line words: tcgGuestCmdline() in
// spec.ts (pure); this file measures.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadAddon } from '../workloads/addon.js';

let measured: { khz: number | undefined } | undefined;

/**
 * The host TSC rate in kHz, or undefined (not x86-64, samples disagree, addon not built).
 * Measured once per process (~40 ms): the rate does not change while the host runs.
 */
export function hostTscKhz(): number | undefined {
  if (!measured) {
    try {
      measured = { khz: loadAddon().tscKhz() };
    } catch {
      measured = { khz: undefined };
    }
  }
  return measured.khz;
}

/** CONFIG_HZ of the kernel whose config lies beside it (a cache entry's config), or undefined. */
export function kernelHz(kernel: string): number | undefined {
  try {
    const m = /^CONFIG_HZ=(\d+)$/m.exec(readFileSync(join(dirname(kernel), 'config'), 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
