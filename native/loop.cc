// A loop device over a backing file with direct I/O on: the user's O_DIRECT I/O to /dev/loopN
// is pinned by the block layer, and the loop driver's hop to the file is BVEC Direct I/O.
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include "args.h"
#include "engines.h"
#include "errors.h"

namespace pinlab {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// devtmpfs creates the node when the disk is added; give it a moment on a busy machine.
int OpenLoop(const std::string& dev) {
  for (int i = 0; i < 100; i++) {
    int fd = open(dev.c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT) return fd;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

// loopAttach(backingPath, { directIO = true, blockSize }) -> { device, index, directIO }
Napi::Value LoopAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string backing = ToString(env, Arg(info, 0), "backingPath");
  Napi::Object opts = OptObject(env, info, 1, "options");
  bool direct = OptBool(env, opts, "directIO", true);
  uint32_t block_size = uint32_t(OptInteger(env, opts, "blockSize", 0, 0, 65536));

  Fd ctl, file;
  ctl.fd = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl.fd < 0) throw ErrnoError(env, errno, "open", "/dev/loop-control");
  file.fd = open(backing.c_str(), O_RDWR | O_CLOEXEC);
  if (file.fd < 0) throw ErrnoError(env, errno, "open", backing);

  for (int attempt = 0;; attempt++) {
    int index = ioctl(ctl.fd, LOOP_CTL_GET_FREE);
    if (index < 0) throw ErrnoError(env, errno, "ioctl", "/dev/loop-control");
    std::string dev = "/dev/loop" + std::to_string(index);
    Fd loop;
    loop.fd = OpenLoop(dev);
    if (loop.fd < 0) throw ErrnoError(env, errno, "open", dev);

    struct loop_config cfg;
    std::memset(&cfg, 0, sizeof cfg);
    cfg.fd = uint32_t(file.fd);
    cfg.block_size = block_size;
    int r = ioctl(loop.fd, LOOP_CONFIGURE, &cfg);
    if (r < 0 && (errno == EINVAL || errno == ENOTTY) && block_size == 0)
      r = ioctl(loop.fd, LOOP_SET_FD, file.fd);  // kernels before 5.8
    if (r < 0 && errno == EBUSY && attempt < 10) continue;  // another process took it first
    if (r < 0) throw ErrnoError(env, errno, "ioctl", dev);

    if (direct && ioctl(loop.fd, LOOP_SET_DIRECT_IO, 1UL) < 0) {
      int err = errno;
      ioctl(loop.fd, LOOP_CLR_FD, 0);
      throw ErrnoError(env, err, "ioctl", dev);
    }
    struct loop_info64 li;
    std::memset(&li, 0, sizeof li);
    bool is_direct = false;
    if (ioctl(loop.fd, LOOP_GET_STATUS64, &li) == 0) is_direct = li.lo_flags & LO_FLAGS_DIRECT_IO;
    if (direct && !is_direct) {
      ioctl(loop.fd, LOOP_CLR_FD, 0);
      throw CodedError(env, "ERR_PINLAB_LOOP_NO_DIO", dev + ": LOOP_SET_DIRECT_IO succeeded but the flag is not set");
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("device", dev);
    out.Set("index", double(index));
    out.Set("directIO", is_direct);
    return out;
  }
}

// loopDetach(device): LOOP_CLR_FD; the kernel finishes the detach when the last opener closes.
Napi::Value LoopDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dev = ToString(env, Arg(info, 0), "device");
  Fd loop;
  loop.fd = open(dev.c_str(), O_RDWR | O_CLOEXEC);
  if (loop.fd < 0) throw ErrnoError(env, errno, "open", dev);
  for (int i = 0;; i++) {
    if (ioctl(loop.fd, LOOP_CLR_FD, 0) == 0) break;
    if (errno == EBUSY && i < 50) {  // older kernels refuse while someone else has it open
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    throw ErrnoError(env, errno, "ioctl", dev);
  }
  return env.Undefined();
}

}  // namespace

void InitLoop(Napi::Env env, Napi::Object exports) {
  exports.Set("loopAttach", Napi::Function::New<LoopAttach>(env, "loopAttach"));
  exports.Set("loopDetach", Napi::Function::New<LoopDetach>(env, "loopDetach"));
}

}  // namespace pinlab
