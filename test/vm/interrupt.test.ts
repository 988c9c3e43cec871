// Interrupt boots with SIGINT/SIGTERM at seeded random moments in each phase of a boot (before
// QEMU starts, while the guest boots, after it is ready); afterwards no QEMU of ours may remain
// and the run directory may hold nothing but logs. Each round asserts the phase its signal landed
// in, so a round that missed its phase fails instead of quietly testing another one; the seed
// (PINLAB_INTERRUPT_SEED, logged) replays a run's delays. Each boot runs in a driver child
// process (boot-driver.js) that handles signals the way the CLI does.
import { join } from 'node:path';
import { readdirSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnStep } from '../../harness/exec.js';
import { createContext } from '../../harness/context.js';
import { repoRoot } from '../../harness/config.js';
import { ensureBaseImage } from '../../harness/vm/image.js';
import { isAlive, kernel, leftovers, processesMentioning, SKIP_REASON, tempParent, vmTest } from './helpers.js';

const vmt = vmTest();
const ROUNDS = Number(process.env.PINLAB_INTERRUPT_ROUNDS ?? 12);
const SEED = Number(process.env.PINLAB_INTERRUPT_SEED ?? 28);
const driver = join(repoRoot, 'dist/test/vm/boot-driver.js');

/** mulberry32: a small seeded generator of [0, 1). */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Phase = 'before QEMU' | 'during boot' | 'after ready';
/**
 * Where each phase starts (the driver's start, QEMU's process, the ready event) and how long
 * after it a signal may come and still land in it: the driver measures the host TSC (2 x 20 ms)
 * and probes before it starts QEMU; the guest takes ~1.3 s from QEMU's start to ready on a quiet
 * machine, longer under load; after ready the guest idles until the signal.
 */
const PHASES: { phase: Phase; within: number }[] = [
  { phase: 'before QEMU', within: 10 },
  { phase: 'during boot', within: 300 },
  { phase: 'after ready', within: 1500 },
];

vmt(`${ROUNDS} boots interrupted at random moments leave no QEMU and no temp files`, async (t) => {
  t.timeout(ROUNDS * 60_000);
  if (!kernel || SKIP_REASON) return;
  // build the image up front so the interrupts land in the boot, not in the image build
  await ensureBaseImage(createContext({ log: () => undefined }));
  const parent = await tempParent();
  const random = seeded(SEED);
  t.log(`PINLAB_INTERRUPT_SEED=${SEED}`);
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const runDir = join(parent, `r${i}`);
      const signal = i % 2 === 0 ? 'SIGINT' : 'SIGTERM';
      const { phase: aim, within } = PHASES[i % PHASES.length]!;
      const delayMs = Math.floor(random() * within);
      const events: string[] = [];
      const qemuPids = new Set<number>();
      const lookForQemu = () => {
        for (const p of processesMentioning(runDir)) if (p.cmdline.startsWith('qemu-system')) qemuPids.add(p.pid);
      };
      const child = spawnStep(
        { phase: 'test:driver', argv: [process.execPath, driver, '--kernel', kernel, '--run-dir', runDir, '--hold'], timeoutMs: 120_000 },
        { onLine: (l) => events.push(/"event":"(\w+)"/.exec(l)?.[1] ?? '') },
      );
      // the phase's start: polled every 5 ms (QEMU's process has no event of its own)
      const started = () => (aim === 'before QEMU' ? events.includes('started') : aim === 'during boot' ? (lookForQemu(), qemuPids.size > 0) : events.includes('ready'));
      while (!started() && child.exitCode === null) await sleep(5);
      await sleep(delayMs);
      lookForQemu();
      const landed: Phase = events.includes('ready') ? 'after ready' : qemuPids.size > 0 ? 'during boot' : 'before QEMU';
      child.kill(signal);
      const r = await child;
      t.log(`round ${i}: ${signal} ${delayMs} ms into '${aim}', landed '${landed}', driver exit ${r.exitCode ?? r.signal}`);
      t.is(landed, aim, `round ${i}: the signal ${delayMs} ms into '${aim}' landed '${landed}' (seed ${SEED})`);
      t.is(r.exitCode, 130, `round ${i}: ${String(r.stderr ?? '').slice(-500)}`);
      for (const pid of qemuPids) t.false(isAlive(pid), `round ${i}: QEMU ${pid} survived`);
      t.deepEqual(processesMentioning(runDir), [], `round ${i}: processes left`);
      t.deepEqual(leftovers(runDir), [], `round ${i}: files left`);
    }
    t.deepEqual(
      readdirSync(parent).flatMap((d) => leftovers(join(parent, d))),
      [],
    );
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});
