//===- tests/unit/GemmTest.cpp - the fast GEMM against the textbook one ---===//
//
// Every kernel this CPU can run (AVX-512, AVX2, portable), every transpose
// combination, odd sizes on both sides of each block size, leading
// dimensions wider than the matrix, accumulate on and off, one and two
// threads. The result must equal the triple loop up to float rounding.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/Gemm.h"
#include "runtime/core/Runtime.h"
#include "runtime/core/ThreadPool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>

using namespace grt;

namespace {

std::vector<const GemmKernel *> kernels() {
  std::vector<const GemmKernel *> out{&gemmGeneric()};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) out.push_back(&gemmAvx2());
  if (__builtin_cpu_supports("avx512f")) out.push_back(&gemmAvx512());
  return out;
}

/// `ldaPad` widens A's rows; a padded width of 1024 puts A's rows 4 KiB
/// apart, the stride whose rows collide in L1 and make the GEMM pack A.
void check(const GemmKernel &k, ThreadPool *pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K, bool add,
           int64_t lda = 0) {
  Rng rng(M * 1000003 + N * 1009 + K);
  if (lda == 0) lda = (ta ? M : K) + 3;
  int64_t ldb = (tb ? K : N) + 5, ldc = N + 2;
  std::vector<float> A((ta ? K : M) * lda), B((tb ? N : K) * ldb), C(M * ldc), R;
  for (auto &x : A) x = float(rng.normal());
  for (auto &x : B) x = float(rng.normal());
  for (auto &x : C) x = float(rng.normal());
  R = C;
  gemmF32(pool, k, ta, tb, M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, add);
  naiveGemmF32(ta, tb, M, N, K, A.data(), lda, B.data(), ldb, R.data(), ldc, add);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      float got = C[i * ldc + j], want = R[i * ldc + j];
      // Padding columns beyond N must be untouched.
      float tol = j < N ? 1e-4f * (std::sqrt(float(K)) + 1) * (1 + std::fabs(want)) : 0.f;
      ASSERT_LE(std::fabs(got - want), tol) << k.name << (ta ? " A^T" : " A") << (tb ? " B^T" : " B") << " M=" << M
                                            << " N=" << N << " K=" << K << (add ? " add" : "") << " at " << i << "," << j;
    }
}

// f64 products (gradient checks, --dtype f64 models) go in register tiles
// of up to 4 rows × 32 columns with AVX-512, else row by row with B's rows
// contiguous, rows split across threads: the same sums in the same order
// as the triple loop, so the very same bits, padding untouched, and the
// epilogue on every row once. The sizes leave every tile shape (1 to 4
// rows, 1 to 4 vectors, the last masked).
TEST(GemmF64, SameBitsAsTheTripleLoop) {
  ThreadPool two(2);
  for (ThreadPool *pool : {static_cast<ThreadPool *>(nullptr), &two})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (bool add : {false, true})
          for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {7, 13, 5}, {130, 67, 171}, {3, 200, 0}, {5, 95, 3}, {9, 17, 2}}) {
            Rng rng(M * 31 + N * 7 + K);
            int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
            std::vector<double> A(size_t((ta ? K : M) * lda)), B(size_t((tb ? N : K) * ldb)), C(size_t(M * ldc));
            for (auto &x : A) x = rng.normal();
            for (auto &x : B) x = rng.normal();
            for (auto &x : C) x = rng.normal();
            std::vector<double> R = C;
            std::vector<std::atomic<int>> seen(static_cast<size_t>(M));
            auto mark = [](void *d, int64_t r0, int64_t r1) {
              for (int64_t r = r0; r < r1; ++r) ++(*static_cast<std::vector<std::atomic<int>> *>(d))[size_t(r)];
            };
            gemmF64(pool, ta, tb, M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, add, Epilogue{mark, &seen});
            naiveGemmF64(ta, tb, M, N, K, A.data(), lda, B.data(), ldb, R.data(), ldc, add);
            ASSERT_EQ(0, std::memcmp(C.data(), R.data(), C.size() * sizeof(double)))
                << (ta ? "A^T" : "A") << (tb ? " B^T" : " B") << " M=" << M << " N=" << N << " K=" << K << (add ? " add" : "");
            for (auto &n : seen) ASSERT_EQ(n.load(), 1);
          }
}

