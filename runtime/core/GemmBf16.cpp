//===- runtime/core/GemmBf16.cpp - GEMM in bf16, accumulated in f32 -------===//
//
// `train --precision bf16`: the same 14 × 32 register tile and blocking as
// the f32 AVX-512 kernel (GemmAvx512Tile.h, Gemm.cpp), fed by
// VDPBF16PS, which multiplies two pairs of bf16 per lane and adds both
// products to an f32 accumulator: twice the multiply-adds of an FMA per
// instruction, and half the bytes of packed operand per value.
//
// Operands stay f32 in memory (weights, activations, gradients: the master
// copies are never rounded). Packing rounds them to bf16 (nearest even, as
// VCVTNEPS2BF16 does) and interleaves pairs of steps of the sum, so each
// 32-bit word of a packed sliver holds op(A)[i, 2p] and op(A)[i, 2p + 1]
// (low half first), and each word of a B sliver op(B)[2p, j] and
// op(B)[2p + 1, j]. An odd depth pads the last pair with a zero.
//
// Packed layout, in 32-bit words, at the same sliver offsets as the f32
// kernel (Gemm.cpp addresses slivers as if they held kc floats per row; a
// bf16 sliver uses the first half of that room):
//   A sliver:  word p·MR + r  = rows r of the sliver, steps 2p, 2p + 1
//   B sliver:  word p·NR + c  = column c, steps 2p, 2p + 1
//
// Compiled with -mavx512bf16 (runtime/CMakeLists.txt) and run only where
// the CPU has it (gemmBf16Supported).
//
//===----------------------------------------------------------------------===//
#include "core/Gemm.h"
#include "core/GemmAvx512Tile.h"

#include <cstring>
#include <immintrin.h>

namespace grt {
namespace {

/// Rounds 16 floats of `lo` and 16 of `hi` to bf16 and interleaves them:
/// lane j of the result holds bf16(lo[j]) in its low half, bf16(hi[j]) in
/// its high half.
inline __m512i pairs(__m512 lo, __m512 hi) {
  __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo); // words 0–15: lo, 16–31: hi
  const __m512i interleave = _mm512_setr_epi32(0x00100000, 0x00110001, 0x00120002, 0x00130003, 0x00140004, 0x00150005,
                                               0x00160006, 0x00170007, 0x00180008, 0x00190009, 0x001a000a, 0x001b000b,
                                               0x001c000c, 0x001d000d, 0x001e000e, 0x001f000f);
  return _mm512_permutexvar_epi16(interleave, both);
}

/// One float rounded to bf16 bits, nearest even (NaN stays a quiet NaN):
/// the scalar path for operands whose strides do not fit a gather's
/// 32-bit offsets.
inline uint32_t bf16Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

template <int M> void tile(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int64_t n, bool add) {
  __m512 acc0[M], acc1[M];
  startTile<M>(acc0, acc1, c, ldc);
  const int32_t *aw = reinterpret_cast<const int32_t *>(a);
  for (int64_t p = 0, pairsDeep = (kc + 1) / 2; p < pairsDeep; ++p) {
    _mm_prefetch(reinterpret_cast<const char *>(aw + (p + 8) * MR), _MM_HINT_T0);
    __m512bh b0 = (__m512bh)_mm512_load_si512(b + p * NR), b1 = (__m512bh)_mm512_load_si512(b + p * NR + 16);
#pragma GCC unroll 14
    for (int i = 0; i < M; ++i) {
      __m512bh ai = (__m512bh)_mm512_set1_epi32(aw[p * MR + i]);
      acc0[i] = _mm512_dpbf16_ps(acc0[i], ai, b0);
      acc1[i] = _mm512_dpbf16_ps(acc1[i], ai, b1);
    }
  }
  finishTile<M>(acc0, acc1, c, ldc, n, add);
}

template <int... Ms> struct Tiles {
  using Fn = void (*)(int64_t, const float *, const float *, float *, int64_t, int64_t, bool);
  static constexpr Fn table[] = {nullptr, &tile<Ms>...};
};

void micro(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int64_t m, int64_t n, bool add) {
  Tiles<1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14>::table[m](kc, a, b, c, ldc, n, add);
}

/// op(A)[i0.., k0..] (mc × kc) into MR-row slivers of bf16 pairs.
void packA(bool t, const float *a, int64_t lda, int64_t i0, int64_t k0, int64_t mc, int64_t kc, float *packed) {
  const __mmask16 sliver = __mmask16((1u << MR) - 1);
  const int64_t deep = (kc + 1) / 2;
  bool gather = !t && lda <= (int64_t(1) << 26);
  const __m512i rowOffsets = strided(gather ? lda : 0);
  for (int64_t s = 0; s < mc; s += MR, packed += MR * kc) {
    int64_t rows = mc - s < MR ? mc - s : MR;
    __mmask16 mask = __mmask16((1u << rows) - 1);
    int32_t *p = reinterpret_cast<int32_t *>(packed);
    for (int64_t q = 0; q < deep; ++q) {
      int64_t k = k0 + 2 * q;
      bool second = 2 * q + 1 < kc;
      __m512 lo, hi = _mm512_setzero_ps();
      if (t) {
        // op(A) = Aᵀ: step k of the sliver is MR adjacent floats of row k.
        lo = _mm512_maskz_loadu_ps(mask, a + k * lda + i0 + s);
        if (second) hi = _mm512_maskz_loadu_ps(mask, a + (k + 1) * lda + i0 + s);
      } else if (gather) {
        // Row-major A: step k is MR values down a column, lda apart.
        const float *src = a + (i0 + s) * lda + k;
        lo = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, rowOffsets, src, 4);
        if (second) hi = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask, rowOffsets, src + 1, 4);
      } else {
        for (int64_t r = 0; r < MR; ++r) {
          const float *row = a + (i0 + s + r) * lda + k;
          p[q * MR + r] = r < rows ? int32_t(bf16Bits(row[0]) | (second ? bf16Bits(row[1]) << 16 : 0u)) : 0;
        }
        continue;
      }
      _mm512_mask_storeu_epi32(p + q * MR, sliver, pairs(lo, hi));
    }
  }
}

