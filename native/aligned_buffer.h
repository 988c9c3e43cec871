// Page-aligned memory the kernel does Direct I/O to and from. The native object owns the
// mapping; JS sees it only through copying accessors, so a freed buffer can never be touched.
#pragma once
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace pinlab {

constexpr size_t kPage = 4096;

class AlignedBuffer : public Napi::ObjectWrap<AlignedBuffer> {
 public:
  static Napi::Function Define(Napi::Env env);
  // The AlignedBuffer behind a JS value: TypeError if it is none, ERR_PINLAB_BUFFER_FREED if freed.
  static AlignedBuffer* From(Napi::Env env, Napi::Value value, const std::string& name);

  explicit AlignedBuffer(const Napi::CallbackInfo& info);
  ~AlignedBuffer() override;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  // The whole mapping (size rounded up to its page size: 2 MiB, 1 GiB), for calls such as
  // mprotect that a huge page takes only whole.
  uint8_t* mapping() const { return map_; }
  size_t mapping_length() const { return map_len_; }
  // True if [offset, offset+length) touches the hole: the PROT_NONE page an efault-midway
  // buffer has in its middle (mprotect, not munmap, so no later mmap can fill the gap).
  bool CoversHole(size_t offset, size_t length) const;
  // In-flight operations; a busy buffer refuses free().
  void Hold() { busy_++; }
  void Release() { busy_--; }

 private:
  Napi::Value Fill(const Napi::CallbackInfo& info);
  Napi::Value Verify(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value SetReadOnly(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value GetSize(const Napi::CallbackInfo& info);
  Napi::Value GetAddress(const Napi::CallbackInfo& info);
  Napi::Value GetKind(const Napi::CallbackInfo& info);
  Napi::Value GetHolePage(const Napi::CallbackInfo& info);
  Napi::Value GetReadOnly(const Napi::CallbackInfo& info);
  Napi::Value GetFreed(const Napi::CallbackInfo& info);
  Napi::Value GetBusy(const Napi::CallbackInfo& info);

  void CheckAlive(Napi::Env env) const;
  // Validates (offset, length) args at idx, idx+1; length defaults to the rest of the buffer.
  void Range(const Napi::CallbackInfo& info, size_t idx, size_t* offset, size_t* length) const;
  void Unmap();
  int Protect(int prot);

  uint8_t* map_ = nullptr;  // what mmap returned
  size_t map_len_ = 0;
  uint8_t* data_ = nullptr;  // aligned start inside map_
  size_t size_ = 0;
  std::string kind_;
  int64_t hole_page_ = -1;
  bool read_only_ = false;
  bool freed_ = false;
  int busy_ = 0;
};

// Records the frames of [start, start+length)'s present pages before an anonymous buffer is
// unmapped, for heldFrames() (freed_frames.cc).
void RecordFreedFrames(const uint8_t* start, size_t length);

// Registers AlignedBuffer (dioAlignment, deviceSize and logicalBlockSize are device.cc's).
void InitBuffers(Napi::Env env, Napi::Object exports);

}  // namespace pinlab
