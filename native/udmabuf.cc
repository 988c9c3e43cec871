// /dev/udmabuf: a dma-buf over memfd pages. From 6.11 the driver pins them with
// memfd_pin_folios() (mm/gup.c, FOLL_PIN, one pin per folio) when the dma-buf is created and
// unpins them (unpin_folio) when its last reference goes; before that it took page references
// (shmem_read_mapping_page). Each op goes through a dma-buf of its own over a fresh memfd of
// the op's (page-rounded) length, so the pins an op takes are its memfd's pages, once:
//
//   write op: the op's buffers -> memfd (pwritev, a copy), seal, UDMABUF_CREATE, mmap the
//             dma-buf, pwrite(fd) from that mapping, munmap, close the dma-buf (unpin)
//   read op:  memfd, seal, UDMABUF_CREATE, mmap the dma-buf writable, pread(fd) into it,
//             munmap, close the dma-buf (unpin), then preadv(memfd) into the op's buffers
//
// fd is a buffered descriptor: the file side pins nothing. A failed step reports -errno with
// its syscall (UDMABUF_CREATE as "ioctl"). With holdPages, a pipe takes a reference to each of
// the memfd's pages (vmsplice of a shared mapping of it) before UDMABUF_CREATE and keeps it until
// the dma-buf is gone: memfd_pin_folios cannot migrate such pages out of ZONE_MOVABLE. With
// hugetlb, the memfd is a hugetlbfs file (MFD_HUGETLB) of whole 2 MiB pages, the first faulted in
// here, the rest left to memfd_pin_folios (6.11+), which allocates them from the pool and fails
// where the pool runs out. A hugetlbfs file cannot be written (pwritev: EINVAL): reads only.
#include <fcntl.h>
#include <linux/udmabuf.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "args.h"
#include "batch.h"
#include "engines.h"
#include "errors.h"
#include "pipe_hold.h"

namespace pinlab {

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kHuge = 2 * 1024 * 1024;

class UdmabufWorker : public BatchWorker {
 public:
  UdmabufWorker(Napi::Env env, int fd, int dev, Direction dir, bool hold_pages, bool hugetlb, std::vector<Op> ops, BufferHold&& hold)
      : BatchWorker(env, std::move(ops), std::move(hold)), fd_(fd), dev_(dev), dir_(dir), hold_pages_(hold_pages), hugetlb_(hugetlb) {}
  ~UdmabufWorker() override {
    if (dev_ >= 0) close(dev_);
  }

 protected:
  void Run() override {
    for (Op& op : ops_) {
      double t0 = NowNs();
      op.result = One(op);
      op.latency_ns = NowNs() - t0;
    }
  }

 private:
  int64_t Fail(Op& op, const char* syscall) {
    op.syscall = syscall;
    return -errno;
  }

  int64_t One(Op& op) {
    bool read = dir_ == Direction::kRead;
    size_t unit = hugetlb_ ? kHuge : kPage;
    size_t bytes = (op.length + unit - 1) & ~(unit - 1);
    int memfd = memfd_create("pinlab-udmabuf", MFD_CLOEXEC | MFD_ALLOW_SEALING | (hugetlb_ ? MFD_HUGETLB : 0));
    if (memfd < 0) return Fail(op, "memfd_create");
    int64_t r = WithMemfd(op, memfd, bytes, read);
    int saved = errno;
    close(memfd);
    errno = saved;
    return r;
  }

  int64_t WithMemfd(Op& op, int memfd, size_t bytes, bool read) {
    if (ftruncate(memfd, off_t(bytes)) < 0) return Fail(op, "ftruncate");
    if (hugetlb_ && !FaultFirstHugePage(op, memfd)) return -errno;
    if (!read && pwritev(memfd, op.iov.data(), int(op.iov.size()), 0) != ssize_t(op.length)) return Fail(op, "pwritev");
    if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) return Fail(op, "fcntl");
    int pipe_fds[2] = {-1, -1};
    // the pipe's ends close on every way out, a failed hold's too
    int64_t r = hold_pages_ && !HoldPages(op, memfd, bytes, pipe_fds) ? -errno : Create(op, memfd, bytes, read);
    int saved = errno;
    for (int p : pipe_fds)
      if (p >= 0) close(p);
    errno = saved;
    return r;
  }

