import test from 'ava';
import { decadeTicks, renderLatencyCdf } from '../../harness/bench/svg.js';
import { fioPair, formatBenchTable, formatColumns, pinnedRow, timedFigure, type BenchResult } from '../../harness/bench/report.js';
import { parseOnly } from '../../harness/bench/bench.js';

test('timedFigure judges the median against the goal', (t) => {
  const f = timedFigure({ figure: 'boot', label: 'boot', profile: 'p', unit: 'ms', samples: [2500, 3500, 2900], goalMs: 3000 });
  t.deepEqual(f.summary, { n: 3, min: 2500, median: 2900, max: 3500 });
  t.true(f.met);
  t.false(timedFigure({ figure: 'boot', label: 'boot', profile: 'p', unit: 'ms', samples: [3100], goalMs: 3000 }).met);
  t.is(timedFigure({ figure: 'x', label: 'x', profile: 'p', unit: 'ms', samples: [] }).summary, undefined);
});

test('fioPair ratio is addon/fio per repeat, goal on the median', (t) => {
  const p = fioPair({ job: 'j', fioIops: [1000, 1000, 1000], addonIops: [900, 960, 1000], fioCpuUsPerIo: [], addonCpuUsPerIo: [] });
  t.deepEqual(p.ratio, { n: 3, min: 0.9, median: 0.96, max: 1 });
  t.true(p.met);
});

function sample(): BenchResult {
  const side = (iops: number[]) => ({ iops, cpuUsPerIo: [10, 11, 12], latencyUs: [100, 200] });
  return {
    schema: 'pinlab.bench/2',
    startedAt: '2026-11-25T00:00:00.000Z',
    finishedAt: '2026-11-25T00:10:00.000Z',
    command: 'pinlab bench --repeat 3',
    host: { cpus: 2, loadavgStart: [1, 1, 1], loadavgEnd: [1.5, 1, 1], node: 'v20', accel: 'tcg' },
    repeat: 3,
    runtimeS: 3,
    percentiles: [50, 99],
    timings: [timedFigure({ figure: 'boot', label: 'boot to ready (tcg)', profile: 'patched-6.1', unit: 'ms', samples: [2800, 2900, 3100], goalMs: 3000 })],
    fio: { profile: 'patched-6.1', device: '/dev/pinlab/raw-virtio', goalRatio: 0.95, pairs: [fioPair({ job: 'psync.4k-randread-qd1', fioIops: [1000, 1010, 990], addonIops: [980, 1000, 1000], fioCpuUsPerIo: [20], addonCpuUsPerIo: [25] })] },
    pinned: {
      a: 'patched-6.1',
      b: 'stock-6.1',
      device: '/dev/pinlab/raw-virtio',
      resolvePct: 5,
      rows: [pinnedRow('psync.4k-randread-qd1', side([990, 1000, 1010]), side([1000, 1005, 995]), ['patched-6.1', 'stock-6.1'])],
    },
    skipped: [],
    errors: [],
  };
}

test('formatBenchTable shows every figure with min/median/max, goals and the noise verdict', (t) => {
  const text = formatBenchTable(sample());
  t.regex(text, /boot to ready \(tcg\)\s+patched-6\.1\s+3\s+2\.80s\s+2\.90s\s+3\.10s\s+<= 3\.00s\s+yes/);
  t.regex(text, /psync\.4k-randread-qd1\s+990\/1000\/1010\s+980\/1000\/1000\s+0\.98\/0\.99\/1\.01\s+yes/);
  t.regex(text, /psync\.4k-randread-qd1\s+3\+3\s+990\/1000\/1010\s+995\/1000\/1005\s+\+0\.0% \[-1\.5%, \+1\.5%\] p=1\.000: 3\+3 repeats reach 90% at most: no verdict\s+0\.50/);
  t.regex(text, /verdict: no IOPS difference between patched-6\.1 and stock-6\.1 is significant \(p < 0\.05\); 1 of 1 jobs do not resolve \+-5%: psync\.4k-randread-qd1/);
  t.regex(text, /host: 2 cpus, tcg/);
});

test('a repeat lost to a hung guest command: NaN keeps repeats paired, the table names the failure', (t) => {
  const r = sample();
  r.fio!.pairs = [
    fioPair({
      job: 'uring.128k-read-qd8',
      fioIops: [1000, NaN, 1200],
      addonIops: [1100, NaN, 1080],
      fioCpuUsPerIo: [20, NaN, 22],
      addonCpuUsPerIo: [18, NaN, 19],
      failures: ["repeat 2: guest command 'node x' did not finish within 153 s (/r/vm1/console.log)"],
    }),
  ];
  t.deepEqual(r.fio!.pairs[0]!.ratio, { n: 2, min: 0.9, median: 1, max: 1.1 });
  const text = formatBenchTable(r);
  t.regex(text, /uring\.128k-read-qd8\s+1000\/1100\/1200\s+1080\/1090\/1100\s+0\.90\/1\.00\/1\.10\s+yes/);
  t.regex(text, /  uring\.128k-read-qd8: repeat 2: guest command 'node x' did not finish within 153 s \(\/r\/vm1\/console\.log\)/);
});

test('formatColumns pads every column but the last', (t) => {
  t.is(formatColumns([['a', 'bb', 'c'], ['ccc', 'd', 'e']]), 'a    bb  c\nccc  d   e');
});

test('renderLatencyCdf draws one polyline per series per panel, on decade ticks', (t) => {
  t.deepEqual(decadeTicks(150, 2500), [100, 1000, 10000]);
  const svg = renderLatencyCdf(
    [
      { title: 'job <1>', series: [{ label: 'pinned', color: '#00f', percentiles: [1, 50, 99], latencyUs: [100, 200, 900] }, { label: 'stock', color: '#f80', dashed: true, percentiles: [1, 50, 99], latencyUs: [110, 210, NaN] }] },
      { title: 'job 2', series: [{ label: 'pinned', color: '#00f', percentiles: [50], latencyUs: [50] }] },
    ],
    { title: 'CDF' },
  );
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  t.true(svg.trimEnd().endsWith('</svg>'));
  t.is(svg.match(/<polyline /g)?.length, 3);
  t.true(svg.includes('job &lt;1&gt;'));
  t.true(svg.includes('stroke-dasharray'));
  t.false(svg.includes('NaN'));
});

test('parseOnly accepts a subset of the figures and rejects the rest', (t) => {
  t.deepEqual(parseOnly('fio,boot'), ['boot', 'fio']);
  t.deepEqual(parseOnly(undefined), ['boot', 'edit', 'suite', 'fio', 'pinned']);
  // fresh (a cold import and build per repeat) runs only when named
  t.deepEqual(parseOnly('fresh,boot'), ['boot', 'fresh']);
  t.deepEqual(parseOnly('coverage'), ['coverage']);
  t.false(parseOnly().includes('coverage'), 'two suites per repeat: only when named');
  t.throws(() => parseOnly('boot,nope'), { message: /--only boot,nope/ });
});
