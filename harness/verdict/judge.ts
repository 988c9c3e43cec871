// judge(): one WorkloadObservation -> one Verdict. Pure, and blind to which kernel ran: the
// expectation follows from the workload's pin model and from what the trace shows the kernel
// did on the path it reached, never from a profile name (bisect and --source kernels have none).
// Known states of reference kernels (XFAIL) are applied afterwards, in known-states.ts.
//
// Rules, in order:
//  1. Numbers. Pins are judged on the evidence that sees every pin (obs.evidence: kprobe hist
//     counts at the kernel's pin/unpin primitives, guest/pin-evidence.ts) when the kernel gives
//     it, else on /proc/vmstat's nr_foll_pin_acquired/released (said in the message). Where the
//     two disagree (vmstat does not count folio_add_pin(), 6.5+ fs/direct-io.c) the difference
//     is a finding, `uncountedPins`/`uncountedReleases`, never a failure by itself.
//     Evidence unavailable (no calibration source added up, no kprobe events) on a kernel that
//     has a pin primitive vmstat does not count (obs.evidence.vmstatBlind: folio_add_pin, read
//     from the kernel's functions and symbols) and the workload took the path that uses it
//     (fs/direct-io.c: __blockdev_direct_IO ran, or could not be traced and the workload's path
//     names it): the counters are known to be wrong there, so the pin judgement is ERROR
//     evidence; only step 2's pin-independent evidence can still FAIL.
//     Background: pins that moved in the idle window right before the workload (obs.idle; for
//     old observations the run's one idle sample) cannot be told from the workload's own: any
//     such movement makes the pin judgement ERROR background (never a wider tolerance).
//  2. Evidence independent of the pin model: kmsg splats -> kernel-splat; read-back mismatch ->
//     data-corruption; fork-race lost pages -> fork-data-loss; a page of an anonymous buffer
//     the kernel still held (anonymous, mapped nowhere, not free) when the workload had unmapped
//     it and waited for deferred releases (io.frames, workloads/frames.ts: a leaked page
//     reference or pin, seen without the pin counters) -> pages-held; errno: a fault case must surface
//     its errno (misaligned, over-limit: EINVAL; readonly-dest: EFAULT; memlock: ENOMEM;
//     longterm-file: EFAULT or EOPNOTSUPP; migration-blocked: ENOMEM or success; gate-page,
//     zero-page, sub-block, cleaned-in-flight, hole-read, page-status, fork-storm, protect-storm, dax: none; secretmem: EFAULT; zone-append: EIO or none; kernel-read: EFAULT, ENOEXEC or EKEYREJECTED; hugetlb-exhausted: EFAULT or a short read (psync), ENOMEM or
//     EINVAL (udmabuf);
//     fail-make-request, blkdebug-eio: EIO) and nothing else (efault-midway: EFAULT or a short
//     transfer; past-eod: a short transfer, ENOSPC or EINVAL; nowait: EAGAIN or success;
//     hole-write: success); a workload without a fault must see no errors at all -> wrong-errno.
//     Fork race: a run whose attempts never hit the window proves nothing -> ERROR harness.
//  3. Path. Each `paths` group is reached (a name ran), unverifiable (no name traceable on this
//     kernel) or not reached (traceable names, none ran). Any group not reached: the pin model
//     is moot, so only balance and step 2 can FAIL; otherwise ERROR path-not-reached.
//  4. Balance (every model): released < acquired -> pin-leak; released > acquired -> over-released.
//     Judged on the evidence, and also on vmstat where the evidence balances: nr_foll_pin_acquired
//     counts only pins the kernel took, so vmstat acquired > released is a pin-leak the evidence
//     (calls of the primitives, counted at entry) cannot see: a release that returned without
//     releasing. The reverse proves nothing (vmstat misses folio_add_pin()'s pins).
//  5. Pin model.
//     user-dio, expected = io.userPageOps (pages each op's segments span, for the bytes moved,
//       fault phases included): acquired == 0 -> not-pinned; acquired < expected -> not-pinned
//       (partial). On a fault-free workload more pins than page-ops plus one per op (a page
//       that a block mapping ends in the middle of is pinned once per mapping) ->
//       unexpected-pins (e.g. a kernel pinning the BVEC pages of loop's backing I/O), unless the
//       path is one that pins each reference it holds (fs/direct-io.c: __blockdev_direct_IO
//       ran), where a double pin shows in step 4 instead; a failed op may pin and move nothing.
//     no-per-io-pins: acquired must equal io.fixedPins (registration pins) -> else unexpected-pins.
//     Migration: where the kernel migrated pages during the workload (pagesMigrated: a long-term
//       pin of ZONE_MOVABLE pages unpins, migrates and pins again), up to twice
//       the expected pins are a re-pin, not unexpected-pins (both models); balance still holds.
//     pipe-dio, keyed on what the kernel did: iov_iter_pipe ran (ITER_PIPE Direct I/O into pipe
//       pages, <= 6.3) -> as user-dio with expected = io.userPageOps (the pipe pages filled);
//       copy_splice_read / direct_splice_read ran (6.4+: a copy into kernel pages) -> as
//       no-per-io-pins; neither traceable -> decided by the pins if anything was pinned, else SKIP.
//     memfd-pin (udmabuf): memfd_pin_folios ran or is traceable (6.11+), or anything was pinned ->
//       as user-dio with expected = io.userPageOps (each op's memfd pages); else (a kernel whose
//       udmabuf takes page references) -> as no-per-io-pins.
//  6. Pins still moving when quiesce gave up turn a balance-only FAIL into ERROR timeout (an
//     asynchronous release may still have been on its way); pins that stood still, unbalanced,
//     are a FAIL.
//  7. fail-make-request that injected nothing (extra.faultsInjected === 0) and no other failure:
//     ERROR harness (the errno check would otherwise blame the kernel).
//  8. ioError without io: FAIL kernel-splat if the log shows one; else FAIL pin-leak/over-released
//     when the pins counted around the failed workload stood still unbalanced (the failure may be
//     the leak's consequence: a 1 GiB page a leaked pin kept from its pool); else ERROR guest.
//  9. The run's pin-accounting control (gup_test, counted by vmstat) failed: every workload
//     judged on vmstat is ERROR harness, the counters cannot be trusted (judgeRun below; the live
//     run and `pinlab parse` both use it). Workloads judged on the pin evidence do not rest on
//     the counters and are judged as usual.
import { FAIL_MAKE_REQUEST_FAULTS, type BackgroundNoise, type Engine, type Fault, type PinControl, type WorkloadIO, type WorkloadObservation } from '../workloads/types.js';
import { baseName } from '../trace-names.js';
import { classifyKernelLog } from './dmesg.js';
import type { FailReason, Numbers, Splat, Verdict } from './types.js';
import { bufferBacking } from '../workloads/buffers.js';

