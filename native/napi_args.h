// Argument checks for the N-API glue of pool.cc, resize.cc, layout.cc and pointwise.cc: each getter throws a JS
// TypeError naming the function and returns false, so a glue function reads `if (!Get...) return env.Undefined();`.
#pragma once
#include <napi.h>
#include <cstdint>
#include <string>

namespace cm {

inline bool ArgFail(const Napi::Env& env, const char* fn, const char* what) {
  Napi::TypeError::New(env, std::string(fn) + ": " + what).ThrowAsJavaScriptException();
  return false;
}

struct F32Arg {
  float* data = nullptr;
  long length = 0;
};

inline bool GetF32Arg(const Napi::CallbackInfo& info, size_t i, const char* fn, F32Arg* out) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    return ArgFail(info.Env(), fn, "expected a Float32Array argument");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  out->data = a.Data();
  out->length = static_cast<long>(a.ElementLength());
  return true;
}

// An Int32Array of exactly `count` values (count < 0: any length, at most 16) into `out`; *n gets the length.
inline bool GetI32Arg(const Napi::CallbackInfo& info, size_t i, const char* fn, long count, long* out, long* n = nullptr) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    return ArgFail(info.Env(), fn, "expected an Int32Array argument");
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  const long len = static_cast<long>(a.ElementLength());
  if ((count >= 0 && len != count) || len > 16) return ArgFail(info.Env(), fn, "Int32Array argument of the wrong length");
  const int32_t* values = a.Data();
  for (long k = 0; k < len; ++k) out[k] = values[k];
  if (n) *n = len;
  return true;
}

inline bool HasRoom(const Napi::Env& env, const char* fn, const F32Arg& a, long need) {
  return a.length >= need ? true : ArgFail(env, fn, "buffer smaller than its shape requires");
}

}  // namespace cm
