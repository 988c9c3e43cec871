// Kernel build into a content-addressed cache. key = hash(source identity, patch bytes, final
// .config, compiler version). A hit returns the stored bzImage without running make; a miss runs
// an incremental make in the slot's persistent object directory (ccache when present) and stores
// the result under the key.
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { paths } from '../config.js';
import { BuildError, CommandError } from '../errors.js';
import { runStep, type Step } from '../exec.js';
import type { RunContext } from '../context.js';
import { sha256 } from '../hash.js';
import type { PreparedTree } from './source.js';
import { contentProblem, hasContentRecord, isNoSpace, noSpaceError, publishEntry, recordContent } from '../cache-entry.js';
import { stagingPath, sweepStaging } from '../owner.js';
import { kernelFileKind } from './magic.js';
import { gcovDataOf, gcovMakeArgs } from '../coverage/objects.js';

export interface BuildKeyInput {
  identity: string;
  patches: { name: string; sha256: string }[];
  config: string;
  compiler: string;
  /** sources instrumented with gcov (pinlab run --coverage); absent or empty: none */
  coverage?: readonly string[];
}

export function buildKey(k: BuildKeyInput): string {
  const canonical = JSON.stringify({
    v: 1,
    identity: k.identity,
    patches: k.patches.map((p) => [p.name, p.sha256]),
    config: sha256(k.config),
    compiler: k.compiler,
    ...(k.coverage?.length ? { coverage: [...k.coverage].sort() } : {}),
  });
  return sha256(canonical).slice(0, 32);
}

export interface KernelArtifact {
  key: string;
  dir: string;
  bzImage: string;
  config: string;
  meta: KernelMeta;
  cacheHit: boolean;
  durationMs: number;
  /** a coverage build's gcov notes and sources (COVERAGE_DIR of the entry) */
  coverage?: string;
}

/** In a coverage build's cache entry: gcno/<src>.gcno and src/<src> of each instrumented source. */
export const COVERAGE_DIR = 'coverage';

export interface KernelMeta {
  key: string;
  identity: string;
  commit?: string;
  patches: { name: string; sha256: string }[];
  configSha256: string;
  compiler: string;
  release: string;
  builtAt: string;
  buildMs: number;
  /** the instrumented sources of a coverage build */
  coverage?: string[];
}

export async function compilerVersion(ctx: RunContext): Promise<string> {
  const r = await runStep({ phase: 'kernel:build', argv: ['gcc', '--version'] }, { signal: ctx.signal });
  return r.stdout.split('\n')[0]!.trim();
}

export function haveCcache(): boolean {
  return ['/usr/bin/ccache', '/usr/local/bin/ccache'].some((p) => existsSync(p));
}

export function planBuild(tree: PreparedTree, opts: { jobs?: number; ccache: boolean; coverage?: readonly string[] }): Step {
  const jobs = opts.jobs ?? availableParallelism() + 1;
  return {
    phase: 'kernel:build',
    argv: [
      'make',
      '-C',
      tree.tree,
      `O=${tree.objDir}`,
      `-j${jobs}`,
      ...(opts.ccache ? ['CC=ccache gcc'] : []),
      ...(opts.coverage?.length ? gcovMakeArgs(opts.coverage) : []),
      'bzImage',
    ],
    // reproducible builds: the same inputs give the same kernel (timestamp/user/host fixed).
    // ccache's depend mode: a miss compiles once and a hit is looked up from the .d file kbuild
    // asks gcc for (-Wp,-MMD), where its default mode runs the preprocessor on every call to
    // hash the preprocessed source. Measured on 123 objects (fs/ext4, kernel/trace, mm), 2
    // cores: gcc alone 37.3 s, ccache cold 55.3 s, ccache depend cold 39.1 s; warm 4.5 s vs 4.0 s.
    env: {
      KBUILD_BUILD_TIMESTAMP: '2020-08-31',
      KBUILD_BUILD_USER: 'pinlab',
      KBUILD_BUILD_HOST: 'pinlab',
      ...(opts.ccache ? { CCACHE_DEPEND: '1' } : {}),
    },
    timeoutMs: 60 * 60_000,
    // a make that outlived a killed pinlab would build on in the tree the next run takes over
    diesWithParent: true,
  };
}

/** The first compiler error lines of a build log. */
export function firstErrors(log: string, max = 8): string[] {
  const lines = log.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length && out.length < max; i++) {
    const l = lines[i]!;
    if (/(\berror\b:|\*\*\* |undefined reference|fatal error)/.test(l) && !/^make(\[\d+\])?: \*\*\* \[/.test(l)) out.push(l);
  }
  if (out.length === 0) {
    const make = lines.filter((l) => /^make(\[\d+\])?: \*\*\*/.test(l));
    out.push(...make.slice(0, max));
  }
  return out;
}