/** Primitives that fs/direct-io.c pins with, and the function showing that it ran. */
const DIRECT_IO_C = '__blockdev_direct_IO';

/**
 * How fs/direct-io.c, whose pins a primitive vmstat does not count (blind) may take, figured in
 * this workload ('ran', or 'may have run' where it could not be traced), or undefined when it did
 * not or the kernel has no such primitive.
 */
function blindPathOf(obs: WorkloadObservation, blind: readonly string[] | undefined): string | undefined {
  if (!blind?.length) return undefined;
  if (obs.pathHits.map(baseName).includes(DIRECT_IO_C)) return 'fs/direct-io.c ran';
  const untraced = !obs.pathTraceable.map(baseName).includes(DIRECT_IO_C) && obs.spec.paths.some((g) => g.includes(DIRECT_IO_C));
  return untraced ? 'fs/direct-io.c may have run (not traceable here)' : undefined;
}

/**
 * Why vmstat cannot judge this workload's pins, or undefined: the evidence is unavailable, the
 * kernel has a pin primitive nr_foll_pin_acquired does not count, and the workload's path uses it.
 */
export function vmstatBlindOn(obs: WorkloadObservation): string | undefined {
  const ev = obs.evidence;
  if (!ev || !('unavailable' in ev)) return undefined;
  const how = blindPathOf(obs, ev.vmstatBlind);
  if (!how) return undefined;
  return `${how}, and this kernel has ${(ev.vmstatBlind ?? []).join(', ')}, which pins without counting nr_foll_pin_acquired: vmstat cannot judge these pins, and the pin evidence is unavailable (${ev.unavailable})`;
}

export interface JudgeContext {
  background: BackgroundNoise;
}

export type GroupState = 'reached' | 'unverifiable' | 'not-reached';

export interface PathEvidence {
  groups: { names: string[]; state: GroupState }[];
  /** every group reached or unverifiable */
  ok: boolean;
}


