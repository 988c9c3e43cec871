// The pin evidence's calibration as verdicts and as the run's evidence health. Pure: the live
// run and a re-parse of meta.json reach the same result.
//
// A calibration source that did not add up while others did (guest/pin-evidence.ts) is a
// finding about the kernel on that source's path: a FAIL verdict named `calibration.<source>`,
// with the numbers, beside the workloads' verdicts, so every report format carries it. Sources
// that agreed are listed in the health block only (they are the instrument, not a test of the
// kernel's workloads). When no source added up the evidence is off, and the reason, with every
// source's numbers, is in the health block and in each workload's message.
import type { CalibrationOutcome, PinControl, PinEvidenceInfo } from '../workloads/types.js';
import type { EvidenceHealth, FailReason, Verdict } from './types.js';

export const CALIBRATION_TARGET = 'calibration';

function reasonsOf(o: Pick<CalibrationOutcome, 'acquired' | 'released' | 'pages'>): FailReason[] {
  const a = o.acquired ?? 0;
  const r = o.released ?? 0;
  const out: FailReason[] = [];
  if (a > r) out.push('pin-leak');
  if (r > a) out.push('over-released');
  if (a < o.pages) out.push('not-pinned');
  if (a > o.pages) out.push('unexpected-pins');
  return out;
}

/** FAIL verdicts for the sources that disagreed with the FOLL_PIN the others found. */
export function calibrationVerdicts(info: PinEvidenceInfo | undefined): Verdict[] {
  if (!info || info.mechanism === 'none') return [];
  return info.calibration
    .filter((o) => o.state === 'disagrees')
    .map((o) => {
      const reasons = reasonsOf(o);
      const vm = o.vmstatAcquired !== undefined ? ` (vmstat ${o.vmstatAcquired}/${o.vmstatReleased})` : '';
      return {
        name: `${CALIBRATION_TARGET}.${o.source}`,
        target: CALIBRATION_TARGET,
        engine: o.source,
        status: 'FAIL',
        reasons: reasons.length ? reasons : ['pin-leak'],
        path: o.path.split(/;\s*|\s*>\s*/).filter(Boolean),
        pinning: 'unknown',
        numbers: { acquired: o.acquired ?? 0, released: o.released ?? 0, expectedPins: o.pages, background: 0, userPageOps: o.pages, bytes: 0, evidence: 'kprobe-hist' },
        splats: [],
        message: `${reasons.join(', ')}: calibration source ${o.source} pins and unpins ${o.pages} pages, the pin evidence counted ${o.acquired} acquired / ${o.released} released${vm} with FOLL_PIN 0x${info.follPin.toString(16)} from ${info.agreed.join(', ')}; path: ${o.path}`,
      } satisfies Verdict;
    });
}

/** The pin-accounting control's name among the verdicts. */
export const CONTROL_VERDICT = `${CALIBRATION_TARGET}.gup_test-control`;

/**
 * The pin-accounting control (gup_test pins and unpins a known number of pages, counted by
 * vmstat) that did not add up, as a FAIL verdict: the kernel's own pin and unpin of those pages
 * do not balance, a finding about the kernel, not about pinlab. The workloads judged on vmstat
 * are still ERROR harness (judge.ts rule 9: their counters cannot be trusted), so a bug that
 * breaks the counting itself, which also leaves the evidence without a release to probe, cannot
 * turn the run into a harness error only.
 */
export function controlVerdict(c: PinControl | undefined): Verdict | undefined {
  if (!c || c.ok || c.skipped) return undefined;
  const reasons = reasonsOf({ acquired: c.acquired, released: c.released, pages: c.expected });
  const path = ['gup_test', 'pin_user_pages', 'unpin_user_pages'];
  return {
    name: CONTROL_VERDICT,
    target: CALIBRATION_TARGET,
    engine: 'gup_test-control',
    status: 'FAIL',
    reasons: reasons.length ? reasons : ['pin-leak'],
    path,
    pinning: 'unknown',
    numbers: { acquired: c.acquired, released: c.released, expectedPins: c.expected, background: 0, userPageOps: c.expected, bytes: 0, evidence: 'vmstat' },
    splats: [],
    message: `${reasons.join(', ') || 'pin-leak'}: the pin accounting control pins and unpins ${c.expected} pages (${path.join(' > ')}), vmstat counted ${c.acquired} acquired / ${c.released} released: ${c.message}`,
  };
}

export function evidenceHealth(info: PinEvidenceInfo | undefined, verdicts: readonly Verdict[]): EvidenceHealth {
  const judgedBy: Record<string, number> = {};
  for (const v of verdicts) {
    if (v.target === CALIBRATION_TARGET || !v.numbers?.evidence) continue;
    judgedBy[v.numbers.evidence] = (judgedBy[v.numbers.evidence] ?? 0) + 1;
  }
  if (!info) return { mechanism: 'none', unavailable: 'the guest reported no pin evidence', agreed: [], findings: [], calibration: [], judgedBy };
  const calibration = info.calibration ?? [];
  const common = { calibration, judgedBy, ...(info.vmstatBlind?.length ? { vmstatBlind: info.vmstatBlind } : {}) };
  if (info.mechanism === 'none') return { mechanism: 'none', unavailable: info.unavailable, agreed: [], findings: [], ...common };
  return {
    mechanism: info.mechanism,
    follPin: info.follPin,
    probes: info.probes,
    ...(info.grabsCounted ? { grabsCounted: info.grabsCounted } : {}),
    agreed: info.agreed,
    findings: calibration.filter((o) => o.state === 'disagrees').map((o) => o.source),
    ...common,
  };
}

/** One line for the terminal: "pin evidence: kprobe-hist (FOLL_PIN 0x80000 from a, b; finding: c); judged 8 kprobe-hist". */
export function formatEvidenceHealth(h: EvidenceHealth): string {
  const judged = Object.entries(h.judgedBy).map(([k, n]) => `${n} on ${k}`).join(', ') || 'no workload';
  if (h.mechanism === 'none') return `pin evidence: unavailable (${h.unavailable}); pins judged: ${judged}`;
  const findings = h.findings.length ? `; calibration finding: ${h.findings.join(', ')}` : '';
  return `pin evidence: ${h.mechanism}, FOLL_PIN 0x${(h.follPin ?? 0).toString(16)} from ${h.agreed.join(', ')}${findings}; pins judged: ${judged}`;
}
