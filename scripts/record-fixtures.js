#!/usr/bin/env node
// Records fixtures from real run directories, so the tests read what `pinlab run` writes rather
// than hand-made stand-ins: the judge's saved observations, and a whole run directory that every
// report format is rendered from (test/unit/report-recorded.test.ts):
//
//   node scripts/record-fixtures.js ROLE=RUN_DIR...
//
// ROLE names what the run was (RECORDINGS says which workloads each role gives):
//   patched  npx pinlab run -p patched-6.1                 the series applied, pin evidence
//   hw       npx pinlab run -p patched-6.1 --hw nvme-mdts -f 'nvme-mdts.*'  a hardware variant
//   stock    npx pinlab run -p stock-6.1 -f raw-virtio.psync.anon            the unpatched reference
//            (the small run below has that workload too: stock=SMALL_RUN_DIR)
//   small    node scripts/record-small-run.js RUN_DIR: stock-6.1 with every status (XFAIL, PASS,
//            SKIP, and ERROR timeout and FAIL kernel-splat from a runner that hangs on purpose),
//            copied whole to test/fixtures/report/recorded-small/: the run the report tests and
//            their goldens in test/fixtures/report/golden/ render (UPDATE_GOLDEN=1 npx ava
//            dist/test/unit/report-golden.test.js)
//   report   npx pinlab run -p patched-6.1 --patch test/fixtures/planted/put-instead-of-unpin.patch \
//              --hw nvme-mdts -f 'ext2.psync.anon,raw-virtio.psync.anon,nvme-mdts.raw.psync.anon,raw-virtio.psync.thp'
//            a non-empty patchset (the series and a planted bug: FAIL pin-leak beside PASS), pin
//            evidence, a hardware variant: copied whole to test/fixtures/report/recorded/ (then
//            UPDATE_GOLDEN=1 npx ava dist/test/unit/report-recorded.test.js renders its goldens)
//   splat    npx pinlab run -p patched-6.1 --patch test/fixtures/planted/fops-simple-over-release.patch \
//              -f raw-virtio.psync.anon: the planted over-release makes the kernel WARN in mm/gup.c;
//            each verdict's kernel log as the guest read it (the observation's kmsg lines) becomes
//            test/fixtures/verdict/dmesg/recorded.<profile>.<workload>.log, and dmesg/index.json
//            lists the splats (kind, title) the run found in it, which the classifier test re-finds.
//            With --patch test/fixtures/planted/fops-simple-put-freed-page.patch instead, the page
//            freed while mapped stops the guest (bad page state, bad page map, VM_BUG_ON_PAGE): no
//            observation, the first such workload's splats from the console are recorded
//   provoked node scripts/record-splats.js DIR: one run per LKDTM provocation (patched-6.1 with
//            test/fixtures/config/lkdtm.config; a warning, BUG, NULL dereference, hung task, soft
//            lockup, RCU stall and panic under raw-virtio.psync.anon), DIR/<provocation>/ each;
//            each report as the run saw it (the observation's kmsg lines, or the console from the
//            provoke mark on when the report ended the guest) becomes
//            test/fixtures/verdict/dmesg/recorded.<profile>.<workload>.<provocation>.log, listed in
//            dmesg/index.json as the splat role's are, with what was provoked and the kind it must give
//
// For each workload: test/fixtures/verdict/observations/<profile>.<workload>.json holds the
// run's kernel identity, the run's background sample (meta.json), the observation file as the
// guest runner wrote it, and where it came from; index.json lists every fixture with the status
// and reasons the run itself gave it (run.json; an XFAIL is recorded as the FAIL that judge()
// returns before known states apply), which the test re-judges to. A role not given
// keeps its fixtures as they are, and the script says so.
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { classifyKernelLog } = await import(join(root, 'dist/harness/verdict/dmesg.js'));
const out = join(root, 'test/fixtures/verdict/observations');

