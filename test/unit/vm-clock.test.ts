import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernelHz } from '../../harness/vm/clock.js';
import { testTempDir } from '../tmp.js';

test('kernelHz reads CONFIG_HZ from the config beside the kernel, undefined without one', (t) => {
  const dir = testTempDir('pinlab-hz-');
  t.is(kernelHz(join(dir, 'bzImage')), undefined);
  writeFileSync(join(dir, 'config'), '# CONFIG_HZ_1000 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n');
  t.is(kernelHz(join(dir, 'bzImage')), 250);
  writeFileSync(join(dir, 'config'), '');
  t.is(kernelHz(join(dir, 'bzImage')), undefined);
});