export function pathEvidence(paths: string[][], hits: readonly string[], traceable: readonly string[]): PathEvidence {
  const hit = new Set(hits.map(baseName));
  const can = new Set(traceable.map(baseName));
  const groups = paths.map((names) => {
    const state: GroupState = names.some((n) => hit.has(n)) ? 'reached' : names.some((n) => can.has(n)) ? 'not-reached' : 'unverifiable';
    return { names, state };
  });
  return { groups, ok: groups.every((g) => g.state !== 'not-reached') };
}

/** Errno expectations of a fault case. */
export function expectedErrnos(fault: Fault | undefined, engine?: Engine): { allowed: string[]; required: boolean } {
  switch (fault?.kind) {
    case undefined:
      return { allowed: [], required: false };
    case 'efault-midway':
      return { allowed: ['EFAULT'], required: false };
    case 'readonly-dest':
      return { allowed: ['EFAULT'], required: true };
    case 'misaligned':
      return { allowed: ['EINVAL'], required: true };
    case 'past-eod':
      return { allowed: ['ENOSPC', 'EINVAL'], required: false };
    case 'over-limit':
      return { allowed: ['EINVAL'], required: true };
    case 'nowait':
      // a kernel that can issue several bios without blocking may also just do the I/O
      return { allowed: ['EAGAIN'], required: false };
    case 'hole-write':
      return { allowed: [], required: false };
    case 'memlock':
      return { allowed: ['ENOMEM'], required: true };
    case 'longterm-file':
      // EOPNOTSUPP: Node names errno 95 ENOTSUP
      return { allowed: ['EFAULT', 'EOPNOTSUPP', 'ENOTSUP'], required: true };
    case 'migration-blocked':
      // no error where the pages sat outside ZONE_MOVABLE (nothing to migrate)
      return { allowed: ['ENOMEM'], required: false };
    case 'gate-page':
    case 'zero-page':
    case 'sub-block':
    case 'cleaned-in-flight':
    case 'hole-read':
    case 'page-status':
    case 'fork-storm':
    case 'protect-storm':
    case 'dax':
      return { allowed: [], required: false };
    case 'secretmem':
      return { allowed: ['EFAULT'], required: true };
    case 'kernel-read':
      // after the read: ENOEXEC (no ELF), or EKEYREJECTED where module signatures are enforced
      return { allowed: ['EFAULT', 'ENOEXEC', 'EKEYREJECTED'], required: true };
    case 'zone-append':
      // stable 6.1's zonefs: EIO after every synchronous append (types.ts), with its diagnosis
      // in the kernel log (errnoProblem checks that)
      return { allowed: ['EIO'], required: false };
    case 'hugetlb-exhausted':
      // udmabuf: ENOMEM from memfd_pin_folios (6.11+), EINVAL from older udmabufs, which take
      // only pages already in the memfd; Direct I/O: EFAULT or a short read
      return engine === 'udmabuf' ? { allowed: ['ENOMEM', 'EINVAL'], required: true } : { allowed: ['EFAULT'], required: false };
    case 'fail-make-request':
    case 'blkdebug-eio':
    case 'metadata-eio':
    case 'reap-eio':
      return { allowed: ['EIO'], required: true };
  }
}

/** zonefs's own diagnosis of the stable-6.1 append bug (zonefs_warn in fs/zonefs/file.c), the one reason a zone append may fail EIO. */
const ZONEFS_WP_BUG = /zonefs \([^)]*\) WARNING: Corrupted write pointer/;

function errnoProblem(io: WorkloadIO, fault: Fault | undefined, engine: Engine, kmsg: readonly string[]): string | undefined {
  const { allowed, required } = expectedErrnos(fault, engine);
  const seen = io.errors.filter((e) => e.count > 0);
  // an EIO of a kernel without that bug is a real failure: allowed only with zonefs's diagnosis
  if (fault?.kind === 'zone-append' && seen.some((e) => e.code === 'EIO') && !kmsg.some((l) => ZONEFS_WP_BUG.test(l))) {
    return 'zone-append: EIO without zonefs\'s "Corrupted write pointer" diagnosis in the kernel log (the stable 6.1 append bug this allowance is for)';
  }
  const wrong = seen.filter((e) => !allowed.includes(e.code));
  if (wrong.length > 0) {
    const what = wrong.map((e) => `${e.syscall}: ${e.code} x${e.count}`).join(', ');
    return fault ? `${fault.kind} expected ${allowed.join('/') || 'no error'}, got ${what}` : `unexpected errors: ${what}`;
  }
  if (required && seen.length === 0) return `${fault!.kind}: the error never reached user space (expected ${allowed.join('/')})`;
  return undefined;
}

