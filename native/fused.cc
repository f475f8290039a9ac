// Fused ConvMixer layer tail over NHWC float32, viewed as [M rows = N*H*W, C channels]:
//   y = BN(act(z + bias)) (+ residual), act = exact GELU (erf form) or ReLU, BN with per-channel statistics over M.
// tfjs would run this as ~15 separate JS elementwise kernels (plus their gradients); here it is 2 passes forward and
// 2 backward. The backward recomputes act(z + bias) from z instead of keeping extra M x C tensors alive.
// The same tail with LayerNorm (statistics per row over C, Table 3's ablation) is further down: LnForward / LnBackward.
// Determinism: rows are split into a fixed number of blocks (independent of the thread count); each block sums its
// channels in double, and blocks are reduced in block order.
#include <napi.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include "parallel.h"

namespace cm {
namespace {

constexpr int kL = 16;  // lanes: one AVX-512 register (two AVX2 ones elsewhere; GCC splits vector types as the target needs)
typedef float VF __attribute__((vector_size(4 * kL), aligned(4)));
typedef int32_t VI __attribute__((vector_size(4 * kL), aligned(4)));
// Accumulators (only in std::vector / on the stack): naturally aligned.
typedef float VA __attribute__((vector_size(4 * kL)));
typedef double VD __attribute__((vector_size(8 * kL)));

inline VF Splat(float v) { return v - VF{}; }
inline VF Min(VF a, VF b) { return a < b ? a : b; }
inline VF Max(VF a, VF b) { return a > b ? a : b; }
// Lane-wise conversions: __builtin_convertvector is one instruction (vcvttps2dq / vcvtdq2ps); a per-lane loop
// was scalarized inside the backward's GELU exp (16 vcvtsi2ss per vector): 1.17 -> 0.72 ms per 4096x128 backward.
inline VI Trunc(VF v) { return __builtin_convertvector(v, VI); }
inline VF ToFloat(VI v) { return __builtin_convertvector(v, VF); }

// erf(x) for float32: x * P(x^2) / Q(x^2) on [-4, 4] (outside, erf is +-1 in float32); Eigen's fast erf coefficients,
// max error a few float32 ulp.
inline VF Erf(VF x) {
  x = Max(Min(x, Splat(4.f)), Splat(-4.f));
  const VF x2 = x * x;
  VF p = Splat(-2.72614225801306e-10f);
  p = p * x2 + Splat(2.77068142495902e-08f);
  p = p * x2 + Splat(-2.10102402082508e-06f);
  p = p * x2 + Splat(-5.69250639462346e-05f);
  p = p * x2 + Splat(-7.34990630326855e-04f);
  p = p * x2 + Splat(-2.95459980854025e-03f);
  p = p * x2 + Splat(-1.60960333262415e-02f);
  VF q = Splat(-1.45660718464996e-05f);
  q = q * x2 + Splat(-2.13374055278905e-04f);
  q = q * x2 + Splat(-1.68282697438203e-03f);
  q = q * x2 + Splat(-7.37332916720468e-03f);
  q = q * x2 + Splat(-1.42647390514189e-02f);
  return x * p / q;
}

// exp(x) for x <= 0 (here x = -u^2/2): 2^n * e^r with |r| <= ln2/2 and a degree-6 polynomial (Cephes expf),
// flushed to 0 below -87.
inline VF ExpNeg(VF x) {
  x = Max(x, Splat(-87.f));
  const VI ni = Trunc(x * Splat(1.44269504088896341f) + Splat(-0.5f));  // round(x / ln2) for x <= 0
  const VF n = ToFloat(ni);
  VF r = x - n * Splat(0.693359375f);
  r = r - n * Splat(-2.12194440e-4f);
  VF p = Splat(1.9875691500e-4f);
  p = p * r + Splat(1.3981999507e-3f);
  p = p * r + Splat(8.3334519073e-3f);
  p = p * r + Splat(4.1665795894e-2f);
  p = p * r + Splat(1.6666665459e-1f);
  p = p * r + Splat(5.0000001201e-1f);
  p = p * r * r + r + Splat(1.f);
  const VI bits = (ni + 127) << 23;
  VF scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

// act(u) and, when wanted, act'(u).
inline VF Act(VF u, bool relu) {
  if (relu) return Max(u, Splat(0.f));
  return Splat(0.5f) * u * (Splat(1.f) + Erf(u * Splat(kInvSqrt2)));
}
inline VF ActWithGrad(VF u, bool relu, VF* grad) {
  if (relu) {
    const VF zero = Splat(0.f);
    *grad = u > zero ? Splat(1.f) : zero;
    return Max(u, zero);
  }
  const VF cdf = Splat(0.5f) * (Splat(1.f) + Erf(u * Splat(kInvSqrt2)));
  *grad = cdf + u * Splat(kInvSqrt2Pi) * ExpNeg(Splat(-0.5f) * u * u);
  return u * cdf;
}

// Channel vectors: channels [kL*j, kL*j + kL) of a row; the last one may be partial (padded with zeros on load).
inline VF Load(const float* p, long n) {
  if (n == kL) return *reinterpret_cast<const VF*>(p);
  VF v = Splat(0.f);
  for (long i = 0; i < n; ++i) v[i] = p[i];
  return v;
}
inline void Store(float* p, VF v, long n) {
  if (n == kL) {
    *reinterpret_cast<VF*>(p) = v;
    return;
  }
  for (long i = 0; i < n; ++i) p[i] = v[i];
}
inline VD Wide(VA v) {
  VD r;
  for (int i = 0; i < kL; ++i) r[i] = v[i];
  return r;
}

struct Dims {
  long m, c;
  long vecs() const { return (c + kL - 1) / kL; }
  long lanes(long j) const { return std::min<long>(kL, c - kL * j); }
};

// Row blocks: a fixed split so that sums do not depend on the number of threads.
constexpr long kRowsPerBlock = 256;
constexpr long kMaxBlocks = 64;
long BlockCount(long m) { return std::max<long>(1, std::min(kMaxBlocks, (m + kRowsPerBlock - 1) / kRowsPerBlock)); }

// Runs body(row_lo, row_hi, acc) over each block in runs of kFlushRows rows, where acc holds `k` float accumulators per
// channel vector (zeroed before each run); after each run they are added into the block's double sums. Then the
// blocks' sums are added in block order into out[k][vecs]. Floats over a few rows keep the inner loop cheap; doubles
// across them keep long sums exact enough.
constexpr long kFlushRows = 16;
template <typename Body>
void BlockedSums(const Dims& d, int k, std::vector<VD>* out, Body body) {
  const long blocks = BlockCount(d.m), vecs = d.vecs(), step = (d.m + blocks - 1) / blocks, n = k * vecs;
  std::vector<VD> partial(static_cast<size_t>(blocks * n), VD{});
  ParallelFor(blocks, 1, [&](long b0, long b1) {
    std::vector<VA> acc(static_cast<size_t>(n));
    for (long b = b0; b < b1; ++b) {
      VD* sums = partial.data() + b * n;
      const long hi = std::min(d.m, (b + 1) * step);
      for (long lo = b * step; lo < hi; lo += kFlushRows) {
        std::fill(acc.begin(), acc.end(), VA{});
        body(lo, std::min(hi, lo + kFlushRows), acc.data());
        for (long i = 0; i < n; ++i) sums[i] += Wide(acc[i]);
      }
    }
  });
  out->assign(static_cast<size_t>(n), VD{});
  for (long b = 0; b < blocks; ++b)
    for (long i = 0; i < n; ++i) (*out)[i] += partial[b * n + i];
}

// Elementwise pass with no sums, over row chunks.
template <typename Body>
void Rows(const Dims& d, Body body) {
  ParallelFor(d.m, std::max<long>(1, 16384 / std::max<long>(d.c, 1)), body);
}

struct Args {
  Dims d;
  const float *z, *bias, *gamma, *beta, *residual;
  bool relu, training;
  float eps;
};

// Forward. training: y = act, mean/var (biased) = batch statistics of act; eval: mean/var are the running ones (inputs).
// invstd = 1/sqrt(var + eps) is written in both modes (the backward uses it).
void Forward(const Args& a, float* y, float* mean, float* var, float* invstd) {
  const Dims d = a.d;
  const long vecs = d.vecs();
  if (a.training) {
    // Sums of (act - shift) and its square, shift = the first row's act: without the shift, E[x^2] - E[x]^2 would
    // cancel catastrophically for channels whose mean is large against their spread.
    std::vector<float> shift0(vecs * kL, 0.f);
    for (long j = 0; j < vecs; ++j) {
      const long n = d.lanes(j);
      Store(shift0.data() + kL * j, Act(Load(a.z + kL * j, n) + Load(a.bias + kL * j, n), a.relu), n);
    }
    std::vector<VD> sums;
    BlockedSums(d, 2, &sums, [&](long lo, long hi, VA* s) {
      for (long r = lo; r < hi; ++r)
        for (long j = 0; j < vecs; ++j) {
          const long n = d.lanes(j), off = r * d.c + kL * j;
          VF v = Act(Load(a.z + off, n) + Load(a.bias + kL * j, n), a.relu);
          Store(y + off, v, n);
          const VF w = v - Load(shift0.data() + kL * j, kL);
          s[j] += w;  // padded lanes: act(0) - 0 = 0
          s[vecs + j] += w * w;
        }
    });
    for (long c = 0; c < d.c; ++c) {
      const double m1 = sums[c / kL][c % kL] / d.m;
      const double v = std::max(0.0, sums[vecs + c / kL][c % kL] / d.m - m1 * m1);
      mean[c] = static_cast<float>(shift0[c] + m1);
      var[c] = static_cast<float>(v);
    }
  }
  for (long c = 0; c < d.c; ++c) invstd[c] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[c]) + a.eps));
  // y = (act - mean) * (gamma * invstd) + beta (+ residual)
  std::vector<float> scale(vecs * kL, 0.f), shift(vecs * kL, 0.f);
  for (long c = 0; c < d.c; ++c) {
    scale[c] = a.gamma[c] * invstd[c];
    shift[c] = a.beta[c] - mean[c] * scale[c];
  }
  Rows(d, [&](long lo, long hi) {
    for (long r = lo; r < hi; ++r)
      for (long j = 0; j < vecs; ++j) {
        const long n = d.lanes(j), off = r * d.c + kL * j;
        const VF act = a.training ? Load(y + off, n) : Act(Load(a.z + off, n) + Load(a.bias + kL * j, n), a.relu);
        VF out = act * Load(scale.data() + kL * j, kL) + Load(shift.data() + kL * j, kL);
        if (a.residual) out += Load(a.residual + off, n);
        Store(y + off, out, n);
      }
  });
}

