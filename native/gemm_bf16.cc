// bf16 mixed-precision GEMM, what PyTorch's CPU autocast gives convolutions and matmuls: both operands rounded to
// bfloat16 (round to nearest even), products accumulated in fp32, an fp32 result. Sgemm (gemm.cc) calls it for every
// product of the GEMM family while the engine's precision is bf16 (setGemmPrecision), so conv forward, both conv
// backprops and matmuls all take bf16 operands, as under autocast (depthwise convolutions too: depthwise.cc); the
// rest stays fp32.
//
// Operands are packed as pairs of bf16 along k in one 32-bit word (k = 2p in the low half, 2p+1 in the high half):
// the layout of AVX512-BF16's VDPBF16PS, which multiplies 16 such pairs by 16 pairs and adds both products to 16 fp32
// lanes: twice the multiply-adds of an fp32 FMA per instruction. Machines without avx512_bf16 run a portable
// micro-kernel over the same packed operands (bf16 -> fp32 is a 16-bit shift and a bf16 x bf16 product is exact in
// fp32), so a bf16 run means the same rounding everywhere and only its speed depends on the CPU.
#include <napi.h>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include "gemm_bf16.h"
#include "parallel.h"
#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12's AVX-512 headers start some conversions from _mm512_undefined_*(), which -Wmaybe-uninitialized reports.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#define CM_HAVE_BF16_TARGET 1
#endif

namespace cm {
namespace {

// Tile and block sizes (macros only so that tuning builds can try others: -DCM_BF16_MR=12 ...).
#ifndef CM_BF16_MR
#define CM_BF16_MR 8
#endif
#ifndef CM_BF16_NV
#define CM_BF16_NV 2
#endif
#ifndef CM_BF16_KC
#define CM_BF16_KC 384
#endif
#ifndef CM_BF16_MC
#define CM_BF16_MC 96
#endif
constexpr int kMR = CM_BF16_MR;       // rows of C per micro-tile
constexpr int kNV = CM_BF16_NV;       // 16-lane vectors per micro-tile row
constexpr int kNR = 16 * kNV;         // columns of C per micro-tile
constexpr long kKC = CM_BF16_KC;      // k per block (even: whole pairs); a 32 x 384 bf16 B micro-panel is 24 KiB of L1
constexpr long kMC = CM_BF16_MC;      // rows of A per block (packed: 96 x 384 bf16 = 72 KiB of L2)
constexpr long kNC = 3072;
static_assert(kMC % kMR == 0 && kNC % kNR == 0 && kKC % 2 == 0, "blocks must hold whole micro-panels and k pairs");

int g_precision = 0;  // 0 fp32, 1 bf16 (fastest kernel the CPU has), 2 bf16 on the portable kernel (tests compare the two)

bool CpuHasBf16() {
#ifdef CM_HAVE_BF16_TARGET
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
#else
  return false;
#endif
}
const bool kCpuBf16 = CpuHasBf16();

inline float Bf16ToFloat(uint32_t bits16) {
  const uint32_t u = bits16 << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

struct Operand {
  const float* p;
  long ld;
  bool trans;  // element (r, k) is p[k*ld + r] when trans, p[r*ld + k] otherwise (r = row of A / column of B)
};

struct WordScratch {
  uint32_t* p = nullptr;
  size_t cap = 0;
  ~WordScratch() { std::free(p); }
  uint32_t* Get(size_t n) {
    if (n > cap) {
      std::free(p);
      p = static_cast<uint32_t*>(std::aligned_alloc(64, ((n * 4 + 63) / 64) * 64));
      cap = n;
    }
    return p;
  }
};

#ifdef CM_HAVE_BF16_TARGET
// Floats src[0 .. 2n) -> n pair words in order (bf16(src[2p]) | bf16(src[2p+1]) << 16): 32 floats per instruction.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) void PairsAvx512(const float* src, long n, uint32_t* dst) {
  long p = 0;
  for (; p + 16 <= n; p += 16) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 2 * p + 16), _mm512_loadu_ps(src + 2 * p));
    _mm512_storeu_si512(dst + p, (__m512i)v);
  }
  for (; p < n; ++p) dst[p] = Bf16Bits(src[2 * p]) | Bf16Bits(src[2 * p + 1]) << 16;
}

