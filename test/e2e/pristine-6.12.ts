// A pristine git repository of Debian's linux-source-6.12, made once outside the clone: the tree
// the e2e tests reach as `--source git:REPO@REF` (no profile name, no Debian identity).
import { execa } from 'execa';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../../harness/config.js';

const TARBALL = '/usr/src/linux-source-6.12.tar.xz';

export async function pristineRepo(): Promise<string> {
  const repo = join(cacheRoot(), 'reference', 'linux-source-6.12');
  if (existsSync(join(repo, '.git'))) return repo;
  if (!existsSync(TARBALL)) await execa('apt-get', ['install', '-y', '--no-install-recommends', 'linux-source-6.12'], { env: { DEBIAN_FRONTEND: 'noninteractive' } });
  const tmp = `${repo}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await execa('tar', ['-xf', TARBALL, '-C', tmp, '--strip-components=1']);
  const git = (...args: string[]) => execa('git', ['-C', tmp, ...args], { env: { GIT_AUTHOR_NAME: 'test', GIT_AUTHOR_EMAIL: 't@localhost', GIT_COMMITTER_NAME: 'test', GIT_COMMITTER_EMAIL: 't@localhost' } });
  await git('init', '-q', '-b', 'main');
  await git('config', 'core.excludesFile', '/dev/null');
  await git('config', 'gc.auto', '0');
  await git('add', '-f', '-A');
  await git('commit', '-q', '-m', 'linux-source-6.12 (pristine)');
  await execa('mv', [tmp, repo]);
  return repo;
}
