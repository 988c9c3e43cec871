// Pin evidence that does not depend on /proc/vmstat's accounting (runs in the guest).
//
// /proc/vmstat's nr_foll_pin_acquired/released are bumped inside some pin primitives and not
// others: since ~6.5 fs/direct-io.c takes its extra pins with folio_add_pin(), which counts
// nothing, while every unpin counts a release. So the counters alone cannot tell a correct
// 6.5+ kernel from a leaking one. This module counts at the primitives themselves, with kprobe
// events summed by hist triggers (no trace buffer traffic, no per-event user-space work):
//
//   acquire  try_grab_folio(page|folio, refs, flags)   6.1 .. today (FOLL_PIN in flags)
//            try_grab_folio_fast(page, refs, flags)    6.10+ fast path
//            try_grab_page(page, flags)                <= 6.9 (also pin_page() of the series)
//            folio_add_pin(folio)                      6.5+ (always a pin; fs/direct-io.c)
//   release  gup_put_folio(folio, refs, flags)         every unpin_user_page(s)/folio(s) path
//
// A grab that fails is not a pin: where the kernel lets a return probe read the arguments
// ($argN in return probes), each try_grab_* also gets a return probe keyed on the flags that
// counts the calls returning 0, and the calibration learns from what the kernel returned for
// grabs that succeeded whether 0 means success (int, 6.2+) or failure (a folio pointer, bool):
// pins are then the successful grabs only. Elsewhere grabs are counted at entry (said in the
// info: acquireCounting). The zero page (which pin and unpin both skip) shows on both sides alike.
//
// Which primitives exist is read from the running kernel (available_filter_functions);
// FOLL_PIN's value (0x40000 up to 6.2, 1 << 19 later) is not assumed. It is calibrated from
// several independent sources, each a different route to the primitives (io_uring buffer
// registration: pin_user_pages_fast + unpin_user_page; debugfs gup_test's longterm benchmark:
// pin_user_pages, the slow path; an O_DIRECT read of a loop device over a tmpfs file, which no
// workload uses: bio_iov_iter_get_pages + bio_release_pages). FOLL_PIN is the bit with which the
// most sources add up (each pinned and unpinned exactly its pages); a source that does not add
// up with it is a kernel finding on that source's path (a calibration verdict, FAIL), not a
// reason to switch the evidence off. The evidence is unavailable only when no source adds up
// (a primitive inlined or cloned by the compiler, a probe that would not attach), with every
// source's numbers in the reason.
//
// Needs CONFIG_KPROBE_EVENTS and CONFIG_HIST_TRIGGERS (Debian's 6.1 and 6.12 kernels have both;
// pinlab's fragment turns them on, with MODULES, which KPROBES needs up to 6.9).
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CalibrationOutcome, EvidenceCounters, PinEvidenceInfo } from '../workloads/types.js';
import { baseName } from '../trace-names.js';

export type ProbeSide = 'acquire' | 'release';

export interface ProbeDef {
  /** event name under events/pinlab/ */
  event: string;
  fn: string;
  side: ProbeSide;
  /** fetch-arg of the reference count, or a constant */
  refs: string | 1;
  /** fetch-arg of the gup flags; absent: every call is a pin */
  flags?: string;
  /** a return probe of `fn` counting the calls that returned 0 (per flags), for grabs that can fail */
  ret?: boolean;
}

/** What a return value of 0 meant for a grab, learned at calibration from grabs that succeeded. */
export type ZeroMeans = 'success' | 'failure';

export const GROUP = 'pinlab';

export const PROBES: readonly ProbeDef[] = [
  { event: 'grab_folio', fn: 'try_grab_folio', side: 'acquire', refs: '$arg2:s32', flags: '$arg3:u32' },
  { event: 'grab_folio_fast', fn: 'try_grab_folio_fast', side: 'acquire', refs: '$arg2:s32', flags: '$arg3:u32' },
  { event: 'grab_page', fn: 'try_grab_page', side: 'acquire', refs: 1, flags: '$arg2:u32' },
  { event: 'add_pin', fn: 'folio_add_pin', side: 'acquire', refs: 1 },
  { event: 'put_folio', fn: 'gup_put_folio', side: 'release', refs: '$arg2:s32', flags: '$arg3:u32' },
];