TEST(Gemm, MatchesTheTripleLoopOnOddSizes) {
  ThreadPool two(2);
  const int64_t sizes[] = {1, 3, 17, 65, 127};
  for (const GemmKernel *k : kernels())
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (int64_t M : sizes)
          for (int64_t N : sizes)
            for (int64_t K : {int64_t(1), int64_t(17), int64_t(127)}) {
              check(*k, nullptr, ta, tb, M, N, K, false);
              if (M * N * K > 100000) check(*k, &two, ta, tb, M, N, K, true);
            }
}

TEST(Gemm, CrossesEveryBlockBoundary) {
  // Sizes past MC, KC and NC of every kernel, threaded.
  ThreadPool two(2);
  for (const GemmKernel *k : kernels())
    for (bool ta : {false, true})
      for (bool tb : {false, true}) check(*k, &two, ta, tb, 301, 2100, 300, false);
}

TEST(Gemm, CrossesTheRowChunk) {
  // More rows than one pass packs A for (2048), and a sum deeper than KC.
  ThreadPool two(2);
  for (const GemmKernel *k : kernels())
    for (bool ta : {false, true}) {
      check(*k, nullptr, ta, false, 2100, 40, 400, false);
      check(*k, &two, ta, true, 2100, 40, 400, true);
    }
}

TEST(Gemm, WideProductsWithCollidingRowsOfA) {
  // N > 16·NR reads A in place unless its rows collide in L1 (lda 1024);
  // both paths, and packing forced, must agree with the triple loop.
  ThreadPool two(2);
  for (int64_t lda : {int64_t(300), int64_t(1024)}) {
    check(gemmForHost(), &two, false, false, 45, 700, 290, false, lda);
    setGemmAlwaysPackA(true);
    check(gemmForHost(), &two, false, false, 45, 700, 290, false, lda);
    setGemmAlwaysPackA(false);
  }
}

TEST(Gemm, PackedAndInPlaceAAgree) {
  // Narrow products read A in place, stored plain or transposed (a weight
  // gradient); setGemmAlwaysPackA forces packing.
  ThreadPool two(2);
  for (bool ta : {false, true})
    for (int64_t n : {int64_t(3), int64_t(33), int64_t(130)}) {
      check(gemmForHost(), &two, ta, false, 301, n, 257, false);
      check(gemmForHost(), nullptr, ta, true, 17, n, 65, true);
      setGemmAlwaysPackA(true);
      check(gemmForHost(), &two, ta, false, 301, n, 257, false);
      setGemmAlwaysPackA(false);
    }
}

TEST(Gemm, RowChunksPackBOncePerProduct) {
  // Split by rows into several chunks per thread, a thread packs each block
  // of B once per product and reuses it for its later chunks. A second
  // product with the same buffers but new values in B must not reuse it.
  // 301 rows are 22 slivers of 14 (8 chunks); a depth of 400 is two slices
  // of the sum, 700 columns two blocks of 512.
  ThreadPool two(2);
  for (const GemmKernel *k : kernels())
    for (bool tb : {false, true}) {
      int64_t M = 301, N = 700, K = 400, ldb = tb ? K : N;
      Rng rng(11);
      std::vector<float> A(M * K), B(K * N), C(M * N), R(M * N);
      for (auto &x : A) x = float(rng.normal());
      for (int pass = 0; pass < 2; ++pass) {
        for (auto &x : B) x = float(rng.normal());
        gemmF32(&two, *k, false, tb, M, N, K, A.data(), K, B.data(), ldb, C.data(), N, false);
        naiveGemmF32(false, tb, M, N, K, A.data(), K, B.data(), ldb, R.data(), N, false);
        for (int64_t i = 0; i < M * N; ++i)
          ASSERT_LE(std::fabs(C[i] - R[i]), 1e-4f * (std::sqrt(float(K)) + 1) * (1 + std::fabs(R[i])))
              << k->name << (tb ? " B^T" : " B") << " product " << pass << " at " << i / N << "," << i % N;
      }
    }
}

