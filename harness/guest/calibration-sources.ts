// The pin evidence's calibration sources on a real guest (guest/pin-evidence.ts): independent
// routes to the pin primitives, each pinning and unpinning a number of pages known beforehand.
// None touches a disk a workload uses, so a kernel bug on a workload's path cannot switch the
// instrument off, and a bug on a source's own path shows as that source's finding.
import { closeSync, constants, existsSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { loadAddon } from '../workloads/addon.js';
import { encodeGupTest, FOLL_WRITE, GUP_TEST_IOCTL, GUP_TEST_PATH } from './gup-test.js';
import type { CalibrationSource } from './pin-evidence.js';

const PAGE = 4096;

/** io_uring IORING_REGISTER_BUFFERS then UNREGISTER: pin_user_pages_fast(FOLL_LONGTERM), unpin_user_page. */
export function uringRegistration(pages = 32): CalibrationSource {
  return {
    source: 'io_uring-register',
    path: 'io_uring_register(IORING_REGISTER_BUFFERS) > io_pin_pages > pin_user_pages_fast; IORING_UNREGISTER_BUFFERS > io_buffer_unmap > unpin_user_page',
    async run(counted) {
      const addon = loadAddon();
      const buf = new addon.AlignedBuffer(pages * PAGE, { kind: 'anon' });
      try {
        buf.fill(1, 0);
        // uncounted: the first long-term pin migrates ZONE_MOVABLE pages (pin, unpin, pin again)
        addon.uringRegisterBuffer(buf);
        return await counted(() => addon.uringRegisterBuffer(buf));
      } finally {
        buf.free();
      }
    },
  };
}

/** debugfs gup_test PIN_LONGTERM_BENCHMARK: pin_user_pages (the slow path) and unpin_user_pages. */
export function gupTestLongterm(pages = 64): CalibrationSource {
  return {
    source: 'gup_test-longterm',
    path: 'gup_test ioctl(PIN_LONGTERM_BENCHMARK) > pin_user_pages(FOLL_LONGTERM) > __get_user_pages > try_grab_folio; unpin_user_pages',
    unavailable: () => (existsSync(GUP_TEST_PATH) ? undefined : `${GUP_TEST_PATH} missing (CONFIG_GUP_TEST, debugfs)`),
    async run(counted) {
      const addon = loadAddon();
      const buf = new addon.AlignedBuffer(pages * PAGE, { kind: 'anon' });
      try {
        buf.fill(1, 0);
        const pin = () => addon.gupTest(GUP_TEST_PATH, GUP_TEST_IOCTL.PIN_LONGTERM_BENCHMARK, encodeGupTest({ addr: buf.address, size: pages * PAGE, nrPagesPerCall: pages, gupFlags: FOLL_WRITE }));
        // uncounted: the first long-term pin migrates ZONE_MOVABLE pages (pin, unpin, pin again)
        pin();
        await counted(pin);
        return pages;
      } finally {
        buf.free();
      }
    },
  };
}

/**
 * One O_DIRECT read of a loop device over a tmpfs file (no workload's disk): block/fops.c pins
 * the user pages (bio_iov_iter_get_pages) and the bio's completion unpins them. A kernel whose
 * Direct I/O takes references, not pins (stock 6.1), pins nothing here: that is the workloads'
 * finding to make (not-pinned), so this source then stands aside.
 */
export function odirectLoop(pages = 16, dir = '/tmp'): CalibrationSource {
  return {
    source: 'odirect-loop',
    path: 'pread(O_DIRECT) on /dev/loopN > blkdev_read_iter > __blkdev_direct_IO_simple > bio_iov_iter_get_pages; bio_release_pages',
    mayPinNothing: 'Direct I/O on this kernel takes no pins (the workloads judge that)',
    unavailable: () => (existsSync('/dev/loop-control') ? undefined : '/dev/loop-control missing (CONFIG_BLK_DEV_LOOP)'),
    async run() {
      const addon = loadAddon();
      const backing = `${dir}/pinlab-calibration.img`;
      writeFileSync(backing, Buffer.alloc(pages * PAGE, 0x5a));
      const loop = addon.loopAttach(backing, { directIO: false });
      const buf = new addon.AlignedBuffer(pages * PAGE, { kind: 'anon' });
      let fd: number | undefined;
      try {
        buf.fill(1, 0);
        fd = openSync(loop.device, constants.O_RDONLY | constants.O_DIRECT);
        const n = await addon.pread(fd, buf, 0, pages * PAGE, 0);
        if (n !== pages * PAGE) throw new Error(`O_DIRECT read of ${loop.device}: ${n} of ${pages * PAGE} bytes`);
        return pages;
      } finally {
        if (fd !== undefined) closeSync(fd);
        buf.free();
        addon.loopDetach(loop.device);
        rmSync(backing, { force: true });
      }
    },
  };
}

export function calibrationSources(): CalibrationSource[] {
  return [uringRegistration(), gupTestLongterm(), odirectLoop()];
}
