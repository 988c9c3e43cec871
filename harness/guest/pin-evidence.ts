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
// Each is counted at entry, so the zero page (which pin and unpin both skip) shows on both sides
// alike. Which of these exist is read from the running kernel (available_filter_functions);
// FOLL_PIN's value (0x40000 up to 6.2, 1 << 19 later) is not assumed: a calibration registers a
// buffer of known size with io_uring (pins each page at registration, unpins each at
// unregistration, on every kernel with io_uring), and FOLL_PIN is the single-bit flags value the
// release probe saw for exactly those pages. A calibration that does not add up (a primitive
// inlined or cloned by the compiler, a probe that would not attach) makes the evidence
// unavailable, with the reason: judging then falls back to the counters and says so.
//
// Needs CONFIG_KPROBE_EVENTS and CONFIG_HIST_TRIGGERS (Debian's 6.1 and 6.12 kernels have both;
// pinlab's fragment turns them on, with MODULES, which KPROBES needs up to 6.9).
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvidenceCounters, PinEvidenceInfo } from '../workloads/types.js';
import { baseName } from './trace-names.js';

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
}

export const GROUP = 'pinlab';

export const PROBES: readonly ProbeDef[] = [
  { event: 'grab_folio', fn: 'try_grab_folio', side: 'acquire', refs: '$arg2:s32', flags: '$arg3:u32' },
  { event: 'grab_folio_fast', fn: 'try_grab_folio_fast', side: 'acquire', refs: '$arg2:s32', flags: '$arg3:u32' },
  { event: 'grab_page', fn: 'try_grab_page', side: 'acquire', refs: 1, flags: '$arg2:u32' },
  { event: 'add_pin', fn: 'folio_add_pin', side: 'acquire', refs: 1 },
  { event: 'put_folio', fn: 'gup_put_folio', side: 'release', refs: '$arg2:s32', flags: '$arg3:u32' },
];

/** The kprobe_events line of a probe. */
export function probeLine(p: ProbeDef): string {
  const args = [typeof p.refs === 'string' ? `refs=${p.refs}` : '', p.flags ? `flags=${p.flags}` : ''].filter(Boolean);
  return `p:${GROUP}/${p.event} ${p.fn}${args.length ? ` ${args.join(' ')}` : ''}`;
}

