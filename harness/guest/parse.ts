// Parsers of what the guest kernel writes (vmstat, available_filter_functions, the trace, /dev/kmsg
// records): pure, so they are tested on saved text without a kernel.
import type { PinCounters } from '../workloads/types.js';
import { baseName } from '../trace-names.js';

export function parseVmstat(text: string): PinCounters {
  let acquired: number | undefined;
  let released: number | undefined;
  let migrated: number | undefined;
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key === 'nr_foll_pin_acquired') acquired = Number(value);
    else if (key === 'nr_foll_pin_released') released = Number(value);
    else if (key === 'pgmigrate_success') migrated = Number(value);
  }
  if (acquired === undefined || released === undefined || !Number.isFinite(acquired) || !Number.isFinite(released)) {
    throw new Error('/proc/vmstat has no nr_foll_pin_acquired/nr_foll_pin_released');
  }
  return migrated !== undefined && Number.isFinite(migrated) ? { acquired, released, migrated } : { acquired, released };
}

/**
 * Pages migrated, from the hist trigger on migrate:mm_migrate_pages (`vals=succeeded`): the sum
 * of its `succeeded` column over every key. Kernels without CONFIG_VM_EVENT_COUNTERS (pinlab's
 * own fragment) have no pgmigrate_success in /proc/vmstat; the tracepoint is there either way.
 */
export function parseMigrationHist(text: string): number {
  let n = 0;
  for (const m of text.matchAll(/\bsucceeded:\s*(\d+)/g)) n += Number(m[1]);
  return n;
}

export { baseName };

/** available_filter_functions ("name", "name [module]", "name.isra.0") -> base name -> entries. */
export function parseAvailableFunctions(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const entry = line.trim().split(/\s+/)[0];
    if (!entry) continue;
    const b = baseName(entry);
    const list = map.get(b);
    if (list) {
      if (!list.includes(entry)) list.push(entry);
    } else map.set(b, [entry]);
  }
  return map;
}

/** The wanted names that are traceable: base names, and the exact entries for set_ftrace_filter. */
export function resolveTraceable(wanted: Iterable<string>, available: Map<string, string[]>): { traceable: string[]; filter: string[] } {
  const traceable: string[] = [];
  const filter: string[] = [];
  for (const name of new Set(wanted)) {
    const entries = available.get(baseName(name));
    if (!entries) continue;
    traceable.push(name);
    filter.push(...entries);
  }
  return { traceable, filter: [...new Set(filter)] };
}

/** Function-tracer output -> distinct base names of traced functions, in order of first hit. */
export function parseTrace(text: string): string[] {
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /\s\d+\.\d+:\s+([A-Za-z_][A-Za-z0-9_.$]*)(?:\s+<-|\s*$)/.exec(line);
    if (m) seen.add(baseName(m[1]!));
  }
  return [...seen];
}

export interface KmsgRecord {
  level: number;
  seq: number;
  usec: number;
  text: string;
}

/** One /dev/kmsg record "prio,seq,usec,flags[,...];text\n KEY=value..." (continuations dropped). */
export function parseKmsgRecord(raw: string): KmsgRecord | null {
  const m = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/s.exec(raw);
  if (!m) return null;
  const text = m[4]!.split('\n')[0]!.replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
  return { level: Number(m[1]) & 7, seq: Number(m[2]), usec: Number(m[3]), text };
}

/** dmesg-style line: "[   12.345678] text". */
export function formatKmsgRecord(r: KmsgRecord): string {
  const sec = Math.floor(r.usec / 1e6);
  const frac = String(r.usec % 1e6).padStart(6, '0');
  return `[${String(sec).padStart(5, ' ')}.${frac}] ${r.text}`;
}

/** Linux dev_t (as in stat.dev / stat.rdev) -> major, minor. */
export function devMajorMinor(dev: number): { major: number; minor: number } {
  const d = BigInt(dev);
  const major = Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
  const minor = Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
  return { major, minor };
}
