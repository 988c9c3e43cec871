import test from 'ava';
import { parseAptShow, parseImageName, seriesImages, type DebianImage } from '../../harness/kernel/debian-images.js';
import { changedVerdicts, firstChange, formatSweep, noResult, type SweepRow } from '../../harness/sweep.js';
import type { RunResult, Status } from '../../harness/verdict/types.js';

test('image names: series, ABI, flavour, signing; meta-packages and debug symbols are not images', (t) => {
  t.like(parseImageName('linux-image-6.1.0-57-rt-amd64-unsigned'), { series: '6.1', abi: 57, flavour: 'rt-amd64', signed: false });
  t.like(parseImageName('linux-image-6.12.117+deb12-cloud-amd64'), { series: '6.12', abi: 117, flavour: 'cloud-amd64', signed: true });
  t.like(parseImageName('linux-image-6.1.0-9-amd64'), { abi: 9, flavour: 'amd64' });
  t.is(parseImageName('linux-image-6.12-amd64'), undefined);
  t.is(parseImageName('linux-image-6.1.0-57-amd64-dbg'), undefined);
  t.is(parseImageName('linux-image-6.12-amd64-signed-template'), undefined);
});

test('apt-cache show stanzas give the first (candidate) version per package', (t) => {
  const m = parseAptShow('Package: a\nVersion: 2\nSize: 10\n\nPackage: a\nVersion: 1\n\nPackage: b\nVersion: 6.1.192-3\n');
  t.deepEqual(m.get('a'), { version: '2', sizeBytes: 10 });
  t.deepEqual(m.get('b'), { version: '6.1.192-3' });
});

test('a series sweeps its signed packages of one flavour, by ABI number, not by name', (t) => {
  const img = (pkg: string, version: string): DebianImage => ({ ...parseImageName(pkg)!, version });
  const all = [img('linux-image-6.1.0-9-amd64', '6.1.27-1'), img('linux-image-6.1.0-57-amd64', '6.1.192-3'), img('linux-image-6.1.0-10-amd64', '6.1.38-1'), img('linux-image-6.1.0-10-amd64-unsigned', '6.1.38-1'), img('linux-image-6.1.0-10-rt-amd64', '6.1.38-1')];
  t.deepEqual(seriesImages(all, '6.1').map((i) => i.abi), [9, 10, 57]);
});

function row(version: string, statuses: Record<string, Status>, series = '6.1'): SweepRow {
  const counts = { PASS: 0, FAIL: 0, XFAIL: 0, ERROR: 0, SKIP: 0 };
  for (const s of Object.values(statuses)) counts[s]++;
  return { image: { pkg: `linux-image-${version}`, version, series, flavour: 'amd64' }, runDir: '/r', counts, statuses };
}

test('the first change is the first version whose verdicts differ from the one before, within a series', (t) => {
  const rows = [
    row('1', { a: 'XFAIL', b: 'PASS' }),
    row('2', { a: 'XFAIL', b: 'PASS' }),
    row('3', { a: 'PASS', b: 'PASS' }),
    row('4', { a: 'PASS', b: 'PASS' }, '6.12'),
  ];
  t.deepEqual(changedVerdicts(rows[1]!, rows[2]!), ['a']);
  t.is(firstChange(rows), 2);
  t.is(firstChange([rows[0]!, rows[1]!, rows[3]!]), undefined);
  const table = formatSweep(rows);
  t.regex(table, /a XFAIL->PASS/);
  t.regex(table, /first change: linux-image-3=3 \(against 2\)/);
});

test('a row run a second time after an infrastructure failure says so, with the first failure', (t) => {
  const retried = { ...row('1', { a: 'PASS' }), retried: "boot failed (panic): IO-APIC + timer doesn't work!  Boot with apic=debug and send a report." };
  const table = formatSweep([retried, row('2', { a: 'PASS' })]);
  t.regex(table, /\(first\) \(second run; the first: boot failed \(panic\): IO-APIC \+ timer doesn't work! [^)]*…\)$/m);
  t.regex(formatSweep([row('1', { a: 'PASS' })]), /\(first\)$/m);
});

test('a row whose run failed for infrastructure is no change, and the next row is compared with the last one that ran', (t) => {
  const broken = { ...row('2', {}), infra: 'boot failed (panic)' };
  broken.counts.ERROR = 2;
  const rows = [row('1', { a: 'PASS', b: 'PASS' }), broken, row('3', { a: 'PASS', b: 'PASS' }), row('4', { a: 'PASS', b: 'FAIL' })];
  t.is(firstChange(rows), 3);
  const table = formatSweep(rows);
  t.regex(table, /^6\.1 +3 .* -$/m, 'compared with 1, not with the broken 2');
  t.regex(table, /first change: linux-image-4=4 \(against 3\)/);
  t.is(firstChange([broken, row('3', { a: 'PASS' })]), undefined, 'after only a broken row the next one is the first');
});

test('sweep --coverage: each row says how many pin-site functions ran and how many sites were in a function that ran; without it, no column', (t) => {
  const covered = { ...row('1', { a: 'PASS' }), coverage: { pinFunctions: { hit: 12, total: 26 }, sitesReached: 15, sites: 56 } };
  const table = formatSweep([covered, row('2', { a: 'PASS' })]);
  t.regex(table.split('\n')[0]!, /PIN-SITE FUNCTIONS RAN\s+SITES/);
  t.regex(table, /^6\.1\s+1 .* 12\/26\s+15\/56\s+\(first\)$/m);
  t.regex(table, /^6\.1\s+2 .* -\s+-\s+-$/m, 'a row without coverage (an infra failure) shows dashes');
  t.notRegex(formatSweep([row('1', { a: 'PASS' })]), /PIN-SITE/);
});

test('a run whose runner never answered is run once more; one with any result is not', (t) => {
  const v = (status: 'PASS' | 'ERROR' | 'SKIP', cause?: 'timeout' | 'guest') => ({ name: `w${status}${cause ?? ''}`, status, ...(cause ? { cause } : {}), message: 'the runner did not go on within 60 s' }) as RunResult['verdicts'][number];
  t.regex(noResult({ verdicts: [v('ERROR', 'timeout'), v('ERROR', 'timeout'), v('SKIP')] }) ?? '', /^no workload gave a result: the runner did not go on/);
  t.is(noResult({ verdicts: [v('ERROR', 'timeout'), v('PASS')] }), undefined);
  t.is(noResult({ verdicts: [v('ERROR', 'guest')] }), undefined, 'a guest error is a verdict on the kernel');
  t.is(noResult({ verdicts: [v('SKIP')] }), undefined);
});

test('the flavour shows beside the series when it is not the generic one', (t) => {
  const row = (flavour: string, w: Status) => ({ image: { pkg: `linux-image-6.1.0-57-${flavour}`, version: '6.1.192-3', series: '6.1', flavour }, runDir: '/r', counts: { PASS: 1, FAIL: 0, XFAIL: 0, ERROR: 0, SKIP: 0 }, statuses: { w } });
  const table = formatSweep([row('amd64', 'PASS'), row('cloud-amd64', 'FAIL')]);
  t.regex(table, /^6\.1 +6\.1\.192-3/m);
  t.regex(table, /^6\.1 cloud-amd64 +6\.1\.192-3/m);
  t.regex(table, /first change: none/, 'each flavour is compared with its own previous version only');
});
