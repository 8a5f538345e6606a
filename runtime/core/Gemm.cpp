//===- runtime/core/Gemm.cpp - matrix multiply: blocking, threads, dispatch ===//
#include "core/Gemm.h"

#include "core/GemmPack.h"
#include "core/Profile.h"
#include "core/Runtime.h"
#include "core/ThreadPool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace grt {

//===--- the portable kernel ----------------------------------------------===//

namespace {

constexpr int GMR = 4, GNR = 8;

void genericMicro(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int64_t m, int64_t n, bool add) {
  float acc[GMR][GNR] = {};
  for (int64_t k = 0; k < kc; ++k)
    for (int i = 0; i < GMR; ++i)
      for (int j = 0; j < GNR; ++j) acc[i][j] += a[k * GMR + i] * b[k * GNR + j];
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = add ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

} // namespace

const GemmKernel &gemmGeneric() {
  static const GemmKernel k{"generic 4x8", GMR, GNR, 64, 256, 512, packRows<GMR>, packCols<GNR>, genericMicro, nullptr};
  return k;
}

/// GRADC_GEMM, checked: a misspelt value was ignored, and --precision
/// bf16 then said this CPU had no AVX-512 BF16. Null when unset.
static const char *gemmChoice() {
  static const char *choice = [] {
    const char *g = std::getenv("GRADC_GEMM");
    if (g && std::strcmp(g, "naive") && std::strcmp(g, "generic") && std::strcmp(g, "avx2") && std::strcmp(g, "avx512"))
      fail("GRADC_GEMM={}: it takes naive, generic, avx2 or avx512 (the matrix-product kernel, for tests and "
           "benchmarks; avx2 and generic stand for a CPU without AVX-512); unset it for the best one on this CPU",
           shown(g));
    return g;
  }();
  return choice;
}

const GemmKernel &gemmForHost() {
  static const GemmKernel *chosen = [] {
    // GRADC_GEMM=avx512|avx2|generic picks one (for tests and benchmarks);
    // naive is handled in grt_gemm_f32.
    if (const char *force = gemmChoice()) {
      std::string f = force;
      if (f == "generic") return &gemmGeneric();
      if (f == "avx2" && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &gemmAvx2();
      if (f == "avx512" && __builtin_cpu_supports("avx512f")) return &gemmAvx512();
    }
    if (__builtin_cpu_supports("avx512f")) return &gemmAvx512();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &gemmAvx2();
    return &gemmGeneric();
  }();
  return *chosen;
}

bool gemmBf16Supported() {
  // GRADC_GEMM naming another kernel stands for a CPU without AVX-512
  // (tests of the error a model executable gives there).
  static const bool has = [] {
    const char *force = gemmChoice();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16") &&
           (force == nullptr || std::string(force) == "avx512");
  }();
  return has;
}

namespace {
MatmulPrecision precision = MatmulPrecision::F32;
} // namespace

void setMatmulPrecision(MatmulPrecision p) { precision = p; }

const GemmKernel &gemmForModel() {
  return precision == MatmulPrecision::BF16 ? gemmAvx512Bf16() : gemmForHost();
}

bool gemmNaive() {
  static const bool naive = [] {
    const char *g = gemmChoice();
    return g && std::string(g) == "naive";
  }();
  return naive;
}

std::string gemmDescription() {
  if (gemmNaive()) return "the textbook triple loop (GRADC_GEMM=naive)";
  std::string d = std::string(gemmForModel().name) + ", packed and cache-blocked";
  if (const char *g = gemmChoice()) d += std::string(" (GRADC_GEMM=") + g + ")";
  return d;
}

//===--- blocking -----------------------------------------------------------===//

namespace {

/// A growable, 64-byte aligned scratch buffer, one per thread.
struct Scratch {
  float *data = nullptr;
  size_t size = 0;
  float *get(size_t n) {
    if (n > size) {
      // Forgotten before the allocation, which may fail and exit: the
      // thread's destructor then frees nothing twice (a double free after
      // "out of memory", under ulimit -v).
      freeBuffer(data, size * sizeof(float));
      data = nullptr, size = 0;
      data = static_cast<float *>(allocateBuffer(n * sizeof(float)));
      size = n;
    }
    return data;
  }
  ~Scratch() { freeBuffer(data, size * sizeof(float)); }
};

struct GemmCall {
  const GemmKernel *kern;
  bool ta, tb;
  int64_t M, N, K;
  const float *A;
  int64_t lda;
  const float *B;
  int64_t ldb;
  float *C;
  int64_t ldc;
  bool add;
  bool splitRows; // threads take row slivers (else column slivers)
  bool direct;    // A is read in place, not packed
  Epilogue epilogue;
  /// Non-zero when a thread may run several row chunks of this product: it
  /// then packs each block of B once for all of them (see PackedB), keyed
  /// by this number, which no other product shares.
  uint64_t shareB = 0;
};

/// A thread's packed copy of all of B for one product, block by block as
/// it first needs each: block (pc, jc), kc × nc, at pc·Npad + jc·kc floats
/// (Npad: N rounded up to whole NR slivers). Row chunks after the first
/// then pack nothing, so a product can be cut into several chunks per
/// thread, and a thread that finishes its share early takes a chunk of a
/// slower one's (the other vCPU of a 2-vCPU AMD EPYC ran the GPT 2% slower,
/// and a split of one chunk per thread left the caller waiting for it).
struct PackedB {
  Scratch buffer;
  std::vector<uint64_t> packedFor; // per block: the product it holds, or 0
  uint64_t product = 0;
  float *get(const GemmCall &g, int64_t pc, int64_t kcEven, int64_t jc, int64_t kc, int64_t nc) {
    const GemmKernel &K = *g.kern;
    int64_t npad = (g.N + K.nr - 1) / K.nr * K.nr, colBlocks = (g.N + K.nc - 1) / K.nc;
    if (product != g.shareB) {
      product = g.shareB;
      buffer.get(size_t(g.K * npad));
      packedFor.assign(size_t((g.K + kcEven - 1) / kcEven * colBlocks), 0);
    }
    float *bp = buffer.data + pc * npad + jc * kc;
    uint64_t &b = packedFor[size_t(pc / kcEven * colBlocks + jc / K.nc)];
    if (b != g.shareB) {
      K.packB(g.tb, g.B, g.ldb, pc, jc, kc, nc, bp);
      b = g.shareB;
    }
    return bp;
  }
};

/// Rows of C, and of A, that one pass of block() covers: bounds the packed
/// A buffer (kRowChunk × KC floats, 3 MiB at KC = 384).
constexpr int64_t kRowChunk = 2048;

/// Computes rows [r0, r1) × columns [c0, c1) of C. With all columns, it
/// also runs the epilogue on the rows it finishes: after each MC-row block
/// when one pass over the columns and the sum completes them (the block is
/// then still in cache), else once at the end.
///
/// Which operand stays where: the packed KC×NC block of B is sized for L2;
/// one MR-row sliver of A (MR×KC) stays in L1 while the microkernel streams
/// every NR-column sliver of B past it (ir outside jr). The other order, B's
/// sliver in L1, needs KC×NR = 32 KB of it at KC = 256, most of a 32–48 KB
/// L1, and measured slower on 2048² (bench/gemm_bench --shape 2048x2048x2048).
/// A is packed once per KC slice for all the rows (pc outside jc), so each
/// element of A and of B is packed once.
void block(const GemmCall &g, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
  const GemmKernel &K = *g.kern;
  thread_local Scratch pa, pb;
  thread_local PackedB shared;
  bool epilogue = g.epilogue && c0 == 0 && c1 == g.N;
  bool perBlock = epilogue && g.N <= K.nc && g.K <= K.kc;
  if (g.K == 0) {
    if (!g.add)
      for (int64_t i = r0; i < r1; ++i) std::memset(g.C + i * g.ldc + c0, 0, (c1 - c0) * sizeof(float));
    if (epilogue && r0 < r1) g.epilogue(r0, r1);
    return;
  }
  // Equal slices of the sum, each at most KC deep: 2048 = 6 × 342, not
  // 5 × 384 + 128, whose short last pass over C costs as much as a long one.
  int64_t slices = (g.K + K.kc - 1) / K.kc, kcEven = (g.K + slices - 1) / slices;
  for (int64_t rc = r0; rc < r1; rc += kRowChunk) {
    int64_t rows = std::min(kRowChunk, r1 - rc);
    for (int64_t pc = 0; pc < g.K; pc += kcEven) {
      int64_t kc = std::min(kcEven, g.K - pc);
      bool add = g.add || pc > 0;
      float *ap = nullptr;
      if (!g.direct) {
        ap = pa.get((rows + K.mr - 1) / K.mr * K.mr * kc);
        K.packA(g.ta, g.A, g.lda, rc, pc, rows, kc, ap);
      }
      for (int64_t jc = c0; jc < c1; jc += K.nc) {
        int64_t nc = std::min(K.nc, c1 - jc);
        float *bp;
        if (g.shareB) {
          bp = shared.get(g, pc, kcEven, jc, kc, nc);
        } else {
          bp = pb.get((nc + K.nr - 1) / K.nr * K.nr * kc);
          K.packB(g.tb, g.B, g.ldb, pc, jc, kc, nc, bp);
        }
        for (int64_t ic = rc; ic < rc + rows; ic += K.mc) {
          int64_t mc = std::min(K.mc, rc + rows - ic);
          for (int64_t i = ic; i < ic + mc; i += K.mr) {
            int64_t m = std::min<int64_t>(K.mr, ic + mc - i);
            float *c = g.C + i * g.ldc + jc;
            for (int64_t jr = 0; jr < nc; jr += K.nr) {
              int64_t n = std::min<int64_t>(K.nr, nc - jr);
              if (g.direct && g.ta)
                K.microTransposedA(kc, g.A + pc * g.lda + i, g.lda, bp + jr * kc, c + jr, g.ldc, m, n, add);
              else if (g.direct)
                K.microDirect(kc, g.A + i * g.lda + pc, g.lda, bp + jr * kc, c + jr, g.ldc, m, n, add);
              else
                K.micro(kc, ap + (i - rc) * kc, bp + jr * kc, c + jr, g.ldc, m, n, add);
            }
          }
          if (perBlock) g.epilogue(ic, ic + mc);
        }
      }
    }
  }
  if (epilogue && !perBlock && r0 < r1) g.epilogue(r0, r1);
}

/// Whether reading an MR-row sliver of A in place, rows lda floats apart,
/// piles more than 4 of its rows onto one set of a 64-set L1 (every
/// 4 KiB-multiple row stride does: 1024 or 2048 floats). Those rows would
/// evict each other, and B's sliver, on every step of the sum.
bool rowsCollide(int64_t lda, int mr) {
  int perSet[64] = {};
  for (int r = 0; r < mr; ++r)
    if (++perSet[(r * lda * int64_t(sizeof(float)) / 64) % 64] > 4) return true;
  return false;
}

void threadBody(void *data, int64_t begin, int64_t end) {
  const GemmCall &g = *static_cast<const GemmCall *>(data);
  if (g.splitRows)
    block(g, begin * g.kern->mr, std::min(end * g.kern->mr, g.M), 0, g.N);
  else
    block(g, 0, g.M, begin * g.kern->nr, std::min(end * g.kern->nr, g.N));
}

/// Below this many multiply-adds a GEMM runs on one thread: waking the
/// others, and moving its operands into their caches (in a training step
/// the kernel before wrote them on the other core), costs more than it
/// saves. At 2^19, mlp64's three 256×64×64 products split, and its step
/// took 64–65 µs on two threads against 47 on one; at 2^21 they do not,
/// and two threads took 48–57 µs (AMD EPYC family 26, `train --threads N`
/// on bench/mlp64.grad). In isolation such a product does gain from a
/// second core (bench/gemm_bench --shape 256x64x64); inside a step it
/// did not.
constexpr int64_t kParallelWork = 1 << 21;

/// Row chunks per thread of a product split by rows, and the most floats
/// of B (K × N) for which a thread keeps a packed copy to run them all.
constexpr int kChunksPerThread = 4;
constexpr int64_t kMaxSharedB = 1 << 20;

/// A weight gradient, Xᵀ·dY (A stored transposed, K the batch's rows, few
/// output rows: K ≥ 4·M), is summed in two halves of K: the first into C,
/// the second into scratch, then added to C row by row, where the
/// epilogue runs. On two threads each half is one thread's, and the kernels
/// before split the batch's rows the same way, so each thread reads the
/// rows it wrote. Split by M or N instead, each thread read all K rows of
/// both operands, half of them from the other core's cache (the GPT's
/// step at two threads took 15.57 ms this way against 16.68). The halves
/// are summed the same way on any number of threads, so the bits do not
/// depend on it.
bool sumsInHalves(const GemmCall &g) {
  return g.ta && !g.add && g.K >= 4 * g.M && g.M * g.N * g.K >= kParallelWork;
}

void sumInHalves(ThreadPool *pool, const GemmCall &g) {
  thread_local Scratch partial;
  struct Halves {
    GemmCall half[2];
    Epilogue epilogue;
  } h{{g, g}, g.epilogue};
  int64_t k1 = g.K / 2;
  for (GemmCall &c : h.half) c.epilogue = {};
  h.half[0].K = k1;
  GemmCall &second = h.half[1];
  second.K = g.K - k1;
  second.A = g.A + k1 * g.lda; // Aᵀ: K rows of M
  second.B = g.tb ? g.B + k1 : g.B + k1 * g.ldb;
  second.C = partial.get(size_t(g.M * g.N));
  second.ldc = g.N;
  auto halves = [](void *data, int64_t begin, int64_t end) {
    auto &h = *static_cast<Halves *>(data);
    for (int64_t i = begin; i < end; ++i) block(h.half[i], 0, h.half[i].M, 0, h.half[i].N);
  };
  auto addRows = [](void *data, int64_t begin, int64_t end) {
    auto &h = *static_cast<Halves *>(data);
    const GemmCall &c = h.half[0], &p = h.half[1];
    for (int64_t i = begin; i < end; ++i)
      for (int64_t j = 0; j < c.N; ++j) c.C[i * c.ldc + j] += p.C[i * p.ldc + j];
    if (h.epilogue) h.epilogue(begin, end);
  };
  if (pool && pool->size() > 1) {
    pool->run(2, halves, &h, 2);
    pool->run(g.M, addRows, &h);
  } else {
    halves(&h, 0, 2);
    addRows(&h, 0, g.M);
  }
}

template <typename T>
void naiveGemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T *A, int64_t lda, const T *B, int64_t ldb, T *C,
               int64_t ldc, bool add, const Epilogue &epilogue = {}) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      T sum = 0;
      for (int64_t k = 0; k < K; ++k) sum += (ta ? A[k * lda + m] : A[m * lda + k]) * (tb ? B[n * ldb + k] : B[k * ldb + n]);
      C[m * ldc + n] = add ? C[m * ldc + n] + sum : sum;
    }
  if (epilogue && M > 0) epilogue(0, M);
}

} // namespace

