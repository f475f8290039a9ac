// bf16 mixed-precision GEMM (gemm_bf16.cc), used by Sgemm while the engine's precision is bf16.
#pragma once
#include <napi.h>
#include <cstdint>
#include <cstring>

namespace cm {
// 0 fp32, 1 bf16 (AVX512-BF16 kernel where the CPU has it), 2 bf16 on the portable kernel.
int GemmPrecision();
// Whether this CPU runs the AVX512-BF16 micro-kernel.
bool GemmBf16Native();
// C[m x n] (ldc) = (accumulate ? C : 0) + bf16(op(A)) * bf16(op(B)) with fp32 accumulation; A is m x k (lda, ta),
// B is k x n (ldb, tb), both row-major before the optional transpose.
void GemmBf16(long m, long n, long k, const float* a, long lda, bool ta, const float* b, long ldb, bool tb, float* c, long ldc, bool accumulate);
void InitGemmBf16(Napi::Env env, Napi::Object exports);

// fp32 -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN instead of rounding up to infinity.
inline uint32_t Bf16Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
// f rounded to the nearest bf16, as a float (the value every bf16 kernel multiplies).
inline float RoundToBf16(float f) {
  const uint32_t u = Bf16Bits(f) << 16;
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
}
}  // namespace cm