/** Which workloads each kind of run gives the fixtures, and why each one is there. */
const RECORDINGS = {
  patched: [
    { workload: 'ext2.psyncv.anon.efault-midway', why: 'fs/direct-io.c with a fault half way: pins of failed ops, balanced' },
    { workload: 'ext4.psync.anon', why: 'iomap Direct I/O, one pin per page-op, by the pin evidence' },
    { workload: 'raw-virtio.fork-race.anon', why: 'fork during Direct I/O: the window hit, no data lost' },
  ],
  hw: [{ workload: 'nvme-mdts.nvme-passthru.passthru.anon.over-limit', why: 'a hardware variant: passthrough over a small MDTS; the commands over the limit fail, and pin and release their pages too' }],
  stock: [{ workload: 'raw-virtio.psync.anon', why: 'the unpatched reference: references, not pins' }],
  report: [],
  small: [],
  splat: [],
  provoked: [],
};
const RECORDED_RUN = join(root, 'test/fixtures/report/recorded');
const SMALL_RUN = join(root, 'test/fixtures/report/recorded-small');

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

const given = new Map();
for (const arg of process.argv.slice(2)) {
  const m = /^(\w+)=(.+)$/.exec(arg);
  if (!m || !(m[1] in RECORDINGS)) {
    process.stderr.write(`usage: record-fixtures.js ROLE=RUN_DIR... (roles: ${Object.keys(RECORDINGS).join(', ')}); got '${arg}'\n`);
    process.exit(2);
  }
  given.set(m[1], m[2]);
}

const reportRun = given.get('report');
if (reportRun) {
  const run = readJson(join(reportRun, 'run.json'));
  const problems = [
    run.kernel.patches.length > 0 ? '' : 'an empty patchset',
    run.verdicts.some((v) => v.status === 'FAIL') ? '' : 'no FAIL',
    run.verdicts.some((v) => v.status === 'PASS') ? '' : 'no PASS',
    run.verdicts.some((v) => v.numbers?.evidence === 'kprobe-hist') ? '' : 'no pin evidence',
    run.verdicts.some((v) => v.observation?.spec?.hw) ? '' : 'no hardware variant',
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`report run ${reportRun}: ${problems.join(', ')} (see the header for the run to record)`);
  rmSync(RECORDED_RUN, { recursive: true, force: true });
  cpSync(reportRun, RECORDED_RUN, { recursive: true });
  process.stdout.write(`report: ${RECORDED_RUN} from ${basename(reportRun)} (${run.verdicts.length} verdicts); now UPDATE_GOLDEN=1 npx ava dist/test/unit/report-recorded.test.js\n`);
}

const smallRun = given.get('small');
if (smallRun) {
  const run = readJson(join(smallRun, 'run.json'));
  const statuses = new Set(run.verdicts.map((v) => v.status));
  const missing = ['PASS', 'FAIL', 'XFAIL', 'ERROR', 'SKIP'].filter((s) => !statuses.has(s));
  if (run.kernel.profile !== 'stock-6.1') missing.push(`profile stock-6.1 (got ${run.kernel.profile})`);
  if (missing.length > 0) throw new Error(`small run ${smallRun} lacks ${missing.join(', ')} (make it with scripts/record-small-run.js)`);
  rmSync(SMALL_RUN, { recursive: true, force: true });
  cpSync(smallRun, SMALL_RUN, { recursive: true });
  process.stdout.write(`small: ${SMALL_RUN} from ${basename(smallRun)} (${run.verdicts.length} verdicts); now UPDATE_GOLDEN=1 npx ava dist/test/unit/report-golden.test.js\n`);
}