namespace {
// Read once, not per product: getenv scans the whole environment, and a
// step makes hundreds of small products (0.8% of a one-thread attention
// model's time went to it).
bool alwaysPackA = std::getenv("GRADC_GEMM_PACK_A") != nullptr;
} // namespace

void setGemmAlwaysPackA(bool on) { alwaysPackA = on; }

void gemmF32(ThreadPool *pool, const GemmKernel &kern, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A,
             int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc, bool add, const Epilogue &epilogue) {
  if (M == 0) return;
  if (N == 0) {
    if (epilogue) epilogue(0, M);
    return;
  }
  // A row-major A can be read in place: each MR-row sliver stays in L1
  // while the B slivers stream past it. With few B slivers to stream
  // (N ≤ 16·NR: all of the GPT's products) packing A would cost more than
  // it saves; with many, pack when the sliver's rows collide in L1. Aᵀ is
  // read in place only with few B slivers (weight gradients): its sliver is
  // KC rows of Aᵀ, lda apart, which a power-of-two lda piles onto a few L1
  // sets, so with many B slivers to reuse it over, packing pays.
  // setGemmAlwaysPackA (GRADC_GEMM_PACK_A=1) always packs, for tests.
  bool direct = (ta ? kern.microTransposedA && N <= 16 * kern.nr
                   : kern.microDirect && (N <= 16 * kern.nr || !rowsCollide(lda, kern.mr))) &&
                !alwaysPackA;
  GemmCall g{&kern, ta, tb, M, N, K, A, lda, B, ldb, C, ldc, add, true, direct, epilogue};
  if (sumsInHalves(g)) {
    sumInHalves(pool, g);
    return;
  }
  int threads = pool ? pool->size() : 1;
  if (threads == 1 || M * N * K < kParallelWork) {
    block(g, 0, M, 0, N);
    return;
  }
  // Split rows or columns, in whole slivers: whichever leaves the busiest
  // thread the least work. Whole slivers split unevenly (64 rows are five
  // 14-row slivers: 42 rows and 22 on two threads; its 64 columns are two
  // 32-column slivers: 32 and 32), and each thread packs all of the operand
  // it does not split (about 4 multiply-adds' time per element).
  // Each C element is computed by one thread in the same order whatever the
  // thread count, so results do not depend on it.
  int64_t rowUnits = (M + kern.mr - 1) / kern.mr, colUnits = (N + kern.nr - 1) / kern.nr;
  auto busiest = [&](int64_t units, int64_t size, int64_t whole) {
    return double(std::min(whole, (units + threads - 1) / threads * size));
  };
  double rowsCost = busiest(rowUnits, kern.mr, M) * double(N) * double(K) + 4.0 * double(K) * double(N);
  double colsCost = busiest(colUnits, kern.nr, N) * double(M) * double(K) + (direct ? 0.0 : 4.0 * double(K) * double(M));
  // A column split pays more than its share: each thread streams all of A
  // past fewer B slivers, and the epilogue becomes a pass of its own over C
  // afterwards. So columns only when clearly better: 64×64×256 measured
  // 149–163 GFLOP/s split by columns against 118–134 by rows
  // (bench/gemm_bench --shape 64x64x256 --threads 2, when products that
  // small still split).
  g.splitRows = rowsCost <= colsCost * 1.25;
  // Split by columns, the epilogue is a pass of its own afterwards, so no
  // chunk may run it: a pool that runs the loop in one call (alone, while
  // another process holds the workers' cores) hands block() every column,
  // and it would run the epilogue on each row twice.
  if (!g.splitRows) g.epilogue = {};
  // Split by columns, each chunk packs A once more, so one chunk per
  // thread (more measured 5–10% slower on the GPT's step when B was packed
  // per chunk too); any thread still takes a chunk another has not started.
  // Split by rows, each thread packs B once for all its chunks (PackedB),
  // so rows are cut into a few chunks per thread, as long as a thread's
  // copy of B stays small.
  int chunks = threads;
  if (g.splitRows && g.K * N <= kMaxSharedB && rowUnits >= kChunksPerThread * threads) {
    static std::atomic<uint64_t> products{0};
    g.shareB = ++products;
    chunks = kChunksPerThread * threads;
  }
  pool->run(g.splitRows ? rowUnits : colUnits, threadBody, &g, chunks);
  // Split by columns, no thread finished a row: the epilogue runs after,
  // over row slivers.
  if (!g.splitRows && epilogue) {
    auto rows = [](void *e, int64_t b, int64_t end) { (*static_cast<const Epilogue *>(e))(b, end); };
    pool->run(M, rows, const_cast<Epilogue *>(&epilogue));
  }
}

