// Elementwise, BatchNorm and reduction kernels for the tfjs cpu backend: broadcasting binary ops over a collapsed
// strided shape, unary math, FusedBatchNorm with per-channel parameters, and Sum/Mean over one contiguous block of
// axes ([outer, reduce, inner]). Shapes are worked out on the JS side (lib/backend/kernels-elementwise.ts).
#include <napi.h>
#include <cmath>
#include <cstdint>
#include <vector>
#include "parallel.h"

namespace cm {
namespace {

constexpr long kGrain = 16384;  // elements per parallel chunk: below this a second thread costs more than it saves

// Op codes shared with lib/backend/kernels-elementwise.ts (BINARY_OPS, UNARY_OPS): only ops registered there.
enum BinaryOp { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3, kSquaredDiff = 4 };

template <int Op>
inline float Apply(float a, float b) {
  if (Op == kAdd) return a + b;
  if (Op == kSub) return a - b;
  if (Op == kMul) return a * b;
  if (Op == kDiv) return a / b;
  return (a - b) * (a - b);  // kSquaredDiff
}

// One contiguous run of n outputs; sa / sb are 1 (walk) or 0 (repeat) so the loop vectorizes in every case.
template <int Op>
inline void Run(const float* a, long sa, const float* b, long sb, float* o, long n) {
  if (sa == 1 && sb == 1)
    for (long i = 0; i < n; ++i) o[i] = Apply<Op>(a[i], b[i]);
  else if (sa == 1 && sb == 0) {
    const float bv = *b;
    for (long i = 0; i < n; ++i) o[i] = Apply<Op>(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const float av = *a;
    for (long i = 0; i < n; ++i) o[i] = Apply<Op>(av, b[i]);
  } else {
    const float v = Apply<Op>(*a, *b);
    for (long i = 0; i < n; ++i) o[i] = v;
  }
}

constexpr int kMaxRank = 6;

// out[idx] = a[idx . sa] op b[idx . sb] over `dims` (rank r <= kMaxRank, innermost strides 0 or 1).
template <int Op>
void Binary(const float* a, const float* b, float* o, const long* dims, const long* sa, const long* sb, int r) {
  const long inner = dims[r - 1];
  long rows = 1;
  for (int d = 0; d < r - 1; ++d) rows *= dims[d];
  ParallelFor(rows, std::max<long>(1, kGrain / std::max<long>(inner, 1)), [&](long lo, long hi) {
    for (long row = lo; row < hi; ++row) {
      long rem = row, offA = 0, offB = 0;
      for (int d = r - 2; d >= 0; --d) {
        const long i = rem % dims[d];
        rem /= dims[d];
        offA += i * sa[d];
        offB += i * sb[d];
      }
      Run<Op>(a + offA, sa[r - 1], b + offB, sb[r - 1], o + row * inner, inner);
    }
  });
}

enum UnaryOp { kNeg = 0, kSquare = 1, kExp = 2, kErf = 3, kSqrt = 4, kRsqrt = 5, kAbs = 7, kReciprocal = 8 };

template <int Op>
inline float ApplyUnary(float x) {
  if (Op == kNeg) return -x;
  if (Op == kSquare) return x * x;
  if (Op == kExp) return std::exp(x);
  if (Op == kErf) return std::erf(x);
  if (Op == kSqrt) return std::sqrt(x);
  if (Op == kRsqrt) return 1.f / std::sqrt(x);
  if (Op == kAbs) return std::fabs(x);
  return 1.f / x;
}

template <int Op>
void Unary(const float* x, float* o, long n) {
  ParallelFor(n, kGrain, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) o[i] = ApplyUnary<Op>(x[i]);
  });
}

// y = offset + (x - mean) * scale / sqrt(var + eps), parameters per channel (length c) or shared (length 1),
// the same formula and order as tfjs's JS kernel.
void BatchNorm(const float* x, float* y, long n, long c, const float* mean, long lm, const float* var, long lv,
               const float* off, long lo_, const float* scale, long ls, float eps) {
  std::vector<float> a(c), m(c), b(c);
  for (long i = 0; i < c; ++i) {
    const float s = scale ? scale[ls == 1 ? 0 : i] : 1.f;
    a[i] = s / std::sqrt(var[lv == 1 ? 0 : i] + eps);
    m[i] = mean[lm == 1 ? 0 : i];
    b[i] = off ? off[lo_ == 1 ? 0 : i] : 0.f;
  }
  const long rows = n / c;
  ParallelFor(rows, std::max<long>(1, kGrain / c), [&](long lo, long hi) {
    for (long r = lo; r < hi; ++r) {
      const float* xr = x + r * c;
      float* yr = y + r * c;
      for (long i = 0; i < c; ++i) yr[i] = b[i] + (xr[i] - m[i]) * a[i];
    }
  });
}

// out[o, i] = sum_r x[o, r, i] (times `scale`), summed in double in index order: deterministic and close to
// tfjs's JS kernels, which add in float64 too.
void Reduce(const float* x, float* out, long outer, long red, long inner, double scale) {
  if (inner == 1) {
    ParallelFor(outer, std::max<long>(1, kGrain / std::max<long>(red, 1)), [&](long lo, long hi) {
      for (long o = lo; o < hi; ++o) {
        const float* xr = x + o * red;
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        long r = 0;
        for (; r + 4 <= red; r += 4) {
          s0 += xr[r];
          s1 += xr[r + 1];
          s2 += xr[r + 2];
          s3 += xr[r + 3];
        }
        for (; r < red; ++r) s0 += xr[r];
        out[o] = static_cast<float>(((s0 + s1) + (s2 + s3)) * scale);
      }
    });
    return;
  }
  constexpr long kChunk = 64;
  const long chunks = (inner + kChunk - 1) / kChunk;
  ParallelFor(outer * chunks, 1, [&](long lo, long hi) {
    double acc[kChunk];
    for (long t = lo; t < hi; ++t) {
      const long o = t / chunks, i0 = (t % chunks) * kChunk, len = std::min(kChunk, inner - i0);
      for (long i = 0; i < len; ++i) acc[i] = 0;
      const float* base = x + o * red * inner + i0;
      for (long r = 0; r < red; ++r) {
        const float* xr = base + r * inner;
        for (long i = 0; i < len; ++i) acc[i] += xr[i];
      }
      for (long i = 0; i < len; ++i) out[o * inner + i0 + i] = static_cast<float>(acc[i] * scale);
    }
  });
}

// ---- N-API glue ----

Napi::Value Fail(const Napi::Env& env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool IsF32(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array;
}
bool IsI32(const Napi::Value& v) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array;
}

// binary(op, a, b, out, dims, aStrides, bStrides): Int32Arrays of equal length r (1..6).
Napi::Value BinaryFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[0].IsNumber() || !IsF32(info[1]) || !IsF32(info[2]) || !IsF32(info[3]) || !IsI32(info[4]) ||
      !IsI32(info[5]) || !IsI32(info[6]))
    return Fail(env, "binary: expected (op, Float32Array a, b, out, Int32Array dims, aStrides, bStrides)");
  const int op = info[0].As<Napi::Number>().Int32Value();
  auto a = info[1].As<Napi::Float32Array>(), b = info[2].As<Napi::Float32Array>(), o = info[3].As<Napi::Float32Array>();
  auto di = info[4].As<Napi::Int32Array>(), ai = info[5].As<Napi::Int32Array>(), bi = info[6].As<Napi::Int32Array>();
  const int r = static_cast<int>(di.ElementLength());
  if (r < 1 || r > kMaxRank || ai.ElementLength() != di.ElementLength() || bi.ElementLength() != di.ElementLength())
    return Fail(env, "binary: dims/strides must have the same length, 1 to 6");
  long dims[kMaxRank], sa[kMaxRank], sb[kMaxRank], total = 1, lastA = 0, lastB = 0;
  for (int d = 0; d < r; ++d) {
    dims[d] = di[d];
    sa[d] = ai[d];
    sb[d] = bi[d];
    if (dims[d] <= 0 || sa[d] < 0 || sb[d] < 0) return Fail(env, "binary: invalid dims or strides");
    total *= dims[d];
    lastA += (dims[d] - 1) * sa[d];
    lastB += (dims[d] - 1) * sb[d];
  }
  if ((sa[r - 1] != 0 && sa[r - 1] != 1) || (sb[r - 1] != 0 && sb[r - 1] != 1))
    return Fail(env, "binary: innermost strides must be 0 or 1");
  if (static_cast<long>(o.ElementLength()) < total || static_cast<long>(a.ElementLength()) <= lastA ||
      static_cast<long>(b.ElementLength()) <= lastB)
    return Fail(env, "binary: buffer smaller than dims/strides require");
  const float *pa = a.Data(), *pb = b.Data();
  float* po = o.Data();
  switch (op) {
    case kAdd: Binary<kAdd>(pa, pb, po, dims, sa, sb, r); break;
    case kSub: Binary<kSub>(pa, pb, po, dims, sa, sb, r); break;
    case kMul: Binary<kMul>(pa, pb, po, dims, sa, sb, r); break;
    case kDiv: Binary<kDiv>(pa, pb, po, dims, sa, sb, r); break;
    case kSquaredDiff: Binary<kSquaredDiff>(pa, pb, po, dims, sa, sb, r); break;
    default: return Fail(env, "binary: unknown op");
  }
  return env.Undefined();
}

