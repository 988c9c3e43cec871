// What a workload reports (WorkloadIO, less its duration): the engine's operations only, never
// the buffered helper's: their count, bytes, the user pages they spanned, the pages fixed-buffer
// registrations pinned, latencies, errors by errno and syscall, the huge-page backing.
import type { WorkloadIO } from './types.js';
import { latencyOf } from './latency.js';

export class Tally {
  ops = 0;
  bytes = 0;
  userPageOps = 0;
  fixedPins = 0;
  readonly latencies: number[] = [];
  engineNs = 0;
  /** thp buffers: huge-page-backed bytes of the least backed buffer (smaps.ts) */
  hugeBytes: number | undefined;
  readonly errors = new Map<string, { code: string; syscall: string; count: number }>();

  recordError(code: string, syscall: string): void {
    const key = `${code}\0${syscall}`;
    const e = this.errors.get(key);
    if (e) e.count++;
    else this.errors.set(key, { code, syscall, count: 1 });
  }

  result(verify: WorkloadIO['verify']): Omit<WorkloadIO, 'durationMs'> {
    const io: Omit<WorkloadIO, 'durationMs'> = {
      bytes: this.bytes,
      ops: this.ops,
      userPageOps: this.userPageOps,
      fixedPins: this.fixedPins,
      verify,
      errors: [...this.errors.values()],
    };
    const latency = latencyOf(this.latencies);
    if (latency) io.latency = latency;
    if (this.hugeBytes !== undefined) io.hugePageBytes = this.hugeBytes;
    if (this.engineNs > 0) io.iops = Math.round((this.ops / this.engineNs) * 1e9);
    return io;
  }
}