// Backward: dz, dbias, dgamma, dbeta from dy (the residual's gradient is dy itself). Training mode includes the
// gradient through the batch statistics.
void Backward(const Args& a, const float* dy, const float* mean, const float* invstd, float* dz, float* dbias,
              float* dgamma, float* dbeta) {
  const Dims d = a.d;
  const long vecs = d.vecs();
  std::vector<float> mu(vecs * kL, 0.f), is(vecs * kL, 0.f), g(vecs * kL, 0.f);
  std::copy(mean, mean + d.c, mu.begin());
  std::copy(invstd, invstd + d.c, is.begin());
  std::copy(a.gamma, a.gamma + d.c, g.begin());
  // Pass 1: sum(dy), sum(dy * xhat).
  std::vector<VD> s1;
  BlockedSums(d, 2, &s1, [&](long lo, long hi, VA* s) {
    for (long r = lo; r < hi; ++r)
      for (long j = 0; j < vecs; ++j) {
        const long n = d.lanes(j), off = r * d.c + kL * j;
        const VF act = Act(Load(a.z + off, n) + Load(a.bias + kL * j, n), a.relu);
        const VF xhat = (act - Load(mu.data() + kL * j, kL)) * Load(is.data() + kL * j, kL);
        const VF g_ = Load(dy + off, n);  // zero in padded lanes
        s[j] += g_;
        s[vecs + j] += g_ * xhat;
      }
  });
  std::vector<float> k0(vecs * kL, 0.f), k1(vecs * kL, 0.f), k2(vecs * kL, 0.f);
  for (long c = 0; c < d.c; ++c) {
    const double sdy = s1[c / kL][c % kL], sdyx = s1[vecs + c / kL][c % kL];
    dbeta[c] = static_cast<float>(sdy);
    dgamma[c] = static_cast<float>(sdyx);
    // dact = k0 * dy - k1 - k2 * xhat, with k1 = k2 = 0 in eval mode (statistics are constants there).
    k0[c] = g[c] * is[c];
    k1[c] = a.training ? static_cast<float>(k0[c] * sdy / d.m) : 0.f;
    k2[c] = a.training ? static_cast<float>(k0[c] * sdyx / d.m) : 0.f;
  }
  // Pass 2: dz = dact * act'(z + bias), and sum(dz) = dbias.
  std::vector<VD> s2;
  BlockedSums(d, 1, &s2, [&](long lo, long hi, VA* s) {
    for (long r = lo; r < hi; ++r)
      for (long j = 0; j < vecs; ++j) {
        const long n = d.lanes(j), off = r * d.c + kL * j;
        VF grad;
        const VF act = ActWithGrad(Load(a.z + off, n) + Load(a.bias + kL * j, n), a.relu, &grad);
        const VF xhat = (act - Load(mu.data() + kL * j, kL)) * Load(is.data() + kL * j, kL);
        VF dact = Load(k0.data() + kL * j, kL) * Load(dy + off, n) - Load(k1.data() + kL * j, kL) - Load(k2.data() + kL * j, kL) * xhat;
        VF out = dact * grad;
        if (n < kL) for (long i = n; i < kL; ++i) out[i] = 0.f;
        Store(dz + off, out, n);
        s[j] += out;
      }
  });
  for (long c = 0; c < d.c; ++c) dbias[c] = static_cast<float>(s2[c / kL][c % kL]);
}