/** The hist trigger of a probe: sums per flags value (or one bucket per pid when every call pins). */
export function histTrigger(p: ProbeDef): string {
  if (!p.flags) return 'hist:keys=common_pid:vals=hitcount';
  return `hist:keys=flags:vals=hitcount${typeof p.refs === 'string' ? ',refs' : ''}`;
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

/** Per-probe tables -> totals: pins where FOLL_PIN is in the flags (or the probe has none). */
export function sumPins(tables: ReadonlyMap<string, HistTable>, probes: readonly ProbeDef[], follPin: number): EvidenceCounters {
  let acquired = 0;
  let released = 0;
  let dropped = 0;
  for (const p of probes) {
    const t = tables.get(p.event);
    if (!t) continue;
    dropped += t.dropped;
    for (const e of t.entries) {
      if (p.flags && (e.flags === undefined || (e.flags & follPin) === 0)) continue;
      if (p.side === 'acquire') acquired += e.refs;
      else released += e.refs;
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
 * FOLL_PIN from a calibration that pinned and unpinned `pages` pages: the release probe is
 * called with flags == FOLL_PIN exactly by every unpin_user_page*() path, so FOLL_PIN is the
 * single-bit flags value whose release refs add up to `pages`; the acquire side must show the
 * same number of pins with that bit. Returns the bit or why there is none.
 */
export function calibrate(delta: ReadonlyMap<string, HistTable>, probes: readonly ProbeDef[], pages: number): { follPin: number } | { why: string } {
  const release = probes.filter((p) => p.side === 'release' && p.flags);
  const candidates = new Map<number, number>();
  for (const p of release) {
    for (const e of delta.get(p.event)?.entries ?? []) {
      if (e.flags === undefined || e.flags === 0 || (e.flags & (e.flags - 1)) !== 0) continue;
      candidates.set(e.flags, (candidates.get(e.flags) ?? 0) + e.refs);
    }
  }
  const exact = [...candidates].filter(([, refs]) => refs === pages).map(([bit]) => bit);
  if (exact.length !== 1) {
    const seen = [...candidates].map(([bit, refs]) => `0x${bit.toString(16)}:${refs}`).join(', ') || 'none';
    return { why: `calibration: ${pages} pages unpinned, release probe saw single-bit flags ${seen}` };
  }
  const follPin = exact[0]!;
  const sums = sumPins(delta, probes, follPin);
  if (sums.acquired !== pages || sums.released !== pages) {
    return { why: `calibration: ${pages} pages pinned and unpinned, probes counted ${sums.acquired} acquired / ${sums.released} released (FOLL_PIN 0x${follPin.toString(16)})` };
  }
  return { follPin };
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

function readTables(tdir: string, probes: readonly ProbeDef[]): Map<string, HistTable> {
  const m = new Map<string, HistTable>();
  for (const p of probes) m.set(p.event, parseHist(readFileSync(join(tdir, 'events', GROUP, p.event, 'hist'), 'utf8')));
  return m;
}

function installProbes(tdir: string, probes: readonly ProbeDef[]): void {
  const events = join(tdir, 'kprobe_events');
  for (const p of probes) {
    const dir = join(tdir, 'events', GROUP, p.event);
    const trigger = join(dir, 'trigger');
    if (existsSync(trigger) && readFileSync(trigger, 'utf8').includes(histTrigger(p).split(':vals')[0]!)) continue; // an earlier runner of this boot set it up
    try {
      appendFileSync(events, `${probeLine(p)}\n`);
    } catch (e) {
      throw new Error(`kprobe on ${p.fn} would not attach (${(e as Error).message})`);
    }
    writeFileSync(trigger, `${histTrigger(p)}\n`);
  }
}

/**
 * Set up the probes and calibrate them. `pinKnownPages` pins and unpins a known number of pages
 * (io_uring buffer registration) and returns that number. Never throws: failures make the
 * evidence unavailable with the reason.
 */
export function setupPinEvidence(tdir: string | undefined, available: ReadonlyMap<string, string[]>, pinKnownPages: () => number): PinEvidence {
  const unavailable = (why: string): PinEvidence => ({ info: { mechanism: 'none', unavailable: why }, read: () => undefined });
  if (!tdir) return unavailable('no tracefs');
  if (!existsSync(join(tdir, 'kprobe_events'))) return unavailable('no kprobe events (CONFIG_KPROBE_EVENTS)');
  const { use, cloned } = selectProbes(available);
  if (!use.some((p) => p.side === 'release')) return unavailable(`no traceable release primitive (gup_put_folio${cloned.length ? `; compiler clones only: ${cloned.join(', ')}` : ' inlined'})`);
  if (!use.some((p) => p.side === 'acquire')) return unavailable('no traceable acquire primitive (try_grab_folio/try_grab_page)');
  try {
    installProbes(tdir, use);
  } catch (e) {
    return unavailable((e as Error).message);
  }
  if (!existsSync(join(tdir, 'events', GROUP, use[0]!.event, 'hist'))) return unavailable('no hist triggers (CONFIG_HIST_TRIGGERS)');
  let pages: number;
  let before: Map<string, HistTable>;
  let after: Map<string, HistTable>;
  try {
    before = readTables(tdir, use);
    pages = pinKnownPages();
    after = readTables(tdir, use);
  } catch (e) {
    return unavailable(`calibration failed: ${(e as Error).message}`);
  }
  const delta = new Map(use.map((p) => [p.event, histDelta(after.get(p.event)!, before.get(p.event)!)]));
  const cal = calibrate(delta, use, pages);
  if ('why' in cal) return unavailable(`${cal.why}${cloned.length ? `; compiler clones not probed: ${cloned.join(', ')}` : ''}`);
  const info: PinEvidenceInfo = {
    mechanism: 'kprobe-hist',
    probes: use.map((p) => p.fn),
    follPin: cal.follPin,
    calibration: { source: 'io_uring buffer registration', pages },
    ...(cloned.length ? { clones: cloned } : {}),
  };
  return {
    info,
    read: () => sumPins(readTables(tdir, use), use, cal.follPin),
  };
}
