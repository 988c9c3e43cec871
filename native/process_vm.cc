// process_vm_readv/process_vm_writev on the calling process's own memory: the kernel pins the
// "remote" pages with pin_user_pages_remote() (mm/process_vm_access.c), the GUP route of
// cross-memory attach, and copies to or from a local staging buffer, which it does not pin. The
// staging side goes to the file with buffered pread/pwrite, so the only pins an op takes are the
// remote pages its segments span: once per page per op, FOLL_WRITE for process_vm_writev (whose
// release dirties them). Self is a valid target: the same access check as for a child, without
// a second process in the guest runner.
//
//   write op: process_vm_readv(self, staging <- op's segments), then pwrite(fd, staging)
//   read op:  pread(fd, staging), then process_vm_writev(self, staging -> op's segments)
//
// A short copy (a hole in the segments) moves what was copied; an op whose copy fails reports
// -errno with the process_vm_* syscall.
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <vector>

#include "args.h"
#include "batch.h"
#include "engines.h"
#include "errors.h"

namespace pinlab {

namespace {

class ProcessVmWorker : public BatchWorker {
 public:
  ProcessVmWorker(Napi::Env env, int fd, Direction dir, std::vector<Op> ops, BufferHold&& hold)
      : BatchWorker(env, std::move(ops), std::move(hold)), fd_(fd), dir_(dir) {}

 protected:
  void Run() override {
    pid_t self = getpid();
    for (Op& op : ops_) {
      // page-aligned, so an O_DIRECT descriptor works too (its pins are then the file's, not ours)
      size_t bytes = (op.length + 4095) & ~size_t(4095);
      uint8_t* staging = static_cast<uint8_t*>(aligned_alloc(4096, bytes));
      if (staging == nullptr) {
        op.result = -ENOMEM;
        op.syscall = "aligned_alloc";
        continue;
      }
      double t0 = NowNs();
      op.result = dir_ == Direction::kRead ? Read(self, op, staging) : Write(self, op, staging);
      op.latency_ns = NowNs() - t0;
      free(staging);
    }
  }

 private:
  int64_t Write(pid_t self, Op& op, uint8_t* staging) {
    struct iovec local = {staging, op.length};
    op.syscall = "process_vm_readv";
    ssize_t copied = process_vm_readv(self, &local, 1, op.iov.data(), op.iov.size(), 0);
    if (copied <= 0) return copied < 0 ? -errno : 0;
    op.syscall = "pwrite";
    ssize_t w = pwrite(fd_, staging, size_t(copied), off_t(op.position));
    return w < 0 ? -errno : w;
  }

  int64_t Read(pid_t self, Op& op, uint8_t* staging) {
    op.syscall = "pread";
    ssize_t r = pread(fd_, staging, op.length, off_t(op.position));
    if (r <= 0) return r < 0 ? -errno : 0;
    struct iovec local = {staging, size_t(r)};
    op.syscall = "process_vm_writev";
    ssize_t copied = process_vm_writev(self, &local, 1, op.iov.data(), op.iov.size(), 0);
    return copied < 0 ? -errno : copied;
  }

  int fd_;
  Direction dir_;
};

// processVmBatch(fd, direction, ops): fd is a buffered (not O_DIRECT) descriptor
Napi::Value ProcessVmBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  Direction dir = ToDirection(env, Arg(info, 1));
  BufferHold hold;
  std::vector<Op> ops = ParseOps(env, Arg(info, 2), &hold, IOV_MAX);
  return StartWorker(new ProcessVmWorker(env, fd, dir, std::move(ops), std::move(hold)));
}

// processVmReadAddress(address: bigint, length): Buffer. process_vm_readv of the calling process
// at an address no Buffer can name (the vsyscall gate page, which GUP serves from get_gate_page):
// the pages it spans are pinned with pin_user_pages_remote and unpinned after the copy. Returns
// the bytes copied; throws a Node-shaped errno error.
Napi::Value ProcessVmReadAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value a = Arg(info, 0);
  if (!a.IsBigInt()) ThrowType(env, "The \"address\" argument must be a bigint");
  bool lossless = false;
  uint64_t address = a.As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) ThrowRange(env, "The \"address\" argument must fit in 64 bits");
  size_t length = size_t(ToInteger(env, Arg(info, 1), "length", 1, 1 << 20));
  std::vector<uint8_t> data(length);
  struct iovec local = {data.data(), length};
  struct iovec remote = {reinterpret_cast<void*>(uintptr_t(address)), length};
  ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
  if (n < 0) throw ErrnoError(env, errno, "process_vm_readv");
  return Napi::Buffer<uint8_t>::Copy(env, data.data(), size_t(n));
}

}  // namespace

void InitProcessVm(Napi::Env env, Napi::Object exports) {
  exports.Set("processVmBatch", Napi::Function::New<ProcessVmBatch>(env, "processVmBatch"));
  exports.Set("processVmReadAddress", Napi::Function::New<ProcessVmReadAddress>(env, "processVmReadAddress"));
}

}  // namespace pinlab