// Two rows of floats -> n words bf16(lo[j]) | bf16(hi[j]) << 16 (hi null: zeros).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void InterleaveAvx512(const float* lo, const float* hi, long n, uint32_t* dst) {
  long j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(lo + j)));
    const __m512i h = hi ? _mm512_slli_epi32(_mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(hi + j))), 16) : _mm512_setzero_si512();
    _mm512_storeu_si512(dst + j, _mm512_or_si512(l, h));
  }
  for (; j + 8 <= n; j += 8) {  // an MR = 8 panel of a transposed A
    const __m256i l = _mm256_cvtepu16_epi32((__m128i)_mm256_cvtneps_pbh(_mm256_loadu_ps(lo + j)));
    const __m256i h = hi ? _mm256_slli_epi32(_mm256_cvtepu16_epi32((__m128i)_mm256_cvtneps_pbh(_mm256_loadu_ps(hi + j))), 16) : _mm256_setzero_si256();
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), _mm256_or_si256(l, h));
  }
  for (; j < n; ++j) dst[j] = Bf16Bits(lo[j]) | (hi ? Bf16Bits(hi[j]) << 16 : 0u);
}
#endif

// Packed operands hold pairs of bf16 along k in one word. Two layouts, both with the tile of rows [ir, ir+width) at
// dst + ir * pairs, so the micro-kernels take the element strides (row, pair) as arguments:
// - panels (width x pairs, pair-major: row stride 1, pair stride width), from an operand whose consecutive rows are
//   contiguous in memory (a transposed A, a non-transposed B): each pair is two memory rows interleaved;
// - rows (row-major: row stride pairs, pair stride 1), from an operand whose rows are contiguous along k (a
//   non-transposed A, the activations of a 1x1 convolution): each row converts in one contiguous pass.
// Rows past `rows` (up to a multiple of width) and the last odd k are zero. `fast`: AVX512-BF16 conversions (same
// rounding as Bf16Bits except denormals, which those instructions flush to zero).
void PackOperand(const Operand& x, long r0, long rows, long k0, long kc, int width, bool fast, uint32_t* dst) {
  const long pairs = (kc + 1) / 2, full = kc / 2;
  const long padded = (rows + width - 1) / width * width;
  if (!x.trans) {
    for (long r = 0; r < padded; ++r) {
      uint32_t* d = dst + r * pairs;
      if (r >= rows) {
        std::fill(d, d + pairs, 0u);
        continue;
      }
      const float* src = x.p + (r0 + r) * x.ld + k0;
#ifdef CM_HAVE_BF16_TARGET
      if (fast) PairsAvx512(src, full, d);
      else
#endif
        for (long p = 0; p < full; ++p) d[p] = Bf16Bits(src[2 * p]) | Bf16Bits(src[2 * p + 1]) << 16;
      if (kc % 2) d[full] = Bf16Bits(src[kc - 1]);
    }
    return;
  }
  for (long q = 0; q * width < padded; ++q) {
    uint32_t* d = dst + q * width * pairs;
    const long w = std::min<long>(width, rows - q * width);
    for (long p = 0; p < pairs; ++p) {
      const float* lo = x.p + (k0 + 2 * p) * x.ld + r0 + q * width;
      const float* hi = 2 * p + 1 < kc ? lo + x.ld : nullptr;
      uint32_t* dp = d + p * width;
#ifdef CM_HAVE_BF16_TARGET
      if (fast) InterleaveAvx512(lo, hi, w, dp);
      else
#endif
        for (long r = 0; r < w; ++r) dp[r] = Bf16Bits(lo[r]) | (hi ? Bf16Bits(hi[r]) << 16 : 0u);
      for (long r = w; r < width; ++r) dp[r] = 0;
    }
  }
}

