import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { exitCodeForError, EXIT } from '../../harness/outcome.js';
import { BootError, BuildError, HostError, InterruptedError, UserError } from '../../harness/errors.js';
import { testTempDir } from '../tmp.js';

const pinlab = (...args: string[]) => execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), ...args], { reject: false });

test('errors map to the documented exit codes', (t) => {
  t.is(exitCodeForError(new UserError('x')), EXIT.usage);
  t.is(exitCodeForError(new HostError('x')), EXIT.infra);
  t.is(exitCodeForError(new BuildError('x')), EXIT.infra);
  t.is(exitCodeForError(new BootError('x', 'panic')), EXIT.infra);
  t.is(exitCodeForError(new InterruptedError('x')), EXIT.interrupted);
});

for (const [args, code, pattern] of [
  [['frobnicate'], 2, /unknown command 'frobnicate'/],
  [['build', '--frob'], 2, /unknown option '--frob'/],
  [['build', '--profile', 'nope'], 2, /unknown profile 'nope'/],
  [['build', '--source', '/nonexistent/linux'], 2, /not a kernel source tree/],
  [['build', '--source', 'git:/nonexistent@v1'], 2, /no such repository/],
  [['build', '--source', 'git:/x'], 2, /expected git:REPO@REF/],
  [['build', '--patch', '/nonexistent.patch', '--dry-run'], 2, /patch not found/],
  [['build', '--config-fragment', '/nonexistent.config'], 2, /config fragment not found/],
] as const) {
  test(`bad input '${args.join(' ')}' gives one clear line and exit ${code}`, async (t) => {
    const r = await pinlab(...args);
    t.is(r.exitCode, code, r.stderr);
    t.regex(r.stderr, pattern);
    t.notRegex(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
  });
}

test('--help works for every subcommand', async (t) => {
  for (const sub of ['doctor', 'setup', 'build', 'run', 'boot', 'parse', 'diff', 'merge']) {
    const r = await pinlab(sub, '--help');
    t.is(r.exitCode, 0, sub);
    t.regex(r.stdout, new RegExp(`Usage: pinlab ${sub}`));
  }
});

/** Commands a kernel build plans (and a few it might reach through them), shimmed to log each call. */
const SHIMMED = ['git', 'make', 'cp', 'mkdir', 'tar', 'patch', 'ln', 'rm', 'mv', 'ccache', 'gcc', 'cc', 'dpkg-source', 'apt-get', 'dpkg', 'xz', 'zstd'];

test('build --dry-run prints argv arrays and runs nothing', async (t) => {
  // every command the plan names is a logging shim in front of the real one on PATH
  const shims = testTempDir('pinlab-shims-');
  const calls = join(shims, 'calls.log');
  for (const name of SHIMMED) {
    const real = (await execa('sh', ['-c', `command -v ${name}`], { reject: false })).stdout.trim();
    if (!real) continue;
    writeFileSync(join(shims, name), `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> ${calls}\nexec ${real} "$@"\n`, { mode: 0o755 });
  }
  const r = await execa(process.execPath, [join(repoRoot, 'bin/pinlab.js'), 'build', '--profile', 'stock-6.1', '--dry-run'], {
    reject: false,
    env: { PATH: `${shims}:${process.env.PATH}` },
  });
  t.is(r.exitCode, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.true(lines.some((l) => /kernel:build\s+\["make",.*"bzImage"\]/.test(l)));
  t.true(lines.some((l) => /kernel:config\s+\[.*merge_config\.sh","-m"/.test(l)));
  const planned = lines.map((l) => JSON.parse(l.replace(/^\S+\s+/, '').replace(/\s+#.*$/, '')) as string[]);
  const names = new Set(planned.map((argv) => argv[0]!).filter((n) => !n.startsWith('/')));
  t.deepEqual([...names].filter((n) => !SHIMMED.includes(n)), [], 'every planned command is shimmed');
  t.deepEqual(existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : [], [], 'no shimmed command ran');
});
