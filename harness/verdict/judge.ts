// judge(): one WorkloadObservation -> one Verdict. Pure, and blind to which kernel ran: the
// expectation follows from the workload's pin model and from what the trace shows the kernel
// did on the path it reached, never from a profile name (bisect and --source kernels have none).
// Known states of reference kernels (XFAIL) are applied afterwards, in known-states.ts.
//
// Rules, in order:
//  1. Numbers. dA/dR = after - before of nr_foll_pin_acquired/released. Background pins from
//     the idle window are scaled to the workload's window (I/O duration + quiesce time, rounded
//     up) and subtracted: acquired = max(0, dA - bgA), released = max(0, dR - bgR). Balance is
//     checked on the raw deltas with a slack of max(bgA, bgR) (idle noise need not balance
//     inside one window); with no background noise (the normal case) balance is exact.
//  2. Evidence independent of the pin model: kmsg splats -> kernel-splat; read-back mismatch ->
//     data-corruption; fork-race lost pages -> fork-data-loss; errno: a fault case must surface
//     its errno (misaligned: EINVAL; readonly-dest: EFAULT; fail-make-request, blkdebug-eio: EIO)
//     and nothing else (efault-midway: EFAULT or a short transfer; past-eod: a short transfer,
//     ENOSPC or EINVAL); a workload without a fault must see no errors at all -> wrong-errno.
//  3. Path. Each `paths` group is reached (a name ran), unverifiable (no name traceable on this
//     kernel) or not reached (traceable names, none ran). Any group not reached: the pin model
//     is moot, so only balance and step 2 can FAIL; otherwise ERROR path-not-reached.
//  4. Balance (every model): released < acquired -> pin-leak; released > acquired -> over-released.
//  5. Pin model.
//     user-dio, expected = io.userPageOps (pages the buffers span, summed per operation; the
//       addon excludes pages that are the zero page, which is never counted on either side):
//       acquired == 0 -> not-pinned; no fault: acquired < expected -> not-pinned (partial);
//       more than expected is noted, not failed (fs/direct-io.c pins each reference it holds,
//       several per page): a double pin shows as a leak in step 4. With a fault a correct kernel may stop midway, so
//       only "some pins if bytes moved" is required (acquired == 0 with bytes > 0 -> not-pinned).
//     no-per-io-pins: acquired must equal io.fixedPins (registration pins) -> else unexpected-pins.
//     pipe-dio: copy_splice_read ran -> the kernel copies into its own pages: as no-per-io-pins;
//       generic_file_splice_read ran -> Direct I/O into pipe pages: as user-dio with expected =
//       io.userPageOps (the pipe pages filled); neither traceable -> decided by the counters if
//       anything was pinned, else SKIP (cannot tell "copied" from "not pinned").
//  6. Counters that had not settled when quiesce gave up turn a balance-only FAIL into ERROR
//     timeout (an asynchronous release may still have been on its way).
//  7. fail-make-request that injected nothing (extra.faultsInjected === 0) and no other failure:
//     ERROR harness (the errno check would otherwise blame the kernel).
//  8. ioError without io: FAIL kernel-splat if the log shows one, else ERROR guest.
import type { BackgroundNoise, Fault, WorkloadIO, WorkloadObservation } from '../workloads/types.js';
import { classifyKernelLog } from './dmesg.js';
import type { FailReason, Numbers, Splat, Verdict } from './types.js';

export interface JudgeContext {
  background: BackgroundNoise;
}

export type GroupState = 'reached' | 'unverifiable' | 'not-reached';

export interface PathEvidence {
  groups: { names: string[]; state: GroupState }[];
  /** every group reached or unverifiable */
  ok: boolean;
}

/** Function names from the trace may carry compiler suffixes (foo.isra.0): compare base names. */
export function baseFunctionName(name: string): string {
  return name.replace(/\..*$/, '');
}

export function pathEvidence(paths: string[][], hits: readonly string[], traceable: readonly string[]): PathEvidence {
  const hit = new Set(hits.map(baseFunctionName));
  const can = new Set(traceable.map(baseFunctionName));
  const groups = paths.map((names) => {
    const state: GroupState = names.some((n) => hit.has(n)) ? 'reached' : names.some((n) => can.has(n)) ? 'not-reached' : 'unverifiable';
    return { names, state };
  });
  return { groups, ok: groups.every((g) => g.state !== 'not-reached') };
}

