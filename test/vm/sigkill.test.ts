// SIGKILL pinlab (here: the boot driver, which boots the way the CLI does) at random moments:
// no teardown runs, yet no QEMU of its may be alive 5 s later (the parent-death signal ends it),
// and the next boot on the same cache removes what the killed one left (live-runs.ts).
import { join } from 'node:path';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnStep } from '../../harness/exec.js';
import { createContext } from '../../harness/context.js';
import { paths, repoRoot } from '../../harness/config.js';
import { ensureBaseImage } from '../../harness/vm/image.js';
import { kernel, leftovers, processesMentioning, SKIP_REASON, tempParent, vmTest } from './helpers.js';

const vmt = vmTest();
const ROUNDS = Math.max(10, Number(process.env.PINLAB_SIGKILL_ROUNDS ?? 10));
const driver = join(repoRoot, 'dist/test/vm/boot-driver.js');
/** the bound: no QEMU survives pinlab by more than this */
const SURVIVAL_BOUND_MS = 5000;

/** Registry entries (live VM runs) that point into dir. */
function registeredUnder(dir: string): string[] {
  const reg = join(paths.state(), 'live-vms');
  let names: string[] = [];
  try {
    names = readdirSync(reg);
  } catch {
    return [];
  }
  return names.filter((n) => {
    try {
      return readFileSync(join(reg, n), 'utf8').includes(dir);
    } catch {
      return false;
    }
  });
}

vmt(`${ROUNDS} SIGKILLs at random moments leave no QEMU after 5 s and no stale state after the next boot`, async (t) => {
  t.timeout((ROUNDS + 1) * 60_000);
  if (!kernel || SKIP_REASON) return;
  await ensureBaseImage(createContext({ log: () => undefined }));
  const parent = await tempParent();
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const runDir = join(parent, `r${i}`);
      // a third each: anywhere in the boot; an idle guest after readiness; during a guest command
      const when = (['boot', 'ready', 'command'] as const)[i % 3]!;
      const delayMs = Math.floor(Math.random() * (when === 'boot' ? 5000 : 1500));
      const argv = [process.execPath, driver, '--kernel', kernel, '--run-dir', runDir, ...(when === 'command' ? ['--cmd', 'sleep 30'] : []), '--hold'];
      const events: string[] = [];
      const child = spawnStep({ phase: 'test:driver', argv, timeoutMs: 120_000 }, { onLine: (l) => events.push(/"event":"(\w+)"/.exec(l)?.[1] ?? '') });
      while (!events.includes(when === 'boot' ? 'started' : 'ready') && child.exitCode === null) await sleep(20);
      await sleep(delayMs);
      const qemuBefore = processesMentioning(runDir).filter((p) => p.cmdline.startsWith('qemu-system')).length;
      child.kill('SIGKILL');
      const r = await child;
      t.is(r.signal, 'SIGKILL', `round ${i}: the driver ended on its own (${r.exitCode}): ${String(r.stdout ?? '').slice(-600)} ${String(r.stderr ?? '').slice(-300)}`);
      const t0 = Date.now();
      let left = processesMentioning(runDir);
      while (left.length > 0 && Date.now() - t0 < SURVIVAL_BOUND_MS) {
        await sleep(50);
        left = processesMentioning(runDir);
      }
      t.log(`round ${i}: SIGKILL ${delayMs} ms after ${when === 'boot' ? 'start' : 'ready'}${when === 'command' ? ' (in a guest command)' : ''}, QEMU running: ${qemuBefore > 0}, its processes gone after ${Date.now() - t0} ms`);
      t.deepEqual(left.map((p) => p.cmdline.slice(0, 80)), [], `round ${i}: processes alive ${SURVIVAL_BOUND_MS} ms after SIGKILL`);
    }
    // the next boot on this cache sweeps what the killed ones left
    const next = await spawnStep({ phase: 'test:driver', argv: [process.execPath, driver, '--kernel', kernel, '--run-dir', join(parent, 'next'), '--cmd', 'true'], timeoutMs: 120_000 });
    t.is(next.exitCode, 0, String(next.stderr ?? '').slice(-500));
    t.deepEqual(readdirSync(parent).flatMap((d) => leftovers(join(parent, d)).map((f) => `${d}/${f}`)), [], 'run files left after the next boot');
    t.deepEqual(registeredUnder(parent), [], 'registry entries left after the next boot');
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
