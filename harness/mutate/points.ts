// Where a mutant can change a pin: the pin and unpin sites of the coverage finder (same ids), the
// page puts in the functions that hold one (a put where an unpin belongs is the reverse bug), and
// the pin flags (FOLL_PIN, BIO_PAGE_PINNED) those sources set and test. Pure: text in, points out.
import { blankComments, findPinSites, functionBodies as sourceFunctionBodies, siteId, withIds, type SiteKind } from '../coverage/sites.js';

/** `pin`/`unpin`/`ref`: a pin site; `put`: a page put near one; `flag`: a pin flag set or tested. */
export type PointKind = SiteKind | 'put' | 'flag';

export interface MutationPoint {
  /** file:function:token (#n for the n-th of that token in the function), like a pin site id */
  id: string;
  file: string;
  function: string;
  /** the callee or flag name */
  token: string;
  kind: PointKind;
  /** 1-based line of the token, and of the call's closing parenthesis (the token's line for flags) */
  line: number;
  endLine: number;
  /** 0-based column of the token on its line */
  col: number;
}

/** Page puts that release what a path took: the reverse mutant turns them into unpins. */
export const PUT_CALLS = ['put_page', 'folio_put', 'folio_put_refs'] as const;
export const PIN_FLAGS = ['FOLL_PIN', 'BIO_PAGE_PINNED'] as const;

/** Lines of assertions only: a flag tested there changes what a debug check says, not a pin. */
const ASSERTION = /\b(WARN_ON|WARN_ON_ONCE|WARN|BUG_ON|VM_BUG_ON|VM_BUG_ON_PAGE|VM_BUG_ON_FOLIO|VM_WARN_ON|VM_WARN_ON_ONCE|VM_WARN_ON_ONCE_FOLIO)\s*\(/;

interface FunctionBody {
  name: string;
  /** 0-based line indexes of the opening and closing brace (column 0) */
  open: number;
  close: number;
}

/** Function bodies the kernel's way, as the pin-site finder reads them (coverage/sites.ts). */
export function functionBodies(blanked: readonly string[]): FunctionBody[] {
  return sourceFunctionBodies(blanked).map((f) => ({ name: f.name, open: f.startLine - 1, close: f.endLine - 1 }));
}

/** The line (0-based) and column just past the parenthesis closing the one opened before (i, col). */
export function closeParen(blanked: readonly string[], i: number, col: number): { line: number; col: number } | undefined {
  let depth = 1;
  for (let j = i; j < blanked.length && j < i + 40; j++) {
    const l = blanked[j]!;
    for (let k = j === i ? col : 0; k < l.length; k++) {
      if (l[k] === '(') depth++;
      else if (l[k] === ')' && --depth === 0) return { line: j, col: k + 1 };
    }
  }
  return undefined;
}

function tokenPoints(file: string, blanked: readonly string[], fn: FunctionBody, token: string, kind: PointKind, call: boolean): MutationPoint[] {
  const re = new RegExp(`\\b${token}\\b${call ? '\\s*\\(' : ''}`, 'g');
  const out: MutationPoint[] = [];
  for (let i = fn.open + 1; i < fn.close; i++) {
    const l = blanked[i]!;
    if (/^\s*#/.test(l)) continue;
    for (const m of l.matchAll(re)) {
      const col = m.index ?? 0;
      if (!call && ASSERTION.test(statementAround(blanked, i))) continue;
      const end = call ? closeParen(blanked, i, col + m[0].length) : undefined;
      out.push({ id: '', file, function: fn.name, token, kind, line: i + 1, endLine: end ? end.line + 1 : i + 1, col });
    }
  }
  return out;
}

/** The statement a line belongs to, roughly: the line and the lines before it up to a `;`, `{` or `}`. */
function statementAround(blanked: readonly string[], i: number): string {
  const parts = [blanked[i]!];
  for (let j = i - 1; j >= 0 && j > i - 6; j--) {
    const l = blanked[j]!;
    if (/[;{}]\s*$/.test(l)) break;
    parts.unshift(l);
  }
  return parts.join(' ');
}

/**
 * Every mutation point of one source file: its pin sites (ids exactly as the coverage finder
 * gives them), the page puts and the pin flags of the functions that hold a pin site or a flag.
 */
export function findMutationPoints(file: string, text: string): MutationPoint[] {
  const blanked = blankComments(text).split('\n');
  const sites = withIds(findPinSites(file, text));
  const points: MutationPoint[] = [];
  // a site's column: the k-th match of its callee on its line, k counted over the sites before it
  const seenOnLine = new Map<string, number>();
  for (const s of sites) {
    const key = `${s.line}:${s.callee}`;
    const k = seenOnLine.get(key) ?? 0;
    seenOnLine.set(key, k + 1);
    const matches = [...blanked[s.line - 1]!.matchAll(new RegExp(`\\b${s.callee}\\s*\\(`, 'g'))];
    points.push({ id: s.id, file, function: s.function, token: s.callee, kind: s.kind, line: s.line, endLine: s.endLine, col: matches[k]?.index ?? 0 });
  }
  const bodies = functionBodies(blanked);
  const withSite = new Set(sites.map((s) => s.function));
  const more: MutationPoint[] = [];
  for (const fn of bodies) {
    for (const flag of PIN_FLAGS) more.push(...tokenPoints(file, blanked, fn, flag, 'flag', false));
    if (!withSite.has(fn.name)) continue;
    for (const put of PUT_CALLS) more.push(...tokenPoints(file, blanked, fn, put, 'put', true));
  }
  // ids numbered over the file in source order, as withIds numbers the sites
  const seen = new Map<string, number>();
  for (const p of more.sort((a, b) => a.line - b.line || a.col - b.col)) {
    const base = siteId({ file, function: p.function, callee: p.token });
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    points.push({ ...p, id: siteId({ file, function: p.function, callee: p.token }, n) });
  }
  return points.sort((a, b) => a.line - b.line || a.col - b.col);
}
