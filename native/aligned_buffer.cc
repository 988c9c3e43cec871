#include "aligned_buffer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "args.h"
#include "errors.h"
#include "pattern.h"

namespace pinlab {

static const napi_type_tag kBufferTag = {0x70696e6c61625f61ULL, 0x6c69676e65646275ULL};
constexpr size_t kHuge = 2u << 20;
constexpr size_t kGiant = size_t(1) << 30;
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

static size_t RoundUp(size_t v, size_t a) { return (v + a - 1) / a * a; }

Napi::Function AlignedBuffer::Define(Napi::Env env) {
  return DefineClass(
      env, "AlignedBuffer",
      {
          InstanceMethod<&AlignedBuffer::Fill>("fill"),
          InstanceMethod<&AlignedBuffer::Verify>("verify"),
          InstanceMethod<&AlignedBuffer::Read>("read"),
          InstanceMethod<&AlignedBuffer::Write>("write"),
          InstanceMethod<&AlignedBuffer::SetReadOnly>("setReadOnly"),
          InstanceMethod<&AlignedBuffer::Free>("free"),
          InstanceAccessor<&AlignedBuffer::GetSize>("size"),
          InstanceAccessor<&AlignedBuffer::GetAddress>("address"),
          InstanceAccessor<&AlignedBuffer::GetKind>("kind"),
          InstanceAccessor<&AlignedBuffer::GetHolePage>("holePage"),
          InstanceAccessor<&AlignedBuffer::GetReadOnly>("readOnly"),
          InstanceAccessor<&AlignedBuffer::GetFreed>("freed"),
          InstanceAccessor<&AlignedBuffer::GetBusy>("busy"),
      });
}

AlignedBuffer* AlignedBuffer::From(Napi::Env env, Napi::Value value, const std::string& name) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kBufferTag))
    ThrowType(env, "The \"" + name + "\" argument must be an AlignedBuffer");
  AlignedBuffer* buffer = Unwrap(value.As<Napi::Object>());
  buffer->CheckAlive(env);
  return buffer;
}

