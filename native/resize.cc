// Bilinear resize of NHWC float32 for tfjs's ResizeBilinear and ResizeBilinearGrad, with tfjs's cpu arithmetic:
// source coordinates, fractions and the interpolation in double, each output rounded to float32 once; the gradient
// adds dy * weight into float32 dx in tfjs's order (output row, output column, then top-left, top-right, bottom-left,
// bottom-right), so with half_pixel_centers off both agree with the JS kernels bit for bit.
// The gradient is the exact adjoint of the forward for every align_corners / half_pixel_centers setting; tfjs's JS
// gradient ignores half_pixel_centers (and returns [n, w, h, c] for non-square images), so there the two differ.
// Work is split by output row forward and by input row backward (each task owns the dx rows it writes).
#include <napi.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>
#include "napi_args.h"
#include "parallel.h"

namespace cm {
namespace {

// One output coordinate along an axis: the two source indices it reads and the weight of the second.
struct Tap {
  long lo, hi;
  double frac;
};

// tfjs's mapping (ResizeBilinear.js): scale = in/out (align_corners: (in-1)/(out-1)), source = scale * i, or
// scale * (i + 0.5) - 0.5 with half_pixel_centers; lo = max(0, floor(source)), hi = min(in - 1, ceil(source)).
std::vector<Tap> Taps(long in, long out, bool alignCorners, bool halfPixel) {
  const bool align = alignCorners && out > 1;
  const double scale = static_cast<double>(align ? in - 1 : in) / static_cast<double>(align ? out - 1 : out);
  std::vector<Tap> taps(out);
  for (long i = 0; i < out; ++i) {
    const double src = halfPixel ? scale * (static_cast<double>(i) + 0.5) - 0.5 : scale * static_cast<double>(i);
    const long lo = std::max(0L, static_cast<long>(std::floor(src)));
    const long hi = std::min(in - 1, static_cast<long>(std::ceil(src)));
    taps[i] = Tap{lo, hi, src - static_cast<double>(lo)};
  }
  return taps;
}

// dims: [n, inH, inW, c, outH, outW]
struct Dims {
  long n, ih, iw, c, oh, ow;
};

void Forward(const float* x, float* y, const Dims& d, bool align, bool half) {
  const std::vector<Tap> rows = Taps(d.ih, d.oh, align, half), cols = Taps(d.iw, d.ow, align, half);
  const long grain = std::max(1L, 16384 / std::max(1L, d.ow * d.c));
  ParallelFor(d.n * d.oh, grain, [&](long lo, long hi) {
    for (long row = lo; row < hi; ++row) {
      const long b = row / d.oh;
      const Tap& tr = rows[row % d.oh];
      const float* top = x + (b * d.ih + tr.lo) * d.iw * d.c;
      const float* bottom = x + (b * d.ih + tr.hi) * d.iw * d.c;
      float* out = y + row * d.ow * d.c;
      for (long col = 0; col < d.ow; ++col) {
        const Tap& tc = cols[col];
        const float *tl = top + tc.lo * d.c, *trt = top + tc.hi * d.c, *bl = bottom + tc.lo * d.c, *br = bottom + tc.hi * d.c;
        float* o = out + col * d.c;
        for (long ch = 0; ch < d.c; ++ch) {
          const double t = tl[ch] + (static_cast<double>(trt[ch]) - tl[ch]) * tc.frac;
          const double bo = bl[ch] + (static_cast<double>(br[ch]) - bl[ch]) * tc.frac;
          o[ch] = static_cast<float>(t + (bo - t) * tr.frac);
        }
      }
    }
  });
}

inline void AddScaled(float* dst, const float* dy, double w, long c) {
  for (long ch = 0; ch < c; ++ch) dst[ch] = static_cast<float>(dst[ch] + dy[ch] * w);
}

void Backward(const float* dy, float* dx, const Dims& d, bool align, bool half) {
  const std::vector<Tap> rows = Taps(d.ih, d.oh, align, half), cols = Taps(d.iw, d.ow, align, half);
  const long grain = std::max(1L, 16384 / std::max(1L, d.ow * d.c));
  ParallelFor(d.n * d.ih, grain, [&](long lo, long hi) {
    for (long task = lo; task < hi; ++task) {
      const long b = task / d.ih, ir = task % d.ih;
      float* dxRow = dx + task * d.iw * d.c;
      std::memset(dxRow, 0, d.iw * d.c * sizeof(float));
      for (long r = 0; r < d.oh; ++r) {
        const Tap& tr = rows[r];
        if (tr.lo != ir && tr.hi != ir) continue;
        const double rowW[2] = {1.0 - tr.frac, tr.frac};
        const bool hits[2] = {tr.lo == ir, tr.hi == ir};
        const float* dyRow = dy + (b * d.oh + r) * d.ow * d.c;
        for (long col = 0; col < d.ow; ++col) {
          const Tap& tc = cols[col];
          const float* g = dyRow + col * d.c;
          for (int k = 0; k < 2; ++k) {  // top (k = 0) then bottom (k = 1): tfjs's order
            if (!hits[k]) continue;
            AddScaled(dxRow + tc.lo * d.c, g, rowW[k] * (1.0 - tc.frac), d.c);
            AddScaled(dxRow + tc.hi * d.c, g, rowW[k] * tc.frac, d.c);
          }
        }
      }
    }
  });
}

// ---- N-API glue ----

bool GetDims(const Napi::CallbackInfo& info, size_t i, const char* fn, Dims* d) {
  long v[6];
  if (!GetI32Arg(info, i, fn, 6, v)) return false;
  *d = Dims{v[0], v[1], v[2], v[3], v[4], v[5]};
  if (d->n < 0 || d->ih <= 0 || d->iw <= 0 || d->c < 0 || d->oh <= 0 || d->ow <= 0) return ArgFail(info.Env(), fn, "invalid dims");
  return true;
}

// resizeBilinear(x, y, dims, alignCorners, halfPixelCenters)
Napi::Value ResizeFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "resizeBilinear";
  F32Arg x, y;
  Dims d;
  if (!GetF32Arg(info, 0, fn, &x) || !GetF32Arg(info, 1, fn, &y) || !GetDims(info, 2, fn, &d)) return env.Undefined();
  if (!HasRoom(env, fn, x, d.n * d.ih * d.iw * d.c) || !HasRoom(env, fn, y, d.n * d.oh * d.ow * d.c)) return env.Undefined();
  Forward(x.data, y.data, d, info[3].ToBoolean().Value(), info[4].ToBoolean().Value());
  return env.Undefined();
}

// resizeBilinearGrad(dy, dx, dims, alignCorners, halfPixelCenters): dims as the forward's (dx is [n, inH, inW, c])
Napi::Value ResizeGradFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "resizeBilinearGrad";
  F32Arg dy, dx;
  Dims d;
  if (!GetF32Arg(info, 0, fn, &dy) || !GetF32Arg(info, 1, fn, &dx) || !GetDims(info, 2, fn, &d)) return env.Undefined();
  if (!HasRoom(env, fn, dy, d.n * d.oh * d.ow * d.c) || !HasRoom(env, fn, dx, d.n * d.ih * d.iw * d.c)) return env.Undefined();
  Backward(dy.data, dx.data, d, info[3].ToBoolean().Value(), info[4].ToBoolean().Value());
  return env.Undefined();
}

}  // namespace

void InitResize(Napi::Env env, Napi::Object exports) {
  exports.Set("resizeBilinear", Napi::Function::New(env, Guarded<ResizeFn>, "resizeBilinear"));
  exports.Set("resizeBilinearGrad", Napi::Function::New(env, Guarded<ResizeGradFn>, "resizeBilinearGrad"));
}

}  // namespace cm
