// A step marked diesWithParent does not outlive the process that started it, even when that
// process is SIGKILLed (no teardown runs): the way QEMU and make are started.
import test from 'ava';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot } from '../../harness/config.js';

function alive(pid: number): boolean {
  try {
    return /^State:\s+[^Z]/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Start `sleep 300` through spawnStep in a child node, SIGKILL that node, return the sleep's PID. */
async function orphanOf(diesWithParent: boolean): Promise<number> {
  const script = `
    const { spawnStep } = await import(${JSON.stringify(join(repoRoot, 'dist/harness/exec.js'))});
    const c = spawnStep({ phase: 'test', argv: ['sleep', '300'], diesWithParent: ${diesWithParent} });
    console.log(c.pid);
    setInterval(() => {}, 1000);`;
  const node = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false });
  const pid = await new Promise<number>((resolve) => node.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  await sleep(300); // past the exec of setpriv and sh
  node.kill('SIGKILL');
  await node;
  return pid;
}

test('diesWithParent: the step is gone within 5 s of a SIGKILL of its parent; without it, it lives on', async (t) => {
  const guarded = await orphanOf(true);
  const t0 = Date.now();
  while (alive(guarded) && Date.now() - t0 < 5000) await sleep(20);
  t.false(alive(guarded), 'the guarded step survived its parent');
  const unguarded = await orphanOf(false);
  await sleep(500);
  const survived = alive(unguarded);
  if (survived) process.kill(unguarded, 'SIGKILL');
  t.true(survived, 'control: an unguarded step outlives a SIGKILLed parent');
});
