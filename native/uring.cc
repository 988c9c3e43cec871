// io_uring through raw syscalls (no liburing). Normal buffers: READV/WRITEV (ITER_IOVEC) or
// READ/WRITE; registered buffers: IORING_REGISTER_BUFFERS once (io_uring pins them at
// registration), READ_FIXED/WRITE_FIXED per op (ITER_BVEC), unregistered before returning.
// { memlockBytes }: the ring is set up and the buffers registered without CAP_IPC_LOCK under
// that RLIMIT_MEMLOCK, so io_uring accounts the pinned pages against it (and refuses, ENOMEM,
// when they do not fit: the registration must then give back every pin it took).
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "args.h"
#include "batch.h"
#include "engines.h"
#include "errors.h"
#include "aligned_buffer.h"
#include "uring_fixed.h"

// IORING_SETUP_NO_MMAP (6.5+): the ring and SQE memory come from user space, and the kernel pins
// them for the ring's life. Older uapi headers call the address fields resv2.
#ifndef IORING_SETUP_NO_MMAP
#define IORING_SETUP_NO_MMAP (1U << 14)
#define PINLAB_USER_ADDR resv2
#else
#define PINLAB_USER_ADDR user_addr
#endif

namespace pinlab {

namespace {

constexpr size_t kUserRingBytes = 64 * 1024;

struct Ring {
  int fd = -1;
  void* sq_ptr = MAP_FAILED;
  size_t sq_len = 0;
  void* cq_ptr = MAP_FAILED;
  size_t cq_len = 0;
  struct io_uring_sqe* sqes = static_cast<struct io_uring_sqe*>(MAP_FAILED);
  size_t sqes_len = 0;
  unsigned *sq_head = nullptr, *sq_tail = nullptr, *sq_mask = nullptr, *sq_array = nullptr;
  unsigned *cq_head = nullptr, *cq_tail = nullptr, *cq_mask = nullptr;
  struct io_uring_cqe* cqes = nullptr;
  unsigned sq_entries = 0;
  // user ring memory (IORING_SETUP_NO_MMAP): our own mappings, and the pages the kernel pinned
  void* user_rings = MAP_FAILED;
  void* user_sqes = MAP_FAILED;
  size_t user_pinned_pages = 0;

  ~Ring() {
    if (user_rings == MAP_FAILED) {
      if (sqes != MAP_FAILED) munmap(sqes, sqes_len);
      if (cq_ptr != MAP_FAILED && cq_ptr != sq_ptr) munmap(cq_ptr, cq_len);
      if (sq_ptr != MAP_FAILED) munmap(sq_ptr, sq_len);
    }
    // the kernel releases its pins when the ring goes; the pages outlive our unmapping
    if (fd >= 0) close(fd);
    FreeUserMemory();
  }

  void FreeUserMemory() {
    if (user_rings != MAP_FAILED) munmap(user_rings, kUserRingBytes);
    if (user_sqes != MAP_FAILED) munmap(user_sqes, kUserRingBytes);
    user_rings = user_sqes = MAP_FAILED;
  }

  // Returns 0 or errno; *syscall names what failed. user_memory: ask for IORING_SETUP_NO_MMAP
  // with our own ring memory; a kernel without it (EINVAL) gets a normal ring.
  int Setup(unsigned entries, const char** failed, bool user_memory = false) {
    struct io_uring_params p;
    std::memset(&p, 0, sizeof p);
    *failed = "mmap";
    if (user_memory) {
      int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE;
      user_rings = mmap(nullptr, kUserRingBytes, prot, flags, -1, 0);
      if (user_rings == MAP_FAILED) return errno;
      user_sqes = mmap(nullptr, kUserRingBytes, prot, flags, -1, 0);
      if (user_sqes == MAP_FAILED) return errno;
      p.flags |= IORING_SETUP_NO_MMAP;
      p.cq_off.PINLAB_USER_ADDR = reinterpret_cast<uintptr_t>(user_rings);
      p.sq_off.PINLAB_USER_ADDR = reinterpret_cast<uintptr_t>(user_sqes);
    }
    *failed = "io_uring_setup";
    fd = int(syscall(__NR_io_uring_setup, entries, &p));
    if (fd < 0 && user_memory && errno == EINVAL) {
      FreeUserMemory();
      return Setup(entries, failed, false);
    }
    if (fd < 0) return errno;
    if (user_rings != MAP_FAILED) {
      // what the kernel pinned: the rings up to the end of the SQ array, and the SQEs
      sq_entries = p.sq_entries;
      size_t rings = std::max<size_t>(p.sq_off.array + p.sq_entries * sizeof(unsigned),
                                      p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe));
      sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
      if (rings > kUserRingBytes || sqes_len > kUserRingBytes) return E2BIG;
      user_pinned_pages = (rings + kPage - 1) / kPage + (sqes_len + kPage - 1) / kPage;
      sq_ptr = cq_ptr = user_rings;
      sqes = static_cast<struct io_uring_sqe*>(user_sqes);
      return Locate(p);
    }
    *failed = "mmap";
    sq_entries = p.sq_entries;
    sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) sq_len = cq_len = std::max(sq_len, cq_len);
    sq_ptr = mmap(nullptr, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (sq_ptr == MAP_FAILED) return errno;
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
      cq_ptr = sq_ptr;
    } else {
      cq_ptr = mmap(nullptr, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
      if (cq_ptr == MAP_FAILED) return errno;
    }
    sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
    sqes = static_cast<struct io_uring_sqe*>(
        mmap(nullptr, sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES));
    if (sqes == MAP_FAILED) return errno;
    return Locate(p);
  }