// ---- LayerNorm tail (Table 3's "BatchNorm -> LayerNorm" ablation) ----
// y = LN(act(z + bias)) (+ residual), LN over the C channels of each row (pixel) with per-channel affine gamma, beta;
// statistics per row (biased variance, as tf.moments and PyTorch's LayerNorm), the same in training and eval.
// Rows are independent, so a row's act stays in L1 between its passes; only dgamma, dbeta, dbias sum over rows.

// 1 in the real lanes of the last channel vector, 0 in its padding (a row's centred values must not count padding).
std::vector<float> LaneMask(const Dims& d) {
  std::vector<float> mask(d.vecs() * kL, 0.f);
  std::fill(mask.begin(), mask.begin() + d.c, 1.f);
  return mask;
}
inline double HorizontalSum(VA v) {
  double s = 0;
  for (int i = 0; i < kL; ++i) s += v[i];
  return s;
}
std::vector<float> Padded(const float* v, const Dims& d) {
  std::vector<float> out(d.vecs() * kL, 0.f);
  std::copy(v, v + d.c, out.begin());
  return out;
}

void LnForward(const Args& a, float* y, float* mean, float* invstd) {
  const Dims d = a.d;
  const long vecs = d.vecs();
  const std::vector<float> mask = LaneMask(d), g = Padded(a.gamma, d), be = Padded(a.beta, d);
  Rows(d, [&](long lo, long hi) {
    for (long r = lo; r < hi; ++r) {
      float* row = y + r * d.c;
      VA s{};
      for (long j = 0; j < vecs; ++j) {
        const long n = d.lanes(j);
        const VF v = Act(Load(a.z + r * d.c + kL * j, n) + Load(a.bias + kL * j, n), a.relu);
        Store(row + kL * j, v, n);
        s += v;  // padded lanes: act(0) = 0
      }
      const float mu = static_cast<float>(HorizontalSum(s) / d.c);
      VA q{};
      for (long j = 0; j < vecs; ++j) {
        const VF w = (Load(row + kL * j, d.lanes(j)) - Splat(mu)) * Load(mask.data() + kL * j, kL);
        q += w * w;
      }
      const float is = static_cast<float>(1.0 / std::sqrt(HorizontalSum(q) / d.c + a.eps));
      mean[r] = mu;
      invstd[r] = is;
      for (long j = 0; j < vecs; ++j) {
        const long n = d.lanes(j), off = r * d.c + kL * j;
        VF out = (Load(row + kL * j, n) - Splat(mu)) * Splat(is) * Load(g.data() + kL * j, kL) + Load(be.data() + kL * j, kL);
        if (a.residual) out += Load(a.residual + off, n);
        Store(row + kL * j, out, n);
      }
    }
  });
}

