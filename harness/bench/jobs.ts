// The I/O jobs `pinlab bench` runs both with fio and with the addon (harness/guest/bench.ts), and the
// fio argv and JSON parsing. Pure: the same job description drives both sides, so size,
// block size, queue depth, device and runtime cannot drift apart.
import type { BenchEngine, BenchRw, IoFigures, IoJob } from '../guest-runner/protocol.js';
import { LATENCY_PERCENTILES } from './stats.js';

export type { BenchEngine, BenchRw, IoFigures, IoJob };

export const BENCH_ENGINES: readonly BenchEngine[] = ['psync', 'libaio', 'uring'];

const SHAPES: readonly { label: string; rw: BenchRw; blockSize: number; queueDepth: number }[] = [
  { label: '4k-randread-qd1', rw: 'randread', blockSize: 4096, queueDepth: 1 },
  { label: '4k-randread-qd32', rw: 'randread', blockSize: 4096, queueDepth: 32 },
  { label: '128k-read-qd8', rw: 'read', blockSize: 128 * 1024, queueDepth: 8 },
];

export const DEFAULT_BENCH_DEVICE = '/dev/pinlab/raw-virtio';
export const DEFAULT_BENCH_SIZE = 64 * 1024 * 1024;

/** Every shape for every engine. psync is synchronous: its queue depth is 1 whatever is asked (fio ignores iodepth for it too). */
export function benchJobs(opts: { runtimeMs: number; sizeBytes?: number; device?: string }): IoJob[] {
  return BENCH_ENGINES.flatMap((engine) =>
    SHAPES.map((s) => ({
      name: `${engine}.${s.label}`,
      engine,
      rw: s.rw,
      blockSize: s.blockSize,
      queueDepth: engine === 'psync' ? 1 : s.queueDepth,
      sizeBytes: opts.sizeBytes ?? DEFAULT_BENCH_SIZE,
      runtimeMs: opts.runtimeMs,
      device: opts.device ?? DEFAULT_BENCH_DEVICE,
    })),
  );
}

const FIO_ENGINE: Record<BenchEngine, string> = { psync: 'psync', libaio: 'libaio', uring: 'io_uring' };

/** fio's command line for a job: one process, O_DIRECT, time based, JSON output. */
export function fioArgv(job: IoJob): string[] {
  return [
    'fio',
    '--output-format=json',
    `--name=${job.name}`,
    `--filename=${job.device}`,
    `--ioengine=${FIO_ENGINE[job.engine]}`,
    '--direct=1',
    `--rw=${job.rw}`,
    `--bs=${job.blockSize}`,
    `--iodepth=${job.queueDepth}`,
    `--size=${job.sizeBytes}`,
    '--time_based=1',
    `--runtime=${Math.max(1, Math.round(job.runtimeMs / 1000))}`,
    '--norandommap=1',
    '--randrepeat=0',
    `--percentile_list=${LATENCY_PERCENTILES.join(':')}`,
  ];
}

interface FioJobJson {
  jobname?: string;
  error?: number;
  usr_cpu?: number;
  sys_cpu?: number;
  job_runtime?: number;
  read?: { iops?: number; total_ios?: number; runtime?: number; clat_ns?: { percentile?: Record<string, number> } };
}

/**
 * fio --output-format=json -> the read side's figures. fio may print notes before the JSON
 * (e.g. "fio: ... ignoring"), so parsing starts at the first '{'.
 */
export function parseFioJson(text: string, percentiles: readonly number[] = LATENCY_PERCENTILES): IoFigures {
  const start = text.indexOf('{');
  if (start < 0) throw new Error(`fio printed no JSON: ${text.trim().slice(0, 200)}`);
  const doc = JSON.parse(text.slice(start)) as { jobs?: FioJobJson[] };
  const job = doc.jobs?.[0];
  if (!job) throw new Error('fio JSON has no jobs');
  if (job.error) throw new Error(`fio job ${job.jobname ?? '?'} failed with error ${job.error}`);
  const read = job.read;
  if (!read || !read.total_ios) throw new Error(`fio job ${job.jobname ?? '?'} did no reads`);
  const runtimeMs = read.runtime ?? job.job_runtime ?? 0;
  const cpuPct = (job.usr_cpu ?? 0) + (job.sys_cpu ?? 0);
  const pct = read.clat_ns?.percentile ?? {};
  const byP = new Map(Object.entries(pct).map(([k, v]) => [Number(k), v]));
  const latencyUs = percentiles.map((p) => {
    const v = byP.get(p) ?? [...byP.entries()].find(([k]) => Math.abs(k - p) < 1e-6)?.[1];
    return v === undefined ? NaN : v / 1000;
  });
  return {
    iops: read.iops ?? (runtimeMs > 0 ? (read.total_ios / runtimeMs) * 1000 : 0),
    ios: read.total_ios,
    runtimeMs,
    cpuUsPerIo: ((cpuPct / 100) * runtimeMs * 1000) / read.total_ios,
    latencyUs,
  };
}
