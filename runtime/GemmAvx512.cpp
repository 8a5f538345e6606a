//===- runtime/GemmAvx512.cpp - GEMM microkernel for AVX-512 --------------===//
//
// Compiled with -mavx512f (runtime/CMakeLists.txt) and used only when the
// CPU has it. The register tile is 14 rows × 32 columns: 28 accumulators in
// zmm registers, two more for the row of B, and A's values broadcast
// straight from memory into the FMAs.
//
//===----------------------------------------------------------------------===//
#include "Gemm.h"
#include "GemmPack.h"

#include <immintrin.h>

namespace grt {
namespace {

constexpr int MR = 14, NR = 32;

template <int M>
void tile(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int64_t n, bool add) {
  __m512 acc0[M], acc1[M];
#pragma GCC unroll 14
  for (int i = 0; i < M; ++i) {
    acc0[i] = acc1[i] = _mm512_setzero_ps();
    // The tile of C is read back at the end; start fetching it now.
    _mm_prefetch(reinterpret_cast<const char *>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char *>(c + i * ldc + 16), _MM_HINT_T0);
  }
  for (int64_t k = 0; k < kc; ++k) {
    _mm_prefetch(reinterpret_cast<const char *>(a + (k + 8) * MR), _MM_HINT_T0);
    __m512 b0 = _mm512_load_ps(b + k * NR), b1 = _mm512_load_ps(b + k * NR + 16);
#pragma GCC unroll 14
    for (int i = 0; i < M; ++i) {
      __m512 ai = _mm512_set1_ps(a[k * MR + i]);
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  __mmask16 m0 = n >= 16 ? 0xffff : __mmask16((1u << n) - 1);
  __mmask16 m1 = n >= 32 ? 0xffff : n <= 16 ? 0 : __mmask16((1u << (n - 16)) - 1);
#pragma GCC unroll 14
  for (int i = 0; i < M; ++i) {
    float *row = c + i * ldc;
    if (add) {
      acc0[i] = _mm512_add_ps(acc0[i], _mm512_maskz_loadu_ps(m0, row));
      acc1[i] = _mm512_add_ps(acc1[i], _mm512_maskz_loadu_ps(m1, row + 16));
    }
    _mm512_mask_storeu_ps(row, m0, acc0[i]);
    _mm512_mask_storeu_ps(row + 16, m1, acc1[i]);
  }
}

template <int... Ms> struct Tiles {
  using Fn = void (*)(int64_t, const float *, const float *, float *, int64_t, int64_t, bool);
  static constexpr Fn table[] = {nullptr, &tile<Ms>...};
};

void micro(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int64_t m, int64_t n, bool add) {
  Tiles<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14>::table[m](kc, a, b, c, ldc, n, add);
}

void packA(bool t, const float *a, int64_t lda, int64_t i0, int64_t k0, int64_t mc, int64_t kc, float *p) {
  packRows<MR>(t, a, lda, i0, k0, mc, kc, p);
}
void packB(bool t, const float *b, int64_t ldb, int64_t k0, int64_t j0, int64_t kc, int64_t nc, float *p) {
  packCols<NR>(t, b, ldb, k0, j0, kc, nc, p);
}

} // namespace

const GemmKernel &gemmAvx512() {
  static const GemmKernel k{"avx512 14x32", MR, NR, 14 * 12, 256, 2048, packA, packB, micro};
  return k;
}

} // namespace grt
