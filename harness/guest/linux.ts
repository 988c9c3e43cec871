// The real guest system: Linux's counters, tracefs, /dev/kmsg, debugfs fault injection and the
// gup_test control, behind runner.ts's GuestSystem.
//
// Every counter read first folds the per-cpu vmstat deltas into the global counters
// (/proc/sys/vm/stat_refresh): /proc/vmstat alone can lag by up to the per-cpu threshold for a
// second (vm.stat_interval), enough to fake a leak or a shortfall of a few pins.

import { spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleepMs } from 'node:timers/promises';
import { ARMED_FAULTS, FAIL_MAKE_REQUEST_FAULTS, type PinControl, type PinCounters } from '../workloads/types.js';
import { loadAddon } from '../workloads/addon.js';
import { setupPinEvidence, type PinEvidence } from './pin-evidence.js';
import { calibrationSources } from './calibration-sources.js';
import { encodeGupTest, FOLL_WRITE, GUP_TEST_IOCTL, GUP_TEST_PATH, judgeGupControl } from './gup-test.js';
import { baseName, devMajorMinor, formatKmsgRecord, parseAvailableFunctions, parseKmsgRecord, parseMigrationHist, parseTrace, parseVmstat, resolveTraceable, type KmsgRecord } from './parse.js';
import { errorInfo, type GuestSystem } from './runner.js';
import { linuxGcov } from './gcov.js';

function tracingDir(): string | undefined {
  for (const d of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) if (existsSync(join(d, 'trace'))) return d;
  return undefined;
}

/** The whole-disk sysfs directory of the block device holding `probe` (device node or mount point). */
export function sysBlockDir(probe: string): string {
  const st = statSync(probe);
  const { major, minor } = devMajorMinor(st.isBlockDevice() ? st.rdev : st.dev);
  const dir = realpathSync(`/sys/dev/block/${major}:${minor}`);
  return existsSync(join(dir, 'partition')) ? dirname(dir) : dir;
}

class Kmsg {
  private fd: number | undefined;
  private readonly buf = Buffer.alloc(16384);

  constructor(private readonly mode = constants.O_RDONLY) {}

  private open(): number {
    this.fd ??= openSync('/dev/kmsg', this.mode | constants.O_NONBLOCK);
    return this.fd;
  }

  /** One record into the kernel log (a line of text, no newline). */
  write(text: string): void {
    writeSync(this.open(), `${text}\n`);
  }

