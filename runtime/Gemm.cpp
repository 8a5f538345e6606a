//===- runtime/Gemm.cpp - matrix multiply ---------------------------------===//
//
// C[m,n] (+)= sum_k op(A)[m,k] · op(B)[k,n], row-major with leading
// dimensions. This is the straightforward version: loop orders chosen so the
// innermost loop runs over contiguous memory, which the compiler vectorises.
//
//===----------------------------------------------------------------------===//
#include "Runtime.h"

namespace {

template <typename T>
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T *A, int64_t lda, const T *B, int64_t ldb, T *C,
          int64_t ldc, bool accumulate) {
  auto a = [&](int64_t m, int64_t k) { return ta ? A[k * lda + m] : A[m * lda + k]; };
  if (!accumulate)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) C[m * ldc + n] = T(0);
  if (!tb) {
    // Rows of B are contiguous: C[m,:] += a(m,k) · B[k,:].
    for (int64_t m = 0; m < M; ++m)
      for (int64_t k = 0; k < K; ++k) {
        T x = a(m, k);
        const T *brow = B + k * ldb;
        T *crow = C + m * ldc;
        for (int64_t n = 0; n < N; ++n) crow[n] += x * brow[n];
      }
    return;
  }
  // B stored transposed: row n of Bᵀ holds column n of B, so each C[m,n] is a
  // dot product of contiguous vectors when A is not transposed.
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      const T *bcol = B + n * ldb;
      T sum = 0;
      for (int64_t k = 0; k < K; ++k) sum += a(m, k) * bcol[k];
      C[m * ldc + n] += sum;
    }
}

} // namespace

extern "C" {

void grt_gemm_f32(GrtContext *, int32_t ta, int32_t tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                  const float *b, int64_t ldb, float *c, int64_t ldc, int32_t accumulate) {
  gemm<float>(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

void grt_gemm_f64(GrtContext *, int32_t ta, int32_t tb, int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                  const double *b, int64_t ldb, double *c, int64_t ldc, int32_t accumulate) {
  gemm<double>(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

} // extern "C"
