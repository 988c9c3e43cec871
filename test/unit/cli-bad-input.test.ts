// Bad input to every subcommand, tried as a new user would: missing, truncated, wrong-schema and
// foreign inputs, files that are not kernels, options that would be ignored. Each is one line
// (and at most a hint), the documented exit code (2: usage; `check` speaks git bisect's 255), no
// stack, and nothing written: not in the current directory, the runs directory or the cache.
import test from 'ava';
import { execa } from 'execa';
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { EXIT } from '../../harness/outcome.js';
import { testTempDir } from '../tmp.js';

const BISECT_ABORT = 255;

/** A working directory with one input of each kind, and empty runs and cache directories. */
function workspace(): string {
  const dir = testTempDir('pinlab-bad-input-');
  for (const d of ['empty', 'truncated', 'other-version', 'foreign', 'runs', 'cache']) mkdirSync(join(dir, d));
  writeFileSync(join(dir, 'truncated/run.json'), '{"schema": "pinlab.run/1", "runId": "2025');
  writeFileSync(join(dir, 'other-version/run.json'), JSON.stringify({ schema: 'pinlab.run/0', runId: 'x', verdicts: [], kernel: {} }));
  cpSync(join(repoRoot, 'package.json'), join(dir, 'foreign/run.json'));
  writeFileSync(join(dir, 'notes.txt'), 'not a kernel\n');
  return dir;
}

/** Every file under dir, relative to it. */
function tree(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [`${prefix}${e.name}/`, ...tree(dir, `${prefix}${e.name}/`)] : [`${prefix}${e.name}`])).sort();
}

const cases: [args: string[], code: number, message: RegExp][] = [
  [['run', '--kernel', '/etc/passwd'], EXIT.usage, /--kernel \/etc\/passwd: not a kernel .*it is a text file starting "root:/],
  [['run', '--kernel', 'empty'], EXIT.usage, /not a kernel .*it is a directory/],
  [['run', '--kernel', 'missing-bzImage'], EXIT.usage, /--kernel missing-bzImage: no such file/],
  [['boot', '--kernel', 'notes.txt', '--dry-run'], EXIT.usage, /not a kernel .*text file starting "not a kernel"/],
  [['build', '--kernel', 'notes.txt'], EXIT.usage, /not a kernel/],
  [['run', '--kcidb-origin', 'x'], EXIT.usage, /--kcidb-origin only shape the KCIDB file: add --kcidb FILE/],
  [['run', '--shard', '3/2'], EXIT.usage, /shard '3\/2'/],
  [['run', '--hw', 'nope'], EXIT.usage, /unknown hardware variant 'nope'/],
  [['run', '--filter', 'no-such-workload'], EXIT.usage, /no workload matches --filter/],
  [['run', '--jobs', '0'], EXIT.usage, /--jobs 0: expected a positive integer/],
  [['parse', 'empty'], EXIT.usage, /not a pinlab run directory/],
  [['parse', 'missing'], EXIT.usage, /not a pinlab run directory/],
  [['parse', 'truncated'], EXIT.usage, /truncated\/run.json is not JSON/],
  [['parse', 'other-version'], EXIT.usage, /has schema "pinlab.run\/0", expected pinlab.run\/1/],
  [['parse', 'foreign'], EXIT.usage, /foreign\/run.json is not a pinlab run result/],
  [['diff', 'empty', 'empty'], EXIT.usage, /empty: no run.json there \(not a pinlab run directory\)/],
  [['diff', 'truncated', 'foreign'], EXIT.usage, /is not JSON/],
  [['diff', 'notes.txt', 'empty'], EXIT.usage, /notes.txt is not JSON/],
  [['merge', 'empty', '-o', 'merged.json'], EXIT.usage, /not a pinlab run directory/],
  [['merge', 'other-version', '--json', 'merged.json'], EXIT.usage, /has schema "pinlab.run\/0"/],
  [['merge', 'foreign', '--kcidb', 'kcidb.json'], EXIT.usage, /not a pinlab run result/],
  [['repro', 'empty'], EXIT.usage, /not a pinlab run directory/],
  [['repro', 'truncated'], EXIT.usage, /is not JSON/],
  [['repro', 'missing.tar.zst'], EXIT.usage, /no such run directory or bundle/],
  [['bisect'], EXIT.usage, /bisect needs --source/],
  [['sweep'], EXIT.usage, /required option '--series/],
  [['hw', '--frob'], EXIT.usage, /unknown option '--frob'/],
  [['doctor', '--frob'], EXIT.usage, /unknown option '--frob'/],
  [['setup', 'extra'], EXIT.usage, /too many arguments/],
  [['check', '--repeat', 'x'], BISECT_ABORT, /--repeat x: expected a positive integer/],
  [['mutate', '--merge', 'foreign/run.json'], EXIT.usage, /not a pinlab mutation report/],
  [['mutate', '--dry-run'], EXIT.usage, /is not imported into the cache yet/],
];

for (const [args, code, message] of cases) {
  test(`'pinlab ${args.join(' ')}': one line, exit ${code}, nothing written`, async (t) => {
    const dir = workspace();
    const before = tree(dir);
    const r = await execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), ...args], {
      cwd: dir,
      reject: false,
      env: { PINLAB_RUNS: join(dir, 'runs'), PINLAB_CACHE: join(dir, 'cache'), XDG_CACHE_HOME: join(dir, 'cache') },
    });
    t.is(r.exitCode, code, r.stderr);
    t.regex(r.stderr, message);
    const lines = r.stderr.trim().split('\n').filter((l) => !/^\s*hint: |^\(run with --help for usage\)$|^pinlab check: exit 255/.test(l));
    t.is(lines.length, 1, r.stderr);
    t.notRegex(r.stderr, /\n\s+at .*:\d+:\d+/, 'no stack trace');
    t.is(r.stdout, '');
    t.deepEqual(tree(dir), before, 'nothing written');
  });
}
