// Mutants reviewed as equivalent: the change cannot alter what the kernel does with pins on any
// input, each with the reason, kept as data like the reviewed unreachable sites. A mutant listed
// here is reported as equivalent and not run; keyed by mutant id (`<site id>/<operator>`).
// Reviewed 2026-12-05 by reading each survivor's change and its callers.

export interface EquivalentEntry {
  mutant: string;
  reason: string;
}

export const EQUIVALENT: readonly EquivalentEntry[] = [];

export function equivalentReason(id: string, entries: readonly EquivalentEntry[] = EQUIVALENT): string | undefined {
  return entries.find((e) => e.mutant === id)?.reason;
}