// unary(op, x, out)
Napi::Value UnaryFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !IsF32(info[1]) || !IsF32(info[2]))
    return Fail(env, "unary: expected (op, Float32Array x, out)");
  auto x = info[1].As<Napi::Float32Array>(), o = info[2].As<Napi::Float32Array>();
  const long n = static_cast<long>(x.ElementLength());
  if (static_cast<long>(o.ElementLength()) < n) return Fail(env, "unary: output smaller than input");
  const float* px = x.Data();
  float* po = o.Data();
  switch (info[0].As<Napi::Number>().Int32Value()) {
    case kNeg: Unary<kNeg>(px, po, n); break;
    case kSquare: Unary<kSquare>(px, po, n); break;
    case kExp: Unary<kExp>(px, po, n); break;
    case kErf: Unary<kErf>(px, po, n); break;
    case kSqrt: Unary<kSqrt>(px, po, n); break;
    case kRsqrt: Unary<kRsqrt>(px, po, n); break;
    case kAbs: Unary<kAbs>(px, po, n); break;
    case kReciprocal: Unary<kReciprocal>(px, po, n); break;
    default: return Fail(env, "unary: unknown op");
  }
  return env.Undefined();
}

// batchNorm(x, mean, variance, offset | null, scale | null, out, channels, eps)
Napi::Value BatchNormFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 8 || !IsF32(info[0]) || !IsF32(info[1]) || !IsF32(info[2]) || !IsF32(info[5]) || !info[6].IsNumber() ||
      !info[7].IsNumber() || !(info[3].IsNull() || IsF32(info[3])) || !(info[4].IsNull() || IsF32(info[4])))
    return Fail(env, "batchNorm: expected (x, mean, variance, offset|null, scale|null, out, channels, eps)");
  auto x = info[0].As<Napi::Float32Array>(), m = info[1].As<Napi::Float32Array>(), v = info[2].As<Napi::Float32Array>();
  auto o = info[5].As<Napi::Float32Array>();
  const long c = info[6].As<Napi::Number>().Int64Value(), n = static_cast<long>(x.ElementLength());
  const float eps = info[7].As<Napi::Number>().FloatValue();
  auto okLen = [c](long len) { return len == 1 || len == c; };
  const float *off = nullptr, *scale = nullptr;
  long lo = 1, ls = 1;
  if (!info[3].IsNull()) {
    off = info[3].As<Napi::Float32Array>().Data();
    lo = static_cast<long>(info[3].As<Napi::Float32Array>().ElementLength());
  }
  if (!info[4].IsNull()) {
    scale = info[4].As<Napi::Float32Array>().Data();
    ls = static_cast<long>(info[4].As<Napi::Float32Array>().ElementLength());
  }
  const long lm = static_cast<long>(m.ElementLength()), lv = static_cast<long>(v.ElementLength());
  if (c <= 0 || n % c != 0 || !okLen(lm) || !okLen(lv) || !okLen(lo) || !okLen(ls) ||
      static_cast<long>(o.ElementLength()) < n)
    return Fail(env, "batchNorm: parameters must have length 1 or channels, and x a whole number of pixels");
  BatchNorm(x.Data(), o.Data(), n, c, m.Data(), lm, v.Data(), lv, off, lo, scale, ls, eps);
  return env.Undefined();
}

