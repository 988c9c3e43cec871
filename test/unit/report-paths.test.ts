// One name per workload in every report: the terminal, JSON, KTAP, JUnit (classname + name) and
// KCIDB (test path) all show the catalogue's workload name, for every workload of the default
// suite and of --hw all, so a CI log, a KCIDB query and `pinlab run -f` use the same words.
import test from 'ava';
import { reportNames } from '../../harness/report/common.js';
import { toRunJson } from '../../harness/report/json.js';
import { toJUnit } from '../../harness/report/junit.js';
import { toKcidb } from '../../harness/report/kcidb.js';
import { toKtap } from '../../harness/report/ktap.js';
import { formatSummary, formatVerdictLine } from '../../harness/report/terminal.js';
import { ALL_WORKLOADS, DEFAULT_SUITE, suiteWithHw } from '../../harness/workloads/catalogue.js';
import type { WorkloadSpec } from '../../harness/workloads/types.js';
import type { RunResult, Verdict } from '../../harness/verdict/types.js';

const verdictOf = (spec: WorkloadSpec): Verdict =>
  ({ name: spec.name, target: spec.target, engine: spec.engine, status: 'PASS', reasons: [], path: [], pinning: 'pinned', splats: [], message: 'balanced', observation: { spec } }) as unknown as Verdict;

const runOf = (specs: readonly WorkloadSpec[]): RunResult => ({
  schema: 'pinlab.run/1',
  runId: '20250101-000000-abcdef',
  startedAt: '2025-01-01T00:00:00.000Z',
  finishedAt: '2025-01-01T00:01:00.000Z',
  kernel: { profile: 'patched-6.1', source: 'debian:linux-source-6.1=6.1.158-1', patches: [] },
  host: { accel: 'tcg', node: 'v20.0.0' },
  verdicts: specs.map(verdictOf),
  strict: false,
});

/** The workload names each format shows, read back from its text. */
function namesIn(r: RunResult): Record<string, string[]> {
  const junit = [...toJUnit(r).matchAll(/<testcase classname="([^"]+)" name="([^"]+)"/g)].map((m) => `${m[1]}.${m[2]}`.replace(/^pinlab\./, ''));
  return {
    terminal: formatSummary(r).split('\n').slice(1, 1 + r.verdicts.length).map((l) => l.split(/\s+/)[0]!),
    'terminal live': r.verdicts.map((v) => formatVerdictLine(v).split(' ')[0]!),
    json: (JSON.parse(toRunJson(r)) as RunResult).verdicts.map((v) => v.name),
    ktap: toKtap(r).split('\n').flatMap((l) => /^(?:not )?ok \d+ (\S+)/.exec(l)?.[1] ?? []),
    junit,
    kcidb: toKcidb(r).tests!.map((x) => x.path!.replace(/^pinlab\./, '')),
  };
}

for (const [suite, specs] of [['the default suite', DEFAULT_SUITE], ['--hw all', suiteWithHw(['all'])]] as const) {
  test(`every workload of ${suite} has one name in the terminal, JSON, KTAP, JUnit and KCIDB`, (t) => {
    const r = runOf(specs);
    const expected = specs.map((s) => s.name).sort();
    t.true(expected.length > 20);
    for (const [format, names] of Object.entries(namesIn(r))) t.deepEqual([...names].sort(), expected, format);
  });
}

test('the misaligned-length workload is ext4.psync.anon.misaligned in every format (it was misaligned-length in JUnit and KCIDB)', (t) => {
  const spec = ALL_WORKLOADS.find((s) => s.name === 'ext4.psync.anon.misaligned')!;
  t.deepEqual(reportNames(verdictOf(spec)), { name: 'ext4.psync.anon.misaligned', junitClassname: 'pinlab.ext4', junitName: 'psync.anon.misaligned', kcidbPath: 'pinlab.ext4.psync.anon.misaligned' });
});

test('a hardware variant workload: its target carries the variant; JUnit groups by it', (t) => {
  const spec = ALL_WORKLOADS.find((s) => s.name === 'nvme-mdts.nvme-passthru.passthru.anon.over-limit')!;
  t.like(reportNames(verdictOf(spec)), { junitClassname: 'pinlab.nvme-mdts.nvme-passthru', junitName: 'passthru.anon.over-limit', kcidbPath: 'pinlab.nvme-mdts.nvme-passthru.passthru.anon.over-limit' });
});

test('names are unique, and a name with characters KTAP and KCIDB cannot hold keeps one form in both', (t) => {
  const paths = ALL_WORKLOADS.map((s) => reportNames(verdictOf(s)).kcidbPath);
  t.deepEqual(paths.filter((p, i) => paths.indexOf(p) !== i), []);
  const repeat = { ...verdictOf(DEFAULT_SUITE[0]!), name: `${DEFAULT_SUITE[0]!.name}#2` };
  const names = reportNames(repeat);
  t.is(names.name, `${DEFAULT_SUITE[0]!.name}_2`);
  t.is(names.kcidbPath, `pinlab.${names.name}`);
  t.regex(toKtap({ ...runOf([]), verdicts: [repeat] }), new RegExp(`^ok 1 ${names.name}$`, 'm'));
});
