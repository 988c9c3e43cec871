// forkStormStart(): starts a thread that forks again and again (each child _exit()s at once,
// the thread reaps it) until forkStormStop() ends it and returns how many forks there were. While
// it runs, the process's own Direct I/O races the forks: a fork write-protects the private
// mappings (the page table entries gup-fast reads change under it) and bumps the mm's
// write_protect_seq, which gup-fast checks after its lockless walk and, when it changed, gives
// every pin of that walk back and lets the slow path pin again. One storm at a time; throws
// ERR_PINLAB_FORK_STORM for a second start or a stop without a start.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "args.h"
#include "engines.h"
#include "errors.h"

namespace pinlab {

namespace {

struct Storm {
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> forks{0};
  std::atomic<int> err{0};
  bool running = false;
};

Storm storm;

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
  storm.stop.store(false);
  storm.forks.store(0);
  storm.err.store(0);
  storm.thread = std::thread(StormLoop);
  storm.running = true;
  return env.Undefined();
}

Napi::Value ForkStormStop(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!storm.running) throw CodedError(env, "ERR_PINLAB_FORK_STORM", "No fork storm is running");
  storm.stop.store(true);
  storm.thread.join();
  storm.running = false;
  if (storm.err.load()) throw ErrnoError(env, storm.err.load(), "fork");
  return Napi::Number::New(env, double(storm.forks.load()));
}

}  // namespace

void InitForkStorm(Napi::Env env, Napi::Object exports) {
  exports.Set("forkStormStart", Napi::Function::New<ForkStormStart>(env, "forkStormStart"));
  exports.Set("forkStormStop", Napi::Function::New<ForkStormStop>(env, "forkStormStop"));
}

}  // namespace pinlab
