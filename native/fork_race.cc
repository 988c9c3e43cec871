// fork() during an in-flight O_DIRECT read. A reader thread preads into a fresh page-aligned
// buffer; the main thread forks, the parent writes byte 0 of every page, the child _exit()s.
// With plain page references (stock 6.1) the parent's write can COW the page away from the one
// the device fills, so bytes 1..4095 of a page lose the device's data; with FOLL_PIN the fork
// copies pinned pages for the child instead and the parent keeps the pinned one.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include "aligned_buffer.h"
#include "args.h"
#include "batch.h"
#include "engines.h"
#include "errors.h"
#include "pattern.h"

namespace pinlab {

namespace {

struct RaceOptions {
  uint64_t position, span;
  size_t length;
  uint32_t seed;
  int attempts;
  int64_t delay_us;
  bool fresh_process;
};

/** What a race in a helper process sends back over its pipe. */
struct RaceCounts {
  int err, attempts, hit, lost_attempts, read_errors, read_errno;
  uint64_t lost_pages, bytes;
  int64_t first_bad;
};

class ForkRaceWorker : public Napi::AsyncWorker {
 public:
  ForkRaceWorker(Napi::Env env, int fd, RaceOptions o)
      : Napi::AsyncWorker(env, "pinlab:fork-race"), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd), o_(o) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    double start = NowNs();
    if (o_.fresh_process) {
      InHelper();
    } else {
      RunAttempts();
    }
    elapsed_ns_ = NowNs() - start;
  }

  void RunAttempts() {
    for (int i = 0; i < o_.attempts && !err_; i++) Attempt(o_.position + (uint64_t(i) * o_.length) % o_.span);
  }

