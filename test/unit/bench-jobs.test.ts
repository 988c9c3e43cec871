import test from 'ava';
import { benchJobs, fioArgv, parseFioJson } from '../../harness/bench/jobs.js';
import { LATENCY_PERCENTILES } from '../../harness/bench/stats.js';
import { settledClocksource } from '../../harness/guest/bench.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('benchJobs: three shapes for each of psync, libaio, io_uring; psync stays at depth 1', (t) => {
  const jobs = benchJobs({ runtimeMs: 3000 });
  t.is(jobs.length, 9);
  t.deepEqual(
    jobs.map((j) => `${j.name}@${j.queueDepth}`),
    [
      'psync.4k-randread-qd1@1', 'psync.4k-randread-qd32@1', 'psync.128k-read-qd8@1',
      'libaio.4k-randread-qd1@1', 'libaio.4k-randread-qd32@32', 'libaio.128k-read-qd8@8',
      'uring.4k-randread-qd1@1', 'uring.4k-randread-qd32@32', 'uring.128k-read-qd8@8',
    ],
  );
  t.true(jobs.every((j) => j.device === '/dev/pinlab/raw-virtio' && j.runtimeMs === 3000));
});

test('fioArgv describes the same job as the addon side', (t) => {
  const job = benchJobs({ runtimeMs: 2000, sizeBytes: 1 << 20, device: '/dev/x' }).find((j) => j.name === 'uring.4k-randread-qd32')!;
  t.deepEqual(fioArgv(job), [
    'fio', '--output-format=json', '--name=uring.4k-randread-qd32', '--filename=/dev/x', '--ioengine=io_uring', '--direct=1',
    '--rw=randread', '--bs=4096', '--iodepth=32', '--size=1048576', '--time_based=1', '--runtime=2', '--norandommap=1',
    '--randrepeat=0', `--percentile_list=${LATENCY_PERCENTILES.join(':')}`,
  ]);
});

const FIO_OUTPUT = `fio: note: both iodepth >= 1 and synchronous I/O engine are selected, queue depth will be capped at 1
{
  "fio version" : "fio-3.33",
  "jobs" : [
    {
      "jobname" : "psync.4k-randread-qd1",
      "error" : 0,
      "job_runtime" : 3001,
      "usr_cpu" : 10.0,
      "sys_cpu" : 30.0,
      "read" : {
        "io_bytes" : 49152000,
        "iops" : 4000.5,
        "runtime" : 3000,
        "total_ios" : 12000,
        "clat_ns" : {
          "min" : 100000,
          "percentile" : { "1.000000" : 120000, "50.000000" : 240000, "99.900000" : 1800000 }
        }
      }
    }
  ]
}
`;

test('parseFioJson skips fio notes, reads IOPS, CPU per I/O and latency percentiles', (t) => {
  const f = parseFioJson(FIO_OUTPUT, [1, 50, 99.9, 99]);
  t.is(f.iops, 4000.5);
  t.is(f.ios, 12000);
  t.is(f.runtimeMs, 3000);
  t.is(f.cpuUsPerIo, 100); // 40% of 3 s = 1.2 s over 12000 I/Os
  t.deepEqual(f.latencyUs.slice(0, 3), [120, 240, 1800]);
  t.true(Number.isNaN(f.latencyUs[3]));
});

test('parseFioJson rejects failed jobs and text without JSON', (t) => {
  t.throws(() => parseFioJson('fio: failed to open /dev/x'), { message: /no JSON/ });
  t.throws(() => parseFioJson('{"jobs":[{"jobname":"j","error":5}]}'), { message: /failed with error 5/ });
  t.throws(() => parseFioJson('{"jobs":[{"jobname":"j","error":0,"read":{"total_ios":0}}]}'), { message: /did no reads/ });
});

test('settledClocksource: a real clocksource at once; jiffies is waited out, then refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-cs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'current_clocksource');
  writeFileSync(file, 'tsc\n');
  t.is(await settledClocksource(file, 0), 'tsc');
  writeFileSync(file, 'refined-jiffies\n');
  await t.throwsAsync(settledClocksource(file, 150), { message: /still refined-jiffies after 0.15 s: latencies would be in 1\/HZ steps/ });
  // the TSC registering while we wait
  setTimeout(() => writeFileSync(file, 'tsc\n'), 120);
  t.is(await settledClocksource(file, 2000), 'tsc');
});
