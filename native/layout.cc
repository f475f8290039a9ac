// Data movement for tfjs's layout kernels (Transpose, DepthToSpace, Concat, Slice, SplitV, PadV2): one strided copy,
//   dst[dstOffset + sum_d i_d * dstStrides[d]] = src[srcOffset + sum_d i_d * srcStrides[d]]  for i in dims,
// and a fill. The JS side (lib/backend/kernels-layout.ts) expresses each kernel as such copies and merges dimensions
// first, so the innermost dimension is usually a contiguous run on both sides (a memcpy); otherwise it is a gather.
// Values are moved, never computed: results are bit-identical to the JS kernels.
#include <napi.h>
#include <algorithm>
#include <cstring>
#include "napi_args.h"
#include "parallel.h"

namespace cm {
namespace {

constexpr int kMaxRank = 8;
constexpr long kGrain = 1L << 15;  // elements per parallel chunk

struct Strided {
  int rank;
  long dims[kMaxRank], src[kMaxRank], dst[kMaxRank];
};

void CopyStrided(const float* src, float* dst, const Strided& s) {
  const int r = s.rank;
  const long inner = s.dims[r - 1], is = s.src[r - 1], id = s.dst[r - 1];
  long rows = 1;
  for (int d = 0; d < r - 1; ++d) rows *= s.dims[d];
  ParallelFor(rows, std::max(1L, kGrain / std::max(1L, inner)), [&](long lo, long hi) {
    for (long row = lo; row < hi; ++row) {
      long rem = row, so = 0, dOff = 0;
      for (int d = r - 2; d >= 0; --d) {
        const long i = rem % s.dims[d];
        rem /= s.dims[d];
        so += i * s.src[d];
        dOff += i * s.dst[d];
      }
      const float* sp = src + so;
      float* dp = dst + dOff;
      if (is == 1 && id == 1) {
        std::memcpy(dp, sp, inner * sizeof(float));
      } else {
        for (long k = 0; k < inner; ++k) dp[k * id] = sp[k * is];
      }
    }
  });
}

// ---- N-API glue ----

// The largest index a strided walk touches, or -1 for an empty walk.
long LastIndex(long offset, const long* dims, const long* strides, int rank) {
  long last = offset;
  for (int d = 0; d < rank; ++d) {
    if (dims[d] == 0) return -1;
    last += (dims[d] - 1) * strides[d];
  }
  return last;
}

// copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, dims): Int32Arrays of one length (1..8)
Napi::Value CopyStridedFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "copyStrided";
  F32Arg src, dst;
  Strided s;
  long ns = 0, nd = 0, nr = 0;
  if (!GetF32Arg(info, 0, fn, &src) || !GetF32Arg(info, 3, fn, &dst) || !info[1].IsNumber() || !info[4].IsNumber())
    return ArgFail(env, fn, "expected (src, srcOffset, srcStrides, dst, dstOffset, dstStrides, dims)"), env.Undefined();
  if (!GetI32Arg(info, 2, fn, -1, s.src, &ns) || !GetI32Arg(info, 5, fn, -1, s.dst, &nd) || !GetI32Arg(info, 6, fn, -1, s.dims, &nr))
    return env.Undefined();
  if (nr < 1 || nr > kMaxRank || ns != nr || nd != nr) return ArgFail(env, fn, "dims and strides must have one length, 1 to 8"), env.Undefined();
  s.rank = static_cast<int>(nr);
  const long so = info[1].As<Napi::Number>().Int64Value(), dOff = info[4].As<Napi::Number>().Int64Value();
  for (int d = 0; d < s.rank; ++d)
    if (s.dims[d] < 0 || s.src[d] < 0 || s.dst[d] < 0) return ArgFail(env, fn, "negative dims or strides"), env.Undefined();
  const long lastSrc = LastIndex(so, s.dims, s.src, s.rank), lastDst = LastIndex(dOff, s.dims, s.dst, s.rank);
  if (lastSrc < 0) return env.Undefined();  // nothing to copy
  if (so < 0 || dOff < 0 || lastSrc >= src.length || lastDst >= dst.length)
    return ArgFail(env, fn, "strided walk outside its buffer"), env.Undefined();
  CopyStrided(src.data + so, dst.data + dOff, s);
  return env.Undefined();
}

// fill(out, value)
Napi::Value FillFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32Arg out;
  if (!GetF32Arg(info, 0, "fill", &out)) return env.Undefined();
  if (!info[1].IsNumber()) return ArgFail(env, "fill", "expected (Float32Array out, value)"), env.Undefined();
  const float v = info[1].As<Napi::Number>().FloatValue();
  ParallelFor(out.length, 1L << 16, [&](long lo, long hi) { std::fill(out.data + lo, out.data + hi, v); });
  return env.Undefined();
}

}  // namespace

void InitLayout(Napi::Env env, Napi::Object exports) {
  exports.Set("copyStrided", Napi::Function::New(env, Guarded<CopyStridedFn>, "copyStrided"));
  exports.Set("fill", Napi::Function::New(env, Guarded<FillFn>, "fill"));
}

}  // namespace cm
