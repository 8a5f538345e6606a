//===- runtime/core/Gemm.h - the matrix multiply, in pieces ---------------===//
//
// C[m,n] (+)= Σ_k op(A)[m,k]·op(B)[k,n], row-major, in the style of
// GotoBLAS/BLIS:
//
//   for each chunk of up to 2048 rows of A and C          (rc)
//     for each KC-deep slice of the sum                   (pc)
//       pack A[rc.., pc..] into MR-row slivers  -> L3 (or read A in place)
//       for each NC-wide column block of B and C          (jc)
//         pack B[pc.., jc..] into NR-wide slivers          -> stays in L2
//         for each MR-row sliver of A                     (ir) -> stays in L1
//           for each NR-wide sliver of B: the microkernel (jr) adds an
//             MR×NR tile of C, holding it in registers across the KC loop
//
// Packing makes every microkernel read contiguous memory, whatever the
// transposes, and the MR×NR register tile reuses each loaded value MR or NR
// times. The microkernel and packing exist per instruction set (GemmAvx512,
// GemmAvx2, GemmGeneric); the blocking and threading here are shared.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>

namespace grt {

/// One instruction set's pieces.
struct GemmKernel {
  const char *name;
  int mr, nr;            // register tile
  int64_t mc, kc, nc;    // cache blocks
  /// Packs op(A)[i0.., k0..] (mc × kc) into MR-row slivers: sliver s holds
  /// a[(s·MR + r), k] at packed[s·MR·kc + k·MR + r], zero-padded to MR rows.
  void (*packA)(bool trans, const float *a, int64_t lda, int64_t i0, int64_t k0, int64_t mc, int64_t kc, float *packed);
  /// Packs op(B)[k0.., j0..] (kc × nc) into NR-column slivers, zero-padded.
  void (*packB)(bool trans, const float *b, int64_t ldb, int64_t k0, int64_t j0, int64_t kc, int64_t nc, float *packed);
  /// C[0..m, 0..n] (+)= sliverA · sliverB over kc, for m ≤ MR, n ≤ NR.
  void (*micro)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int64_t m, int64_t n, bool add);
  /// The same with A read in place, row-major with leading dimension lda,
  /// or null. With few columns to reuse a packed sliver over, packing A
  /// costs a quarter of the work; reading it directly costs nothing extra.
  void (*microDirect)(int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc, int64_t m, int64_t n,
                      bool add);
  /// The same for A stored transposed, read in place: element (i, k) of
  /// the sliver at a[k·lda + i], so each step of the sum reads MR adjacent
  /// floats. Null where absent (A is then packed).
  void (*microTransposedA)(int64_t kc, const float *a, int64_t lda, const float *b, float *c, int64_t ldc, int64_t m,
                           int64_t n, bool add) = nullptr;
};

class ThreadPool;

/// Work to run on rows of C once they are final (a fused bias, activation
/// or residual add): fn(data, r0, r1). Empty when fn is null.
struct Epilogue {
  void (*fn)(void *data, int64_t r0, int64_t r1) = nullptr;
  void *data = nullptr;
  explicit operator bool() const { return fn != nullptr; }
  void operator()(int64_t r0, int64_t r1) const { fn(data, r0, r1); }
};

/// C (+)= op(A)·op(B) with `kern`, split across `pool`'s threads when big
/// enough (pool may be null); then `epilogue` on every row of C, each row
/// once, on the thread that computed it where one did.
void gemmF32(ThreadPool *pool, const GemmKernel &kern, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
             int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc, bool add, const Epilogue &epilogue = {});
/// The textbook triple loop, as the reference the fast one is tested against.
void naiveGemmF32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc, bool add);
void naiveGemmF64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double *A, int64_t lda, const double *B,
                  int64_t ldb, double *C, int64_t ldc, bool add, const Epilogue &epilogue = {});
/// f64 products: the same sums as naiveGemmF64, bit for bit, a row at a
/// time with B's rows read contiguously, rows split across `pool`.
void gemmF64(ThreadPool *pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double *A, int64_t lda,
             const double *B, int64_t ldb, double *C, int64_t ldc, bool add, const Epilogue &epilogue = {});

/// Rows [r0, r1) of an f64 product whose B is K rows of N (ldb apart),
/// with gemmF64's bits, in register tiles (GemmF64Avx512.cpp); for CPUs
/// with AVX-512 only.
void gemmF64RowsAvx512(bool ta, bool add, int64_t N, int64_t K, const double *A, int64_t lda, const double *B,
                       int64_t ldb, double *C, int64_t ldc, int64_t r0, int64_t r1);

const GemmKernel &gemmAvx512();
const GemmKernel &gemmAvx2();
const GemmKernel &gemmGeneric();
/// bf16 operands, f32 accumulation (GemmBf16.cpp); only where
/// gemmBf16Supported().
const GemmKernel &gemmAvx512Bf16();
/// The best kernel this CPU runs (chosen once, with cpuid).
const GemmKernel &gemmForHost();
/// Whether this CPU has AVX-512 with BF16 (VDPBF16PS).
bool gemmBf16Supported();

/// What the f32 matrix products of a model compute in (`--precision`):
/// f32 throughout, or operands rounded to bf16 with f32 sums. Set once by
/// the driver before the first product; the default is f32.
enum class MatmulPrecision { F32, BF16 };
void setMatmulPrecision(MatmulPrecision p);
/// The kernel grt_gemm_f32 runs: gemmForHost(), or gemmAvx512Bf16() under
/// MatmulPrecision::BF16.
const GemmKernel &gemmForModel();
/// What grt_gemm_f32 runs here, for `info`: the kernel's name, or the
/// textbook loop under GRADC_GEMM=naive.
std::string gemmDescription();
/// Whether GRADC_GEMM=naive asks for the textbook loop.
bool gemmNaive();
/// Pack A even where gemmF32 would read it in place (tests of both paths).
/// Starts as GRADC_GEMM_PACK_A is set or not, read once.
void setGemmAlwaysPackA(bool on);

} // namespace grt
