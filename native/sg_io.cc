// SCSI passthrough: SG_IO READ(16)/WRITE(16) on an sd block device with a user data buffer.
// The block layer maps it with blk_rq_map_user (block/blk-map.c: bio_map_user_iov), the same
// user-pages path as NVMe passthrough, reached through drivers/scsi/scsi_ioctl.c. An op of
// several segments is a vectored command (iovec_count): blk_rq_map_user_iov over ITER_IOVEC,
// whose sub-page segments in one page merge into one bio_vec and release their extra pin.
#include <scsi/sg.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "args.h"
#include "batch.h"
#include "engines.h"

namespace pinlab {

namespace {

constexpr uint8_t kRead16 = 0x88, kWrite16 = 0x8a;
constexpr unsigned kTimeoutMs = 30000;

class SgIoWorker : public BatchWorker {
 public:
  SgIoWorker(Napi::Env env, int fd, Direction dir, uint32_t lba, std::vector<Op> ops, BufferHold&& hold)
      : BatchWorker(env, std::move(ops), std::move(hold)), fd_(fd), dir_(dir), lba_(lba) {}

 protected:
  void Run() override {
    for (Op& op : ops_) {
      uint8_t cdb[16];
      uint8_t sense[32];
      std::memset(cdb, 0, sizeof cdb);
      uint64_t lba = op.position / lba_;
      uint32_t blocks = uint32_t(op.length / lba_);
      cdb[0] = dir_ == Direction::kRead ? kRead16 : kWrite16;
      for (int i = 0; i < 8; i++) cdb[2 + i] = uint8_t(lba >> (56 - 8 * i));
      for (int i = 0; i < 4; i++) cdb[10 + i] = uint8_t(blocks >> (24 - 8 * i));
      sg_io_hdr_t h;
      std::memset(&h, 0, sizeof h);
      h.interface_id = 'S';
      h.dxfer_direction = dir_ == Direction::kRead ? SG_DXFER_FROM_DEV : SG_DXFER_TO_DEV;
      h.cmd_len = sizeof cdb;
      h.cmdp = cdb;
      // sg_iovec_t is laid out as struct iovec
      static_assert(sizeof(sg_iovec_t) == sizeof(struct iovec), "sg_iovec_t is not an iovec");
      if (op.iov.size() > 1) {
        h.iovec_count = static_cast<unsigned short>(op.iov.size());
        h.dxferp = op.iov.data();
      } else {
        h.dxferp = op.iov[0].iov_base;
      }
      h.dxfer_len = unsigned(op.length);
      h.sbp = sense;
      h.mx_sb_len = sizeof sense;
      h.timeout = kTimeoutMs;
      op.syscall = "ioctl";
      double t0 = NowNs();
      int r = ioctl(fd_, SG_IO, &h);
      op.latency_ns = NowNs() - t0;
      // A SCSI, host or driver status is the device refusing: reported as EIO.
      bool refused = r == 0 && (h.status || h.host_status || h.driver_status);
      op.result = r < 0 ? -errno : refused ? -EIO : int64_t(op.length) - h.resid;
      if (refused) status_ = (h.host_status << 16) | (h.driver_status << 8) | h.status;
    }
  }
  void Decorate(Napi::Object result) override { result.Set("lastScsiStatus", double(status_)); }

 private:
  int fd_;
  Direction dir_;
  uint32_t lba_;
  int status_ = 0;
};

// sgIoBatch(fd, direction, ops, { lbaSize })
Napi::Value SgIoBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  Direction dir = ToDirection(env, Arg(info, 1));
  Napi::Object opts = OptObject(env, info, 3, "options");
  if (opts.Get("lbaSize").IsUndefined()) ThrowType(env, "The \"options\" argument needs lbaSize (BLKSSZGET of the device)");
  uint32_t lba = uint32_t(OptInteger(env, opts, "lbaSize", 512, 512, 65536));
  BufferHold hold;
  // at most UIO_MAXIOV segments, as sg_io's import_iovec allows
  std::vector<Op> ops = ParseOps(env, Arg(info, 2), &hold, 1024);
  RequireWholeBlocks(env, ops, lba, "SCSI commands address whole blocks");
  return StartWorker(new SgIoWorker(env, fd, dir, lba, std::move(ops), std::move(hold)));
}

}  // namespace

void InitSgIo(Napi::Env env, Napi::Object exports) {
  exports.Set("sgIoBatch", Napi::Function::New<SgIoBatch>(env, "sgIoBatch"));
}

}  // namespace pinlab
