// A kernel that cannot start its init must come back as a classified BootError, fast.
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { createContext } from '../../harness/context.js';
import { BASE_CMDLINE } from '../../harness/config.js';
import { BootError } from '../../harness/errors.js';
import { ensureBaseImage } from '../../harness/vm/image.js';
import { makeVmSpec } from '../../harness/vm/spec.js';
import { bootToReady } from '../../harness/vm/runner.js';
import { kernel, leftovers, processesMentioning, SKIP_REASON, tempParent, vmTest } from './helpers.js';

const vmt = vmTest();

async function bootExpectingFailure(extra: string[], bootTimeoutMs: number) {
  const ctx = createContext({ log: () => undefined });
  const parent = await tempParent();
  const runDir = join(parent, 'run');
  const image = await ensureBaseImage(ctx);
  const t0 = Date.now();
  try {
    const error = await bootToReady(
      makeVmSpec({ kernel: kernel!, runDir, baseInitrd: image.cpio, baseCmdline: BASE_CMDLINE, extraCmdline: extra, bootTimeoutMs, disks: [] }),
      ctx,
    ).then(
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
  const r = await bootExpectingFailure(['rdinit=/nonexistent'], 60_000);
  try {
    t.true(r.error instanceof BootError, String(r.error));
    const e = r.error as BootError;
    t.is(e.kind, 'init-died');
    t.regex(e.message, /Unable to mount root fs/);
    t.regex(e.consoleTail, /Kernel panic/);
    t.is(e.logPath, join(r.runDir, 'console.log'));
    t.true(r.ms < 20_000, `took ${r.ms} ms`);
    t.deepEqual(processesMentioning(r.runDir), []);
    t.deepEqual(leftovers(r.runDir), []);
  } finally {
    rmSync(r.parent, { recursive: true, force: true });
  }
});

vmt('a guest that never gets ready: BootError timeout, QEMU ended', async (t) => {
  if (!kernel || SKIP_REASON) return;
  // init= is ignored for an initramfs; rdinit=/bin/sh starts a shell that never prints the marker
  const r = await bootExpectingFailure(['rdinit=/bin/sh'], 8_000);
  try {
    t.true(r.error instanceof BootError, String(r.error));
    t.is((r.error as BootError).kind, 'timeout');
    t.true(r.ms < 20_000, `took ${r.ms} ms`);
    t.deepEqual(processesMentioning(r.runDir), []);
    t.deepEqual(leftovers(r.runDir), []);
  } finally {
    rmSync(r.parent, { recursive: true, force: true });
  }
});