/** The return-probe companion of a grab (same refs and flags, read at return), or undefined. */
export function returnProbeOf(p: ProbeDef): ProbeDef | undefined {
  if (p.side !== 'acquire' || !p.flags || p.ret) return undefined;
  return { ...p, event: `${p.event}_ret`, ret: true };
}

/** Primitives that take a pin without counting NR_FOLL_PIN_ACQUIRED (mm/gup.c up to today). */
export const VMSTAT_BLIND = ['folio_add_pin'] as const;

/** The kprobe_events line of a probe. */
export function probeLine(p: ProbeDef): string {
  const args = [typeof p.refs === 'string' ? `refs=${p.refs}` : '', p.flags ? `flags=${p.flags}` : '', p.ret ? 'ret=$retval:s32' : ''].filter(Boolean);
  return `${p.ret ? 'r' : 'p'}:${GROUP}/${p.event} ${p.fn}${args.length ? ` ${args.join(' ')}` : ''}`;
}

/** The hist trigger of a probe: sums per flags value (or one bucket per pid when every call pins). */
export function histTrigger(p: ProbeDef): string {
  if (!p.flags) return 'hist:keys=common_pid:vals=hitcount';
  return `hist:keys=flags:vals=hitcount${typeof p.refs === 'string' ? ',refs' : ''}${p.ret ? ' if ret == 0' : ''}`;
}

export interface HistEntry {
  /** flags value, or undefined for probes without flags */
  flags?: number;
  hits: number;
  refs: number;
}

export interface HistTable {
  entries: HistEntry[];
  dropped: number;
}

/** Parse a hist file: "{ flags:     262146 } hitcount:  1024  refs:  1024" lines and the Totals. */
export function parseHist(text: string): HistTable {
  const entries: HistEntry[] = [];
  let dropped = 0;
  for (const line of text.split('\n')) {
    const m = /^\{\s*([^}]*)\}\s*(.*)$/.exec(line.trim());
    if (m) {
      const keys = m[1]!;
      const vals = m[2]!;
      const flags = /\bflags:\s*(\d+)/.exec(keys);
      const hits = Number(/\bhitcount:\s*(\d+)/.exec(vals)?.[1] ?? NaN);
      const refsM = /\brefs:\s*(-?\d+)/.exec(vals);
      if (!Number.isFinite(hits)) continue;
      const e: HistEntry = { hits, refs: refsM ? Number(refsM[1]) : hits };
      if (flags) e.flags = Number(flags[1]);
      entries.push(e);
      continue;
    }
    const d = /^\s*Dropped:\s*(\d+)/.exec(line);
    if (d) dropped += Number(d[1]);
  }
  return { entries, dropped };
}

/**
 * Per-probe tables -> totals: pins where FOLL_PIN is in the flags (or the probe has none). A grab
 * with a return probe whose meaning of 0 is known counts only the calls that succeeded.
 */
export function sumPins(tables: ReadonlyMap<string, HistTable>, probes: readonly ProbeDef[], follPin: number, zeroMeans: ReadonlyMap<string, ZeroMeans> = new Map()): EvidenceCounters {
  let acquired = 0;
  let released = 0;
  let dropped = 0;
  const isPin = (p: ProbeDef, e: HistEntry): boolean => !p.flags || (e.flags !== undefined && (e.flags & follPin) !== 0);
  for (const p of probes) {
    if (p.ret) continue;
    const t = tables.get(p.event);
    if (!t) continue;
    dropped += t.dropped;
    const ret = probes.find((r) => r.ret && r.fn === p.fn);
    const means = ret ? zeroMeans.get(p.fn) : undefined;
    const zeros = means ? tables.get(ret!.event) : undefined;
    if (zeros) dropped += zeros.dropped;
    for (const e of t.entries) {
      if (!isPin(p, e)) continue;
      if (p.side === 'release') {
        released += e.refs;
        continue;
      }
      if (!zeros) {
        acquired += e.refs;
        continue;
      }
      const z = zeros.entries.find((x) => x.flags === e.flags)?.refs ?? 0;
      acquired += means === 'success' ? z : e.refs - z;
    }
  }
  return { acquired, released, dropped };
}

