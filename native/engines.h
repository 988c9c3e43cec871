// Each engine registers its bindings on the addon's exports.
#pragma once
#include <napi.h>

namespace pinlab {
void InitDevice(Napi::Env env, Napi::Object exports);
void InitSyncIo(Napi::Env env, Napi::Object exports);
void InitAio(Napi::Env env, Napi::Object exports);
void InitUring(Napi::Env env, Napi::Object exports);
void InitSplice(Napi::Env env, Napi::Object exports);
void InitLoop(Napi::Env env, Napi::Object exports);
void InitPassthru(Napi::Env env, Napi::Object exports);
void InitSgIo(Napi::Env env, Napi::Object exports);
void InitForkRace(Napi::Env env, Napi::Object exports);
void InitProcessVm(Napi::Env env, Napi::Object exports);
void InitUdmabuf(Napi::Env env, Napi::Object exports);
void InitGupTest(Napi::Env env, Napi::Object exports);
void InitTsc(Napi::Env env, Napi::Object exports);
void InitPageStatus(Napi::Env env, Napi::Object exports);
void InitForkStorm(Napi::Env env, Napi::Object exports);
void InitKernelRead(Napi::Env env, Napi::Object exports);
void InitFreedFrames(Napi::Env env, Napi::Object exports);
}  // namespace pinlab
