// debugfs gup_test: issue one benchmark ioctl (e.g. PIN_FAST_BENCHMARK) with a caller-encoded
// struct gup_test. It pins and unpins every page of a user buffer inside the kernel: pinlab's
// control that pin accounting itself works on the kernel under test.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "args.h"
#include "engines.h"
#include "errors.h"

namespace pinlab {

static Napi::Value GupTest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ToString(env, Arg(info, 0), "path");
  auto request = static_cast<unsigned long>(ToInteger(env, Arg(info, 1), "request", 0, UINT32_MAX));
  if (!Arg(info, 2).IsBuffer()) ThrowType(env, "The \"struct\" argument must be a Buffer");
  auto buf = info[2].As<Napi::Buffer<uint8_t>>();
  // the struct's size is the one the caller encoded in the request (harness/guest/gup-test.ts)
  if (buf.Length() < _IOC_SIZE(request))
    ThrowRange(env, "gupTest: the request's struct needs " + std::to_string(_IOC_SIZE(request)) + " bytes");
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw ErrnoError(env, errno, "open", path);
  int rc = ioctl(fd, request, buf.Data());
  int err = errno;
  close(fd);
  if (rc < 0) throw ErrnoError(env, err, "ioctl", path);
  return env.Undefined();
}

void InitGupTest(Napi::Env env, Napi::Object exports) {
  exports.Set("gupTest", Napi::Function::New(env, GupTest, "gupTest"));
}

}  // namespace pinlab
