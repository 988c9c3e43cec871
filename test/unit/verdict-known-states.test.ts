import test from 'ava';
import { applyKnownStates, knownStatesFor } from '../../harness/verdict/known-states.js';
import type { KernelIdentity, Verdict } from '../../harness/verdict/types.js';

const stock61: KernelIdentity = { profile: 'stock-6.1', source: 'debian:linux-source-6.1=6.1.192-2', patches: [] };
const stock61Source: KernelIdentity = { source: 'debian:linux-source-6.1=6.1.192-2', patches: [] };
const patched61: KernelIdentity = { profile: 'patched-6.1', source: 'debian:linux-source-6.1=6.1.192-2', patches: [{ file: '0001-x.patch', sha256: 'ab' }] };
const stock612: KernelIdentity = { profile: 'stock-6.12', source: 'debian:linux-source-6.12=6.12.57-1', patches: [] };

function fail(name: string, reasons: Verdict['reasons']): Verdict {
  const [target, engine] = name.split('.');
  return { name, target: target!, engine: engine!, status: 'FAIL', reasons, path: [], pinning: 'not-pinned', splats: [], message: reasons.join(', ') };
}

test('stock-6.1 not-pinned becomes XFAIL with the known state named', (t) => {
  const [v] = applyKnownStates([fail('raw-virtio.psync.anon', ['not-pinned'])], stock61, false);
  t.is(v!.status, 'XFAIL');
  t.is(v!.knownState, 'stock-6.1/dio-not-pinned');
});

test('--strict keeps it a FAIL', (t) => {
  const [v] = applyKnownStates([fail('raw-virtio.psync.anon', ['not-pinned'])], stock61, true);
  t.is(v!.status, 'FAIL');
  t.regex(v!.message, /--strict/);
});

test('an unpatched 6.1 tree given by --source matches without a profile', (t) => {
  const [v] = applyKnownStates([fail('ext4.psync.anon', ['not-pinned'])], stock61Source, false);
  t.is(v!.status, 'XFAIL');
});

test('fork-data-loss is known only on the fork-race workloads', (t) => {
  const [fork, other] = applyKnownStates(
    [fail('raw-virtio.fork-race.anon', ['not-pinned', 'fork-data-loss']), fail('raw-virtio.psync.anon', ['not-pinned', 'fork-data-loss'])],
    stock61,
    false,
  );
  t.is(fork!.status, 'XFAIL');
  t.is(fork!.knownState, 'stock-6.1/dio-not-pinned, stock-6.1/fork-during-dio');
  t.is(other!.status, 'FAIL');
});

test('a reason outside the known state keeps the FAIL', (t) => {
  const [v] = applyKnownStates([fail('raw-virtio.psync.anon', ['not-pinned', 'kernel-splat'])], stock61, false);
  t.is(v!.status, 'FAIL');
  const [leak] = applyKnownStates([fail('raw-virtio.psync.anon', ['pin-leak'])], stock61, false);
  t.is(leak!.status, 'FAIL');
});

test('patched-6.1 and stock-6.12 have no known states', (t) => {
  t.deepEqual(knownStatesFor(patched61, 'raw-virtio.psync.anon'), []);
  t.deepEqual(knownStatesFor(stock612, 'raw-virtio.psync.anon'), []);
  const [v] = applyKnownStates([fail('raw-virtio.psync.anon', ['not-pinned'])], patched61, false);
  t.is(v!.status, 'FAIL');
});

test('PASS, ERROR and SKIP are left alone', (t) => {
  const pass: Verdict = { ...fail('a.b', []), status: 'PASS' };
  const error: Verdict = { ...fail('a.b', []), status: 'ERROR', cause: 'path-not-reached' };
  t.deepEqual(applyKnownStates([pass, error], stock61, false), [pass, error]);
});

test('no kernel identity forgives an over-release or a leak on fs/direct-io.c', (t) => {
  for (const kernel of [stock612, { source: 'git:/src/linux@0123abcd', patches: [] }, patched61]) {
    const out = applyKnownStates([fail('vfat.psync.anon', ['over-released']), fail('ext2.psync.anon', ['pin-leak'])], kernel, false);
    t.deepEqual(
      out.map((v) => v.status),
      ['FAIL', 'FAIL'],
      kernel.source,
    );
  }
});

test('a patch on a reference kernel makes it unprofiled: its failures are its own', (t) => {
  const patchedStock: KernelIdentity = { ...stock61, patches: [{ file: 'experiment.patch', sha256: 'cd' }] };
  const [np, fork] = applyKnownStates([fail('raw-virtio.psync.anon', ['not-pinned']), fail('raw-virtio.fork-race.anon', ['not-pinned', 'fork-data-loss'])], patchedStock, false);
  t.is(np!.status, 'FAIL');
  t.is(fork!.status, 'FAIL');
  t.deepEqual(knownStatesFor(patchedStock, 'raw-virtio.psync.anon'), []);
  t.deepEqual(knownStatesFor({ ...stock61Source, patches: [{ file: 'x.patch', sha256: 'ef' }] }, 'raw-virtio.psync.anon'), []);
});