  // The hugetlb memfd's first page allocated by a fault of a shared mapping (from any zone), so
  // that memfd_pin_folios finds and pins it before it allocates the next page itself: it takes
  // those from outside ZONE_MOVABLE only, where the guest's pool pages mostly are not. False
  // with errno and op.syscall set when a step failed.
  bool FaultFirstHugePage(Op& op, int memfd) {
    void* map = mmap(nullptr, kHuge, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (map == MAP_FAILED) {
      Fail(op, "mmap");
      return false;
    }
    static_cast<volatile uint8_t*>(map)[0] = 0;
    munmap(map, kHuge);
    return true;
  }

  // a pipe takes a reference to each page of the memfd (faulting them in); the mapping goes.
  // False with errno and op.syscall set when a step failed.
  bool HoldPages(Op& op, int memfd, size_t bytes, int pipe_fds[2]) {
    void* map = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, memfd, 0);
    if (map == MAP_FAILED) {
      Fail(op, "mmap");
      return false;
    }
    const char* failed = HoldInPipe(map, bytes, pipe_fds);
    int saved = errno;
    munmap(map, bytes);
    errno = saved;
    if (failed) Fail(op, failed);
    return failed == nullptr;
  }

  int64_t Create(Op& op, int memfd, size_t bytes, bool read) {
    struct udmabuf_create create = {};
    create.memfd = uint32_t(memfd);
    create.flags = UDMABUF_FLAGS_CLOEXEC;
    create.offset = 0;
    create.size = bytes;
    int dmabuf = ioctl(dev_, UDMABUF_CREATE, &create);
    if (dmabuf < 0) return Fail(op, "ioctl");
    int64_t moved = ThroughDmabuf(op, dmabuf, bytes, read);
    int saved = errno;
    close(dmabuf);  // the last reference: the driver unpins the memfd's folios
    errno = saved;
    if (moved <= 0 || !read) return moved;
    ssize_t back = preadv(memfd, op.iov.data(), int(op.iov.size()), 0);
    if (back < 0) return Fail(op, "preadv");
    return moved < back ? moved : back;
  }

  int64_t ThroughDmabuf(Op& op, int dmabuf, size_t bytes, bool read) {
    void* map = mmap(nullptr, bytes, read ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, dmabuf, 0);
    if (map == MAP_FAILED) return Fail(op, "mmap");
    ssize_t n = read ? pread(fd_, map, op.length, off_t(op.position)) : pwrite(fd_, map, op.length, off_t(op.position));
    int64_t r = n < 0 ? Fail(op, read ? "pread" : "pwrite") : n;
    munmap(map, bytes);
    return r;
  }

  int fd_;
  int dev_;
  Direction dir_;
  bool hold_pages_;
  bool hugetlb_;
};

// udmabufBatch(fd, direction, ops, { holdPages, hugetlb }?): fd is a buffered (not O_DIRECT) descriptor
Napi::Value UdmabufBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  Direction dir = ToDirection(env, Arg(info, 1));
  BufferHold hold;
  std::vector<Op> ops = ParseOps(env, Arg(info, 2), &hold, IOV_MAX);
  Napi::Object opts = OptObject(env, info, 3, "options");
  bool hold_pages = OptBool(env, opts, "holdPages", false);
  bool hugetlb = OptBool(env, opts, "hugetlb", false);
  int dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
  if (dev < 0) throw ErrnoError(env, errno, "open", "/dev/udmabuf");
  return StartWorker(new UdmabufWorker(env, fd, dev, dir, hold_pages, hugetlb, std::move(ops), std::move(hold)));
}

}  // namespace

void InitUdmabuf(Napi::Env env, Napi::Object exports) {
  exports.Set("udmabufBatch", Napi::Function::New<UdmabufBatch>(env, "udmabufBatch"));
}

}  // namespace pinlab