const splatRun = given.get('splat');
if (splatRun) {
  const dmesgDir = join(root, 'test/fixtures/verdict/dmesg');
  const run = readJson(join(splatRun, 'run.json'));
  const withSplats = run.verdicts.filter((v) => v.splats.length > 0 && existsSync(join(splatRun, 'observations', `${v.name}.json`)));
  // a report that stopped the guest leaves no observation: the first such workload's splats, as
  // the watchdog read them from the console, become recorded.<profile>.<workload>.<last patch>.log
  const stopped = run.verdicts.find((v) => v.splats.length > 0 && !existsSync(join(splatRun, 'observations', `${v.name}.json`)));
  if (withSplats.length === 0 && !stopped) throw new Error(`splat run ${splatRun}: no workload with a splat (see the header for the run to record)`);
  const dmesgIndexFile = join(dmesgDir, 'index.json');
  const dmesgIndex = new Map((existsSync(dmesgIndexFile) ? readJson(dmesgIndexFile) : []).map((e) => [e.file, e]));
  for (const v of withSplats) {
    const file = `recorded.${run.kernel.profile ?? 'kernel'}.${v.name}.log`;
    const { kmsg } = readJson(join(splatRun, 'observations', `${v.name}.json`));
    writeFileSync(join(dmesgDir, file), `${kmsg.join('\n')}\n`);
    const splats = v.splats.map((x) => ({ kind: x.kind, title: x.title, lines: x.lines.length }));
    dmesgIndex.set(file, { file, runId: run.runId, patches: run.kernel.patches.map((p) => p.file), splats });
    process.stdout.write(`splat: ${file} (${splats.map((x) => x.title).join('; ')}) from ${basename(splatRun)}\n`);
  }
  if (stopped) {
    const planted = run.kernel.patches.at(-1)?.file.replace(/\.patch$/, '') ?? 'console';
    const file = `recorded.${run.kernel.profile ?? 'kernel'}.${stopped.name}.${planted}.log`;
    writeFileSync(join(dmesgDir, file), `${stopped.splats.flatMap((x) => x.lines).join('\n')}\n`);
    const splats = stopped.splats.map((x) => ({ kind: x.kind, title: x.title, lines: x.lines.length }));
    dmesgIndex.set(file, { file, runId: run.runId, patches: run.kernel.patches.map((p) => p.file), verdict: `${stopped.status} ${stopped.reasons.join(',')}`, from: 'console', splats });
    process.stdout.write(`splat: ${file} (console: ${splats.map((x) => x.title).join('; ')}) from ${basename(splatRun)}\n`);
  }
  writeFileSync(dmesgIndexFile, `${JSON.stringify([...dmesgIndex.values()].sort((a, b) => a.file.localeCompare(b.file)), null, 2)}\n`);
}

