// A directory tree as a newc cpio archive (an initramfs piece): planned as a Step for exec.ts.
// The guest image (vm/image.ts), an image kernel's modules (kernel/image.ts) and the KVM probe
// (vm/accel.ts) all pack their trees this way.
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Step } from './exec.js';

async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      out.push(relative(root, p));
      if (e.isDirectory()) await walk(p);
    }
  }
  await walk(root);
  return out.sort();
}

/** `cpio -o` of a whole directory tree, owned by root. */
export async function cpioStep(tree: string, out: string, phase: string): Promise<Step> {
  const names = await listTree(tree);
  return {
    phase,
    argv: ['cpio', '-o', '-H', 'newc', '-R', '0:0', '--reproducible', '--quiet', '-O', out],
    cwd: tree,
    input: `${names.join('\n')}\n`,
    timeoutMs: 120_000,
  };
}
