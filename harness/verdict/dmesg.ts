// Kernel log -> classified splats with syzkaller-like titles. Pure: works on live /dev/kmsg
// lines, on `dmesg` output and on a saved console log alike, so `pinlab parse` re-judges.
//
// A splat starts at a header line (WARNING:, BUG:, Oops, general protection fault, lockdep,
// hung task, soft lockup, RCU stall, Kernel panic, "page dumped because") and runs until its
// end marker ("---[ end trace", "Disabling lock debugging"), the next header, or a line cap.
// Titles name the function from the header's "at FILE:LINE FUNC+off/len" or the RIP/pc line,
// without compiler suffixes (.constprop.0, .isra.0), so titles are stable across builds.
// A header inside an open splat that belongs to the same report (the "Oops:" after "BUG: unable
// to handle", "kernel BUG at" after a VM_BUG_ON_PAGE page dump, a panic caused by the oops)
// joins it instead of starting a new one.
import type { Splat } from './types.js';

const MAX_LINES = 120;

/** Strip kmsg ("6,123,456,-;"), syslog ("<4>"), timestamp ("[  1.234]") and caller ("[ T12]") prefixes. */
export function stripLogPrefix(line: string): string {
  let s = line.replace(/\r$/, '');
  s = s.replace(/^\d+,\d+,\d+,[^;]*;/, '');
  s = s.replace(/^<\d+>/, '');
  s = s.replace(/^\s*\[\s*\d+\.\d+\]/, '');
  s = s.replace(/^\s*\[\s*[TC]\d+\]/, '');
  return s.replace(/^ /, '');
}

/** "__bio_release_pages.constprop.0+0x6a/0xd0" -> "__bio_release_pages" */
function funcFromSymbol(sym: string): string {
  return sym.replace(/\+0x[0-9a-f]+(\/0x[0-9a-f]+)?.*$/i, '').replace(/\.(constprop|isra|part|cold|llvm)\..*$|\.(cold|part)$/, '').replace(/\.\d+$/, '');
}

const RIP_RE = /(?:RIP: [0-9a-f]{4}:|\bpc : |\bEIP: |\bPC is at |\bip: )([A-Za-z0-9_.$]+)\+0x[0-9a-f]+/i;
const FRAME_RE = /^\s*(?:\[<[0-9a-f]+>\]\s*)?(?:\? )?([A-Za-z_][A-Za-z0-9_.$]*)\+0x[0-9a-f]+\/0x[0-9a-f]+/i;

/** Scheduler/waiting and reporting frames skipped when naming a report by its stack. */
const SKIP_FRAMES = new Set([
  '__schedule',
  'schedule',
  'schedule_timeout',
  'schedule_preempt_disabled',
  'io_schedule',
  'io_schedule_timeout',
  'bit_wait_io',
  '__wait_on_bit',
  'out_of_line_wait_on_bit',
  'wait_for_completion',
  'wait_for_completion_io',
  '__wait_for_common',
  'wait_for_common_io',
  'do_wait_for_common',
  'rwsem_down_write_slowpath',
  'rwsem_down_read_slowpath',
  'down_write',
  'down_read',
  '__mutex_lock',
  'mutex_lock',
  'folio_wait_bit_common',
  'folio_wait_bit',
  'context_switch',
  '__switch_to',
  '__switch_to_asm',
  'ret_from_fork',
  '__might_resched',
  '__might_sleep',
  '__might_fault',
  'might_fault',
]);

interface Header {
  kind: Splat['kind'];
  /** title before the function is known; `{fn}` is replaced by the function or dropped */
  title: string;
  /** function named on the header line itself */
  fn?: string;
  /** how to find the function when the header does not name it */
  fnFrom: 'rip' | 'stack' | 'lock' | 'none';
}

