// The mutation operators: small changes that mimic real pin bugs, as data. Each names the bug it
// mimics and rewrites one expression at a mutation point; a point an operator does not fit gets
// no mutant from it. Pure.
import type { MutationPoint, PointKind } from './points.js';

export type OperatorId = 'drop-release' | 'put-for-unpin' | 'unpin-for-put' | 'refs-plus-one' | 'refs-minus-one' | 'skip-on-error' | 'flag-not-set' | 'flag-not-tested';

/** A position in the source: 0-based line and column. */
export interface Pos {
  line: number;
  col: number;
}

/** The call at a point, read from the source with comments blanked (positions shared with the original). */
export interface CallAt {
  /** the callee's first character, and just past the closing parenthesis */
  start: Pos;
  end: Pos;
  /** the arguments' text (original source), split at top-level commas, trimmed */
  args: string[];
  /** the call is a whole expression statement: `callee(...);` (alone, or as the body of an if/else) */
  statement: boolean;
}

export interface PointContext {
  point: MutationPoint;
  /** original and comment-blanked lines of the file */
  lines: readonly string[];
  blanked: readonly string[];
  call?: CallAt;
  /** the function's body above the point (blanked), for the names it declares */
  body: string;
}

/** Replace [from, to) with `text`. */
export interface Edit {
  from: Pos;
  to: Pos;
  text: string;
}

export interface Operator {
  id: OperatorId;
  /** the real bug it mimics */
  mimics: string;
  kinds: readonly PointKind[];
  rewrite(c: PointContext): Edit | undefined;
}

/** An unpin call -> the put it would be if the page were only referenced (args by position). */
export const PUT_FOR_UNPIN: Readonly<Record<string, (a: string[]) => string | undefined>> = {
  unpin_user_page: (a) => `put_page(${a[0]})`,
  unpin_user_pages: (a) => `release_pages(${a[0]}, ${a[1]})`,
  unpin_user_pages_dirty_lock: (a) => `release_pages(${a[0]}, ${a[1]})`,
  unpin_user_page_range_dirty_lock: (a) => `folio_put_refs(page_folio(${a[0]}), ${a[1]})`,
  unpin_user_folio: (a) => `folio_put_refs(${a[0]}, ${a[1]})`,
  unpin_folio: (a) => `folio_put(${a[0]})`,
  // gup_put_folio(folio, refs, flags) releases pins only under FOLL_PIN: then it becomes a put
  gup_put_folio: (a) => (/\bFOLL_GET\b/.test(a[2] ?? '') ? undefined : `folio_put_refs(${a[0]}, ${a[1]})`),
  bio_release_page: (a) => `put_page(${a[1]})`,
  dio_release_page: (a) => `put_page(${a[1]})`,
  dio_unpin_page: (a) => `put_page(${a[1]})`,
};

/** A put -> an unpin of what was only referenced (the reverse confusion). */
export const UNPIN_FOR_PUT: Readonly<Record<string, (a: string[]) => string | undefined>> = {
  put_page: (a) => `unpin_user_page(${a[0]})`,
  folio_put: (a) => `unpin_user_page(&(${a[0]})->page)`,
  folio_put_refs: (a) => `unpin_user_page_range_dirty_lock(&(${a[0]})->page, ${a[1]}, false)`,
};

/** Which argument (0-based) of a call is a count of pins or references. */
export const COUNT_ARG: Readonly<Record<string, number>> = {
  pin_user_pages: 1,
  pin_user_pages_fast: 1,
  pin_user_pages_fast_only: 1,
  pin_user_pages_unlocked: 1,
  try_grab_folio: 1,
  try_grab_folio_fast: 1,
  gup_put_folio: 1,
  unpin_user_pages: 1,
  unpin_user_pages_dirty_lock: 1,
  unpin_user_page_range_dirty_lock: 1,
  unpin_user_folio: 1,
  folio_put_refs: 1,
};

/** Names a function's error state commonly goes by, tried in order. */
const ERROR_VARS = ['ret', 'err', 'error', 'rc', 'retval'];

