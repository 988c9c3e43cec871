import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../harness/config.js';
import { stalledVerdict, stoppingSplats } from '../../harness/guest-runner/watch.js';
import { makeSpec } from '../../harness/workloads/catalogue.js';
import { watchScripted } from '../scripted-guest.js';

// a real runner's hello line (kernel 6.1 with the series)
const HELLO = '{"type":"hello","kernel":"6.1.192+","node":"v20.20.2","traceable":["blkdev_read_iter","blkdev_write_iter","bio_iov_iter_get_pages","pin_page","pin_user_pages_fast","bio_map_user_iov","blk_rq_map_user_iov","generic_file_splice_read","__blockdev_direct_IO","iomap_dio_rw","__blkdev_direct_IO_simple"],"background":{"windowMs":212,"acquired":0,"released":0},"evidence":{"mechanism":"kprobe-hist","probes":["try_grab_folio","try_grab_page","gup_put_folio"],"follPin":262144,"calibration":{"source":"io_uring buffer registration","pages":32}},"control":{"ok":true,"acquired":256,"released":256,"expected":256,"message":"gup_test PIN benchmark: 256 pins acquired and released for 4 x 64 pages"}}';

/**
 * A guest whose kernel BUGs as soon as a workload starts: the splat reaches the console before
 * the start event reaches the host, and the runner then stays silent. The watchdog must end the
 * wait on the splat, not at the workload's bound.
 */
test('a splat that reaches the console before the start event still ends the wait: FAIL kernel-splat, not the bound', async (t) => {
  const r = await watchScripted(
    [
      { out: `${HELLO}\n` },
      // the kernel BUGs at once: on the console first, then the start event arrives
      { console: '[    5.781410] BUG: pinlab test splat while raw-virtio.psync.anon ran\n' },
      { out: '{"type":"start","name":"raw-virtio.psync.anon"}\n' },
    ],
    ['raw-virtio.psync.anon'],
    { perWorkloadMs: 60 * 60_000, splatSilenceMs: 200 },
  );
  t.is(r.stall?.why, 'splat');
  t.is(r.stall?.name, 'raw-virtio.psync.anon');
  t.regex(r.stall?.splats[0]?.title ?? '', /BUG/);
  t.true(r.ms < 10_000, 'ended by the splat, not by the one-hour bound');
});

test('splats from a real console log (CRLF, as the serial port writes it) carry no carriage return or trailing blank line', (t) => {
  // recorded by scripts/record-small-run.js: the guest whose runner went silent after a BUG line
  const text = readFileSync(join(repoRoot, 'test/fixtures/report/recorded-small/vm-2/console.log'), 'utf8');
  t.true(text.includes('\r\n'), 'the recorded console has CRLF line ends');
  const splats = stoppingSplats(text);
  t.is(splats.length, 1);
  t.is(splats[0]!.title, 'BUG: pinlab test splat while ext4.libaio.anon.efault-midway ran');
  t.deepEqual(splats[0]!.lines.filter((l) => l.includes('\r') || l === ''), []);
});

/** A real soft lockup (LKDTM SOFTLOCKUP under raw-virtio.psync.anon, scripts/record-splats.js): printed at 16.16 s. */
const SOFT_LOCKUP = readFileSync(join(repoRoot, 'test/fixtures/verdict/dmesg/recorded.patched-6.1.raw-virtio.psync.anon.soft-lockup.log'), 'utf8');

/** The workload starts at `startT` (guest seconds), the soft lockup reaches the console, the runner never answers. */
async function stuckAfterStart(startT: number) {
  const r = await watchScripted(
    [{ out: `${HELLO}\n` }, { out: `{"type":"start","name":"raw-virtio.psync.anon","t":${startT}}\n` }, { console: SOFT_LOCKUP }],
    ['raw-virtio.psync.anon'],
    { perWorkloadMs: 1500 },
  );
  return { r, verdict: stalledVerdict(makeSpec({ target: 'raw-virtio', engine: 'psync' }), r.stall!) };
}

test('a workload past its bound after the kernel reported a soft lockup while it ran: FAIL kernel-splat, the report is why', async (t) => {
  const { r, verdict } = await stuckAfterStart(11.0);
  t.is(r.stall?.why, 'timeout');
  t.is(verdict.status, 'FAIL');
  t.deepEqual(verdict.reasons, ['kernel-splat']);
  t.deepEqual(
    verdict.splats.map((s) => s.title),
    ['BUG: soft lockup in lkdtm_SOFTLOCKUP'],
  );
});

test('a soft lockup printed before the workload started is not charged to it: ERROR timeout', async (t) => {
  const { r, verdict } = await stuckAfterStart(20.0);
  t.is(r.stall?.why, 'timeout');
  t.is(verdict.status, 'ERROR');
  t.deepEqual(verdict.splats, []);
});
