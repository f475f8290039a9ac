// Depthwise convolution (NHWC, channel multiplier 1): forward (+ bias + relu), backprop input, backprop filter.
// Direct convolution vectorized along channels: NHWC keeps a pixel's channels contiguous, so each filter tap is a
// row of per-channel multiply-adds. Padding is implicit: tap ranges are clipped to the image, nothing is copied.
// The JS side (lib/backend/kernels-depthwise.ts) computes shapes and padding with tfjs's computeConv2DInfo and
// passes them in `dims`; this file only checks that the buffers are large enough for them.
#include <napi.h>
#include <algorithm>
#include <cstring>
#include <cstdint>
#include <type_traits>
#include <vector>
#include "gemm_bf16.h"
#include "parallel.h"
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define CM_DW_BF16 1
#endif

namespace cm {
namespace {

struct DwShape {
  long n, h, w, c;      // input (forward) / dx (backprop input)
  long kh, kw;          // filter
  long oh, ow;          // output (forward) / dy
  long sh, sw, pt, pl;  // strides, top/left padding
};

constexpr long kBlock = 32;  // channels per register block
constexpr long kPix = 4;     // output pixels sharing each weight load (stride-1-style interior run)

inline long CeilDiv(long a, long b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Tap range [lo, hi) along one axis such that in = out*stride - pad + tap lies in [0, size).
inline void TapRange(long out, long stride, long pad, long size, long k, long* lo, long* hi) {
  long base = out * stride - pad;
  *lo = std::max<long>(0, -base);
  *hi = std::min<long>(k, size - base);
  if (*hi < *lo) *hi = *lo;
}

// 8 floats, unaligned loads/stores (GCC/Clang vector extension: AVX/AVX2/AVX-512VL or NEON, whatever -march gives).
typedef float V8 __attribute__((vector_size(32), aligned(4)));
constexpr long kVecs = kBlock / 8;

// P output pixels (x columns ox0 .. ox0+P-1, all with the full tap range [kc0, kc1)) of one channel block.
// The P*kVecs accumulators stay in registers; each weight vector is loaded once per tap for all P pixels.
template <long P>
inline void DwBlock(const float* xrow0, long xPixStride, const float* w, const float* bias, float* out, long c0,
                    const DwShape& s, long kr0, long kr1, long kc0, long kc1, bool relu) {
  V8 acc[P][kVecs];
  for (long v = 0; v < kVecs; ++v) {
    V8 b = bias ? *reinterpret_cast<const V8*>(bias + c0 + 8 * v) : V8{};
    for (long p = 0; p < P; ++p) acc[p][v] = b;
  }
  for (long kr = kr0; kr < kr1; ++kr) {
    const float* xr = xrow0 + kr * s.w * s.c + c0;
    const float* wr = w + kr * s.kw * s.c + c0;
    for (long kc = kc0; kc < kc1; ++kc) {
      const float* wp = wr + kc * s.c;
      const float* xp = xr + kc * s.c;
      for (long v = 0; v < kVecs; ++v) {
        const V8 wv = *reinterpret_cast<const V8*>(wp + 8 * v);
        for (long p = 0; p < P; ++p) acc[p][v] += *reinterpret_cast<const V8*>(xp + p * xPixStride + 8 * v) * wv;
      }
    }
  }
  const V8 zero{};
  for (long p = 0; p < P; ++p)
    for (long v = 0; v < kVecs; ++v) {
      V8 r = acc[p][v];
      if (relu) r = r < zero ? zero : r;  // NaN stays NaN, as in tfjs (Math.max(0, NaN))
      *reinterpret_cast<V8*>(out + p * s.c + c0 + 8 * v) = r;
    }
}

// Channel tail [c0, c): one pixel, runtime channel count.
inline void DwTail(const float* xrow0, const float* w, const float* bias, float* out, long c0, const DwShape& s,
                   long kr0, long kr1, long kc0, long kc1, bool relu) {
  for (long c = c0; c < s.c; ++c) out[c] = bias ? bias[c] : 0.f;
  for (long kr = kr0; kr < kr1; ++kr)
    for (long kc = kc0; kc < kc1; ++kc) {
      const float* xp = xrow0 + (kr * s.w + kc) * s.c;
      const float* wp = w + (kr * s.kw + kc) * s.c;
      for (long c = c0; c < s.c; ++c) out[c] += xp[c] * wp[c];
    }
  if (relu)
    for (long c = c0; c < s.c; ++c) out[c] = out[c] < 0.f ? 0.f : out[c];
}

// ---- Stride-1 kernels on packed channel slabs (the ConvMixer case) ----
// NHWC puts a pixel's neighbours C floats apart, so the K*K input vectors an output needs sit on K*(kSeg+K-1)
// cache lines 4*C bytes apart (with C = 256 they alias to a few L1 sets). Each task therefore copies one image's
// 16-channel slab into a contiguous zero-padded buffer [oh+K-1][owPad+K-1][16] (padding explicit, no edge
// cases), then runs a register-blocked kernel over it: kSeg output pixels x 16 lanes, the kSeg accumulators and
// the K weight vectors of one filter row in registers, each input vector loaded once per filter row and used by
// every output it touches. K is a template argument so the tap loops unroll completely.
typedef float V16 __attribute__((vector_size(64), aligned(4)));
#ifdef __AVX512F__
constexpr long kSeg = 8;  // 8 accumulators + K <= 15 weights + 1 input: at most 24 of 32 zmm registers
#else
constexpr long kSeg = 4;  // V16 is two ymm registers here: keep the working set within 16
#endif
constexpr long kLanes = 16;

inline V16 LoadV(const float* p) { return *reinterpret_cast<const V16*>(p); }
inline void StoreV(float* p, V16 v) { *reinterpret_cast<V16*>(p) = v; }

// The padded slab of one image and channel block: buf[r][q] = x[n, r - pt, q - pl, c0 .. c0+15] (zero outside
// the image and beyond channel c).
struct Slab {
  long rows, cols;  // oh + K - 1, owPad + K - 1
  long owPad;       // ow rounded up to a multiple of kSeg
};

inline Slab SlabShape(const DwShape& s, long k) {
  const long owPad = (s.ow + kSeg - 1) / kSeg * kSeg;
  return Slab{s.oh + k - 1, owPad + k - 1, owPad};
}

void PackSlab(const float* xImg, const DwShape& s, const Slab& b, long c0, float* buf) {
  const long lanes = std::min(kLanes, s.c - c0);
  for (long r = 0; r < b.rows; ++r) {
    const long iy = r - s.pt;
    float* dst = buf + r * b.cols * kLanes;
    if (iy < 0 || iy >= s.h) {
      std::fill(dst, dst + b.cols * kLanes, 0.f);
      continue;
    }
    const float* src = xImg + iy * s.w * s.c + c0;
    for (long q = 0; q < b.cols; ++q) {
      const long ix = q - s.pl;
      float* d = dst + q * kLanes;
      if (ix < 0 || ix >= s.w) std::fill(d, d + kLanes, 0.f);
      else if (lanes == kLanes) StoreV(d, LoadV(src + ix * s.c));
      else {
        for (long l = 0; l < lanes; ++l) d[l] = src[ix * s.c + l];
        std::fill(d + lanes, d + kLanes, 0.f);
      }
    }
  }
}

// w[kr, kc, c0 .. c0+15] -> pw[kr*K + kc][16], zero beyond channel c.
void PackTaps(const float* w, long taps, long c, long c0, float* pw) {
  const long lanes = std::min(kLanes, c - c0);
  for (long t = 0; t < taps; ++t) {
    for (long l = 0; l < lanes; ++l) pw[t * kLanes + l] = w[t * c + c0 + l];
    std::fill(pw + t * kLanes + lanes, pw + (t + 1) * kLanes, 0.f);
  }
}

// Per-thread scratch, grown on demand.
float* Scratch(long n) {
  thread_local std::vector<float> buf;
  if (static_cast<long>(buf.size()) < n) buf.resize(n);
  return buf.data();
}

// acc[p] = bias + sum_{kr, kc} buf[oy + kr][ox + p + kc] * w[kr][kc]: taps in (kr, kc) order.
template <long K>
inline void SegmentForward(const float* buf, long cols, const float* pw, V16 bias, V16* acc) {
  for (long p = 0; p < kSeg; ++p) acc[p] = bias;
  for (long kr = 0; kr < K; ++kr) {
    const float* xr = buf + kr * cols * kLanes;
    V16 wv[K];
#pragma GCC unroll 16
    for (long kc = 0; kc < K; ++kc) wv[kc] = LoadV(pw + (kr * K + kc) * kLanes);
#pragma GCC unroll 32
    for (long i = 0; i < kSeg + K - 1; ++i) {
      const V16 xv = LoadV(xr + i * kLanes);
#pragma GCC unroll 16
      for (long p = 0; p < kSeg; ++p)
        if (i - p >= 0 && i - p < K) acc[p] += xv * wv[i - p];
    }
  }
}

template <long K>
void DwForwardSlabs(const float* x, const float* w, const float* bias, float* y, const DwShape& s, bool relu) {
  const Slab b = SlabShape(s, K);
  const long blocks = (s.c + kLanes - 1) / kLanes;
  ParallelFor(s.n * blocks, 1, [&](long lo, long hi) {
    float* buf = Scratch(b.rows * b.cols * kLanes + K * K * kLanes + kLanes);
    float* pw = buf + b.rows * b.cols * kLanes;
    float* pb = pw + K * K * kLanes;
    for (long task = lo; task < hi; ++task) {
      const long n = task / blocks, c0 = task % blocks * kLanes, lanes = std::min(kLanes, s.c - c0);
      PackSlab(x + n * s.h * s.w * s.c, s, b, c0, buf);
      PackTaps(w, K * K, s.c, c0, pw);
      if (bias) PackTaps(bias, 1, s.c, c0, pb);
      else std::fill(pb, pb + kLanes, 0.f);
      const V16 bv = LoadV(pb), zero{};
      for (long oy = 0; oy < s.oh; ++oy) {
        float* yRow = y + ((n * s.oh + oy) * s.ow) * s.c + c0;
        for (long ox = 0; ox < s.ow; ox += kSeg) {
          V16 acc[kSeg];
          SegmentForward<K>(buf + (oy * b.cols + ox) * kLanes, b.cols, pw, bv, acc);
          const long count = std::min(kSeg, s.ow - ox);
          for (long p = 0; p < count; ++p) {
            V16 r = acc[p];
            if (relu) r = r < zero ? zero : r;  // NaN stays NaN, as in tfjs (Math.max(0, NaN))
            float* o = yRow + (ox + p) * s.c;
            if (lanes == kLanes) StoreV(o, r);
            else
              for (long l = 0; l < lanes; ++l) o[l] = r[l];
          }
        }
      }
    }
  });
}

// dy[n, :, :, c0 .. c0+15] -> buf[oy][owPad][16], zero beyond ow and beyond channel c.
void PackGrad(const float* dyImg, const DwShape& s, const Slab& b, long c0, float* buf) {
  const long lanes = std::min(kLanes, s.c - c0);
  for (long oy = 0; oy < s.oh; ++oy)
    for (long q = 0; q < b.owPad; ++q) {
      float* d = buf + (oy * b.owPad + q) * kLanes;
      const float* src = dyImg + (oy * s.ow + q) * s.c + c0;
      if (q >= s.ow) std::fill(d, d + kLanes, 0.f);
      else if (lanes == kLanes) StoreV(d, LoadV(src));
      else {
        for (long l = 0; l < lanes; ++l) d[l] = src[l];
        std::fill(d + lanes, d + kLanes, 0.f);
      }
    }
}

// dw[kr][kc] of one image and channel block = sum_{oy, ox} xbuf[oy + kr][ox + kc] * dy[oy][ox]: the K
// accumulators of one filter row and kSeg gradient vectors in registers, each input vector loaded once per segment.
template <long K>
void FilterGradSlab(const float* xbuf, const float* gbuf, const DwShape& s, const Slab& b, float* out) {
  for (long kr = 0; kr < K; ++kr) {
    V16 acc[K];
    for (long kc = 0; kc < K; ++kc) acc[kc] = V16{};
    for (long oy = 0; oy < s.oh; ++oy) {
      const float* xr = xbuf + ((oy + kr) * b.cols) * kLanes;
      const float* gr = gbuf + (oy * b.owPad) * kLanes;
      for (long ox = 0; ox < b.owPad; ox += kSeg) {
        V16 g[kSeg];
#pragma GCC unroll 16
        for (long p = 0; p < kSeg; ++p) g[p] = LoadV(gr + (ox + p) * kLanes);
#pragma GCC unroll 32
        for (long i = 0; i < kSeg + K - 1; ++i) {
          const V16 xv = LoadV(xr + (ox + i) * kLanes);
#pragma GCC unroll 16
          for (long p = 0; p < kSeg; ++p)
            if (i - p >= 0 && i - p < K) acc[i - p] += xv * g[p];
        }
      }
    }
    for (long kc = 0; kc < K; ++kc) StoreV(out + (kr * K + kc) * kLanes, acc[kc]);
  }
}

// dw = the per-(image, channel block) partial filter gradients added over images in order (the same result on any
// number of threads): the slab kernels' last step, fp32 and bf16 alike.
void SumImagePartials(const std::vector<float>& partial, const DwShape& s, long blocks, long taps, float* dw) {
  ParallelFor(taps, 1, [&](long lo, long hi) {
    for (long t = lo; t < hi; ++t)
      for (long blk = 0; blk < blocks; ++blk) {
        V16 v{};
        for (long n = 0; n < s.n; ++n) v += LoadV(partial.data() + ((n * blocks + blk) * taps + t) * kLanes);
        const long c0 = blk * kLanes, lanes = std::min(kLanes, s.c - c0);
        for (long l = 0; l < lanes; ++l) dw[t * s.c + c0 + l] = v[l];
      }
  });
}

// Each (image, channel block) task writes its own partial filter gradient; images are then added in order, so
// the result does not depend on the thread count.
template <long K>
void DwBackpropFilterSlabs(const float* x, const float* dy, float* dw, const DwShape& s) {
  const Slab b = SlabShape(s, K);
  const long blocks = (s.c + kLanes - 1) / kLanes, taps = K * K;
  std::vector<float> partial(s.n * blocks * taps * kLanes);
  ParallelFor(s.n * blocks, 1, [&](long lo, long hi) {
    float* xbuf = Scratch(b.rows * b.cols * kLanes + s.oh * b.owPad * kLanes);
    float* gbuf = xbuf + b.rows * b.cols * kLanes;
    for (long task = lo; task < hi; ++task) {
      const long n = task / blocks, c0 = task % blocks * kLanes;
      PackSlab(x + n * s.h * s.w * s.c, s, b, c0, xbuf);
      PackGrad(dy + n * s.oh * s.ow * s.c, s, b, c0, gbuf);
      FilterGradSlab<K>(xbuf, gbuf, s, b, partial.data() + task * taps * kLanes);
    }
  });
  SumImagePartials(partial, s, blocks, taps, dw);
}


// ---- bf16 mixed precision (the engine's precision is bf16: lib/backend setPrecision) ----
// Depthwise convolutions take bf16 operands with fp32 accumulation too, as under PyTorch's autocast. On AVX512-BF16
// the slab kernels pair neighbouring taps: slab word (r, q) of a lane holds x[r][q] and x[r][q+1] as bf16, a weight
// word w[kr][kc] and w[kr][kc+1], and one VDPBF16PS does both taps' multiply-adds for 16 channels (K = 9: 5
// instructions per filter row instead of 9). The filter gradient pairs neighbouring output columns the same way.
// Elsewhere (other shapes, CPUs without it, the portable mode) the operands are rounded to bf16 and the fp32 kernels run.
#ifdef CM_DW_BF16
typedef int32_t VW __attribute__((vector_size(64), aligned(4)));

// 16 lanes of floats -> bf16 bits in the low 16 bits of each 32-bit lane (round to nearest even).
__attribute__((target("avx512f,avx512bw,avx512bf16"))) inline __m512i Bf16Lanes(const float* p) {
  return _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(p)));
}

// slab[r][q] (fp32, PackSlab's layout, cols columns) -> pairs[r][q] = bf16(slab[r][q]) | bf16(slab[r][q+1]) << 16,
// the column past the end counting as zero.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void PairColumns(const float* slab, long rows, long cols, int32_t* pairs) {
  for (long r = 0; r < rows; ++r) {
    const float* src = slab + r * cols * kLanes;
    int32_t* dst = pairs + r * cols * kLanes;
    __m512i lo = Bf16Lanes(src);
    for (long q = 0; q < cols; ++q) {
      const __m512i hi = q + 1 < cols ? Bf16Lanes(src + (q + 1) * kLanes) : _mm512_setzero_si512();
      _mm512_storeu_si512(dst + q * kLanes, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
      lo = hi;
    }
  }
}

// pw[kr*K + kc][16] (fp32, PackTaps) -> wp[kr*KP + j][16] = bf16(w[kr][2j]) | bf16(w[kr][2j+1]) << 16 (w[kr][K] = 0).
template <long K>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void PairTaps(const float* pw, int32_t* wp) {
  constexpr long KP = (K + 1) / 2;
  for (long kr = 0; kr < K; ++kr)
    for (long j = 0; j < KP; ++j) {
      const __m512i lo = Bf16Lanes(pw + (kr * K + 2 * j) * kLanes);
      const __m512i hi = 2 * j + 1 < K ? Bf16Lanes(pw + (kr * K + 2 * j + 1) * kLanes) : _mm512_setzero_si512();
      _mm512_storeu_si512(wp + (kr * KP + j) * kLanes, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
    }
}

// acc[p] = bias + sum_{kr, j} pairs[oy + kr][ox + p + 2j] . wp[kr][j]  (taps 2j and 2j+1 in one instruction).
template <long K>
__attribute__((target("avx512f,avx512bf16"))) inline void SegmentForwardBf16(const int32_t* pairs, long cols, const int32_t* wp, __m512 bias, __m512* acc) {
  constexpr long KP = (K + 1) / 2;
  for (long p = 0; p < kSeg; ++p) acc[p] = bias;
  for (long kr = 0; kr < K; ++kr) {
    const int32_t* xr = pairs + kr * cols * kLanes;
    __m512bh wv[KP];
#pragma GCC unroll 16
    for (long j = 0; j < KP; ++j) wv[j] = (__m512bh)_mm512_loadu_si512(wp + (kr * KP + j) * kLanes);
#pragma GCC unroll 32
    for (long i = 0; i < kSeg + 2 * KP - 2; ++i) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(xr + i * kLanes);
#pragma GCC unroll 16
      for (long p = 0; p < kSeg; ++p)
        if (i - p >= 0 && (i - p) % 2 == 0 && (i - p) / 2 < KP) acc[p] = _mm512_dpbf16_ps(acc[p], xv, wv[(i - p) / 2]);
    }
  }
}

// Tasks [lo, hi) of DwForwardSlabsBf16 (image x channel block). A separate function, not the ParallelFor lambda's
// body: GCC does not give a lambda its enclosing function's target attribute, and the intrinsics need it.
template <long K>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void ForwardTasksBf16(long lo, long hi, const float* x, const float* w, const float* bias, float* y,
                                                                           const DwShape& s, const Slab& b, long blocks, bool relu) {
  constexpr long KP = (K + 1) / 2;
  const long slabSize = b.rows * b.cols * kLanes;
  float* buf = Scratch(2 * slabSize + K * K * kLanes + K * KP * kLanes + kLanes);
  int32_t* pairs = reinterpret_cast<int32_t*>(buf + slabSize);
  float* pw = buf + 2 * slabSize;
  int32_t* wp = reinterpret_cast<int32_t*>(pw + K * K * kLanes);
  float* pb = pw + K * K * kLanes + K * KP * kLanes;
  for (long task = lo; task < hi; ++task) {
    const long n = task / blocks, c0 = task % blocks * kLanes, lanes = std::min(kLanes, s.c - c0);
    PackSlab(x + n * s.h * s.w * s.c, s, b, c0, buf);
    PairColumns(buf, b.rows, b.cols, pairs);
    PackTaps(w, K * K, s.c, c0, pw);
    PairTaps<K>(pw, wp);
    if (bias) PackTaps(bias, 1, s.c, c0, pb);
    else std::fill(pb, pb + kLanes, 0.f);
    const __m512 bv = _mm512_loadu_ps(pb), zero = _mm512_setzero_ps();
    for (long oy = 0; oy < s.oh; ++oy) {
      float* yRow = y + ((n * s.oh + oy) * s.ow) * s.c + c0;
      for (long ox = 0; ox < s.ow; ox += kSeg) {
        __m512 acc[kSeg];
        SegmentForwardBf16<K>(pairs + (oy * b.cols + ox) * kLanes, b.cols, wp, bv, acc);
        const long count = std::min(kSeg, s.ow - ox);
        for (long p = 0; p < count; ++p) {
          // relu keeps NaN (as tfjs's Math.max(0, NaN)): max_ps(r, 0) would return 0 for a NaN r.
          const __m512 r = relu ? _mm512_mask_mov_ps(acc[p], _mm512_cmp_ps_mask(acc[p], zero, _CMP_LT_OQ), zero) : acc[p];
          float* o = yRow + (ox + p) * s.c;
          if (lanes == kLanes) _mm512_storeu_ps(o, r);
          else _mm512_mask_storeu_ps(o, static_cast<__mmask16>((1u << lanes) - 1), r);
        }
      }
    }
  }
}

template <long K>
void DwForwardSlabsBf16(const float* x, const float* w, const float* bias, float* y, const DwShape& s, bool relu) {
  const Slab b = SlabShape(s, K);
  const long blocks = (s.c + kLanes - 1) / kLanes;
  ParallelFor(s.n * blocks, 1, [&](long lo, long hi) { ForwardTasksBf16<K>(lo, hi, x, w, bias, y, s, b, blocks, relu); });
}

// Filter gradient of one image and channel block: acc[kc] += pairs[oy + kr][ox + kc] . (dy[oy][ox], dy[oy][ox+1])
// over even ox: two output columns per instruction. gbuf is PackGrad's layout (owPad columns, even: kSeg is).
template <long K>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void FilterGradSlabBf16(const int32_t* pairs, const float* gbuf, const DwShape& s, const Slab& b, int32_t* gpairs, float* out) {
  const long gp = b.owPad / 2;
  for (long oy = 0; oy < s.oh; ++oy)
    for (long j = 0; j < gp; ++j) {
      const float* g = gbuf + (oy * b.owPad + 2 * j) * kLanes;
      _mm512_storeu_si512(gpairs + (oy * gp + j) * kLanes, _mm512_or_si512(Bf16Lanes(g), _mm512_slli_epi32(Bf16Lanes(g + kLanes), 16)));
    }
  constexpr long P = kSeg / 2;  // gradient pairs per step: 2P output columns
  for (long kr = 0; kr < K; ++kr) {
    __m512 acc[K];
    for (long kc = 0; kc < K; ++kc) acc[kc] = _mm512_setzero_ps();
    for (long oy = 0; oy < s.oh; ++oy) {
      const int32_t* xr = pairs + ((oy + kr) * b.cols) * kLanes;
      const int32_t* gr = gpairs + (oy * gp) * kLanes;
      for (long ox = 0; ox < b.owPad; ox += 2 * P) {
        __m512bh g[P];
#pragma GCC unroll 16
        for (long q = 0; q < P; ++q) g[q] = (__m512bh)_mm512_loadu_si512(gr + (ox / 2 + q) * kLanes);
#pragma GCC unroll 32
        for (long i = 0; i < 2 * P + K - 2; ++i) {
          const __m512bh xv = (__m512bh)_mm512_loadu_si512(xr + (ox + i) * kLanes);
#pragma GCC unroll 16
          for (long q = 0; q < P; ++q)
            if (i - 2 * q >= 0 && i - 2 * q < K) acc[i - 2 * q] = _mm512_dpbf16_ps(acc[i - 2 * q], xv, g[q]);
        }
      }
    }
    for (long kc = 0; kc < K; ++kc) _mm512_storeu_ps(out + (kr * K + kc) * kLanes, acc[kc]);
  }
}

// Tasks [lo, hi) of DwBackpropFilterSlabsBf16 (a target function for the same reason as ForwardTasksBf16).
template <long K>
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void FilterGradTasksBf16(long lo, long hi, const float* x, const float* dy, const DwShape& s,
                                                                              const Slab& b, long blocks, float* partial) {
  const long slabSize = b.rows * b.cols * kLanes, gradSize = s.oh * b.owPad * kLanes;
  float* xbuf = Scratch(2 * slabSize + gradSize + gradSize / 2);
  int32_t* pairs = reinterpret_cast<int32_t*>(xbuf + slabSize);
  float* gbuf = xbuf + 2 * slabSize;
  int32_t* gpairs = reinterpret_cast<int32_t*>(gbuf + gradSize);
  for (long task = lo; task < hi; ++task) {
    const long n = task / blocks, c0 = task % blocks * kLanes;
    PackSlab(x + n * s.h * s.w * s.c, s, b, c0, xbuf);
    PairColumns(xbuf, b.rows, b.cols, pairs);
    PackGrad(dy + n * s.oh * s.ow * s.c, s, b, c0, gbuf);
    FilterGradSlabBf16<K>(pairs, gbuf, s, b, gpairs, partial + task * K * K * kLanes);
  }
}

template <long K>
void DwBackpropFilterSlabsBf16(const float* x, const float* dy, float* dw, const DwShape& s) {
  const Slab b = SlabShape(s, K);
  const long blocks = (s.c + kLanes - 1) / kLanes, taps = K * K;
  std::vector<float> partial(s.n * blocks * taps * kLanes);
  ParallelFor(s.n * blocks, 1, [&](long lo, long hi) { FilterGradTasksBf16<K>(lo, hi, x, dy, s, b, blocks, partial.data()); });
  SumImagePartials(partial, s, blocks, taps, dw);
}
#endif

// The square kernel sizes with slab-kernel instantiations: every kernel size of the paper's tables (Table 4 has 3 to 15;
// the registry's patch-1 models use 8). fn receives std::integral_constant<long, K>.
template <typename Fn>
bool WithSlabKernelSize(long k, Fn&& fn) {
  switch (k) {
    case 3: fn(std::integral_constant<long, 3>{}); return true;
    case 5: fn(std::integral_constant<long, 5>{}); return true;
    case 7: fn(std::integral_constant<long, 7>{}); return true;
    case 8: fn(std::integral_constant<long, 8>{}); return true;
    case 9: fn(std::integral_constant<long, 9>{}); return true;
    case 11: fn(std::integral_constant<long, 11>{}); return true;
    case 13: fn(std::integral_constant<long, 13>{}); return true;
    case 15: fn(std::integral_constant<long, 15>{}); return true;
    default: return false;
  }
}

// Whether the engine runs in bf16, and whether on the AVX512-BF16 slab kernels.
inline bool Bf16Mode() { return GemmPrecision() != 0; }
inline bool Bf16Fast(const DwShape& s) {
#ifdef CM_DW_BF16
  return GemmPrecision() == 1 && GemmBf16Native() && s.sh == 1 && s.sw == 1 && s.kh == s.kw &&
         WithSlabKernelSize(s.kw, [](auto) {});
#else
  (void)s;
  return false;
#endif
}

// A bf16-rounded copy (RoundToBf16, the GEMM's rounding), for the fp32 kernels to run on bf16 operands.
std::vector<float> RoundedCopy(const float* v, long n) {
  std::vector<float> out(v, v + n);
  ParallelFor(n, 1 << 16, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) out[i] = RoundToBf16(out[i]);
  });
  return out;
}

