// Report identities of workloads: every workload pinlab knows gets its own KCIDB test path and
// JUnit case, and a hardware variant's workloads carry the variant (pinlab.<hw>.<target>...).
import test from 'ava';
import { kcidbTestPath } from '../../harness/report/kcidb.js';
import { workloadParts } from '../../harness/report/common.js';
import { ALL_WORKLOADS } from '../../harness/workloads/catalogue.js';
import type { WorkloadSpec } from '../../harness/workloads/types.js';
import type { Verdict } from '../../harness/verdict/types.js';

const verdictOf = (spec: WorkloadSpec): Verdict =>
  ({ name: spec.name, target: spec.target, engine: spec.engine, status: 'PASS', reasons: [], path: [], pinning: 'pinned', splats: [], message: '', observation: { spec } }) as unknown as Verdict;

test('every workload has its own KCIDB test path (same-shaped workloads differ by their variant part)', (t) => {
  const paths = ALL_WORKLOADS.map((s) => kcidbTestPath(verdictOf(s)));
  const dup = paths.filter((p, i) => paths.indexOf(p) !== i);
  t.deepEqual(dup, []);
  const byName = new Map(ALL_WORKLOADS.map((s) => [s.name, kcidbTestPath(verdictOf(s))]));
  t.is(byName.get('raw-virtio.psyncv.anon.subpage'), 'pinlab.raw-virtio.psyncv.anon.subpage');
  t.is(byName.get('raw-virtio.psyncv.anon'), 'pinlab.raw-virtio.psyncv.anon');
  t.is(byName.get('raw-virtio.psync.anon.misaligned'), 'pinlab.raw-virtio.psync.anon.misaligned-offset');
});

test('a hardware variant workload: pinlab.<hw>.<target>.<engine>.<buffer>[.<fault>]', (t) => {
  const spec = ALL_WORKLOADS.find((s) => s.name === 'nvme-mdts.nvme-passthru.passthru.anon.over-limit')!;
  t.is(kcidbTestPath(verdictOf(spec)), 'pinlab.nvme-mdts.nvme-passthru.passthru.anon.over-limit');
  t.like(workloadParts(verdictOf(spec)), { hw: 'nvme-mdts', target: 'nvme-passthru', engine: 'passthru', buffer: 'anon', fault: 'over-limit' });
  t.is(workloadParts(verdictOf(spec)).variant, undefined);
});
