// JUnit XML: valid against the Jenkins xUnit plugin's junit-10.xsd (vendored, see
// vendor/junit/NOTE.md; validated by libxml2's xmllint compiled to WebAssembly), well-formed
// (parsed back by a small strict XML reader below, not by pattern matching), counts right, and
// each status mapped as documented in harness/report/junit.ts.
import test, { type ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJUnit } from '../../harness/report/junit.js';
import { escapeAttr, escapeText } from '../../harness/report/xml.js';
import type { RunResult, Verdict } from '../../harness/verdict/types.js';
import { validateXML } from 'xmllint-wasm';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = JSON.parse(readFileSync(join(root, 'test/fixtures/report/recorded-small/run.json'), 'utf8')) as RunResult;
const junit10 = readFileSync(join(root, 'vendor/junit/junit-10.xsd'), 'utf8');

async function schemaErrors(xml: string): Promise<string[]> {
  const r = await validateXML({ xml: [{ fileName: 'junit.xml', contents: xml }], schema: [junit10] });
  return r.valid ? [] : r.errors.map((e) => e.rawMessage);
}

async function assertJunit10(t: ExecutionContext, xml: string): Promise<void> {
  t.deepEqual(await schemaErrors(xml), [], 'valid against junit-10.xsd');
}

interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
  text: string;
}