  /** Read records until EAGAIN; EPIPE means records were overwritten: keep reading. */
  drain(): KmsgRecord[] {
    const fd = this.open();
    const out: KmsgRecord[] = [];
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue;
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') break;
        throw e;
      }
      if (n <= 0) break;
      const r = parseKmsgRecord(this.buf.toString('utf8', 0, n));
      if (r) out.push(r);
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function writeKnob(path: string, value: string | number): void {
  writeFileSync(path, `${value}\n`);
}

function readKnob(path: string): string {
  return readFileSync(path, 'utf8').trim();
}

/** PIN_FAST_BENCHMARK over a written 64-page buffer, CALLS times: exactly pages*calls pins. */
export function runPinControl(readCounters: () => PinCounters, pages = 64, calls = 4): PinControl {
  if (!existsSync(GUP_TEST_PATH)) {
    return { ok: false, skipped: `${GUP_TEST_PATH} missing (CONFIG_GUP_TEST, debugfs)`, acquired: 0, released: 0, expected: 0, message: 'gup_test control not run' };
  }
  const addon = loadAddon();
  const buf = new addon.AlignedBuffer(pages * 4096, { kind: 'anon' });
  try {
    buf.fill(1, 0);
    const before = readCounters();
    for (let i = 0; i < calls; i++) {
      addon.gupTest(GUP_TEST_PATH, GUP_TEST_IOCTL.PIN_FAST_BENCHMARK, encodeGupTest({ addr: buf.address, size: pages * 4096, nrPagesPerCall: pages, gupFlags: FOLL_WRITE }));
    }
    const v = judgeGupControl({ pages, calls, before, after: readCounters() });
    return { ok: v.ok, acquired: v.acquired, released: v.released, expected: v.expected, message: v.message };
  } catch (e) {
    return { ok: false, acquired: 0, released: 0, expected: pages * calls, message: `gup_test control failed: ${errorInfo(e).message}` };
  } finally {
    buf.free();
  }
}

/** Whether /proc/kallsyms names this function (text symbols; clones count). */
function kallsymsHas(name: string): boolean {
  try {
    return new RegExp(`^[0-9a-f]+ [tT] ${name}(\\.\\S+)?$`, 'm').test(readFileSync('/proc/kallsyms', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * A mark in the kernel log, "pinlab: TEXT", and the kernel's own timestamp of it in seconds (the
 * clock of the console's "[  12.345678]" prefixes), read back through a cursor of its own; undefined
 * when the log cannot be written or the record is not found. User writes to /dev/kmsg are rate
 * limited (10 per 5 s) unless printk_devkmsg is "on": the first mark turns it on.
 */
function kmsgMarker(): (text: string) => number | undefined {
  const marks = new Kmsg(constants.O_RDWR);
  let first = true;
  return (text) => {
    try {
      if (first) {
        first = false;
        try {
          writeKnob('/proc/sys/kernel/printk_devkmsg', 'on');
        } catch {
          // a kernel booted with printk.devkmsg= keeps its setting: marks may then be limited
        }
        marks.drain();
      }
      const line = `pinlab: ${text}`;
      marks.write(`<5>${line}`);
      return marks
        .drain()
        .filter((r) => r.text === line)
        .map((r) => r.usec / 1e6)
        .pop();
    } catch {
      return undefined;
    }
  };
}

export function linuxGuest(log: (message: string, name?: string) => void): GuestSystem {
  const kmsg = new Kmsg();
  const mark = kmsgMarker();
  const tdir = tracingDir();
  let available: Map<string, string[]> | undefined;
  const availableFunctions = (): Map<string, string[]> => {
    if (!available) {
      try {
        available = parseAvailableFunctions(readFileSync(join(tdir ?? '/nonexistent', 'available_filter_functions'), 'utf8'));
      } catch (e) {
        log(`no function tracer (${errorInfo(e).message}): path groups will read as unverifiable`);
        available = new Map();
      }
    }
    return available;
  };
  // a counter read without the refresh may lag by the per-cpu deltas: not a reading to judge on
  const refresh = (): void => {
    try {
      readFileSync('/proc/sys/vm/stat_refresh');
    } catch (e) {
      throw new Error(`/proc/sys/vm/stat_refresh failed (${errorInfo(e).message}): pin counters cannot be read exactly`);
    }
  };
  let evidence: PinEvidence | undefined;
  let tracing = false;
  // The function tracer's filter only grows during a run, and the tracer stays on between
  // workloads (tracing_on gates the buffer): each name written to set_ftrace_filter is matched
  // against every traceable function by its kallsyms name, ~50 ms a name under TCG, and
  // switching the tracer patches code under stop_machine. Rewriting the filter and switching the
  // tracer for every workload took ~1 s of its ~2 s (measured: 39 s of a 42-workload suite).
  const filtered = new Set<string>();
  let traced = new Set<string>();

  // pages migrated (a long-term pin of ZONE_MOVABLE pages migrates them: judge.ts), where vmstat
  // does not count them: a hist trigger on the migration tracepoint, installed at the first read
  let migrationHist: string | null | undefined;
  const readMigrations = (): number | undefined => {
    if (migrationHist === undefined) {
      migrationHist = null;
      const dir = tdir ? join(tdir, 'events', 'migrate', 'mm_migrate_pages') : undefined;
      if (dir && existsSync(join(dir, 'trigger'))) {
        try {
          writeFileSync(join(dir, 'trigger'), 'hist:keys=mode:vals=succeeded\n');
          migrationHist = join(dir, 'hist');
        } catch (e) {
          // the same trigger from an earlier runner of this boot counts on
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') migrationHist = join(dir, 'hist');
          else log(`no migration counter (${errorInfo(e).message}): a long-term pin's migration re-pins cannot be told`);
        }
      }
    }
    return migrationHist ? parseMigrationHist(readFileSync(migrationHist, 'utf8')) : undefined;
  };

  const readCounters = (): PinCounters => {
    refresh();
    const c = parseVmstat(readFileSync('/proc/vmstat', 'utf8'));
    if (c.migrated !== undefined) return c;
    const migrated = readMigrations();
    return migrated === undefined ? c : { ...c, migrated };
  };

  return {
    gcov: () => linuxGcov(),
    pinControl: () => runPinControl(readCounters),
    async setupEvidence() {
      evidence ??= await setupPinEvidence({ tdir, available: availableFunctions(), hasSymbol: kallsymsHas, readCounters }, calibrationSources());
      if (evidence.info.mechanism === 'none') log(`pin evidence unavailable: ${evidence.info.unavailable}; verdicts rest on /proc/vmstat`);
      return evidence.info;
    },
    readEvidence: () => evidence?.read(),
    preallocate(path, bytes) {
      const fd = openSync(path, 'w');
      try {
        const chunk = Buffer.alloc(Math.min(bytes, 1 << 20));
        for (let done = 0; done < bytes; ) done += writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    },
    kernelRelease: () => readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    readCounters,
    traceable: (wanted) => resolveTraceable(wanted, availableFunctions()).traceable,
    startTrace(names) {
      tracing = false;
      if (!tdir) return;
      writeKnob(join(tdir, 'tracing_on'), 0);
      const { filter } = resolveTraceable(names, availableFunctions());
      // an empty filter would trace every function: trace nothing instead
      if (filter.length === 0) return;
      const added = filter.filter((f) => !filtered.has(f));
      if (added.length > 0) {
        // the first write replaces whatever filter the tracer had, later ones append
        (filtered.size === 0 ? writeFileSync : appendFileSync)(join(tdir, 'set_ftrace_filter'), `${added.join('\n')}\n`);
        for (const f of added) filtered.add(f);
      }
      if (readFileSync(join(tdir, 'current_tracer'), 'utf8').trim() !== 'function') writeKnob(join(tdir, 'current_tracer'), 'function');
      writeFileSync(join(tdir, 'trace'), '');
      traced = new Set(filter.map(baseName));
      writeKnob(join(tdir, 'tracing_on'), 1);
      tracing = true;
    },
    growTraceBuffer(kb) {
      if (tdir) writeKnob(join(tdir, 'buffer_size_kb'), kb);
    },
    stopTrace() {
      if (!tdir || !tracing) return [];
      writeKnob(join(tdir, 'tracing_on'), 0);
      tracing = false;
      // hits of this workload's own functions only, as when the filter held just those
      return parseTrace(readFileSync(join(tdir, 'trace'), 'utf8')).filter((f) => traced.has(f));
    },
    kmsgSeekEnd() {
      kmsg.drain();
    },
    kmsgRead: () => kmsg.drain().map(formatKmsgRecord),
    logMark: mark,
    setupFault(spec, env) {
      const fault = spec.fault;
      if (!fault || !FAIL_MAKE_REQUEST_FAULTS.includes(fault.kind)) return undefined;
      // an armed fault: the next request of the disk fails, once, from the moment the workload arms it
      const armed = ARMED_FAULTS.includes(fault.kind);
      const f = fault.kind === 'fail-make-request' ? fault : { times: 1, probability: 100, interval: 1 };
      const dbg = '/sys/kernel/debug/fail_make_request';
      const disk = sysBlockDir(env.diskProbe);
      const knobs = ['probability', 'interval', 'times', 'verbose'] as const;
      const saved = new Map(knobs.map((k) => [k, readKnob(join(dbg, k))]));
      const restore = (): void => {
        writeKnob(join(disk, 'make-it-fail'), 0);
        for (const [k, v] of saved) writeKnob(join(dbg, k), v);
      };
      const arm = (): void => {
        // metadata-eio: the disk's own cache (the file system's metadata blocks) dropped first,
        // so the next metadata the file system needs comes from the disk (BLKFLSBUF)
        if (fault.kind === 'metadata-eio') {
          const r = spawnSync('blockdev', ['--flushbufs', `/dev/${basename(disk)}`], { encoding: 'utf8', timeout: 30_000 });
          if (r.status !== 0) throw new Error(`blockdev --flushbufs /dev/${basename(disk)}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
        }
        writeKnob(join(disk, 'make-it-fail'), 1);
      };
      try {
        writeKnob(join(dbg, 'verbose'), 1);
        writeKnob(join(dbg, 'interval'), f.interval);
        writeKnob(join(dbg, 'probability'), f.probability);
        writeKnob(join(dbg, 'times'), f.times);
        if (!armed) arm();
      } catch (e) {
        restore();
        throw e;
      }
      let remaining: number | undefined;
      return {
        ...(armed ? { arm } : {}),
        teardown() {
          remaining = Number(readKnob(join(dbg, 'times')));
          restore();
        },
        notes: () => ({
          failMakeRequest: { disk: basename(disk), ...f },
          ...(remaining === undefined ? {} : { faultsInjected: f.times - remaining }),
        }),
      };
    },
    sync(fileSystem) {
      const r = spawnSync('sync', ['-f', fileSystem], { stdio: 'ignore' });
      if (r.status !== 0) spawnSync('sync', [], { stdio: 'ignore' });
    },
    prepareTarget(env) {
      // zonefs: an I/O error repairs the file's size from the zone's write pointer and goes on
      // (the default remounts read-only: every later workload of the boot would fail EROFS)
      if (env.zoned && env.fileSystem) {
        const r = spawnSync('mount', ['-o', 'remount,errors=repair', env.fileSystem], { encoding: 'utf8', timeout: 30_000 });
        if (r.status !== 0) throw new Error(`mount -o remount,errors=repair ${env.fileSystem}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
        return;
      }
      if (!env.dm || existsSync(env.path)) return;
      const lower = realpathSync(env.dm.lower);
      const sectors = Number(readKnob(join(sysBlockDir(lower), 'size')));
      // a fixed test key: the data is pinlab's pattern, the point is the cloned, bounced bios
      const table = env.dm.kind === 'linear' ? `0 ${sectors} linear ${lower} 0` : `0 ${sectors} crypt aes-cbc-essiv:sha256 ${'0123456789abcdef'.repeat(4)} 0 ${lower} 0`;
      // no udev in the guest: dmsetup makes the /dev/mapper node itself
      const r = spawnSync('dmsetup', ['create', env.dm.name, '--table', table], { encoding: 'utf8', env: { ...process.env, DM_DISABLE_UDEV: '1' }, timeout: 30_000 });
      if (r.status !== 0) throw new Error(`dmsetup create ${env.dm.name}: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()}`);
      if (!existsSync(env.path)) throw new Error(`dmsetup create ${env.dm.name}: ${env.path} did not appear`);
    },
    sizeLimit(env) {
      if (env.fileSystem) return undefined;
      try {
        return Number(readKnob(join(sysBlockDir(env.diskProbe), 'size'))) * 512;
      } catch {
        return undefined;
      }
    },
    prepareTmp(spec) {
      const dir = join('/tmp/pinlab', spec.name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    cleanup(spec, env) {
      // a zone's file cannot be removed: truncating it to 0 resets the zone
      if (env.zoned) truncateSync(env.path, 0);
      else if (env.fileSystem) rmSync(env.path, { force: true });
      rmSync(join('/tmp/pinlab', spec.name), { recursive: true, force: true });
    },
    sleep: (ms) => sleepMs(ms).then(() => undefined),
    now: () => performance.now(),
    log,
  };
}
