// The native CPU engine: N-API entry point. Each kernel family lives in its own file and registers its
// functions on `exports` through an Init* function declared here.
#include <napi.h>
#include <cstdlib>
#include <memory>
#include <thread>
#include "parallel.h"

namespace cm {
namespace {
int DefaultThreads() {
  const char* env = std::getenv("CONVMIXER_THREADS");
  int n = env ? std::atoi(env) : 0;
  if (n <= 0) n = static_cast<int>(std::thread::hardware_concurrency());
  return n > 0 ? n : 1;
}
std::unique_ptr<ThreadPool>& PoolSlot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
}  // namespace

ThreadPool& Pool() {
  auto& slot = PoolSlot();
  if (!slot) slot = std::make_unique<ThreadPool>(DefaultThreads());
  return *slot;
}

// setThreads(n): replaces the pool (between kernel calls only: JS calls kernels one at a time). Returns the size.
static Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
  if (n <= 0) n = DefaultThreads();
  if (Pool().size() != n) {
    PoolSlot().reset();
    PoolSlot() = std::make_unique<ThreadPool>(n);
  }
  return Napi::Number::New(info.Env(), Pool().size());
}

#if defined(__SSE__)
// setFlushDenormals(on): whether kernels flush denormals to zero (parallel.h). Returns the previous setting.
static Napi::Value SetFlushDenormals(const Napi::CallbackInfo& info) {
  const bool prev = g_flush_denormals.load();
  if (info.Length() > 0 && info[0].IsBoolean()) g_flush_denormals.store(info[0].As<Napi::Boolean>().Value());
  return Napi::Boolean::New(info.Env(), prev);
}
#endif

void InitGemm(Napi::Env env, Napi::Object exports);       // gemm.cc: GEMM, Conv2D (im2col/1x1), MatMul, backprops
void InitGemmBf16(Napi::Env env, Napi::Object exports);  // gemm_bf16.cc: bf16 mixed-precision mode of the GEMM family
void InitDepthwise(Napi::Env env, Napi::Object exports);  // depthwise.cc: depthwise conv forward/backprops
void InitElementwise(Napi::Env env, Napi::Object exports);  // elementwise.cc: GELU, BN, reductions, ...
void InitFused(Napi::Env env, Napi::Object exports);        // fused.cc: bias + activation + BatchNorm (+ residual), fwd/bwd
void InitPool(Napi::Env env, Napi::Object exports);         // pool.cc: max-pool forward/backward
void InitResize(Napi::Env env, Napi::Object exports);       // resize.cc: bilinear resize forward/backward
void InitLayout(Napi::Env env, Napi::Object exports);       // layout.cc: strided copy (transpose, slice, concat, ...), fill
void InitPointwise(Napi::Env env, Napi::Object exports);    // pointwise.cc: relu, step, addN
}  // namespace cm

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("threads", Napi::Number::New(env, cm::Pool().size()));
  exports.Set("setThreads", Napi::Function::New(env, cm::SetThreads, "setThreads"));
#if defined(__SSE__)
  // Only where the guard can set the mode (x86 MXCSR); elsewhere the suite reports denormals as kept.
  exports.Set("setFlushDenormals", Napi::Function::New(env, cm::SetFlushDenormals, "setFlushDenormals"));
#endif
  cm::InitGemm(env, exports);
  cm::InitGemmBf16(env, exports);
  cm::InitDepthwise(env, exports);
  cm::InitElementwise(env, exports);
  cm::InitFused(env, exports);
  cm::InitPool(env, exports);
  cm::InitResize(env, exports);
  cm::InitLayout(env, exports);
  cm::InitPointwise(env, exports);
  return exports;
}

NODE_API_MODULE(convmixer_native, Init)