void naiveGemmF64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double *A, int64_t lda, const double *B,
                  int64_t ldb, double *C, int64_t ldc, bool add, const Epilogue &epilogue) {
  naiveGemm<double>(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, add, epilogue);
}

namespace {
struct F64Call {
  bool ta, add;
  int64_t N, K;
  const double *A;
  int64_t lda;
  const double *B; // K × N, rows contiguous (a transposed B is copied so)
  int64_t ldb;
  double *C;
  int64_t ldc;
  Epilogue epilogue;
};

/// Rows [r0, r1) of C: each element summed over k in order from 0, as the
/// textbook loop does (so the bits are naiveGemmF64's), but a row at a
/// time, acc[n] += A(m,k)·B(k,n), reading B's rows contiguously; the
/// naive loop read B down its columns, a cache line per multiply-add.
void f64Rows(void *data, int64_t r0, int64_t r1) {
  const F64Call &g = *static_cast<const F64Call *>(data);
  if (&gemmForHost() == &gemmAvx512()) {
    gemmF64RowsAvx512(g.ta, g.add, g.N, g.K, g.A, g.lda, g.B, g.ldb, g.C, g.ldc, r0, r1);
    if (g.epilogue && r0 < r1) g.epilogue(r0, r1);
    return;
  }
  std::vector<double> acc(size_t(g.N));
  for (int64_t m = r0; m < r1; ++m) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t k = 0; k < g.K; ++k) {
      double a = g.ta ? g.A[k * g.lda + m] : g.A[m * g.lda + k];
      const double *b = g.B + k * g.ldb;
      for (int64_t n = 0; n < g.N; ++n) acc[size_t(n)] += a * b[n];
    }
    double *c = g.C + m * g.ldc;
    for (int64_t n = 0; n < g.N; ++n) c[n] = g.add ? c[n] + acc[size_t(n)] : acc[size_t(n)];
  }
  if (g.epilogue && r0 < r1) g.epilogue(r0, r1);
}
} // namespace