/** Pins that moved while the guest was idle before the workload: any is too many. */
function idleOf(obs: WorkloadObservation, bg: BackgroundNoise, durationMs: number): { pins: number; text?: string } {
  if (obs.idle) {
    const i = obs.idle;
    const moved = [i.acquired, i.released, i.evidenceAcquired ?? 0, i.evidenceReleased ?? 0].map(Math.abs);
    const pins = Math.max(...moved);
    if (pins === 0) return { pins };
    const evText = i.evidenceAcquired !== undefined ? `, evidence ${i.evidenceAcquired}/${i.evidenceReleased}` : '';
    return { pins, text: `pins moved while idle for ${i.windowMs} ms before the workload (vmstat ${i.acquired}/${i.released}${evText})` };
  }
  // an observation from before per-workload idle windows: the run's one idle sample
  const pins = Math.max(Math.abs(bg.acquired), Math.abs(bg.released));
  if (pins === 0) return { pins };
  return { pins, text: `pins moved in the run's idle sample (${bg.acquired}/${bg.released} in ${bg.windowMs} ms; the workload ran ${Math.round(durationMs)} ms)` };
}

type Model = { kind: 'user-dio'; expected: number } | { kind: 'fixed'; expected: number } | { kind: 'undecided' };

function effectiveModel(obs: WorkloadObservation, io: WorkloadIO, acquired: number, hits: ReadonlySet<string>): Model {
  switch (obs.spec.pinModel) {
    case 'user-dio':
      return { kind: 'user-dio', expected: io.userPageOps };
    case 'no-per-io-pins':
      return { kind: 'fixed', expected: io.fixedPins };
    case 'pipe-dio':
      // what the kernel did, not which kernel: ITER_PIPE Direct I/O, or a copy (6.4+)
      if (hits.has('iov_iter_pipe')) return { kind: 'user-dio', expected: io.userPageOps };
      if (hits.has('copy_splice_read') || hits.has('direct_splice_read')) return { kind: 'fixed', expected: io.fixedPins };
      // generic_file_splice_read set up ITER_PIPE itself up to 6.3; when iov_iter_pipe cannot be
      // traced (inlined in a distribution build) and no copy ran, that is what it did
      if (hits.has('generic_file_splice_read') && !obs.pathTraceable.map(baseName).includes('iov_iter_pipe')) return { kind: 'user-dio', expected: io.userPageOps };
      return acquired > 0 ? { kind: 'user-dio', expected: io.userPageOps } : { kind: 'undecided' };
    case 'memfd-pin':
      // what the kernel has: memfd_pin_folios (6.11+) pins each op's memfd pages; a kernel
      // without it (not traceable: absent) that pinned nothing took page references instead
      if (hits.has('memfd_pin_folios') || obs.pathTraceable.map(baseName).includes('memfd_pin_folios') || acquired > 0) return { kind: 'user-dio', expected: io.userPageOps };
      return { kind: 'fixed', expected: io.fixedPins };
  }
}

function base(obs: WorkloadObservation, splats: Splat[]): Pick<Verdict, 'name' | 'target' | 'engine' | 'path' | 'splats' | 'observation'> {
  return {
    name: obs.spec.name,
    target: obs.spec.target,
    engine: obs.spec.engine,
    path: [...obs.pathHits],
    splats,
    observation: obs,
  };
}

/**
 * The pins a workload took and gave back, by the counter that judges them: the pin evidence;
 * vmstat where the evidence lost hits (dropped or missed probes) and vmstat counts every
 * primitive this path used (vmstatWitness), or where there is no evidence. `trusted` is false
 * when neither can count every pin: evidence that lost hits on a path vmstat is blind to, or no
 * evidence on such a path.
 */
function countPins(obs: WorkloadObservation) {
  const vA = obs.after.acquired - obs.before.acquired;
  const vR = obs.after.released - obs.before.released;
  const recorded = obs.evidence && 'before' in obs.evidence ? obs.evidence : undefined;
  const lost = recorded ? recorded.after.dropped - recorded.before.dropped : 0;
  const vmstatWitness = lost > 0 && !blindPathOf(obs, recorded?.vmstatBlind);
  const ev = vmstatWitness ? undefined : recorded;
  const trusted = ev ? lost === 0 : !blindPathOf(obs, obs.evidence?.vmstatBlind);
  return {
    vA,
    vR,
    ev,
    lost,
    vmstatWitness,
    trusted,
    acquired: ev ? ev.after.acquired - ev.before.acquired : vA,
    released: ev ? ev.after.released - ev.before.released : vR,
    counter: ev ? ev.mechanism : 'vmstat',
  };
}

