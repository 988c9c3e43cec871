// io_uring through raw syscalls (no liburing). Normal buffers: READV/WRITEV (ITER_IOVEC) or
// READ/WRITE; registered buffers: IORING_REGISTER_BUFFERS once (io_uring pins them at
// registration), READ_FIXED/WRITE_FIXED per op (ITER_BVEC), unregistered before returning.
#include <linux/io_uring.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "batch.h"
#include "engines.h"
#include "errors.h"
#include "aligned_buffer.h"

namespace pinlab {

namespace {

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

  ~Ring() {
    if (sqes != MAP_FAILED) munmap(sqes, sqes_len);
    if (cq_ptr != MAP_FAILED && cq_ptr != sq_ptr) munmap(cq_ptr, cq_len);
    if (sq_ptr != MAP_FAILED) munmap(sq_ptr, sq_len);
    if (fd >= 0) close(fd);
  }

  // Returns 0 or errno; *syscall names what failed.
  int Setup(unsigned entries, const char** failed) {
    struct io_uring_params p;
    std::memset(&p, 0, sizeof p);
    *failed = "io_uring_setup";
    fd = int(syscall(__NR_io_uring_setup, entries, &p));
    if (fd < 0) return errno;
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

class UringWorker : public BatchWorker {
 public:
  UringWorker(Napi::Env env, int fd, Direction dir, int depth, bool fixed, bool vectored,
              std::vector<Op> ops, BufferHold&& hold)
      : BatchWorker(env, std::move(ops), std::move(hold)),
        fd_(fd), dir_(dir), depth_(depth), fixed_(fixed), vectored_(vectored) {}

 protected:
  void Run() override {
    Ring ring;
    const char* failed = "";
    if (int err = ring.Setup(unsigned(depth_), &failed)) return Fail(err, failed);
    if (fixed_) {
      std::vector<struct iovec> regs;
      for (AlignedBuffer* b : buffers_) regs.push_back({b->data(), b->size()});
      if (syscall(__NR_io_uring_register, ring.fd, IORING_REGISTER_BUFFERS, regs.data(), unsigned(regs.size())) < 0)
        return Fail(errno, "io_uring_register");
      registered_pages_ = 0;
      for (AlignedBuffer* b : buffers_) registered_pages_ += (b->size() + kPage - 1) / kPage;
    }
    int err = Loop(ring);
    // a failed unregistration leaves the registration's pins behind: the workload must say so
    if (fixed_ && syscall(__NR_io_uring_register, ring.fd, IORING_UNREGISTER_BUFFERS, nullptr, 0u) < 0 && !err)
      return Fail(errno, "io_uring_unregister");
    if (err) Fail(err, "io_uring_enter");
  }

  void Decorate(Napi::Object result) override {
    result.Set("registeredPages", double(registered_pages_));
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
  size_t registered_pages_ = 0;
};

// uringBatch(fd, direction, ops, { queueDepth, fixed, vectored })
Napi::Value UringBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  Direction dir = ToDirection(env, Arg(info, 1));
  Napi::Object opts = OptObject(env, info, 3, "options");
  int depth = int(OptInteger(env, opts, "queueDepth", 1, 1, 4096));
  bool fixed = OptBool(env, opts, "fixed", false);
  bool vectored = OptBool(env, opts, "vectored", true);
  BufferHold hold;
  std::vector<Op> ops = ParseOps(env, Arg(info, 2), &hold, fixed ? 1 : IOV_MAX);
  return StartWorker(new UringWorker(env, fd, dir, depth, fixed, vectored, std::move(ops), std::move(hold)));
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

void InitUring(Napi::Env env, Napi::Object exports) {
  exports.Set("uringBatch", Napi::Function::New<UringBatch>(env, "uringBatch"));
  exports.Set("uringRegisterBuffer", Napi::Function::New<UringRegisterBuffer>(env, "uringRegisterBuffer"));
}

}  // namespace pinlab