function header(line: string): Header | null {
  let m: RegExpExecArray | null;
  if (/^WARNING: possible circular locking dependency detected/.test(line)) {
    return { kind: 'lockdep', title: 'possible deadlock in {fn}', fnFrom: 'lock' };
  }
  if ((m = /^WARNING: (possible recursive locking detected|inconsistent lock state|suspicious RCU usage|bad unlock balance detected!?|possible irq lock inversion dependency detected|held lock freed!)/.exec(line))) {
    const what = m[1]!.replace(/ detected!?$/, '').replace(/!$/, '');
    return { kind: 'lockdep', title: `${what} in {fn}`, fnFrom: 'lock' };
  }
  if ((m = /^WARNING: CPU: \d+ PID: \d+ at (?:\S+:\d+ )?([A-Za-z0-9_.$]+)\+0x/.exec(line))) {
    return { kind: 'warning', title: 'WARNING in {fn}', fn: funcFromSymbol(m[1]!), fnFrom: 'rip' };
  }
  if (/^WARNING: (CPU: \d+ PID: \d+ at|at )/.test(line)) {
    return { kind: 'warning', title: 'WARNING in {fn}', fnFrom: 'rip' };
  }
  if (/^BUG: Bad page state\b/.test(line)) return { kind: 'bad-page', title: 'BUG: Bad page state', fnFrom: 'none' };
  if (/^BUG: Bad page map\b/.test(line)) return { kind: 'bad-page', title: 'BUG: Bad page map in {fn}', fnFrom: 'stack' };
  if ((m = /^page dumped because: (.*)$/.exec(line))) {
    return { kind: 'bad-page', title: `page dumped because: ${m[1]!.trim()}`, fnFrom: 'none' };
  }
  if ((m = /^BUG: KASAN: ([a-z0-9-]+) in ([A-Za-z0-9_.$]+)/.exec(line))) {
    return { kind: 'kasan', title: `KASAN: ${m[1]} in {fn}`, fn: funcFromSymbol(m[2]!), fnFrom: 'rip' };
  }
  if (/^watchdog: BUG: soft lockup/.test(line)) return { kind: 'soft-lockup', title: 'BUG: soft lockup in {fn}', fnFrom: 'rip' };
  if (/^kernel BUG at /.test(line)) return { kind: 'bug', title: 'kernel BUG in {fn}', fnFrom: 'rip' };
  if (/^BUG: kernel NULL pointer dereference/.test(line)) {
    return { kind: 'oops', title: 'BUG: kernel NULL pointer dereference in {fn}', fnFrom: 'rip' };
  }
  if (/^BUG: unable to handle (page fault|kernel paging request|kernel NULL pointer)/.test(line)) {
    return { kind: 'oops', title: 'BUG: unable to handle kernel paging request in {fn}', fnFrom: 'rip' };
  }
  if ((m = /^BUG: (sleeping function called from invalid context|scheduling while atomic|workqueue lockup|spinlock [a-z ]+|using smp_processor_id\(\) in preemptible|held lock freed)/.exec(line))) {
    return { kind: 'bug', title: `BUG: ${m[1]} in {fn}`, fnFrom: 'stack' };
  }
  if ((m = /^BUG: ([^:,]+)/.exec(line))) return { kind: 'bug', title: `BUG: ${m[1]!.trim()} in {fn}`, fnFrom: 'rip' };
  if (/^(Oops: )?general protection fault/.test(line)) {
    return { kind: 'gpf', title: 'general protection fault in {fn}', fnFrom: 'rip' };
  }
  if (/^Oops: /.test(line) || /^Internal error: Oops/.test(line)) return { kind: 'oops', title: 'Oops in {fn}', fnFrom: 'rip' };
  if (/^INFO: task \S+ blocked for more than \d+ seconds/.test(line)) {
    return { kind: 'hung-task', title: 'INFO: task hung in {fn}', fnFrom: 'stack' };
  }
  if (/^(rcu: )?INFO: rcu_(sched|preempt|bh)( self-)? ?detected (stalls?|expedited stalls)/.test(line) || /^rcu: INFO: rcu_\w+ detected expedited stalls/.test(line)) {
    return { kind: 'rcu-stall', title: 'INFO: rcu detected stall in {fn}', fnFrom: 'rip' };
  }
  if ((m = /^Kernel panic - not syncing: (.*)$/.exec(line))) {
    return { kind: 'panic', title: `Kernel panic - not syncing: ${m[1]!.trim()}`, fnFrom: 'none' };
  }
  if ((m = /^UBSAN: ([^\n]+?) in /.exec(line))) return { kind: 'other', title: `UBSAN: ${m[1]} in {fn}`, fnFrom: 'stack' };
  return null;
}

/** Kinds whose report has no "end trace" marker: they end with their one stack dump. */
const ENDS_WITH_STACK = new Set<Splat['kind']>(['hung-task', 'soft-lockup', 'rcu-stall', 'bad-page', 'lockdep']);