/** a - b per flags value (the hist files are running totals). */
export function histDelta(after: HistTable, before: HistTable): HistTable {
  const sums = new Map<string, HistEntry>();
  const add = (e: HistEntry, sign: 1 | -1): void => {
    const k = String(e.flags ?? '*');
    const cur = sums.get(k) ?? { ...(e.flags === undefined ? {} : { flags: e.flags }), hits: 0, refs: 0 };
    sums.set(k, { ...cur, hits: cur.hits + sign * e.hits, refs: cur.refs + sign * e.refs });
  };
  after.entries.forEach((e) => add(e, 1));
  before.entries.forEach((e) => add(e, -1));
  return { entries: [...sums.values()].filter((e) => e.hits !== 0 || e.refs !== 0), dropped: after.dropped - before.dropped };
}

/**
 * What 0 returned by each probed grab meant, from calibration deltas in which every grab
 * succeeded: all calls returned 0 -> 0 is success (int); none did -> 0 is failure (a folio
 * pointer, bool). Grabs not called, or mixed, are left out (counted at entry).
 */
export function learnZeroMeans(deltas: readonly ReadonlyMap<string, HistTable>[], probes: readonly ProbeDef[]): Map<string, ZeroMeans> {
  const out = new Map<string, ZeroMeans>();
  for (const r of probes.filter((p) => p.ret)) {
    const entry = probes.find((p) => !p.ret && p.fn === r.fn);
    if (!entry) continue;
    const sum = (ev: string): number => deltas.reduce((n, d) => n + (d.get(ev)?.entries ?? []).reduce((m, e) => m + e.refs, 0), 0);
    const calls = sum(entry.event);
    const zeros = sum(r.event);
    if (calls === 0) continue;
    if (zeros === calls) out.set(r.fn, 'success');
    else if (zeros === 0) out.set(r.fn, 'failure');
  }
  return out;
}

/** One calibration source's probe deltas (and vmstat's), over a known number of pages. */
export interface SourceRun {
  source: string;
  path: string;
  /** pages pinned and unpinned, or why the source could not run here */
  pages: number | { skipped: string } | { error: string };
  delta?: ReadonlyMap<string, HistTable>;
  /** pinning nothing is legitimate for this source (why) */
  mayPinNothing?: string;
  vmstat?: { acquired: number; released: number };
}

/**
 * FOLL_PIN from sources that each pinned and unpinned a known number of pages: the bit (a
 * single-bit flags value the release probe saw) with which the most sources add up exactly;
 * every other source that ran is a finding with its numbers under that bit. No bit with which
 * any source adds up: no FOLL_PIN, and every source's numbers say why.
 */
