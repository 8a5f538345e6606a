//===- runtime/core/GemmAvx2.cpp - GEMM microkernel for AVX2 + FMA --------===//
//
// The fallback for CPUs without AVX-512: a 6 × 16 register tile, twelve ymm
// accumulators. Compiled with -mavx2 -mfma and used only when the CPU has them.
//
//===----------------------------------------------------------------------===//
#include "core/Gemm.h"
#include "core/GemmPack.h"

#include <immintrin.h>

namespace grt {
namespace {

constexpr int MR = 6, NR = 16;

template <int M>
void tile(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int64_t n, bool add) {
  __m256 acc0[M], acc1[M];
#pragma GCC unroll 6
  for (int i = 0; i < M; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    __m256 b0 = _mm256_load_ps(b + k * NR), b1 = _mm256_load_ps(b + k * NR + 8);
#pragma GCC unroll 6
    for (int i = 0; i < M; ++i) {
      __m256 ai = _mm256_broadcast_ss(a + k * MR + i);
      acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  // Masks for the first n columns: lane j of (iota < n). The store loop is
  // unrolled so the accumulators stay in registers (a loop over them by
  // index would keep them in memory, stored on every step of the sum).
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), iota);
  __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n) - 8), iota);
#pragma GCC unroll 6
  for (int i = 0; i < M; ++i) {
    float *row = c + i * ldc;
    if (add) {
      acc0[i] = _mm256_add_ps(acc0[i], _mm256_maskload_ps(row, m0));
      acc1[i] = _mm256_add_ps(acc1[i], _mm256_maskload_ps(row + 8, m1));
    }
    _mm256_maskstore_ps(row, m0, acc0[i]);
    _mm256_maskstore_ps(row + 8, m1, acc1[i]);
  }
}

template <int... Ms> struct Tiles {
  using Fn = void (*)(int64_t, const float *, const float *, float *, int64_t, int64_t, bool);
  static constexpr Fn table[] = {nullptr, &tile<Ms>...};
};

void micro(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int64_t m, int64_t n, bool add) {
  Tiles<1, 2, 3, 4, 5, 6>::table[m](kc, a, b, c, ldc, n, add);
}

} // namespace

const GemmKernel &gemmAvx2() {
  static const GemmKernel k{"avx2 6x16", MR, NR, 6 * 24, 256, 768, packRows<MR>, packCols<NR>, micro, nullptr};
  return k;
}

} // namespace grt