// Element strides of a packed operand's layout (see PackOperand).
struct Strides {
  long row, pair;
};
inline Strides StridesOf(const Operand& x, int width, long pairs) { return x.trans ? Strides{1, width} : Strides{pairs, 1}; }

// Adds (or stores) an MR x NR fp32 tile into C, clipped to mr x nr.
inline void StoreTile(const float* tile, float* c, long ldc, int mr, int nr, bool accumulate) {
  for (int i = 0; i < mr; ++i) {
    float* row = c + i * ldc;
    const float* t = tile + i * kNR;
    if (accumulate)
      for (int j = 0; j < nr; ++j) row[j] += t[j];
    else
      for (int j = 0; j < nr; ++j) row[j] = t[j];
  }
}

// Portable micro-kernel: the same pairs, widened to fp32 (exact) and multiplied in the pair order VDPBF16PS uses.
void MicroKernelPortable(long pairs, const uint32_t* __restrict ap, Strides as, const uint32_t* __restrict bp, float* c, long ldc, int mr, int nr, bool accumulate) {
  alignas(64) float acc[kMR * kNR] = {};
  for (long p = 0; p < pairs; ++p) {
    alignas(64) float b0[kNR], b1[kNR];
    for (int j = 0; j < kNR; ++j) {
      b0[j] = Bf16ToFloat(bp[p * kNR + j] & 0xffffu);
      b1[j] = Bf16ToFloat(bp[p * kNR + j] >> 16);
    }
    for (int i = 0; i < kMR; ++i) {
      const uint32_t a = ap[i * as.row + p * as.pair];
      const float a0 = Bf16ToFloat(a & 0xffffu), a1 = Bf16ToFloat(a >> 16);
      float* t = acc + i * kNR;
      for (int j = 0; j < kNR; ++j) t[j] = t[j] + a0 * b0[j] + a1 * b1[j];
    }
  }
  StoreTile(acc, c, ldc, mr, nr, accumulate);
}

#ifdef CM_HAVE_BF16_TARGET
// VDPBF16PS micro-kernel: 2*MR accumulators, each pair of k one broadcast of A's word per row and two loads of B.
__attribute__((target("avx512f,avx512bf16"))) void MicroKernelAvx512Bf16(long pairs, const uint32_t* __restrict ap, Strides as, const uint32_t* __restrict bp, float* c, long ldc, int mr, int nr, bool accumulate) {
  __m512 acc[kMR][kNV];
  for (int i = 0; i < kMR; ++i)
    for (int v = 0; v < kNV; ++v) acc[i][v] = _mm512_setzero_ps();
  for (long p = 0; p < pairs; ++p) {
    __m512bh b[kNV];
    for (int v = 0; v < kNV; ++v) b[v] = (__m512bh)_mm512_load_si512(bp + p * kNR + 16 * v);
    const uint32_t* a = ap + p * as.pair;
    for (int i = 0; i < kMR; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[i * as.row]));
      for (int v = 0; v < kNV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], ai, b[v]);
    }
  }
  if (mr == kMR && nr == kNR) {
    for (int i = 0; i < kMR; ++i) {
      float* row = c + i * ldc;
      for (int v = 0; v < kNV; ++v)
        _mm512_storeu_ps(row + 16 * v, accumulate ? _mm512_add_ps(_mm512_loadu_ps(row + 16 * v), acc[i][v]) : acc[i][v]);
    }
    return;
  }
  alignas(64) float tile[kMR * kNR];
  for (int i = 0; i < kMR; ++i)
    for (int v = 0; v < kNV; ++v) _mm512_store_ps(tile + i * kNR + 16 * v, acc[i][v]);
  StoreTile(tile, c, ldc, mr, nr, accumulate);
}
#endif

using MicroKernel = void (*)(long, const uint32_t*, Strides, const uint32_t*, float*, long, int, int, bool);