/**
 * Pins a workload that failed part-way left unbalanced, counted as a finished workload's are
 * (countPins), once they stood still after quiesce and nothing moved while the guest was idle:
 * undefined when they balance or cannot be trusted.
 */
function keptAfterFailure(obs: WorkloadObservation): { reasons: FailReason[]; acquired: number; released: number; counter: string } | undefined {
  if (!obs.before || !obs.after || !obs.quiesce?.stable) return undefined;
  const i = obs.idle;
  if (i && [i.acquired, i.released, i.evidenceAcquired ?? 0, i.evidenceReleased ?? 0].some((n) => n !== 0)) return undefined;
  const { acquired, released, counter, trusted } = countPins(obs);
  if (!trusted || acquired === released) return undefined;
  return { acquired, released, counter, reasons: [acquired > released ? 'pin-leak' : 'over-released'] };
}

export function judge(obs: WorkloadObservation, ctx: JudgeContext): Verdict {
  const splats = classifyKernelLog(obs.kmsg);
  const splatNote = splats.length > 0 ? `; ${splats.map((s) => s.title).join('; ')}` : '';
  const io = obs.io;
  if (!io) {
    const why = obs.ioError?.message ?? 'workload produced no result';
    if (splats.length > 0) {
      return { ...base(obs, splats), status: 'FAIL', reasons: ['kernel-splat'], pinning: 'unknown', message: `kernel splat${splatNote} (workload failed: ${why})` };
    }
    const kept = keptAfterFailure(obs);
    if (kept) {
      const counts = `${kept.acquired} acquired / ${kept.released} released (${kept.counter}), standing still after quiesce`;
      return { ...base(obs, splats), status: 'FAIL', reasons: kept.reasons, pinning: 'unknown', message: `${kept.reasons.join(', ')}: the workload failed (${why}) with its pins unbalanced: ${counts}` };
    }
    return { ...base(obs, splats), status: 'ERROR', reasons: [], cause: 'guest', pinning: 'unknown', message: `workload failed: ${why}` };
  }

  // 1. numbers: evidence that lost hits (hist entries dropped, probes missed) cannot count every
  // pin; vmstat stands in where it counts every primitive this workload's path used
  const { vA, vR, ev, lost, vmstatWitness, acquired, released, counter } = countPins(obs);
  const idle = idleOf(obs, ctx.background, io.durationMs);
  // the key functions that ran, without compiler suffixes (foo.isra.0)
  const hits = new Set(obs.pathHits.map(baseName));
  const model = effectiveModel(obs, io, acquired, hits);
  const expected = model.kind === 'undecided' ? 0 : model.expected;
  const numbers: Numbers = {
    acquired,
    released,
    expectedPins: expected,
    background: idle.pins,
    userPageOps: io.userPageOps,
    bytes: io.bytes,
    evidence: counter,
  };
  const blind = ev ? undefined : vmstatBlindOn(obs);
  if (blind) numbers.evidence = 'none';
  if (io.iops !== undefined) numbers.iops = io.iops;
  const migrated = pagesMigrated(obs);
  if (migrated > 0) numbers.pagesMigrated = migrated;
  if (ev) {
    numbers.vmstatAcquired = vA;
    numbers.vmstatReleased = vR;
    numbers.uncountedPins = acquired - vA;
    numbers.uncountedReleases = released - vR;
  }

  const reasons: FailReason[] = [];
  const notes: string[] = [];
  if (vmstatWitness) notes.push(`the pin evidence lost ${lost} hits (dropped or missed probes): judged on vmstat, which counts every primitive this path uses`);

  // 2. evidence independent of the pin model
  if (splats.length > 0) reasons.push('kernel-splat');
  if (!io.verify.ok) {
    reasons.push('data-corruption');
    notes.push(`read-back mismatch${io.verify.firstBadOffset !== undefined ? ` at byte ${io.verify.firstBadOffset}` : ''}${io.verify.detail ? ` (${io.verify.detail})` : ''}`);
  }
  if (io.frames && io.frames.held > 0) {
    reasons.push('pages-held');
    const f = io.frames;
    notes.push(`${f.held} of ${f.recorded} anonymous buffer pages still held by the kernel ${f.waitedMs} ms after they were unmapped (a leaked page reference or pin; e.g. pfn ${f.sample.slice(0, 2).map((s) => `0x${s.pfn.toString(16)} [${s.flags.join(',')}]`).join(', ')})`);
  }
  // a check that could not run judges nothing: the message says so, not only run.json
  if (io.frames?.unavailable) notes.push(`freed-frame check not run (${io.frames.unavailable}): a leaked page reference would go unseen`);
  if (io.fork && io.fork.lostData > 0) {
    reasons.push('fork-data-loss');
    notes.push(`fork lost data in ${io.fork.lostData} of ${io.fork.attempts} attempts (${io.fork.hitWindow} hit the window)`);
  }
  // a fail_make_request that never fired proves nothing about errnos: the harness missed
  const notInjected = obs.spec.fault !== undefined && FAIL_MAKE_REQUEST_FAULTS.includes(obs.spec.fault.kind) && obs.extra?.faultsInjected === 0;
  const errno = notInjected ? undefined : errnoProblem(io, obs.spec.fault, obs.spec.engine, obs.kmsg ?? []);
  if (errno) {
    reasons.push('wrong-errno');
    notes.push(errno);
  }

  // a thp workload whose buffer got no huge page tested small pages again: say so, judge nothing
  // (unless its pins stand unbalanced: a leak is a leak whatever the buffer was)
  if (bufferBacking(obs.spec.buffer).thp && io.hugePageBytes === 0 && reasons.length === 0 && acquired === released) {
    const why = 'the thp buffer is not huge-page backed (AnonHugePages 0: THP disabled or no huge page available)';
    return { ...base(obs, splats), status: 'SKIP', reasons: [], skipReason: why, pinning: 'unknown', numbers, message: why };
  }

  // a fork check the kernel cannot run (its gup_test lacks the long-term pin request), as long as
  // nothing it did left pins unbalanced: an EINVAL a broken kernel gave must not hide a leak
  if (io.fork?.unsupported && reasons.length === 0 && acquired === released) {
    return { ...base(obs, splats), status: 'SKIP', reasons: [], skipReason: io.fork.unsupported, pinning: 'unknown', numbers, message: io.fork.unsupported };
  }

  // fork during DIO: attempts that never caught the read in flight show nothing about pins
  const forkMissed = obs.spec.engine === 'fork-race' && io.fork !== undefined && io.fork.hitWindow === 0 && io.fork.lostData === 0;

  // 3. path
  const evidence = pathEvidence(obs.spec.paths, obs.pathHits, obs.pathTraceable);
  const missing = evidence.groups.filter((g) => g.state === 'not-reached').map((g) => g.names.join('|'));
  const independent = [...reasons];

  if (blind) {
    const common = { ...base(obs, splats), numbers, pinning: 'unknown' as const };
    if (independent.length > 0) {
      const unique = [...new Set(independent)];
      return { ...common, status: 'FAIL', reasons: unique, message: `${unique.join(', ')}: ${notes.join('; ')}; pins not judged: ${blind}${splatNote}` };
    }
    return { ...common, status: 'ERROR', reasons: [], cause: 'evidence', message: `pins not judged: ${blind} (vmstat read ${vA} acquired / ${vR} released)` };
  }

  // 4. balance
  if (acquired > released) reasons.push('pin-leak');
  if (released > acquired) reasons.push('over-released');
  if (ev && acquired === released && vA > vR) {
    // vmstat counts a pin only where the kernel took one (it misses some, never invents one):
    // more of them than releases is a leak the evidence, which counts the primitives' calls,
    // cannot see (a release entered that gave nothing back)
    reasons.push('pin-leak');
    notes.push(`vmstat counted ${vA} pins taken and ${vR} released, though the evidence saw a release for every grab: a release that gave its pin back did not`);
  }

  // 5. pin model
  let pinning: Verdict['pinning'] = 'unknown';
  let skip: string | undefined;
  if (evidence.ok) {
    if (model.kind === 'user-dio') {
      if (acquired === 0 && io.bytes > 0) {
        reasons.push('not-pinned');
        pinning = 'not-pinned';
      } else if (acquired < expected) {
        reasons.push('not-pinned');
        pinning = 'not-pinned';
        notes.push(`partial: ${acquired} of ${expected} page-ops pinned`);
      } else {
        pinning = acquired > 0 ? 'pinned' : 'unknown';
        // an op that failed (a fault case) may have pinned pages and moved no byte: its pins
        // count against balance only
        // fork-race: fork() write-protects the ptes under a running gup-fast, which then drops
        // its pin and retries; those retries are pins too (balanced), so extra pins decide nothing
        const allOpsMoved = !obs.spec.fault && io.errors.every((e) => e.count === 0) && obs.spec.engine !== 'fork-race';
        const retried = repinCause(obs.spec, migrated);
        if (acquired > expected) {
          if (retried && acquired <= 2 * expected) {
            notes.push(`${acquired} pins for ${expected} page-ops: ${retried}`);
          } else if (!allOpsMoved) {
            notes.push(`${acquired} pins for ${expected} page-ops of the bytes moved (failed ops pin too)`);
          } else if (hits.has('__blockdev_direct_IO')) {
            // fs/direct-io.c pins every reference it holds on a page (3 per page with the
            // series on 6.1, also on 6.12): balance (step 4) tells a double pin from these
            notes.push(`${acquired} pins for ${expected} page-ops (${(acquired / Math.max(1, expected)).toFixed(1)} per page-op; fs/direct-io.c pins each reference)`);
          } else if (acquired - expected <= io.ops) {
            // a page that a block mapping ends in the middle of (1 KiB blocks, fragmented
            // files) is pinned once per mapping: at most one such re-pin per op
            notes.push(`${acquired - expected} page(s) pinned again where a block mapping ended mid-page (at most one per op: ${io.ops} ops)`);
          } else {
            reasons.push('unexpected-pins');
            notes.push(`${acquired} pins for ${expected} page-ops in ${io.ops} ops, on a path that pins each page-op once`);
          }
        }
      }
    } else if (model.kind === 'fixed') {
      pinning = acquired === model.expected ? 'no-per-io-pins' : 'pinned';
      if (acquired > model.expected && obs.spec.fault) {
        // a registration that met the fault pinned what it could and gave it back (balance, step 4)
        notes.push(`${acquired} pins where ${model.expected} registration pins belong: the failed registration's pins (${obs.spec.fault.kind})`);
      } else if (acquired > model.expected && acquired <= 2 * model.expected && migrated > 0) {
        // the registration's pages sat in ZONE_MOVABLE: pinned, given back, migrated, pinned again
        notes.push(`${acquired} pins for ${model.expected} registration pins: ${migrationCause(migrated)}`);
      } else if (acquired !== model.expected) {
        reasons.push('unexpected-pins');
        notes.push(`${acquired} pins where only ${model.expected} registration pins belong`);
      }
    } else {
      skip = 'splice path unverifiable on this kernel (none of iov_iter_pipe, copy_splice_read, direct_splice_read traceable) and nothing was pinned';
    }
  }

  const pathText = obs.pathHits.length > 0 ? obs.pathHits.map(baseName).join(' > ') : 'no key function traced';
  const source = ev ? `${ev.mechanism} evidence` : `vmstat only (${obs.evidence && 'unavailable' in obs.evidence ? obs.evidence.unavailable : 'no pin evidence recorded'})`;
  const uncounted =
    numbers.uncountedPins || numbers.uncountedReleases
      ? `; vmstat counted ${vA}/${vR} (uncounted pins ${numbers.uncountedPins}, releases ${numbers.uncountedReleases})`
      : '';
  const counts = `acquired ${acquired}, released ${released}, expected ${expected} [${source}]${uncounted}`;
  const common = { ...base(obs, splats), numbers, pinning };
  // background: a pin judgement cannot stand on it, the pin-independent evidence can
  if (idle.text) {
    if (independent.length > 0) {
      const unique = [...new Set(independent)];
      return { ...common, status: 'FAIL', reasons: unique, message: `${unique.join(', ')}: ${notes.join('; ')}; ${idle.text}${splatNote}` };
    }
    return { ...common, status: 'ERROR', reasons: [], cause: 'background', message: `${idle.text}: cannot attribute ${counts}` };
  }
  if (ev && lost > 0 && independent.length === 0) {
    return { ...common, status: 'ERROR', reasons: [], cause: 'harness', message: `pin evidence incomplete: it lost ${lost} hits (dropped hist entries or missed probes), and vmstat cannot stand in (${ev.vmstatBlind?.join(', ') ?? '?'} pin uncounted on this path) (${counts})` };
  }

  // 6. pins still moving make a balance-only failure inconclusive
  const onlyBalance = reasons.length > 0 && reasons.every((r) => r === 'pin-leak' || r === 'over-released');
  const moving = obs.quiesce.stable === undefined ? !obs.quiesce.settled : !obs.quiesce.stable;
  if (onlyBalance && moving) {
    return { ...common, status: 'ERROR', reasons: [], cause: 'timeout', message: `pins still moving after ${obs.quiesce.ms} ms of quiesce (${counts})` };
  }
  if (reasons.length > 0) {
    const unique = [...new Set(reasons)];
    const where = missing.length > 0 ? `; path not reached: ${missing.join(', ')}` : `; path: ${pathText}`;
    return { ...common, status: 'FAIL', reasons: unique, message: `${unique.join(', ')}: ${counts}${notes.length ? `; ${notes.join('; ')}` : ''}${where}${splatNote}` };
  }
  if (notInjected) {
    return { ...common, status: 'ERROR', reasons: [], cause: 'harness', message: `fail_make_request never fired on this workload (${counts})` };
  }
  if (forkMissed) {
    return { ...common, status: 'ERROR', reasons: [], cause: 'harness', message: `fork race never hit the window: ${io.fork!.attempts} attempts, the read had completed each time (${counts})` };
  }
  if (missing.length > 0) {
    return { ...common, status: 'ERROR', reasons: [], cause: 'path-not-reached', message: `path not reached: ${missing.join(', ')} (traced: ${pathText})` };
  }
  if (skip) return { ...common, status: 'SKIP', reasons: [], skipReason: skip, message: skip };
  const unverifiable = evidence.groups.filter((g) => g.state === 'unverifiable').map((g) => g.names.join('|'));
  const caveat = unverifiable.length > 0 ? `; unverifiable: ${unverifiable.join(', ')}` : '';
  return { ...common, status: 'PASS', reasons: [], message: `${pinning}: ${counts}${notes.length ? `; ${notes.join('; ')}` : ''}; path: ${pathText}${caveat}` };
}