  // The attempts in a helper process forked for them: a new mm, which has pinned nothing yet
  // (MMF_HAS_PINNED is not inherited), so what fork does with its pinned pages rests on the
  // pins of this race alone. The counts come back over a pipe.
  void InHelper() {
    int fds[2];
    if (pipe(fds) < 0) {
      err_ = errno;
      syscall_ = "pipe";
      return;
    }
    pid_t pid = fork();
    if (pid < 0) {
      err_ = errno;
      syscall_ = "fork";
      close(fds[0]);
      close(fds[1]);
      return;
    }
    if (pid == 0) {
      close(fds[0]);
      RunAttempts();
      RaceCounts c{err_, attempts_, hit_, lost_attempts_, read_errors_, read_errno_, lost_pages_, bytes_, first_bad_};
      ssize_t w = write(fds[1], &c, sizeof c);
      _exit(w == ssize_t(sizeof c) ? 0 : 1);
    }
    close(fds[1]);
    RaceCounts c{};
    size_t got = 0;
    while (got < sizeof c) {
      ssize_t r = read(fds[0], reinterpret_cast<uint8_t*>(&c) + got, sizeof c - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += size_t(r);
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got != sizeof c) {
      err_ = EIO;
      syscall_ = "fork-race helper";
      return;
    }
    err_ = c.err;
    if (err_) syscall_ = "fork-race helper";
    attempts_ = c.attempts;
    hit_ = c.hit;
    lost_attempts_ = c.lost_attempts;
    read_errors_ = c.read_errors;
    read_errno_ = c.read_errno;
    lost_pages_ = c.lost_pages;
    bytes_ = c.bytes;
    first_bad_ = c.first_bad;
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_) {
      deferred_.Reject(ErrnoError(env, err_, syscall_).Value());
      return;
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("attempts", double(attempts_));
    out.Set("hitWindow", double(hit_));
    out.Set("lostData", double(lost_attempts_));
    out.Set("lostPages", double(lost_pages_));
    out.Set("readErrors", double(read_errors_));
    out.Set("bytesRead", double(bytes_));
    out.Set("elapsedNs", elapsed_ns_);
    if (first_bad_ >= 0) out.Set("firstBadOffset", double(first_bad_));
    if (read_errno_) out.Set("readErrorCode", ErrnoName(read_errno_));
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  void Attempt(uint64_t position) {
    size_t len = o_.length;
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      err_ = errno;
      syscall_ = "mmap";
      return;
    }
    uint8_t* buf = static_cast<uint8_t*>(p);
    std::memset(buf, 0, len);  // present anon pages, as a program's buffer would be
    std::atomic<int> state{0};
    ssize_t res = 0;
    int rerr = 0;
    std::thread reader([&] {
      state.store(1);
      res = pread(fd_, buf, len, off_t(position));
      if (res < 0) rerr = errno;
      state.store(2);
    });
    while (state.load() == 0) std::this_thread::yield();
    if (o_.delay_us > 0) {
      double until = NowNs() + double(o_.delay_us) * 1000.0;
      while (NowNs() < until) {
      }
    }
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int fork_err = pid < 0 ? errno : 0;
    for (size_t off = 0; off < len; off += kPage) buf[off] = 0xEE;
    bool hit = pid > 0 && state.load() == 1;
    if (pid > 0) {
      int status;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    reader.join();
    if (fork_err) {
      munmap(buf, len);
      err_ = fork_err;
      syscall_ = "fork";
      return;
    }
    attempts_++;
    if (hit) hit_++;
    if (res != ssize_t(len)) {
      read_errors_++;
      if (rerr) read_errno_ = rerr;
    } else {
      bytes_ += uint64_t(res);
      size_t lost = 0;
      for (size_t off = 0; off < len; off += kPage) {
        size_t n = std::min(kPage, len - off) - 1;
        int64_t bad = PatternVerify(buf + off + 1, n, position + off + 1, o_.seed);
        if (bad >= 0) {
          lost++;
          if (first_bad_ < 0) first_bad_ = int64_t(position + off + 1) + bad;
        }
      }
      lost_pages_ += lost;
      if (lost) lost_attempts_++;
    }
    munmap(buf, len);
  }

  Napi::Promise::Deferred deferred_;
  int fd_;
  RaceOptions o_;
  int err_ = 0;
  const char* syscall_ = "";
  int attempts_ = 0, hit_ = 0, lost_attempts_ = 0, read_errors_ = 0, read_errno_ = 0;
  uint64_t lost_pages_ = 0, bytes_ = 0;
  int64_t first_bad_ = -1;
  double elapsed_ns_ = 0;
};

// forkRace(fd, { position = 0, length, span = length, seed, attempts, delayUs = 0, freshProcess = false })
Napi::Value ForkRace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = ToFd(env, Arg(info, 0));
  Napi::Object opts = OptObject(env, info, 1, "options");
  RaceOptions o;
  o.length = size_t(ToInteger(env, opts.Get("length"), "length", 1, int64_t(1) << 30));
  if (o.length % kPage) ThrowRange(env, "The \"length\" option must be a multiple of 4096");
  o.position = uint64_t(OptInteger(env, opts, "position", 0, 0, kMaxSafe));
  o.span = uint64_t(OptInteger(env, opts, "span", int64_t(o.length), int64_t(o.length), kMaxSafe));
  o.seed = uint32_t(ToInteger(env, opts.Get("seed"), "seed", 0, 0xffffffffLL));
  o.attempts = int(ToInteger(env, opts.Get("attempts"), "attempts", 1, 1000000));
  o.delay_us = OptInteger(env, opts, "delayUs", 0, 0, 10000000);
  o.fresh_process = OptBool(env, opts, "freshProcess", false);
  return StartWorker(new ForkRaceWorker(env, fd, o));
}

// shareCopyOnWrite(): fork a child that exits at once, and reap it. Every private anonymous page
// of the process is then mapped read-only and no longer exclusive to it (PageAnonExclusive is
// cleared at fork and set again only by a write fault), so the next pin of such a page must
// unshare it: a read-only FOLL_PIN (Direct I/O write) leaves GUP's fast path for a
// FAULT_FLAG_UNSHARE fault, a writable one (Direct I/O read) takes the copy-on-write fault.
Napi::Value ShareCopyOnWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t pid = fork();
  if (pid < 0) throw ErrnoError(env, errno, "fork");
  if (pid == 0) _exit(0);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw ErrnoError(env, errno, "waitpid");
  }
  return env.Undefined();
}

}  // namespace

void InitForkRace(Napi::Env env, Napi::Object exports) {
  exports.Set("forkRace", Napi::Function::New<ForkRace>(env, "forkRace"));
  exports.Set("shareCopyOnWrite", Napi::Function::New<ShareCopyOnWrite>(env, "shareCopyOnWrite"));
}

}  // namespace pinlab
