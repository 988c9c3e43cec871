// A batch of I/O operations handed to one engine: parsed and checked on the JS thread, run on a
// worker thread, settled as a Promise. Every AlignedBuffer involved is held (referenced and
// marked busy) from parse until the promise settles, so the kernel never sees freed memory.
#pragma once
#include <napi.h>
#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <vector>

#include "aligned_buffer.h"
#include "errors.h"

namespace pinlab {

enum class Direction { kRead, kWrite };

struct Segment {
  uint8_t* addr;
  size_t length;
  int buffer;  // index into BufferHold::buffers
};

struct Op {
  uint64_t position;
  std::vector<Segment> segments;
  std::vector<struct iovec> iov;
  size_t length = 0;
  int64_t result = 0;  // bytes, or -errno
  const char* syscall = "";
  double latency_ns = 0;
};

class BufferHold {
 public:
  BufferHold() = default;
  BufferHold(BufferHold&&) = default;
  BufferHold& operator=(BufferHold&&) = default;
  // Index of the buffer (held once however often it appears).
  int Add(Napi::Object object, AlignedBuffer* buffer);
  void ReleaseAll();
  ~BufferHold() { ReleaseAll(); }
  std::vector<AlignedBuffer*> buffers;

 private:
  std::vector<Napi::ObjectReference> refs_;
};

Direction ToDirection(Napi::Env env, Napi::Value v);

// ops: [{ position, segments: [{ buffer, offset, length }] }], or the uniform form for many
// same-length single-segment ops: { buffer, length, positions: Float64Array, offsets?: Float64Array }
std::vector<Op> ParseOps(Napi::Env env, Napi::Value v, BufferHold* hold, size_t max_segments);

// Either single segment args (buffer, offset, length, position) or (segments, position).
std::vector<Op> ParseSingle(const Napi::CallbackInfo& info, size_t idx, BufferHold* hold);
std::vector<Op> ParseVector(const Napi::CallbackInfo& info, size_t idx, BufferHold* hold);

double NowNs();

// Base for every engine: Run() on a worker thread fills ops_ (or sets a batch-level error).
class BatchWorker : public Napi::AsyncWorker {
 public:
  BatchWorker(Napi::Env env, std::vector<Op> ops, BufferHold&& hold);
  Napi::Promise Promise() { return deferred_.Promise(); }
  // single: settle with the byte count of the one op, rejecting with its errno.
  void SetSingle(const char* syscall) { single_ = syscall; }

 protected:
  virtual void Run() = 0;
  // Extra fields for the batch result object.
  virtual void Decorate(Napi::Object result) {}
  void Fail(int err, const char* syscall, const std::string& path = std::string()) {
    error_ = err;
    error_syscall_ = syscall;
    error_path_ = path;
  }

  std::vector<Op> ops_;
  std::vector<AlignedBuffer*> buffers_;
  double elapsed_ns_ = 0;

 private:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& e) override;

  Napi::Promise::Deferred deferred_;
  BufferHold hold_;
  const char* single_ = nullptr;
  int error_ = 0;
  const char* error_syscall_ = "";
  std::string error_path_;
};

// Passthrough commands address whole blocks: a RangeError naming `what` (e.g. "NVMe commands
// address whole LBAs") for the first op whose position or length is not a multiple of `block`.
inline void RequireWholeBlocks(Napi::Env env, const std::vector<Op>& ops, uint32_t block, const std::string& what) {
  for (const Op& op : ops)
    if (op.position % block || op.length % block)
      ThrowRange(env, what + ": position " + std::to_string(op.position) + " and length " + std::to_string(op.length) +
                          " must be multiples of " + std::to_string(block));
}

// Queue a worker (it deletes itself once settled) and hand its Promise to JS.
template <typename Worker>
Napi::Promise StartWorker(Worker* w) {
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace pinlab
