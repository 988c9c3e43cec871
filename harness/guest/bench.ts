// The addon side of `pinlab bench`, run in the guest like the workload runner:
//   node /pinlab/dist/harness/guest/bench.js < jobs.json  (protocol.ts: GuestBenchInput in, BenchEvent lines out)
// Reads {prefill?: {device, sizeBytes}, jobs: IoJob[]} on stdin; writes the prefill range once
// (so reads hit allocated blocks of the host file, not holes), then for each job reads the
// device with the addon's engine for the job's runtime and writes one JSON line:
// {type:'result', name, figures} or {type:'error', name, message}. Nothing else goes to stdout.
//
// IOPS are over wall time of the whole loop (the JS that builds each batch included), as fio
// counts its runtime; CPU time is this process's getrusage (user + system, all threads, which
// includes the addon's worker thread) over the same loop.
import { closeSync, constants, openSync, readFileSync, realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadAddon, type AlignedBuffer, type BatchResult, type IoOp, type PinlabAddon, type UniformOps } from '../workloads/addon.js';
import { eventLine, type GuestBenchInput, type IoFigures, type IoJob } from '../guest-runner/protocol.js';
import { quantiles } from '../bench/stats.js';

/** Batches aim at this long, so the queue drains (QD -> 0) between batches only rarely. */
const BATCH_TARGET_MS = 250;

/**
 * The next `count` ops of a job in the addon's uniform form: positions (random blocks, or the
 * sequential cursor) and one buffer slot per queue slot, so a batch costs a few typed-array
 * writes per op in JavaScript and a constant number of calls into it from C++.
 */
function batchOps(job: IoJob, count: number, buffer: AlignedBuffer, cursor: { pos: number }): UniformOps {
  const blocks = Math.floor(job.sizeBytes / job.blockSize);
  const positions = new Float64Array(count);
  const offsets = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    if (job.rw === 'randread') positions[i] = Math.floor(Math.random() * blocks) * job.blockSize;
    else {
      positions[i] = cursor.pos;
      cursor.pos = (cursor.pos + job.blockSize) % (blocks * job.blockSize);
    }
    offsets[i] = (i % job.queueDepth) * job.blockSize;
  }
  return { buffer, length: job.blockSize, positions, offsets };
}

function runBatch(addon: PinlabAddon, fd: number, job: IoJob, ops: UniformOps): Promise<BatchResult> {
  switch (job.engine) {
    case 'psync':
      return addon.syncBatch(fd, 'read', ops, { vectored: false });
    case 'libaio':
      return addon.aioBatch(fd, 'read', ops, { queueDepth: job.queueDepth });
    case 'uring':
      return addon.uringBatch(fd, 'read', ops, { queueDepth: job.queueDepth, vectored: false });
  }
}

export async function runJob(job: IoJob, addon: PinlabAddon = loadAddon()): Promise<IoFigures> {
  const fd = openSync(job.device, constants.O_RDONLY | constants.O_DIRECT);
  const buffer = new addon.AlignedBuffer(job.queueDepth * job.blockSize, { kind: 'anon' });
  try {
    const cursor = { pos: 0 };
    const latencies: Float64Array[] = [];
    let ios = 0;
    let batch = Math.max(16, job.queueDepth * 4);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const deadline = t0 + job.runtimeMs;
    while (performance.now() < deadline) {
      const b0 = performance.now();
      const r = await runBatch(addon, fd, job, batchOps(job, batch, buffer, cursor));
      const f = r.failures[0];
      if (f) throw new Error(`${job.name}: ${f.syscall} failed with ${f.code} (${r.failures.length} of ${batch} ops)`);
      ios += batch;
      latencies.push(r.latencyNs);
      const ms = performance.now() - b0;
      const next = ms > 0 ? Math.round((batch * BATCH_TARGET_MS) / ms) : batch * 2;
      batch = Math.min(16384, Math.max(job.queueDepth, Math.ceil(next / job.queueDepth) * job.queueDepth));
    }
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const all = new Float64Array(ios);
    let at = 0;
    for (const l of latencies) {
      all.set(l, at);
      at += l.length;
    }
    return {
      iops: (ios / wallMs) * 1000,
      ios,
      runtimeMs: wallMs,
      cpuUsPerIo: (cpu.user + cpu.system) / ios,
      latencyUs: quantiles(all).map((ns) => ns / 1000),
    };
  } finally {
    buffer.free();
    closeSync(fd);
  }
}

