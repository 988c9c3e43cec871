// Registration only: each engine lives in its own file (see engines.h).
#include <napi.h>

#include "aligned_buffer.h"
#include "engines.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  pinlab::InitBuffers(env, exports);
  pinlab::InitDevice(env, exports);
  pinlab::InitSyncIo(env, exports);
  pinlab::InitAio(env, exports);
  pinlab::InitUring(env, exports);
  pinlab::InitSplice(env, exports);
  pinlab::InitLoop(env, exports);
  pinlab::InitPassthru(env, exports);
  pinlab::InitSgIo(env, exports);
  pinlab::InitForkRace(env, exports);
  pinlab::InitProcessVm(env, exports);
  pinlab::InitUdmabuf(env, exports);
  pinlab::InitGupTest(env, exports);
  pinlab::InitTsc(env, exports);
  pinlab::InitPageStatus(env, exports);
  pinlab::InitForkStorm(env, exports);
  pinlab::InitKernelRead(env, exports);
  pinlab::InitFreedFrames(env, exports);
  return exports;
}

NODE_API_MODULE(pinlab, Init)
