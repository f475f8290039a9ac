// GEMM-family kernels of the native engine: a cache-blocked, packed, multi-threaded SGEMM (the BLIS loop nest
// around an MR x NR register-tile micro-kernel), and the convolutions and matmuls built on it:
//   conv 1x1 stride 1            = one GEMM over all pixels (NHWC rows are pixels),
//   conv kernel = stride, valid  = im2col that is a pure copy of contiguous runs (patch embedding) + GEMM,
//   any other conv (dilation 1)  = im2col + GEMM, in chunks of whole images to bound the scratch memory,
// and their backprops (backprop input = GEMM with W^T + col2im; backprop filter = cols^T x dy).
// The JS side (lib/backend/kernels-gemm.ts) computes shapes and padding with tfjs's computeConv2DInfo and passes
// plain ints; this file checks that every buffer is large enough for them before touching it.
#include <napi.h>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include "gemm_bf16.h"
#include "parallel.h"

namespace cm {
namespace {

// Register tile: MR rows x NR columns of C live in 2*MR vector registers during the k loop.
#if defined(__AVX512F__)
constexpr int kVW = 16;
const char* kIsa = "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kVW = 8;
const char* kIsa = "AVX2+FMA";
#elif defined(__AVX__)
constexpr int kVW = 8;
const char* kIsa = "AVX";
#else
constexpr int kVW = 4;
const char* kIsa = "SSE";
#endif
typedef float VFloat __attribute__((vector_size(kVW * sizeof(float))));

constexpr int kMR = 6;
constexpr int kNR = 2 * kVW;
// Cache blocks: a KC x NR panel of B stays in L1, an MC x KC block of A in L2, a KC x NC block of B in L3.
constexpr long kKC = 256;
constexpr long kMC = 120;
constexpr long kNC = 3072;
static_assert(kMC % kMR == 0 && kNC % kNR == 0, "blocks must hold whole micro-panels");

// A 64-byte-aligned scratch buffer that only grows; one per thread for packed A, one for packed B / im2col.
struct Scratch {
  float* p = nullptr;
  size_t cap = 0;
  ~Scratch() { std::free(p); }
  float* Get(size_t n) {
    if (n > cap) {
      std::free(p);
      size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
      p = static_cast<float*>(std::aligned_alloc(64, bytes));
      cap = n;
    }
    return p;
  }
};

inline VFloat LoadU(const float* p) {
  VFloat v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void StoreU(float* p, VFloat v) { std::memcpy(p, &v, sizeof v); }
// One full NR-wide row of a micro-tile: row = (accumulate ? row : 0) + acc.
inline void StoreRow(float* row, const VFloat acc[2], bool accumulate) {
  if (accumulate) {
    StoreU(row, LoadU(row) + acc[0]);
    StoreU(row + kVW, LoadU(row + kVW) + acc[1]);
  } else {
    StoreU(row, acc[0]);
    StoreU(row + kVW, acc[1]);
  }
}

// C[0:mr, 0:nr] = (accumulate ? C : 0) + Ap * Bp, where Ap is a kc x MR micro-panel (k-major) and Bp kc x NR.
void MicroKernel(long kc, const float* __restrict ap, const float* __restrict bp, float* c, long ldc, int mr, int nr, bool accumulate) {
  VFloat acc[kMR][2];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = VFloat{};
  for (long k = 0; k < kc; ++k) {
    const VFloat b0 = *reinterpret_cast<const VFloat*>(bp + k * kNR);
    const VFloat b1 = *reinterpret_cast<const VFloat*>(bp + k * kNR + kVW);
    const float* a = ap + k * kMR;
    for (int i = 0; i < kMR; ++i) {
      const VFloat ai = VFloat{} + a[i];
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  if (mr == kMR && nr == kNR) {
    for (int i = 0; i < kMR; ++i) StoreRow(c + i * ldc, acc[i], accumulate);
    return;
  }
  alignas(64) float tile[kMR * kNR];
  for (int i = 0; i < kMR; ++i) {
    std::memcpy(tile + i * kNR, &acc[i][0], sizeof(VFloat));
    std::memcpy(tile + i * kNR + kVW, &acc[i][1], sizeof(VFloat));
  }
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.f) + tile[i * kNR + j];
}

// MicroKernel for a full MR-row tile read straight from row-major A (rows lda apart) instead of a packed panel:
// with ConvMixer's K <= KC (one K block) every A element is used by N/NR panels anyway, and packing A row-major ->
// k-major was a scalar strided copy of the whole activation per call (~15% of a 4096x128x128 product).
void MicroKernelRows(long kc, const float* __restrict a, long lda, const float* __restrict bp, float* c, long ldc, int nr, bool accumulate) {
  VFloat acc[kMR][2];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = VFloat{};
  for (long k = 0; k < kc; ++k) {
    const VFloat b0 = *reinterpret_cast<const VFloat*>(bp + k * kNR);
    const VFloat b1 = *reinterpret_cast<const VFloat*>(bp + k * kNR + kVW);
    for (int i = 0; i < kMR; ++i) {
      const VFloat ai = VFloat{} + a[i * lda + k];
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  for (int i = 0; i < kMR; ++i) {
    float* row = c + i * ldc;
    if (nr == kNR) {
      StoreRow(row, acc[i], accumulate);
    } else {
      alignas(64) float tile[kNR];
      std::memcpy(tile, &acc[i][0], sizeof(VFloat));
      std::memcpy(tile + kVW, &acc[i][1], sizeof(VFloat));
      for (int j = 0; j < nr; ++j) row[j] = (accumulate ? row[j] : 0.f) + tile[j];
    }
  }
}

struct MatRef {
  const float* p;
  long ld;
  bool trans;  // element (i, k) of op(M) is p[k*ld + i] when trans, p[i*ld + k] otherwise
};

// Packs op(A)[i0:i0+mc, p0:p0+kc] into MR-row micro-panels, zero-padding the last one.
void PackA(const MatRef& a, long i0, long mc, long p0, long kc, float* dst) {
  for (long ir = 0; ir < mc; ir += kMR) {
    const int mr = static_cast<int>(std::min<long>(kMR, mc - ir));
    float* d = dst + ir * kc;
    if (a.trans) {
      for (long k = 0; k < kc; ++k) {
        const float* src = a.p + (p0 + k) * a.ld + i0 + ir;
        int i = 0;
        for (; i < mr; ++i) d[k * kMR + i] = src[i];
        for (; i < kMR; ++i) d[k * kMR + i] = 0.f;
      }
    } else {
      for (int i = 0; i < kMR; ++i) {
        if (i < mr) {
          const float* src = a.p + (i0 + ir + i) * a.ld + p0;
          for (long k = 0; k < kc; ++k) d[k * kMR + i] = src[k];
        } else {
          for (long k = 0; k < kc; ++k) d[k * kMR + i] = 0.f;
        }
      }
    }
  }
}

// Packs micro-panel `panel` (NR columns) of op(B)[p0:p0+kc, j0:j0+nc], zero-padding past nc.
void PackBPanel(const MatRef& b, long p0, long kc, long j0, long nc, long panel, float* dst) {
  const long jr = panel * kNR;
  const int nr = static_cast<int>(std::min<long>(kNR, nc - jr));
  float* d = dst + jr * kc;
  if (b.trans) {  // element (k, j) at p[j*ld + k]
    for (int j = 0; j < kNR; ++j) {
      if (j < nr) {
        const float* src = b.p + (j0 + jr + j) * b.ld + p0;
        for (long k = 0; k < kc; ++k) d[k * kNR + j] = src[k];
      } else {
        for (long k = 0; k < kc; ++k) d[k * kNR + j] = 0.f;
      }
    }
  } else {
    for (long k = 0; k < kc; ++k) {
      const float* src = b.p + (p0 + k) * b.ld + j0 + jr;
      std::memcpy(d + k * kNR, src, nr * sizeof(float));
      for (int j = nr; j < kNR; ++j) d[k * kNR + j] = 0.f;
    }
  }
}

// Straightforward loops for tiny products, where packing and waking threads would cost more than the math.
void SmallGemm(long m, long n, long k, const MatRef& a, const MatRef& b, float* c, long ldc, bool accumulate) {
  for (long i = 0; i < m; ++i) {
    float* crow = c + i * ldc;
    if (!accumulate) std::fill(crow, crow + n, 0.f);
    for (long p = 0; p < k; ++p) {
      const float av = a.trans ? a.p[p * a.ld + i] : a.p[i * a.ld + p];
      if (b.trans) {
        for (long j = 0; j < n; ++j) crow[j] += av * b.p[j * b.ld + p];
      } else {
        const float* brow = b.p + p * b.ld;
        for (long j = 0; j < n; ++j) crow[j] += av * brow[j];
      }
    }
  }
}

Scratch& PackedB() {
  static Scratch s;
  return s;
}

// Long-k products (the filter gradients of 1x1 convs: m, n = channels, k = batch x pixels) have few output tiles and
// many k blocks. The loop nest of Sgemm shares each packed block of B among threads, which costs two barriers per k
// block (128 for k = 32768) around little work each. Here each thread owns a fixed slice of the output panels instead,
// runs the whole k loop for it and packs what it needs: no barrier, A packed once per slice. Every C element still
// sums its k blocks in the same order with the same micro-kernel, so the result is bit-identical to Sgemm's.
bool LongK(long m, long n, long k, int threads) {
  const long panels = (n + kNR - 1) / kNR;
  return threads > 1 && n <= kNC && k >= 8 * kKC && panels >= threads && m <= 4 * kMC;
}

void SgemmLongK(long m, long n, long k, const MatRef& a, const MatRef& b, float* c, long ldc, bool accumulate, int threads) {
  const long panels = (n + kNR - 1) / kNR;
  ParallelFor(threads, 1, [&](long lo, long hi) {
    thread_local Scratch packedA, packedB;
    for (long t = lo; t < hi; ++t) {
      const long pLo = panels * t / threads, pHi = panels * (t + 1) / threads;
      if (pLo >= pHi) continue;
      float* ap = packedA.Get(static_cast<size_t>(kMC * kKC));
      float* bp = packedB.Get(static_cast<size_t>(panels * kNR * kKC));  // panels [pLo, pHi) at their usual offsets
      for (long pc = 0; pc < k; pc += kKC) {
        const long kc = std::min(kKC, k - pc);
        const bool acc = accumulate || pc > 0;
        for (long p = pLo; p < pHi; ++p) PackBPanel(b, pc, kc, 0, n, p, bp);
        for (long i0 = 0; i0 < m; i0 += kMC) {
          const long mc = std::min(kMC, m - i0);
          const long fullRows = a.trans ? 0 : (mc / kMR) * kMR;  // row-major A: full tiles read in place, as in Sgemm
          if (mc > fullRows) PackA(a, i0 + fullRows, mc - fullRows, pc, kc, ap + fullRows * kc);
          for (long p = pLo; p < pHi; ++p) {
            const long jr = p * kNR;
            const int nr = static_cast<int>(std::min<long>(kNR, n - jr));
            for (long ir = 0; ir < mc; ir += kMR) {
              const int mr = static_cast<int>(std::min<long>(kMR, mc - ir));
              float* ct = c + (i0 + ir) * ldc + jr;
              if (ir < fullRows)
                MicroKernelRows(kc, a.p + (i0 + ir) * a.ld + pc, a.ld, bp + jr * kc, ct, ldc, nr, acc);
              else
                MicroKernel(kc, ap + ir * kc, bp + jr * kc, ct, ldc, mr, nr, acc);
            }
          }
        }
      }
    }
  });
}

// C[m x n] (ldc) = (accumulate ? C : 0) + op(A)[m x k] * op(B)[k x n]. Called from the JS thread only (not from
// inside a ParallelFor: the pool runs one parallel region at a time).
void Sgemm(long m, long n, long k, const MatRef& a, const MatRef& b, float* c, long ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (long i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.f);
    return;
  }
  if (GemmPrecision() != 0) {  // bf16 operands for every product of the family, small ones included (autocast's rule)
    GemmBf16(m, n, k, a.p, a.ld, a.trans, b.p, b.ld, b.trans, c, ldc, accumulate);
    return;
  }
  if (static_cast<double>(m) * n * k <= 32.0 * 32 * 32) {
    SmallGemm(m, n, k, a, b, c, ldc, accumulate);
    return;
  }
  const int threads = Pool().size();
  if (LongK(m, n, k, threads)) {
    SgemmLongK(m, n, k, a, b, c, ldc, accumulate, threads);
    return;
  }
  for (long jc = 0; jc < n; jc += kNC) {
    const long nc = std::min(kNC, n - jc);
    const long panels = (nc + kNR - 1) / kNR;
    for (long pc = 0; pc < k; pc += kKC) {
      const long kc = std::min(kKC, k - pc);
      const bool acc = accumulate || pc > 0;
      float* bp = PackedB().Get(static_cast<size_t>(panels * kNR * kc));
      ParallelFor(panels, 4, [&](long lo, long hi) {
        for (long p = lo; p < hi; ++p) PackBPanel(b, pc, kc, jc, nc, p, bp);
      });
      // Work tiles: MC-row blocks of A, split along N too when there are too few blocks to keep every thread busy.
      const long mBlocks = (m + kMC - 1) / kMC;
      long nSplit = 1;
      if (mBlocks < 2L * threads) nSplit = std::min<long>(panels, (2L * threads + mBlocks - 1) / mBlocks);
      const long panelsPerSplit = (panels + nSplit - 1) / nSplit;
      const bool direct = !a.trans;
      ParallelFor(mBlocks * nSplit, 1, [&](long lo, long hi) {
        thread_local Scratch packedA;
        float* ap = packedA.Get(static_cast<size_t>(kMC * kc));
        long packedBlock = -1;
        for (long t = lo; t < hi; ++t) {
          const long mb = t / nSplit, ns = t % nSplit;
          const long i0 = mb * kMC, mc = std::min(kMC, m - i0);
          // Row-major A: full MR-row tiles read A in place; only a last partial tile is packed (zero-padded).
          const long fullRows = direct ? (mc / kMR) * kMR : 0;
          if (mb != packedBlock) {
            if (mc > fullRows) PackA(a, i0 + fullRows, mc - fullRows, pc, kc, ap + fullRows * kc);
            packedBlock = mb;
          }
          const long pLo = ns * panelsPerSplit, pHi = std::min(panels, pLo + panelsPerSplit);
          for (long p = pLo; p < pHi; ++p) {
            const long jr = p * kNR;
            const int nr = static_cast<int>(std::min<long>(kNR, nc - jr));
            for (long ir = 0; ir < mc; ir += kMR) {
              const int mr = static_cast<int>(std::min<long>(kMR, mc - ir));
              float* ct = c + (i0 + ir) * ldc + jc + jr;
              if (ir < fullRows)
                MicroKernelRows(kc, a.p + (i0 + ir) * a.ld + pc, a.ld, bp + jr * kc, ct, ldc, nr, acc);
              else
                MicroKernel(kc, ap + ir * kc, bp + jr * kc, ct, ldc, mr, nr, acc);
            }
          }
        }
      });
    }
  }
}

// y[rows x n] += bias (per column, or one scalar when biasLen == 1), then relu when act == 1.
void BiasActivation(float* y, long rows, long n, const float* bias, long biasLen, int act) {
  if (!bias && act == 0) return;
  ParallelFor(rows, std::max<long>(1, 16384 / std::max<long>(n, 1)), [&](long lo, long hi) {
    for (long r = lo; r < hi; ++r) {
      float* row = y + r * n;
      if (bias) {
        if (biasLen == 1)
          for (long j = 0; j < n; ++j) row[j] += bias[0];
        else
          for (long j = 0; j < n; ++j) row[j] += bias[j];
      }
      if (act == 1)
        for (long j = 0; j < n; ++j) row[j] = row[j] < 0.f ? 0.f : row[j];  // NaN stays NaN, as in tfjs
    }
  });
}

struct ConvShape {
  long batch, inH, inW, inC;
  long outH, outW, outC;
  long kH, kW, strideH, strideW, padTop, padLeft;
  long Cols() const { return kH * kW * inC; }           // im2col row length
  long Pixels() const { return outH * outW; }           // output pixels per image
  bool IsPointwise() const { return kH == 1 && kW == 1 && strideH == 1 && strideW == 1 && padTop == 0 && padLeft == 0 && outH == inH && outW == inW; }
};

// im2col rows for images [b0, b0+nb): row (b, oh, ow) = the kH x kW x inC window, zeros where it leaves the image.
// In NHWC a window row (fixed kh) is one contiguous run of kW*inC floats, so each is a memcpy plus edge zeros.
void Im2Col(const float* x, const ConvShape& s, long b0, long nb, float* cols) {
  const long K = s.Cols(), rows = nb * s.Pixels();
  ParallelFor(rows, 64, [&](long lo, long hi) {
    for (long r = lo; r < hi; ++r) {
      const long b = b0 + r / s.Pixels(), pix = r % s.Pixels();
      const long oh = pix / s.outW, ow = pix % s.outW;
      float* dst = cols + r * K;
      const long iw0 = ow * s.strideW - s.padLeft;
      const long kwLo = std::max<long>(0, -iw0), kwHi = std::min<long>(s.kW, s.inW - iw0);
      for (long kh = 0; kh < s.kH; ++kh) {
        float* d = dst + kh * s.kW * s.inC;
        const long ih = oh * s.strideH - s.padTop + kh;
        if (ih < 0 || ih >= s.inH || kwLo >= kwHi) {
          std::fill(d, d + s.kW * s.inC, 0.f);
          continue;
        }
        std::fill(d, d + kwLo * s.inC, 0.f);
        std::memcpy(d + kwLo * s.inC, x + ((b * s.inH + ih) * s.inW + iw0 + kwLo) * s.inC, (kwHi - kwLo) * s.inC * sizeof(float));
        std::fill(d + kwHi * s.inC, d + s.kW * s.inC, 0.f);
      }
    }
  });
}

// dx[images b0..b0+nb) = sum of the im2col-shaped gradient rows over every window that covers each input pixel.
// Gathered per input row (b, ih), so threads never write the same element.
void Col2Im(const float* cols, const ConvShape& s, long b0, long nb, float* dx) {
  const long K = s.Cols();
  ParallelFor(nb * s.inH, 4, [&](long lo, long hi) {
    for (long t = lo; t < hi; ++t) {
      const long bl = t / s.inH, ih = t % s.inH;
      float* dxRow = dx + ((b0 + bl) * s.inH + ih) * s.inW * s.inC;
      std::fill(dxRow, dxRow + s.inW * s.inC, 0.f);
      for (long kh = 0; kh < s.kH; ++kh) {
        const long num = ih + s.padTop - kh;
        if (num < 0 || num % s.strideH != 0) continue;
        const long oh = num / s.strideH;
        if (oh >= s.outH) continue;
        for (long ow = 0; ow < s.outW; ++ow) {
          const float* src = cols + ((bl * s.outH + oh) * s.outW + ow) * K + kh * s.kW * s.inC;
          const long iw0 = ow * s.strideW - s.padLeft;
          const long kwLo = std::max<long>(0, -iw0), kwHi = std::min<long>(s.kW, s.inW - iw0);
          if (kwLo >= kwHi) continue;
          float* d = dxRow + (iw0 + kwLo) * s.inC;
          const float* sp = src + kwLo * s.inC;
          const long len = (kwHi - kwLo) * s.inC;
          for (long e = 0; e < len; ++e) d[e] += sp[e];
        }
      }
    }
  });
}

// Images per im2col chunk: keep the scratch matrix under ~32 MiB (at least one image).
long ImagesPerChunk(const ConvShape& s) {
  const double perImage = static_cast<double>(s.Pixels()) * s.Cols();
  return std::max<long>(1, std::min<long>(s.batch, static_cast<long>((8.0 * 1024 * 1024) / std::max(perImage, 1.0))));
}

Scratch& ColsScratch() {
  static Scratch s;
  return s;
}

void ConvForward(const float* x, const float* w, float* y, const ConvShape& s, const float* bias, long biasLen, int act) {
  if (s.IsPointwise()) {
    Sgemm(s.batch * s.Pixels(), s.outC, s.inC, {x, s.inC, false}, {w, s.outC, false}, y, s.outC, false);
  } else {
    const long chunk = ImagesPerChunk(s), K = s.Cols();
    float* cols = ColsScratch().Get(static_cast<size_t>(chunk * s.Pixels() * K));
    for (long b0 = 0; b0 < s.batch; b0 += chunk) {
      const long nb = std::min(chunk, s.batch - b0);
      Im2Col(x, s, b0, nb, cols);
      Sgemm(nb * s.Pixels(), s.outC, K, {cols, K, false}, {w, s.outC, false}, y + b0 * s.Pixels() * s.outC, s.outC, false);
    }
  }
  BiasActivation(y, s.batch * s.Pixels(), s.outC, bias, biasLen, act);
}

// dx = dy * W^T (per pixel), scattered back through the windows.
void ConvBackpropInput(const float* dy, const float* w, float* dx, const ConvShape& s) {
  if (s.IsPointwise()) {
    Sgemm(s.batch * s.Pixels(), s.inC, s.outC, {dy, s.outC, false}, {w, s.outC, true}, dx, s.inC, false);
    return;
  }
  const long chunk = ImagesPerChunk(s), K = s.Cols();
  float* cols = ColsScratch().Get(static_cast<size_t>(chunk * s.Pixels() * K));
  for (long b0 = 0; b0 < s.batch; b0 += chunk) {
    const long nb = std::min(chunk, s.batch - b0);
    Sgemm(nb * s.Pixels(), K, s.outC, {dy + b0 * s.Pixels() * s.outC, s.outC, false}, {w, s.outC, true}, cols, K, false);
    Col2Im(cols, s, b0, nb, dx);
  }
}

// dW[K x outC] = cols^T * dy, summed over image chunks.
void ConvBackpropFilter(const float* x, const float* dy, float* dw, const ConvShape& s) {
  if (s.IsPointwise()) {
    Sgemm(s.inC, s.outC, s.batch * s.Pixels(), {x, s.inC, true}, {dy, s.outC, false}, dw, s.outC, false);
    return;
  }
  const long chunk = ImagesPerChunk(s), K = s.Cols();
  float* cols = ColsScratch().Get(static_cast<size_t>(chunk * s.Pixels() * K));
  for (long b0 = 0; b0 < s.batch; b0 += chunk) {
    const long nb = std::min(chunk, s.batch - b0);
    Im2Col(x, s, b0, nb, cols);
    Sgemm(K, s.outC, nb * s.Pixels(), {cols, K, true}, {dy + b0 * s.Pixels() * s.outC, s.outC, false}, dw, s.outC, b0 > 0);
  }
}

// ---- N-API glue: arguments are Float32Arrays and integers; every length is checked before use. ----

bool Fail(const Napi::CallbackInfo& info, const std::string& msg) {
  Napi::TypeError::New(info.Env(), msg).ThrowAsJavaScriptException();
  return false;
}

// The Float32Array at info[i] if it holds at least `need` floats (null/undefined allowed when optional).
bool F32Arg(const Napi::CallbackInfo& info, size_t i, size_t need, float** out, bool optional = false) {
  if (optional && (info[i].IsNull() || info[i].IsUndefined())) {
    *out = nullptr;
    return true;
  }
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    return Fail(info, "convmixer_native: argument " + std::to_string(i) + " must be a Float32Array");
  Napi::Float32Array arr = info[i].As<Napi::Float32Array>();
  if (arr.ElementLength() < need)
    return Fail(info, "convmixer_native: argument " + std::to_string(i) + " has " + std::to_string(arr.ElementLength()) + " floats, needs " + std::to_string(need));
  *out = arr.Data();
  return true;
}

bool IntArgs(const Napi::CallbackInfo& info, size_t from, size_t count, long* out) {
  for (size_t k = 0; k < count; ++k) {
    if (!info[from + k].IsNumber()) return Fail(info, "convmixer_native: argument " + std::to_string(from + k) + " must be a number");
    out[k] = static_cast<long>(info[from + k].As<Napi::Number>().Int64Value());
    if (out[k] < 0) return Fail(info, "convmixer_native: argument " + std::to_string(from + k) + " must be >= 0");
  }
  return true;
}

// gemm(transA, transB, m, n, k, a, b, c, accumulate): c[m x n] (+)= op(a) * op(b), all dense row-major.
Napi::Value GemmJs(const Napi::CallbackInfo& info) {
  long d[3];
  if (!IntArgs(info, 2, 3, d)) return info.Env().Undefined();
  const bool ta = info[0].ToBoolean(), tb = info[1].ToBoolean();
  const long m = d[0], n = d[1], k = d[2];
  float *a, *b, *c;
  if (!F32Arg(info, 5, m * k, &a) || !F32Arg(info, 6, k * n, &b) || !F32Arg(info, 7, m * n, &c)) return info.Env().Undefined();
  Sgemm(m, n, k, {a, ta ? m : k, ta}, {b, tb ? k : n, tb}, c, n, info[8].ToBoolean());
  return info.Env().Undefined();
}

// matmul(a, b, c, batchA, batchB, m, n, k, transA, transB, bias|null, biasLen, act): batched (a batch of 1
// broadcasts), then c += bias (length n, or 1 = scalar) and relu when act == 1.
Napi::Value MatMulJs(const Napi::CallbackInfo& info) {
  long d[5];
  if (!IntArgs(info, 3, 5, d)) return info.Env().Undefined();
  const long batchA = d[0], batchB = d[1], m = d[2], n = d[3], k = d[4];
  const bool ta = info[8].ToBoolean(), tb = info[9].ToBoolean();
  long extra[2];
  if (!IntArgs(info, 11, 2, extra)) return info.Env().Undefined();
  const long batch = std::max(batchA, batchB);
  if ((batchA != batch && batchA != 1) || (batchB != batch && batchB != 1)) {
    Fail(info, "convmixer_native.matmul: batch sizes must match or be 1");
    return info.Env().Undefined();
  }
  float *a, *b, *c, *bias;
  if (!F32Arg(info, 0, batchA * m * k, &a) || !F32Arg(info, 1, batchB * k * n, &b) || !F32Arg(info, 2, batch * m * n, &c) ||
      !F32Arg(info, 10, extra[0], &bias, true))
    return info.Env().Undefined();
  for (long i = 0; i < batch; ++i) {
    const float* ai = a + (batchA == 1 ? 0 : i * m * k);
    const float* bi = b + (batchB == 1 ? 0 : i * k * n);
    Sgemm(m, n, k, {ai, ta ? m : k, ta}, {bi, tb ? k : n, tb}, c + i * m * n, n, false);
  }
  BiasActivation(c, batch * m, n, bias, extra[0], static_cast<int>(extra[1]));
  return info.Env().Undefined();
}

// Conv shape from 13 ints starting at info[from]: batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, padTop, padLeft.
bool ShapeArg(const Napi::CallbackInfo& info, size_t from, ConvShape* s) {
  long v[13];
  if (!IntArgs(info, from, 13, v)) return false;
  *s = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]};
  if (s->strideH < 1 || s->strideW < 1) return Fail(info, "convmixer_native: strides must be >= 1");
  return true;
}

// conv2d(x, w, y, bias|null, biasLen, act, ...shape)
Napi::Value Conv2DJs(const Napi::CallbackInfo& info) {
  ConvShape s;
  long extra[2];
  if (!IntArgs(info, 4, 2, extra) || !ShapeArg(info, 6, &s)) return info.Env().Undefined();
  float *x, *w, *y, *bias;
  if (!F32Arg(info, 0, s.batch * s.inH * s.inW * s.inC, &x) || !F32Arg(info, 1, s.Cols() * s.outC, &w) ||
      !F32Arg(info, 2, s.batch * s.Pixels() * s.outC, &y) || !F32Arg(info, 3, extra[0], &bias, true))
    return info.Env().Undefined();
  ConvForward(x, w, y, s, bias, extra[0], static_cast<int>(extra[1]));
  return info.Env().Undefined();
}

// conv2dBackpropInput(dy, w, dx, ...shape)
Napi::Value Conv2DBackpropInputJs(const Napi::CallbackInfo& info) {
  ConvShape s;
  if (!ShapeArg(info, 3, &s)) return info.Env().Undefined();
  float *dy, *w, *dx;
  if (!F32Arg(info, 0, s.batch * s.Pixels() * s.outC, &dy) || !F32Arg(info, 1, s.Cols() * s.outC, &w) ||
      !F32Arg(info, 2, s.batch * s.inH * s.inW * s.inC, &dx))
    return info.Env().Undefined();
  ConvBackpropInput(dy, w, dx, s);
  return info.Env().Undefined();
}

// conv2dBackpropFilter(x, dy, dw, ...shape)
Napi::Value Conv2DBackpropFilterJs(const Napi::CallbackInfo& info) {
  ConvShape s;
  if (!ShapeArg(info, 3, &s)) return info.Env().Undefined();
  float *x, *dy, *dw;
  if (!F32Arg(info, 0, s.batch * s.inH * s.inW * s.inC, &x) || !F32Arg(info, 1, s.batch * s.Pixels() * s.outC, &dy) ||
      !F32Arg(info, 2, s.Cols() * s.outC, &dw))
    return info.Env().Undefined();
  ConvBackpropFilter(x, dy, dw, s);
  return info.Env().Undefined();
}

}  // namespace

void InitGemm(Napi::Env env, Napi::Object exports) {
  exports.Set("isa", Napi::String::New(env, kIsa));
  exports.Set("gemm", Napi::Function::New(env, Guarded<GemmJs>, "gemm"));
  exports.Set("matmul", Napi::Function::New(env, Guarded<MatMulJs>, "matmul"));
  exports.Set("conv2d", Napi::Function::New(env, Guarded<Conv2DJs>, "conv2d"));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, Guarded<Conv2DBackpropInputJs>, "conv2dBackpropInput"));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, Guarded<Conv2DBackpropFilterJs>, "conv2dBackpropFilter"));
}

}  // namespace cm
