//===- runtime/core/GemmF64Avx512.cpp - f64 products with AVX-512 ---------===//
//
// f64 products keep the textbook loop's bits (Gemm.h, gemmF64): each
// element of C is summed over k in order from 0, a rounded multiply then a
// rounded add per term, and added to C at the end. Row by row, as
// gemmF64's portable path does, the product streamed all of B past every
// row of C: 5 GFLOP/s on 512³, a quarter of PyTorch's (an explorer's
// find). Here a tile of up to 4 rows × 32 columns of C stays in 16
// registers while k runs, the tile's 32 columns of B (K × 256 bytes) stay
// in L2 while the tiles below it run, and each term is the same multiply
// and add, eight lanes at a time. No FMA: it would round once where the
// loop rounds twice (this file is compiled with -ffp-contract=off).
//
//===----------------------------------------------------------------------===//
#include "core/Gemm.h"

#include <immintrin.h>

namespace grt {
namespace {

constexpr int kRows = 4, kVectors = 4, kCols = 8 * kVectors;

/// C[m0 .. m0 + R, j0 .. j0 + cols] (+)= Σ_k A(m, k)·B(k, j), for cols
/// ≤ 8·V; lanes past `cols` are masked off.
template <int R, int V>
void tile(bool ta, bool add, int64_t K, const double *A, int64_t lda, const double *B, int64_t ldb, double *C,
          int64_t ldc, int64_t m0, int64_t j0, int64_t cols) {
  // Every loop over r and v unrolled, so `acc` lives in registers: a loop
  // left rolled indexes it, and GCC then wrote all 16 accumulators to the
  // stack on every step of k.
  __mmask8 mask[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    int64_t lanes = cols - 8 * v;
    mask[v] = lanes >= 8 ? __mmask8(0xff) : __mmask8((1u << lanes) - 1);
  }
  __m512d acc[R][V];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_pd();
  for (int64_t k = 0; k < K; ++k) {
    const double *b = B + k * ldb + j0;
    __m512d bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) bv[v] = _mm512_maskz_loadu_pd(mask[v], b + 8 * v);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      __m512d a = _mm512_set1_pd(ta ? A[k * lda + m0 + r] : A[(m0 + r) * lda + k]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_add_pd(acc[r][v], _mm512_mul_pd(a, bv[v]));
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      double *c = C + (m0 + r) * ldc + j0 + 8 * v;
      __m512d out = add ? _mm512_add_pd(_mm512_maskz_loadu_pd(mask[v], c), acc[r][v]) : acc[r][v];
      _mm512_mask_storeu_pd(c, mask[v], out);
    }
}

using Tile = void (*)(bool, bool, int64_t, const double *, int64_t, const double *, int64_t, double *, int64_t, int64_t,
                      int64_t, int64_t);

template <int R> constexpr Tile kTiles[kVectors] = {tile<R, 1>, tile<R, 2>, tile<R, 3>, tile<R, 4>};
constexpr const Tile *kByRows[kRows] = {kTiles<1>, kTiles<2>, kTiles<3>, kTiles<4>};

} // namespace

void gemmF64RowsAvx512(bool ta, bool add, int64_t N, int64_t K, const double *A, int64_t lda, const double *B,
                       int64_t ldb, double *C, int64_t ldc, int64_t r0, int64_t r1) {
  for (int64_t j0 = 0; j0 < N; j0 += kCols) {
    int64_t cols = N - j0 < kCols ? N - j0 : kCols;
    int vectors = int((cols + 7) / 8);
    for (int64_t m0 = r0; m0 < r1; m0 += kRows) {
      int rows = int(r1 - m0 < kRows ? r1 - m0 : kRows);
      kByRows[rows - 1][vectors - 1](ta, add, K, A, lda, B, ldb, C, ldc, m0, j0, cols);
    }
  }
}

} // namespace grt
