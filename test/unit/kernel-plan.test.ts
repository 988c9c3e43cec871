import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildKey, firstErrors, planBuild } from '../../harness/kernel/build.js';
import { droppedSymbols, parseFragment } from '../../harness/kernel/config.js';
import { patchDoesNotApply, planPatchApply, type PatchFile } from '../../harness/kernel/source.js';
import { parseSourceArg, repoRoot } from '../../harness/config.js';
import { UserError } from '../../harness/errors.js';

const fixture = (f: string) => readFileSync(join(repoRoot, 'test/fixtures/kernel', f), 'utf8');

test('fragment parser reads set and unset symbols', (t) => {
  const syms = parseFragment('CONFIG_A=y\n# CONFIG_B is not set\n# comment\nCONFIG_C="x y"\n', 'f');
  t.deepEqual(
    syms.map((s) => `${s.name}=${s.value}`),
    ['CONFIG_A=y', 'CONFIG_B=n', 'CONFIG_C="x y"'],
  );
});

test('dropped-symbol check lists every symbol that did not stick', (t) => {
  const wanted = parseFragment('CONFIG_BLOCK=y\nCONFIG_VIRTIO_BLK=y\nCONFIG_NVME=y\nCONFIG_NR_CPUS=4\n# CONFIG_MODULES is not set\n', 'pin.config');
  const dropped = droppedSymbols(wanted, fixture('final.config'));
  t.deepEqual(
    dropped.map((d) => `${d.symbol.name}:${d.got}`),
    ['CONFIG_VIRTIO_BLK:n', 'CONFIG_NVME:unset'],
  );
});

test('the shared fragment keeps CONFIG_BLOCK (without it block drivers silently vanish)', (t) => {
  const syms = parseFragment(readFileSync(join(repoRoot, 'kernel-config/pin-minimal.config'), 'utf8'));
  const names = new Map(syms.map((s) => [s.name, s.value]));
  for (const s of ['CONFIG_BLOCK', 'CONFIG_VIRTIO_BLK', 'CONFIG_BLK_DEV_NVME', 'CONFIG_BUG', 'CONFIG_KALLSYMS', 'CONFIG_FUNCTION_TRACER', 'CONFIG_GUP_TEST', 'CONFIG_FAIL_MAKE_REQUEST']) {
    t.is(names.get(s), 'y', s);
  }
});

const key = (over: Partial<Parameters<typeof buildKey>[0]> = {}) =>
  buildKey({ identity: 'debian:linux-source-6.1=6.1.192-2', patches: [{ name: '0001.patch', sha256: 'aa' }], config: 'CONFIG_A=y\n', compiler: 'gcc 12', ...over });

test('build cache key changes with a patch byte, the config, the compiler and the source', (t) => {
  const base = key();
  t.is(key(), base, 'deterministic');
  t.not(key({ patches: [{ name: '0001.patch', sha256: 'ab' }] }), base);
  t.not(key({ config: 'CONFIG_A=n\n' }), base);
  t.not(key({ compiler: 'gcc 13' }), base);
  t.not(key({ identity: 'debian:linux-source-6.1=6.1.193-1' }), base);
});

test('build plan is an out-of-tree make with ccache and fixed build identity', (t) => {
  const step = planBuild(
    { source: {} as never, tree: '/t', objDir: '/t/.pinlab-o', patches: [] },
    { jobs: 3, ccache: true },
  );
  t.deepEqual(step.argv, ['make', '-C', '/t', 'O=/t/.pinlab-o', '-j3', 'CC=ccache gcc', 'bzImage']);
  t.is(step.env?.KBUILD_BUILD_TIMESTAMP, '2020-08-31');
  // ccache in depend mode: no preprocessor run per compile (a cold build costs about what gcc alone does)
  t.is(step.env?.CCACHE_DEPEND, '1');
  const plain = planBuild({ source: {} as never, tree: '/t', objDir: '/t/.pinlab-o', patches: [] }, { jobs: 3, ccache: false });
  t.false(plain.argv.includes('CC=ccache gcc'));
  t.is(plain.env?.CCACHE_DEPEND, undefined);
});

test('patch application is planned in a temporary index, one git apply per patch', (t) => {
  const p = (name: string): PatchFile => ({ file: `/p/${name}`, name, sha256: 'x', bytes: Buffer.from('') });
  const steps = planPatchApply('/repo', 'abc', [p('0001-a.patch'), p('0002-b.patch')], '/repo/.git/idx');
  t.deepEqual(
    steps.map((s) => s.argv.slice(3).join(' ')),
    ['read-tree abc', 'apply --cached --whitespace=nowarn /p/0001-a.patch', 'apply --cached --whitespace=nowarn /p/0002-b.patch', 'write-tree'],
  );
  t.true(steps.every((s) => s.env?.GIT_INDEX_FILE === '/repo/.git/idx'));
});

test('a patch that does not apply names the patch and the failing hunk', (t) => {
  const e = patchDoesNotApply(
    { file: '/p/0003-bio.patch', name: '0003-bio.patch', sha256: '', bytes: Buffer.from('') },
    'error: patch failed: block/bio.c:1110\nerror: block/bio.c: patch does not apply\n',
  );
  t.true(e instanceof UserError);
  t.is(e.message, 'patch 0003-bio.patch does not apply: hunk at block/bio.c:1110');
});

test('first compiler errors are extracted from a build log', (t) => {
  const log = 'CC block/bio.o\nblock/bio.c:12:5: error: implicit declaration of function ‘pin_page’\nmake[3]: *** [scripts/Makefile.build:250: block/bio.o] Error 1\n';
  t.deepEqual(firstErrors(log), ['block/bio.c:12:5: error: implicit declaration of function ‘pin_page’']);
});

test('--source parses directories and git:REPO@REF, and rejects a missing ref', (t) => {
  t.deepEqual(parseSourceArg('git:/src/linux@v6.1'), { kind: 'git', repo: '/src/linux', ref: 'v6.1' });
  t.deepEqual(parseSourceArg('/src/linux'), { kind: 'dir', path: '/src/linux' });
  t.throws(() => parseSourceArg('git:/src/linux'), { instanceOf: UserError });
});