// dxhat = dy * gamma; dact = invstd * (dxhat - mean_c(dxhat) - xhat * mean_c(dxhat * xhat)); dz = dact * act'(z + bias).
// Sums over rows: dbeta = sum dy, dgamma = sum dy * xhat, dbias = sum dz (fixed row blocks, as the BatchNorm tail's).
void LnBackward(const Args& a, const float* dy, const float* mean, const float* invstd, float* dz, float* dbias,
                float* dgamma, float* dbeta) {
  const Dims d = a.d;
  const long vecs = d.vecs();
  const std::vector<float> g = Padded(a.gamma, d);
  std::vector<VD> sums;
  BlockedSums(d, 3, &sums, [&](long lo, long hi, VA* s) {
    std::vector<VA> xhat(vecs), grad(vecs);  // this row's normalized act and act'
    for (long r = lo; r < hi; ++r) {
      const VF mu = Splat(mean[r]), is = Splat(invstd[r]);
      VA s1{}, s2{};
      for (long j = 0; j < vecs; ++j) {
        const long n = d.lanes(j), off = r * d.c + kL * j;
        VF gr;
        const VF x = (ActWithGrad(Load(a.z + off, n) + Load(a.bias + kL * j, n), a.relu, &gr) - mu) * is;
        xhat[j] = x;
        grad[j] = gr;
        const VF gy = Load(dy + off, n) * Load(g.data() + kL * j, kL);  // zero in padded lanes
        s1 += gy;
        s2 += gy * x;
      }
      const VF m1 = Splat(static_cast<float>(HorizontalSum(s1) / d.c)), m2 = Splat(static_cast<float>(HorizontalSum(s2) / d.c));
      for (long j = 0; j < vecs; ++j) {
        const long n = d.lanes(j), off = r * d.c + kL * j;
        const VF dyv = Load(dy + off, n), x = xhat[j];
        VF out = is * (dyv * Load(g.data() + kL * j, kL) - m1 - x * m2) * grad[j];
        if (n < kL) for (long i = n; i < kL; ++i) out[i] = 0.f;
        Store(dz + off, out, n);
        s[j] += dyv;
        s[vecs + j] += dyv * x;
        s[2 * vecs + j] += out;
      }
    }
  });
  for (long c = 0; c < d.c; ++c) {
    dbeta[c] = static_cast<float>(sums[c / kL][c % kL]);
    dgamma[c] = static_cast<float>(sums[vecs + c / kL][c % kL]);
    dbias[c] = static_cast<float>(sums[2 * vecs + c / kL][c % kL]);
  }
}

