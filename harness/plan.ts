// Pure planning for --dry-run and tests: a request becomes the list of commands pinlab would run,
// each an argv array. Execution modules run the same planX() functions' steps (planImport,
// planTree, planConfig, planBuild), so what --dry-run shows is what runs; `<tree>` and `<commit>`
// stand for what an earlier step prints. (Resolving a git ref reads the repository; nothing is
// written or built.)
import { join } from 'node:path';
import type { RunContext } from './context.js';
import type { Step } from './exec.js';
import { planBuild, haveCcache } from './kernel/build.js';
import { planConfig } from './kernel/config.js';
import type { ImageRef } from './config.js';
import type { KernelRequest } from './kernel/index.js';
import { planImport, planTree, readPatches, resolveSource, slotName, type PreparedTree } from './kernel/source.js';

export interface PlannedStep {
  phase: string;
  argv: string[];
  cwd?: string;
  note?: string;
}

function planned(s: Step, note?: string): PlannedStep {
  return { phase: s.phase, argv: s.argv, ...(s.cwd ? { cwd: s.cwd } : {}), ...(note ? { note } : {}) };
}

export async function planKernel(req: KernelRequest, ctx: RunContext): Promise<PlannedStep[]> {
  if (req.source.kind === 'image') return planImageKernel(req.source.image);
  const patches = readPatches(req.patchFiles);
  const src = await resolveSource(req.source, ctx);
  const out: PlannedStep[] = [];
  const imp = planImport(src);
  out.push(...imp.map((s) => planned(s, 'once per source base')));
  const plan = planTree(src, patches, slotName(patches, req.series));
  out.push(...plan.steps.map((s) => planned(s)));
  const tree: PreparedTree = { source: src, tree: plan.tree, objDir: plan.objDir, patches };
  out.push(...planConfig(tree, req.fragments, join(tree.tree, '.pinlab-cfg')).map((s) => planned(s)));
  out.push({ phase: 'kernel:config', argv: ['cp', join(tree.tree, '.pinlab-cfg', '.config'), join(tree.objDir, '.config')], note: 'only when the config changed; every fragment symbol is checked first' });
  out.push(planned(planBuild(tree, { ccache: haveCcache() }), 'skipped on a cache hit (key: source identity, patches, .config, compiler)'));
  return out;
}

/** A prebuilt image: fetched and unpacked once into the cache (kernel/image.ts), never built. */
function planImageKernel(image: ImageRef): PlannedStep[] {
  if (image.kind === 'file') return [{ phase: 'kernel:image', argv: ['depmod', '-b', '<copy of --modules>', '<release>'], note: `boots ${image.kernel} as is; only when --modules has no modules.dep` }];
  const pkg = `${image.pkg}${image.version ? `=${image.version}` : ''}`;
  return [
    { phase: 'kernel:image', argv: ['apt-cache', 'show', '--no-all-versions', pkg] },
    { phase: 'kernel:image', argv: ['apt-get', 'download', '-q', `${image.pkg}=<version>`], cwd: '<cache>/debs', note: 'once per package version' },
    { phase: 'kernel:image', argv: ['dpkg-deb', '-x', '<deb>', '<unpack>'], note: 'once per .deb (cache key: its sha256)' },
    { phase: 'kernel:image', argv: ['depmod', '-b', '<unpack>', '<release>'] },
    { phase: 'kernel:image:cpio', argv: ['cpio', '-o', '-H', 'newc', '-R', '0:0', '--reproducible', '--quiet', '-O', '<cache>/kernels/<key>/modules.cpio'], note: 'the modules the guest loads' },
  ];
}

export function formatPlan(steps: PlannedStep[]): string {
  return steps.map((s) => `${s.phase.padEnd(14)} ${JSON.stringify(s.argv)}${s.note ? `  # ${s.note}` : ''}`).join('\n');
}
