//===- runtime/core/GemmAvx512.cpp - GEMM microkernel for AVX-512 ---------===//
//
// Compiled with -mavx512f (runtime/CMakeLists.txt) and used only when the
// CPU has it. The register tile is 14 rows × 32 columns: 28 accumulators in
// zmm registers, two more for the row of B, and A's values broadcast
// straight from memory into the FMAs.
//
//===----------------------------------------------------------------------===//
#include "core/Gemm.h"
#include "core/GemmAvx512Tile.h"
#include "core/GemmPack.h"

#include <immintrin.h>

namespace grt {
namespace {

/// The tile with A's sliver column k at a + k·as: as = MR when packed, or
/// lda when A is stored transposed (Aᵀ's rows hold the sliver's columns).
template <int M>
void tile(int64_t kc, const float *a, int64_t as, const float *b, float *c, int64_t ldc, int64_t n, bool add) {
  __m512 acc0[M], acc1[M];
  startTile<M>(acc0, acc1, c, ldc);
  for (int64_t k = 0; k < kc; ++k) {
    _mm_prefetch(reinterpret_cast<const char *>(a + (k + 8) * as), _MM_HINT_T0);
    __m512 b0 = _mm512_load_ps(b + k * NR), b1 = _mm512_load_ps(b + k * NR + 16);
#pragma GCC unroll 14
    for (int i = 0; i < M; ++i) {
      __m512 ai = _mm512_set1_ps(a[k * as + i]);
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  finishTile<M>(acc0, acc1, c, ldc, n, add);
}

/// The tile with A unpacked: row i of the sliver at a + i·lda. Rows are
/// addressed from three base pointers so the register file holds them.
template <int M>
void tileDirect(int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc, int64_t n, bool add) {
  __m512 acc0[M], acc1[M];
  startTile<M>(acc0, acc1, c, ldc);
  const float *rows[M];
#pragma GCC unroll 14
  for (int i = 0; i < M; ++i) rows[i] = a + i * lda;
  for (int64_t k = 0; k < kc; ++k) {
    __m512 b0 = _mm512_load_ps(b + k * NR), b1 = _mm512_load_ps(b + k * NR + 16);
#pragma GCC unroll 14
    for (int i = 0; i < M; ++i) {
      __m512 ai = _mm512_set1_ps(rows[i][k]);
      acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
      acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
    }
  }
  finishTile<M>(acc0, acc1, c, ldc, n, add);
}

template <int... Ms> struct DirectTiles {
  using Fn = void (*)(int64_t, const float *, int64_t, const float *, float *, int64_t, int64_t, bool);
  static constexpr Fn table[] = {nullptr, &tileDirect<Ms>...};
};

void microDirect(int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc, int64_t m, int64_t n,
                 bool add) {
  DirectTiles<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14>::table[m](kc, a, lda, b, c, ldc, n, add);
}

template <int... Ms> struct Tiles {
  using Fn = void (*)(int64_t, const float *, int64_t, const float *, float *, int64_t, int64_t, bool);
  static constexpr Fn table[] = {nullptr, &tile<Ms>...};
};
using AllTiles = Tiles<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14>;

void micro(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int64_t m, int64_t n, bool add) {
  AllTiles::table[m](kc, a, MR, b, c, ldc, n, add);
}
void microTransposedA(int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc, int64_t m, int64_t n,
                      bool add) {
  AllTiles::table[m](kc, a, lda, b, c, ldc, n, add);
}

void packA(bool t, const float *a, int64_t lda, int64_t i0, int64_t k0, int64_t mc, int64_t kc, float *p) {
  const __mmask16 sliver = __mmask16((1u << MR) - 1);
  if (t) {
    // op(A) = Aᵀ: a packed column is MR adjacent floats of a row of A.
    for (int64_t s = 0; s < mc; s += MR, p += MR * kc) {
      int64_t rows = mc - s < MR ? mc - s : MR;
      __mmask16 mask = __mmask16((1u << rows) - 1);
      for (int64_t k = 0; k < kc; ++k)
        _mm512_mask_storeu_ps(p + k * MR, sliver, _mm512_maskz_loadu_ps(mask, a + (k0 + k) * lda + i0 + s));
    }
    return;
  }
  if (lda > (int64_t(1) << 26)) {
    packRows<MR>(t, a, lda, i0, k0, mc, kc, p);
    return;
  }
  // Row-major A: each packed column of a sliver is MR values down a column
  // of A, lda apart. One masked gather fetches them, one masked store
  // writes them, instead of MR scalar copies.
  const __m512i rowOffsets = strided(lda);
  for (int64_t s = 0; s < mc; s += MR, p += MR * kc) {
    int64_t rows = mc - s < MR ? mc - s : MR;
    __mmask16 mask = __mmask16((1u << rows) - 1);
    const float *src = a + (i0 + s) * lda + k0;
    for (int64_t k = 0; k < kc; ++k) {
      __m512 col = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, rowOffsets, src + k, 4);
      _mm512_mask_storeu_ps(p + k * MR, sliver, col);
    }
  }
}
void packB(bool t, const float *b, int64_t ldb, int64_t k0, int64_t j0, int64_t kc, int64_t nc, float *p) {
  if (!t || ldb > (int64_t(1) << 26)) {
    packCols<NR>(t, b, ldb, k0, j0, kc, nc, p);
    return;
  }
  // op(B) = Bᵀ: a packed row is NR values down a column of B, ldb apart:
  // two masked gathers of 16.
  const __m512i colOffsets = strided(ldb);
  for (int64_t s = 0; s < nc; s += NR, p += NR * kc) {
    int64_t cols = nc - s < NR ? nc - s : NR;
    __mmask16 m0, m1;
    columnMasks(cols, m0, m1);
    const float *src = b + (j0 + s) * ldb + k0;
    for (int64_t k = 0; k < kc; ++k) {
      _mm512_storeu_ps(p + k * NR, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, colOffsets, src + k, 4));
      _mm512_storeu_ps(p + k * NR + 16,
                       _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, colOffsets, src + 16 * ldb + k, 4));
    }
  }
}

} // namespace

const GemmKernel &gemmAvx512() {
  static const GemmKernel k{"avx512 14x32", MR, NR, 14 * 12, 384, 512, packA, packB, micro, microDirect, microTransposedA};
  return k;
}

} // namespace grt