export function calibrateSources(runs: readonly SourceRun[], probes: readonly ProbeDef[], zeroMeans: ReadonlyMap<string, ZeroMeans> = new Map()): { follPin?: number; outcomes: CalibrationOutcome[] } {
  const ran = runs.filter((r): r is SourceRun & { pages: number; delta: ReadonlyMap<string, HistTable> } => typeof r.pages === 'number' && r.delta !== undefined);
  const bits: number[] = [];
  for (const r of ran) {
    for (const p of probes.filter((x) => x.side === 'release' && x.flags && !x.ret)) {
      for (const e of r.delta.get(p.event)?.entries ?? []) {
        if (e.flags === undefined || e.flags === 0 || (e.flags & (e.flags - 1)) !== 0 || bits.includes(e.flags)) continue;
        bits.push(e.flags);
      }
    }
  }
  const addsUp = (r: (typeof ran)[number], bit: number): boolean => {
    const s = sumPins(r.delta, probes, bit, zeroMeans);
    return s.acquired === r.pages && s.released === r.pages;
  };
  let follPin: number | undefined;
  let best = 0;
  for (const bit of bits) {
    const n = ran.filter((r) => addsUp(r, bit)).length;
    if (n > best) {
      best = n;
      follPin = bit;
    }
  }
  const outcomes = runs.map((r): CalibrationOutcome => {
    const base = { source: r.source, path: r.path, ...(r.vmstat ? { vmstatAcquired: r.vmstat.acquired, vmstatReleased: r.vmstat.released } : {}) };
    if (typeof r.pages !== 'number') return { ...base, pages: 0, state: 'skipped' in r.pages ? 'skipped' : 'error', why: 'skipped' in r.pages ? r.pages.skipped : r.pages.error };
    if (!r.delta) return { ...base, pages: r.pages, state: 'error', why: 'no probe readings' };
    if (follPin === undefined) {
      const seen = bits.map((b) => `0x${b.toString(16)}`).join(', ') || 'none';
      return { ...base, pages: r.pages, state: 'disagrees', why: `no FOLL_PIN bit adds up (single-bit release flags seen: ${seen})` };
    }
    const s = sumPins(r.delta, probes, follPin, zeroMeans);
    if (r.mayPinNothing && s.acquired === 0 && s.released === 0) return { ...base, pages: r.pages, acquired: 0, released: 0, state: 'skipped', why: r.mayPinNothing };
    const agrees = s.acquired === r.pages && s.released === r.pages;
    return { ...base, pages: r.pages, acquired: s.acquired, released: s.released, state: agrees ? 'agrees' : 'disagrees' };
  });
  return { ...(follPin === undefined ? {} : { follPin }), outcomes };
}

/** One line per source: "io_uring-register 32 pages: 32 acquired / 0 released (disagrees)". */
export function describeOutcomes(outcomes: readonly CalibrationOutcome[]): string {
  return outcomes
    .map((o) => {
      if (o.state === 'skipped' || o.state === 'error') return `${o.source}: ${o.state} (${o.why})`;
      const counted = o.acquired === undefined ? (o.why ?? 'not counted') : `${o.acquired} acquired / ${o.released} released`;
      return `${o.source} ${o.pages} pages: ${counted} (${o.state})`;
    })
    .join('; ');
}

/** Probes whose function exists on this kernel under its plain name, and names that exist only as compiler clones. */
export function selectProbes(available: ReadonlyMap<string, string[]>, probes: readonly ProbeDef[] = PROBES): { use: ProbeDef[]; cloned: string[] } {
  const use: ProbeDef[] = [];
  const cloned: string[] = [];
  for (const p of probes) {
    const entries = available.get(baseName(p.fn));
    if (!entries) continue;
    if (entries.includes(p.fn)) use.push(p);
    cloned.push(...entries.filter((e) => e !== p.fn));
  }
  return { use, cloned };
}

// ---------------------------------------------------------------------------------------------
// tracefs

export interface PinEvidence {
  info: PinEvidenceInfo;
  /** running totals (pins with FOLL_PIN, since set-up); undefined when unavailable */
  read(): EvidenceCounters | undefined;
}

/**
 * Probe hits the kernel missed, per event, from kprobe_profile ("  EVENT  NHIT  NMISSED"): a probe
 * that fires while another probe's handler runs on the same CPU (a bio completing in an interrupt
 * during a pin's handler) is not run, and its pin or release is not counted. Pure.
 */
export function parseKprobeMisses(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || !/^\d+$/.test(f[1]!) || !/^\d+$/.test(f[2]!)) continue;
    m.set(f[0]!.replace(/^.*\//, ''), Number(f[2]));
  }
  return m;
}