  int Locate(const struct io_uring_params& p) {
    char* sq = static_cast<char*>(sq_ptr);
    char* cq = static_cast<char*>(cq_ptr);
    sq_head = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
    sq_tail = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
    sq_mask = reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
    sq_array = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
    cq_head = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
    cq_tail = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
    cq_mask = reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
    cqes = reinterpret_cast<struct io_uring_cqe*>(cq + p.cq_off.cqes);
    return 0;
  }

  struct io_uring_sqe* NextSqe() {
    unsigned tail = *sq_tail;
    unsigned head = __atomic_load_n(sq_head, __ATOMIC_ACQUIRE);
    if (tail - head >= sq_entries) return nullptr;
    unsigned idx = tail & *sq_mask;
    struct io_uring_sqe* sqe = &sqes[idx];
    std::memset(sqe, 0, sizeof *sqe);
    sq_array[idx] = idx;
    return sqe;
  }
  void Commit() { __atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE); }
};

// Drops CAP_IPC_LOCK from this thread's effective set and, on Lower(), the soft RLIMIT_MEMLOCK;
// restores both when it goes out of scope (capabilities are per thread, the limit per process,
// so the scope must stay short). error() is the errno of the capability step, or 0.
class MemlockScope {
 public:
  MemlockScope() {
    if (syscall(SYS_capget, &header_, saved_caps_) < 0) { error_ = errno; return; }
    struct __user_cap_data_struct caps[2];
    std::memcpy(caps, saved_caps_, sizeof caps);
    caps[CAP_TO_INDEX(CAP_IPC_LOCK)].effective &= ~CAP_TO_MASK(CAP_IPC_LOCK);
    if (syscall(SYS_capset, &header_, caps) < 0) { error_ = errno; return; }
    caps_dropped_ = true;
  }
  // Lowers the limit (after the ring exists: newer kernels account the ring's own memory too).
  int Lower(size_t bytes) {
    if (getrlimit(RLIMIT_MEMLOCK, &saved_limit_) < 0) return errno;
    struct rlimit lower = saved_limit_;
    lower.rlim_cur = bytes;
    if (setrlimit(RLIMIT_MEMLOCK, &lower) < 0) return errno;
    limit_lowered_ = true;
    return 0;
  }
  ~MemlockScope() {
    if (limit_lowered_) setrlimit(RLIMIT_MEMLOCK, &saved_limit_);
    if (caps_dropped_) syscall(SYS_capset, &header_, saved_caps_);
  }
  int error() const { return error_; }

 private:
  struct __user_cap_header_struct header_ = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct saved_caps_[2] = {};
  struct rlimit saved_limit_ = {};
  bool caps_dropped_ = false;
  bool limit_lowered_ = false;
  int error_ = 0;
};

class UringWorker : public BatchWorker {
 public:
  UringWorker(Napi::Env env, int fd, Direction dir, int depth, bool fixed, bool vectored,
              std::vector<Op> ops, BufferHold&& hold, size_t memlock_bytes = 0, bool user_ring = false)
      : BatchWorker(env, std::move(ops), std::move(hold)),
        fd_(fd), dir_(dir), depth_(depth), fixed_(fixed), vectored_(vectored), memlock_bytes_(memlock_bytes),
        user_ring_(user_ring) {}

