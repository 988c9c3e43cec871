// Function coverage of kernels without gcov: functions of the series' source, hits from the
// function tracer, and the same summary, tracefile and runner protocol as gcov coverage.
import test from 'ava';
import { ftraceCoverageData, planExtractSources, seriesOf, seriesSource, sourceFunctions, traceFunctionNames } from '../../harness/coverage/ftrace.js';
import { formatCoverageTable, runCoverage, summarizeCoverage, UNTRACEABLE } from '../../harness/coverage/summary.js';
import { lcovTracefile } from '../../harness/coverage/run-coverage.js';
import { mergeCoverage } from '../../harness/coverage/gcov.js';
import { parseRunnerInput, runnerInputText } from '../../harness/guest-runner/protocol.js';
import { makeSpec } from '../../harness/workloads/catalogue.js';

const GUP = `// SPDX
static int helper(int x)
{
	return x + 1;
}

static int gup_pte_range(unsigned long addr)
{
	struct folio *folio = try_grab_folio(page, 1, flags);
	if (!folio)
		return 0;
	gup_put_folio(folio, 1, flags);
	return 1;
}

static inline void inlined_one(void)
{
	unpin_user_page(page);
}

void undo_dev_pagemap(void)
{
	unpin_user_page(page);
}
`;
const sources = new Map([['mm/gup.c', GUP]]);
const functions = sourceFunctions(sources);

test('series and source package of a release', (t) => {
  t.is(seriesOf('6.1.0-57-amd64'), '6.1');
  t.is(seriesOf('6.12.118+'), '6.12');
  t.is(seriesOf('unknown'), undefined);
  t.deepEqual(seriesSource('6.12'), { pkg: 'linux-source-6.12', tarball: '/usr/src/linux-source-6.12.tar.xz' });
});

test('functions of a source: name and the lines of their braces; the trace list is the functions holding a pin site, each once', (t) => {
  t.deepEqual(functions.get('mm/gup.c'), [
    { name: 'helper', startLine: 3, endLine: 5 },
    { name: 'gup_pte_range', startLine: 8, endLine: 14 },
    { name: 'inlined_one', startLine: 17, endLine: 19 },
    { name: 'undo_dev_pagemap', startLine: 22, endLine: 24 },
  ]);
  t.deepEqual(traceFunctionNames(new Map([['mm/gup.c', GUP], ['mm/other.c', GUP]])), ['gup_pte_range', 'inlined_one', 'undo_dev_pagemap'], 'helper holds no pin site');
});

test('extraction: one pattern per directory under the tarball top directory, not matching across slashes', (t) => {
  const argv = planExtractSources('/usr/src/linux-source-6.1.tar.xz', '/d', ['fs/direct-io.c', 'fs/iomap/direct-io.c', 'mm/gup.c', 'mm/hugetlb.c']).argv;
  t.true(argv.includes('--no-wildcards-match-slash'));
  t.deepEqual(argv.slice(-3), ['linux-source-6.1/fs/*.c', 'linux-source-6.1/fs/iomap/*.c', 'linux-source-6.1/mm/*.c']);
});

test('a site counts as reached when its function ran; untraceable when the kernel cannot trace its function; reviewed reasons still apply', (t) => {
  // what the runner says the kernel can trace of the list it was given (inlined_one is inlined)
  const traceable = new Set(['gup_pte_range', 'undo_dev_pagemap']);
  const perWorkload = new Map([
    ['w1', ftraceCoverageData(['gup_pte_range'], traceable, functions)],
    ['w2', ftraceCoverageData([], traceable, functions)],
  ]);
  const total = mergeCoverage([...perWorkload.values()]);
  const s = summarizeCoverage(perWorkload, total, sources, 'ftrace');
  t.is(s.method, 'ftrace');
  t.deepEqual(s.files[0]!.functions, { hit: 1, total: 2 }, 'inlined_one is not traceable: not counted');
  t.deepEqual(s.files[0]!.lines, { hit: 0, total: 0 });
  const row = (id: string) => s.siteRows.find((r) => r.id === id)!;
  t.like(row('mm/gup.c:gup_pte_range:try_grab_folio'), { reached: true, workloads: ['w1'] });
  t.like(row('mm/gup.c:gup_pte_range:gup_put_folio'), { reached: true });
  t.like(row('mm/gup.c:inlined_one:unpin_user_page'), { reached: false, untraceable: UNTRACEABLE });
  t.true(row('mm/gup.c:undo_dev_pagemap:unpin_user_page').unreachable!.includes('ZONE_DEVICE'));
  t.deepEqual(s.sites, { total: 4, reached: 2, unreachable: 1, notReached: 0, untraceable: 1 });
  t.deepEqual(s.pinFunctions, { hit: 1, total: 2 });
  const table = formatCoverageTable(runCoverage(s, { tracefile: 'coverage/pinlab.info' }));
  t.regex(table, /function level, from the function tracer/);
  t.regex(table, /PIN-SITE FUNCTIONS/);
  t.regex(table, /mm\/gup\.c\s+-\s+1\/2 50\.0%\s+-/);
});

