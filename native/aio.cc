// Linux AIO through raw syscalls (no libaio): io_setup, io_submit, io_getevents at a queue depth.
// One-segment ops use IOCB_CMD_PREAD/PWRITE, several segments IOCB_CMD_PREADV/PWRITEV.
#include <linux/aio_abi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>

#include "args.h"
#include "batch.h"
#include "engines.h"

namespace pinlab {

namespace {

// AIO contexts are kept for the next batch of the same depth instead of destroyed: io_destroy
// waits for an RCU grace period (~40 ms under TCG), which cost the bench's addon side a sixth
// of its IOPS. A context goes back only when nothing of it is in flight; the kernel frees the
// idle ones when the process exits. A context belongs to the process, not to a thread, so
// any worker thread may take any idle one.
class ContextPool {
 public:
  // 0 and errno set on failure.
  aio_context_t Take(int depth) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = idle_.find(depth);
      if (it != idle_.end()) {
        aio_context_t ctx = it->second;
        idle_.erase(it);
        return ctx;
      }
    }
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, depth, &ctx) < 0) return 0;
    return ctx;
  }
  void Give(int depth, aio_context_t ctx) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.emplace(depth, ctx);
  }

 private:
  std::mutex mu_;
  std::multimap<int, aio_context_t> idle_;
};

ContextPool& Pool() {
  static ContextPool* pool = new ContextPool();  // never destroyed: workers may outlive statics
  return *pool;
}

class AioWorker : public BatchWorker {
 public:
  AioWorker(Napi::Env env, int fd, Direction dir, int depth, std::vector<Op> ops, BufferHold&& hold)
      : BatchWorker(env, std::move(ops), std::move(hold)), fd_(fd), dir_(dir), depth_(depth) {}

 protected:
  void Run() override {
    aio_context_t ctx = Pool().Take(depth_);
    if (ctx == 0) return Fail(errno, "io_setup");
    std::vector<struct iocb> cbs(ops_.size());
    std::vector<double> started(ops_.size());
    std::vector<struct io_event> events(static_cast<size_t>(depth_));
    bool read = dir_ == Direction::kRead;
    size_t next = 0, done = 0;
    int inflight = 0;
    while (done < ops_.size()) {
      while (inflight < depth_ && next < ops_.size()) {
        Op& op = ops_[next];
        struct iocb& cb = cbs[next];
        std::memset(&cb, 0, sizeof cb);
        cb.aio_data = next;
        cb.aio_fildes = uint32_t(fd_);
        cb.aio_offset = int64_t(op.position);
        if (op.segments.size() == 1) {
          cb.aio_lio_opcode = read ? IOCB_CMD_PREAD : IOCB_CMD_PWRITE;
          cb.aio_buf = reinterpret_cast<uintptr_t>(op.iov[0].iov_base);
          cb.aio_nbytes = op.iov[0].iov_len;
        } else {
          cb.aio_lio_opcode = read ? IOCB_CMD_PREADV : IOCB_CMD_PWRITEV;
          cb.aio_buf = reinterpret_cast<uintptr_t>(op.iov.data());
          cb.aio_nbytes = op.iov.size();
        }
        op.syscall = "io_submit";
        struct iocb* p = &cb;
        started[next] = NowNs();
        long r = syscall(SYS_io_submit, ctx, 1L, &p);
        if (r == 1) {
          inflight++;
          next++;
        } else if (r < 0 && errno == EAGAIN && inflight > 0) {
          break;  // the context is full: reap first
        } else {
          // The kernel refused this iocb at submission (e.g. EINVAL, EBADF): that is its result.
          op.result = r < 0 ? -errno : -EIO;
          op.latency_ns = NowNs() - started[next];
          next++;
          done++;
        }
      }
      if (inflight == 0) continue;
      long n = syscall(SYS_io_getevents, ctx, 1L, long(depth_), events.data(), nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        syscall(SYS_io_destroy, ctx);  // waits for what is still in flight
        return Fail(err, "io_getevents");
      }
      double now = NowNs();
      for (long i = 0; i < n; i++) {
        size_t idx = size_t(events[size_t(i)].data);
        Op& op = ops_[idx];
        op.result = events[size_t(i)].res;
        op.syscall = "io_getevents";
        op.latency_ns = now - started[idx];
        inflight--;
        done++;
      }
    }
    Pool().Give(depth_, ctx);  // every op reaped: nothing of this batch is in flight
  }

 private:
  int fd_;
  Direction dir_;
  int depth_;
};

// aioBatch(fd, direction, ops, { queueDepth })
Napi::Value AioBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  Direction dir = ToDirection(env, Arg(info, 1));
  BufferHold hold;
  std::vector<Op> ops = ParseOps(env, Arg(info, 2), &hold, IOV_MAX);
  Napi::Object opts = OptObject(env, info, 3, "options");
  int depth = int(OptInteger(env, opts, "queueDepth", 1, 1, 4096));
  return StartWorker(new AioWorker(env, fd, dir, depth, std::move(ops), std::move(hold)));
}

}  // namespace

void InitAio(Napi::Env env, Napi::Object exports) {
  exports.Set("aioBatch", Napi::Function::New<AioBatch>(env, "aioBatch"));
}

}  // namespace pinlab
