// Errors shaped like Node's own: errno failures become Error objects with code, errno (negative,
// as in Node), syscall and path; misuse becomes TypeError/RangeError.
#pragma once
#include <napi.h>

#include <string>

namespace pinlab {

// "EIO" for EIO; "UNKNOWN" for values libuv does not know.
std::string ErrnoName(int err);

// Node-style errno error: message "EIO: i/o error, pread '/dev/vda'".
Napi::Error ErrnoError(Napi::Env env, int err, const std::string& syscall,
                       const std::string& path = std::string());

// Error with a string code (e.g. ERR_PINLAB_BUFFER_FREED) for states that are no errno.
Napi::Error CodedError(Napi::Env env, const std::string& code, const std::string& message);

[[noreturn]] void ThrowType(Napi::Env env, const std::string& message);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& message);

}  // namespace pinlab