TEST(Gemm, ZeroDepthClearsOrKeeps) {
  float c[4] = {1, 2, 3, 4};
  gemmF32(nullptr, gemmForHost(), false, false, 2, 2, 0, nullptr, 1, nullptr, 2, c, 2, false);
  EXPECT_EQ(c[3], 0.f);
}

/// C = A·op(B), 200 × 250, on one thread and on two: the same bits.
void expectSameBitsOnOneAndTwoThreads(const GemmKernel &k, bool tb, int64_t K, uint64_t seed) {
  ThreadPool two(2);
  Rng rng(seed);
  std::vector<float> A(200 * K), B(K * 250), C1(200 * 250), C2(200 * 250);
  for (auto &x : A) x = float(rng.normal());
  for (auto &x : B) x = float(rng.normal());
  int64_t ldb = tb ? K : 250;
  gemmF32(nullptr, k, false, tb, 200, 250, K, A.data(), K, B.data(), ldb, C1.data(), 250, false);
  gemmF32(&two, k, false, tb, 200, 250, K, A.data(), K, B.data(), ldb, C2.data(), 250, false);
  EXPECT_EQ(0, std::memcmp(C1.data(), C2.data(), C1.size() * sizeof(float))) << k.name;
}

TEST(Gemm, ThreadCountDoesNotChangeTheBits) { expectSameBitsOnOneAndTwoThreads(gemmForHost(), false, 300, 5); }

TEST(Gemm, WeightGradientsSumInHalvesOnAnyThreadCount) {
  // Xᵀ·dY with K ≥ 4·M (and 2^21 multiply-adds) is summed in two halves of
  // K, the second through scratch (runtime/core/Gemm.cpp, sumInHalves):
  // it must match the triple loop, for odd K too, and give the same bits
  // on one thread and two, B plain or transposed.
  ThreadPool two(2);
  struct Shape {
    int64_t M, N, K;
  };
  for (const GemmKernel *k : kernels())
    for (bool tb : {false, true})
      for (Shape sh : {Shape{128, 512, 768}, Shape{37, 301, 301}, Shape{5, 2100, 1001}}) {
        check(*k, nullptr, true, tb, sh.M, sh.N, sh.K, false);
        check(*k, &two, true, tb, sh.M, sh.N, sh.K, false);
        Rng rng(sh.M + sh.N + sh.K);
        int64_t ldb = tb ? sh.K : sh.N;
        std::vector<float> A(sh.K * sh.M), B(sh.K * sh.N), C1(sh.M * sh.N), C2(sh.M * sh.N);
        for (auto &x : A) x = float(rng.normal());
        for (auto &x : B) x = float(rng.normal());
        gemmF32(nullptr, *k, true, tb, sh.M, sh.N, sh.K, A.data(), sh.M, B.data(), ldb, C1.data(), sh.N, false);
        gemmF32(&two, *k, true, tb, sh.M, sh.N, sh.K, A.data(), sh.M, B.data(), ldb, C2.data(), sh.N, false);
        EXPECT_EQ(0, std::memcmp(C1.data(), C2.data(), C1.size() * sizeof(float)))
            << k->name << " M=" << sh.M << " N=" << sh.N << " K=" << sh.K << (tb ? " B^T" : "");
      }
}

} // namespace