bool DwBackpropFilterFast(const float* x, const float* dy, float* dw, const DwShape& s) {
  if (s.sh != 1 || s.sw != 1 || s.kh != s.kw) return false;
#ifdef CM_DW_BF16
  if (Bf16Fast(s)) return WithSlabKernelSize(s.kw, [&](auto k) { DwBackpropFilterSlabsBf16<decltype(k)::value>(x, dy, dw, s); });
#endif
  return WithSlabKernelSize(s.kw, [&](auto k) { DwBackpropFilterSlabs<decltype(k)::value>(x, dy, dw, s); });
}

// The slab kernel's cases: stride 1 and a square K with an instantiation.
bool DwForwardFast(const float* x, const float* w, const float* bias, float* y, const DwShape& s, bool relu) {
  if (s.sh != 1 || s.sw != 1 || s.kh != s.kw) return false;
#ifdef CM_DW_BF16
  if (Bf16Fast(s)) return WithSlabKernelSize(s.kw, [&](auto k) { DwForwardSlabsBf16<decltype(k)::value>(x, w, bias, y, s, relu); });
#endif
  return WithSlabKernelSize(s.kw, [&](auto k) { DwForwardSlabs<decltype(k)::value>(x, w, bias, y, s, relu); });
}

// y[n, oy, ox, c] = act(bias[c] + sum_{kr,kc} x[n, oy*sh-pt+kr, ox*sw-pl+kc, c] * w[kr, kc, c]).
void DwForward(const float* x, const float* w, const float* bias, float* y, const DwShape& s, bool relu) {
  if (DwForwardFast(x, w, bias, y, s, relu)) return;
  const long fullBlocks = s.c / kBlock * kBlock;
  ParallelFor(s.n * s.oh, 1, [&](long lo, long hi) {
    for (long row = lo; row < hi; ++row) {
      const long n = row / s.oh, oy = row % s.oh;
      long kr0, kr1;
      TapRange(oy, s.sh, s.pt, s.h, s.kh, &kr0, &kr1);
      // Pointer to x at (n, oy*sh-pt, 0): tap kr adds kr rows; taps outside the image are never read.
      const float* xImg = x + n * s.h * s.w * s.c;
      const long iy0 = oy * s.sh - s.pt;
      float* yRow = y + row * s.ow * s.c;
      long ox = 0;
      while (ox < s.ow) {
        long kc0, kc1;
        TapRange(ox, s.sw, s.pl, s.w, s.kw, &kc0, &kc1);
        const long ix0 = ox * s.sw - s.pl;
        const float* xrow0 = xImg + (iy0 * s.w + ix0) * s.c;  // may point outside; offsets with valid taps are inside
        // A run of kPix pixels with the full tap range (interior) shares each weight load.
        const bool interior = kc0 == 0 && kc1 == s.kw && ox + kPix <= s.ow &&
                              (ox + kPix - 1) * s.sw - s.pl + s.kw <= s.w;
        const long pix = interior ? kPix : 1;
        for (long c0 = 0; c0 < fullBlocks; c0 += kBlock) {
          if (interior)
            DwBlock<kPix>(xrow0, s.sw * s.c, w, bias, yRow + ox * s.c, c0, s, kr0, kr1, kc0, kc1, relu);
          else
            DwBlock<1>(xrow0, s.sw * s.c, w, bias, yRow + ox * s.c, c0, s, kr0, kr1, kc0, kc1, relu);
        }
        if (fullBlocks < s.c)
          for (long p = 0; p < pix; ++p)
            DwTail(xrow0 + p * s.sw * s.c, w, bias, yRow + (ox + p) * s.c, fullBlocks, s, kr0, kr1, kc0, kc1, relu);
        ox += pix;
      }
    }
  });
}