 protected:
  void Run() override {
    Ring ring;
    const char* failed = "";
    {
      std::unique_ptr<MemlockScope> memlock;
      if (memlock_bytes_ > 0) {
        memlock = std::make_unique<MemlockScope>();
        if (memlock->error()) return Fail(memlock->error(), "capset");
      }
      if (int err = ring.Setup(unsigned(depth_), &failed, user_ring_)) return Fail(err, failed);
      ring_pinned_pages_ = ring.user_pinned_pages;
      if (memlock)
        if (int err = memlock->Lower(memlock_bytes_)) return Fail(err, "setrlimit");
      if (fixed_) {
        std::vector<struct iovec> regs;
        for (AlignedBuffer* b : buffers_) regs.push_back({b->data(), b->size()});
        if (syscall(__NR_io_uring_register, ring.fd, IORING_REGISTER_BUFFERS, regs.data(), unsigned(regs.size())) < 0)
          return Fail(errno, "io_uring_register");
        registered_pages_ = 0;
        for (AlignedBuffer* b : buffers_) registered_pages_ += (b->size() + kPage - 1) / kPage;
      }
    }
    int err = Loop(ring);
    // a failed unregistration leaves the registration's pins behind: the workload must say so
    if (fixed_ && syscall(__NR_io_uring_register, ring.fd, IORING_UNREGISTER_BUFFERS, nullptr, 0u) < 0 && !err)
      return Fail(errno, "io_uring_unregister");
    if (err) Fail(err, "io_uring_enter");
  }

  void Decorate(Napi::Object result) override {
    result.Set("registeredPages", double(registered_pages_));
    result.Set("ringPinnedPages", double(ring_pinned_pages_));
  }

 private:
  void Prep(struct io_uring_sqe* sqe, size_t i) {
    Op& op = ops_[i];
    bool read = dir_ == Direction::kRead;
    sqe->fd = fd_;
    sqe->off = op.position;
    sqe->user_data = i;
    if (fixed_) {
      sqe->opcode = read ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
      sqe->addr = reinterpret_cast<uintptr_t>(op.iov[0].iov_base);
      sqe->len = unsigned(op.iov[0].iov_len);
      sqe->buf_index = uint16_t(op.segments[0].buffer);
    } else if (vectored_ || op.segments.size() > 1) {
      sqe->opcode = read ? IORING_OP_READV : IORING_OP_WRITEV;
      sqe->addr = reinterpret_cast<uintptr_t>(op.iov.data());
      sqe->len = unsigned(op.iov.size());
    } else {
      sqe->opcode = read ? IORING_OP_READ : IORING_OP_WRITE;
      sqe->addr = reinterpret_cast<uintptr_t>(op.iov[0].iov_base);
      sqe->len = unsigned(op.iov[0].iov_len);
    }
    op.syscall = "io_uring_enter";
  }

  int Loop(Ring& ring) {
    std::vector<double> started(ops_.size());
    size_t next = 0, done = 0;
    unsigned unsubmitted = 0;
    int inflight = 0;  // submitted, not yet completed
    while (done < ops_.size()) {
      while (inflight + int(unsubmitted) < depth_ && next < ops_.size()) {
        struct io_uring_sqe* sqe = ring.NextSqe();
        if (!sqe) break;
        Prep(sqe, next);
        started[next] = NowNs();
        ring.Commit();
        unsubmitted++;
        next++;
      }
      long r = syscall(__NR_io_uring_enter, ring.fd, unsubmitted, 1u, IORING_ENTER_GETEVENTS, nullptr, 0);
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EBUSY) {
          if (inflight == 0 && unsubmitted == 0) return errno;
          r = 0;
        } else {
          int err = errno;
          Drain(ring, inflight);  // the buffers must not be released while the kernel uses them
          return err;
        }
      }
      unsubmitted -= unsigned(r);
      inflight += int(r);
      unsigned head = *ring.cq_head;
      unsigned tail = __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE);
      double now = NowNs();
      while (head != tail) {
        struct io_uring_cqe* cqe = &ring.cqes[head & *ring.cq_mask];
        Op& op = ops_[size_t(cqe->user_data)];
        op.result = cqe->res;
        op.latency_ns = now - started[size_t(cqe->user_data)];
        head++;
        inflight--;
        done++;
      }
      __atomic_store_n(ring.cq_head, head, __ATOMIC_RELEASE);
    }
    return 0;
  }

  // Waits for in-flight ops after a failed submission, as long as io_uring_enter lets us.
  void Drain(Ring& ring, int inflight) {
    while (inflight > 0) {
      if (syscall(__NR_io_uring_enter, ring.fd, 0u, 1u, IORING_ENTER_GETEVENTS, nullptr, 0) < 0 && errno != EINTR) return;
      unsigned head = *ring.cq_head;
      unsigned tail = __atomic_load_n(ring.cq_tail, __ATOMIC_ACQUIRE);
      for (; head != tail; head++) {
        struct io_uring_cqe* cqe = &ring.cqes[head & *ring.cq_mask];
        ops_[size_t(cqe->user_data)].result = cqe->res;
        inflight--;
      }
      __atomic_store_n(ring.cq_head, head, __ATOMIC_RELEASE);
    }
  }

  int fd_;
  Direction dir_;
  int depth_;
  bool fixed_;
  bool vectored_;
  size_t memlock_bytes_;
  bool user_ring_;
  size_t registered_pages_ = 0;
  size_t ring_pinned_pages_ = 0;
};