AlignedBuffer::AlignedBuffer(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<AlignedBuffer>(info) {
  Napi::Env env = info.Env();
  if (!info.IsConstructCall()) ThrowType(env, "Class constructor AlignedBuffer needs 'new'");
  size_ = size_t(ToInteger(env, Arg(info, 0), "size", 1, int64_t(1) << 40));
  Napi::Object opts = OptObject(env, info, 1, "options");
  kind_ = "anon";
  if (!opts.Get("kind").IsUndefined()) kind_ = ToString(env, opts.Get("kind"), "kind");
  if (kind_ != "anon" && kind_ != "private-anon" && kind_ != "shared-file" && kind_ != "thp" &&
      kind_ != "hugetlb" && kind_ != "hugetlb-1g" && kind_ != "secretmem")
    ThrowRange(env,
               "The \"kind\" option must be one of anon, private-anon, shared-file, thp, hugetlb, hugetlb-1g, secretmem; received '" +
                   kind_ + "'");
  const bool giant = kind_ == "hugetlb-1g";
  const bool huge = kind_ == "thp" || kind_ == "hugetlb" || giant;
  size_t alignment = size_t(OptInteger(env, opts, "alignment", kPage, 1, kHuge));
  if (alignment & (alignment - 1)) ThrowRange(env, "The \"alignment\" option must be a power of two");
  if (alignment < kPage) alignment = kPage;
  if (huge) alignment = kHuge;
  size_t pages = RoundUp(size_, kPage) / kPage;
  hole_page_ = OptInteger(env, opts, "holePage", -1, -1, int64_t(pages) - 1);
  bool read_only = OptBool(env, opts, "readOnly", false);
  bool no_reserve = OptBool(env, opts, "noReserve", false);
  if (no_reserve && kind_ != "hugetlb") ThrowRange(env, "The \"noReserve\" option is for the hugetlb kind only");
  bool no_prefault = OptBool(env, opts, "noPrefault", false);
  if (no_prefault && kind_ != "shared-file") ThrowRange(env, "The \"noPrefault\" option is for the shared-file kind only");
  bool no_huge_page = OptBool(env, opts, "noHugePage", false);
  if (no_huge_page && kind_ != "anon" && kind_ != "private-anon")
    ThrowRange(env, "The \"noHugePage\" option is for the anon and private-anon kinds only");
  std::string dir = "/dev/shm";
  if (!opts.Get("dir").IsUndefined()) dir = ToString(env, opts.Get("dir"), "dir");
  // shared-file over an existing file or block device (its page cache) at fileOffset, instead
  // of a new unlinked file in dir
  std::string file;
  if (!opts.Get("file").IsUndefined()) file = ToString(env, opts.Get("file"), "file");
  int64_t file_offset = OptInteger(env, opts, "fileOffset", 0, 0, kMaxSafe);
  if (!file.empty() && kind_ != "shared-file") ThrowRange(env, "The \"file\" option is for the shared-file kind only");
  if (file_offset % int64_t(kPage)) ThrowRange(env, "The \"fileOffset\" option must be a multiple of the page size");

  size_t length = RoundUp(size_, giant ? kGiant : huge ? kHuge : kPage);
  if (kind_ == "shared-file" && !file.empty()) {
    int fd = open(file.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) throw ErrnoError(env, errno, "open", file);
    void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(file_offset));
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) throw ErrnoError(env, err, "mmap", file);
    map_ = data_ = static_cast<uint8_t*>(p);
    map_len_ = length;
  } else if (kind_ == "shared-file") {
    std::string tmpl = dir + "/pinlab-buffer-XXXXXX";
    int fd = mkostemp(&tmpl[0], O_CLOEXEC);
    if (fd < 0) throw ErrnoError(env, errno, "mkostemp", tmpl);
    unlink(tmpl.c_str());
    if (ftruncate(fd, off_t(length)) < 0) {
      int err = errno;
      close(fd);
      throw ErrnoError(env, err, "ftruncate", tmpl);
    }
    void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) throw ErrnoError(env, err, "mmap", tmpl);
    map_ = static_cast<uint8_t*>(p);
    map_len_ = length;
    data_ = map_;
  } else if (kind_ == "secretmem") {
    // memfd_secret(2) (CONFIG_SECRETMEM; 6.1 also needs secretmem.enable=1): pages taken out of
    // the kernel's direct map, which GUP refuses (gup-fast grabs them, sees secretmem and gives
    // them back; the slow path refuses the VMA): Direct I/O from or into them fails EFAULT
    int fd = int(syscall(SYS_memfd_secret, O_CLOEXEC));
    if (fd < 0) throw ErrnoError(env, errno, "memfd_secret");
    if (ftruncate(fd, off_t(length)) < 0) {
      int err = errno;
      close(fd);
      throw ErrnoError(env, err, "ftruncate", "memfd_secret");
    }
    void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int err = errno;
    close(fd);
    if (p == MAP_FAILED) throw ErrnoError(env, err, "mmap", "memfd_secret");
    map_ = data_ = static_cast<uint8_t*>(p);
    map_len_ = length;
  } else if (kind_ == "hugetlb" || giant) {
    // hugetlbfs pages from the pool (vm.nr_hugepages; 1 GiB pages: reserved at boot with
    // hugepagesz=1G), mapped by the kernel on their own size's boundary (PMD or PUD). The
    // mapping reserves its pages now, unless noReserve: then a fault finds the pool empty or not
    int size_flag = giant ? (30 << MAP_HUGE_SHIFT) : 0;
    int reserve_flag = no_reserve ? MAP_NORESERVE : 0;
    void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | size_flag | reserve_flag, -1, 0);
    if (p == MAP_FAILED) throw ErrnoError(env, errno, "mmap");
    map_ = data_ = static_cast<uint8_t*>(p);
    map_len_ = length;
  } else {
    // Over-allocate, then trim to the alignment so the kept range starts on it.
    size_t extra = alignment > kPage ? alignment : 0;
    void* p = mmap(nullptr, length + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) throw ErrnoError(env, errno, "mmap");
    uint8_t* base = static_cast<uint8_t*>(p);
    uint8_t* aligned = reinterpret_cast<uint8_t*>(RoundUp(reinterpret_cast<uintptr_t>(base), alignment));
    if (aligned > base) munmap(base, size_t(aligned - base));
    size_t tail = size_t(base + length + extra - (aligned + length));
    if (tail) munmap(aligned + length, tail);
    map_ = data_ = aligned;
    map_len_ = length;
    // noHugePage: small pages only (no huge zero page for a read fault either), and a mapping
    // that no neighbour merges with
    int advice = kind_ == "thp" ? MADV_HUGEPAGE : no_huge_page ? MADV_NOHUGEPAGE : 0;
    if (advice && madvise(map_, map_len_, advice) < 0) {
      int err = errno;
      Unmap();
      throw ErrnoError(env, err, "madvise");
    }
  }
  // Every kind but private-anon and hugetlb is faulted in now, so the I/O finds its pages
  // present; those two are faulted in by the pin itself (GUP's slow path: follow_page_mask,
  // and follow_hugetlb_page for hugetlb). A 1 GiB page is not zeroed here: only its first bytes
  // are used, and the pattern fill before a write faults it in.
  // A shared-file buffer with noPrefault is left unmapped too (its first I/O faults it in).
  if (kind_ != "private-anon" && kind_ != "hugetlb" && !giant && !no_prefault) std::memset(map_, 0, map_len_);
  // The hole is PROT_NONE rather than unmapped: an unmapped gap can be filled by the next mmap
  // of the process (io_setup's AIO ring landed there), and the I/O would then not fault.
  if (hole_page_ >= 0 && mprotect(data_ + size_t(hole_page_) * kPage, kPage, PROT_NONE) < 0) {
    int err = errno;
    Unmap();
    throw ErrnoError(env, err, "mprotect");
  }
  if (read_only && Protect(PROT_READ) < 0) {
    int err = errno;
    Unmap();
    throw ErrnoError(env, err, "mprotect");
  }
  read_only_ = read_only;
  Value().TypeTag(&kBufferTag);
}

