// fork() during an in-flight O_DIRECT read. A reader thread preads into a fresh page-aligned
// buffer; the main thread forks, the parent writes byte 0 of every page, the child _exit()s.
// With plain page references (stock 6.1) the parent's write can COW the page away from the one
// the device fills, so bytes 1..4095 of a page lose the device's data; with FOLL_PIN the fork
// copies pinned pages for the child instead and the parent keeps the pinned one.
//
// With { gupTestPath } the pin is no read in flight but a long-term pin GUP's slow path takes
// and holds (debugfs gup_test PIN_LONGTERM_TEST_START, pin_user_pages(FOLL_WRITE|FOLL_LONGTERM),
// 6.2+): pin, fork, the parent writes byte 0 of every page, then PIN_LONGTERM_TEST_READ copies
// the pinned pages out. A page whose byte 0 is not the parent's write was left behind by a
// copy-on-write: fork did not know the mm had pinned (MMF_HAS_PINNED, which the slow path sets).
// No race: every attempt is in the window. A gup_test without the request (EINVAL on the first
// START) is reported as unsupported, not as an error.
// With { uringRegister } the long-term pin is an io_uring buffer registration instead (6.1:
// pin_user_pages, the slow path; 6.12: pin_user_pages_fast), and the pinned pages are read back
// by a WRITE_FIXED of the buffer into a memfd.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "aligned_buffer.h"
#include "args.h"
#include "batch.h"
#include "engines.h"
#include "errors.h"
#include "pattern.h"
#include "uring_fixed.h"

namespace pinlab {

namespace {

struct RaceOptions {
  uint64_t position, span;
  size_t length;
  uint32_t seed;
  int attempts;
  int64_t delay_us;
  bool fresh_process;
  std::string gup_test_path;  // non-empty: the long-term gup_test pin instead of the O_DIRECT read
  bool uring_register = false;  // the long-term pin of an io_uring buffer registration instead
};

// mm/gup_test.h (6.2+)
struct PinLongtermTest {
  uint64_t addr;
  uint64_t size;
  uint32_t flags;
};
constexpr unsigned long kPinLongtermTestStart = _IOW('g', 7, PinLongtermTest);
constexpr unsigned long kPinLongtermTestStop = _IO('g', 8);
constexpr unsigned long kPinLongtermTestRead = _IOW('g', 9, uint64_t);
constexpr uint32_t kPinLongtermTestFlagUseWrite = 1;

/** What a race in a helper process sends back over its pipe. */
struct RaceCounts {
  int err, attempts, hit, lost_attempts, read_errors, read_errno, unsupported;
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
    for (int i = 0; i < o_.attempts && !err_ && !unsupported_; i++) {
      if (o_.uring_register)
        UringAttempt();
      else if (o_.gup_test_path.empty())
        Attempt(o_.position + (uint64_t(i) * o_.length) % o_.span);
      else
        LongtermAttempt();
    }
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
      RaceCounts c{err_, attempts_, hit_, lost_attempts_, read_errors_, read_errno_, unsupported_ ? 1 : 0, lost_pages_, bytes_, first_bad_};
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
    unsupported_ = c.unsupported != 0;
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
    if (unsupported_) out.Set("unsupported", "the kernel's gup_test has no PIN_LONGTERM_TEST_START (6.2+)");
    deferred_.Resolve(out);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  void Fail(const char* syscall) {
    err_ = errno;
    syscall_ = syscall;
  }

