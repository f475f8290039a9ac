// ReLU, Step, AddN, Log and a last-axes Max over float32 for tfjs's kernels of those names, with tfjs's cpu semantics:
//   relu(x) = Math.max(0, x): NaN stays NaN, -0 becomes +0;
//   step(x) = NaN for NaN, 1 for x > 0, alpha otherwise (tfjs's ReLU gradient is dy * step(x) with alpha 0);
//   addN = the inputs summed in order, in float32, as the JS kernel does;
//   log(x) = Math.log in double, rounded to float32; maxRows = per-row max, NaN if the row has one (logSoftmax's
//   max over the classes of a per-pixel cross-entropy);
//   softmaxRows = tfjs's cpu Softmax over the last axis: exp(x - rowmax) / the row's sum of those, the sum rounded to
//   float32 before the division as the JS kernel's Sum output is (attention: 70% of a DeiT forward in JS before).
#include <napi.h>
#include <algorithm>
#include <cmath>
#include <vector>
#include "napi_args.h"
#include "parallel.h"

namespace cm {
namespace {

constexpr long kGrain = 1L << 15;
constexpr int kL = 8;  // lanes: one AVX2 register
typedef float VF __attribute__((vector_size(4 * kL), aligned(4)));

inline VF Splat(float v) { return v - VF{}; }

// Both select lane-wise without branches: the sign of activations is a coin flip, which a branch would mispredict
// (a scalar loop with `x > 0 ? ...` ran 20x slower than the vector one).
inline VF Relu(VF x) { return x != x ? x : (x > Splat(0.f) ? x : Splat(0.f)); }
inline VF Step(VF x, VF alpha) { return x != x ? x : (x > Splat(0.f) ? Splat(1.f) : alpha); }
inline float Relu(float x) { return std::isnan(x) ? x : (x > 0.f ? x : 0.f); }
inline float Step(float x, float alpha) { return std::isnan(x) ? x : (x > 0.f ? 1.f : alpha); }

// out[i] = f(x[i]) over [0, n), kL lanes at a time.
template <typename Fv, typename Fs>
void Map(const float* x, float* out, long n, Fv vf, Fs sf) {
  ParallelFor(n, kGrain, [&](long lo, long hi) {
    long i = lo;
    for (; i + kL <= hi; i += kL) *reinterpret_cast<VF*>(out + i) = vf(*reinterpret_cast<const VF*>(x + i));
    for (; i < hi; ++i) out[i] = sf(x[i]);
  });
}

// relu(x, out)
Napi::Value ReluFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32Arg x, out;
  if (!GetF32Arg(info, 0, "relu", &x) || !GetF32Arg(info, 1, "relu", &out) || !HasRoom(env, "relu", out, x.length))
    return env.Undefined();
  Map(x.data, out.data, x.length, [](VF v) { return Relu(v); }, [](float v) { return Relu(v); });
  return env.Undefined();
}

// step(x, out, alpha)
Napi::Value StepFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32Arg x, out;
  if (!GetF32Arg(info, 0, "step", &x) || !GetF32Arg(info, 1, "step", &out) || !HasRoom(env, "step", out, x.length))
    return env.Undefined();
  if (!info[2].IsNumber()) return ArgFail(env, "step", "expected (x, out, alpha)"), env.Undefined();
  const float alpha = info[2].As<Napi::Number>().FloatValue();
  const VF alphaV = Splat(alpha);
  Map(x.data, out.data, x.length, [alphaV](VF v) { return Step(v, alphaV); }, [alpha](float v) { return Step(v, alpha); });
  return env.Undefined();
}

// leakyRelu(x, out, alpha): tfjs's cpu LeakyRelu, x < 0 ? alpha * x : x (NaN and -0 pass through). The product is
// taken in double and rounded once, as JavaScript does with the attribute alpha (a double), so the results are equal.
Napi::Value LeakyReluFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32Arg x, out;
  if (!GetF32Arg(info, 0, "leakyRelu", &x) || !GetF32Arg(info, 1, "leakyRelu", &out) || !HasRoom(env, "leakyRelu", out, x.length))
    return env.Undefined();
  if (!info[2].IsNumber()) return ArgFail(env, "leakyRelu", "expected (x, out, alpha)"), env.Undefined();
  const double alpha = info[2].As<Napi::Number>().DoubleValue();
  const float* in = x.data;
  float* o = out.data;
  ParallelFor(x.length, kGrain, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) o[i] = in[i] < 0.f ? static_cast<float>(alpha * in[i]) : in[i];
  });
  return env.Undefined();
}