/**
 * `name` declared at the function's own scope (one tab in) and given a value on the way to the
 * point: an initialiser, or an assignment above it that does not leave right away (`ret = x;
 * goto out;` gives the error path its value, not the point). Otherwise the mutant would read an
 * uninitialised variable, not skip the release on the error path.
 */
export function declaredAtFunctionScope(body: string, name: string): boolean {
  const lines = body.split('\n');
  const decl = new RegExp(`^\\t(?:const |unsigned |signed |long |short |struct \\w+ |enum \\w+ )*(?!return\\b)[A-Za-z_]\\w*[\\s*]+[^;()]*\\b${name}\\b(\\s*=[^=])?[^;]*;`);
  const declared = lines.map((l) => decl.exec(l)).find(Boolean);
  if (!declared) return false;
  if (declared[1]) return true;
  const assign = new RegExp(`(^|[^\\w.>])${name}\\s*=[^=]`);
  return lines.some((l, i) => {
    if (!assign.test(l) || decl.test(l)) return false;
    const next = lines.slice(i + 1).find((x) => x.trim() !== '');
    return !next || !/^\s*(goto|break|return|continue)\b/.test(next);
  });
}

/** An argument that changes state (`pages[i++]`, `x = y`): skipping the call must keep it, or a
 * loop that advances through its arguments never ends (a hang, not the bug mimicked). */
const SIDE_EFFECT = /\+\+|--|(^|[^=!<>])=($|[^=])/;

/** What a call is replaced by when it is skipped: nothing, but its arguments' side effects. */
export function withoutCall(call: CallAt): string {
  const kept = call.args.filter((a) => SIDE_EFFECT.test(a));
  return kept.length ? `(void)(${kept.join(', ')})` : '(void)0';
}

const callText = (c: PointContext, text: string): Edit | undefined => (c.call ? { from: c.call.start, to: c.call.end, text } : undefined);

/** Replace one argument (by index) of the call. */
function argEdit(c: PointContext, index: number, f: (arg: string) => string): Edit | undefined {
  const call = c.call;
  if (!call || call.args.length <= index) return undefined;
  const args = call.args.map((a, i) => (i === index ? f(a) : a));
  return callText(c, `${c.point.token}(${args.join(', ')})`);
}

