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
// GCC 12's unpack and shuffle intrinsics start from _mm512_undefined_ps(),
// which -Wmaybe-uninitialized reports (a false positive, GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
/// Transposes the 16×16 block r[0..16) (row i in r[i]) in registers: r[i]
/// then holds column i. Four rounds of shuffles, 64 in all: pairs of
/// floats, then of pairs, then 128-bit lanes twice.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int h = 0; h < 16; h += 8)
    for (int j = 0; j < 4; ++j) {
      t[h + j] = _mm512_shuffle_f32x4(r[h + j], r[h + j + 4], 0x88);
      t[h + j + 4] = _mm512_shuffle_f32x4(r[h + j], r[h + j + 4], 0xdd);
    }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
    r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xdd);
  }
}
#pragma GCC diagnostic pop

void packB(bool t, const float *b, int64_t ldb, int64_t k0, int64_t j0, int64_t kc, int64_t nc, float *p) {
  if (!t) {
    packCols<NR>(t, b, ldb, k0, j0, kc, nc, p);
    return;
  }
  // op(B) = Bᵀ: a packed row is NR values down a column of B, ldb apart.
  // Each 16×16 block (16 columns of the sliver by 16 steps of the sum) is
  // 16 contiguous row loads of B, masked at the edges, one transpose in
  // registers and 16 stores; columns past the edge load as zeros, the
  // sliver's padding. Gathering each packed row instead (two masked
  // gathers of 16) made packing 28% of a 64×64×32 product (attention's
  // q·kᵀ), and the product 114 GFLOP/s against 157 untransposed.
  for (int64_t s = 0; s < nc; s += NR, p += NR * kc) {
    int64_t cols = nc - s < NR ? nc - s : NR;
    for (int64_t c0 = 0; c0 < NR; c0 += 16) {
      int64_t n = cols - c0 < 0 ? 0 : cols - c0 < 16 ? cols - c0 : 16;
      const float *src = b + (j0 + s + c0) * ldb + k0;
      for (int64_t k = 0; k < kc; k += 16) {
        int64_t steps = kc - k < 16 ? kc - k : 16;
        __mmask16 mask = __mmask16((1u << steps) - 1);
        __m512 r[16];
        for (int c = 0; c < 16; ++c) r[c] = c < n ? _mm512_maskz_loadu_ps(mask, src + c * ldb + k) : _mm512_setzero_ps();
        transpose16(r);
        for (int64_t i = 0; i < steps; ++i) _mm512_storeu_ps(p + (k + i) * NR + c0, r[i]);
      }
    }
  }
}

} // namespace

const GemmKernel &gemmAvx512() {
  static const GemmKernel k{"avx512 14x32", MR, NR, 14 * 12, 384, 512, packA, packB, micro, microDirect, microTransposedA};
  return k;
}

} // namespace grt