/** Errno expectations of a fault case. */
export function expectedErrnos(fault: Fault | undefined): { allowed: string[]; required: boolean } {
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
    case 'fail-make-request':
    case 'blkdebug-eio':
      return { allowed: ['EIO'], required: true };
  }
}

function errnoProblem(io: WorkloadIO, fault: Fault | undefined): string | undefined {
  const { allowed, required } = expectedErrnos(fault);
  const seen = io.errors.filter((e) => e.count > 0);
  const wrong = seen.filter((e) => !allowed.includes(e.code));
  if (wrong.length > 0) {
    const what = wrong.map((e) => `${e.syscall}: ${e.code} x${e.count}`).join(', ');
    return fault ? `${fault.kind} expected ${allowed.join('/') || 'no error'}, got ${what}` : `unexpected errors: ${what}`;
  }
  if (required && seen.length === 0) return `${fault!.kind}: the error never reached user space (expected ${allowed.join('/')})`;
  return undefined;
}

function scaledBackground(bg: BackgroundNoise, windowMs: number): { acquired: number; released: number } {
  if (bg.windowMs <= 0) return { acquired: 0, released: 0 };
  const f = Math.max(0, windowMs) / bg.windowMs;
  return { acquired: Math.ceil(bg.acquired * f), released: Math.ceil(bg.released * f) };
}

type Model = { kind: 'user-dio'; expected: number } | { kind: 'fixed'; expected: number } | { kind: 'undecided' };

