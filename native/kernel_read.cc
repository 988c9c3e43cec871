// kernelReadFile(path): finit_module(2) of a file opened O_RDONLY | O_DIRECT, so that the kernel
// reads the whole file itself (kernel_read_file) into its own vmalloc memory: Direct I/O with a
// kernel-memory iterator (ITER_KVEC). The file is no module: a kernel that could read it refuses
// it afterwards (ENOEXEC); 6.1's iov_iter_get_pages2() cannot take KVEC pages and the read fails
// EFAULT. Throws the errno of the open or the call as a Node-shaped error; returns undefined if
// the kernel loaded it (it never should).
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "args.h"
#include "engines.h"
#include "errors.h"

namespace pinlab {

namespace {

Napi::Value KernelReadFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ToString(env, Arg(info, 0), "path");
  int fd = open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd < 0) throw ErrnoError(env, errno, "open", path);
  long r = syscall(SYS_finit_module, fd, "", 0);
  int err = errno;
  close(fd);
  if (r < 0) throw ErrnoError(env, err, "finit_module", path);
  return env.Undefined();
}

}  // namespace

void InitKernelRead(Napi::Env env, Napi::Object exports) {
  exports.Set("kernelReadFile", Napi::Function::New<KernelReadFile>(env, "kernelReadFile"));
}

}  // namespace pinlab
