import test from 'ava';
import { calibrationVerdicts, CONTROL_VERDICT, controlVerdict, evidenceHealth, formatEvidenceHealth } from '../../harness/verdict/calibration.js';
import { formatSummary } from '../../harness/report/terminal.js';
import type { PinEvidenceInfo } from '../../harness/workloads/types.js';
import type { RunResult, Verdict } from '../../harness/verdict/types.js';

const info: PinEvidenceInfo = {
  mechanism: 'kprobe-hist',
  probes: ['try_grab_folio', 'try_grab_folio_fast', 'folio_add_pin', 'gup_put_folio'],
  follPin: 1 << 19,
  agreed: ['gup_test-longterm', 'odirect-loop'],
  grabsCounted: 'on success',
  vmstatBlind: ['folio_add_pin'],
  calibration: [
    { source: 'io_uring-register', path: 'io_uring_register > pin_user_pages_fast; io_buffer_unmap > unpin_user_page', pages: 32, state: 'disagrees', acquired: 32, released: 0, vmstatAcquired: 32, vmstatReleased: 0 },
    { source: 'gup_test-longterm', path: 'gup_test', pages: 64, state: 'agrees', acquired: 64, released: 64 },
    { source: 'odirect-loop', path: 'loop', pages: 16, state: 'agrees', acquired: 16, released: 16 },
  ],
};

test('a source that did not add up is a FAIL verdict naming its path and numbers', (t) => {
  const [v, ...rest] = calibrationVerdicts(info);
  t.is(rest.length, 0);
  t.like(v, { name: 'calibration.io_uring-register', target: 'calibration', status: 'FAIL' });
  t.deepEqual(v!.reasons, ['pin-leak']);
  t.regex(v!.message, /pins and unpins 32 pages, the pin evidence counted 32 acquired \/ 0 released \(vmstat 32\/0\) with FOLL_PIN 0x80000 from gup_test-longterm, odirect-loop; path: io_uring_register/);
  t.deepEqual(v!.path, ['io_uring_register', 'pin_user_pages_fast', 'io_buffer_unmap', 'unpin_user_page']);
});

test('no calibration verdict when the evidence is off (no source added up: the instrument, not the kernel)', (t) => {
  t.deepEqual(calibrationVerdicts({ mechanism: 'none', unavailable: 'x', calibration: info.calibration }), []);
  t.deepEqual(calibrationVerdicts(undefined), []);
});

test('evidence health: agreed sources, findings, and what judged each workload; the terminal summary says it', (t) => {
  const w = (name: string, evidence: string): Verdict => ({ name, target: 'vfat', engine: 'psync', status: 'PASS', reasons: [], path: [], pinning: 'pinned', splats: [], message: '', numbers: { acquired: 1, released: 1, expectedPins: 1, background: 0, userPageOps: 1, bytes: 1, evidence } });
  const verdicts = [w('a', 'kprobe-hist'), w('b', 'kprobe-hist'), ...calibrationVerdicts(info)];
  const h = evidenceHealth(info, verdicts);
  t.deepEqual(h.agreed, ['gup_test-longterm', 'odirect-loop']);
  t.deepEqual(h.findings, ['io_uring-register']);
  t.deepEqual(h.judgedBy, { 'kprobe-hist': 2 });
  t.is(formatEvidenceHealth(h), 'pin evidence: kprobe-hist, FOLL_PIN 0x80000 from gup_test-longterm, odirect-loop; calibration finding: io_uring-register; pins judged: 2 on kprobe-hist');
  const off = evidenceHealth({ mechanism: 'none', unavailable: 'no kprobe events (CONFIG_KPROBE_EVENTS)', vmstatBlind: ['folio_add_pin'] }, [w('a', 'none'), w('b', 'vmstat')]);
  t.is(formatEvidenceHealth(off), 'pin evidence: unavailable (no kprobe events (CONFIG_KPROBE_EVENTS)); pins judged: 1 on none, 1 on vmstat');
  const result: RunResult = { schema: 'pinlab.run/1', runId: 'r', startedAt: '2026-12-05T00:00:00Z', kernel: { source: 'git:x', patches: [] }, host: { accel: 'tcg', node: 'v20' }, verdicts, strict: false, evidence: h };
  t.regex(formatSummary(result), /calibration\.io_uring-register .*FAIL[\s\S]*pin evidence: kprobe-hist, FOLL_PIN 0x80000/);
});

// the control of a real run (pinlab mutate, patched-6.1 with gup_put_folio's FOLL_PIN test
// removed: the release no longer unpins, gcc inlined gup_put_folio so the evidence had no release
// to probe, and every workload was ERROR harness: the bug had switched the instrument off)
const BROKEN_CONTROL = { ok: false, acquired: 256, released: 0, expected: 256, message: 'gup_test PIN benchmark: pin accounting does not add up: released 0 != acquired 256' };

test('a pin-accounting control that does not add up is a FAIL verdict about the kernel, with its numbers', (t) => {
  const v = controlVerdict(BROKEN_CONTROL);
  t.like(v, { name: CONTROL_VERDICT, target: 'calibration', status: 'FAIL', reasons: ['pin-leak'] });
  t.like(v!.numbers, { acquired: 256, released: 0, expectedPins: 256, evidence: 'vmstat' });
  t.regex(v!.message, /pins and unpins 256 pages .*vmstat counted 256 acquired \/ 0 released/);
  t.deepEqual(controlVerdict({ ...BROKEN_CONTROL, acquired: 256, released: 300 })!.reasons, ['over-released']);
});

test('no control verdict when the control added up, was skipped or did not run', (t) => {
  t.is(controlVerdict({ ok: true, acquired: 256, released: 256, expected: 256, message: 'ok' }), undefined);
  t.is(controlVerdict({ ...BROKEN_CONTROL, skipped: 'no gup_test' }), undefined);
  t.is(controlVerdict(undefined), undefined);
});