// dx for stride > 1 (gather form): dx[n,iy,ix,c] = sum over taps with (iy+pt-kr) divisible by sh, etc.
void DwBackpropInputStrided(const float* dy, const float* w, float* dx, const DwShape& s) {
  ParallelFor(s.n * s.h, 1, [&](long lo, long hi) {
    for (long row = lo; row < hi; ++row) {
      const long n = row / s.h, iy = row % s.h;
      float* dxRow = dx + row * s.w * s.c;
      std::fill(dxRow, dxRow + s.w * s.c, 0.f);
      for (long kr = 0; kr < s.kh; ++kr) {
        const long ty = iy + s.pt - kr;
        if (ty < 0 || ty % s.sh != 0 || ty / s.sh >= s.oh) continue;
        const float* dyRow = dy + (n * s.oh + ty / s.sh) * s.ow * s.c;
        for (long ix = 0; ix < s.w; ++ix) {
          float* o = dxRow + ix * s.c;
          for (long kc = 0; kc < s.kw; ++kc) {
            const long tx = ix + s.pl - kc;
            if (tx < 0 || tx % s.sw != 0 || tx / s.sw >= s.ow) continue;
            const float* g = dyRow + (tx / s.sw) * s.c;
            const float* wp = w + (kr * s.kw + kc) * s.c;
            for (long c = 0; c < s.c; ++c) o[c] += g[c] * wp[c];
          }
        }
      }
    }
  });
}