// addN([a, b, ...], out): all inputs of out's length
Napi::Value AddNFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32Arg out;
  if (!info[0].IsArray() || !GetF32Arg(info, 1, "addN", &out)) return ArgFail(env, "addN", "expected (Float32Array[] inputs, out)"), env.Undefined();
  Napi::Array list = info[0].As<Napi::Array>();
  std::vector<const float*> inputs;
  for (uint32_t k = 0; k < list.Length(); ++k) {
    Napi::Value v = list.Get(k);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array ||
        static_cast<long>(v.As<Napi::Float32Array>().ElementLength()) != out.length)
      return ArgFail(env, "addN", "every input must be a Float32Array of the output's length"), env.Undefined();
    inputs.push_back(v.As<Napi::Float32Array>().Data());
  }
  float* po = out.data;
  ParallelFor(out.length, kGrain, [&](long lo, long hi) {
    std::fill(po + lo, po + hi, 0.f);
    for (const float* in : inputs)
      for (long i = lo; i < hi; ++i) po[i] += in[i];
  });
  return env.Undefined();
}

// log(x, out)
Napi::Value LogFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32Arg x, out;
  if (!GetF32Arg(info, 0, "log", &x) || !GetF32Arg(info, 1, "log", &out) || !HasRoom(env, "log", out, x.length))
    return env.Undefined();
  const float* px = x.data;
  float* po = out.data;
  ParallelFor(x.length, kGrain / 8, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) po[i] = static_cast<float>(std::log(static_cast<double>(px[i])));
  });
  return env.Undefined();
}

// maxRows(x, out, rows, n): out[r] = max of x[r*n .. r*n + n), NaN if any is NaN
Napi::Value MaxRowsFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32Arg x, out;
  if (!GetF32Arg(info, 0, "maxRows", &x) || !GetF32Arg(info, 1, "maxRows", &out) || !info[2].IsNumber() || !info[3].IsNumber())
    return ArgFail(env, "maxRows", "expected (x, out, rows, n)"), env.Undefined();
  const long rows = info[2].As<Napi::Number>().Int64Value(), n = info[3].As<Napi::Number>().Int64Value();
  if (rows < 0 || n <= 0 || !HasRoom(env, "maxRows", x, rows * n) || !HasRoom(env, "maxRows", out, rows)) return env.Undefined();
  const float* px = x.data;
  float* po = out.data;
  ParallelFor(rows, std::max(1L, kGrain / n), [&](long lo, long hi) {
    for (long r = lo; r < hi; ++r) {
      const float* row = px + r * n;
      float m = row[0];
      for (long j = 0; j < n; ++j) m = (std::isnan(row[j]) || row[j] > m) ? row[j] : m;
      po[r] = m;
    }
  });
  return env.Undefined();
}

// softmaxRows(x, out, rows, n): per row of n, out = e / sum(e) with e = exp(x - max(row)); a NaN in a row makes it NaN.
Napi::Value SoftmaxRowsFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32Arg x, out;
  if (!GetF32Arg(info, 0, "softmaxRows", &x) || !GetF32Arg(info, 1, "softmaxRows", &out) || !info[2].IsNumber() || !info[3].IsNumber())
    return ArgFail(env, "softmaxRows", "expected (x, out, rows, n)"), env.Undefined();
  const long rows = info[2].As<Napi::Number>().Int64Value(), n = info[3].As<Napi::Number>().Int64Value();
  if (rows < 0 || n <= 0 || !HasRoom(env, "softmaxRows", x, rows * n) || !HasRoom(env, "softmaxRows", out, rows * n)) return env.Undefined();
  const float* px = x.data;
  float* po = out.data;
  ParallelFor(rows, std::max(1L, kGrain / n), [&](long lo, long hi) {
    for (long r = lo; r < hi; ++r) {
      const float* row = px + r * n;
      float* o = po + r * n;
      float m = row[0];
      for (long j = 0; j < n; ++j) m = (std::isnan(row[j]) || row[j] > m) ? row[j] : m;
      double sum = 0;  // the JS Sum kernel adds float32 values in a double
      for (long j = 0; j < n; ++j) {
        o[j] = std::exp(row[j] - m);
        sum += o[j];
      }
      const float s = static_cast<float>(sum);
      for (long j = 0; j < n; ++j) o[j] = o[j] / s;
    }
  });
  return env.Undefined();
}

}  // namespace

void InitPointwise(Napi::Env env, Napi::Object exports) {
  exports.Set("relu", Napi::Function::New(env, Guarded<ReluFn>, "relu"));
  exports.Set("step", Napi::Function::New(env, Guarded<StepFn>, "step"));
  exports.Set("leakyRelu", Napi::Function::New(env, Guarded<LeakyReluFn>, "leakyRelu"));
  exports.Set("addN", Napi::Function::New(env, Guarded<AddNFn>, "addN"));
  exports.Set("log", Napi::Function::New(env, Guarded<LogFn>, "log"));
  exports.Set("maxRows", Napi::Function::New(env, Guarded<MaxRowsFn>, "maxRows"));
  exports.Set("softmaxRows", Napi::Function::New(env, Guarded<SoftmaxRowsFn>, "softmaxRows"));
}

}  // namespace cm