function isEnd(line: string, o: Open): boolean {
  if (/^---\[ end (trace|Kernel panic)/.test(line) || /^Disabling lock debugging due to kernel taint/.test(line)) return true;
  return /^\s*<\/TASK>/.test(line) && ENDS_WITH_STACK.has((o.retitle ?? o.header).kind);
}

/** Does `next` continue the open splat `cur` instead of starting a new report? */
function joins(cur: Open, next: Header): boolean {
  if (next.kind === 'panic') return true; // panic_on_oops / panic_on_warn: the cause is the splat
  if (cur.header.kind === 'oops' && (next.kind === 'oops' || next.kind === 'gpf') && !/^BUG:/.test(next.title)) return true;
  if (next.title.startsWith('page dumped because')) return true; // a page dump belongs to the report printing it
  if (cur.header.title.startsWith('page dumped because') && (next.kind === 'bug' || next.kind === 'warning')) return true;
  if (cur.header.kind === 'bug' && next.title.startsWith('Oops')) return true;
  return false;
}

interface Open {
  header: Header;
  lines: string[];
  /** a later header that refines the title (kernel BUG after a page dump) */
  retitle?: Header;
}

function findFn(o: Open): string | undefined {
  const h = o.retitle ?? o.header;
  if (h.fn) return h.fn;
  if (h.fnFrom === 'none') return undefined;
  const lines = o.lines.map(stripLogPrefix);
  if (h.fnFrom === 'lock') {
    // the lock being acquired: "at: func+0x../0x.." under "is trying to acquire lock:"
    const i = lines.findIndex((l) => /is trying to acquire/.test(l));
    for (const l of lines.slice(i >= 0 ? i : 0)) {
      const m = /\bat: ([A-Za-z0-9_.$]+)\+0x/.exec(l);
      if (m) return funcFromSymbol(m[1]!);
    }
  }
  for (const l of lines) {
    const m = RIP_RE.exec(l);
    if (m && h.fnFrom !== 'stack') return funcFromSymbol(m[1]!);
  }
  const trace = lines.findIndex((l) => /^\s*Call Trace:/.test(l));
  if (trace >= 0) {
    // reliable frames first; a kernel built with the guess unwinder (UNWINDER_GUESS, as
    // tinyconfig-based kernels are) marks every frame "? ": then the first of those
    const frames = lines.slice(trace + 1).filter((l) => !/^\s*<\/?(TASK|IRQ|NMI|EOI)>/.test(l));
    for (const unsure of [false, true]) {
      for (const l of frames) {
        const m = FRAME_RE.exec(l);
        if (!m || /^\s*\? /.test(l) !== unsure) continue;
        const fn = funcFromSymbol(m[1]!);
        if (!SKIP_FRAMES.has(fn) && !/^(dump_stack|show_stack|__dump_stack|dump_stack_lvl)/.test(fn)) return fn;
      }
    }
  }
  for (const l of lines) {
    const m = RIP_RE.exec(l);
    if (m) return funcFromSymbol(m[1]!);
  }
  return undefined;
}

function close(o: Open): Splat {
  const h = o.retitle ?? o.header;
  const fn = findFn(o);
  const title = fn ? h.title.replace('{fn}', fn) : h.title.replace(/ in \{fn\}$/, '').replace('{fn}', '?');
  return { kind: h.kind, title, lines: o.lines };
}

/** Classify kernel log lines into splats, in order of appearance. */
export function classifyKernelLog(lines: readonly string[]): Splat[] {
  const out: Splat[] = [];
  let open: Open | null = null;
  for (const raw of lines) {
    for (const piece of raw.split('\n')) {
      const line = stripLogPrefix(piece);
      const h = header(line);
      if (h) {
        if (open && joins(open, h)) {
          open.lines.push(piece);
          if (open.header.title.startsWith('page dumped because') && (h.kind === 'bug' || h.kind === 'warning')) open.retitle = h;
          continue;
        }
        if (open) out.push(close(open));
        open = { header: h, lines: [piece] };
        if (h.kind === 'panic') {
          out.push(close(open));
          open = null;
        }
        continue;
      }
      if (!open) continue;
      open.lines.push(piece);
      if (isEnd(line, open) || open.lines.length >= MAX_LINES) {
        out.push(close(open));
        open = null;
      }
    }
  }
  if (open) out.push(close(open));
  return out;
}