// dx = depthwise conv of dy with the spatially flipped filter. Stride 1 reuses the forward kernel with
// padding k-1-pad (the same structure, so the same speed); larger strides use the gather loop above.
void DwBackpropInput(const float* dy, const float* w, float* dx, const DwShape& s) {
  if (s.sh != 1 || s.sw != 1) return DwBackpropInputStrided(dy, w, dx, s);
  std::vector<float> flipped(s.kh * s.kw * s.c);
  for (long kr = 0; kr < s.kh; ++kr)
    for (long kc = 0; kc < s.kw; ++kc)
      std::memcpy(&flipped[(kr * s.kw + kc) * s.c], w + ((s.kh - 1 - kr) * s.kw + (s.kw - 1 - kc)) * s.c,
                  s.c * sizeof(float));
  DwShape t{s.n, s.oh, s.ow, s.c, s.kh, s.kw, s.h, s.w, 1, 1, s.kh - 1 - s.pt, s.kw - 1 - s.pl};
  DwForward(dy, flipped.data(), nullptr, dx, t, false);
}

// dw[kr,kc,c] = sum_{n,oy,ox} x[n, oy*sh-pt+kr, ox*sw-pl+kc, c] * dy[n,oy,ox,c].
// Rows (n, oy) are split into a fixed number of parts (independent of the thread count), each part sums into
// its own buffer, and the parts are added in order: the result is the same on any number of threads.
void DwBackpropFilter(const float* x, const float* dy, float* dw, const DwShape& s) {
  if (DwBackpropFilterFast(x, dy, dw, s)) return;
  const long rows = s.n * s.oh, fsize = s.kh * s.kw * s.c;
  const long parts = std::min<long>(rows, 8);
  std::vector<float> partial(parts * fsize, 0.f);
  ParallelFor(parts, 1, [&](long plo, long phi) {
    for (long part = plo; part < phi; ++part) {
      float* acc = partial.data() + part * fsize;
      const long r0 = rows * part / parts, r1 = rows * (part + 1) / parts;
      for (long row = r0; row < r1; ++row) {
        const long n = row / s.oh, oy = row % s.oh;
        long kr0, kr1;
        TapRange(oy, s.sh, s.pt, s.h, s.kh, &kr0, &kr1);
        const float* dyRow = dy + row * s.ow * s.c;
        for (long kr = kr0; kr < kr1; ++kr) {
          const float* xRow = x + (n * s.h + oy * s.sh - s.pt + kr) * s.w * s.c;
          for (long ox = 0; ox < s.ow; ++ox) {
            long kc0, kc1;
            TapRange(ox, s.sw, s.pl, s.w, s.kw, &kc0, &kc1);
            const float* g = dyRow + ox * s.c;
            const long ix0 = ox * s.sw - s.pl;
            for (long kc = kc0; kc < kc1; ++kc) {
              const float* xp = xRow + (ix0 + kc) * s.c;
              float* a = acc + (kr * s.kw + kc) * s.c;
              for (long c = 0; c < s.c; ++c) a[c] += xp[c] * g[c];
            }
          }
        }
      }
    }
  });
  ParallelFor(fsize, 1024, [&](long lo, long hi) {
    for (long i = lo; i < hi; ++i) {
      float v = 0.f;
      for (long part = 0; part < parts; ++part) v += partial[part * fsize + i];
      dw[i] = v;
    }
  });
}