AlignedBuffer::~AlignedBuffer() { Unmap(); }

void AlignedBuffer::Unmap() {
  if (map_) munmap(map_, map_len_);
  map_ = data_ = nullptr;
  map_len_ = 0;
}

int AlignedBuffer::Protect(int prot) {
  if (hole_page_ < 0) return mprotect(map_, map_len_, prot);
  size_t hole = size_t(hole_page_) * kPage;
  if (hole > 0 && mprotect(map_, hole, prot) < 0) return -1;
  size_t after = hole + kPage;
  if (after < map_len_ && mprotect(map_ + after, map_len_ - after, prot) < 0) return -1;
  return 0;
}

bool AlignedBuffer::CoversHole(size_t offset, size_t length) const {
  if (hole_page_ < 0 || length == 0) return false;
  size_t first = offset / kPage, last = (offset + length - 1) / kPage;
  return size_t(hole_page_) >= first && size_t(hole_page_) <= last;
}

void AlignedBuffer::CheckAlive(Napi::Env env) const {
  if (freed_) throw CodedError(env, "ERR_PINLAB_BUFFER_FREED", "AlignedBuffer was freed");
}

void AlignedBuffer::Range(const Napi::CallbackInfo& info, size_t idx, size_t* offset,
                          size_t* length) const {
  Napi::Env env = info.Env();
  Napi::Value o = Arg(info, idx), l = Arg(info, idx + 1);
  *offset = o.IsUndefined() ? 0 : size_t(ToInteger(env, o, "offset", 0, int64_t(size_)));
  *length = l.IsUndefined() ? size_ - *offset : size_t(ToInteger(env, l, "length", 1, int64_t(size_)));
  if (*length == 0) ThrowRange(env, "The range is empty");
  if (*offset + *length > size_)
    ThrowRange(env, "The range " + std::to_string(*offset) + "+" + std::to_string(*length) +
                        " exceeds the buffer size " + std::to_string(size_));
  if (CoversHole(*offset, *length))
    ThrowRange(env, "The range covers the unmapped page " + std::to_string(hole_page_));
}

static uint32_t ToSeed(Napi::Env env, Napi::Value v) {
  return uint32_t(ToInteger(env, v, "seed", 0, 0xffffffffLL));
}