MicroKernel Kernel(bool portable) {
#ifdef CM_HAVE_BF16_TARGET
  if (kCpuBf16 && !portable) return MicroKernelAvx512Bf16;
#endif
  (void)portable;
  return MicroKernelPortable;
}

WordScratch& PackedB() {
  static WordScratch s;
  return s;
}

}  // namespace

int GemmPrecision() { return g_precision; }

bool GemmBf16Native() { return kCpuBf16; }

namespace {
// Packs panel q (NR columns of op(B)[pc:pc+kc, jc:jc+nc]) pair-major at bp + q * NR * pairs.
void PackBPanel(const Operand& B, long jc, long nc, long pc, long kc, long q, bool fast, uint32_t* bp) {
  const long pairs = (kc + 1) / 2, cols = std::min<long>(kNR, nc - q * kNR);
  if (B.trans) {
    PackOperand(B, jc + q * kNR, cols, pc, kc, kNR, fast, bp + q * kNR * pairs);
    return;
  }
  // rows of op(B)^T contiguous along k: pack row-major, then regroup into a pair-major panel
  thread_local WordScratch rowsB;
  uint32_t* tmp = rowsB.Get(static_cast<size_t>(kNR * pairs));
  PackOperand(B, jc + q * kNR, cols, pc, kc, kNR, fast, tmp);
  uint32_t* d = bp + q * kNR * pairs;
  for (long p = 0; p < pairs; ++p)
    for (int j = 0; j < kNR; ++j) d[p * kNR + j] = tmp[j * pairs + p];
}

// Long-k products (filter gradients of 1x1 convs), as Sgemm's SgemmLongK: each thread owns a fixed slice of the output
// panels and runs the whole k loop for it, so there is no barrier per k block; the same sums in the same order.
bool LongK(long m, long n, long k, int threads) {
  const long panels = (n + kNR - 1) / kNR;
  return threads > 1 && n <= kNC && k >= 8 * kKC && panels >= threads && m <= 4 * kMC;
}

void GemmBf16LongK(long m, long n, long k, const Operand& A, const Operand& B, float* c, long ldc, bool accumulate, int threads, MicroKernel kernel, bool fast) {
  const long panels = (n + kNR - 1) / kNR;
  ParallelFor(threads, 1, [&](long lo, long hi) {
    thread_local WordScratch packedA, packedB;
    for (long t = lo; t < hi; ++t) {
      const long pLo = panels * t / threads, pHi = panels * (t + 1) / threads;
      if (pLo >= pHi) continue;
      for (long pc = 0; pc < k; pc += kKC) {
        const long kc = std::min(kKC, k - pc), pairs = (kc + 1) / 2;
        const bool acc = accumulate || pc > 0;
        uint32_t* bp = packedB.Get(static_cast<size_t>(panels * kNR * pairs));  // panels [pLo, pHi) at their usual offsets
        uint32_t* ap = packedA.Get(static_cast<size_t>(kMC * pairs));
        const Strides as = StridesOf(A, kMR, pairs);
        for (long q = pLo; q < pHi; ++q) PackBPanel(B, 0, n, pc, kc, q, fast, bp);
        for (long i0 = 0; i0 < m; i0 += kMC) {
          const long mc = std::min(kMC, m - i0);
          PackOperand(A, i0, mc, pc, kc, kMR, fast, ap);
          for (long q = pLo; q < pHi; ++q) {
            const int nr = static_cast<int>(std::min<long>(kNR, n - q * kNR));
            for (long ir = 0; ir < mc; ir += kMR) {
              const int mr = static_cast<int>(std::min<long>(kMR, mc - ir));
              kernel(pairs, ap + ir * pairs, as, bp + q * kNR * pairs, c + (i0 + ir) * ldc + q * kNR, ldc, mr, nr, acc);
            }
          }
        }
      }
    }
  });
}
}  // namespace