function readMisses(tdir: string, probes: readonly ProbeDef[]): number {
  let text = '';
  try {
    text = readFileSync(join(tdir, 'kprobe_profile'), 'utf8');
  } catch {
    return 0;
  }
  const misses = parseKprobeMisses(text);
  return probes.reduce((n, p) => n + (misses.get(p.event) ?? 0), 0);
}

function readTables(tdir: string, probes: readonly ProbeDef[]): Map<string, HistTable> {
  const m = new Map<string, HistTable>();
  for (const p of probes) m.set(p.event, parseHist(readFileSync(join(tdir, 'events', GROUP, p.event, 'hist'), 'utf8')));
  return m;
}

/** Install the probes with their hist triggers; return probes the kernel refuses (no $argN at return) are left out. */
function installProbes(tdir: string, probes: readonly ProbeDef[]): ProbeDef[] {
  const events = join(tdir, 'kprobe_events');
  const installed: ProbeDef[] = [];
  for (const p of probes) {
    const dir = join(tdir, 'events', GROUP, p.event);
    const trigger = join(dir, 'trigger');
    if (existsSync(trigger) && readFileSync(trigger, 'utf8').includes(histTrigger(p).split(':vals')[0]!)) {
      installed.push(p); // an earlier runner of this boot set it up
      continue;
    }
    try {
      appendFileSync(events, `${probeLine(p)}\n`);
      writeFileSync(trigger, `${histTrigger(p)}\n`);
    } catch (e) {
      // a return probe is an improvement (grabs counted on success), not a requirement
      if (p.ret) continue;
      throw new Error(`kprobe on ${p.fn} would not attach (${(e as Error).message})`);
    }
    installed.push(p);
  }
  return installed;
}

/** A route to the pin primitives that pins and unpins a known number of pages. */
export interface CalibrationSource {
  source: string;
  /** the kernel path it takes, for the finding when it does not add up */
  path: string;
  /** why it cannot run on this system, checked before anything is probed */
  unavailable?(): string | undefined;
  /** set when pinning nothing at all is a legitimate outcome here (why), not a finding */
  mayPinNothing?: string;
  /**
   * pin and unpin; returns the number of pages. What the source runs inside `counted` is what
   * its probes count (its set-up, e.g. a first pin that migrates the pages out of ZONE_MOVABLE,
   * stays outside); a source that never calls it is counted whole.
   */
  run(counted: Counted): Promise<number>;
}

/** Runs fn with the probes read right before and right after it. */
export type Counted = <T>(fn: () => Promise<T> | T) => Promise<T>;

export interface EvidenceSystem {
  tdir: string | undefined;
  /** available_filter_functions, by base name */
  available: ReadonlyMap<string, string[]>;
  /** names the kernel has (kallsyms), for primitives vmstat does not count when nothing is traceable */
  hasSymbol?(name: string): boolean;
  readCounters?(): { acquired: number; released: number };
}

/** The primitives that pin without counting NR_FOLL_PIN_ACQUIRED and exist on this kernel. */
export function vmstatBlindOf(sys: Pick<EvidenceSystem, 'available' | 'hasSymbol'>): string[] {
  return VMSTAT_BLIND.filter((fn) => sys.available.has(fn) || sys.hasSymbol?.(fn) === true);
}

/**
 * Set up the probes and calibrate them from every source in turn. Never throws: failures make
 * the evidence unavailable with the reason (and every source's numbers).
 */
