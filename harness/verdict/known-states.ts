// Known states of reference kernels, kept apart from judge(): judge() says what the kernel did;
// this list says which failures are already known for a given reference kernel, so they are
// reported as XFAIL (visible everywhere, not failing the run unless --strict).
//
// A FAIL becomes XFAIL only when every one of its reasons is covered by entries that match both
// the kernel and the workload name; a FAIL with any other reason (a splat, a leak on stock 6.1)
// stays a FAIL. Every match requires an unpatched kernel: a --patch on a reference tree makes it
// a kernel nobody has profiled, whose failures are its own. An entry may only cover a reason the
// evidence cannot decide otherwise: "stock 6.1 takes references, not pins" is what that kernel
// is, not an accounting artefact (those are decided by the pin evidence in judge.ts, on every
// kernel alike). patched-6.1 and 6.12 have no entries: they are expected to pass.
import type { FailReason, KernelIdentity, Verdict } from './types.js';

export interface KernelMatch {
  /** profile name, e.g. 'stock-6.1' */
  profile?: string;
  /** regular expression on KernelIdentity.source, e.g. '^debian:linux-source-6\\.1=' */
  source?: string;
}

export interface KnownState {
  id: string;
  /** any of these kernel matches */
  kernel: KernelMatch[];
  /** glob on workload names (* and ?) */
  workloads: string;
  reasons: FailReason[];
  why: string;
}

// Debian's shipped 6.1 images (kernel/image.ts: 'debian-image:linux-image-6.1.0-NN-FLAVOUR=VERSION')
// are the same stock 6.1 code, built by Debian
const STOCK_61: KernelMatch[] = [{ profile: 'stock-6.1' }, { source: '^debian:linux-source-6\\.1[=:]' }, { source: '^debian-image:linux-image-6\\.1\\.0-' }];

export const KNOWN_STATES: readonly KnownState[] = [
  {
    id: 'stock-6.1/dio-not-pinned',
    kernel: STOCK_61,
    workloads: '*',
    reasons: ['not-pinned'],
    why: 'stock 6.1 Direct I/O (block/fops.c, iomap, fs/direct-io.c, blk-map, ITER_PIPE) takes page references, not FOLL_PIN pins',
  },
  {
    id: 'stock-6.1/fork-during-dio',
    kernel: STOCK_61,
    workloads: '*.fork-race.*',
    reasons: ['fork-data-loss'],
    why: 'without pins MMF_HAS_PINNED is never set, so fork() does not copy pages under in-flight DIO: the parent loses the read',
  },
];

function globRe(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

export function kernelMatches(m: KernelMatch, k: KernelIdentity): boolean {
  if (m.profile === undefined && m.source === undefined) return false;
  if (m.profile !== undefined && k.profile !== m.profile) return false;
  if (m.source !== undefined && !new RegExp(m.source).test(k.source)) return false;
  // a reference kernel is one without extra patches, whatever it is called
  return k.patches.length === 0;
}

/** Entries that apply to this kernel and workload. */
export function knownStatesFor(kernel: KernelIdentity, workload: string, states: readonly KnownState[] = KNOWN_STATES): KnownState[] {
  return states.filter((s) => s.kernel.some((m) => kernelMatches(m, kernel)) && globRe(s.workloads).test(workload));
}

/**
 * FAILs fully covered by known states become XFAIL with `knownState` naming the entries.
 * With `strict` they stay FAIL (the message notes the known state).
 */
export function applyKnownStates(verdicts: readonly Verdict[], kernel: KernelIdentity, strict: boolean, states: readonly KnownState[] = KNOWN_STATES): Verdict[] {
  return verdicts.map((v) => {
    if (v.status !== 'FAIL' || v.reasons.length === 0) return v;
    const entries = knownStatesFor(kernel, v.name, states);
    const covered = new Set(entries.flatMap((e) => e.reasons));
    if (!v.reasons.every((r) => covered.has(r))) return v;
    const used = entries.filter((e) => e.reasons.some((r) => v.reasons.includes(r)));
    const ids = used.map((e) => e.id).join(', ');
    if (strict) return { ...v, message: `${v.message} [known state ${ids}; failing because --strict]` };
    return { ...v, status: 'XFAIL', knownState: ids, message: `${v.message} [expected: ${ids}]` };
  });
}
