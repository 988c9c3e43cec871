// The freed-frame check on this host's kernel: an unmapped anonymous buffer's pages go free, and
// pages something still references after the unmap (here a pipe, via vmsplice) are reported
// held until that reference goes. Needs root (/proc/self/pagemap's frame numbers, /proc/kpage*).
import { closeSync } from 'node:fs';
import test, { type ExecutionContext } from 'ava';

import { loadAddon } from '../../harness/workloads/addon.js';
import { settleFrames } from '../../harness/workloads/frames.js';

const addon = loadAddon();
const root = process.getuid?.() === 0;
const rootTest = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  root ? test.serial(title, fn) : test.serial.skip(`${title} (skipped: not root: no frame numbers in /proc/self/pagemap)`, fn);
const PAGES = 16;

rootTest('a freed anonymous buffer\'s pages are recorded, and go free', async (t) => {
  addon.clearFrames();
  const b = new addon.AlignedBuffer(PAGES * 4096);
  b.fill(1, 0);
  b.free();
  const r = await settleFrames(addon, { deadlineMs: 2000 });
  t.is(r.recorded, PAGES);
  t.is(r.held, 0, JSON.stringify(r.sample));
  t.is(r.unavailable, undefined);
  t.is(addon.clearFrames(), 0, 'settleFrames forgets what it judged');
});

rootTest('pages a pipe still references after the unmap are held, and free once the pipe is closed', async (t) => {
  addon.clearFrames();
  const b = new addon.AlignedBuffer(PAGES * 4096);
  b.fill(2, 0);
  const [rd, wr] = addon.vmspliceHold(b);
  b.free();
  const held = await settleFrames(addon, { deadlineMs: 300 });
  t.is(held.recorded, PAGES);
  t.is(held.held, PAGES, 'every page the pipe references is held');
  t.true(held.sample.every((s) => s.flags.includes('anon')));
  // the same frames again, the reference gone
  const again = new addon.AlignedBuffer(PAGES * 4096);
  again.fill(3, 0);
  const [rd2, wr2] = addon.vmspliceHold(again);
  again.free();
  closeSync(rd2);
  closeSync(wr2);
  const freed = await settleFrames(addon, { deadlineMs: 2000 });
  t.is(freed.held, 0, JSON.stringify(freed.sample));
  closeSync(rd);
  closeSync(wr);
});

rootTest('file pages are not recorded: a shared-file buffer\'s pages stay in the page cache, rightly', async (t) => {
  addon.clearFrames();
  const b = new addon.AlignedBuffer(PAGES * 4096, { kind: 'shared-file' });
  b.fill(4, 0);
  b.free();
  t.is(addon.clearFrames(), 0);
});