void gemmF64(ThreadPool *pool, bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double *A, int64_t lda,
             const double *B, int64_t ldb, double *C, int64_t ldc, bool add, const Epilogue &epilogue) {
  if (M == 0) return;
  std::vector<double> bt;
  if (tb) { // Bᵀ stored as N rows of K: copy it to K rows of N
    bt.resize(size_t(K * N));
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) bt[size_t(k * N + n)] = B[n * ldb + k];
    B = bt.data(), ldb = N;
  }
  F64Call g{ta, add, N, K, A, lda, B, ldb, C, ldc, epilogue};
  // Each row is one thread's, whatever the split: the bits do not depend on it.
  if (pool && pool->size() > 1 && M > 1 && M * N * K >= kParallelWork) pool->run(M, f64Rows, &g);
  else f64Rows(&g, 0, M);
}

void naiveGemmF32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                  int64_t ldb, float *C, int64_t ldc, bool add) {
  naiveGemm<float>(ta, tb, M, N, K, A, lda, B, ldb, C, ldc, add);
}

} // namespace grt

extern "C" {

void grt_gemm_f32(GrtContext *ctx, int32_t ta, int32_t tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                  const float *b, int64_t ldb, float *c, int64_t ldc, int32_t flags, GrtParallelBody epilogue,
                  void *epilogueData) {
  bool accumulate = flags & GRT_GEMM_ACCUMULATE;
  // GRADC_GEMM=naive: the textbook loop, no packing or tiling (for tests
  // that compare a model's losses with tiling off and on).
  if (grt::gemmNaive()) {
    grt::naiveGemmF32(ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
    if (epilogue && m > 0) epilogue(epilogueData, 0, m);
    return;
  }
  // Clock reads only under train --profile: this runs hundreds of times a step.
  grt::Profile *profile = ctx ? ctx->profile : nullptr;
  auto t0 = profile ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  grt::ThreadPool *pool = ctx && !(flags & GRT_GEMM_ONE_THREAD) ? ctx->pool : nullptr;
  // Under --profile the epilogue is timed on each thread that runs it.
  struct Timed {
    GrtParallelBody fn;
    void *data;
    grt::Profile *profile;
  } timed{epilogue, epilogueData, profile};
  auto timedRows = [](void *d, int64_t r0, int64_t r1) {
    auto *t = static_cast<Timed *>(d);
    auto start = std::chrono::steady_clock::now();
    t->fn(t->data, r0, r1);
    t->profile->epilogue(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  };
  grt::Epilogue epi = profile && epilogue ? grt::Epilogue{timedRows, &timed} : grt::Epilogue{epilogue, epilogueData};
  grt::gemmF32(pool, grt::gemmForModel(), ta, tb, m, n, k, a, lda, b, ldb, c, ldc, accumulate, epi);
  if (profile)
    profile->gemm(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0 * m * n * k);
}

void grt_gemm_f64(GrtContext *ctx, int32_t ta, int32_t tb, int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                  const double *b, int64_t ldb, double *c, int64_t ldc, int32_t flags, GrtParallelBody epilogue,
                  void *epilogueData) {
  // f64 exists for gradient checks and for models that ask for it: the
  // textbook sum per element (bits as naiveGemmF64's), row by row and split
  // across threads, not packed or tiled (a fifth of an f32 GEMM's speed).
  grt::ThreadPool *pool = ctx && !(flags & GRT_GEMM_ONE_THREAD) ? ctx->pool : nullptr;
  grt::gemmF64(pool, ta, tb, m, n, k, a, lda, b, ldb, c, ldc, flags & GRT_GEMM_ACCUMULATE, grt::Epilogue{epilogue, epilogueData});
}

} // extern "C"