/**
 * The request key: what the user asked for (source identity, patch bytes, fragment bytes,
 * compiler). It maps to the build key of the kernel it produced, so a repeated request skips the
 * config generation. The build key (with the final .config) stays the content address.
 */
export function requestKey(identity: string, patches: { name: string; sha256: string }[], fragments: string[], compiler: string, coverage?: readonly string[]): string {
  const frag = fragments.map((f) => [f, sha256(readFileSync(f))]);
  const cov = coverage?.length ? { coverage: [...coverage].sort() } : {};
  return sha256(JSON.stringify({ v: 1, identity, patches: patches.map((p) => [p.name, p.sha256]), frag, compiler, ...cov })).slice(0, 32);
}

function requestIndexFile(reqKey: string): string {
  return join(paths.kernels(), 'requests', reqKey);
}

export function lookupRequest(reqKey: string): KernelArtifact | undefined {
  const f = requestIndexFile(reqKey);
  if (!existsSync(f)) return undefined;
  return lookupArtifact(readFileSync(f, 'utf8').trim());
}

export function rememberRequest(reqKey: string, key: string): void {
  mkdirSync(join(paths.kernels(), 'requests'), { recursive: true });
  const file = requestIndexFile(reqKey);
  const tmp = stagingPath(file);
  writeFileSync(tmp, `${key}\n`);
  renameSync(tmp, file);
}

/**
 * The kernel as an ELF with the PVH entry note, beside its bzImage, which QEMU boots directly
 * (kernel/boot-form.ts). For pinlab's builds it is the build's own stripped vmlinux
 * (arch/x86/boot/compressed/vmlinux.bin, what the bzImage compresses); for shipped images it is
 * decompressed on the host. Under TCG this skips the bzImage's decompressor and relocation.
 */
export const PVH_KERNEL = 'vmlinux.pvh';

/** The files of a kernel entry whose content is recorded and checked on every lookup (those it has). */
const KERNEL_CONTENT = ['bzImage', PVH_KERNEL, 'config', 'meta.json'];

/** An x86 bzImage carries "HdrS" at 0x202 (the boot protocol header). */
function looksLikeBzImage(file: string): boolean {
  return kernelFileKind(file).kind === 'bzImage';
}

/**
 * The cached kernel under key, checked: an entry whose files do not match their recorded size
 * and sha256 (truncated, corrupted) is removed, so the caller builds it again. Entries from
 * before content records are checked for a bzImage header and then recorded.
 */
export function lookupArtifact(key: string, log?: (m: string) => void): KernelArtifact | undefined {
  const dir = join(paths.kernels(), key);
  const metaFile = join(dir, 'meta.json');
  if (!existsSync(metaFile) || !existsSync(join(dir, 'bzImage'))) return undefined;
  let problem: string | undefined;
  let meta: KernelMeta | undefined;
  try {
    if (hasContentRecord(dir)) problem = contentProblem(dir);
    else if (!looksLikeBzImage(join(dir, 'bzImage'))) problem = 'bzImage has no boot header';
    meta = JSON.parse(readFileSync(metaFile, 'utf8')) as KernelMeta;
  } catch (e) {
    problem ??= `unreadable: ${(e as Error).message}`;
  }
  if (problem || !meta) {
    (log ?? ((m: string) => process.stderr.write(`${m}\n`)))(`kernel cache: removed ${dir}: ${problem}; it will be built again`);
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }
  if (!hasContentRecord(dir)) recordContent(dir, KERNEL_CONTENT.filter((f) => existsSync(join(dir, f))));
  return { key, dir, bzImage: join(dir, 'bzImage'), config: join(dir, 'config'), meta, cacheHit: true, durationMs: 0, ...coverageOf(dir) };
}

function coverageOf(dir: string): { coverage?: string } {
  return existsSync(join(dir, COVERAGE_DIR)) ? { coverage: join(dir, COVERAGE_DIR) } : {};
}