  void LongtermAttempt() {
    size_t len = o_.length;
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return Fail("mmap");
    uint8_t* buf = static_cast<uint8_t*>(p);
    std::vector<uint8_t> pinned(len);
    PatternFill(buf, len, 0, o_.seed);  // present, written pages: exclusive to this mm
    int fd = open(o_.gup_test_path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      Fail("open");
      munmap(buf, len);
      return;
    }
    PinLongtermTest args{reinterpret_cast<uint64_t>(buf), len, kPinLongtermTestFlagUseWrite};
    if (ioctl(fd, kPinLongtermTestStart, &args) < 0) {
      if (errno == EINVAL && attempts_ == 0)
        unsupported_ = true;
      else
        Fail("ioctl PIN_LONGTERM_TEST_START");
      close(fd);
      munmap(buf, len);
      return;
    }
    int fork_err = ForkAndWrite(buf, len);
    uint64_t to = reinterpret_cast<uint64_t>(pinned.data());
    int read_err = ioctl(fd, kPinLongtermTestRead, &to) < 0 ? errno : 0;
    ioctl(fd, kPinLongtermTestStop);
    close(fd);
    munmap(buf, len);
    Count(fork_err, read_err, pinned);
  }

  // The pin is an io_uring buffer registration; the pinned pages are read back by WRITE_FIXED
  // into a memfd (a copy, no further pin), then from the memfd.
  void UringAttempt() {
    size_t len = o_.length;
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return Fail("mmap");
    uint8_t* buf = static_cast<uint8_t*>(p);
    std::vector<uint8_t> pinned(len);
    PatternFill(buf, len, 0, o_.seed);
    int memfd = memfd_create("pinlab-fork-check", MFD_CLOEXEC);
    if (memfd < 0) {
      Fail("memfd_create");
      munmap(buf, len);
      return;
    }
    int fork_err = 0, read_err = 0;
    {
      FixedBufferRing ring;
      const char* failed = "";
      if (int err = ring.Register(buf, len, &failed)) {
        errno = err;
        Fail(failed);
        close(memfd);
        munmap(buf, len);
        return;
      }
      fork_err = ForkAndWrite(buf, len);
      int64_t w = ring.WriteFixed(memfd, 0, &failed);
      if (w != int64_t(len)) read_err = w < 0 ? int(-w) : EIO;
    }  // unregistered: the pins go
    if (!read_err && pread(memfd, pinned.data(), len, 0) != ssize_t(len)) read_err = errno ? errno : EIO;
    close(memfd);
    munmap(buf, len);
    Count(fork_err, read_err, pinned);
  }

  // fork (the child exits at once), then the parent writes byte 0 of every page: 0 or fork's errno
  static int ForkAndWrite(uint8_t* buf, size_t len) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    int fork_err = pid < 0 ? errno : 0;
    if (pid > 0) {
      int status;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    for (size_t off = 0; off < len; off += kPage) buf[off] = 0xEE;
    return fork_err;
  }

  // pinned: what the pinned pages held after the parent's write; a page without it was lost
  void Count(int fork_err, int read_err, const std::vector<uint8_t>& pinned) {
    if (fork_err) {
      errno = fork_err;
      return Fail("fork");
    }
    attempts_++;
    hit_++;
    if (read_err) {
      read_errors_++;
      read_errno_ = read_err;
      return;
    }
    bytes_ += pinned.size();
    size_t lost = 0;
    for (size_t off = 0; off < pinned.size(); off += kPage) {
      if (pinned[off] != 0xEE) {
        lost++;
        if (first_bad_ < 0) first_bad_ = int64_t(off);
      }
    }
    lost_pages_ += lost;
    if (lost) lost_attempts_++;
  }

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
  bool unsupported_ = false;
  uint64_t lost_pages_ = 0, bytes_ = 0;
  int64_t first_bad_ = -1;
  double elapsed_ns_ = 0;
};

// forkRace(fd, { position = 0, length, span = length, seed, attempts, delayUs = 0, freshProcess = false, gupTestPath, uringRegister })
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
  Napi::Value gup = opts.Get("gupTestPath");
  if (!gup.IsUndefined()) o.gup_test_path = ToString(env, gup, "gupTestPath");
  o.uring_register = OptBool(env, opts, "uringRegister", false);
  if (o.uring_register && !o.gup_test_path.empty()) ThrowRange(env, "gupTestPath and uringRegister are two ways to pin: give one");
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