namespace {

/// An epilogue that checks its rows are final (equal to the reference) when
/// it is called, and counts how often it sees each row.
struct RowCheck {
  const std::vector<float> *C, *R;
  int64_t N, ldc;
  std::vector<std::atomic<int>> seen;
  std::atomic<int> early{0};
  RowCheck(const std::vector<float> &c, const std::vector<float> &r, int64_t M, int64_t N, int64_t ldc)
      : C(&c), R(&r), N(N), ldc(ldc), seen(M) {}
  static void call(void *self, int64_t r0, int64_t r1) {
    auto &rc = *static_cast<RowCheck *>(self);
    for (int64_t i = r0; i < r1; ++i) {
      rc.seen[i]++;
      for (int64_t j = 0; j < rc.N; ++j) {
        float got = (*rc.C)[i * rc.ldc + j], want = (*rc.R)[i * rc.ldc + j];
        if (std::fabs(got - want) > 1e-3f * (1 + std::fabs(want))) rc.early++;
      }
    }
  }
};

struct Shape {
  int64_t M, N, K;
};

/// Runs an M×N×K product with a RowCheck epilogue; expects every row seen
/// once, and only once it is final.
void expectEveryRowOnceAndFinal(ThreadPool *pool, const GemmKernel &k, Shape s, bool ta = false) {
  Rng rng(s.M * 7 + s.N * 11 + s.K);
  std::vector<float> A(s.M * s.K), B(s.K * s.N), C(s.M * s.N), R(s.M * s.N);
  for (auto &x : A) x = float(rng.normal());
  for (auto &x : B) x = float(rng.normal());
  int64_t lda = ta ? s.M : s.K;
  naiveGemmF32(ta, false, s.M, s.N, s.K, A.data(), lda, B.data(), s.N, R.data(), s.N, false);
  RowCheck rc(C, R, s.M, s.N, s.N);
  gemmF32(pool, k, ta, false, s.M, s.N, s.K, A.data(), lda, B.data(), s.N, C.data(), s.N, false,
          Epilogue{RowCheck::call, &rc});
  std::string where = std::string(k.name) + (pool ? " 2 threads" : " 1 thread") + (ta ? " A^T" : "") +
                      " M=" + std::to_string(s.M) + " N=" + std::to_string(s.N) + " K=" + std::to_string(s.K);
  EXPECT_EQ(rc.early.load(), 0) << where << ": the epilogue saw rows before they were final";
  for (int64_t i = 0; i < s.M; ++i) ASSERT_EQ(rc.seen[i].load(), 1) << where << ": row " << i;
}

TEST(Gemm, EpilogueSeesEveryRowOnceAndFinal) {
  // Shapes that take each route: one block of the sum (per-block calls),
  // a sum deeper than KC and columns wider than NC (one call at the end),
  // and a split by columns (a pass over rows afterwards).
  ThreadPool two(2);
  for (const GemmKernel *k : kernels())
    for (ThreadPool *pool : {(ThreadPool *)nullptr, &two})
      for (Shape s : {Shape{1, 1, 1}, Shape{17, 65, 3}, Shape{301, 127, 129}, Shape{65, 17, 300}, Shape{7, 2100, 17},
                      Shape{400, 130, 64}, Shape{20, 3000, 64}})
        expectEveryRowOnceAndFinal(pool, *k, s);
  // A weight gradient summed in halves of K: the epilogue runs as the
  // halves are added.
  for (const GemmKernel *k : kernels())
    for (ThreadPool *pool : {(ThreadPool *)nullptr, &two}) expectEveryRowOnceAndFinal(pool, *k, Shape{37, 301, 301}, true);
}

TEST(Gemm, EpilogueOnceWhileThePoolRunsLoopsAlone) {
  // A pool whose worker was held up a scheduler time slice runs the next
  // loops alone, in one call over the whole range. The column split then
  // hands one block() every column, and (CI on a loaded machine, once) the
  // epilogue ran on each row in it and again in the pass after. Get there
  // by holding the worker up 6 ms in its chunk; the caller's chunk waits
  // for the worker to start (else the caller takes both chunks itself).
  ThreadPool two(2);
  struct Stall {
    std::thread::id caller = std::this_thread::get_id();
    std::atomic<bool> started{false};
  } stall;
  auto body = [](void *data, int64_t, int64_t) {
    auto &s = *static_cast<Stall *>(data);
    if (std::this_thread::get_id() != s.caller) {
      s.started = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(6));
      return;
    }
    auto giveUp = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (!s.started && std::chrono::steady_clock::now() < giveUp) std::this_thread::yield();
  };
  for (const GemmKernel *k : kernels()) {
    int64_t spells = two.preemptedSpells();
    for (int tries = 0; tries < 20 && two.preemptedSpells() == spells; ++tries) {
      stall.started = false;
      two.run(2, body, &stall, 2);
    }
    if (two.preemptedSpells() == spells) GTEST_SKIP() << "the worker never ran a chunk the caller waited for";
    // Within the spell (20 ms at least): the product and its reference
    // take a few milliseconds.
    expectEveryRowOnceAndFinal(&two, *k, Shape{20, 3000, 64});
  }
}

} // namespace

