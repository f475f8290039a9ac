// The native CPU engine: N-API entry point. Each kernel family lives in its own file and registers its
// functions on `exports` through an Init* function declared here.
#include <napi.h>
#include <cstdlib>
#include <thread>
#include "parallel.h"

namespace cm {
ThreadPool& Pool() {
  static ThreadPool pool([] {
    const char* env = std::getenv("CONVMIXER_THREADS");
    int n = env ? std::atoi(env) : 0;
    if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
    return n > 0 ? n : 1;
  }());
  return pool;
}
void InitGemm(Napi::Env env, Napi::Object exports);       // gemm.cc: GEMM, Conv2D (im2col/1x1), MatMul, backprops
void InitDepthwise(Napi::Env env, Napi::Object exports);  // depthwise.cc: depthwise conv forward/backprops
void InitElementwise(Napi::Env env, Napi::Object exports);  // elementwise.cc: GELU, BN, reductions, ...
}  // namespace cm

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("threads", Napi::Number::New(env, cm::Pool().size()));
  cm::InitGemm(env, exports);
  cm::InitDepthwise(env, exports);
  cm::InitElementwise(env, exports);
  return exports;
}

NODE_API_MODULE(convmixer_native, Init)