/// op(B)[k0.., j0..] (kc × nc) into NR-column slivers of bf16 pairs.
void packB(bool t, const float *b, int64_t ldb, int64_t k0, int64_t j0, int64_t kc, int64_t nc, float *packed) {
  const int64_t deep = (kc + 1) / 2;
  bool gather = t && ldb <= (int64_t(1) << 26);
  const __m512i colOffsets = strided(gather ? ldb : 0);
  for (int64_t s = 0; s < nc; s += NR, packed += NR * kc) {
    int64_t cols = nc - s < NR ? nc - s : NR;
    __mmask16 m0, m1;
    columnMasks(cols, m0, m1);
    int32_t *p = reinterpret_cast<int32_t *>(packed);
    for (int64_t q = 0; q < deep; ++q) {
      int64_t k = k0 + 2 * q;
      bool second = 2 * q + 1 < kc;
      __m512 lo0, lo1, hi0 = _mm512_setzero_ps(), hi1 = _mm512_setzero_ps();
      if (!t) {
        // Row-major B: step k is a row, its NR columns adjacent.
        const float *row = b + k * ldb + j0 + s;
        lo0 = _mm512_maskz_loadu_ps(m0, row);
        lo1 = _mm512_maskz_loadu_ps(m1, row + 16);
        if (second) {
          hi0 = _mm512_maskz_loadu_ps(m0, row + ldb);
          hi1 = _mm512_maskz_loadu_ps(m1, row + ldb + 16);
        }
      } else if (gather) {
        // op(B) = Bᵀ: step k is NR values down a column of B, ldb apart.
        const float *src = b + (j0 + s) * ldb + k;
        lo0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, colOffsets, src, 4);
        lo1 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, colOffsets, src + 16 * ldb, 4);
        if (second) {
          hi0 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, colOffsets, src + 1, 4);
          hi1 = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m1, colOffsets, src + 16 * ldb + 1, 4);
        }
      } else {
        for (int64_t c = 0; c < NR; ++c) {
          const float *col = b + (j0 + s + c) * ldb + k;
          p[q * NR + c] = c < cols ? int32_t(bf16Bits(col[0]) | (second ? bf16Bits(col[1]) << 16 : 0u)) : 0;
        }
        continue;
      }
      _mm512_storeu_si512(p + q * NR, pairs(lo0, hi0));
      _mm512_storeu_si512(p + q * NR + 16, pairs(lo1, hi1));
    }
  }
}

} // namespace

const GemmKernel &gemmAvx512Bf16() {
  // No in-place variants: A must be rounded and paired, so it is always
  // packed.
  static const GemmKernel k{"avx512-bf16 14x32", MR, NR, 14 * 12, 512, 512, packA, packB, micro, nullptr, nullptr};
  return k;
}

} // namespace grt
