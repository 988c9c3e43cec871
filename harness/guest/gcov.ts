// The kernel's gcov counters in the guest (CONFIG_GCOV_KERNEL, Documentation/dev-tools/gcov.rst):
// /sys/kernel/debug/gcov mirrors the build's object tree (its absolute path on the host), with a
// .gcda per instrumented object and a `reset` file that zeroes every counter.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COVERAGE_SOURCES, gcovDataOf } from '../coverage/objects.js';
import type { GcovCounters } from './runner.js';

const GCOV_ROOT = '/sys/kernel/debug/gcov';

/** The .gcda files of the instrumented sources under the gcov root: <src>.gcda -> debugfs path. */
function findGcda(root: string): Map<string, string> {
  const wanted = COVERAGE_SOURCES.map((s) => gcovDataOf(s, 'gcda'));
  const out = new Map<string, string>();
  for (const rel of readdirSync(root, { recursive: true }) as string[]) {
    if (!rel.endsWith('.gcda')) continue;
    const src = wanted.find((w) => rel === w || rel.endsWith(`/${w}`));
    if (src) out.set(src, join(root, rel));
  }
  return out;
}

/** The counters, or undefined when this kernel instruments none of the pin-path objects. */
export function linuxGcov(root = GCOV_ROOT): GcovCounters | undefined {
  if (!existsSync(join(root, 'reset'))) return undefined;
  const files = findGcda(root);
  if (files.size === 0) return undefined;
  return {
    reset: () => writeFileSync(join(root, 'reset'), '1\n'),
    read: () => Object.fromEntries([...files].map(([rel, path]) => [rel, readFileSync(path).toString('base64')])),
  };
}