/** A strict reader for the XML subset reports use: prolog, elements, attributes, text, entities. */
function parseXml(xml: string): Element {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`${what} at offset ${i}: ${JSON.stringify(xml.slice(i, i + 30))}`);
  };
  const isNameChar = (c: string | undefined, first: boolean) => {
    if (c === undefined) return false;
    const lower = c >= 'a' && c <= 'z';
    const upper = c >= 'A' && c <= 'Z';
    const digit = c >= '0' && c <= '9';
    return lower || upper || c === '_' || c === ':' || (!first && (digit || c === '-' || c === '.'));
  };
  const checkChar = (c: string) => {
    const code = c.charCodeAt(0);
    if (code < 0x20 && c !== '\t' && c !== '\n' && c !== '\r') fail(`control character U+${code.toString(16)}`);
  };
  const name = () => {
    const start = i;
    if (!isNameChar(xml[i], true)) fail('expected a name');
    while (isNameChar(xml[i], false)) i++;
    return xml.slice(start, i);
  };
  const skipSpace = () => {
    while (xml[i] === ' ' || xml[i] === '\n' || xml[i] === '\t' || xml[i] === '\r') i++;
  };
  const entity = (): string => {
    const end = xml.indexOf(';', i);
    if (end < 0) fail('unterminated entity');
    const body = xml.slice(i + 1, end);
    i = end + 1;
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (body in named) return named[body]!;
    if (body.startsWith('#x')) return String.fromCodePoint(parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(parseInt(body.slice(1), 10));
    return fail(`unknown entity &${body};`);
  };
  const element = (): Element => {
    if (xml[i] !== '<') fail('expected <');
    i++;
    const el: Element = { name: name(), attrs: {}, children: [], text: '' };
    for (;;) {
      skipSpace();
      if (xml.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (xml[i] === '>') {
        i++;
        break;
      }
      const attr = name();
      if (attr in el.attrs) fail(`duplicate attribute ${attr}`);
      if (xml[i] !== '=' || xml[i + 1] !== '"') fail('expected ="');
      i += 2;
      let value = '';
      while (xml[i] !== '"') {
        if (i >= xml.length || xml[i] === '<') fail('bad attribute value');
        if (xml[i] === '&') value += entity();
        else {
          checkChar(xml[i]!);
          value += xml[i++];
        }
      }
      i++;
      el.attrs[attr] = value;
    }
    for (;;) {
      if (i >= xml.length) fail(`unclosed <${el.name}>`);
      if (xml.startsWith('</', i)) {
        i += 2;
        if (name() !== el.name) fail(`mismatched close of <${el.name}>`);
        skipSpace();
        if (xml[i] !== '>') fail('expected >');
        i++;
        return el;
      }
      if (xml[i] === '<') el.children.push(element());
      else if (xml[i] === '&') el.text += entity();
      else if (xml[i] === '>') fail('raw > in text is legal but we always escape it');
      else {
        checkChar(xml[i]!);
        el.text += xml[i++];
      }
    }
  };
  const prolog = '<?xml version="1.0" encoding="UTF-8"?>\n';
  if (!xml.startsWith(prolog)) fail('missing XML declaration');
  i = prolog.length;
  const rootEl = element();
  skipSpace();
  if (i !== xml.length) fail('content after the root element');
  return rootEl;
}

const child = (el: Element, name: string) => el.children.filter((c) => c.name === name);
const caseNamed = (suite: Element, classname: string, name: string) =>
  child(suite, 'testcase').find((c) => c.attrs['classname'] === classname && c.attrs['name'] === name)!;

test('JUnit output is valid against junit-10.xsd, well-formed, and carries every verdict', async (t) => {
  const xml = toJUnit(run);
  await assertJunit10(t, xml);
  const doc = parseXml(xml);
  t.is(doc.name, 'testsuites');
  // time: the workloads' I/O seconds (observation durationMs), summed
  t.deepEqual(doc.attrs, { name: 'pinlab', tests: '6', failures: '1', errors: '1', time: '1.554' });
  const [suite] = child(doc, 'testsuite');
  t.truthy(suite);
  // XFAIL counts as skipped: a <skipped> element for each
  t.like(suite!.attrs, { tests: '6', failures: '1', errors: '1', skipped: '3' });
  const cases = child(suite!, 'testcase');
  t.deepEqual(
    cases.map((c) => `${c.attrs['classname']} ${c.attrs['name']}`),
    ['pinlab.ext4 libaio.anon.efault-midway', 'pinlab.nvme-passthru passthru.anon', 'pinlab.raw-virtio psync.anon', 'pinlab.raw-virtio uring-fixed.anon', 'pinlab.raw-virtio uring-fixed.thp', 'pinlab.vfat psync.anon'],
  );
  t.true(cases.every((c) => child(c, 'properties').length === 0), 'no per-testcase properties (junit-10 has none)');
});

test('the vendored schema rejects what Jenkins rejects (it is really being applied)', async (t) => {
  const xml = toJUnit(run);
  const skippedOnRoot = xml.replace('<testsuites name="pinlab"', '<testsuites name="pinlab" skipped="2"');
  t.true((await schemaErrors(skippedOnRoot)).some((e) => /attribute 'skipped'/.test(e)));
  const caseProperties = xml.replace('<testcase classname="pinlab.raw-virtio" name="psync.anon" time="0.555">', '$&<properties><property name="a" value="b"/></properties>');
  t.true((await schemaErrors(caseProperties)).some((e) => /properties/.test(e)));
});

test('each status maps as documented', (t) => {
  const suite = child(parseXml(toJUnit(run)), 'testsuite')[0]!;
  const fail = caseNamed(suite, 'pinlab.ext4', 'libaio.anon.efault-midway');
  t.deepEqual(fail.children.map((c) => c.name), ['failure']);
  const failure = child(fail, 'failure')[0]!;
  const splatMessage = 'BUG: pinlab test splat while ext4.libaio.anon.efault-midway ran while it ran; the guest was replaced (BUG: pinlab test splat while ext4.libaio.anon.efault-midway ran on the console, runner silent for 15 s)';
  t.is(failure.attrs['message'], splatMessage, 'the verdict\'s message');
  t.is(failure.attrs['type'], 'kernel-splat', 'the reasons');
  t.true(failure.text.includes('] BUG: pinlab test splat while ext4.libaio.anon.efault-midway ran'), 'the splat as the console had it');

  const error = child(caseNamed(suite, 'pinlab.nvme-passthru', 'passthru.anon'), 'error')[0]!;
  t.like(error.attrs, { type: 'timeout', message: 'no result for nvme-passthru.passthru.anon within 20 s; the guest was replaced' });

  const skip = child(caseNamed(suite, 'pinlab.raw-virtio', 'uring-fixed.thp'), 'skipped')[0]!;
  const why = 'the thp buffer is not huge-page backed (AnonHugePages 0: THP disabled or no huge page available)';
  t.deepEqual(skip.attrs, { message: why });
  t.is(skip.text, why, 'the reason as text too');

  const pass = caseNamed(suite, 'pinlab.raw-virtio', 'uring-fixed.anon');
  t.deepEqual(pass.children.map((c) => c.name), ['system-out']);
  t.true(child(pass, 'system-out')[0]!.text.includes('acquired=512 released=512'));

  const xfail = caseNamed(suite, 'pinlab.vfat', 'psync.anon');
  t.deepEqual(xfail.children.map((c) => c.name), ['skipped']);
  const skipped = child(xfail, 'skipped')[0]!;
  t.like(skipped.attrs, { type: 'xfail', message: 'known state stock-6.1/dio-not-pinned: not-pinned: acquired 0, released 0, expected 512 [kprobe-hist evidence]; path: __blockdev_direct_IO [expected: stock-6.1/dio-not-pinned]' });
  t.true(skipped.text.startsWith('XFAIL: known state stock-6.1/dio-not-pinned: not-pinned\n'));
});

test('under --strict an XFAIL is a failure, so CI agrees with the exit code', async (t) => {
  const xml = toJUnit({ ...run, strict: true });
  await assertJunit10(t, xml);
  const suite = child(parseXml(xml), 'testsuite')[0]!;
  t.like(suite.attrs, { failures: '3', skipped: '1' });
  const failure = child(caseNamed(suite, 'pinlab.vfat', 'psync.anon'), 'failure')[0]!;
  t.is(failure.attrs['type'], 'not-pinned');
  t.regex(failure.attrs['message']!, /^not-pinned: acquired 0, released 0.*\(known state stock-6\.1\/dio-not-pinned, failing under --strict\)$/);
});

test('a matrix gives one testsuite per kernel and summed totals', async (t) => {
  const other: RunResult = { ...run, kernel: { ...run.kernel, profile: 'patched-6.1' } };
  const xml = toJUnit([run, other]);
  await assertJunit10(t, xml);
  const doc = parseXml(xml);
  t.deepEqual(child(doc, 'testsuite').map((s) => s.attrs['name']), ['pinlab stock-6.1 (6.1.192+)', 'pinlab patched-6.1 (6.1.192+)']);
  t.deepEqual(doc.attrs, { name: 'pinlab', tests: '12', failures: '2', errors: '2', time: '3.108' });
});

test('hostile text (control bytes, markup, long splats) and a failed build stay schema-valid', async (t) => {
  const nasty: Verdict = {
    ...run.verdicts.find((v) => v.status === 'FAIL')!,
    message: 'a<b>&c"d\'e\u0001\u0000 \ud800 ]]> end',
    splats: [{ kind: 'oops', title: 'Oops: <0000> [#1]', lines: Array.from({ length: 500 }, (_, i) => `line ${i} \u001b[0m <x> &amp;`) }],
  };
  await assertJunit10(t, toJUnit({ ...run, verdicts: [nasty] }));
  // a splat line with markup, quotes and a control byte reaches the failure text, escaped
  const callTrace = { ...nasty, splats: [{ kind: 'warning' as const, title: 'WARNING in f', lines: ['Call Trace: <TASK> & "quotes" \'apos\' \u0007bell'] }] };
  const suite = child(parseXml(toJUnit({ ...run, verdicts: [callTrace] })), 'testsuite')[0]!;
  t.true(child(caseNamed(suite, 'pinlab.ext4', 'libaio.anon.efault-midway'), 'failure')[0]!.text.includes('Call Trace: <TASK> & "quotes" \'apos\' \\x07bell'));
  const failed = run.verdicts.map((v): Verdict => ({ ...v, status: 'ERROR', cause: 'build', reasons: [], splats: [], message: 'make bzImage failed' }));
  await assertJunit10(t, toJUnit({ ...run, verdicts: failed }));
  await assertJunit10(t, toJUnit({ ...run, verdicts: [] }));
});

test('escaping round-trips every awkward character through the reader', (t) => {
  const nasty = 'a<b>&c"d\'e\nf\tg\u0001h\u0000i\ud800j ü €';
  const el = parseXml(`<?xml version="1.0" encoding="UTF-8"?>\n<x a="${escapeAttr(nasty)}">${escapeText(nasty)}</x>`);
  const expected = 'a<b>&c"d\'e\nf\tg\\x01h\\x00i\\xd800j ü €';
  t.is(el.attrs['a'], expected);
  t.is(el.text, expected);
});
