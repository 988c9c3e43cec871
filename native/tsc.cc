// tscKhz(sampleMs): the frequency of this CPU's time stamp counter, measured against
// CLOCK_MONOTONIC_RAW. Under TCG a guest's RDTSC reads the host's TSC, so this is the guest's
// TSC rate too: passed as tsc_early_khz= it spares the guest kernel its calibration against the
// emulated PIT, which fails under host load and leaves the guest on the jiffies clocksource.
// Returns undefined off x86-64 or when two samples disagree by more than 0.1 %.
#include <time.h>

#include <cmath>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "args.h"
#include "engines.h"

namespace pinlab {

namespace {

#if defined(__x86_64__)
struct Stamp {
  double ns;
  double tsc;
};

// One (clock, TSC) pair: the TSC read on both sides of clock_gettime, from the attempt whose
// two reads lie closest. A preemption between a clock read and a TSC read added its length to
// one end of a sample: 20 us of it over 20 ms was the whole 0.1 % tolerance.
Stamp ReadStamp() {
  Stamp best{0, 0};
  uint64_t best_gap = UINT64_MAX;
  for (int i = 0; i < 5; i++) {
    struct timespec ts;
    uint64_t t0 = __rdtsc();
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    uint64_t t1 = __rdtsc();
    if (t1 - t0 < best_gap) {
      best_gap = t1 - t0;
      best = {double(ts.tv_sec) * 1e9 + double(ts.tv_nsec), (double(t0) + double(t1)) / 2};
    }
  }
  return best;
}

double SampleKhz(int64_t ms) {
  struct timespec pause = {time_t(ms / 1000), long((ms % 1000) * 1000000)};
  Stamp a = ReadStamp();
  nanosleep(&pause, nullptr);
  Stamp b = ReadStamp();
  double ns = b.ns - a.ns;
  return ns > 0 ? (b.tsc - a.tsc) * 1e6 / ns : 0;
}
#endif

Napi::Value TscKhz(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t ms = Arg(info, 0).IsUndefined() ? 20 : ToInteger(env, Arg(info, 0), "sampleMs", 1, 1000);
#if defined(__x86_64__)
  double k1 = SampleKhz(ms), k2 = SampleKhz(ms);
  if (k1 <= 0 || std::fabs(k1 - k2) > k1 / 1000) return env.Undefined();
  return Napi::Number::New(env, std::round((k1 + k2) / 2));
#else
  (void)ms;
  return env.Undefined();
#endif
}

}  // namespace

void InitTsc(Napi::Env env, Napi::Object exports) {
  exports.Set("tscKhz", Napi::Function::New<TscKhz>(env, "tscKhz"));
}

}  // namespace pinlab
