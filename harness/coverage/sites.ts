// Pin sites: every call of a pin or unpin primitive in the instrumented sources, found in the
// source of the kernel being run (not a hand list that goes stale across trees and generations).
// Pure: text in, sites out.

/** A primitive whose call is a pin site, and what it does to a page. */
export type SiteKind = 'pin' | 'unpin' | 'ref';

/**
 * The primitives, across the series (6.1 port) and upstream generations (6.5+ extraction,
 * folio-based unpins). `ref` entries take or drop page references on a path a conversion to
 * pins must cover (the routes the series converts, and the ones it deliberately leaves alone).
 */
export const PIN_PRIMITIVES: Readonly<Record<string, SiteKind>> = {
  pin_user_pages: 'pin',
  pin_user_pages_fast: 'pin',
  pin_user_pages_fast_only: 'pin',
  pin_user_pages_unlocked: 'pin',
  pin_user_pages_remote: 'pin',
  pin_page: 'pin',
  iov_iter_pin_pages: 'pin',
  iov_iter_pin_pages_alloc: 'pin',
  iov_iter_extract_pages: 'pin',
  iov_iter_extract_user_pages: 'pin',
  try_grab_folio: 'pin',
  try_grab_folio_fast: 'pin',
  try_grab_page: 'pin',
  folio_add_pin: 'pin',
  dio_pin_page: 'pin',
  io_pin_pages: 'pin',
  unpin_user_page: 'unpin',
  unpin_user_pages: 'unpin',
  unpin_user_pages_dirty_lock: 'unpin',
  unpin_user_page_range_dirty_lock: 'unpin',
  unpin_user_folio: 'unpin',
  unpin_folio: 'unpin',
  unpin_folios: 'unpin',
  gup_put_folio: 'unpin',
  bio_release_page: 'unpin',
  bio_release_pages: 'unpin',
  __bio_release_pages: 'unpin',
  dio_release_page: 'unpin',
  dio_unpin_page: 'unpin',
  iov_iter_get_pages: 'ref',
  iov_iter_get_pages2: 'ref',
  iov_iter_get_pages_alloc: 'ref',
  iov_iter_get_pages_alloc2: 'ref',
};

export interface PinSite {
  /** source path relative to the tree, e.g. mm/gup.c */
  file: string;
  /** first line of the call (1-based) */
  line: number;
  /** line of the call's closing parenthesis */
  endLine: number;
  /** the function the call is in */
  function: string;
  callee: string;
  kind: SiteKind;
}

/** A stable name for a site across trees and line shifts: file:function:callee (#n when repeated). */
export function siteId(s: Pick<PinSite, 'file' | 'function' | 'callee'>, nth = 1): string {
  return `${s.file}:${s.function}:${s.callee}${nth > 1 ? `#${nth}` : ''}`;
}

/** The source with comments and string literals blanked (line structure kept). */
export function blankComments(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    const d = text[i + 1];
    if (c === '/' && d === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      out += text.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '/' && d === '/') {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? n : end;
      out += ' '.repeat(stop - i);
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      out += c + ' '.repeat(Math.max(0, j - i - 1)) + (j < n ? text[j] : '');
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const CALL = new RegExp(`\\b(${Object.keys(PIN_PRIMITIVES).sort((a, b) => b.length - a.length).join('|')})\\s*\\(`, 'g');

/** A function body of a source file: its name and the lines of its `{` and `}` (1-based). */
export interface FunctionBody {
  name: string;
  startLine: number;
  endLine: number;
}

/**
 * Function bodies found the kernel's way, in source with comments blanked: a `{` in column 0
 * opens one (its name is the last identifier before a `(` above it), a `}` in column 0 closes it.
 */
export function functionBodies(blankedLines: readonly string[]): FunctionBody[] {
  const out: FunctionBody[] = [];
  let open: { name: string; startLine: number } | undefined;
  let header: string[] = [];
  for (let i = 0; i < blankedLines.length; i++) {
    const l = blankedLines[i]!;
    if (open === undefined) {
      if (l.startsWith('{')) {
        const names = [...header.join(' ').matchAll(/\b([A-Za-z_]\w*)\s*\(/g)].map((m) => m[1]!);
        let name = names.find((x) => !/^(__attribute__|__acquires|__releases|__must_hold|SYSCALL_DEFINE\d|COMPAT_SYSCALL_DEFINE\d)$/.test(x)) ?? '(unknown)';
        const sys = /\b(?:COMPAT_)?SYSCALL_DEFINE\d\s*\(\s*(\w+)/.exec(header.join(' '));
        if (sys) name = `sys_${sys[1]}`;
        open = { name, startLine: i + 1 };
        header = [];
        continue;
      }
      if (/^[;}#]/.test(l) || l.trim() === '') header = [];
      else header.push(l);
      continue;
    }
    if (l.startsWith('}')) {
      out.push({ ...open, endLine: i + 1 });
      open = undefined;
    }
  }
  return out;
}

/**
 * The pin sites of one source file: calls of a primitive inside a function body (see
 * functionBodies); a primitive named outside a body (prototype, EXPORT_SYMBOL) or on a #define
 * line is not a site.
 */
export function findPinSites(file: string, text: string): PinSite[] {
  const lines = blankComments(text).split('\n');
  const sites: PinSite[] = [];
  for (const fn of functionBodies(lines)) {
    for (let i = fn.startLine; i < fn.endLine - 1; i++) {
      const l = lines[i]!;
      if (/^\s*#/.test(l)) continue;
      for (const m of l.matchAll(CALL)) {
        const callee = m[1]!;
        sites.push({ file, line: i + 1, endLine: closingLine(lines, i, (m.index ?? 0) + m[0].length), function: fn.name, callee, kind: PIN_PRIMITIVES[callee]! });
      }
    }
  }
  return sites;
}

/** The line (1-based) of the parenthesis closing the one opened just before `col` on line `i`. */
function closingLine(lines: readonly string[], i: number, col: number): number {
  let depth = 1;
  for (let j = i; j < lines.length && j < i + 40; j++) {
    const l = lines[j]!;
    for (let k = j === i ? col : 0; k < l.length; k++) {
      if (l[k] === '(') depth++;
      else if (l[k] === ')' && --depth === 0) return j + 1;
    }
  }
  return i + 1;
}

/** Sites with their stable ids (a callee called twice in one function gets #2, #3, ...). */
export function withIds(sites: readonly PinSite[]): (PinSite & { id: string })[] {
  const seen = new Map<string, number>();
  return sites.map((s) => {
    const base = siteId(s);
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return { ...s, id: siteId(s, n) };
  });
}
