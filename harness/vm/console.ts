// Pure parser of a guest's serial console: readiness marker and classified failures. It runs on
// live output during boot and on saved logs (test/fixtures/vm/*.log), so a failure can be
// re-judged without booting again. The kernel's reports are found by verdict/dmesg.ts, which
// also classifies the splats of a workload: one table for both, as syzkaller's report package
// serves boot failures and crashes.
import { INIT_FAILED_MARKER, READY_MARKER } from '../boot-protocol.js';
import type { BootFailure } from '../errors.js';
import { classifyKernelLog, stripLogPrefix } from '../verdict/dmesg.js';
import type { Splat } from '../verdict/types.js';


export interface ConsoleReport {
  kind: Extract<BootFailure, 'panic' | 'oops' | 'init-died'>;
  /** one line, the syzkaller-like title of verdict/dmesg.ts (a panic: its message) */
  title: string;
}

export interface ConsoleState {
  ready: boolean;
  /** every failure, in console order */
  reports: ConsoleReport[];
  /** setup problems the guest's init reported (a disk or share missing); not fatal by themselves */
  initWarnings: string[];
}

/** Splat kinds that end a boot: the kernel is broken. Warnings, lockdep, hung tasks, stalls and
 * UBSAN reports are not boot failures (a panic they cause is, below). */
const FATAL = new Set<Splat['kind']>(['oops', 'bug', 'gpf', 'bad-page', 'kasan', 'soft-lockup']);
const PANIC = /^Kernel panic - not syncing: (.*)/;
/** Panics that say init could not start or ended: more specific than the panic itself. */
const INIT_DIED = [/^Attempted to kill init!/, /^No working init found\./, /^VFS: Unable to mount root fs/];

/** The boot failures in a splat: the splat itself when it is fatal, and the panic in it. */
function reportsOf(splat: Splat): ConsoleReport[] {
  const out: ConsoleReport[] = [];
  if (FATAL.has(splat.kind)) out.push({ kind: 'oops', title: splat.title });
  const panic = splat.lines.map((l) => PANIC.exec(stripLogPrefix(l))?.[1]?.trim()).find((m) => m !== undefined);
  if (panic !== undefined) out.push({ kind: INIT_DIED.some((re) => re.test(panic)) ? 'init-died' : 'panic', title: panic });
  return out;
}

/** The marker as a word of its own: at the end of the line, or before a space or a printk's "[". */
const MARKER_IN_LINE = new RegExp(`${READY_MARKER}(?=$|\\s|\\[)`);

export function parseConsole(text: string): ConsoleState {
  const state: ConsoleState = { ready: false, reports: [], initWarnings: [] };
  const lines = text.split('\n');
  for (const raw of lines) {
    const line = stripLogPrefix(raw).trim();
    // the kernel's console output and init's echo share the serial line: a printk can land right
    // after the marker, before its newline ("PINLAB-READY[    2.117091] clocksource: ..."), or
    // a kernel message's tail right before it
    if (MARKER_IN_LINE.test(line)) state.ready = true;
    if (line.startsWith(INIT_FAILED_MARKER)) state.initWarnings.push(line.slice(INIT_FAILED_MARKER.length).trim());
  }
  // the kernel's own classification, the one table for boot failures and workload splats
  state.reports = classifyKernelLog(lines).flatMap(reportsOf);
  return state;
}

/** The failure that ends (or should end) a boot: an oops first (a panic after it is its
 * consequence, e.g. "Fatal exception"), otherwise the panic. */
export function bootFailure(state: ConsoleState): ConsoleReport | undefined {
  return state.reports.find((r) => r.kind === 'oops') ?? state.reports[0];
}

/** The final judgement once QEMU has exited or the boot timed out. */
export function classifyBootFailure(text: string, why: 'timeout' | 'qemu-exited'): { kind: BootFailure; title: string } {
  const state = parseConsole(text);
  const failure = bootFailure(state);
  if (failure) return { kind: failure.kind, title: failure.title };
  if (why === 'timeout') {
    return { kind: 'timeout', title: state.ready ? 'the guest printed the readiness marker but ssh did not answer' : 'no readiness marker from the guest' };
  }
  return { kind: 'qemu-exited', title: 'QEMU exited before the guest was ready' };
}

/** The console's last line that says something, shortened for a one-line message, or undefined. */
export function lastConsoleLine(text: string, max = 120): string | undefined {
  const line = text.replace(/\r/g, '').split('\n').map((l) => stripLogPrefix(l).trim()).filter((l) => l !== '').pop();
  if (line === undefined) return undefined;
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** The last lines of a console log, for error messages. */
export function consoleTail(text: string, lines = 40): string {
  const all = text.replace(/\r/g, '').split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}
