// Subcommand implementations. Each returns an Outcome; cli.ts turns outcomes and errors into
// exit codes. Terminal output here is the user-facing summary; detailed logs go to run dirs.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunContext } from './context.js';
import { DEFAULT_PROFILE, profileNames, type SourceSpec } from './config.js';
import { HostError, UserError } from './errors.js';
import { runStep } from './exec.js';
import { checkPackages, installCommand, isRoot, neededPackages, planInstall } from './host.js';
import { kernelRequest, prepareKernel } from './kernel/index.js';
import { formatPlan, planKernel } from './plan.js';
import { inPhase } from './progress.js';
import type { Outcome } from './cli.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

export interface KernelOpts {
  profile?: string;
  source?: SourceSpec;
  patch?: string[];
  configFragment?: string[];
  cmdline?: string;
  jobs?: number;
  dryRun?: boolean;
}

function profilesFor(opts: { profile?: string | string[]; source?: SourceSpec }): string[] {
  if (opts.source) return [];
  const p = opts.profile;
  return Array.isArray(p) ? p : [p ?? DEFAULT_PROFILE];
}

export async function doctor(ctx: RunContext, opts: { profiles?: string[] }): Promise<Outcome> {
  // packages of other profiles are listed as optional; only the checked profiles decide the exit
  const profiles = opts.profiles ?? [DEFAULT_PROFILE];
  const required = new Set(neededPackages(profiles).map((p) => p.pkg));
  const status = await checkPackages(neededPackages(profileNames()), ctx);
  for (const s of status) {
    const mark = s.installed ? 'OK     ' : required.has(s.pkg) ? 'MISSING' : 'absent ';
    out(`${mark} ${s.pkg.padEnd(18)} ${s.why}${required.has(s.pkg) ? '' : ' (optional)'}`);
  }
  out(`${process.versions.node.split('.')[0]! >= '20' ? 'OK     ' : 'MISSING'} node ${process.version.padEnd(13)} host and guest Node.js (N-API 9)`);
  const missing = status.filter((s) => !s.installed && required.has(s.pkg)).map((s) => s.pkg);
  if (missing.length > 0) {
    out(`\nto install what is missing (as root):\n  ${installCommand(missing)}\n(or: npx pinlab setup)`);
    return { kind: 'code', code: 3 };
  }
  return { kind: 'ok' };
}

/** Install what the given profiles need. Root: apt-get; otherwise print the command (HostError). */
export async function ensurePrerequisites(ctx: RunContext, profiles: string[], dryRun = false): Promise<string[]> {
  const status = await checkPackages(neededPackages(profiles), ctx);
  const missing = status.filter((s) => !s.installed).map((s) => s.pkg);
  if (missing.length === 0) return [];
  const steps = planInstall(missing);
  if (dryRun) {
    for (const s of steps) out(`${s.phase.padEnd(14)} ${JSON.stringify(s.argv)}`);
    return missing;
  }
  if (!isRoot()) {
    throw new HostError(`missing packages: ${missing.join(' ')}`, { hint: `as root run: ${installCommand(missing)}` });
  }
  await inPhase(`setup: apt-get install ${missing.length} package(s)`, async () => {
    for (const s of steps) await runStep({ ...s, logFile: join(tmpdir(), 'pinlab-setup.log') }, { signal: ctx.signal });
  });
  return missing;
}

export async function setup(ctx: RunContext, opts: { profiles?: string[]; dryRun: boolean }): Promise<Outcome> {
  const missing = await ensurePrerequisites(ctx, opts.profiles ?? profileNames(), opts.dryRun);
  out(missing.length === 0 ? 'setup: everything is installed' : opts.dryRun ? '' : `setup: installed ${missing.join(' ')}`);
  return { kind: 'ok' };
}

export async function build(ctx: RunContext, opts: KernelOpts): Promise<Outcome> {
  const req = kernelRequest({ profile: opts.profile, source: opts.source, patch: opts.patch, configFragment: opts.configFragment });
  if (opts.dryRun) {
    out(formatPlan(await planKernel(req, ctx)));
    return { kind: 'ok' };
  }
  const logDir = join(tmpdir(), `pinlab-build-${process.pid}`);
  mkdirSync(logDir, { recursive: true });
  const k = await inPhase(
    `build ${req.profile ?? 'kernel'}`,
    (p) => prepareKernel(req, ctx, { logDir, onLine: (l) => p.update(l), jobs: opts.jobs }),
    (r) => (r.artifact.cacheHit ? `cache hit ${r.artifact.key}` : `built ${r.artifact.meta.release}`),
  );
  out(`${k.artifact.cacheHit ? 'cache hit' : 'built'}: ${k.artifact.bzImage}`);
  out(`source: ${k.artifact.meta.identity}${k.artifact.meta.commit ? ` (tree ${k.artifact.meta.commit.slice(0, 12)})` : ''}`);
  out(`patches: ${k.artifact.meta.patches.map((p) => p.name).join(', ') || 'none'}`);
  out(`key: ${k.artifact.key}  release: ${k.artifact.meta.release}`);
  return { kind: 'ok' };
}

export { profilesFor };

const notYet = (what: string): never => {
  throw new UserError(`${what} is not available yet in this version of pinlab`);
};

export async function run(ctx: RunContext, opts: KernelOpts & Record<string, unknown>): Promise<Outcome> {
  void ctx;
  void opts;
  return notYet('run');
}
export async function boot(ctx: RunContext, opts: KernelOpts & { cmd: string[] }): Promise<Outcome> {
  void ctx;
  void opts;
  return notYet('boot');
}
export async function parse(ctx: RunContext, opts: { runDir: string }): Promise<Outcome> {
  void ctx;
  void opts;
  return notYet('parse');
}
export async function diff(ctx: RunContext, opts: { a: string; b: string }): Promise<Outcome> {
  void ctx;
  void opts;
  return notYet('diff');
}
export async function merge(ctx: RunContext, opts: { inputs: string[]; output: string }): Promise<Outcome> {
  void ctx;
  void opts;
  return notYet('merge');
}
