// A one-entry io_uring with one registered buffer, for checks that run outside a batch (the fork
// check of fork_race.cc, in a helper process): Register() pins the buffer's pages
// (IORING_REGISTER_BUFFERS), WriteFixed() writes from the pinned pages, the destructor unregisters
// (unpins) and closes the ring.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace pinlab {

class FixedBufferRing {
 public:
  FixedBufferRing();
  ~FixedBufferRing();
  FixedBufferRing(const FixedBufferRing&) = delete;
  FixedBufferRing& operator=(const FixedBufferRing&) = delete;
  // 0 or errno; *failed names the step that failed
  int Register(void* buffer, size_t length, const char** failed);
  // one WRITE_FIXED of the whole registered buffer to fd at position: bytes, or -errno
  int64_t WriteFixed(int fd, uint64_t position, const char** failed);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pinlab
