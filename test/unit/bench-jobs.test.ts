import test from 'ava';
import { benchJobs, fioArgv, parseFioJson } from '../../harness/bench/jobs.js';
import { LATENCY_PERCENTILES } from '../../harness/bench/stats.js';
import { runJob, settledClocksource } from '../../harness/guest/bench.js';
import type { PinlabAddon, UniformOps } from '../../harness/workloads/addon.js';
import { constants, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testTempDir } from '../tmp.js';

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

test('fioArgv: the fio command line of a job', (t) => {
  const job = benchJobs({ runtimeMs: 2000, sizeBytes: 1 << 20, device: '/dev/x' }).find((j) => j.name === 'uring.4k-randread-qd32')!;
  t.deepEqual(fioArgv(job), [
    'fio', '--output-format=json', '--name=uring.4k-randread-qd32', '--filename=/dev/x', '--ioengine=io_uring', '--direct=1',
    '--rw=randread', '--bs=4096', '--iodepth=32', '--size=1048576', '--time_based=1', '--runtime=2', '--norandommap=1',
    '--randrepeat=0', `--percentile_list=${LATENCY_PERCENTILES.join(':')}`,
  ]);
});

/** The job fio's argv describes, in fio's own terms. */
function fioJob(argv: string[]): Record<string, string> {
  return Object.fromEntries(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=') as [string, string]));
}

/**
 * The job the addon side (guest/bench.ts runJob) ran, in fio's terms, observed through a fake
 * addon that records every batch: which engine call, the fd's file and flags, op length, queue
 * depth, the positions (random or sequential, within size), and how long it kept submitting.
 */
async function addonJob(job: ReturnType<typeof benchJobs>[number]): Promise<Record<string, string>> {
  const seen = { engine: new Set<string>(), dir: new Set<string>(), lengths: new Set<number>(), depths: new Set<number>(), files: new Set<string>(), direct: new Set<boolean>(), positions: [] as number[], starts: [] as number[], ends: [] as number[] };
  const batch = (engine: string) => async (fd: number, dir: string, ops: UniformOps, o?: { queueDepth?: number }) => {
    seen.starts.push(performance.now());
    seen.engine.add(engine);
    seen.dir.add(dir);
    seen.lengths.add(ops.length);
    seen.depths.add(o?.queueDepth ?? 1);
    seen.files.add(readlinkSync(`/proc/self/fd/${fd}`));
    const flags = parseInt(/^flags:\s+(\d+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!, 8);
    seen.direct.add((flags & constants.O_DIRECT) !== 0);
    if (seen.positions.length < 4096) seen.positions.push(...ops.positions);
    await new Promise((r) => setTimeout(r, 5));
    seen.ends.push(performance.now());
    return { results: new Float64Array(ops.positions.length).fill(ops.length), latencyNs: new Float64Array(ops.positions.length).fill(1000), elapsedNs: 0, failures: [] };
  };
  const fake = {
    AlignedBuffer: class {
      constructor(readonly size: number) {}
      free(): void {}
    },
    syncBatch: batch('psync'),
    aioBatch: batch('libaio'),
    uringBatch: batch('io_uring'),
  } as unknown as PinlabAddon;
  const t0 = performance.now();
  await runJob(job, fake);
  const ms = performance.now() - t0;
  // time-based for runtimeMs: every batch but the last returned within runtimeMs of the first
  // one's start (runJob went on only before its deadline) and it stopped no earlier; a slow
  // shared host delays the checks, not these two facts (the wall time rounded to seconds read
  // 2 s for 1 s under load, and the last batch's start can lag the deadline check)
  const first = seen.starts[0]!;
  const last = seen.ends.at(-2) ?? first;
  const timeBased = last - first < job.runtimeMs && ms >= job.runtimeMs;
  const one = <T>(set: Set<T>, what: string): T => {
    if (set.size !== 1) throw new Error(`${job.name}: ${what} varied: ${[...set].join(', ')}`);
    return [...set][0]!;
  };
  const p = seen.positions;
  const sequential = p.every((x, i) => i === 0 || x === (p[i - 1]! + job.blockSize) % job.sizeBytes);
  return {
    'output-format': 'json',
    name: job.name,
    filename: one(seen.files, 'the file'),
    ioengine: one(seen.engine, 'the engine'),
    direct: one(seen.direct, 'O_DIRECT') ? '1' : '0',
    rw: one(seen.dir, 'the direction') === 'read' ? (sequential ? 'read' : 'randread') : 'write',
    bs: String(one(seen.lengths, 'the op length')),
    iodepth: String(one(seen.depths, 'the queue depth')),
    size: String(Math.max(...p) + job.blockSize <= job.sizeBytes && Math.min(...p) >= 0 ? job.sizeBytes : Math.max(...p) + job.blockSize),
    time_based: '1',
    runtime: timeBased ? String(job.runtimeMs / 1000) : `${Math.round(ms)} ms (batches from ${Math.round(first - t0)} ms, the last but one back at ${Math.round(last - t0)} ms)`,
    norandommap: '1',
    randrepeat: '0',
    percentile_list: LATENCY_PERCENTILES.join(':'),
  };
}

test('fioArgv describes the same job as the addon side (runJob with a fake addon)', async (t) => {
  // one job per engine, each shape once; the device is a file runJob opens O_DIRECT, never read
  const device = join(testTempDir('pinlab-benchjob-'), 'disk');
  writeFileSync(device, Buffer.alloc(1 << 20));
  const jobs = benchJobs({ runtimeMs: 1000, sizeBytes: 1 << 20, device }).filter((j) =>
    ['psync.4k-randread-qd1', 'libaio.128k-read-qd8', 'uring.4k-randread-qd32'].includes(j.name),
  );
  t.is(jobs.length, 3);
  for (const job of jobs) t.deepEqual(await addonJob(job), fioJob(fioArgv(job)), job.name);
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
