// A kernel that cannot start its init must come back as a classified BootError, fast.
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { createContext } from '../../harness/context.js';
import { BootError } from '../../harness/errors.js';
import { bootToReady } from '../../harness/vm/runner.js';
import { kernel, leftovers, processesMentioning, SKIP_REASON, tempParent, vmTest } from './helpers.js';
import { productionSpec } from './production-spec.js';

const vmt = vmTest();

async function bootExpectingFailure(extra: string[], bootTimeoutMs: number) {
  const ctx = createContext({ log: () => undefined });
  const parent = await tempParent();
  const runDir = join(parent, 'run');
  const spec = await productionSpec(ctx, { kernel: kernel!, runDir, cmdline: extra, workloads: [], bootTimeoutMs });
  const t0 = Date.now();
  try {
    const error = await bootToReady(spec, ctx).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { error, ms: Date.now() - t0, runDir, ctx, parent };
  } finally {
    await ctx.teardown.runAll();
  }
}

vmt('rdinit=/nonexistent: BootError init-died with the console tail, well within the timeout', async (t) => {
  if (!kernel || SKIP_REASON) return;
  // the panic is read off the console as it happens: half the timeout is "well within" even
  // on a loaded TCG host (a ready boot takes ~1.5 s on a quiet one)
  const timeoutMs = 120_000;
  const r = await bootExpectingFailure(['rdinit=/nonexistent'], timeoutMs);
  try {
    t.true(r.error instanceof BootError, String(r.error));
    const e = r.error as BootError;
    t.is(e.kind, 'init-died');
    t.regex(e.message, /Unable to mount root fs/);
    t.regex(e.consoleTail, /Kernel panic/);
    t.is(e.logPath, join(r.runDir, 'console.log'));
    t.true(r.ms < timeoutMs / 2, `took ${r.ms} ms of the ${timeoutMs} ms timeout`);
    t.deepEqual(processesMentioning(r.runDir), []);
    t.deepEqual(leftovers(r.runDir), []);
  } finally {
    rmSync(r.parent, { recursive: true, force: true });
  }
});

vmt('a guest that never gets ready: BootError timeout, QEMU ended', async (t) => {
  if (!kernel || SKIP_REASON) return;
  // init= is ignored for an initramfs; rdinit=/bin/sh starts a shell that never prints the marker
  const timeoutMs = 8_000;
  const r = await bootExpectingFailure(['rdinit=/bin/sh'], timeoutMs);
  try {
    t.true(r.error instanceof BootError, String(r.error));
    t.is((r.error as BootError).kind, 'timeout');
    // how long QEMU took to end is the process check below, not a wall-clock guess under TCG
    t.true(r.ms >= timeoutMs, `the error came after the ${timeoutMs} ms timeout, not before (${r.ms} ms)`);
    t.deepEqual(processesMentioning(r.runDir), []);
    t.deepEqual(leftovers(r.runDir), []);
  } finally {
    rmSync(r.parent, { recursive: true, force: true });
  }
});