export async function setupPinEvidence(sys: EvidenceSystem, sources: readonly CalibrationSource[]): Promise<PinEvidence> {
  const tdir = sys.tdir;
  const blind = vmstatBlindOf(sys);
  const withBlind = blind.length ? { vmstatBlind: blind } : {};
  const unavailable = (why: string, calibration?: CalibrationOutcome[]): PinEvidence => ({
    info: { mechanism: 'none', unavailable: why, ...withBlind, ...(calibration ? { calibration } : {}) },
    read: () => undefined,
  });
  if (!tdir) return unavailable('no tracefs');
  if (!existsSync(join(tdir, 'kprobe_events'))) return unavailable('no kprobe events (CONFIG_KPROBE_EVENTS)');
  const { use: plain, cloned } = selectProbes(sys.available);
  if (!plain.some((p) => p.side === 'release')) return unavailable(`no traceable release primitive (gup_put_folio${cloned.length ? `; compiler clones only: ${cloned.join(', ')}` : ' inlined'})`);
  if (!plain.some((p) => p.side === 'acquire')) return unavailable('no traceable acquire primitive (try_grab_folio/try_grab_page)');
  let use: ProbeDef[];
  try {
    use = installProbes(tdir, plain.flatMap((p) => [p, ...(returnProbeOf(p) ? [returnProbeOf(p)!] : [])]));
  } catch (e) {
    return unavailable((e as Error).message);
  }
  if (!existsSync(join(tdir, 'events', GROUP, use[0]!.event, 'hist'))) return unavailable('no hist triggers (CONFIG_HIST_TRIGGERS)');
  const runs: SourceRun[] = [];
  for (const src of sources) {
    const skipped = src.unavailable?.();
    if (skipped) {
      runs.push({ source: src.source, path: src.path, pages: { skipped } });
      continue;
    }
    try {
      // the window's ends: the whole run, unless the source narrows it with counted()
      const read = () => ({ tables: readTables(tdir, use), vmstat: sys.readCounters?.() });
      let start = read();
      let end: ReturnType<typeof read> | undefined;
      const counted: Counted = async (fn) => {
        start = read();
        try {
          return await fn();
        } finally {
          end = read();
        }
      };
      const pages = await src.run(counted);
      end ??= read();
      const { tables: before, vmstat: v0 } = start;
      const { tables: after, vmstat: v1 } = end;
      const delta = new Map(use.map((p) => [p.event, histDelta(after.get(p.event)!, before.get(p.event)!)]));
      runs.push({ source: src.source, path: src.path, pages, delta, ...(src.mayPinNothing ? { mayPinNothing: src.mayPinNothing } : {}), ...(v0 && v1 ? { vmstat: { acquired: v1.acquired - v0.acquired, released: v1.released - v0.released } } : {}) });
    } catch (e) {
      runs.push({ source: src.source, path: src.path, pages: { error: (e as Error).message } });
    }
  }
  const zeroMeans = learnZeroMeans(runs.flatMap((r) => (r.delta ? [r.delta] : [])), use);
  const cal = calibrateSources(runs, use, zeroMeans);
  if (cal.follPin === undefined) {
    const clones = cloned.length ? `; compiler clones not probed: ${cloned.join(', ')}` : '';
    return unavailable(`calibration: no source adds up: ${describeOutcomes(cal.outcomes)}${clones}`, cal.outcomes);
  }
  const follPin = cal.follPin;
  const grabs = use.filter((p) => !p.ret && p.side === 'acquire' && p.flags).map((p) => p.fn);
  const info: PinEvidenceInfo = {
    mechanism: 'kprobe-hist',
    probes: use.filter((p) => !p.ret).map((p) => p.fn),
    follPin,
    calibration: cal.outcomes,
    agreed: cal.outcomes.filter((o) => o.state === 'agrees').map((o) => o.source),
    grabsCounted: grabs.every((fn) => zeroMeans.has(fn)) ? 'on success' : `at entry (${grabs.filter((fn) => !zeroMeans.has(fn)).join(', ')}: ${use.some((p) => p.ret) ? 'not called at calibration' : 'the kernel refuses $argN in return probes'})`,
    ...withBlind,
    ...(cloned.length ? { clones: cloned } : {}),
  };
  return {
    info,
    read: () => {
      const c = sumPins(readTables(tdir, use), use, follPin, zeroMeans);
      return { ...c, dropped: c.dropped + readMisses(tdir, use) };
    },
  };
}
