#!/usr/bin/env node
// Records the console logs of real failed boots for the boot-failure classifier
// (test/unit/vm-console.test.ts): each case boots the kernel as `pinlab run` does
// (test/vm/boot-driver.ts), fails it on purpose, and keeps the guest's console log as
// test/fixtures/vm/recorded.<case>.log; recorded.json lists the kind and title the live harness
// gave each (its BootError), which the test classifies the log to again.
//
//   npm run build && node scripts/record-boot-failures.js BZIMAGE
//
// BZIMAGE: a cached kernel, e.g. the one `npx pinlab build -p stock-6.1 --json F` names.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'test/fixtures/vm');

/** Each case: how the boot is made to fail. */
const CASES = {
  'init-died': { why: 'no initramfs init (rdinit=/nonexistent): the kernel cannot mount a root', args: ['--append', 'rdinit=/nonexistent'] },
  'sysrq-panic': { why: 'a panic after the ready marker (echo c > /proc/sysrq-trigger)', args: ['--cmd', 'echo c > /proc/sysrq-trigger'] },
};

const kernel = process.argv[2];
if (!kernel) {
  process.stderr.write('usage: record-boot-failures.js BZIMAGE\n');
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'pinlab-record-boot-'));
const index = [];
try {
  for (const [name, { why, args }] of Object.entries(CASES)) {
    const runDir = join(work, name);
    let stdout = '';
    try {
      stdout = execFileSync(process.execPath, [join(root, 'dist/test/vm/boot-driver.js'), '--kernel', kernel, '--run-dir', runDir, '--boot-timeout', '120000', ...args], { encoding: 'utf8' });
    } catch (e) {
      stdout = e.stdout ?? '';
    }
    const error = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.event === 'error');
    if (!error?.kind) throw new Error(`${name}: the boot did not fail as a BootError:\n${stdout}`);
    const title = /^[^(]*\([^)]*\): (.*)$/.exec(error.message)?.[1] ?? error.message;
    const file = `recorded.${name}.log`;
    copyFileSync(error.logPath, join(out, file));
    index.push({ file, why, kind: error.kind, title });
    process.stdout.write(`${file}: ${error.kind}: ${title}\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
writeFileSync(join(out, 'recorded.json'), `${JSON.stringify({ kernel, cases: index }, null, 2)}\n`);