// dst += src (the residual's gradient joining the depthwise conv's input gradient).
void AddInto(float* dst, const float* src, long n) {
  ParallelFor(n, 1 << 16, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) dst[i] += src[i];
  });
}

// Global average pooling over H*W of NHWC x ([n, hw, c] -> [n, c]) and its gradient (dy / hw broadcast).
void AvgPoolForward(const float* x, float* y, long n, long hw, long c) {
  ParallelFor(n, 1, [&](long lo, long hi) {
    std::vector<double> acc(c);
    for (long b = lo; b < hi; ++b) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (long p = 0; p < hw; ++p) {
        const float* row = x + (b * hw + p) * c;
        for (long k = 0; k < c; ++k) acc[k] += row[k];
      }
      for (long k = 0; k < c; ++k) y[b * c + k] = static_cast<float>(acc[k] / hw);
    }
  });
}
void AvgPoolBackward(const float* dy, float* dx, long n, long hw, long c) {
  const float inv = 1.f / static_cast<float>(hw);
  ParallelFor(n * hw, std::max<long>(1, 16384 / c), [&](long lo, long hi) {
    for (long r = lo; r < hi; ++r) {
      const float* g = dy + (r / hw) * c;
      float* out = dx + r * c;
      for (long k = 0; k < c; ++k) out[k] = g[k] * inv;
    }
  });
}

// ---- N-API glue ----

