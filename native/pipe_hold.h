// A pipe that holds references to user pages: vmsplice(2) of a range into a new pipe grown to
// take all of it, left there until the caller closes both ends. Such pages cannot be migrated
// (the pipe's reference is unexpected to migration), which is how the long-term pin workloads
// make a migration out of ZONE_MOVABLE fail.
#pragma once
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

namespace pinlab {

// nullptr, or the syscall that failed (errno set). fds get the pipe's ends when pipe2 succeeded
// (the caller closes them either way); they stay as they were when it did not.
inline const char* HoldInPipe(void* data, size_t bytes, int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) < 0) return "pipe2";
  if (fcntl(fds[1], F_SETPIPE_SZ, int(bytes)) < 0) return "fcntl";
  struct iovec iov = {data, bytes};
  while (iov.iov_len > 0) {
    // never blocks: a pipe that cannot take the rest fails with EAGAIN
    ssize_t n = vmsplice(fds[1], &iov, 1, SPLICE_F_NONBLOCK);
    if (n <= 0) {
      if (n == 0) errno = EAGAIN;
      return "vmsplice";
    }
    iov.iov_base = static_cast<uint8_t*>(iov.iov_base) + n;
    iov.iov_len -= size_t(n);
  }
  return nullptr;
}

}  // namespace pinlab
