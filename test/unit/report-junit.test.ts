// JUnit XML: well-formed (parsed back by a small strict XML reader below, not by pattern
// matching), counts right, and each status mapped as documented in harness/report/junit.ts.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJUnit } from '../../harness/report/junit.js';
import { escapeAttr, escapeText } from '../../harness/report/xml.js';
import type { RunResult } from '../../harness/verdict/types.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const run = JSON.parse(readFileSync(join(root, 'test/fixtures/report/run-small.json'), 'utf8')) as RunResult;

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
const props = (el: Element) =>
  Object.fromEntries(child(el, 'properties').flatMap((p) => child(p, 'property')).map((p) => [p.attrs['name'], p.attrs['value']]));

test('JUnit output is well-formed and carries every verdict', (t) => {
  const doc = parseXml(toJUnit(run));
  t.is(doc.name, 'testsuites');
  const [suite] = child(doc, 'testsuite');
  t.truthy(suite);
  t.like(suite!.attrs, { tests: '5', failures: '1', errors: '1', skipped: '1' });
  const cases = child(suite!, 'testcase');
  t.deepEqual(
    cases.map((c) => `${c.attrs['classname']} ${c.attrs['name']}`),
    ['pinlab.ext4 libaio/anon/efault-midway', 'pinlab.nvme-passthru passthru/anon', 'pinlab.raw-nvme uring-fixed/thp', 'pinlab.raw-virtio psync/anon', 'pinlab.vfat psync/anon'],
  );
});

test('each status maps as documented', (t) => {
  const suite = child(parseXml(toJUnit(run)), 'testsuite')[0]!;
  const byWorkload = new Map(child(suite, 'testcase').map((c) => [props(c)['workload'], c]));
  const fail = byWorkload.get('ext4.libaio.anon.efault-midway')!;
  t.is(child(fail, 'failure')[0]!.attrs['message'], 'pin-leak,kernel-splat');
  t.true(child(fail, 'failure')[0]!.text.includes('Call Trace: <TASK> & "quotes" \'apos\' \\x07bell'));
  t.like(props(fail), { acquired: '130', released: '128', expected: '128' });

  const error = byWorkload.get('nvme-passthru.passthru.anon')!;
  t.is(child(error, 'error')[0]!.attrs['type'], 'path-not-reached');

  const skip = byWorkload.get('raw-nvme.uring-fixed.thp')!;
  t.is(child(skip, 'skipped')[0]!.attrs['message'], 'kernel lacks CONFIG_IO_URING');

  const pass = byWorkload.get('raw-virtio.psync.anon')!;
  t.deepEqual(pass.children.map((c) => c.name), ['properties']);

  const xfail = byWorkload.get('vfat.psync.anon')!;
  t.deepEqual(xfail.children.map((c) => c.name), ['properties', 'system-out']);
  t.true(child(xfail, 'system-out')[0]!.text.startsWith('XFAIL: known state stock-6.1/dio-not-pinned'));
  t.is(props(xfail)['xfail'], 'stock-6.1/dio-not-pinned');
});

test('under --strict an XFAIL is a failure, so CI agrees with the exit code', (t) => {
  const suite = child(parseXml(toJUnit({ ...run, strict: true })), 'testsuite')[0]!;
  t.is(suite.attrs['failures'], '2');
  const xfail = child(suite, 'testcase').find((c) => props(c)['workload'] === 'vfat.psync.anon')!;
  t.is(child(xfail, 'failure')[0]!.attrs['type'], 'xfail-strict');
});

test('a matrix gives one testsuite per kernel and summed totals', (t) => {
  const other: RunResult = { ...run, kernel: { ...run.kernel, profile: 'patched-6.1' } };
  const doc = parseXml(toJUnit([run, other]));
  t.deepEqual(child(doc, 'testsuite').map((s) => s.attrs['name']), ['pinlab stock-6.1 (6.1.192-pinlab)', 'pinlab patched-6.1 (6.1.192-pinlab)']);
  t.like(doc.attrs, { tests: '10', failures: '2', errors: '2', skipped: '2' });
});

test('escaping round-trips every awkward character through the reader', (t) => {
  const nasty = 'a<b>&c"d\'e\nf\tg\u0001h\u0000i\ud800j ü €';
  const el = parseXml(`<?xml version="1.0" encoding="UTF-8"?>\n<x a="${escapeAttr(nasty)}">${escapeText(nasty)}</x>`);
  const expected = 'a<b>&c"d\'e\nf\tg\\x01h\\x00i\\xd800j ü €';
  t.is(el.attrs['a'], expected);
  t.is(el.text, expected);
});
