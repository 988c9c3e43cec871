// Interrupt boots with SIGINT/SIGTERM at random moments; afterwards no QEMU of ours may remain
// and the run directory may hold nothing but logs. Each boot runs in a driver child process
// (boot-driver.js) that handles signals the way the CLI does.
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
const driver = join(repoRoot, 'dist/test/vm/boot-driver.js');

vmt(`${ROUNDS} boots interrupted at random moments leave no QEMU and no temp files`, async (t) => {
  t.timeout(ROUNDS * 60_000);
  if (!kernel || SKIP_REASON) return;
  // build the image up front so the interrupts land in the boot, not in the image build
  await ensureBaseImage(createContext({ log: () => undefined }));
  const parent = await tempParent();
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const runDir = join(parent, `r${i}`);
      const signal = i % 2 === 0 ? 'SIGINT' : 'SIGTERM';
      // two rounds in three land anywhere in the boot (host preparation, QEMU start, kernel,
      // init, ssh handshake); every third one after readiness, while the VM is in use
      const afterReady = i % 3 === 2;
      const delayMs = Math.floor(Math.random() * (afterReady ? 1500 : 9000));
      const events: string[] = [];
      const qemuPids = new Set<number>();
      const child = spawnStep(
        { phase: 'test:driver', argv: [process.execPath, driver, '--kernel', kernel, '--run-dir', runDir, '--hold'], timeoutMs: 120_000 },
        { onLine: (l) => events.push(/"event":"(\w+)"/.exec(l)?.[1] ?? '') },
      );
      const waitFor = async (event: string) => {
        while (!events.includes(event) && child.exitCode === null) await sleep(20);
      };
      await waitFor(afterReady ? 'ready' : 'started');
      const t0 = Date.now();
      while (Date.now() - t0 < delayMs && child.exitCode === null) {
        for (const p of processesMentioning(runDir)) if (p.cmdline.startsWith('qemu-system')) qemuPids.add(p.pid);
        await sleep(20);
      }
      for (const p of processesMentioning(runDir)) if (p.cmdline.startsWith('qemu-system')) qemuPids.add(p.pid);
      const phase = events.includes('ready') ? 'after ready' : qemuPids.size > 0 ? 'during boot' : 'before QEMU';
      child.kill(signal);
      const r = await child;
      t.log(`round ${i}: ${signal} ${delayMs} ms after ${afterReady ? 'ready' : 'start'} (${phase}), driver exit ${r.exitCode ?? r.signal}`);
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