// reduce(x, out, outer, reduce, inner, scale): out[o, i] = scale * sum_r x[o, r, i]
Napi::Value ReduceFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !IsF32(info[0]) || !IsF32(info[1]) || !info[2].IsNumber() || !info[3].IsNumber() ||
      !info[4].IsNumber() || !info[5].IsNumber())
    return Fail(env, "reduce: expected (Float32Array x, out, outer, reduce, inner, scale)");
  auto x = info[0].As<Napi::Float32Array>(), o = info[1].As<Napi::Float32Array>();
  const long outer = info[2].As<Napi::Number>().Int64Value(), red = info[3].As<Napi::Number>().Int64Value(),
             inner = info[4].As<Napi::Number>().Int64Value();
  if (outer <= 0 || red <= 0 || inner <= 0 || static_cast<long>(x.ElementLength()) < outer * red * inner ||
      static_cast<long>(o.ElementLength()) < outer * inner)
    return Fail(env, "reduce: sizes do not match the buffers");
  Reduce(x.Data(), o.Data(), outer, red, inner, info[5].As<Napi::Number>().DoubleValue());
  return env.Undefined();
}

}  // namespace

void InitElementwise(Napi::Env env, Napi::Object exports) {
  exports.Set("binary", Napi::Function::New(env, Guarded<BinaryFn>, "binary"));
  exports.Set("unary", Napi::Function::New(env, Guarded<UnaryFn>, "unary"));
  exports.Set("batchNorm", Napi::Function::New(env, Guarded<BatchNormFn>, "batchNorm"));
  exports.Set("reduce", Napi::Function::New(env, Guarded<ReduceFn>, "reduce"));
}

}  // namespace cm