// ---- N-API glue ----

bool Fail(const Napi::Env& env, const char* msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

bool GetF32(const Napi::CallbackInfo& info, size_t i, float** ptr, size_t* len) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    return Fail(info.Env(), "depthwise: expected a Float32Array argument");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  *ptr = a.Data();
  *len = a.ElementLength();
  return true;
}

// dims: Int32Array [n, h, w, c, kh, kw, oh, ow, sh, sw, pt, pl].
bool GetShape(const Napi::CallbackInfo& info, size_t i, DwShape* s) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      v.As<Napi::Int32Array>().ElementLength() != 12)
    return Fail(info.Env(), "depthwise: expected dims as an Int32Array of 12");
  const int32_t* d = v.As<Napi::Int32Array>().Data();
  *s = DwShape{d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11]};
  if (s->n < 0 || s->h <= 0 || s->w <= 0 || s->c <= 0 || s->kh <= 0 || s->kw <= 0 || s->oh < 0 || s->ow < 0 ||
      s->sh <= 0 || s->sw <= 0)
    return Fail(info.Env(), "depthwise: invalid dims");
  return true;
}

bool Sized(const Napi::Env& env, size_t have, long need) {
  return have >= static_cast<size_t>(need) ? true : Fail(env, "depthwise: buffer smaller than dims require");
}

