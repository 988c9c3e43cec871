// Repeated workloads: R copies of a suite in one boot (bisect's rounds, repro --times), each copy
// named `name#r`, so observations, verdicts and guest files of the rounds stay apart.
import type { WorkloadSpec } from './types.js';

const REPEAT_SEP = '#';

/** R copies of the workloads for one boot, round after round; R = 1 keeps the plain names. */
export function repeatWorkloads(specs: readonly WorkloadSpec[], repeat: number): WorkloadSpec[] {
  if (repeat === 1) return [...specs];
  const out: WorkloadSpec[] = [];
  for (let r = 1; r <= repeat; r++) for (const s of specs) out.push({ ...s, name: `${s.name}${REPEAT_SEP}${r}` });
  return out;
}

/** `ext2.psync.anon#2` -> { workload: 'ext2.psync.anon', round: 2 }; plain names are round 1. */
export function splitRepeatName(name: string): { workload: string; round: number } {
  const m = /^(.*)#(\d+)$/.exec(name);
  return m ? { workload: m[1]!, round: Number(m[2]) } : { workload: name, round: 1 };
}
