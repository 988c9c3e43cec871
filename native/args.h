// Argument checks shared by every binding: wrong types throw TypeError, values out of range
// (including zero lengths and non-integers) throw RangeError, as Node's own fs functions do.
#pragma once
#include <napi.h>

#include <climits>
#include <cmath>
#include <string>

#include "errors.h"

namespace pinlab {

inline int64_t ToInteger(Napi::Env env, Napi::Value v, const std::string& name, int64_t min,
                         int64_t max) {
  if (!v.IsNumber()) ThrowType(env, "The \"" + name + "\" argument must be of type number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d)
    ThrowRange(env, "The value of \"" + name + "\" must be an integer, received " +
                        std::to_string(d));
  if (d < double(min) || d > double(max))
    ThrowRange(env, "The value of \"" + name + "\" is out of range: must be >= " +
                        std::to_string(min) + " and <= " + std::to_string(max) + ", received " +
                        std::to_string(int64_t(d)));
  return int64_t(d);
}

inline int64_t OptInteger(Napi::Env env, Napi::Object o, const char* key, int64_t dflt,
                          int64_t min, int64_t max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  return ToInteger(env, v, key, min, max);
}

inline bool OptBool(Napi::Env env, Napi::Object o, const char* key, bool dflt) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return dflt;
  if (!v.IsBoolean()) ThrowType(env, std::string("The \"") + key + "\" option must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline int ToFd(Napi::Env env, Napi::Value v) {
  return int(ToInteger(env, v, "fd", 0, INT_MAX));
}

inline std::string ToString(Napi::Env env, Napi::Value v, const std::string& name) {
  if (!v.IsString()) ThrowType(env, "The \"" + name + "\" argument must be of type string");
  return v.As<Napi::String>().Utf8Value();
}

inline Napi::Object OptObject(Napi::Env env, const Napi::CallbackInfo& info, size_t idx,
                              const std::string& name) {
  if (info.Length() <= idx || info[idx].IsUndefined()) return Napi::Object::New(env);
  if (!info[idx].IsObject() || info[idx].IsArray())
    ThrowType(env, "The \"" + name + "\" argument must be an object");
  return info[idx].As<Napi::Object>();
}

inline Napi::Value Arg(const Napi::CallbackInfo& info, size_t idx) {
  return info.Length() > idx ? info[idx] : info.Env().Undefined();
}

constexpr int64_t kMaxSafe = 9007199254740991LL;  // Number.MAX_SAFE_INTEGER

}  // namespace pinlab