// depthwiseForward(x, w, bias | null, y, dims, relu)
Napi::Value Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DwShape s;
  float *x, *w, *y, *bias = nullptr;
  size_t nx, nw, ny, nb = 0;
  if (!GetF32(info, 0, &x, &nx) || !GetF32(info, 1, &w, &nw) || !GetF32(info, 3, &y, &ny) || !GetShape(info, 4, &s))
    return env.Undefined();
  if (!info[2].IsNull() && !info[2].IsUndefined() && !GetF32(info, 2, &bias, &nb)) return env.Undefined();
  if (!Sized(env, nx, s.n * s.h * s.w * s.c) || !Sized(env, nw, s.kh * s.kw * s.c) ||
      !Sized(env, ny, s.n * s.oh * s.ow * s.c) || (bias && !Sized(env, nb, s.c)))
    return env.Undefined();
  const bool relu = info[5].ToBoolean().Value();
  if (Bf16Mode() && !Bf16Fast(s)) {
    const std::vector<float> rx = RoundedCopy(x, s.n * s.h * s.w * s.c), rw = RoundedCopy(w, s.kh * s.kw * s.c);
    DwForward(rx.data(), rw.data(), bias, y, s, relu);
  } else {
    DwForward(x, w, bias, y, s, relu);
  }
  return env.Undefined();
}

