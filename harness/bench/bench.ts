// `pinlab bench`: how fast pinlab answers and whether its numbers can be trusted. Each figure is
// measured --repeat times and reported as min/median/max in bench.json, bench.txt and on the
// terminal, with latency.svg (pinned vs stock latency distributions) next to them:
//   boot    QEMU start -> first guest command output (Vm.bootMs), per profile
//   edit    one code line of a bio.c hunk changed in a copy of the series, then
//           `pinlab run -p <patched>` of raw-virtio.psync.anon alone with that copy
//           (PINLAB_PATCHES_DIR): incremental rebuild + boot + workload + verdict; after each,
//           the original series must hit the kernel cache again (edit-restore)
//   suite   the default suite on the first profile's (cached) kernel: boot + all workloads
//   fio     fio and the addon, same boot, same device/size/runtime, per engine and shape
//   pinned  the addon jobs on the first two profiles, one boot per kernel per repeat
//   fresh   (only with --only fresh) `pinlab run` with empty caches and ccache: cold import,
//           build and guest image, timed to the first verdict
//   coverage (only with --only coverage) the default suite with --coverage (gcov build, report
//           included) against the plain suite, interleaved: what --coverage costs
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import type { Outcome } from '../outcome.js';
import { DEFAULT_PROFILE, runsRoot } from '../config.js';
import type { RunContext } from '../context.js';
import { UserError } from '../errors.js';
import { kernelRequest } from '../kernel/index.js';
import { newRunId } from '../pipeline.js';
import { writeFileAtomic } from '../report/file.js';
import { formatBenchTable } from './report.js';
import { fioFigure, latencySvg, pinnedFigure } from './io-figures.js';
import { bootFigure, coverageFigure, editFigure, freshFigure, suiteFigure } from './run-figures.js';
import { Bench, DEFAULT_FIGURES, FIGURES, type FigureName } from './bench-state.js';

export interface BenchOpts {
  profile?: string[];
  repeat?: number;
  out?: string;
  only?: string;
  runtime?: number;
  jobs?: number;
}

export function parseOnly(only?: string): FigureName[] {
  if (only === undefined) return [...DEFAULT_FIGURES];
  const names = only.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !(FIGURES as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) throw new UserError(`--only ${only}: expected a comma-separated subset of ${FIGURES.join(',')}`);
  return FIGURES.filter((f) => names.includes(f));
}

const out = (s: string) => process.stdout.write(`${s}\n`);

export async function bench(ctx: RunContext, opts: BenchOpts, argv: string[] = process.argv.slice(2)): Promise<Outcome> {
  const figures = parseOnly(opts.only);
  const profiles = opts.profile?.length ? opts.profile : [DEFAULT_PROFILE, 'stock-6.1'];
  for (const p of profiles) kernelRequest({ profile: p }); // a known profile or a debian-image: spelling
  const repeat = opts.repeat ?? 5;
  const runtimeS = opts.runtime ?? 3;
  const dir = resolve(opts.out ?? join(runsRoot(), `bench-${newRunId()}`));
  mkdirSync(join(dir, 'logs'), { recursive: true, mode: 0o700 });
  const b = new Bench(ctx, dir, profiles, repeat, runtimeS, opts.jobs, `pinlab ${argv.join(' ')}`);
  if (b.result.host.loadavgStart[0]! > b.result.host.cpus) {
    process.stderr.write(`pinlab bench: load average ${b.result.host.loadavgStart[0]!.toFixed(1)} on ${b.result.host.cpus} cpus: these numbers measure the other load too\n`);
  }
  const run: Record<FigureName, () => Promise<void>> = {
    boot: () => bootFigure(b),
    edit: () => editFigure(b),
    suite: () => suiteFigure(b),
    fio: () => fioFigure(b),
    pinned: () => pinnedFigure(b),
    fresh: () => freshFigure(b),
    coverage: () => coverageFigure(b),
  };
  for (const f of figures) await b.figure(f, run[f]);
  b.result.finishedAt = new Date().toISOString();
  b.result.host.loadavgEnd = loadavg();
  const table = formatBenchTable(b.result);
  await writeFileAtomic(join(dir, 'bench.json'), `${JSON.stringify(b.result, null, 2)}\n`);
  await writeFileAtomic(join(dir, 'bench.txt'), table);
  const svg = latencySvg(b);
  if (svg) await writeFileAtomic(join(dir, 'latency.svg'), svg);
  out(`\n${table}`);
  out(`bench directory: ${dir} (bench.json, bench.txt${svg ? ', latency.svg' : ''})`);
  return b.result.errors.length > 0 ? { kind: 'infra' } : { kind: 'ok' };
}
