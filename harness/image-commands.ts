// `pinlab kernels` and `pinlab sweep`: Debian's prebuilt kernels (kernel/debian-images.ts,
// kernel/image.ts). Kept beside commands.ts so that file stays about kernels pinlab builds.
import type { RunContext } from './context.js';
import type { Outcome } from './outcome.js';
import { UserError } from './errors.js';
import { formatImageList, listDebianImages } from './kernel/debian-images.js';
import { writeFileAtomic } from './report/file.js';
import { formatSweep, sweep } from './sweep.js';
import { selectWorkloads } from './workloads/catalogue.js';
import { hostCapacity, vmBounds } from './vm/slots.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

export async function kernels(ctx: RunContext, opts: { series?: string; flavour?: string; all?: boolean }): Promise<Outcome> {
  const images = (await listDebianImages(ctx)).filter(
    (i) => (!opts.series || i.series === opts.series) && (!opts.flavour || i.flavour === opts.flavour) && (opts.all || i.signed),
  );
  if (images.length === 0) {
    out('apt offers no linux-image package that matches (apt-get update refreshes the lists)');
    return { kind: 'nothing-ran' };
  }
  out(formatImageList(images));
  return { kind: 'ok' };
}

export async function sweepCommand(
  ctx: RunContext,
  opts: { series: string; flavour: string; filter?: string; cmdline?: string; strict?: boolean; last?: number; json?: string; coverage?: boolean; vms?: number },
): Promise<Outcome> {
  const workloads = selectWorkloads(opts.filter);
  if (workloads.length === 0) throw new UserError(`no workload matches --filter '${opts.filter ?? ''}'`);
  const started = new Date().toISOString();
  const rows = await sweep(ctx, {
    series: opts.series.split(','),
    flavour: opts.flavour,
    workloads,
    cmdline: opts.cmdline ? opts.cmdline.trim().split(/\s+/) : [],
    strict: Boolean(opts.strict),
    ...(opts.last ? { last: opts.last } : {}),
    ...(opts.coverage ? { coverage: true } : {}),
    write: out,
    vms: vmBounds(opts.vms, hostCapacity()),
  });
  out('');
  out(`sweep started ${started}, ${workloads.length} workloads per image`);
  out(formatSweep(rows));
  if (opts.json) await writeFileAtomic(opts.json, `${JSON.stringify({ started, rows }, null, 2)}\n`);
  if (rows.some((r) => r.infra)) return { kind: 'infra' };
  const bad = rows.some((r) => r.counts.FAIL > 0 || r.counts.ERROR > 0 || (opts.strict && r.counts.XFAIL > 0));
  return bad ? { kind: 'failed' } : { kind: 'ok' };
}
