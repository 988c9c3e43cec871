// Pin sites user space cannot reach through the suite's routes, each with the reason, reviewed by
// a person and kept as data: a site listed here is reported as "unreachable", never dropped, and
// a site that is not listed and not reached fails the coverage floor. Keyed by file, function and
// callee (not line numbers), so an entry holds across trees and line shifts.
import type { PinSite } from './sites.js';

export interface UnreachableEntry {
  file: string;
  function: string;
  callee: string;
  reason: string;
}

export const UNREACHABLE: readonly UnreachableEntry[] = [];

export function unreachableReason(site: Pick<PinSite, 'file' | 'function' | 'callee'>): string | undefined {
  return UNREACHABLE.find((u) => u.file === site.file && u.function === site.function && u.callee === site.callee)?.reason;
}
