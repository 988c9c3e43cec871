// pread/pwrite (one segment: ITER_UBUF on 6.1) and preadv/pwritev (ITER_IOVEC), one syscall
// per operation, run on a worker thread. With { nowait: true } each op is preadv2/pwritev2 with
// RWF_NOWAIT (IOCB_NOWAIT in the kernel).
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "args.h"
#include "batch.h"
#include "engines.h"

namespace pinlab {

namespace {

class SyncWorker : public BatchWorker {
 public:
  SyncWorker(Napi::Env env, int fd, Direction dir, bool vectored, std::vector<Op> ops,
             BufferHold&& hold, bool nowait = false)
      : BatchWorker(env, std::move(ops), std::move(hold)), fd_(fd), dir_(dir), vectored_(vectored), nowait_(nowait) {}

 protected:
  void Run() override {
    bool read = dir_ == Direction::kRead;
    for (Op& op : ops_) {
      bool vec = vectored_ || op.segments.size() > 1;
      double t0 = NowNs();
      ssize_t r;
      if (nowait_) {
        op.syscall = read ? "preadv2" : "pwritev2";
        r = read ? preadv2(fd_, op.iov.data(), int(op.iov.size()), off_t(op.position), RWF_NOWAIT)
                 : pwritev2(fd_, op.iov.data(), int(op.iov.size()), off_t(op.position), RWF_NOWAIT);
      } else if (vec) {
        op.syscall = read ? "preadv" : "pwritev";
        r = read ? preadv(fd_, op.iov.data(), int(op.iov.size()), off_t(op.position))
                 : pwritev(fd_, op.iov.data(), int(op.iov.size()), off_t(op.position));
      } else {
        op.syscall = read ? "pread" : "pwrite";
        r = read ? pread(fd_, op.iov[0].iov_base, op.iov[0].iov_len, off_t(op.position))
                 : pwrite(fd_, op.iov[0].iov_base, op.iov[0].iov_len, off_t(op.position));
      }
      op.result = r < 0 ? -errno : r;
      op.latency_ns = NowNs() - t0;
    }
  }

 private:
  int fd_;
  Direction dir_;
  bool vectored_;
  bool nowait_;
};

Napi::Value Single(const Napi::CallbackInfo& info, Direction dir, bool vectored, const char* name) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  BufferHold hold;
  std::vector<Op> ops = vectored ? ParseVector(info, 1, &hold) : ParseSingle(info, 1, &hold);
  auto* w = new SyncWorker(env, fd, dir, vectored, std::move(ops), std::move(hold));
  w->SetSingle(name);
  return StartWorker(w);
}

Napi::Value Pread(const Napi::CallbackInfo& info) { return Single(info, Direction::kRead, false, "pread"); }
Napi::Value Pwrite(const Napi::CallbackInfo& info) { return Single(info, Direction::kWrite, false, "pwrite"); }
Napi::Value Preadv(const Napi::CallbackInfo& info) { return Single(info, Direction::kRead, true, "preadv"); }
Napi::Value Pwritev(const Napi::CallbackInfo& info) { return Single(info, Direction::kWrite, true, "pwritev"); }

// syncBatch(fd, direction, ops, { vectored, nowait })
Napi::Value SyncBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  Direction dir = ToDirection(env, Arg(info, 1));
  BufferHold hold;
  std::vector<Op> ops = ParseOps(env, Arg(info, 2), &hold, IOV_MAX);
  Napi::Object opts = OptObject(env, info, 3, "options");
  bool vectored = OptBool(env, opts, "vectored", false);
  bool nowait = OptBool(env, opts, "nowait", false);
  return StartWorker(new SyncWorker(env, fd, dir, vectored, std::move(ops), std::move(hold), nowait));
}

}  // namespace

void InitSyncIo(Napi::Env env, Napi::Object exports) {
  exports.Set("pread", Napi::Function::New<Pread>(env, "pread"));
  exports.Set("pwrite", Napi::Function::New<Pwrite>(env, "pwrite"));
  exports.Set("preadv", Napi::Function::New<Preadv>(env, "preadv"));
  exports.Set("pwritev", Napi::Function::New<Pwritev>(env, "pwritev"));
  exports.Set("syncBatch", Napi::Function::New<SyncBatch>(env, "syncBatch"));
}

}  // namespace pinlab
