// Pure parser of a guest's serial console: readiness marker and classified failures. It runs on
// live output during boot and on saved logs (test/fixtures/vm/*.log), so a failure can be
// re-judged without booting again.
import type { BootFailure } from '../errors.js';

export const READY_MARKER = 'PINLAB-READY';
export const INIT_FAILED_MARKER = 'PINLAB-INIT-FAILED:';

export interface ConsoleReport {
  kind: Extract<BootFailure, 'panic' | 'oops' | 'init-died'>;
  /** one line, like a syzkaller report title */
  title: string;
  /** the console line the title came from (0-based) */
  line: number;
}

export interface ConsoleState {
  ready: boolean;
  /** every failure line, in console order */
  reports: ConsoleReport[];
  /** setup problems the guest's init reported (a disk or share missing); not fatal by themselves */
  initWarnings: string[];
}

// The first matching pattern on a line wins: init death is more specific than the panic that
// reports it.
const PATTERNS: { kind: ConsoleReport['kind']; re: RegExp }[] = [
  { kind: 'init-died', re: /Kernel panic - not syncing: (Attempted to kill init!.*)/ },
  { kind: 'init-died', re: /Kernel panic - not syncing: (No working init found\..*)/ },
  { kind: 'init-died', re: /Kernel panic - not syncing: (VFS: Unable to mount root fs.*)/ },
  { kind: 'panic', re: /Kernel panic - not syncing: (.*)/ },
  { kind: 'oops', re: /(BUG: (?:unable to handle|kernel NULL pointer|Bad page|KASAN|sleeping function).*)/ },
  { kind: 'oops', re: /(general protection fault.*)/ },
  { kind: 'oops', re: /(kernel BUG at .*)/ },
  { kind: 'oops', re: /(Oops: .*)/ },
  { kind: 'oops', re: /(BUG: .*)/ },
];

/** Strip the printk timestamp and CR so titles compare across runs. */
function clean(line: string): string {
  return line.replace(/\r/g, '').replace(/^\[\s*\d+\.\d+\]\s*/, '').trim();
}

export function parseConsole(text: string): ConsoleState {
  const state: ConsoleState = { ready: false, reports: [], initWarnings: [] };
  text.split('\n').forEach((raw, i) => {
    const line = clean(raw);
    if (line === READY_MARKER) state.ready = true;
    if (line.startsWith(INIT_FAILED_MARKER)) state.initWarnings.push(line.slice(INIT_FAILED_MARKER.length).trim());
    const p = PATTERNS.find((q) => q.re.test(line));
    if (p) state.reports.push({ kind: p.kind, title: p.re.exec(line)![1]!.trim(), line: i });
  });
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

/** The last lines of a console log, for error messages. */
export function consoleTail(text: string, lines = 40): string {
  const all = text.replace(/\r/g, '').split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}