/** Sequential 1 MiB O_DIRECT writes over [0, sizeBytes). */
export async function prefill(device: string, sizeBytes: number, addon: PinlabAddon = loadAddon()): Promise<void> {
  const chunk = 1 << 20;
  const fd = openSync(device, constants.O_WRONLY | constants.O_DIRECT);
  const buffer = new addon.AlignedBuffer(chunk, { kind: 'anon' });
  try {
    buffer.fill(1, 0);
    const ops: IoOp[] = [];
    for (let pos = 0; pos < sizeBytes; pos += chunk) ops.push({ position: pos, segments: [{ buffer, offset: 0, length: Math.min(chunk, sizeBytes - pos) }] });
    const r = await addon.syncBatch(fd, 'write', ops);
    const f = r.failures[0];
    if (f) throw new Error(`prefill ${device}: ${f.syscall} failed with ${f.code}`);
  } finally {
    buffer.free();
    closeSync(fd);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The guest's current clocksource (sysfs). */
export const GUEST_CLOCKSOURCE = '/sys/devices/system/clocksource/clocksource0/current_clocksource';
const CLOCKSOURCE_WAIT_MS = 10_000;

/**
 * jiffies or refined-jiffies: every I/O timed in 1/HZ steps and each clock_gettime() a system
 * call, so latencies and CPU per I/O would both be wrong, for fio too (why a TCG guest can end
 * up there: harness/vm/clock.ts).
 */
export function isJiffies(clocksource: string): boolean {
  return /jiffies/.test(clocksource);
}

/**
 * The guest's clocksource, once it is not jiffies. The TSC clocksource registers about a
 * second after tsc_init, so it may still be coming.
 */
export async function settledClocksource(path = GUEST_CLOCKSOURCE, waitMs = CLOCKSOURCE_WAIT_MS): Promise<string> {
  const deadline = performance.now() + waitMs;
  for (;;) {
    const name = readFileSync(path, 'utf8').trim();
    if (!isJiffies(name)) return name;
    if (performance.now() > deadline) {
      throw new Error(`the guest clocksource is still ${name} after ${waitMs / 1000} s: latencies would be in 1/HZ steps (see harness/vm/clock.ts)`);
    }
    await sleep(100);
  }
}

export async function main(): Promise<number> {
  const input = JSON.parse(await readStdin()) as GuestBenchInput;
  try {
    process.stdout.write(eventLine({ type: 'clocksource', name: await settledClocksource() }));
  } catch (e) {
    process.stdout.write(eventLine({ type: 'error', name: '', message: e instanceof Error ? e.message : String(e) }));
    return 1;
  }
  if (input.prefill) await prefill(input.prefill.device, input.prefill.sizeBytes);
  let failed = 0;
  for (const job of input.jobs) {
    try {
      const figures = await runJob(job);
      process.stdout.write(eventLine({ type: 'result', name: job.name, figures }));
    } catch (e) {
      failed++;
      process.stdout.write(eventLine({ type: 'error', name: job.name, message: e instanceof Error ? e.message : String(e) }));
    }
  }
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === realpathSync(process.argv[1])) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stdout.write(eventLine({ type: 'error', name: '', message: `guest-bench crashed: ${e instanceof Error ? e.message : String(e)}` }));
      process.exitCode = 3;
    },
  );
}
