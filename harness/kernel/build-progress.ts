// How far a kernel build is: the objects make has compiled (its "  CC      path.o" lines) against
// the objects the same configuration needed the last time it was built from scratch (kept in
// the cache), or, the first time, an estimate from the configuration's size; and the time left
// at the rate so far.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths } from '../config.js';
import { formatDuration } from '../report/terminal.js';

const OBJECT_LINE = /^\s+(?:CC|AS)(?:\s+\[M\])?\s+\S+\.o$/;
/** Objects per built-in option (=y): the cold patched-6.1 build compiles 1204 objects for 688. */
const OBJECTS_PER_OPTION = 1.75;
/** Below this share of the expected objects the build is taken as incremental: no time left is shown. */
const MIN_SHARE_FOR_ETA = 0.05;

function recordFile(configSha256: string): string {
  return join(paths.kernels(), 'build-objects', `${configSha256}.json`);
}

/** The objects a build of this configuration needed before, when one was counted. */
export function recordedObjects(configSha256: string): number | undefined {
  const file = recordFile(configSha256);
  if (!existsSync(file)) return undefined;
  try {
    const n = (JSON.parse(readFileSync(file, 'utf8')) as { objects?: unknown }).objects;
    return typeof n === 'number' && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Keep the count of a build: the largest one seen (an incremental build compiles a few). */
export function recordObjects(configSha256: string, objects: number): void {
  if (objects <= (recordedObjects(configSha256) ?? 0)) return;
  const file = recordFile(configSha256);
  mkdirSync(join(paths.kernels(), 'build-objects'), { recursive: true });
  writeFileSync(`${file}.${process.pid}.tmp`, `${JSON.stringify({ objects })}\n`);
  renameSync(`${file}.${process.pid}.tmp`, file);
}

export function estimatedObjects(configText: string): number {
  return Math.round((configText.match(/^CONFIG_\w+=y$/gm)?.length ?? 0) * OBJECTS_PER_OPTION);
}

export class BuildProgress {
  done = 0;
  private readonly t0: number;

  constructor(
    readonly expected: { objects: number; estimated: boolean },
    now = Date.now(),
  ) {
    this.t0 = now;
  }

  static forConfig(configSha256: string, configText: string, now = Date.now()): BuildProgress {
    const recorded = recordedObjects(configSha256);
    return new BuildProgress(recorded ? { objects: recorded, estimated: false } : { objects: estimatedObjects(configText), estimated: true }, now);
  }

  /** Count make's line; true when it was an object. */
  onLine(line: string): boolean {
    if (!OBJECT_LINE.test(line)) return false;
    this.done++;
    return true;
  }

  /** "412/~1100 objects (37 %), 1m20s, about 2m16s left" */
  text(now = Date.now()): string {
    const elapsed = now - this.t0;
    const { objects, estimated } = this.expected;
    const total = Math.max(objects, this.done);
    const share = total > 0 ? this.done / total : 0;
    const head = `${this.done}/${estimated ? '~' : ''}${total} objects (${Math.floor(share * 100)} %), ${formatDuration(elapsed)}`;
    if (share < MIN_SHARE_FOR_ETA || this.done >= total) return head;
    return `${head}, about ${formatDuration((elapsed / this.done) * (total - this.done))} left`;
  }
}