// depthwiseBackpropInput(dy, w, dx, dims)
Napi::Value BackpropInput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DwShape s;
  float *dy, *w, *dx;
  size_t ndy, nw, ndx;
  if (!GetF32(info, 0, &dy, &ndy) || !GetF32(info, 1, &w, &nw) || !GetF32(info, 2, &dx, &ndx) ||
      !GetShape(info, 3, &s))
    return env.Undefined();
  if (!Sized(env, ndy, s.n * s.oh * s.ow * s.c) || !Sized(env, nw, s.kh * s.kw * s.c) ||
      !Sized(env, ndx, s.n * s.h * s.w * s.c))
    return env.Undefined();
  // Stride 1 runs the forward kernel on dy (which rounds in bf16 mode itself when it can: Bf16Fast of the transposed shape).
  const DwShape t{s.n, s.oh, s.ow, s.c, s.kh, s.kw, s.h, s.w, 1, 1, s.kh - 1 - s.pt, s.kw - 1 - s.pl};
  if (Bf16Mode() && !(s.sh == 1 && s.sw == 1 && Bf16Fast(t))) {
    const std::vector<float> rdy = RoundedCopy(dy, s.n * s.oh * s.ow * s.c), rw = RoundedCopy(w, s.kh * s.kw * s.c);
    DwBackpropInput(rdy.data(), rw.data(), dx, s);  // rounded already: Bf16Fast is false, so the fp32 kernels run
  } else {
    DwBackpropInput(dy, w, dx, s);
  }
  return env.Undefined();
}

