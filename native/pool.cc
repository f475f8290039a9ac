// Max pooling over NHWC float32 for tfjs's MaxPool and MaxPoolGrad, with tfjs's cpu semantics: the window is clipped
// to the image (padding never wins); the max is a strict `>` scan from -inf in row-major window order, so NaN never
// wins, ties go to the first position, and a window of only NaN / -inf gives -inf and passes no gradient. The
// gradient recomputes that argmax from x, like tfjs (it does not look at y). Geometry (output size, padding) comes
// from tfjs's computePool2DInfo on the JS side (lib/backend/kernels-pool.ts).
// 2x2 stride-2 windows (the Unet's pooling) have a fast path: four loads forward; backward, when the windows tile the
// input exactly, each dx element is written once, without zeroing or accumulating.
#include <napi.h>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include "napi_args.h"
#include "parallel.h"

namespace cm {
namespace {

constexpr int kL = 8;  // lanes: one AVX2 register
typedef float VF __attribute__((vector_size(4 * kL), aligned(4)));
typedef int32_t VI __attribute__((vector_size(4 * kL), aligned(4)));
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline VF Splat(float v) { return v - VF{}; }
inline VI SplatI(int32_t v) { return v - VI{}; }
inline VF Load(const float* p) { return *reinterpret_cast<const VF*>(p); }
inline void Store(float* p, VF v) { *reinterpret_cast<VF*>(p) = v; }
// tfjs's update `if (v > best) best = v`, lane-wise: a NaN v never replaces best.
inline VF Keep(VF v, VF best) { return v > best ? v : best; }

// dims: [n, ih, iw, c, oh, ow, kh, kw, sh, sw, padTop, padLeft]
struct Geom {
  long n, ih, iw, c, oh, ow, kh, kw, sh, sw, pt, pl;
};

// The window of output (r, col), clipped to the image: rows [r0, r1), columns [c0, c1).
struct Window {
  long r0, r1, c0, c1;
};
inline Window WindowAt(const Geom& g, long r, long col) {
  const long rs = r * g.sh - g.pt, cs = col * g.sw - g.pl;
  return {std::max(0L, rs), std::min(g.ih, rs + g.kh), std::max(0L, cs), std::min(g.iw, cs + g.kw)};
}

inline const float* Pixel(const float* base, const Geom& g, long b, long r, long col) {
  return base + ((b * g.ih + r) * g.iw + col) * g.c;
}
inline float* Pixel(float* base, const Geom& g, long b, long r, long col) {
  return base + ((b * g.ih + r) * g.iw + col) * g.c;
}

// y[c] = max over the window of x[., ., c]
void MaxOfWindow(const float* x, const Geom& g, long b, const Window& w, float* y) {
  if (w.r1 - w.r0 == 2 && w.c1 - w.c0 == 2) {  // full 2x2 window: four loads, scanned in tfjs's order
    const float *p0 = Pixel(x, g, b, w.r0, w.c0), *p1 = p0 + g.c, *p2 = Pixel(x, g, b, w.r0 + 1, w.c0), *p3 = p2 + g.c;
    long ch = 0;
    for (; ch + kL <= g.c; ch += kL)
      Store(y + ch, Keep(Load(p3 + ch), Keep(Load(p2 + ch), Keep(Load(p1 + ch), Keep(Load(p0 + ch), Splat(kNegInf))))));
    for (; ch < g.c; ++ch) {
      float m = kNegInf;
      for (const float* p : {p0, p1, p2, p3}) m = p[ch] > m ? p[ch] : m;
      y[ch] = m;
    }
    return;
  }
  long ch = 0;
  for (; ch + kL <= g.c; ch += kL) {
    VF m = Splat(kNegInf);
    for (long r = w.r0; r < w.r1; ++r)
      for (long col = w.c0; col < w.c1; ++col) m = Keep(Load(Pixel(x, g, b, r, col) + ch), m);
    Store(y + ch, m);
  }
  for (; ch < g.c; ++ch) {
    float m = kNegInf;
    for (long r = w.r0; r < w.r1; ++r)
      for (long col = w.c0; col < w.c1; ++col) {
        const float v = Pixel(x, g, b, r, col)[ch];
        m = v > m ? v : m;
      }
    y[ch] = m;
  }
}

void MaxPoolForward(const float* x, float* y, const Geom& g) {
  const long grain = std::max(1L, 16384 / std::max(1L, g.ow * g.c));
  ParallelFor(g.n * g.oh, grain, [&](long lo, long hi) {
    for (long row = lo; row < hi; ++row) {
      const long b = row / g.oh, r = row % g.oh;
      for (long col = 0; col < g.ow; ++col) MaxOfWindow(x, g, b, WindowAt(g, r, col), y + (row * g.ow + col) * g.c);
    }
  });
}

// dx[argmax of the window] += dy, per channel. Window positions are numbered t = 0, 1, ... in scan order.
void ScatterWindow(const float* x, const float* dy, float* dx, const Geom& g, long b, const Window& w) {
  long ch = 0;
  for (; ch + kL <= g.c; ch += kL) {
    VF best = Splat(kNegInf);
    VI arg = SplatI(-1);
    int32_t t = 0;
    for (long r = w.r0; r < w.r1; ++r)
      for (long col = w.c0; col < w.c1; ++col, ++t) {
        const VF v = Load(Pixel(x, g, b, r, col) + ch);
        const VI wins = v > best;
        best = wins ? v : best;
        arg = wins ? SplatI(t) : arg;
      }
    const VF d = Load(dy + ch);
    t = 0;
    for (long r = w.r0; r < w.r1; ++r)
      for (long col = w.c0; col < w.c1; ++col, ++t) {
        float* p = Pixel(dx, g, b, r, col) + ch;
        Store(p, Load(p) + (arg == SplatI(t) ? d : Splat(0.f)));
      }
  }
  for (; ch < g.c; ++ch) {
    float best = kNegInf;
    float* at = nullptr;
    for (long r = w.r0; r < w.r1; ++r)
      for (long col = w.c0; col < w.c1; ++col) {
        const float v = Pixel(x, g, b, r, col)[ch];
        if (v > best) {
          best = v;
          at = Pixel(dx, g, b, r, col) + ch;
        }
      }
    if (at) *at += dy[ch];
  }
}

// 2x2 stride-2 windows that tile the input exactly: dx of each window is dy at its argmax and 0 elsewhere.
void WriteWindow2x2(const float* x, const float* dy, float* dx, const Geom& g, long b, long r, long col) {
  const float* xs[4] = {Pixel(x, g, b, 2 * r, 2 * col), Pixel(x, g, b, 2 * r, 2 * col + 1), Pixel(x, g, b, 2 * r + 1, 2 * col),
                        Pixel(x, g, b, 2 * r + 1, 2 * col + 1)};
  float* dxs[4] = {Pixel(dx, g, b, 2 * r, 2 * col), Pixel(dx, g, b, 2 * r, 2 * col + 1), Pixel(dx, g, b, 2 * r + 1, 2 * col),
                   Pixel(dx, g, b, 2 * r + 1, 2 * col + 1)};
  long ch = 0;
  for (; ch + kL <= g.c; ch += kL) {
    VF best = Splat(kNegInf);
    VI arg = SplatI(-1);
    for (int t = 0; t < 4; ++t) {
      const VF v = Load(xs[t] + ch);
      const VI wins = v > best;
      best = wins ? v : best;
      arg = wins ? SplatI(t) : arg;
    }
    const VF d = Load(dy + ch);
    for (int t = 0; t < 4; ++t) Store(dxs[t] + ch, arg == SplatI(t) ? d : Splat(0.f));
  }
  for (; ch < g.c; ++ch) {
    float best = kNegInf;
    int arg = -1;
    for (int t = 0; t < 4; ++t)
      if (xs[t][ch] > best) {
        best = xs[t][ch];
        arg = t;
      }
    for (int t = 0; t < 4; ++t) dxs[t][ch] = t == arg ? dy[ch] : 0.f;
  }
}

void MaxPoolBackward(const float* x, const float* dy, float* dx, const Geom& g) {
  const long grain = std::max(1L, 16384 / std::max(1L, g.ow * g.c));
  const bool tiles2x2 = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.pt == 0 && g.pl == 0 && g.ih == 2 * g.oh &&
                        g.iw == 2 * g.ow;
  if (tiles2x2) {
    ParallelFor(g.n * g.oh, grain, [&](long lo, long hi) {
      for (long row = lo; row < hi; ++row)
        for (long col = 0; col < g.ow; ++col) WriteWindow2x2(x, dy + (row * g.ow + col) * g.c, dx, g, row / g.oh, row % g.oh, col);
    });
    return;
  }
  const long total = g.n * g.ih * g.iw * g.c;
  ParallelFor(total, 1L << 16, [&](long lo, long hi) { std::memset(dx + lo, 0, (hi - lo) * sizeof(float)); });
  // Output rows r and r + q read disjoint input rows (q * sh >= kh), so each pass over one residue class of rows
  // mod q scatters without conflicts; the passes run in a fixed order, so the result does not depend on threads.
  const long q = (g.kh + g.sh - 1) / g.sh;
  for (long p = 0; p < std::min(q, g.oh); ++p) {
    const long rows = (g.oh - p + q - 1) / q;
    ParallelFor(g.n * rows, grain, [&](long lo, long hi) {
      for (long task = lo; task < hi; ++task) {
        const long b = task / rows, r = p + (task % rows) * q;
        for (long col = 0; col < g.ow; ++col)
          ScatterWindow(x, dy + ((b * g.oh + r) * g.ow + col) * g.c, dx, g, b, WindowAt(g, r, col));
      }
    });
  }
}

// ---- N-API glue ----

bool GetGeom(const Napi::CallbackInfo& info, size_t i, const char* fn, Geom* g) {
  long d[12];
  if (!GetI32Arg(info, i, fn, 12, d)) return false;
  *g = Geom{d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11]};
  if (g->n < 0 || g->ih <= 0 || g->iw <= 0 || g->c <= 0 || g->oh < 0 || g->ow < 0 || g->kh <= 0 || g->kw <= 0 || g->sh <= 0 ||
      g->sw <= 0)
    return ArgFail(info.Env(), fn, "invalid dims");
  return true;
}

// maxPool(x, y, dims)
Napi::Value MaxPoolFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "maxPool";
  F32Arg x, y;
  Geom g;
  if (!GetF32Arg(info, 0, fn, &x) || !GetF32Arg(info, 1, fn, &y) || !GetGeom(info, 2, fn, &g)) return env.Undefined();
  if (!HasRoom(env, fn, x, g.n * g.ih * g.iw * g.c) || !HasRoom(env, fn, y, g.n * g.oh * g.ow * g.c)) return env.Undefined();
  MaxPoolForward(x.data, y.data, g);
  return env.Undefined();
}

// maxPoolGrad(x, dy, dx, dims)
Napi::Value MaxPoolGradFn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "maxPoolGrad";
  F32Arg x, dy, dx;
  Geom g;
  if (!GetF32Arg(info, 0, fn, &x) || !GetF32Arg(info, 1, fn, &dy) || !GetF32Arg(info, 2, fn, &dx) || !GetGeom(info, 3, fn, &g))
    return env.Undefined();
  if (!HasRoom(env, fn, x, g.n * g.ih * g.iw * g.c) || !HasRoom(env, fn, dy, g.n * g.oh * g.ow * g.c) ||
      !HasRoom(env, fn, dx, g.n * g.ih * g.iw * g.c))
    return env.Undefined();
  MaxPoolBackward(x.data, dy.data, dx.data, g);
  return env.Undefined();
}

}  // namespace

void InitPool(Napi::Env env, Napi::Object exports) {
  exports.Set("maxPool", Napi::Function::New(env, Guarded<MaxPoolFn>, "maxPool"));
  exports.Set("maxPoolGrad", Napi::Function::New(env, Guarded<MaxPoolGradFn>, "maxPoolGrad"));
}

}  // namespace cm
