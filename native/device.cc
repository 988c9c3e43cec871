// What a file or block device asks of Direct I/O and how large it is: dioAlignment(path),
// deviceSize(fd), logicalBlockSize(fd). Queries only; the engines do the I/O.
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/stat.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "args.h"
#include "engines.h"
#include "errors.h"

namespace pinlab {

static int SysfsLogicalBlockSize(dev_t dev) {
  char path[128];
  for (const char* suffix : {"queue/logical_block_size", "../queue/logical_block_size"}) {
    std::snprintf(path, sizeof path, "/sys/dev/block/%u:%u/%s", major(dev), minor(dev), suffix);
    std::ifstream f(path);
    int v = 0;
    if (f >> v && v > 0) return v;
  }
  return 0;
}

static Napi::Value DioAlignment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ToString(env, Arg(info, 0), "path");
  struct statx sx;
  std::memset(&sx, 0, sizeof sx);
  if (syscall(SYS_statx, AT_FDCWD, path.c_str(), 0, STATX_BASIC_STATS | STATX_DIOALIGN, &sx) < 0)
    throw ErrnoError(env, errno, "statx", path);
  Napi::Object out = Napi::Object::New(env);
  if ((sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align) {
    out.Set("memAlign", double(sx.stx_dio_mem_align));
    out.Set("offsetAlign", double(sx.stx_dio_offset_align));
    out.Set("source", "statx");
    return out;
  }
  int lbs = 0;
  std::string source;
  if (S_ISBLK(sx.stx_mode)) {
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      if (ioctl(fd, BLKSSZGET, &lbs) == 0 && lbs > 0) source = "BLKSSZGET";
      close(fd);
    }
  } else {
    lbs = SysfsLogicalBlockSize(makedev(sx.stx_dev_major, sx.stx_dev_minor));
    if (lbs) source = "sysfs";
  }
  if (source.empty()) {
    lbs = 512;
    source = "default";
  }
  out.Set("memAlign", double(lbs));
  out.Set("offsetAlign", double(lbs));
  out.Set("source", source);
  return out;
}

static Napi::Value DeviceSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  struct stat st;
  if (fstat(fd, &st) < 0) throw ErrnoError(env, errno, "fstat");
  if (!S_ISBLK(st.st_mode)) return Napi::Number::New(env, double(st.st_size));
  uint64_t bytes = 0;
  if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) throw ErrnoError(env, errno, "ioctl");
  return Napi::Number::New(env, double(bytes));
}

static Napi::Value LogicalBlockSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  int lbs = 0;
  if (ioctl(fd, BLKSSZGET, &lbs) < 0) throw ErrnoError(env, errno, "ioctl");
  return Napi::Number::New(env, lbs);
}

void InitDevice(Napi::Env env, Napi::Object exports) {
  exports.Set("dioAlignment", Napi::Function::New<DioAlignment>(env, "dioAlignment"));
  exports.Set("deviceSize", Napi::Function::New<DeviceSize>(env, "deviceSize"));
  exports.Set("logicalBlockSize", Napi::Function::New<LogicalBlockSize>(env, "logicalBlockSize"));
}

}  // namespace pinlab
