// `pinlab diff RUN_A RUN_B`: which verdicts changed between two runs (status, reasons, pins,
// path), which workloads appear in only one of them, and whether the kernel differs.
import type { RunResult, Verdict } from '../verdict/types.js';
import { reasonText, sortVerdicts } from './common.js';

export type VerdictField = 'status' | 'reasons' | 'cause' | 'knownState' | 'pinning' | 'acquired' | 'released' | 'expectedPins' | 'path' | 'splats';

export interface FieldChange {
  field: VerdictField;
  before: string;
  after: string;
}

export type VerdictDiff =
  | { kind: 'changed'; name: string; before: Verdict; after: Verdict; changes: FieldChange[]; regression: boolean }
  | { kind: 'added'; name: string; after: Verdict }
  | { kind: 'removed'; name: string; before: Verdict };

export interface KernelChange {
  field: 'profile' | 'source' | 'release' | 'patchsetHash' | 'configSha256';
  before: string;
  after: string;
}

export interface RunDiff {
  a: { runId: string; kernel: string };
  b: { runId: string; kernel: string };
  kernelChanges: KernelChange[];
  verdicts: VerdictDiff[];
  unchanged: number;
}

export interface DiffOptions {
  /** pin counts within this many of each other are treated as equal (background noise) */
  pinTolerance?: number;
}

/** Worse means: a result that fails the run now and did not before. */
const severity: Record<Verdict['status'], number> = { PASS: 0, SKIP: 0, XFAIL: 1, ERROR: 2, FAIL: 3 };

function kernelText(r: RunResult): string {
  return r.kernel.profile ?? r.kernel.source;
}

function fieldChanges(a: Verdict, b: Verdict, tolerance: number): FieldChange[] {
  const changes: FieldChange[] = [];
  const text = (field: VerdictField, x: string, y: string) => {
    if (x !== y) changes.push({ field, before: x, after: y });
  };
  const pins = (field: 'acquired' | 'released' | 'expectedPins') => {
    const x = a.numbers?.[field];
    const y = b.numbers?.[field];
    if (x === undefined || y === undefined) text(field, x === undefined ? '-' : String(x), y === undefined ? '-' : String(y));
    else if (Math.abs(x - y) > tolerance) text(field, String(x), String(y));
  };
  text('status', a.status, b.status);
  text('reasons', a.reasons.join(','), b.reasons.join(','));
  text('cause', a.cause ?? '', b.cause ?? '');
  text('knownState', a.knownState ?? '', b.knownState ?? '');
  text('pinning', a.pinning, b.pinning);
  pins('acquired');
  pins('released');
  pins('expectedPins');
  text('path', a.path.join(' '), b.path.join(' '));
  text('splats', a.splats.map((s) => s.title).join(' | '), b.splats.map((s) => s.title).join(' | '));
  return changes;
}

export function diffRuns(a: RunResult, b: RunResult, opts: DiffOptions = {}): RunDiff {
  const tolerance = opts.pinTolerance ?? 0;
  const kernelChanges: KernelChange[] = [];
  for (const field of ['profile', 'source', 'release', 'patchsetHash', 'configSha256'] as const) {
    const x = a.kernel[field] ?? '';
    const y = b.kernel[field] ?? '';
    if (x !== y) kernelChanges.push({ field, before: x || '-', after: y || '-' });
  }

  const before = new Map(a.verdicts.map((v) => [v.name, v]));
  const after = new Map(b.verdicts.map((v) => [v.name, v]));
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  const verdicts: VerdictDiff[] = [];
  let unchanged = 0;
  for (const name of names) {
    const x = before.get(name);
    const y = after.get(name);
    if (x && !y) verdicts.push({ kind: 'removed', name, before: x });
    else if (!x && y) verdicts.push({ kind: 'added', name, after: y });
    else if (x && y) {
      const changes = fieldChanges(x, y, tolerance);
      if (changes.length === 0) unchanged++;
      else verdicts.push({ kind: 'changed', name, before: x, after: y, changes, regression: severity[y.status] > severity[x.status] });
    }
  }
  return {
    a: { runId: a.runId, kernel: kernelText(a) },
    b: { runId: b.runId, kernel: kernelText(b) },
    kernelChanges,
    verdicts,
    unchanged,
  };
}

function statusWithReason(v: Verdict): string {
  const reason = reasonText(v);
  return reason ? `${v.status} (${reason})` : v.status;
}

export function formatDiff(d: RunDiff): string {
  const lines = [`A: ${d.a.runId} ${d.a.kernel}`, `B: ${d.b.runId} ${d.b.kernel}`];
  for (const c of d.kernelChanges) lines.push(`kernel ${c.field}: ${c.before} -> ${c.after}`);
  for (const v of d.verdicts) {
    if (v.kind === 'added') lines.push(`+ ${v.name}: only in B, ${statusWithReason(v.after)}`);
    else if (v.kind === 'removed') lines.push(`- ${v.name}: only in A, ${statusWithReason(v.before)}`);
    else {
      const mark = v.regression ? '!' : '~';
      const head = v.before.status === v.after.status ? v.after.status : `${statusWithReason(v.before)} -> ${statusWithReason(v.after)}`;
      const details = v.changes.filter((c) => c.field !== 'status').map((c) => `${c.field} ${c.before || '-'} -> ${c.after || '-'}`);
      lines.push(`${mark} ${v.name}: ${head}${details.length > 0 ? `; ${details.join('; ')}` : ''}`);
    }
  }
  const changed = d.verdicts.filter((v) => v.kind === 'changed').length;
  const regressions = d.verdicts.filter((v) => v.kind === 'changed' && v.regression).length;
  const added = d.verdicts.filter((v) => v.kind === 'added').length;
  const removed = d.verdicts.filter((v) => v.kind === 'removed').length;
  lines.push(`${changed} changed (${regressions} worse), ${added} only in B, ${removed} only in A, ${d.unchanged} unchanged`);
  return `${lines.join('\n')}\n`;
}

/** Verdicts in B, in name order, that got worse than in A. */
export function regressions(d: RunDiff): Verdict[] {
  return sortVerdicts(d.verdicts.flatMap((v) => (v.kind === 'changed' && v.regression ? [v.after] : [])));
}
