// The bench figures of I/O in the guest: fio against the addon on the same device (fio), the
// addon's jobs on a pinning kernel against a stock one (pinned), and the latency plot of the latter.
import { HarnessTimeoutError } from '../errors.js';
import { inPhase } from '../progress.js';
import type { Vm } from '../vm/runner.js';
import { DEFAULT_BENCH_DEVICE, DEFAULT_BENCH_SIZE, fioArgv, parseFioJson, type IoFigures, type IoJob } from './jobs.js';
import { GUEST_BENCH_ARGV, parseBenchLine, type GuestBenchInput } from '../guest-runner/protocol.js';
import { FIO_GOAL_RATIO, fioPair, pinnedRow, type KernelSide } from './report.js';
import { meanCurve, RESOLVE_PCT } from './stats.js';
import { renderLatencyCdf } from './svg.js';
import type { Bench } from './bench-state.js';

async function fio(vm: Vm, job: IoJob): Promise<IoFigures> {
  const r = await vm.exec(fioArgv(job), { timeoutMs: job.runtimeMs + 120_000 });
  if (r.exitCode !== 0) throw new Error(`fio ${job.name} exited ${r.exitCode}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
  return parseFioJson(r.stdout);
}

async function addon(vm: Vm, jobs: IoJob[], prefill = false): Promise<Map<string, IoFigures>> {
  const timeoutMs = 120_000 + jobs.reduce((s, j) => s + j.runtimeMs + 30_000, 0);
  const input: GuestBenchInput = { jobs, ...(prefill ? { prefill: { device: DEFAULT_BENCH_DEVICE, sizeBytes: DEFAULT_BENCH_SIZE } } : {}) };
  const r = await vm.exec([...GUEST_BENCH_ARGV], { input: JSON.stringify(input), timeoutMs });
  const figures = new Map<string, IoFigures>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const ev = parseBenchLine(line);
    if (!ev) continue;
    // (a 'clocksource' line is for standalone use: timedVm has recorded the clocksource)
    if (ev.type === 'result') figures.set(ev.name, ev.figures);
    else if (ev.type === 'error') throw new Error(`guest-bench ${ev.name}: ${ev.message}`);
  }
  for (const j of jobs) if (!figures.has(j.name)) throw new Error(`guest-bench gave no result for ${j.name} (exit ${r.exitCode}; ${r.stderr.trim().split('\n').pop() ?? ''})`);
  return figures;
}

export async function fioFigure(bench: Bench): Promise<void> {
  const profile = bench.profiles[0]!;
  const acc = new Map(
    bench.jobs.map((j) => [j.name, { fioIops: [] as number[], addonIops: [] as number[], fioCpuUsPerIo: [] as number[], addonCpuUsPerIo: [] as number[], failures: [] as string[] }]),
  );
  await bench.withVm(
    profile,
    async (first, session) => {
      let vm = first;
      const prefill = () => inPhase('prefill the device', () => addon(vm, [], true));
      await prefill();
      for (let i = 1; i <= bench.repeat; i++) {
        for (const job of bench.jobs) {
          const a = acc.get(job.name)!;
          // alternate which side goes first, so slow drift of the host load hits both alike
          const order = i % 2 === 1 ? (['fio', 'addon'] as const) : (['addon', 'fio'] as const);
          try {
            const got = await inPhase(`fio vs addon ${job.name} [${i}/${bench.repeat}]`, async () => {
              const r: Record<'fio' | 'addon', IoFigures | undefined> = { fio: undefined, addon: undefined };
              for (const side of order) r[side] = side === 'fio' ? await fio(vm, job) : (await addon(vm, [job])).get(job.name)!;
              return r as Record<'fio' | 'addon', IoFigures>;
            }, (r) => `fio ${r.fio.iops.toFixed(0)} addon ${r.addon.iops.toFixed(0)} IOPS`);
            a.fioIops.push(got.fio.iops);
            a.fioCpuUsPerIo.push(got.fio.cpuUsPerIo);
            a.addonIops.push(got.addon.iops);
            a.addonCpuUsPerIo.push(got.addon.cpuUsPerIo);
          } catch (e) {
            // A guest command that hangs costs this pair this repeat, not the figure: the
            // repeat is recorded as missing (NaN keeps the repeats paired) and a new guest
            // takes over. The stuck command's kernel stacks are in that boot's console log.
            if (!(e instanceof HarnessTimeoutError)) throw e;
            a.failures.push(`repeat ${i}: ${e.message} (${vm.consoleLog})`);
            for (const xs of [a.fioIops, a.fioCpuUsPerIo, a.addonIops, a.addonCpuUsPerIo]) xs.push(NaN);
            await session.fresh(bench.vmDir());
            vm = await bench.timedVm(session, profile);
            await prefill();
          }
        }
      }
    },
    'timed',
  );
  bench.result.fio = { profile, device: DEFAULT_BENCH_DEVICE, goalRatio: FIO_GOAL_RATIO, pairs: bench.jobs.map((j) => fioPair({ job: j.name, ...acc.get(j.name)! })) };
}

export async function pinnedFigure(bench: Bench): Promise<void> {
  const [a, b] = bench.profiles;
  if (!a || !b || a === b) return bench.skip('pinned', 'needs two different profiles (-p patched-6.1 -p stock-6.1)');
  const sides = new Map<string, Map<string, { iops: number[]; cpu: number[]; curves: number[][] }>>();
  for (const p of [a, b]) sides.set(p, new Map(bench.jobs.map((j) => [j.name, { iops: [], cpu: [], curves: [] }])));
  for (let i = 1; i <= bench.repeat; i++) {
    for (const profile of i % 2 === 1 ? [a, b] : [b, a]) {
      const figures = await inPhase(`addon jobs on ${profile} [${i}/${bench.repeat}]`, () =>
        bench.withVm(profile, (vm) => addon(vm, bench.jobs, true), 'timed'),
      );
      for (const [name, f] of figures) {
        const s = sides.get(profile)!.get(name)!;
        s.iops.push(f.iops);
        s.cpu.push(f.cpuUsPerIo);
        s.curves.push(f.latencyUs);
      }
    }
  }
  const side = (p: string, job: string): KernelSide => {
    const s = sides.get(p)!.get(job)!;
    return { iops: s.iops, cpuUsPerIo: s.cpu, latencyUs: meanCurve(s.curves) };
  };
  bench.result.pinned = { a, b, device: DEFAULT_BENCH_DEVICE, resolvePct: RESOLVE_PCT, rows: bench.jobs.map((j) => pinnedRow(j.name, side(a, j.name), side(b, j.name), [a, b])) };
}

export function latencySvg(bench: Bench): string | undefined {
  const p = bench.result.pinned;
  if (!p) return undefined;
  const panels = p.rows.map((row) => ({
    title: row.job,
    series: [
      { label: `${p.a} (pinned)`, color: '#1f77b4', percentiles: bench.result.percentiles, latencyUs: row.a.latencyUs },
      { label: `${p.b}`, color: '#ff7f0e', dashed: true, percentiles: bench.result.percentiles, latencyUs: row.b.latencyUs },
    ],
  }));
  return renderLatencyCdf(panels, { title: `Completion latency CDF, ${p.a} vs ${p.b} (${bench.result.runtimeS} s x ${bench.repeat} per job, ${p.device})` });
}
