// splice(O_DIRECT file -> pipe), drained into the op's buffers (ITER_PIPE Direct I/O on 6.1), and
// vmsplice(user buffers -> pipe) + splice(pipe -> O_DIRECT file) (the file sees ITER_BVEC).
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "aligned_buffer.h"
#include "args.h"
#include "batch.h"
#include "engines.h"
#include "errors.h"
#include "pipe_hold.h"

namespace pinlab {

namespace {

struct Pipe {
  int r = -1, w = -1;
  ~Pipe() {
    if (r >= 0) close(r);
    if (w >= 0) close(w);
  }
};

class SpliceWorker : public BatchWorker {
 public:
  SpliceWorker(Napi::Env env, int fd, Direction dir, size_t pipe_pages, std::vector<Op> ops, BufferHold&& hold)
      : BatchWorker(env, std::move(ops), std::move(hold)), fd_(fd), dir_(dir), pipe_pages_wanted_(pipe_pages) {}

 protected:
  void Run() override {
    Pipe pipe;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return Fail(errno, "pipe2");
    pipe.r = fds[0];
    pipe.w = fds[1];
    size_t want = 0;
    for (const Op& op : ops_) want = std::max(want, op.length + op.segments.size() * kPage);
    // Room for a whole op, so one splice moves it (root may exceed pipe-max-size); or the
    // pipe size asked for (pipePages: fewer slots than one vmsplice takes pages at a time).
    size_t size = 16 * kPage;
    while (size < want) size *= 2;
    if (pipe_pages_wanted_ > 0) size = pipe_pages_wanted_ * kPage;
    int got = fcntl(pipe.w, F_SETPIPE_SZ, int(size));
    pipe_size_ = got > 0 ? size_t(got) : size_t(fcntl(pipe.w, F_GETPIPE_SZ));
    for (Op& op : ops_) {
      double t0 = NowNs();
      op.result = dir_ == Direction::kRead ? SpliceRead(pipe, op) : VmspliceWrite(pipe, op);
      op.latency_ns = NowNs() - t0;
    }
  }

  void Decorate(Napi::Object result) override {
    result.Set("pipeSize", double(pipe_size_));
    result.Set("pipePages", double(pipe_pages_));
  }

 private:
  // Reads exactly n bytes from the pipe into the op's segments starting at byte `at`;
  // on a failure the rest is discarded so the pipe is empty for the next op.
  int Drain(Pipe& pipe, Op& op, size_t at, size_t n) {
    int err = 0;
    static thread_local std::vector<uint8_t> scratch(64 * 1024);
    while (n > 0) {
      size_t seg_at = at;
      const Segment* seg = nullptr;
      for (const Segment& s : op.segments) {
        if (seg_at < s.length) { seg = &s; break; }
        seg_at -= s.length;
      }
      void* dst = scratch.data();
      size_t len = std::min(n, scratch.size());
      if (!err && seg) {
        dst = seg->addr + seg_at;
        len = std::min(n, seg->length - seg_at);
      }
      ssize_t r = read(pipe.r, dst, len);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        if (!err) err = r < 0 ? errno : EIO;
        if (dst != scratch.data()) continue;  // retry into scratch to empty the pipe
        return err;
      }
      n -= size_t(r);
      at += size_t(r);
    }
    return err;
  }

  int64_t SpliceRead(Pipe& pipe, Op& op) {
    size_t moved = 0;
    loff_t off = loff_t(op.position);
    while (moved < op.length) {
      op.syscall = "splice";
      ssize_t r = splice(fd_, &off, pipe.w, nullptr, op.length - moved, SPLICE_F_MOVE);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return moved ? int64_t(moved) : -errno;
      if (r == 0) break;  // end of file/device
      pipe_pages_ += (size_t(r) + kPage - 1) / kPage;
      op.syscall = "read";
      if (int err = Drain(pipe, op, moved, size_t(r))) return -err;
      moved += size_t(r);
    }
    return int64_t(moved);
  }

