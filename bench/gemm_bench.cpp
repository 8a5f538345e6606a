//===- bench/gemm_bench.cpp - our GEMM against OpenBLAS, side by side -----===//
//
//   build/bench/gemm_bench [--quick | --gpt | --shape MxNxK] [--threads N] ... (--help)
//
// For each shape and thread count, times our sgemm and OpenBLAS's
// cblas_sgemm on the same matrices, alternating them over five rounds, and
// prints the median GFLOPS of each and the median of the per-round ratios. OpenBLAS is a reference for this benchmark
// only; gradc never links it.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/Gemm.h"
#include "runtime/core/Runtime.h"
#include "runtime/core/ThreadPool.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <unistd.h>
#include <string>
#include <vector>

extern "C" void openblas_set_num_threads(int);
extern "C" char *openblas_get_corename(void);

namespace {

struct Shape {
  const char *name;
  bool ta, tb;
  int64_t m, n, k;
};

double seconds() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

/// Median seconds per call over `reps` timed batches of calls.
template <typename F> double median(F call, int reps, double minBatch) {
  call(); // warm up (and pack buffers)
  int calls = 1;
  for (double t = 0; t < minBatch; calls *= 2) {
    double t0 = seconds();
    for (int i = 0; i < calls; ++i) call();
    t = seconds() - t0;
    if (t >= minBatch) break;
  }
  std::vector<double> times;
  for (int r = 0; r < reps; ++r) {
    double t0 = seconds();
    for (int i = 0; i < calls; ++i) call();
    times.push_back((seconds() - t0) / calls);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// OpenBLAS picks its kernel when it loads. 0.3.21 (Debian's) does not know
// CPUs newer than it (Sapphire Rapids, Zen 4) and falls back to a generic
// SSE3 kernel 2-6x slower than its AVX-512 one: a ratio against that would
// flatter us. These are its generic (pre-AVX2) kernels.
bool genericCore(const char *name) {
  for (const char *g : {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai", "Coppermine", "Northwood",
                        "Banias", "Opteron", "Barcelona", "Bobcat", "Unknown"})
    if (!strcasecmp(name, g)) return true;
  return false;
}

/// The OpenBLAS kernel this CPU runs best (its sgemm), or null for an old CPU.
const char *bestCore() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "SkylakeX";
  if (__builtin_cpu_supports("avx2")) return "Haswell";
  return nullptr;
}

} // namespace

const char *kUsage = R"(usage: gemm_bench [options]

Times our sgemm against OpenBLAS's cblas_sgemm on the same matrices, side
by side, and prints GFLOPS and the ratio (ours / OpenBLAS, >100% = faster).