// provoked: each DIR/<provocation>/ of scripts/record-splats.js, one real report per run
const provokedRuns = given.get('provoked');
if (provokedRuns) {
  const dmesgDir = join(root, 'test/fixtures/verdict/dmesg');
  const dmesgIndexFile = join(dmesgDir, 'index.json');
  const dmesgIndex = new Map((existsSync(dmesgIndexFile) ? readJson(dmesgIndexFile) : []).map((e) => [e.file, e]));
  const dirs = readdirSync(provokedRuns).filter((d) => existsSync(join(provokedRuns, d, 'provoke.json'))).sort();
  if (dirs.length === 0) throw new Error(`provoked runs ${provokedRuns}: no DIR/<provocation>/provoke.json (make them with scripts/record-splats.js)`);
  for (const d of dirs) {
    const runDir = join(provokedRuns, d);
    const provoke = readJson(join(runDir, 'provoke.json'));
    const run = readJson(join(runDir, 'run.json'));
    const v = run.verdicts.find((x) => x.name === provoke.workload);
    // the workload's kmsg lines as the guest runner read them when it finished the workload
    // (the FAIL kernel-splat verdict is judged from them); when it could not finish the workload (a spinning
    // CPU, a panic) the guest's console from the provoke runner's mark to the end of the first
    // report of the provoked kind (a panic: to the end). Either way index.json lists what the classifier finds there now.
    const obsFile = join(runDir, 'observations', `${v?.name}.json`);
    let lines;
    let from;
    let found;
    if (v && existsSync(obsFile)) {
      lines = readJson(obsFile).kmsg;
      from = 'observation';
      found = classifyKernelLog(lines);
    } else {
      const consoleLines = readFileSync(join(runDir, 'vm', 'console.log'), 'utf8').replace(/\r\n/g, '\n').split('\n');
      const mark = consoleLines.findIndex((l) => l.includes(`pinlab: provoke ${provoke.provocation}:`));
      if (mark < 0) throw new Error(`provoked run ${runDir}: no observation, and no provoke mark on the console`);
      const after = consoleLines.slice(mark);
      const first = classifyKernelLog(after).find((x) => x.kind === provoke.kind);
      const last = first ? after.indexOf(first.lines.at(-1), after.indexOf(first.lines[0])) : -1;
      // a panic is the guest's last report: all of it, to the end of the console
      lines = last >= 0 && provoke.kind !== 'panic' ? after.slice(0, last + 1) : after.filter((l, i) => l !== '' || i < after.length - 1);
      from = 'console';
      found = classifyKernelLog(lines);
    }
    if (!found.some((x) => x.kind === provoke.kind)) {
      throw new Error(`provoked run ${runDir}: no ${provoke.kind} report under ${provoke.workload} (${v ? `${v.status} ${found.map((x) => x.kind).join(',')}` : 'no verdict'}); see its logs/runner.log and vm/console.log`);
    }
    const file = `recorded.${run.kernel.profile ?? 'kernel'}.${provoke.workload}.${provoke.provocation}.log`;
    writeFileSync(join(dmesgDir, file), `${lines.join('\n')}\n`);
    const splats = found.map((x) => ({ kind: x.kind, title: x.title, lines: x.lines.length }));
    dmesgIndex.set(file, {
      file,
      runId: run.runId,
      patches: run.kernel.patches.map((p) => p.file),
      provoked: { lkdtm: provoke.lkdtm, kind: provoke.kind, ...(provoke.knobs.length ? { knobs: Object.fromEntries(provoke.knobs) } : {}), verdict: v ? `${v.status}${v.reasons.length ? ` ${v.reasons.join(',')}` : ''}${v.cause ? ` ${v.cause}` : ''}` : 'none', from },
      splats,
    });
    process.stdout.write(`provoked: ${file} (${from}: ${splats.map((x) => x.title).join('; ')}) from ${basename(runDir)}\n`);
  }
  writeFileSync(dmesgIndexFile, `${JSON.stringify([...dmesgIndex.values()].sort((a, b) => a.file.localeCompare(b.file)), null, 2)}\n`);
}

const indexFile = join(out, 'index.json');
const index = existsSync(indexFile) ? readJson(indexFile) : [];
const byFile = new Map(index.map((e) => [e.file, e]));

for (const [role, wanted] of Object.entries(RECORDINGS)) {
  const runDir = given.get(role);
  if (!runDir) {
    process.stdout.write(`${role}: no run given, its fixtures stay as they are\n`);
    continue;
  }
  if (wanted.length === 0) continue;
  const run = readJson(join(runDir, 'run.json'));
  const meta = readJson(join(runDir, 'meta.json'));
  for (const { workload, why } of wanted) {
    const obsFile = join(runDir, 'observations', `${workload}.json`);
    const verdict = run.verdicts.find((v) => v.name === workload);
    if (!existsSync(obsFile) || !verdict) throw new Error(`${role} run ${runDir} has no ${workload} (observation and verdict): run it with that workload`);
    const file = `${run.kernel.profile ?? 'kernel'}.${workload}.json`;
    const fixture = {
      kernel: run.kernel,
      note: `recorded by scripts/record-fixtures.js from pinlab run ${run.runId} (${run.kernel.profile}, ${run.host?.accel ?? '?'}): ${why}`,
      background: meta.background,
      observation: readJson(obsFile),
    };
    writeFileSync(join(out, file), `${JSON.stringify(fixture, null, 2)}\n`);
    const status = verdict.status === 'XFAIL' ? 'FAIL' : verdict.status;
    byFile.set(file, { file, runId: run.runId, status, reasons: verdict.reasons, ...(verdict.knownState ? { knownState: verdict.knownState } : {}) });
    process.stdout.write(`${role}: ${file} (${verdict.status}${verdict.reasons.length ? ` ${verdict.reasons.join(',')}` : ''}) from ${basename(runDir)}\n`);
  }
}
writeFileSync(indexFile, `${JSON.stringify([...byFile.values()].sort((a, b) => a.file.localeCompare(b.file)), null, 2)}\n`);
