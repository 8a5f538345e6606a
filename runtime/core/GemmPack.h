//===- runtime/core/GemmPack.h - packing GEMM operands into slivers -------===//
//
// Included by each instruction set's GEMM file, so the compiler vectorises
// the copies for that instruction set.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <cstring>

namespace grt {
// Each including file gets its own copy (unnamed namespace), compiled for
// its instruction set: a shared inline instantiation could be one built
// with -mavx2 running on a CPU without it.
namespace {

/// op(A)[i0 + i, k0 + k] for i < mc, k < kc into MR-row slivers: element
/// (s·MR + r, k) at p[s·MR·kc + k·MR + r]; rows past mc are zero.
template <int MR>
inline void packRows(bool trans, const float *a, int64_t lda, int64_t i0, int64_t k0, int64_t mc, int64_t kc, float *p) {
  for (int64_t s = 0; s < mc; s += MR, p += MR * kc) {
    int64_t rows = mc - s < MR ? mc - s : MR;
    if (trans) {
      // op(A)[i, k] = A[k, i]: rows of a sliver are adjacent in memory.
      for (int64_t k = 0; k < kc; ++k) {
        const float *src = a + (k0 + k) * lda + i0 + s;
        float *dst = p + k * MR;
        for (int r = 0; r < MR; ++r) dst[r] = r < rows ? src[r] : 0.f;
      }
    } else {
      // Read the sliver's rows side by side, writing the packed block in
      // order: MR streams in, one stream out.
      const float *src[MR];
      for (int r = 0; r < MR; ++r) src[r] = a + (i0 + s + (r < rows ? r : 0)) * lda + k0;
      for (int64_t k = 0; k < kc; ++k)
        for (int r = 0; r < MR; ++r) p[k * MR + r] = r < rows ? src[r][k] : 0.f;
    }
  }
}

/// op(B)[k0 + k, j0 + j] for k < kc, j < nc into NR-column slivers: element
/// (k, s·NR + c) at p[s·NR·kc + k·NR + c]; columns past nc are zero.
template <int NR>
inline void packCols(bool trans, const float *b, int64_t ldb, int64_t k0, int64_t j0, int64_t kc, int64_t nc, float *p) {
  for (int64_t s = 0; s < nc; s += NR, p += NR * kc) {
    int64_t cols = nc - s < NR ? nc - s : NR;
    if (!trans) {
      for (int64_t k = 0; k < kc; ++k) {
        const float *src = b + (k0 + k) * ldb + j0 + s;
        float *dst = p + k * NR;
        if (cols == NR) std::memcpy(dst, src, NR * sizeof(float));
        else
          for (int c = 0; c < NR; ++c) dst[c] = c < cols ? src[c] : 0.f;
      }
    } else {
      // op(B)[k, j] = B[j, k]: each column of the sliver is a row of B.
      for (int c = 0; c < NR; ++c) {
        if (c >= cols) {
          for (int64_t k = 0; k < kc; ++k) p[k * NR + c] = 0.f;
          continue;
        }
        const float *src = b + (j0 + s + c) * ldb + k0;
        for (int64_t k = 0; k < kc; ++k) p[k * NR + c] = src[k];
      }
    }
  }
}

} // namespace
} // namespace grt