  --quick           two small shapes, one round (the test suite's smoke run)
  --gpt             only the baby GPT's shapes
  --shape MxNxK     only this shape
  --ta, --tb        with --shape: A, or B, stored transposed
  --threads N       only this thread count (default: 1 then 2)
  --rounds N        rounds of back-to-back pairs (default 5)
  --blocks MC,KC,NC override our cache blocks (for tuning experiments)
  --corename        print the OpenBLAS kernel the reference uses, and exit
  --bf16            ours with bf16 operands and f32 sums (train --precision
                    bf16; AVX-512 BF16 CPUs only) against OpenBLAS in f32:
                    not the same arithmetic, so the header says so

The reference runs at its best: when OpenBLAS chose a generic kernel on a
CPU with AVX2 or AVX-512 (0.3.21 on a CPU newer than it), gemm_bench runs
itself again with OPENBLAS_CORETYPE set to the matching kernel and says so.
If the kernel is still generic, every ratio is marked as against a crippled
reference.
  --help            this text
)";

int main(int argc, char **argv) {
  const char *core = openblas_get_corename(), *best = bestCore();
  if (genericCore(core) && best && !getenv("OPENBLAS_CORETYPE")) {
    std::fprintf(stderr, "gemm_bench: OpenBLAS chose its generic '%s' kernel on a CPU with %s; running again with "
                         "OPENBLAS_CORETYPE=%s so that the reference runs at its best\n", core,
                 !strcmp(best, "SkylakeX") ? "AVX-512" : "AVX2", best);
    setenv("OPENBLAS_CORETYPE", best, 1);
    execv("/proc/self/exe", argv);
    std::perror("gemm_bench: exec");
  }
  bool crippled = genericCore(core) && best;
  if (const char *preset = getenv("OPENBLAS_CORETYPE"); preset && best && !strcmp(best, "SkylakeX") &&
      !strcasestr(core, "Skylake") && !strcasestr(core, "Cooperlake") && !strcasestr(core, "SapphireRapids"))
    std::fprintf(stderr, "gemm_bench: WARNING: OPENBLAS_CORETYPE=%s holds OpenBLAS to a kernel without AVX-512 on a CPU "
                         "with AVX-512; unset it for a reference at its best\n", preset);
  bool quick = false, gptOnly = false, ta = false, tb = false, bf16 = false;
  std::vector<Shape> shapes = {
      {"square 256", false, false, 256, 256, 256},
      {"square 512", false, false, 512, 512, 512},
      {"square 1024", false, false, 1024, 1024, 1024},
      {"square 2048", false, false, 2048, 2048, 2048},
      // The baby GPT's matrix products (B·T = 768 rows, C = 128), forward and backward.
      {"gpt qkv/proj x@W", false, false, 768, 128, 128},
      {"gpt mlp up x@W", false, false, 768, 512, 128},
      {"gpt mlp down h@W", false, false, 768, 128, 512},
      {"gpt head x@E^T", false, true, 768, 256, 128},
      {"gpt dX = dY@W^T", false, true, 768, 128, 512},
      {"gpt dW = X^T@dY", true, false, 128, 512, 768},
      {"gpt attn q@k^T", false, true, 64, 64, 32},
  };
  std::vector<int> threadCounts = {1, 2};
  int rounds = 5;
  grt::GemmKernel kern = grt::gemmForHost();
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : nullptr;
    long long m, n, k, mc, kc, nc;
    int v;
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (a == "--ta" || a == "--tb") {
      (a == "--ta" ? ta : tb) = true;
    } else if (a == "--bf16") {
      if (!grt::gemmBf16Supported()) {
        std::fprintf(stderr, "gemm_bench: --bf16: this CPU has no AVX-512 BF16\n");
        return 2;
      }
      kern = grt::gemmAvx512Bf16();
      bf16 = true;
    } else if (a == "--corename") {
      std::printf("%s\n", core);
      return 0;
    } else if (a == "--quick") {
      quick = true;
    } else if (a == "--gpt") {
      gptOnly = true;
    } else if (a == "--shape" && value && std::sscanf(value, "%lldx%lldx%lld", &m, &n, &k) == 3 && m > 0 && n > 0 && k > 0) {
      shapes = {{argv[++i], false, false, m, n, k}};
    } else if (a == "--threads" && value && std::sscanf(value, "%d", &v) == 1 && v > 0) {
      threadCounts = {v};
      ++i;
    } else if (a == "--rounds" && value && std::sscanf(value, "%d", &v) == 1 && v > 0) {
      rounds = v;
      ++i;
    } else if (a == "--blocks" && value && std::sscanf(value, "%lld,%lld,%lld", &mc, &kc, &nc) == 3 && mc > 0 && kc > 0 &&
               nc > 0) {
      kern.mc = (mc + kern.mr - 1) / kern.mr * kern.mr;
      kern.kc = kc;
      kern.nc = (nc + kern.nr - 1) / kern.nr * kern.nr;
      ++i;
    } else {
      std::fprintf(stderr, "gemm_bench: unknown option, or a bad or missing value: '%s'\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (quick) {
    shapes = {{"square 256", false, false, 256, 256, 256}, {"gpt mlp up x@W", false, false, 768, 512, 128}};
    rounds = 1;
  }
  if (gptOnly) shapes.erase(shapes.begin(), shapes.begin() + 4);
  if (shapes.size() == 1) shapes[0].ta = ta, shapes[0].tb = tb;
  const char *forced = getenv("OPENBLAS_CORETYPE");
  std::printf("our kernel: %s (blocks mc %lld, kc %lld, nc %lld); reference: OpenBLAS cblas_sgemm, kernel %s%s%s\n",
              kern.name, (long long)kern.mc, (long long)kern.kc, (long long)kern.nc, core,
              forced ? ", chosen by OPENBLAS_CORETYPE=" : "", forced ? forced : "");
  if (bf16)
    std::printf("note: ours rounds its operands to bf16 (f32 sums); the reference computes in f32\n");
  if (crippled)
    std::printf("WARNING: the reference runs OpenBLAS's generic '%s' kernel on a CPU with %s: every ratio below is "
                "against a crippled reference (marked !) and overstates our speed\n",
                core, !strcmp(best, "SkylakeX") ? "AVX-512" : "AVX2");
  std::printf("%-20s %7s %15s %10s %10s %7s\n", "shape", "threads", "m x n x k", "ours GF/s", "BLAS GF/s", "ratio");
  for (int threads : threadCounts) {
    openblas_set_num_threads(threads);
    grt::ThreadPool pool(threads);
    for (auto &s : shapes) {
      grt::Rng rng(1);
      int64_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
      std::vector<float> A(s.m * s.k), B(s.k * s.n), C(s.m * s.n), D(s.m * s.n);
      for (auto &x : A) x = float(rng.normal());
      for (auto &x : B) x = float(rng.normal());
      auto ours = [&] {
        grt::gemmF32(threads > 1 ? &pool : nullptr, kern, s.ta, s.tb, s.m, s.n, s.k, A.data(), lda, B.data(), ldb, C.data(),
                     s.n, false);
      };
      auto blas = [&] {
        cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.m, s.n, s.k, 1.f,
                    A.data(), lda, B.data(), ldb, 0.f, D.data(), s.n);
      };
      // Alternate the two in rounds; the ratio is the median of each
      // round's ratio (a pair measured back to back sees the same machine
      // speed), the GFLOPS the median of each side.
      double minBatch = quick ? 0.02 : 0.1;
      std::vector<double> to, tb, ratio;
      for (int round = 0; round < rounds; ++round) {
        to.push_back(median(ours, 3, minBatch));
        tb.push_back(median(blas, 3, minBatch));
        ratio.push_back(tb.back() / to.back());
      }
      std::sort(to.begin(), to.end());
      std::sort(tb.begin(), tb.end());
      std::sort(ratio.begin(), ratio.end());
      double flops = 2.0 * s.m * s.n * s.k;
      double go = flops / to[rounds / 2] / 1e9, gb = flops / tb[rounds / 2] / 1e9;
      char dims[32];
      std::snprintf(dims, sizeof dims, "%lldx%lldx%lld", (long long)s.m, (long long)s.n, (long long)s.k);
      std::printf("%-20s %7d %15s %10.1f %10.1f %6.0f%%%s\n", s.name, threads, dims, go, gb, 100 * ratio[rounds / 2],
                  crippled ? " !" : "");
    }
  }
  return 0;
}
