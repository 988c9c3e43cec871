import test from 'ava';
import { existsSync, readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fragmentFile } from '../../harness/workloads/faults.js';
import { testTempDir } from '../tmp.js';

test('fragmentFile rewrites the same bytes cluster by cluster beside a spacer, which remove() deletes', (t) => {
  const dir = testTempDir('pinlab-fragment-');
  const file = join(dir, 'target');
  const cluster = statfsSync(dir).bsize;
  // a partial last cluster too: the rewrite must keep the exact length
  const data = randomBytes(5 * cluster + 100);
  writeFileSync(file, data);
  const frag = fragmentFile(file);
  t.is(frag.cluster, cluster);
  t.is(frag.clusters, 6);
  t.deepEqual(readFileSync(file), data);
  const spacer = join(dir, '.pinlab-spacer');
  t.is(readFileSync(spacer).length, 6 * cluster);
  frag.remove();
  t.false(existsSync(spacer));
});
