// forkStormStart({ protect }?): starts a thread that, until forkStormStop() ends it, either forks
// again and again (each child _exit()s at once, the thread reaps it) or, given `protect` (an
// array of AlignedBuffers), flips each buffer's protection between read-only and
// read-write-execute, again and again; forkStormStop() returns how many forks (or flips) there
// were. While it runs, the process's own Direct I/O races it: a fork write-protects the private
// mappings and bumps the mm's write_protect_seq, which gup-fast checks after its lockless walk (a
// change: it gives every pin of that walk back); a flip rewrites the page table entries (PTE, PMD
// of a THP, PUD of a 1 GiB page), which gup-fast reads, grabs, and reads again (a change: it
// gives that page back). Writes from the buffers (pins without FOLL_WRITE) work whatever the
// protection. One storm at a time; throws ERR_PINLAB_FORK_STORM for a second start or a stop
// without a start.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>
#include <utility>
#include <vector>

#include "aligned_buffer.h"
#include "args.h"
#include "engines.h"
#include "errors.h"

namespace pinlab {

namespace {

struct Storm {
  std::thread thread;
  std::vector<std::pair<uint8_t*, size_t>> protect;  // flip these instead of forking
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> forks{0};
  std::atomic<int> err{0};
  bool running = false;
};

Storm storm;

// The flip's other protection. With PROT_EXEC the entry's value changes on every flip, whatever
// the mapping: a private hugetlb mapping's entries stay read-only under PROT_READ | PROT_WRITE
// (its vm_page_prot is copy-on-write, and mprotect makes no hugetlb entry writable), so without
// it a 1 GiB page's PUD read the same before and after, and gup-fast's recheck could only catch
// the instant mprotect cleared it. The no-execute bit flips on every kind of page.
constexpr int kFlipOpen = PROT_READ | PROT_WRITE | PROT_EXEC;

void FlipLoop() {
  while (!storm.stop.load(std::memory_order_relaxed)) {
    for (auto& [addr, len] : storm.protect) {
      for (int prot : {PROT_READ, kFlipOpen}) {
        if (mprotect(addr, len, prot) < 0) {
          storm.err.store(errno);
          return;
        }
      }
    }
    storm.forks.fetch_add(1, std::memory_order_relaxed);
  }
}

void StormLoop() {
  while (!storm.stop.load(std::memory_order_relaxed)) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) {
      storm.err.store(errno);
      return;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    storm.forks.fetch_add(1, std::memory_order_relaxed);
  }
}

Napi::Value ForkStormStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (storm.running) throw CodedError(env, "ERR_PINLAB_FORK_STORM", "A fork storm is already running");
  Napi::Object opts = OptObject(env, info, 0, "options");
  storm.protect.clear();
  if (!opts.Get("protect").IsUndefined()) {
    if (!opts.Get("protect").IsArray()) ThrowType(env, "The \"protect\" option must be an array of AlignedBuffers");
    Napi::Array list = opts.Get("protect").As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) {
      AlignedBuffer* b = AlignedBuffer::From(env, list.Get(i), "protect[" + std::to_string(i) + "]");
      storm.protect.emplace_back(b->mapping(), b->mapping_length());
    }
    if (storm.protect.empty()) ThrowRange(env, "The \"protect\" option needs at least one buffer");
  }
  storm.stop.store(false);
  storm.forks.store(0);
  storm.err.store(0);
  storm.thread = std::thread(storm.protect.empty() ? StormLoop : FlipLoop);
  storm.running = true;
  return env.Undefined();
}

Napi::Value ForkStormStop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!storm.running) throw CodedError(env, "ERR_PINLAB_FORK_STORM", "No fork storm is running");
  storm.stop.store(true);
  storm.thread.join();
  storm.running = false;
  if (storm.err.load()) throw ErrnoError(env, storm.err.load(), storm.protect.empty() ? "fork" : "mprotect");
  return Napi::Number::New(env, double(storm.forks.load()));
}

}  // namespace

void InitForkStorm(Napi::Env env, Napi::Object exports) {
  exports.Set("forkStormStart", Napi::Function::New<ForkStormStart>(env, "forkStormStart"));
  exports.Set("forkStormStop", Napi::Function::New<ForkStormStop>(env, "forkStormStop"));
}

}  // namespace pinlab