/** Store a built kernel: staged, its content recorded, renamed into place. A full disk is a HostError. */
export function storeKernel(
  key: string,
  files: { bzImage: string; pvhKernel?: string; configText: string; patches: { name: string; file: string }[]; coverage?: { tree: string; objDir: string; sources: readonly string[] } },
  meta: KernelMeta,
): KernelArtifact {
  const dir = join(paths.kernels(), key);
  sweepStaging(paths.kernels());
  const tmp = stagingPath(dir);
  try {
    mkdirSync(tmp, { recursive: true });
    copyFileSync(files.bzImage, join(tmp, 'bzImage'));
    if (files.pvhKernel) copyFileSync(files.pvhKernel, join(tmp, PVH_KERNEL));
    writeFileSync(join(tmp, 'config'), files.configText);
    writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
    for (const p of files.patches) {
      mkdirSync(join(tmp, 'patches'), { recursive: true });
      copyFileSync(p.file, join(tmp, 'patches', p.name));
    }
    if (files.coverage) storeCoverageInputs(files.coverage, join(tmp, COVERAGE_DIR));
    recordContent(tmp, KERNEL_CONTENT.filter((f) => existsSync(join(tmp, f))));
    publishEntry(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (isNoSpace(e)) throw noSpaceError(`storing kernel ${key}`, paths.kernels(), e);
    throw e;
  }
  return { key, dir, bzImage: join(dir, 'bzImage'), config: join(dir, 'config'), meta, cacheHit: false, durationMs: 0, ...coverageOf(dir) };
}

/** What gcov needs beside a run's .gcda files, kept with the kernel: each instrumented object's
 * notes (.gcno) and its source (reports and the pin-site finder read the tree that was built). */
function storeCoverageInputs(c: { tree: string; objDir: string; sources: readonly string[] }, dest: string): void {
  for (const src of c.sources) {
    const gcno = join(c.objDir, gcovDataOf(src, 'gcno'));
    if (!existsSync(gcno)) continue; // not built into this kernel (its config or tree lacks it)
    for (const [from, to] of [
      [gcno, join(dest, 'gcno', gcovDataOf(src, 'gcno'))],
      [join(c.tree, src), join(dest, 'src', src)],
    ] as const) {
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
    }
  }
}

export async function buildKernel(
  tree: PreparedTree,
  config: { text: string },
  ctx: RunContext,
  opts: { logFile: string; compiler: string; jobs?: number; onLine?: (l: string) => void; coverage?: readonly string[] },
): Promise<KernelArtifact> {
  const t0 = Date.now();
  const { compiler } = opts;
  const patches = tree.patches.map((p) => ({ name: p.name, sha256: p.sha256 }));
  // a --source DIR tree can change under us without a new identity: never trust the cache there
  const cacheable = tree.source.spec.kind !== 'dir';
  const coverage = opts.coverage?.length ? [...opts.coverage] : undefined;
  const key = buildKey({ identity: tree.source.identity, patches, config: config.text, compiler, ...(coverage ? { coverage } : {}) });
  const hit = cacheable ? lookupArtifact(key) : undefined;
  if (hit) return { ...hit, durationMs: Date.now() - t0 };

  const step = { ...planBuild(tree, { jobs: opts.jobs, ccache: haveCcache(), ...(coverage ? { coverage } : {}) }), logFile: opts.logFile };
  try {
    await runStep(step, { signal: ctx.signal, onLine: opts.onLine });
  } catch (e) {
    if (e instanceof CommandError) {
      const log = existsSync(opts.logFile) ? readFileSync(opts.logFile, 'utf8') : e.stderrTail;
      const errs = firstErrors(log);
      const nospace = /No space left on device/.test(log);
      throw new BuildError(nospace ? 'kernel build failed: no space left on device' : 'kernel build failed', opts.logFile, errs, { cause: e });
    }
    throw e;
  }
  const release = readFileSync(join(tree.objDir, 'include/config/kernel.release'), 'utf8').trim();
  const meta: KernelMeta = {
    key,
    identity: tree.source.identity,
    commit: tree.commit,
    patches,
    configSha256: sha256(config.text),
    compiler,
    release,
    builtAt: new Date().toISOString(),
    buildMs: Date.now() - t0,
    ...(coverage ? { coverage } : {}),
  };
  // a config with PVH (pin-minimal.config has it) boots its vmlinux through QEMU's PVH entry
  const pvhKernel = /^CONFIG_PVH=y$/m.test(config.text) ? join(tree.objDir, 'arch/x86/boot/compressed/vmlinux.bin') : undefined;
  const stored = storeKernel(
    key,
    {
      bzImage: join(tree.objDir, 'arch/x86/boot/bzImage'),
      ...(pvhKernel && existsSync(pvhKernel) ? { pvhKernel } : {}),
      configText: config.text,
      patches: tree.patches,
      ...(coverage ? { coverage: { tree: tree.tree, objDir: tree.objDir, sources: coverage } } : {}),
    },
    meta,
  );
  return { ...stored, durationMs: Date.now() - t0 };
}