// C[m x n] (ldc) = (accumulate ? C : 0) + bf16(op(A)) * bf16(op(B)), the loop nest of Sgemm over packed k pairs.
void GemmBf16(long m, long n, long k, const float* a, long lda, bool ta, const float* b, long ldb, bool tb, float* c, long ldc, bool accumulate) {
  const bool portable = g_precision == 2;
  const MicroKernel kernel = Kernel(portable);
  const bool fast = kCpuBf16 && !portable;
  const Operand A{a, lda, ta}, B{b, ldb, !tb};  // B's columns are the packed "rows": element (j, k) of op(B)^T
  const int threads = Pool().size();
  if (LongK(m, n, k, threads)) {
    GemmBf16LongK(m, n, k, A, B, c, ldc, accumulate, threads, kernel, fast);
    return;
  }
  for (long jc = 0; jc < n; jc += kNC) {
    const long nc = std::min(kNC, n - jc);
    const long panels = (nc + kNR - 1) / kNR;
    for (long pc = 0; pc < k; pc += kKC) {
      const long kc = std::min(kKC, k - pc), pairs = (kc + 1) / 2;
      const bool acc = accumulate || pc > 0;
      uint32_t* bp = PackedB().Get(static_cast<size_t>(panels * kNR * pairs));
      ParallelFor(panels, 4, [&](long lo, long hi) {
        for (long q = lo; q < hi; ++q) PackBPanel(B, jc, nc, pc, kc, q, fast, bp);
      });
      const long mBlocks = (m + kMC - 1) / kMC;
      long nSplit = 1;
      if (mBlocks < 2L * threads) nSplit = std::min<long>(panels, (2L * threads + mBlocks - 1) / mBlocks);
      const long panelsPerSplit = (panels + nSplit - 1) / nSplit;
      ParallelFor(mBlocks * nSplit, 1, [&](long lo, long hi) {
        thread_local WordScratch packedA;
        uint32_t* ap = packedA.Get(static_cast<size_t>(kMC * pairs));
        const Strides as = StridesOf(A, kMR, pairs);
        long packedBlock = -1;
        for (long t = lo; t < hi; ++t) {
          const long mb = t / nSplit, ns = t % nSplit;
          const long i0 = mb * kMC, mc = std::min(kMC, m - i0);
          if (mb != packedBlock) {
            PackOperand(A, i0, mc, pc, kc, kMR, fast, ap);
            packedBlock = mb;
          }
          const long pLo = ns * panelsPerSplit, pHi = std::min(panels, pLo + panelsPerSplit);
          for (long q = pLo; q < pHi; ++q) {
            const int nr = static_cast<int>(std::min<long>(kNR, nc - q * kNR));
            for (long ir = 0; ir < mc; ir += kMR) {
              const int mr = static_cast<int>(std::min<long>(kMR, mc - ir));
              kernel(pairs, ap + ir * pairs, as, bp + q * kNR * pairs, c + (i0 + ir) * ldc + jc + q * kNR, ldc, mr, nr, acc);
            }
          }
        }
      });
    }
  }
}

namespace {
// setGemmPrecision(mode): 0 fp32, 1 bf16, 2 bf16 on the portable kernel; returns the mode now in force.
Napi::Value SetGemmPrecision(const Napi::CallbackInfo& info) {
  const int mode = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
  if (mode < 0 || mode > 2) {
    Napi::TypeError::New(info.Env(), "convmixer_native.setGemmPrecision: mode must be 0 (fp32), 1 (bf16) or 2 (bf16, portable kernel)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  g_precision = mode;
  return Napi::Number::New(info.Env(), g_precision);
}
}  // namespace

void InitGemmBf16(Napi::Env env, Napi::Object exports) {
  exports.Set("bf16Kernel", Napi::String::New(env, kCpuBf16 ? "avx512_bf16" : "portable"));
  exports.Set("bf16Tiles", Napi::String::New(env, std::to_string(kMR) + "x" + std::to_string(kNR) + " tile, KC " + std::to_string(kKC) + ", MC " + std::to_string(kMC)));
  exports.Set("setGemmPrecision", Napi::Function::New(env, SetGemmPrecision, "setGemmPrecision"));
}

}  // namespace cm
