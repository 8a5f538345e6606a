//===- runtime/core/GemmAvx512Tile.h - the 14x32 register tile, shared ---===//
//
// Included by the AVX-512 GEMM files (f32 and bf16): both keep a 14 × 32
// tile of C in 28 zmm accumulators and differ only in how the sum is fed.
// Unnamed namespace, like GemmPack.h: each file compiles its own copy for
// its instruction set.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <immintrin.h>

namespace grt {
namespace {

constexpr int MR = 14, NR = 32;

/// The lanes holding the first n of NR columns: m0 for columns 0–15, m1
/// for 16–31.
inline void columnMasks(int64_t n, __mmask16 &m0, __mmask16 &m1) {
  m0 = n >= 16 ? 0xffff : __mmask16((1u << n) - 1);
  m1 = n >= 32 ? 0xffff : n <= 16 ? 0 : __mmask16((1u << (n - 16)) - 1);
}

/// Element offsets 0, ld, 2·ld, ... 15·ld: a gather down a column.
inline __m512i strided(int64_t ld) {
  return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                            _mm512_set1_epi32(int32_t(ld)));
}

/// Zeroes the accumulators and starts fetching the tile of C, which is read
/// back at the end.
template <int M> [[gnu::always_inline]] inline void startTile(__m512 *acc0, __m512 *acc1, const float *c, int64_t ldc) {
#pragma GCC unroll 14
  for (int i = 0; i < M; ++i) {
    acc0[i] = acc1[i] = _mm512_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char *>(c + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char *>(c + i * ldc + 16), _MM_HINT_T0);
  }
}

/// Writes (or adds) the accumulators into the first n columns of C.
template <int M>
[[gnu::always_inline]] inline void finishTile(__m512 *acc0, __m512 *acc1, float *c, int64_t ldc, int64_t n, bool add) {
  __mmask16 m0, m1;
  columnMasks(n, m0, m1);
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

} // namespace
} // namespace grt