export interface RunJudgeContext extends JudgeContext {
  /** the run's pin-accounting control (gup_test), if one ran */
  control?: PinControl;
}

/**
 * Pages the kernel migrated during the workload, 0 where not counted: vmstat's pgmigrate_success,
 * or where the kernel has no VM event counters the guest's hist trigger on mm_migrate_pages.
 */
export function pagesMigrated(obs: Pick<WorkloadObservation, 'before' | 'after'>): number {
  const a = obs.after.migrated;
  const b = obs.before.migrated;
  return a !== undefined && b !== undefined ? Math.max(0, a - b) : 0;
}

/** Why a long-term pin's pages were pinned twice: `migrated` pages were moved in between (ZONE_MOVABLE). */
function migrationCause(migrated: number): string | undefined {
  return migrated > 0 ? `${migrated} page(s) migrated: a long-term pin of movable pages gives its pins back, migrates and pins again` : undefined;
}

/**
 * Why a workload's pages are pinned more than once per page-op on a correct kernel, when the
 * kernel migrated them (`migrated` pages) or the workload is built to make the kernel drop its
 * pins and take them again (balance still decides).
 */
function repinCause(spec: WorkloadObservation['spec'], migrated: number): string | undefined {
  const moved = migrationCause(migrated);
  if (moved) return moved;
  if (bufferBacking(spec.buffer).cowShared) return 'the copy-on-write shared pages were unshared: gup-fast dropped its pins and the slow path took them again';
  if (spec.nowaitRetry) return "the IOCB_NOWAIT attempt released its bios' pins and the blocking retry took them again";
  if (spec.segmentOrder === 'bio-trim') return "a bio's last slot took one page of a segment, trimmed it to the logical block (nothing left) and released it; the next bio pinned the segment again";
  return undefined;
}

/**
 * Rule 9 around judge(): the one entry point of the live run and of `pinlab parse`, so a
 * re-parse of a saved run reaches the same verdicts.
 */
export function judgeRun(obs: WorkloadObservation, ctx: RunJudgeContext): Verdict {
  const c = ctx.control;
  const onEvidence = obs.evidence !== undefined && 'before' in obs.evidence;
  if (c && !c.ok && !c.skipped && !onEvidence) {
    return {
      ...base(obs, []),
      status: 'ERROR',
      reasons: [],
      cause: 'harness',
      pinning: 'unknown',
      message: `pin accounting control failed, counters cannot be trusted: ${c.message}`,
    };
  }
  return judge(obs, ctx);
}
