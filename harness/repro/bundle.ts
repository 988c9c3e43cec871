// A repro bundle: one .tar.zst with everything another machine needs to boot the same kernel on
// the same disks and run the same cases: bzImage, .config, patches, kernel meta (build key), the
// workload specs, the guest image recipe hash, the QEMU argv the run used, the original verdicts
// and logs. A prebuilt image kernel (kernel/image.ts) also brings its modules.cpio, and its meta
// names the package, version and the .deb's sha256; the replay needs neither apt nor the cache.
// A manifest lists every file's sha256; replaying verifies them first.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { paths, repoRoot, type SourceSpec } from '../config.js';
import type { RunContext } from '../context.js';
import { UserError } from '../errors.js';
import { runStep, type Step } from '../exec.js';
import type { KernelArtifact, KernelMeta } from '../kernel/build.js';
import { sha256 } from '../hash.js';
import { parseRunJson } from '../report/json.js';
import { RUN_LAYOUT } from '../rundir.js';
import type { KernelIdentity, RunResult } from '../verdict/types.js';
import type { WorkloadSpec } from '../workloads/types.js';
import { kernelInitrds, PVH_KERNEL, restorePvhKernel, type ImageMeta } from '../kernel/image.js';

export const BUNDLE_SCHEMA = 'pinlab.bundle/1';

export interface BundleManifest {
  schema: typeof BUNDLE_SCHEMA;
  createdAt: string;
  fromRun: { runId: string; dir: string };
  /** the pinlab that made the bundle: the guest runner and the verdict logic come from it */
  pinlab: { version: string; commit?: string };
  kernel: KernelIdentity;
  buildKey: string;
  release: string;
  /** what the run asked for, to label and judge the replay the same way (known states) */
  request: { profile?: string; source: SourceSpec; series: boolean; cmdline: string[]; strict: boolean };
  image: { recipeSha256: string; key: string };
  accel: string;
  cases: string[];
  /** bundle-relative path -> sha256 of its bytes */
  files: Record<string, string>;
}

/** Bundle-relative names (pure, shared by writer and reader). */
export const BUNDLE_FILES = {
  manifest: 'bundle.json',
  bzImage: 'kernel/bzImage',
  config: 'kernel/config',
  kernelMeta: 'kernel/meta.json',
  /** a prebuilt image's modules (kernel/image.ts), found beside bzImage when the bundle boots */
  modules: 'kernel/modules.cpio',
  patches: 'kernel/patches',
  workloads: 'workloads.json',
  qemuArgv: 'qemu-argv.json',
  run: 'run',
} as const;

export function planPack(staging: string, out: string): Step {
  return { phase: 'repro:bundle', argv: ['tar', '--zstd', '-cf', out, '-C', staging, '.'], timeoutMs: 10 * 60_000 };
}

export function planUnpack(file: string, into: string): Step {
  return { phase: 'repro:unbundle', argv: ['tar', '--zstd', '-xf', file, '-C', into], timeoutMs: 10 * 60_000 };
}

/** Hash of the guest userspace recipe (images/): equal on every checkout of the same pinlab. */
export function recipeSha256(dir = paths.imagesDir()): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (!statSync(p).isFile()) continue;
    h.update(`${f}\0`).update(readFileSync(p)).update('\0');
  }
  return h.digest('hex');
}

export function pinlabVersion(): { version: string; commit?: string } {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const head = join(repoRoot, '.git', 'HEAD');
  if (!existsSync(head)) return { version: pkg.version };
  const ref = readFileSync(head, 'utf8').trim();
  const refFile = ref.startsWith('ref: ') ? join(repoRoot, '.git', ref.slice(5)) : undefined;
  const commit = refFile ? (existsSync(refFile) ? readFileSync(refFile, 'utf8').trim() : undefined) : ref;
  return { version: pkg.version, ...(commit ? { commit } : {}) };
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : []));
}

export interface BundleInput {
  run: { dir: string; result: RunResult };
  artifact: KernelArtifact;
  request: BundleManifest['request'];
  specs: WorkloadSpec[];
  image: BundleManifest['image'];
  qemuArgv: string[];
}