namespace {

//===--- bf16 operands, f32 sums (train --precision bf16) ------------------===//

/// x rounded to bf16 (nearest even) and widened back: what packing feeds
/// VDPBF16PS.
float bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&x, &u, 4);
  return x;
}

/// The bf16 kernel against an f64 triple loop over the operands rounded to
/// bf16: each product of two bf16 values is exact in f32, so the only
/// difference is f32 summation, bounded by K·2⁻²³ of Σ|a·b|. It must also
/// differ from the unrounded product, or the operands were never rounded.
void checkBf16(ThreadPool *pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K, bool add, double *roundingSeen) {
  Rng rng(M * 7919 + N * 31 + K);
  int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
  std::vector<float> A((ta ? K : M) * lda), B((tb ? N : K) * ldb), C(M * ldc);
  for (auto &x : A) x = float(rng.normal());
  for (auto &x : B) x = float(rng.normal());
  for (auto &x : C) x = float(rng.normal());
  std::vector<float> C0 = C;
  gemmF32(pool, gemmAvx512Bf16(), ta, tb, M, N, K, A.data(), lda, B.data(), ldb, C.data(), ldc, add);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      float got = C[i * ldc + j];
      if (j >= N) {
        ASSERT_EQ(got, C0[i * ldc + j]) << "padding column " << j << " was written";
        continue;
      }
      double sum = add ? C0[i * ldc + j] : 0.0, mag = std::fabs(sum), exact = sum;
      for (int64_t k = 0; k < K; ++k) {
        float a = ta ? A[k * lda + i] : A[i * lda + k], b = tb ? B[j * ldb + k] : B[k * ldb + j];
        double p = double(bf16(a)) * double(bf16(b));
        sum += p;
        mag += std::fabs(p);
        exact += double(a) * double(b);
      }
      ASSERT_LE(std::fabs(got - sum), double(K + 2) * 0x1p-23 * mag + 1e-30)
          << "bf16" << (ta ? " A^T" : " A") << (tb ? " B^T" : " B") << " M=" << M << " N=" << N << " K=" << K
          << (add ? " add" : "") << " at " << i << "," << j;
      *roundingSeen = std::max(*roundingSeen, std::fabs(got - exact) / (mag + 1e-30));
    }
}

TEST(GemmBf16, MatchesTheRoundedTripleLoopOnOddSizes) {
  if (!gemmBf16Supported()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  ThreadPool two(2);
  double rounding = 0;
  const int64_t sizes[] = {1, 3, 17, 65, 127};
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int64_t M : sizes)
        for (int64_t N : sizes)
          for (int64_t K : {int64_t(1), int64_t(2), int64_t(17), int64_t(128)}) {
            checkBf16(nullptr, ta, tb, M, N, K, false, &rounding);
            if (M * N * K > 100000) checkBf16(&two, ta, tb, M, N, K, true, &rounding);
          }
  // Past MC, KC (an odd depth split in slices) and NC, threaded.
  for (bool ta : {false, true})
    for (bool tb : {false, true}) checkBf16(&two, ta, tb, 181, 600, 401, ta, &rounding);
  // bf16 keeps 8 bits of mantissa: the unrounded product is off by ~2⁻⁹.
  EXPECT_GT(rounding, 1e-4) << "the bf16 kernel agrees with f32 too well: were the operands rounded?";
}

TEST(GemmBf16, ThreadCountDoesNotChangeTheBits) {
  if (!gemmBf16Supported()) GTEST_SKIP() << "this CPU has no AVX-512 BF16";
  expectSameBitsOnOneAndTwoThreads(gemmAvx512Bf16(), true, 301, 6);
}

} // namespace