test('a traced function no workload ran is a gap, named like a gcov gap', (t) => {
  const traceable = new Set(['gup_pte_range']);
  const perWorkload = new Map([['w1', ftraceCoverageData([], traceable, functions)]]);
  const s = summarizeCoverage(perWorkload, mergeCoverage([...perWorkload.values()]), sources, 'ftrace');
  t.deepEqual(runCoverage(s, { tracefile: 'x' }).notReached, ['mm/gup.c:gup_pte_range:try_grab_folio', 'mm/gup.c:gup_pte_range:gup_put_folio']);
});

test('the tracefile of function coverage has each function entry as its line, for genhtml', (t) => {
  const data = ftraceCoverageData(['gup_pte_range'], new Set(['helper', 'gup_pte_range']), functions);
  const info = lcovTracefile(data);
  t.regex(info, /FN:8,gup_pte_range\nFNDA:0,helper\nFNDA:1,gup_pte_range/);
  t.regex(info, /DA:3,0\nDA:8,1\nLF:2\nLH:1/);
});

test('runner input: a plain array is the workloads alone; an object carries the functions to trace', (t) => {
  const workloads = [makeSpec({ target: 'raw-virtio', engine: 'psync' })];
  t.deepEqual(parseRunnerInput(runnerInputText({ workloads })), { workloads });
  t.true(runnerInputText({ workloads }).startsWith('['), 'the old form, for a runner that predates function coverage');
  t.deepEqual(parseRunnerInput(runnerInputText({ workloads, traceFunctions: ['gup_pte_range'] })), { workloads, traceFunctions: ['gup_pte_range'] });
  t.throws(() => parseRunnerInput('{"specs": []}'), { message: /expected a JSON array/ });
});

test('function coverage of a release whose series cannot be told is a host error, not a crash (the run goes on uncovered)', async (t) => {
  const { prepareFunctionCoverage } = await import('../../harness/coverage/run-coverage.js');
  const { createContext } = await import('../../harness/context.js');
  const { HostError } = await import('../../harness/errors.js');
  await t.throwsAsync(prepareFunctionCoverage('weird-release', '/nonexistent', createContext()), { instanceOf: HostError, message: /cannot tell the series of kernel release 'weird-release'/ });
});

test('a gcov table splits the unreachable sites into those compiled out of the build and the reviewed rest, as a share of the sites built', (t) => {
  const r = (hit: number, total: number) => ({ hit, total });
  const base = { method: 'gcov' as const, files: [], total: { lines: r(0, 0), functions: r(0, 0), branches: r(0, 0) }, pinFunctionLines: r(9, 10), notReached: [], tracefile: 'x' };
  const table = formatCoverageTable({ ...base, sites: { total: 80, reached: 66, unreachable: 14, notReached: 0, compiledOut: 7 } });
  t.regex(table, /66\/80 reached, 14 unreachable \(7 compiled out of this build, 7 reviewed: harness\/coverage\/unreachable\.ts, 7\/73 9\.6% of the 73 sites built\)/);
  // a run saved before the split says what it can
  const old = formatCoverageTable({ ...base, sites: { total: 80, reached: 66, unreachable: 14, notReached: 0 } });
  t.regex(old, /14 unreachable \(compiled out, or reviewed: harness\/coverage\/unreachable\.ts\)/);
});