function effectiveModel(obs: WorkloadObservation, io: WorkloadIO, acquired: number): Model {
  const hits = new Set(obs.pathHits.map(baseFunctionName));
  switch (obs.spec.pinModel) {
    case 'user-dio':
      return { kind: 'user-dio', expected: io.userPageOps };
    case 'no-per-io-pins':
      return { kind: 'fixed', expected: io.fixedPins };
    case 'pipe-dio':
      if (hits.has('copy_splice_read')) return { kind: 'fixed', expected: io.fixedPins };
      if (hits.has('generic_file_splice_read')) return { kind: 'user-dio', expected: io.userPageOps };
      return acquired > 0 ? { kind: 'user-dio', expected: io.userPageOps } : { kind: 'undecided' };
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

export function judge(obs: WorkloadObservation, ctx: JudgeContext): Verdict {
  const splats = classifyKernelLog(obs.kmsg);
  const splatNote = splats.length > 0 ? `; ${splats.map((s) => s.title).join('; ')}` : '';
  const io = obs.io;
  if (!io) {
    const why = obs.ioError?.message ?? 'workload produced no result';
    if (splats.length > 0) {
      return { ...base(obs, splats), status: 'FAIL', reasons: ['kernel-splat'], pinning: 'unknown', message: `kernel splat${splatNote} (workload failed: ${why})` };
    }
    return { ...base(obs, splats), status: 'ERROR', reasons: [], cause: 'guest', pinning: 'unknown', message: `workload failed: ${why}` };
  }

  // 1. numbers
  const dA = obs.after.acquired - obs.before.acquired;
  const dR = obs.after.released - obs.before.released;
  const bg = scaledBackground(ctx.background, io.durationMs + obs.quiesce.ms);
  const slack = Math.max(bg.acquired, bg.released);
  const acquired = Math.max(0, dA - bg.acquired);
  const released = Math.max(0, dR - bg.released);
  const model = effectiveModel(obs, io, acquired);
  const expected = model.kind === 'undecided' ? 0 : model.expected;
  const numbers: Numbers = {
    acquired,
    released,
    expectedPins: expected,
    background: bg.acquired,
    userPageOps: io.userPageOps,
    bytes: io.bytes,
  };
  if (io.iops !== undefined) numbers.iops = io.iops;

  const reasons: FailReason[] = [];
  const notes: string[] = [];

  // 2. evidence independent of the pin model
  if (splats.length > 0) reasons.push('kernel-splat');
  if (!io.verify.ok) {
    reasons.push('data-corruption');
    notes.push(`read-back mismatch${io.verify.firstBadOffset !== undefined ? ` at byte ${io.verify.firstBadOffset}` : ''}${io.verify.detail ? ` (${io.verify.detail})` : ''}`);
  }
  if (io.fork && io.fork.lostData > 0) {
    reasons.push('fork-data-loss');
    notes.push(`fork lost data in ${io.fork.lostData} of ${io.fork.attempts} attempts (${io.fork.hitWindow} hit the window)`);
  }
  // a fail_make_request that never fired proves nothing about errnos: the harness missed
  const notInjected = obs.spec.fault?.kind === 'fail-make-request' && obs.extra?.faultsInjected === 0;
  const errno = notInjected ? undefined : errnoProblem(io, obs.spec.fault);
  if (errno) {
    reasons.push('wrong-errno');
    notes.push(errno);
  }

  // 3. path
  const evidence = pathEvidence(obs.spec.paths, obs.pathHits, obs.pathTraceable);
  const missing = evidence.groups.filter((g) => g.state === 'not-reached').map((g) => g.names.join('|'));

  // 4. balance
  const balance: FailReason[] = [];
  if (dA - dR > slack) balance.push('pin-leak');
  if (dR - dA > slack) balance.push('over-released');
  reasons.push(...balance);

  // 5. pin model
  let pinning: Verdict['pinning'] = 'unknown';
  let skip: string | undefined;
  if (evidence.ok) {
    if (model.kind === 'user-dio') {
      if (obs.spec.fault) {
        if (acquired === 0 && io.bytes > 0) {
          reasons.push('not-pinned');
          pinning = 'not-pinned';
        } else {
          pinning = acquired > 0 ? 'pinned' : 'unknown';
        }
      } else if (acquired === 0) {
        reasons.push('not-pinned');
        pinning = 'not-pinned';
      } else if (acquired < expected) {
        reasons.push('not-pinned');
        pinning = 'not-pinned';
        notes.push(`partial: ${acquired} of ${expected} page-ops pinned`);
      } else {
        pinning = 'pinned';
        // more pins than page-ops is not a fault by itself: fs/direct-io.c pins every reference
        // it holds on a data page (3 per page on 6.1 with the series, also on 6.12); balance
        // (step 4) is what tells a double pin from a correct one
        if (acquired > expected) notes.push(`${acquired} pins for ${expected} page-ops (${(acquired / expected).toFixed(1)} per page-op)`);
      }
    } else if (model.kind === 'fixed') {
      pinning = acquired === model.expected ? 'no-per-io-pins' : 'pinned';
      if (acquired !== model.expected) {
        reasons.push('unexpected-pins');
        notes.push(`${acquired} pins where only ${model.expected} registration pins belong`);
      }
    } else {
      skip = 'splice path unverifiable on this kernel (neither generic_file_splice_read nor copy_splice_read traceable) and nothing was pinned';
    }
  }

  const pathText = obs.pathHits.length > 0 ? obs.pathHits.map(baseFunctionName).join(' > ') : 'no key function traced';
  const counts = `acquired ${acquired}, released ${released}, expected ${expected}${bg.acquired > 0 ? `, background ${bg.acquired}` : ''}`;
  const common = { ...base(obs, splats), numbers, pinning };

  // 6. unsettled counters make a balance-only failure inconclusive
  const onlyBalance = reasons.length > 0 && reasons.every((r) => r === 'pin-leak' || r === 'over-released');
  if (onlyBalance && !obs.quiesce.settled) {
    return { ...common, status: 'ERROR', reasons: [], cause: 'timeout', message: `pin counters still moving after ${obs.quiesce.ms} ms of quiesce (${counts})` };
  }
  if (reasons.length > 0) {
    const unique = [...new Set(reasons)];
    const where = missing.length > 0 ? `; path not reached: ${missing.join(', ')}` : `; path: ${pathText}`;
    return { ...common, status: 'FAIL', reasons: unique, message: `${unique.join(', ')}: ${counts}${notes.length ? `; ${notes.join('; ')}` : ''}${where}${splatNote}` };
  }
  if (notInjected) {
    return { ...common, status: 'ERROR', reasons: [], cause: 'harness', message: `fail_make_request never fired on this workload (${counts})` };
  }
  if (missing.length > 0) {
    return { ...common, status: 'ERROR', reasons: [], cause: 'path-not-reached', message: `path not reached: ${missing.join(', ')} (traced: ${pathText})` };
  }
  if (skip) return { ...common, status: 'SKIP', reasons: [], skipReason: skip, message: skip };
  const unverifiable = evidence.groups.filter((g) => g.state === 'unverifiable').map((g) => g.names.join('|'));
  const caveat = unverifiable.length > 0 ? `; unverifiable: ${unverifiable.join(', ')}` : '';
  return { ...common, status: 'PASS', reasons: [], message: `${pinning}: ${counts}${notes.length ? `; ${notes.join('; ')}` : ''}; path: ${pathText}${caveat}` };
}
