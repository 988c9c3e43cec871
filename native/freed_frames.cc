// Frames of freed buffers: does the kernel still hold a page after its buffer was unmapped?
// A correct kernel gives every page reference and pin of a Direct I/O back, so once an
// anonymous buffer is unmapped its pages are freed. A leaked reference or pin keeps a page
// alive: still anonymous, mapped by no one, not free. That witness needs no probe and no
// calibration, so no bug in the pin primitives can switch it off.
//
// AlignedBuffer::Free calls RecordFreedFrames just before munmap: the page frame numbers of the
// buffer's present pages (/proc/self/pagemap; needs CAP_SYS_ADMIN, without it the kernel reports
// frame 0 and nothing is recorded; a pagemap that cannot be opened, no PROC_PAGE_MONITOR, makes
// the next heldFrames() throw that errno: the check could not run). heldFrames() first drains
// the per-CPU LRU batches of every CPU (a batch holds a page reference until drained: munmap drains only the CPU it runs on, so
// the calling thread visits each CPU and unmaps a page there), then reads /proc/kpageflags and
// /proc/kpagecount for each recorded frame and returns those still anonymous, mapped nowhere and
// not in the buddy allocator. Which of them count as held (swap cache, writeback, the zero page)
// is decided in JS (workloads/frames.ts).
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <vector>

#include "aligned_buffer.h"
#include "errors.h"

namespace pinlab {

namespace {

constexpr uint64_t kPresent = uint64_t(1) << 63;
constexpr uint64_t kPfnMask = (uint64_t(1) << 55) - 1;
// include/uapi/linux/kernel-page-flags.h
constexpr uint64_t kFlagBuddy = uint64_t(1) << 10;
constexpr uint64_t kFlagAnon = uint64_t(1) << 12;

struct Run {
  uint64_t first;
  uint64_t count;
};

std::mutex mu;
std::vector<Run> runs;  // recorded frames, as runs of consecutive frame numbers
int record_err = 0;     // errno of a /proc/self/pagemap open that failed since the last clear

void Append(uint64_t pfn) {
  if (!runs.empty() && runs.back().first + runs.back().count == pfn) {
    runs.back().count++;
    return;
  }
  runs.push_back({pfn, 1});
}

// pread that fills the whole buffer or fails
bool ReadAll(int fd, void* buf, size_t len, off_t off) {
  uint8_t* p = static_cast<uint8_t*>(buf);
  while (len > 0) {
    ssize_t n = pread(fd, p, len, off);
    if (n <= 0) return false;
    p += n;
    len -= size_t(n);
    off += n;
  }
  return true;
}

void DrainEveryCpu() {
  cpu_set_t saved;
  if (sched_getaffinity(0, sizeof saved, &saved) < 0) return;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (!CPU_ISSET(cpu, &saved)) continue;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) < 0) continue;
    void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      *static_cast<volatile uint8_t*>(p) = 1;
      munmap(p, kPage);  // unmap_region() drains this CPU's LRU batches first
    }
  }
  sched_setaffinity(0, sizeof saved, &saved);
}

Napi::Value HeldFrames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Run> copy;
  int unreadable = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    copy = runs;
    unreadable = record_err;
  }
  // a buffer whose frames could not be read (no pagemap: a kernel without PROC_PAGE_MONITOR)
  // was not checked: say so, rather than report nothing recorded
  if (unreadable) throw ErrnoError(env, unreadable, "open", "/proc/self/pagemap");
  uint64_t recorded = 0;
  for (const Run& r : copy) recorded += r.count;
  Napi::Object out = Napi::Object::New(env);
  out.Set("recorded", Napi::Number::New(env, double(recorded)));
  Napi::Array held = Napi::Array::New(env);
  out.Set("held", held);
  if (recorded == 0) return out;
  DrainEveryCpu();
  int flags_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  if (flags_fd < 0) throw ErrnoError(env, errno, "open", "/proc/kpageflags");
  int count_fd = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
  if (count_fd < 0) {
    int err = errno;
    close(flags_fd);
    throw ErrnoError(env, err, "open", "/proc/kpagecount");
  }
  uint32_t n = 0;
  constexpr uint64_t kChunk = 4096;
  std::vector<uint64_t> flags(kChunk), counts(kChunk);
  for (const Run& r : copy) {
    for (uint64_t done = 0; done < r.count; done += kChunk) {
      uint64_t len = r.count - done < kChunk ? r.count - done : kChunk;
      off_t off = off_t((r.first + done) * 8);
      if (!ReadAll(flags_fd, flags.data(), len * 8, off) || !ReadAll(count_fd, counts.data(), len * 8, off)) {
        int err = errno ? errno : EIO;
        close(flags_fd);
        close(count_fd);
        throw ErrnoError(env, err, "pread", "/proc/kpageflags");
      }
      for (uint64_t i = 0; i < len; i++) {
        if (!(flags[i] & kFlagAnon) || (flags[i] & kFlagBuddy) || counts[i] != 0) continue;
        Napi::Object f = Napi::Object::New(env);
        f.Set("pfn", Napi::Number::New(env, double(r.first + done + i)));
        f.Set("flags", Napi::BigInt::New(env, flags[i]));
        held.Set(n++, f);
      }
    }
  }
  close(flags_fd);
  close(count_fd);
  return out;
}

Napi::Value ClearFrames(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(mu);
  uint64_t recorded = 0;
  for (const Run& r : runs) recorded += r.count;
  runs.clear();
  record_err = 0;
  return Napi::Number::New(info.Env(), double(recorded));
}

}  // namespace

void RecordFreedFrames(const uint8_t* start, size_t length) {
  int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::lock_guard<std::mutex> lock(mu);
    record_err = err;
    return;
  }
  uint64_t first = reinterpret_cast<uintptr_t>(start) / kPage;
  uint64_t pages = (length + kPage - 1) / kPage;
  constexpr uint64_t kChunk = 4096;
  std::vector<uint64_t> entries(kChunk);
  std::lock_guard<std::mutex> lock(mu);
  for (uint64_t done = 0; done < pages; done += kChunk) {
    uint64_t len = pages - done < kChunk ? pages - done : kChunk;
    if (!ReadAll(fd, entries.data(), len * 8, off_t((first + done) * 8))) break;
    for (uint64_t i = 0; i < len; i++) {
      uint64_t e = entries[i];
      uint64_t pfn = e & kPfnMask;
      if ((e & kPresent) && pfn != 0) Append(pfn);
    }
  }
  close(fd);
}

void InitFreedFrames(Napi::Env env, Napi::Object exports) {
  exports.Set("heldFrames", Napi::Function::New<HeldFrames>(env, "heldFrames"));
  exports.Set("clearFrames", Napi::Function::New<ClearFrames>(env, "clearFrames"));
}

}  // namespace pinlab
