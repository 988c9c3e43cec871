// --ktap: KTAP version 1 (Documentation/dev-tools/ktap.rst), so kernel tooling (kunit.py's
// parser, LAVA, KernelCI's KTAP readers) can consume pinlab's results.
//
// Mapping, one test line per workload, diagnostics ("# ...") just before the line they explain,
// the way KUnit prints them:
//   PASS  -> ok N name
//   FAIL  -> not ok N name            (# <name>: FAIL <reasons>: <message>)
//   ERROR -> not ok N name # ERROR <cause>    (# <name>: ERROR <cause>: <message>)
//   SKIP  -> ok N name # SKIP <reason>
//   XFAIL -> ok N name # XFAIL known state <id>: <reasons>
//            KTAP v1 lists XFAIL as an accepted directive ("a test is expected to fail", used by
//            kselftest, which also prints it on an "ok" line); a TAP consumer that does not know
//            the directive falls back to "ok", i.e. not failing, which is what XFAIL means here.
//            Under --strict it becomes "not ok N name # known state <id> (--strict)", no directive.
// Several kernels (a matrix) become one KTAP document with a subtest per kernel.
import type { RunResult, Verdict } from '../verdict/types.js';
import { kernelLabel, numbersText, outcomeOf, reportNames, sortVerdicts } from './common.js';

/** KTAP names and diagnostics are single-line; '#' would start a directive. */
function clean(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/#/g, '');
}

/** The lines for one verdict: diagnostics, then the result line. */
export function ktapTestLines(v: Verdict, number: number, strict: boolean): string[] {
  const name = reportNames(v).name;
  const lines: string[] = [];
  const numbers = numbersText(v);
  if (numbers) lines.push(`# ${name}: ${numbers}`);
  if (v.path.length > 0) lines.push(`# ${name}: path ${clean(v.path.join(' '))}`);
  for (const s of v.splats) lines.push(`# ${name}: ${s.kind}: ${clean(s.title)}`);
  switch (outcomeOf(v, strict)) {
    case 'pass':
      lines.push(`ok ${number} ${name}`);
      break;
    case 'skip':
      lines.push(`ok ${number} ${name} # SKIP ${clean(v.skipReason ?? '')}`.trimEnd());
      break;
    case 'xfail':
      lines.push(`# ${name}: ${clean(v.message)}`);
      lines.push(`ok ${number} ${name} # XFAIL known state ${clean(v.knownState ?? 'unnamed')}: ${v.reasons.join(',')}`);
      break;
    case 'error':
      // kunit.py prints a failed test's diagnostics but drops the text after '#' on its result
      // line, so the cause and message go in a diagnostic too, as for a FAIL
      lines.push(`# ${name}: ERROR ${v.cause ?? 'error'}: ${clean(v.message)}`);
      lines.push(`not ok ${number} ${name} # ERROR ${v.cause ?? 'error'}`);
      break;
    case 'fail':
      lines.push(`# ${name}: ${v.status} ${v.reasons.join(',')}: ${clean(v.message)}`);
      lines.push(
        v.status === 'XFAIL'
          ? `not ok ${number} ${name} # known state ${clean(v.knownState ?? 'unnamed')} (--strict)`
          : `not ok ${number} ${name}`,
      );
      break;
  }
  return lines;
}

function runLines(r: RunResult): string[] {
  const verdicts = sortVerdicts(r.verdicts);
  const lines = ['KTAP version 1', `# pinlab run ${clean(r.runId)} on ${clean(kernelLabel(r))}`, `1..${verdicts.length}`];
  verdicts.forEach((v, i) => lines.push(...ktapTestLines(v, i + 1, r.strict)));
  return lines;
}

/** True when the run as a whole failed in KTAP terms: any "not ok". */
function runFailed(r: RunResult): boolean {
  return r.verdicts.some((v) => {
    const o = outcomeOf(v, r.strict);
    return o === 'fail' || o === 'error';
  });
}

export function toKtap(results: RunResult | readonly RunResult[]): string {
  const runs = Array.isArray(results) ? (results as readonly RunResult[]) : [results as RunResult];
  if (runs.length === 1) return `${runLines(runs[0]!).join('\n')}\n`;
  const lines = ['KTAP version 1', `1..${runs.length}`];
  runs.forEach((r, i) => {
    const name = `pinlab-${clean(r.kernel.profile ?? r.kernel.source).replace(/\s+/g, '_')}`;
    const [version, ...rest] = runLines(r);
    // One nesting level is two spaces; "# Subtest:" after the version line is what KUnit prints.
    lines.push(...[version!, `# Subtest: ${name}`, ...rest].map((l) => `  ${l}`));
    lines.push(`${runFailed(r) ? 'not ok' : 'ok'} ${i + 1} ${name}`);
  });
  return `${lines.join('\n')}\n`;
}