bool Fail(const Napi::Env& env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

// A Float32Array argument of at least `need` elements (null allowed when `optional`).
bool GetF32(const Napi::CallbackInfo& info, size_t i, long need, float** ptr, bool optional = false) {
  Napi::Value v = info[i];
  if (optional && (v.IsNull() || v.IsUndefined())) {
    *ptr = nullptr;
    return true;
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    return Fail(info.Env(), "fused: expected a Float32Array argument");
  Napi::Float32Array arr = v.As<Napi::Float32Array>();
  if (arr.ElementLength() < static_cast<size_t>(need)) return Fail(info.Env(), "fused: buffer smaller than [M, C] require");
  *ptr = arr.Data();
  return true;
}

// opts: Int32Array/Float64 as plain args: m, c, relu, training, eps.
bool GetDims(const Napi::CallbackInfo& info, size_t i, Dims* d) {
  if (!info[i].IsNumber() || !info[i + 1].IsNumber()) return Fail(info.Env(), "fused: expected M and C as numbers");
  d->m = info[i].As<Napi::Number>().Int64Value();
  d->c = info[i + 1].As<Napi::Number>().Int64Value();
  if (d->m <= 0 || d->c <= 0) return Fail(info.Env(), "fused: M and C must be positive");
  return true;
}

// fusedActNormForward(z, bias, gamma, beta, residual | null, y, mean, var, invstd, M, C, relu, training, eps)
// training: mean/var are outputs (batch statistics, biased var); eval: inputs (running statistics).
Napi::Value FusedForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a{};
  float *z, *bias, *gamma, *beta, *residual, *y, *mean, *var, *invstd;
  if (!GetDims(info, 9, &a.d)) return env.Undefined();
  const long mc = a.d.m * a.d.c, c = a.d.c;
  if (!GetF32(info, 0, mc, &z) || !GetF32(info, 1, c, &bias) || !GetF32(info, 2, c, &gamma) || !GetF32(info, 3, c, &beta) ||
      !GetF32(info, 4, mc, &residual, true) || !GetF32(info, 5, mc, &y) || !GetF32(info, 6, c, &mean) ||
      !GetF32(info, 7, c, &var) || !GetF32(info, 8, c, &invstd))
    return env.Undefined();
  a.z = z, a.bias = bias, a.gamma = gamma, a.beta = beta, a.residual = residual;
  a.relu = info[11].ToBoolean().Value();
  a.training = info[12].ToBoolean().Value();
  a.eps = info[13].IsNumber() ? info[13].As<Napi::Number>().FloatValue() : 1e-5f;
  Forward(a, y, mean, var, invstd);
  return env.Undefined();
}

// fusedActNormBackward(dy, z, bias, gamma, mean, invstd, dz, dbias, dgamma, dbeta, M, C, relu, training)
Napi::Value FusedBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a{};
  float *dy, *z, *bias, *gamma, *mean, *invstd, *dz, *dbias, *dgamma, *dbeta;
  if (!GetDims(info, 10, &a.d)) return env.Undefined();
  const long mc = a.d.m * a.d.c, c = a.d.c;
  if (!GetF32(info, 0, mc, &dy) || !GetF32(info, 1, mc, &z) || !GetF32(info, 2, c, &bias) || !GetF32(info, 3, c, &gamma) ||
      !GetF32(info, 4, c, &mean) || !GetF32(info, 5, c, &invstd) || !GetF32(info, 6, mc, &dz) ||
      !GetF32(info, 7, c, &dbias) || !GetF32(info, 8, c, &dgamma) || !GetF32(info, 9, c, &dbeta))
    return env.Undefined();
  a.z = z, a.bias = bias, a.gamma = gamma;
  a.relu = info[12].ToBoolean().Value();
  a.training = info[13].ToBoolean().Value();
  Backward(a, dy, mean, invstd, dz, dbias, dgamma, dbeta);
  return env.Undefined();
}

// fusedActLayerNormForward(z, bias, gamma, beta, residual | null, y, mean[M], invstd[M], M, C, relu, eps)
Napi::Value LayerNormForward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a{};
  float *z, *bias, *gamma, *beta, *residual, *y, *mean, *invstd;
  if (!GetDims(info, 8, &a.d)) return env.Undefined();
  const long mc = a.d.m * a.d.c, c = a.d.c, m = a.d.m;
  if (!GetF32(info, 0, mc, &z) || !GetF32(info, 1, c, &bias) || !GetF32(info, 2, c, &gamma) || !GetF32(info, 3, c, &beta) ||
      !GetF32(info, 4, mc, &residual, true) || !GetF32(info, 5, mc, &y) || !GetF32(info, 6, m, &mean) || !GetF32(info, 7, m, &invstd))
    return env.Undefined();
  a.z = z, a.bias = bias, a.gamma = gamma, a.beta = beta, a.residual = residual;
  a.relu = info[10].ToBoolean().Value();
  a.eps = info[11].IsNumber() ? info[11].As<Napi::Number>().FloatValue() : 1e-5f;
  LnForward(a, y, mean, invstd);
  return env.Undefined();
}

