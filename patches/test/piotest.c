/* O_DIRECT FOLL_PIN accounting check: prints nr_foll_pin_* deltas per test. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/nvme_ioctl.h>

#define PG 4096L
#define SZ (1024L * 1024)	/* 1 MiB = 256 pages */

static const char *tgt;
static int fails;

static void vm(long *a, long *r)
{
	char k[128];
	long v;
	FILE *f;
	int rfd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	/* fold the per-cpu vmstat diffs, or the deltas are off by a batch */
	if (rfd >= 0) {
		write(rfd, "1", 1);
		close(rfd);
	}
	f = fopen("/proc/vmstat", "r");
	*a = *r = -1;
	while (fscanf(f, "%127s %ld", k, &v) == 2) {
		if (!strcmp(k, "nr_foll_pin_acquired"))
			*a = v;
		else if (!strcmp(k, "nr_foll_pin_released"))
			*r = v;
	}
	fclose(f);
}

static long a0, r0;
static void begin(void) { vm(&a0, &r0); }
static void end(const char *name, long ret, long pages_expected)
{
	long a1, r1, da, dr;
	int e = errno;

	vm(&a1, &r1);
	da = a1 - a0;
	dr = r1 - r0;
	printf("RESULT %-6s %-22s ret=%-8ld err=%-6s user_pages=%-4ld acquired=%-5ld released=%-5ld %s\n",
	       tgt, name, ret, ret < 0 ? strerror(e) : "-", pages_expected,
	       da, dr, da == dr ? (da >= pages_expected ? "BALANCED" : "BALANCED(<pages)") : "UNBALANCED");
	if (da != dr)
		fails++;
	fflush(stdout);
}

static char *abuf(long sz)
{
	char *p = mmap(NULL, sz, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	int fd, pfd[2];
	long ret, off;
	char *b;
	struct iovec iov[3];

	if (argc < 3) {
		fprintf(stderr, "usage: %s LABEL PATH [OFFSET]\n", argv[0]);
		return 2;
	}
	tgt = argv[1];
	off = argc > 3 ? atol(argv[3]) : 0;
	fd = open(argv[2], O_RDWR | O_CREAT | O_DIRECT, 0644);
	if (fd < 0) {
		perror("open");
		return 1;
	}

	/* pwrite: ITER_UBUF, user memory is the source */
	b = abuf(SZ);
	memset(b, 0x5a, SZ);
	begin(); ret = pwrite(fd, b, SZ, off); end("pwrite(UBUF)", ret, SZ / PG);
	/* pread: ITER_UBUF, user memory is the destination */
	b = abuf(SZ);
	begin(); ret = pread(fd, b, SZ, off); end("pread(UBUF)", ret, SZ / PG);
	if (ret == SZ && b[0] != 0x5a)
		printf("DATA MISMATCH after pread\n");
	/* preadv/pwritev: ITER_IOVEC, 3 segments */
	b = abuf(SZ);
	iov[0].iov_base = b; iov[0].iov_len = SZ / 4;
	iov[1].iov_base = b + SZ / 4; iov[1].iov_len = SZ / 4;	/* contiguous */
	iov[2].iov_base = b + SZ / 2 + PG; iov[2].iov_len = SZ / 4;
	begin(); ret = preadv(fd, iov, 3, off); end("preadv(IOVEC)", ret, 3 * SZ / 4 / PG);
	begin(); ret = pwritev(fd, iov, 3, off); end("pwritev(IOVEC)", ret, 3 * SZ / 4 / PG);
	/* iovecs sharing a page: 2 x 2048 bytes in one page (512-aligned) */
	b = abuf(2 * PG);
	iov[0].iov_base = b; iov[0].iov_len = 2048;
	iov[1].iov_base = b + 2048; iov[1].iov_len = 2048;
	begin(); ret = preadv(fd, iov, 2, off); end("preadv(same-page)", ret, 1);

	/* splice from the O_DIRECT fd into a pipe: ITER_PIPE */
	if (pipe(pfd) == 0) {
		loff_t o = off;
		char tmp[65536];

		begin(); ret = splice(fd, &o, pfd[1], NULL, 65536, 0);
		end("splice->pipe(PIPE)", ret, 0);
		if (ret > 0)
			read(pfd[0], tmp, ret);
		/* splice from a pipe into the O_DIRECT fd: ITER_BVEC, no pins */
		memset(tmp, 0x5a, sizeof(tmp));
		write(pfd[1], tmp, 65536);
		o = off;
		begin(); ret = splice(pfd[0], NULL, fd, &o, 65536, 0);
		end("pipe->splice(BVEC)", ret, 0);
		close(pfd[0]);
		close(pfd[1]);
	}

	/* O_DIRECT read into 16 pages whose 9th page is unmapped: EFAULT halfway */
	b = abuf(16 * PG);
	munmap(b + 8 * PG, PG);
	begin(); ret = pread(fd, b, 16 * PG, off); end("pread(hole@page8)", ret, 8);
	begin(); ret = pwrite(fd, b, 16 * PG, off); end("pwrite(hole@page8)", ret, 8);
	b = abuf(16 * PG);
	munmap(b, PG);
	begin(); ret = pread(fd, b, 16 * PG, off); end("pread(hole@page0)", ret, 0);

	/* sub-block (512 byte) write past EOF of a file: fs/direct-io.c zeroing */
	if (argc > 4) {
		int fd2 = open(argv[4], O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);

		b = abuf(PG);
		memset(b, 0x33, PG);
		begin(); ret = pwrite(fd2, b, 512, 512); end("pwrite(512@512,new)", ret, 1);
		begin(); ret = pread(fd2, b, 1024, 0); end("pread(1024@0)", ret, 1);
		close(fd2);
	}
	/* NVMe passthrough: blk_rq_map_user_io() -> bio_map_user_iov() */
	if (!strcmp(tgt, "nvme")) {
		struct nvme_passthru_cmd c;
		int op;

		for (op = 0; op < 2; op++) {
			b = abuf(SZ / 4);
			memset(b, 0x77, SZ / 4);
			memset(&c, 0, sizeof(c));
			c.opcode = op ? 0x01 : 0x02;	/* write : read */
			c.nsid = 1;
			c.addr = (unsigned long)b;
			c.data_len = SZ / 4;
			c.cdw10 = 0;			/* slba */
			c.cdw12 = SZ / 4 / 512 - 1;	/* nlb - 1 */
			begin(); ret = ioctl(fd, NVME_IOCTL_IO_CMD, &c);
			end(op ? "nvme-passthru-write" : "nvme-passthru-read", ret, SZ / 4 / PG);
		}
		b = abuf(16 * PG);
		munmap(b + 8 * PG, PG);
		memset(&c, 0, sizeof(c));
		c.opcode = 0x02; c.nsid = 1; c.addr = (unsigned long)b;
		c.data_len = 16 * PG; c.cdw12 = 16 * PG / 512 - 1;
		begin(); ret = ioctl(fd, NVME_IOCTL_IO_CMD, &c);
		end("nvme-read(hole@page8)", ret, 0);
	}
	close(fd);
	printf("SUMMARY %s unbalanced=%d\n", tgt, fails);
	return 0;
}
