#!/usr/bin/env node
// False-alarm check: run the whole suite N times on one kernel and count verdicts.
//   node scripts/false-alarms.js N -- [pinlab run options...]
// e.g. node scripts/false-alarms.js 20 -- -p patched-6.1
// A kernel that is correct must give PASS (or SKIP with a reason) every time: any FAIL, XFAIL
// or ERROR is listed with its message. Exit 1 when any run had one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [nText, sep, ...runArgs] = process.argv.slice(2);
const n = Number(nText);
if (!Number.isInteger(n) || n < 1 || sep !== '--') {
  process.stderr.write('usage: node scripts/false-alarms.js N -- [pinlab run options...]\n');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'pinlab-false-alarms-'));
const counts = {};
const alarms = [];
let runs = 0;
const t0 = Date.now();
try {
  for (let i = 1; i <= n; i++) {
    const json = join(dir, `run-${i}.json`);
    const r = spawnSync(process.execPath, [join(root, 'bin/pinlab.js'), 'run', '--json', json, ...runArgs], { stdio: ['ignore', 'ignore', 'inherit'] });
    let result;
    try {
      result = JSON.parse(readFileSync(json, 'utf8'));
    } catch {
      alarms.push(`run ${i}: no result (exit ${r.status})`);
      continue;
    }
    runs++;
    for (const v of result.verdicts) {
      counts[v.status] = (counts[v.status] ?? 0) + 1;
      if (v.status !== 'PASS' && v.status !== 'SKIP') alarms.push(`run ${i} ${result.runId}: ${v.name} ${v.status} ${v.reasons.join(',')} ${v.cause ?? ''} ${v.message}`);
    }
    process.stdout.write(`run ${i}/${n} ${result.runId}: exit ${r.status}\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const total = Object.values(counts).reduce((a, b) => a + b, 0);
process.stdout.write(`\n${runs} of ${n} runs reported, ${total} verdicts: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')} in ${Math.round((Date.now() - t0) / 1000)} s\n`);
for (const a of alarms) process.stdout.write(`${a}\n`);
process.stdout.write(`${alarms.length} false alarm(s)\n`);
process.exit(alarms.length > 0 ? 1 : 0);