/** Whether the flag at the point is tested (`x & FLAG`, `x & (A | FLAG)`, `bio_flagged(b, FLAG)`) or set. */
export function flagUse(c: Pick<PointContext, 'point' | 'blanked'>): 'set' | 'test' {
  const before = c.blanked[c.point.line - 1]!.slice(0, c.point.col);
  if (/\bbio_flagged\s*\([^()]*,\s*$/.test(before)) return 'test';
  const bitAnd = (t: string) => /(^|[^&])&\s*$/.test(t);
  const stripped = before.replace(/[\s(]*$/, '');
  if (bitAnd(stripped)) return 'test';
  if (/\|\s*$/.test(stripped)) {
    // inside a group of flags: the group's own opening parenthesis decides
    let depth = 0;
    for (let k = before.length - 1; k >= 0; k--) {
      if (before[k] === ')') depth++;
      else if (before[k] === '(' && depth-- === 0) return bitAnd(before.slice(0, k).replace(/\s*$/, '')) ? 'test' : 'set';
    }
  }
  return 'set';
}

/** The flag's name replaced by 0. */
function flagToZero(c: PointContext): Edit {
  const at = { line: c.point.line - 1, col: c.point.col };
  return { from: at, to: { ...at, col: at.col + c.point.token.length }, text: '0' };
}

/** The call replaced by its counterpart in `table` (a release of the other kind), when it has one. */
function swapCall(c: PointContext, table: Readonly<Record<string, (a: string[]) => string | undefined>>): Edit | undefined {
  const f = table[c.point.token];
  const text = c.call && f ? f(c.call.args) : undefined;
  return text ? callText(c, text) : undefined;
}

export const OPERATORS: readonly Operator[] = [
  {
    id: 'drop-release',
    mimics: 'a release call forgotten (a pin leak)',
    kinds: ['unpin'],
    rewrite: (c) => (c.call?.statement ? callText(c, withoutCall(c.call)) : undefined),
  },
  {
    id: 'put-for-unpin',
    mimics: 'a pinned page released with put_page()/folio_put() instead of an unpin',
    kinds: ['unpin'],
    rewrite: (c) => swapCall(c, PUT_FOR_UNPIN),
  },
  {
    id: 'unpin-for-put',
    mimics: 'a page that was only referenced released with an unpin',
    kinds: ['put'],
    rewrite: (c) => swapCall(c, UNPIN_FOR_PUT),
  },
  {
    id: 'refs-plus-one',
    mimics: 'one pin or reference too many (an off-by-one count)',
    kinds: ['pin', 'unpin', 'put'],
    rewrite: (c) => (COUNT_ARG[c.point.token] === undefined ? undefined : argEdit(c, COUNT_ARG[c.point.token]!, (a) => `(${a}) + 1`)),
  },
  {
    id: 'refs-minus-one',
    mimics: 'one pin or reference too few (an off-by-one count)',
    kinds: ['pin', 'unpin', 'put'],
    rewrite: (c) => (COUNT_ARG[c.point.token] === undefined ? undefined : argEdit(c, COUNT_ARG[c.point.token]!, (a) => `(${a}) - 1`)),
  },
  {
    id: 'skip-on-error',
    mimics: 'a release skipped on one branch (the error path)',
    kinds: ['unpin', 'put'],
    rewrite: (c) => {
      if (!c.call?.statement) return undefined;
      const v = ERROR_VARS.find((n) => declaredAtFunctionScope(c.body, n));
      if (!v) return undefined;
      const original = sliceText(c.lines, c.call.start, c.call.end);
      return callText(c, `((${v}) ? ${withoutCall(c.call)} : (void)${original})`);
    },
  },
  {
    id: 'flag-not-set',
    mimics: 'a pin flag (FOLL_PIN, BIO_PAGE_PINNED) not set',
    kinds: ['flag'],
    rewrite: (c) => {
      if (flagUse(c) !== 'set') return undefined;
      if (c.point.token === 'BIO_PAGE_PINNED') {
        const before = c.blanked[c.point.line - 1]!.slice(0, c.point.col);
        const m = /\bbio_set_flag\s*\([^()]*,\s*$/.exec(before);
        if (!m) return undefined;
        const end = c.blanked[c.point.line - 1]!.indexOf(')', c.point.col);
        if (end < 0) return undefined;
        return { from: { line: c.point.line - 1, col: m.index }, to: { line: c.point.line - 1, col: end + 1 }, text: '(void)0' };
      }
      return flagToZero(c);
    },
  },
  {
    id: 'flag-not-tested',
    mimics: 'a pin flag (FOLL_PIN, BIO_PAGE_PINNED) not tested: the code takes the unpinned branch',
    kinds: ['flag'],
    rewrite: (c) => {
      if (flagUse(c) !== 'test') return undefined;
      if (c.point.token === 'BIO_PAGE_PINNED') {
        const before = c.blanked[c.point.line - 1]!.slice(0, c.point.col);
        const m = /\bbio_flagged\s*\([^()]*,\s*$/.exec(before);
        const end = c.blanked[c.point.line - 1]!.indexOf(')', c.point.col);
        if (!m || end < 0) return undefined;
        return { from: { line: c.point.line - 1, col: m.index }, to: { line: c.point.line - 1, col: end + 1 }, text: 'false' };
      }
      return flagToZero(c);
    },
  },
];

export function operatorById(id: string): Operator | undefined {
  return OPERATORS.find((o) => o.id === id);
}

/** The original text between two positions. */
export function sliceText(lines: readonly string[], from: Pos, to: Pos): string {
  if (from.line === to.line) return lines[from.line]!.slice(from.col, to.col);
  return [lines[from.line]!.slice(from.col), ...lines.slice(from.line + 1, to.line), lines[to.line]!.slice(0, to.col)].join('\n');
}