Napi::Value AlignedBuffer::Fill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  uint32_t seed = ToSeed(env, Arg(info, 0));
  uint64_t position = uint64_t(ToInteger(env, Arg(info, 1), "position", 0, kMaxSafe));
  size_t offset, length;
  Range(info, 2, &offset, &length);
  if (read_only_) throw CodedError(env, "ERR_PINLAB_READ_ONLY", "AlignedBuffer is read-only");
  PatternFill(data_ + offset, length, position, seed);
  return env.Undefined();
}

Napi::Value AlignedBuffer::Verify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  uint32_t seed = ToSeed(env, Arg(info, 0));
  uint64_t position = uint64_t(ToInteger(env, Arg(info, 1), "position", 0, kMaxSafe));
  size_t offset, length;
  Range(info, 2, &offset, &length);
  int64_t bad = PatternVerify(data_ + offset, length, position, seed);
  return Napi::Number::New(env, bad < 0 ? -1.0 : double(position + uint64_t(bad)));
}

Napi::Value AlignedBuffer::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  size_t offset, length;
  Range(info, 0, &offset, &length);
  return Napi::Buffer<uint8_t>::Copy(env, data_ + offset, length);
}

Napi::Value AlignedBuffer::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  size_t offset = size_t(ToInteger(env, Arg(info, 0), "offset", 0, int64_t(size_)));
  if (!Arg(info, 1).IsTypedArray() ||
      Arg(info, 1).As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowType(env, "The \"data\" argument must be a Buffer or Uint8Array");
  Napi::Uint8Array src = Arg(info, 1).As<Napi::Uint8Array>();
  if (src.ByteLength() == 0) ThrowRange(env, "The \"data\" argument is empty");
  if (offset + src.ByteLength() > size_) ThrowRange(env, "The data does not fit the buffer");
  if (CoversHole(offset, src.ByteLength()))
    ThrowRange(env, "The range covers the unmapped page " + std::to_string(hole_page_));
  if (read_only_) throw CodedError(env, "ERR_PINLAB_READ_ONLY", "AlignedBuffer is read-only");
  std::memcpy(data_ + offset, src.Data(), src.ByteLength());
  return env.Undefined();
}

Napi::Value AlignedBuffer::SetReadOnly(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  if (!Arg(info, 0).IsBoolean()) ThrowType(env, "The \"readOnly\" argument must be a boolean");
  bool ro = Arg(info, 0).As<Napi::Boolean>().Value();
  if (busy_) throw CodedError(env, "EBUSY", "AlignedBuffer is in use by " + std::to_string(busy_) + " operation(s)");
  if (Protect(ro ? PROT_READ : PROT_READ | PROT_WRITE) < 0) throw ErrnoError(env, errno, "mprotect");
  read_only_ = ro;
  return env.Undefined();
}

Napi::Value AlignedBuffer::Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckAlive(env);
  if (busy_)
    throw CodedError(env, "EBUSY",
                     "AlignedBuffer is in use by " + std::to_string(busy_) + " operation(s); free it after they settle");
  // anonymous memory only: a file's pages stay in its page cache after the unmap, rightly
  if (kind_ != "shared-file" && kind_ != "secretmem") RecordFreedFrames(map_, map_len_);
  Unmap();
  freed_ = true;
  return env.Undefined();
}

Napi::Value AlignedBuffer::GetSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(size_));
}
Napi::Value AlignedBuffer::GetAddress(const Napi::CallbackInfo& info) {
  CheckAlive(info.Env());
  return Napi::BigInt::New(info.Env(), uint64_t(reinterpret_cast<uintptr_t>(data_)));
}
Napi::Value AlignedBuffer::GetKind(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), kind_);
}
Napi::Value AlignedBuffer::GetHolePage(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(hole_page_));
}
Napi::Value AlignedBuffer::GetReadOnly(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), read_only_);
}
Napi::Value AlignedBuffer::GetFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), freed_);
}
Napi::Value AlignedBuffer::GetBusy(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), busy_);
}

void InitBuffers(Napi::Env env, Napi::Object exports) {
  exports.Set("AlignedBuffer", AlignedBuffer::Define(env));
}

}  // namespace pinlab
