// The kernel phase: request -> source -> patched tree -> checked config -> cached bzImage.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getProfile, paths, type SourceSpec } from '../config.js';
import type { RunContext } from '../context.js';
import { UserError } from '../errors.js';
import { withLock } from '../lock.js';
import { COVERAGE_SOURCES } from '../coverage/objects.js';
import { buildKernel, compilerVersion, lookupRequest, rememberRequest, requestKey, type KernelArtifact } from './build.js';
import { configure } from './config.js';
import { checkKernelFile } from './magic.js';
import { BuildProgress, recordObjects } from './build-progress.js';
import { sha256 } from '../hash.js';
import { isDebianImageProfile, parseDebianImageProfile } from './debian-images.js';
import { prepareImageKernel } from './image.js';
import { prepareTree, readPatches, requireSpace, resolveSource, seriesPatchFiles, slotName, type ResolvedSource } from './source.js';

export interface KernelRequest {
  /** profile name, absent for --source kernels */
  profile?: string;
  source: SourceSpec;
  /** patch files in order: the series (patched profiles) then --patch extras */
  patchFiles: string[];
  fragments: string[];
  /** true when the patch list starts with the profile's series */
  series: boolean;
  /**
   * pinlab run --coverage: the pin-path sources. A kernel pinlab builds instruments them with gcov
   * (a build of its own); a prebuilt image cannot be, and gets function coverage from the tracer.
   */
  coverage?: readonly string[];
}

export function kernelRequest(opts: { profile?: string; source?: SourceSpec; patch?: string[]; configFragment?: string[]; coverage?: boolean }): KernelRequest {
  const req = kernelRequestOf(opts);
  return opts.coverage ? { ...req, coverage: COVERAGE_SOURCES } : req;
}

function kernelRequestOf(opts: { profile?: string; source?: SourceSpec; patch?: string[]; configFragment?: string[] }): KernelRequest {
  const extras = (opts.patch ?? []).map((f) => resolve(f));
  const fragments = [paths.defaultFragment(), ...(opts.configFragment ?? []).map((f) => resolve(f))];
  // validate inputs before any tree is touched
  for (const f of fragments) if (!existsSync(f)) throw new UserError(`config fragment not found: ${f}`);
  for (const f of extras) if (!existsSync(f)) throw new UserError(`patch not found: ${f}`);
  const image = opts.source?.kind === 'image' ? opts.source : isDebianImageProfile(opts.profile) ? { kind: 'image' as const, image: parseDebianImageProfile(opts.profile!) } : undefined;
  if (image) {
    // a prebuilt kernel is booted as shipped: nothing to patch or configure
    if (extras.length || opts.configFragment?.length) throw new UserError('--patch and --config-fragment need a kernel built from source, not a prebuilt image');
    if (opts.source && opts.profile) throw new UserError('--profile and --kernel are exclusive');
    if (image.image.kind === 'file') checkKernelFile(image.image.kernel);
    return { ...(opts.profile ? { profile: opts.profile } : {}), source: image, patchFiles: [], fragments: [], series: false };
  }
  if (opts.source) {
    if (opts.profile) throw new UserError('--profile and --source are exclusive: a --source kernel has no profile');
    return { source: opts.source, patchFiles: extras, fragments, series: false };
  }
  const profile = getProfile(opts.profile ?? 'patched-6.1');
  const series = profile.patched ? seriesPatchFiles() : [];
  if (profile.patched && series.length === 0) {
    throw new UserError(`profile ${profile.name} needs the series in ${paths.patchesDir()}, which has no NNNN-*.patch files`);
  }
  return { profile: profile.name, source: profile.source, patchFiles: [...series, ...extras], fragments, series: profile.patched };
}

export interface PreparedKernel {
  artifact: KernelArtifact;
  source: ResolvedSource;
  configChanged: boolean;
  /** wall time of each step this call ran (a cached request runs only `source`) */
  stepsMs?: KernelStepsMs;
}

/** Where a kernel's preparation spent its time: resolving the source, importing it into the cache
 * (its first use only), the patched tree (patch application and the worktree checkout), the
 * .config, and make (0 on a cache hit). */
export interface KernelStepsMs {
  source: number;
  import?: number;
  tree?: number;
  config?: number;
  build?: number;
}

export async function prepareKernel(
  req: KernelRequest,
  ctx: RunContext,
  opts: { logDir: string; onLine?: (l: string) => void; onProgress?: (text: string) => void; jobs?: number },
): Promise<PreparedKernel> {
  if (req.source.kind === 'image') {
    const artifact = await prepareImageKernel(req.source.image, ctx);
    return { artifact, source: { spec: req.source, identity: artifact.meta.identity, baseDir: artifact.dir }, configChanged: false };
  }
  const patches = readPatches(req.patchFiles);
  let t = Date.now();
  const lap = () => {
    const now = Date.now();
    const ms = now - t;
    t = now;
    return ms;
  };
  const source = await resolveSource(req.source, ctx);
  const stepsMs: KernelStepsMs = { source: lap() };
  requireSpace(paths.sources(), 3);
  // fast path: the same request (source, patches, fragments, compiler) built before -> its kernel,
  // without touching a tree or regenerating the config
  const compiler = await compilerVersion(ctx);
  const reqKey = requestKey(source.identity, patches, req.fragments, compiler, req.coverage);
  const known = source.spec.kind === 'dir' ? undefined : lookupRequest(reqKey);
  if (known) return { artifact: known, source, configChanged: false, stepsMs };
  const slot = slotName(patches, req.series);
  return withLock(join(source.baseDir, `wt-${slot}`), ctx, async () => {
    lap();
    const tree = await prepareTree(source, patches, slot, ctx);
    stepsMs.import = tree.importMs ?? 0;
    stepsMs.tree = lap() - stepsMs.import;
    const config = await configure(tree, req.fragments, ctx, join(opts.logDir, 'config.log'), { compiler });
    stepsMs.config = lap();
    const progress = BuildProgress.forConfig(sha256(config.text), config.text);
    const onLine = (l: string) => {
      opts.onLine?.(l);
      if (progress.onLine(l)) opts.onProgress?.(progress.text());
    };
    const artifact = await buildKernel(tree, config, ctx, { logFile: join(opts.logDir, 'build.log'), compiler, onLine, jobs: opts.jobs, ...(req.coverage ? { coverage: req.coverage } : {}) });
    stepsMs.build = lap();
    recordObjects(artifact.meta.configSha256, progress.done);
    if (source.spec.kind !== 'dir') rememberRequest(reqKey, artifact.key);
    return { artifact, source, configChanged: config.changed, stepsMs };
  });
}