/** Stage the bundle's files and pack them with tar --zstd (through exec.ts). */
export async function writeBundle(input: BundleInput, out: string, ctx: RunContext): Promise<BundleManifest> {
  const staging = mkdtempSync(join(tmpdir(), 'pinlab-bundle-'));
  const cleanup = ctx.teardown.add(`repro: remove ${staging}`, () => rmSync(staging, { recursive: true, force: true }));
  try {
    const put = (rel: string, from: string) => {
      mkdirSync(dirname(join(staging, rel)), { recursive: true });
      copyFileSync(from, join(staging, rel));
    };
    const write = (rel: string, text: string) => {
      mkdirSync(dirname(join(staging, rel)), { recursive: true });
      writeFileSync(join(staging, rel), text);
    };
    put(BUNDLE_FILES.bzImage, input.artifact.bzImage);
    put(BUNDLE_FILES.config, input.artifact.config);
    for (const f of kernelInitrds(input.artifact)) put(BUNDLE_FILES.modules, f);
    write(BUNDLE_FILES.kernelMeta, `${JSON.stringify(input.artifact.meta, null, 2)}\n`);
    const patchDir = join(input.artifact.dir, 'patches');
    if (existsSync(patchDir)) for (const p of readdirSync(patchDir)) put(join(BUNDLE_FILES.patches, p), join(patchDir, p));
    write(BUNDLE_FILES.workloads, `${JSON.stringify(input.specs, null, 2)}\n`);
    write(BUNDLE_FILES.qemuArgv, `${JSON.stringify(input.qemuArgv, null, 2)}\n`);
    // the original run: verdicts, request, logs, console, the observations of the bundled cases
    const runDir = input.run.dir;
    for (const f of [RUN_LAYOUT.run, RUN_LAYOUT.meta, RUN_LAYOUT.check]) if (existsSync(join(runDir, f))) put(join(BUNDLE_FILES.run, f), join(runDir, f));
    for (const sub of [RUN_LAYOUT.logs, RUN_LAYOUT.vm, RUN_LAYOUT.kernel]) {
      const d = join(runDir, sub);
      if (!existsSync(d)) continue;
      for (const f of walk(d)) if (statSync(f).size < 64 << 20) put(join(BUNDLE_FILES.run, relative(runDir, f)), f);
    }
    const obsDir = join(runDir, RUN_LAYOUT.observations);
    const cases = new Set(input.specs.map((s) => s.name));
    if (existsSync(obsDir)) {
      for (const f of readdirSync(obsDir)) {
        if (cases.has(f.replace(/(#\d+)?\.json$/, ''))) put(join(BUNDLE_FILES.run, RUN_LAYOUT.observations, f), join(obsDir, f));
      }
    }
    const files: Record<string, string> = {};
    for (const f of walk(staging).sort()) files[relative(staging, f)] = sha256(readFileSync(f));
    const manifest: BundleManifest = {
      schema: BUNDLE_SCHEMA,
      createdAt: new Date().toISOString(),
      fromRun: { runId: input.run.result.runId, dir: runDir },
      pinlab: pinlabVersion(),
      kernel: input.run.result.kernel,
      buildKey: input.artifact.key,
      release: input.artifact.meta.release,
      request: input.request,
      image: input.image,
      accel: input.run.result.host.accel,
      cases: input.specs.map((s) => s.name),
      files,
    };
    write(BUNDLE_FILES.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
    mkdirSync(dirname(out), { recursive: true });
    await runStep(planPack(staging, out), { signal: ctx.signal });
    return manifest;
  } finally {
    await cleanup();
  }
}

export interface OpenedBundle {
  dir: string;
  manifest: BundleManifest;
  artifact: KernelArtifact;
  specs: WorkloadSpec[];
  patchFiles: string[];
  recorded: RunResult;
}

/** Unpack into a temporary directory (removed at teardown), verify every file, read it back. */
export async function openBundle(file: string, ctx: RunContext): Promise<OpenedBundle> {
  if (!existsSync(file)) throw new UserError(`${file}: no such bundle`);
  const dir = mkdtempSync(join(tmpdir(), 'pinlab-replay-'));
  ctx.teardown.add(`repro: remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const r = await runStep(planUnpack(file, dir), { signal: ctx.signal, allowFailure: true });
  if (r.exitCode !== 0) throw new UserError(`${file}: not a readable .tar.zst bundle: ${r.stderr.trim().split('\n')[0]}`);
  const manifestFile = join(dir, BUNDLE_FILES.manifest);
  if (!existsSync(manifestFile)) throw new UserError(`${file}: no ${BUNDLE_FILES.manifest} inside (not a pinlab repro bundle)`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as BundleManifest;
  if (manifest.schema !== BUNDLE_SCHEMA) throw new UserError(`${file}: bundle schema ${String(manifest.schema)}, this pinlab reads ${BUNDLE_SCHEMA}`);
  const bad = Object.entries(manifest.files).filter(([rel, sum]) => !existsSync(join(dir, rel)) || sha256(readFileSync(join(dir, rel))) !== sum);
  if (bad.length > 0) throw new UserError(`${file}: ${bad.length} file(s) missing or changed: ${bad.map(([rel]) => rel).slice(0, 5).join(', ')}`);
  const meta = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.kernelMeta), 'utf8')) as KernelMeta;
  const patchDir = join(dir, BUNDLE_FILES.patches);
  // in the order they were applied
  const patchFiles = meta.patches.map((p) => join(patchDir, p.name)).filter((p) => existsSync(p));
  const artifact: KernelArtifact = {
    key: manifest.buildKey,
    dir: join(dir, 'kernel'),
    bzImage: join(dir, BUNDLE_FILES.bzImage),
    config: join(dir, BUNDLE_FILES.config),
    meta,
    cacheHit: true,
    durationMs: 0,
  };
  if (!(await restorePvhKernel(artifact, ctx)) && (meta as Partial<ImageMeta>).image?.pvh) {
    ctx.log(`repro: could not decompress the bundle's kernel for PVH: the replay boots the bzImage (the run booted ${PVH_KERNEL})`);
  }
  const specs = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.workloads), 'utf8')) as WorkloadSpec[];
  const recorded = parseRunJson(readFileSync(join(dir, BUNDLE_FILES.run, RUN_LAYOUT.run), 'utf8'), `${basename(file)}:run/run.json`);
  return { dir, manifest, artifact, specs, patchFiles, recorded };
}