// fusedActLayerNormBackward(dy, z, bias, gamma, mean[M], invstd[M], dz, dbias, dgamma, dbeta, M, C, relu)
Napi::Value LayerNormBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args a{};
  float *dy, *z, *bias, *gamma, *mean, *invstd, *dz, *dbias, *dgamma, *dbeta;
  if (!GetDims(info, 10, &a.d)) return env.Undefined();
  const long mc = a.d.m * a.d.c, c = a.d.c, m = a.d.m;
  if (!GetF32(info, 0, mc, &dy) || !GetF32(info, 1, mc, &z) || !GetF32(info, 2, c, &bias) || !GetF32(info, 3, c, &gamma) ||
      !GetF32(info, 4, m, &mean) || !GetF32(info, 5, m, &invstd) || !GetF32(info, 6, mc, &dz) ||
      !GetF32(info, 7, c, &dbias) || !GetF32(info, 8, c, &dgamma) || !GetF32(info, 9, c, &dbeta))
    return env.Undefined();
  a.z = z, a.bias = bias, a.gamma = gamma;
  a.relu = info[12].ToBoolean().Value();
  LnBackward(a, dy, mean, invstd, dz, dbias, dgamma, dbeta);
  return env.Undefined();
}

long Count(const Napi::CallbackInfo& info, size_t i) {
  return info[i].IsNumber() ? info[i].As<Napi::Number>().Int64Value() : -1;
}

// addInto(dst, src): dst += src elementwise, same length.
Napi::Value AddIntoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  float *dst, *src;
  if (!GetF32(info, 0, 0, &dst) || !GetF32(info, 1, 0, &src)) return env.Undefined();
  const long n = static_cast<long>(info[0].As<Napi::Float32Array>().ElementLength());
  if (static_cast<long>(info[1].As<Napi::Float32Array>().ElementLength()) != n) {
    Fail(env, "fused: addInto needs arrays of the same length");
    return env.Undefined();
  }
  AddInto(dst, src, n);
  return env.Undefined();
}

// avgPoolForward(x, y, n, hw, c) / avgPoolBackward(dy, dx, n, hw, c)
Napi::Value AvgPool(const Napi::CallbackInfo& info, bool backward) {
  Napi::Env env = info.Env();
  const long n = Count(info, 2), hw = Count(info, 3), c = Count(info, 4);
  if (n <= 0 || hw <= 0 || c <= 0) {
    Fail(env, "fused: avgPool expects positive n, hw, c");
    return env.Undefined();
  }
  float *a, *b;
  if (!GetF32(info, 0, backward ? n * c : n * hw * c, &a) || !GetF32(info, 1, backward ? n * hw * c : n * c, &b)) return env.Undefined();
  if (backward) AvgPoolBackward(a, b, n, hw, c);
  else AvgPoolForward(a, b, n, hw, c);
  return env.Undefined();
}
Napi::Value AvgPoolForwardJs(const Napi::CallbackInfo& info) { return AvgPool(info, false); }
Napi::Value AvgPoolBackwardJs(const Napi::CallbackInfo& info) { return AvgPool(info, true); }

}  // namespace

void InitFused(Napi::Env env, Napi::Object exports) {
  exports.Set("fusedActNormForward", Napi::Function::New(env, Guarded<FusedForward>, "fusedActNormForward"));
  exports.Set("fusedActNormBackward", Napi::Function::New(env, Guarded<FusedBackward>, "fusedActNormBackward"));
  exports.Set("fusedActLayerNormForward", Napi::Function::New(env, Guarded<LayerNormForward>, "fusedActLayerNormForward"));
  exports.Set("fusedActLayerNormBackward", Napi::Function::New(env, Guarded<LayerNormBackward>, "fusedActLayerNormBackward"));
  exports.Set("addInto", Napi::Function::New(env, Guarded<AddIntoJs>, "addInto"));
  exports.Set("avgPoolForward", Napi::Function::New(env, Guarded<AvgPoolForwardJs>, "avgPoolForward"));
  exports.Set("avgPoolBackward", Napi::Function::New(env, Guarded<AvgPoolBackwardJs>, "avgPoolBackward"));
}

}  // namespace cm
