// The mutants of a tree: every operator at every mutation point of the instrumented sources, each
// one change to one file, kept as a unified diff against the tree (git apply takes it after the
// profile's series). Ids are stable across runs and line shifts: `<point id>/<operator>`. Pure.
import { blankComments } from '../coverage/sites.js';
import { matchesFilter, type Shard } from '../workloads/catalogue.js';
import { closeParen, findMutationPoints, functionBodies, type MutationPoint, type PointKind } from './points.js';
import { OPERATORS, sliceText, type CallAt, type Edit, type OperatorId, type PointContext } from './operators.js';

export interface Mutant {
  /** `<point id>/<operator>`, e.g. block/bio.c:bio_iov_add_page:bio_release_page/drop-release */
  id: string;
  file: string;
  /** the point's id: a pin site id for pin/unpin/ref points */
  site: string;
  kind: PointKind;
  operator: OperatorId;
  /** 1-based lines the change spans in the original file */
  line: number;
  endLine: number;
  before: string;
  after: string;
  /** the change as a unified diff (git apply) */
  diff: string;
}

/** The call at a point: its extent, arguments, and whether it is a whole statement. */
export function callAt(lines: readonly string[], blanked: readonly string[], p: MutationPoint): CallAt | undefined {
  const i = p.line - 1;
  const open = blanked[i]!.indexOf('(', p.col + p.token.length);
  if (open < 0) return undefined;
  const close = closeParen(blanked, i, open + 1);
  if (!close) return undefined;
  // cut at top-level commas of the blanked text; take the pieces from the original
  const inner = sliceText(blanked, { line: i, col: open + 1 }, { line: close.line, col: close.col - 1 });
  const original = sliceText(lines, { line: i, col: open + 1 }, { line: close.line, col: close.col - 1 });
  const args: string[] = [];
  let depth = 0;
  let from = 0;
  for (let k = 0; k <= inner.length; k++) {
    const ch = inner[k];
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    else if (ch === ')' || ch === ']' || ch === '}') depth--;
    else if (k === inner.length || (ch === ',' && depth === 0)) {
      args.push(original.slice(from, k).replace(/\s+/g, ' ').trim());
      from = k + 1;
    }
  }
  const prefix = blanked[i]!.slice(0, p.col);
  const rest = blanked[close.line]!.slice(close.col);
  const statement = /^\s*;/.test(rest) && (/^\s*$/.test(prefix) || /(\belse|\)\s*)\s*$/.test(prefix) && !/\(\s*void\s*\)\s*$/.test(prefix));
  return { start: { line: i, col: p.col }, end: close, args: args.length === 1 && args[0] === '' ? [] : args, statement };
}

/** The lines after an edit (only the lines it spans change). */
function applyEdit(lines: readonly string[], e: Edit): { first: number; last: number; after: string[] } {
  const head = lines[e.from.line]!.slice(0, e.from.col);
  const tail = lines[e.to.line]!.slice(e.to.col);
  return { first: e.from.line, last: e.to.line, after: `${head}${e.text}${tail}`.split('\n') };
}

const CONTEXT = 3;

/** One hunk of unified diff: lines [first, last] (0-based) of `lines` replaced by `after`. */
export function unifiedDiff(file: string, lines: readonly string[], first: number, last: number, after: readonly string[]): string {
  const a = Math.max(0, first - CONTEXT);
  const b = Math.min(lines.length - 1, last + CONTEXT);
  const pre = lines.slice(a, first);
  const post = lines.slice(last + 1, b + 1);
  const removed = lines.slice(first, last + 1);
  const oldCount = pre.length + removed.length + post.length;
  const newCount = pre.length + after.length + post.length;
  return [
    `diff --git a/${file} b/${file}`,
    `--- a/${file}`,
    `+++ b/${file}`,
    `@@ -${a + 1},${oldCount} +${a + 1},${newCount} @@`,
    ...pre.map((l) => ` ${l}`),
    ...removed.map((l) => `-${l}`),
    ...after.map((l) => `+${l}`),
    ...post.map((l) => ` ${l}`),
    '',
  ].join('\n');
}

/** Every mutant of one source file, in source order. */
export function mutantsOfFile(file: string, text: string): Mutant[] {
  const lines = text.split('\n');
  const blanked = blankComments(text).split('\n');
  const bodies = functionBodies(blanked);
  const out: Mutant[] = [];
  for (const point of findMutationPoints(file, text)) {
    const fn = bodies.find((b) => b.open < point.line - 1 && point.line - 1 < b.close);
    // the function's body above the point: where the names it may use are declared
    const body = fn ? blanked.slice(fn.open + 1, point.line - 1).join('\n') : '';
    const ctx: PointContext = { point, lines, blanked, body, ...(point.kind === 'flag' ? {} : { call: callAt(lines, blanked, point) }) };
    for (const op of OPERATORS) {
      if (!op.kinds.includes(point.kind)) continue;
      const edit = op.rewrite(ctx);
      if (!edit) continue;
      const { first, last, after } = applyEdit(lines, edit);
      const before = lines.slice(first, last + 1);
      if (before.join('\n') === after.join('\n')) continue;
      out.push({
        id: `${point.id}/${op.id}`,
        file,
        site: point.id,
        kind: point.kind,
        operator: op.id,
        line: first + 1,
        endLine: last + 1,
        before: before.join('\n'),
        after: after.join('\n'),
        // the empty string after the file's last newline is not a line of it
        diff: unifiedDiff(file, text.endsWith('\n') ? lines.slice(0, -1) : lines, first, last, after),
      });
    }
  }
  return out;
}

/** The mutants of a tree's sources (path -> text), files in path order. */
export function planMutants(sources: ReadonlyMap<string, string>): Mutant[] {
  return [...sources.keys()].sort().flatMap((f) => mutantsOfFile(f, sources.get(f)!));
}

export interface Selection {
  /** comma-separated globs or words matched against the mutant id (a `!pattern` excludes) */
  filter?: string;
  shard?: Shard;
  max?: number;
}

/** A mutant id as a filter sees it: file, function, token and operator are its words. */
function filterName(id: string): string {
  return id.replace(/[:/#]/g, '.');
}

/** The mutants to run: filtered (by file, function, site or operator), sharded round-robin, capped. */
export function selectMutants(all: readonly Mutant[], sel: Selection): Mutant[] {
  let picked = sel.filter ? all.filter((m) => matchesFilter(filterName(m.id), filterWords(sel.filter!))) : [...all];
  if (sel.shard) picked = picked.filter((_, i) => i % sel.shard!.n === sel.shard!.k - 1);
  return sel.max !== undefined ? picked.slice(0, sel.max) : picked;
}

/** The filter's patterns spelled like filterName spells ids. */
function filterWords(filter: string): string {
  return filter.split(',').map((p) => p.trim().replace(/[:/#]/g, '.')).join(',');
}

