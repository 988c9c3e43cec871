// NVMe passthrough: NVME_IOCTL_IO_CMD read/write with a user data buffer, which the block layer
// maps with blk_rq_map_user (block/blk-map.c: bio_map_user_iov). One segment per op.
#include <linux/fs.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "batch.h"
#include "engines.h"

namespace pinlab {

namespace {

constexpr uint8_t kNvmeWrite = 0x01, kNvmeRead = 0x02;

class PassthruWorker : public BatchWorker {
 public:
  PassthruWorker(Napi::Env env, int fd, Direction dir, uint32_t nsid, uint32_t lba,
                 std::vector<Op> ops, BufferHold&& hold)
      : BatchWorker(env, std::move(ops), std::move(hold)), fd_(fd), dir_(dir), nsid_(nsid), lba_(lba) {}

 protected:
  void Run() override {
    for (Op& op : ops_) {
      struct nvme_passthru_cmd cmd;
      std::memset(&cmd, 0, sizeof cmd);
      uint64_t slba = op.position / lba_;
      uint32_t nlb = uint32_t(op.length / lba_);
      cmd.opcode = dir_ == Direction::kRead ? kNvmeRead : kNvmeWrite;
      cmd.nsid = nsid_;
      cmd.addr = reinterpret_cast<uintptr_t>(op.iov[0].iov_base);
      cmd.data_len = uint32_t(op.length);
      cmd.cdw10 = uint32_t(slba);
      cmd.cdw11 = uint32_t(slba >> 32);
      cmd.cdw12 = nlb - 1;
      op.syscall = "ioctl";
      double t0 = NowNs();
      int r = ioctl(fd_, NVME_IOCTL_IO_CMD, &cmd);
      op.latency_ns = NowNs() - t0;
      // A positive value is an NVMe status: the device refused; report it as EIO.
      op.result = r < 0 ? -errno : r > 0 ? -EIO : int64_t(op.length);
      if (r > 0) status_ = r;
    }
  }
  void Decorate(Napi::Object result) override { result.Set("lastNvmeStatus", double(status_)); }

 private:
  int fd_;
  Direction dir_;
  uint32_t nsid_, lba_;
  int status_ = 0;
};

// nvmeNamespace(fd) -> { nsid, lbaSize }
Napi::Value NvmeNamespace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  int nsid = ioctl(fd, NVME_IOCTL_ID);
  if (nsid < 0) throw ErrnoError(env, errno, "ioctl");
  int lbs = 0;
  if (ioctl(fd, BLKSSZGET, &lbs) < 0) throw ErrnoError(env, errno, "ioctl");
  Napi::Object out = Napi::Object::New(env);
  out.Set("nsid", double(nsid));
  out.Set("lbaSize", double(lbs));
  return out;
}

// passthruBatch(fd, direction, ops, { nsid, lbaSize })
Napi::Value PassthruBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  Direction dir = ToDirection(env, Arg(info, 1));
  Napi::Object opts = OptObject(env, info, 3, "options");
  if (opts.Get("nsid").IsUndefined() || opts.Get("lbaSize").IsUndefined())
    ThrowType(env, "The \"options\" argument needs nsid and lbaSize (see nvmeNamespace)");
  uint32_t nsid = uint32_t(OptInteger(env, opts, "nsid", 1, 1, 0xffffffffLL));
  uint32_t lba = uint32_t(OptInteger(env, opts, "lbaSize", 512, 512, 65536));
  BufferHold hold;
  std::vector<Op> ops = ParseOps(env, Arg(info, 2), &hold, 1);
  RequireWholeBlocks(env, ops, lba, "NVMe commands address whole LBAs");
  return StartWorker(new PassthruWorker(env, fd, dir, nsid, lba, std::move(ops), std::move(hold)));
}

}  // namespace

void InitPassthru(Napi::Env env, Napi::Object exports) {
  exports.Set("nvmeNamespace", Napi::Function::New<NvmeNamespace>(env, "nvmeNamespace"));
  exports.Set("passthruBatch", Napi::Function::New<PassthruBatch>(env, "passthruBatch"));
}

}  // namespace pinlab
