#include "errors.h"

#include <string.h>

#include <uv.h>

namespace pinlab {

std::string ErrnoName(int err) {
  // libuv is part of the Node binary that loads us; it knows the same names Node prints. Not
  // every errno: ENOEXEC (finit_module of a file that is no module) it calls "Unknown system
  // error -8"; glibc's own name then.
  std::string name = uv_err_name(-err);
  if (name.rfind("Unknown system error", 0) == 0) {
    const char* libc = strerrorname_np(err);
    if (libc) return libc;
  }
  return name;
}

Napi::Error ErrnoError(Napi::Env env, int err, const std::string& syscall,
                       const std::string& path) {
  std::string code = ErrnoName(err);
  std::string text = uv_strerror(-err);
  if (text.rfind("Unknown system error", 0) == 0) text = strerror(err);
  std::string message = code + ": " + text + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("code", Napi::String::New(env, code));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  return error;
}

Napi::Error CodedError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

void ThrowType(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

void ThrowRange(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

}  // namespace pinlab