  int64_t VmspliceWrite(Pipe& pipe, Op& op) {
    size_t moved = 0;
    loff_t off = loff_t(op.position);
    std::vector<struct iovec> iov = op.iov;
    size_t first = 0;
    while (moved < op.length) {
      op.syscall = "vmsplice";
      ssize_t v = vmsplice(pipe.w, iov.data() + first, iov.size() - first, 0);
      if (v < 0 && errno == EINTR) continue;
      if (v <= 0) return moved ? int64_t(moved) : (v < 0 ? -errno : -EIO);
      for (size_t left = size_t(v); left > 0;) {  // advance the iovec past what was taken
        size_t take = std::min(left, iov[first].iov_len);
        iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + take;
        iov[first].iov_len -= take;
        left -= take;
        if (iov[first].iov_len == 0) first++;
      }
      size_t in_pipe = size_t(v);
      while (in_pipe > 0) {
        op.syscall = "splice";
        ssize_t s = splice(pipe.r, nullptr, fd_, &off, in_pipe, SPLICE_F_MOVE);
        if (s < 0 && errno == EINTR) continue;
        if (s <= 0) {
          int err = s < 0 ? errno : EIO;
          Discard(pipe, in_pipe);
          return moved ? int64_t(moved) : -err;
        }
        in_pipe -= size_t(s);
        moved += size_t(s);
      }
    }
    return int64_t(moved);
  }

  void Discard(Pipe& pipe, size_t n) {
    uint8_t scratch[4096];
    while (n > 0) {
      ssize_t r = read(pipe.r, scratch, std::min(n, sizeof scratch));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return;
      n -= size_t(r);
    }
  }

  int fd_;
  Direction dir_;
  size_t pipe_pages_wanted_;
  size_t pipe_size_ = 0;
  size_t pipe_pages_ = 0;
};

Napi::Value Start(const Napi::CallbackInfo& info, Direction dir) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  BufferHold hold;
  std::vector<Op> ops = ParseOps(env, Arg(info, 1), &hold, IOV_MAX);
  Napi::Object opts = OptObject(env, info, 2, "options");
  size_t pipe_pages = size_t(OptInteger(env, opts, "pipePages", 0, 0, 1 << 16));
  return StartWorker(new SpliceWorker(env, fd, dir, pipe_pages, std::move(ops), std::move(hold)));
}

// spliceReadBatch(fd, ops[, { pipePages }])
Napi::Value SpliceReadBatch(const Napi::CallbackInfo& info) { return Start(info, Direction::kRead); }
// vmspliceWriteBatch(fd, ops[, { pipePages }])
Napi::Value VmspliceWriteBatch(const Napi::CallbackInfo& info) { return Start(info, Direction::kWrite); }

}  // namespace

// vmspliceHold(buffer): [readFd, writeFd]. vmsplice(2) the buffer's pages into a new pipe (grown
// to hold them all) and leave them there: the pipe holds a reference to each page (not a pin)
// until the caller closes both ends. A page with such a reference cannot be migrated.
Napi::Value VmspliceHold(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AlignedBuffer* b = AlignedBuffer::From(env, Arg(info, 0), "buffer");
  int p[2] = {-1, -1};
  if (const char* failed = HoldInPipe(b->data(), b->size(), p)) {
    int err = errno;
    for (int fd : p)
      if (fd >= 0) close(fd);
    throw ErrnoError(env, err, failed);
  }
  Napi::Array fds = Napi::Array::New(env, 2);
  fds.Set(0u, Napi::Number::New(env, p[0]));
  fds.Set(1u, Napi::Number::New(env, p[1]));
  return fds;
}

void InitSplice(Napi::Env env, Napi::Object exports) {
  exports.Set("vmspliceHold", Napi::Function::New<VmspliceHold>(env, "vmspliceHold"));
  exports.Set("spliceReadBatch", Napi::Function::New<SpliceReadBatch>(env, "spliceReadBatch"));
  exports.Set("vmspliceWriteBatch", Napi::Function::New<VmspliceWriteBatch>(env, "vmspliceWriteBatch"));
}

}  // namespace pinlab