// uringBatch(fd, direction, ops, { queueDepth, fixed, vectored, memlockBytes, userRing })
Napi::Value UringBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  Direction dir = ToDirection(env, Arg(info, 1));
  Napi::Object opts = OptObject(env, info, 3, "options");
  int depth = int(OptInteger(env, opts, "queueDepth", 1, 1, 4096));
  bool fixed = OptBool(env, opts, "fixed", false);
  bool vectored = OptBool(env, opts, "vectored", true);
  size_t memlock = size_t(OptInteger(env, opts, "memlockBytes", 0, 0, 1LL << 40));
  bool user_ring = OptBool(env, opts, "userRing", false);
  BufferHold hold;
  std::vector<Op> ops = ParseOps(env, Arg(info, 2), &hold, fixed ? 1 : IOV_MAX);
  return StartWorker(new UringWorker(env, fd, dir, depth, fixed, vectored, std::move(ops), std::move(hold), memlock, user_ring));
}

// uringRegisterBuffer(buffer): register the buffer with a fresh ring, unregister it, close the
// ring; returns the pages registered. io_uring pins every page at registration and unpins each at
// unregistration on every kernel with io_uring: a pin source of known size, which the guest uses
// to calibrate its pin evidence. Synchronous: it does no I/O.
Napi::Value UringRegisterBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AlignedBuffer* b = AlignedBuffer::From(env, Arg(info, 0), "buffer");
  Ring ring;
  const char* failed = "";
  if (int err = ring.Setup(1, &failed)) throw ErrnoError(env, err, failed);
  struct iovec reg = {b->data(), b->size()};
  if (syscall(__NR_io_uring_register, ring.fd, IORING_REGISTER_BUFFERS, &reg, 1u) < 0)
    throw ErrnoError(env, errno, "io_uring_register");
  if (syscall(__NR_io_uring_register, ring.fd, IORING_UNREGISTER_BUFFERS, nullptr, 0u) < 0)
    throw ErrnoError(env, errno, "io_uring_unregister");
  return Napi::Number::New(env, double((b->size() + kPage - 1) / kPage));
}

}  // namespace

struct FixedBufferRing::Impl {
  Ring ring;
  void* buffer = nullptr;
  size_t length = 0;
  bool registered = false;
};

FixedBufferRing::FixedBufferRing() : impl_(new Impl) {}

FixedBufferRing::~FixedBufferRing() {
  if (impl_->registered) syscall(__NR_io_uring_register, impl_->ring.fd, IORING_UNREGISTER_BUFFERS, nullptr, 0u);
}

int FixedBufferRing::Register(void* buffer, size_t length, const char** failed) {
  if (int err = impl_->ring.Setup(1, failed)) return err;
  struct iovec reg = {buffer, length};
  *failed = "io_uring_register";
  if (syscall(__NR_io_uring_register, impl_->ring.fd, IORING_REGISTER_BUFFERS, &reg, 1u) < 0) return errno;
  impl_->buffer = buffer;
  impl_->length = length;
  impl_->registered = true;
  return 0;
}

int64_t FixedBufferRing::WriteFixed(int fd, uint64_t position, const char** failed) {
  Ring& r = impl_->ring;
  struct io_uring_sqe* sqe = r.NextSqe();
  *failed = "io_uring_enter";
  if (sqe == nullptr) return -EBUSY;
  sqe->opcode = IORING_OP_WRITE_FIXED;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uintptr_t>(impl_->buffer);
  sqe->len = uint32_t(impl_->length);
  sqe->off = position;
  sqe->buf_index = 0;
  r.Commit();
  if (syscall(__NR_io_uring_enter, r.fd, 1u, 1u, IORING_ENTER_GETEVENTS, nullptr, 0) < 0) return -errno;
  unsigned head = *r.cq_head;
  if (head == __atomic_load_n(r.cq_tail, __ATOMIC_ACQUIRE)) return -EIO;
  int64_t res = r.cqes[head & *r.cq_mask].res;
  __atomic_store_n(r.cq_head, head + 1, __ATOMIC_RELEASE);
  return res;
}

void InitUring(Napi::Env env, Napi::Object exports) {
  exports.Set("uringBatch", Napi::Function::New<UringBatch>(env, "uringBatch"));
  exports.Set("uringRegisterBuffer", Napi::Function::New<UringRegisterBuffer>(env, "uringRegisterBuffer"));
}

}  // namespace pinlab
