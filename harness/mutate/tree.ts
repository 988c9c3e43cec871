// The tree the mutants change: the source base with the request's patches (the profile's series,
// --patch extras) made in a temporary index, as the kernel phase makes it, and the text of the
// instrumented sources read from that tree object. No worktree is touched, so --dry-run can list
// the mutants while another run builds.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RunContext } from '../context.js';
import { UserError } from '../errors.js';
import { runStep } from '../exec.js';
import { planPatchApply, readPatches, resolveSource, tempIndexFile, type ResolvedSource } from '../kernel/source.js';
import type { KernelRequest } from '../kernel/index.js';

export interface MutationTree {
  source: ResolvedSource;
  /** git tree id of base + patches */
  tree: string;
  /** path -> text of each wanted source the tree has */
  sources: Map<string, string>;
}

const git = (repo: string, args: string[]) => ({ phase: 'mutate:tree', argv: ['git', '-C', repo, ...args] });

export async function mutationTree(req: KernelRequest, files: readonly string[], ctx: RunContext): Promise<MutationTree> {
  if (req.source.kind === 'image') throw new UserError('pinlab mutate needs a kernel built from source, not a prebuilt image');
  if (req.source.kind === 'dir') {
    throw new UserError('pinlab mutate needs a managed source (a profile or --source git:REPO@REF): pinlab never edits a --source DIR tree', { hint: 'use --source git:DIR@HEAD' });
  }
  const source = await resolveSource(req.source, ctx);
  const repo = source.repo!;
  if (!existsSync(join(repo, '.git'))) throw new UserError(`${source.identity} is not imported into the cache yet`, { hint: `build it once first: pinlab build ${req.profile ? `-p ${req.profile}` : '-s ...'}` });
  const base = source.baseCommit ?? (await runStep(git(repo, ['rev-parse', 'pristine^{commit}']), { signal: ctx.signal })).stdout.trim();
  let tree = (await runStep(git(repo, ['rev-parse', `${base}^{tree}`]), { signal: ctx.signal })).stdout.trim();
  const patches = readPatches(req.patchFiles);
  if (patches.length) {
    const index = `${tempIndexFile(repo)}-mutate`;
    try {
      for (const step of planPatchApply(repo, base, patches, index)) {
        const { yields, badInput, ...s } = step;
        const r = await runStep(s, { signal: ctx.signal, allowFailure: Boolean(badInput) });
        if (r.exitCode !== 0) throw new UserError(`${s.argv.slice(3).join(' ')} failed: ${r.stderr.trim().split('\n')[0]}`);
        if (yields === 'tree') tree = r.stdout.trim();
      }
    } finally {
      rmSync(index, { force: true });
    }
  }
  const sources = new Map<string, string>();
  for (const f of files) {
    const r = await runStep(git(repo, ['cat-file', 'blob', `${tree}:${f}`]), { signal: ctx.signal, allowFailure: true });
    if (r.exitCode === 0) sources.set(f, r.stdout);
  }
  return { source, tree, sources };
}