// depthwiseBackpropFilter(x, dy, dw, dims)
Napi::Value BackpropFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DwShape s;
  float *x, *dy, *dw;
  size_t nx, ndy, ndw;
  if (!GetF32(info, 0, &x, &nx) || !GetF32(info, 1, &dy, &ndy) || !GetF32(info, 2, &dw, &ndw) ||
      !GetShape(info, 3, &s))
    return env.Undefined();
  if (!Sized(env, nx, s.n * s.h * s.w * s.c) || !Sized(env, ndy, s.n * s.oh * s.ow * s.c) ||
      !Sized(env, ndw, s.kh * s.kw * s.c))
    return env.Undefined();
  if (s.n * s.oh == 0) {
    std::fill(dw, dw + s.kh * s.kw * s.c, 0.f);
    return env.Undefined();
  }
  if (Bf16Mode() && !Bf16Fast(s)) {
    const std::vector<float> rx = RoundedCopy(x, s.n * s.h * s.w * s.c), rdy = RoundedCopy(dy, s.n * s.oh * s.ow * s.c);
    DwBackpropFilter(rx.data(), rdy.data(), dw, s);
  } else {
    DwBackpropFilter(x, dy, dw, s);
  }
  return env.Undefined();
}

}  // namespace

void InitDepthwise(Napi::Env env, Napi::Object exports) {
  exports.Set("depthwiseForward", Napi::Function::New(env, Guarded<Forward>, "depthwiseForward"));
  exports.Set("depthwiseBackpropInput", Napi::Function::New(env, Guarded<BackpropInput>, "depthwiseBackpropInput"));
  exports.Set("depthwiseBackpropFilter", Napi::Function::New(env, Guarded<BackpropFilter>, "depthwiseBackpropFilter"));
}

}  // namespace cm
