//===- bench/pool_bench.cpp - what handing a loop to the threads costs ----===//
//
//   build/bench/pool_bench [--threads N] [--runs N]
//
// Times ThreadPool::run on loops too small to matter (8 and 4096 additions),
// so what is left is the hand-off: publishing the loop, the workers taking
// their chunks, the caller learning they are done. Every parallel kernel of
// a training step pays it (the GPT's step at two threads has about 250), so
// it bounds how small a kernel is still worth splitting. Prints the median
// over 15 batches of microseconds per run.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char **argv) {
  int threads = 2, runs = 20000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: pool_bench [--threads N] [--runs N]\n\n"
                           "Times ThreadPool::run on near-empty loops: the cost of handing a\n"
                           "loop to N threads (default 2), median of 15 batches of N runs.\n");
      return std::strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  if (threads < 1 || runs < 1) {
    std::fprintf(stderr, "pool_bench: --threads and --runs must be at least 1\n");
    return 2;
  }
  grt::ThreadPool pool(threads);
  static float buf[4096];
  auto body = [](void *d, int64_t b, int64_t e) {
    float *x = static_cast<float *>(d);
    for (int64_t i = b; i < e; ++i) x[i] += 1;
  };
  std::printf("threads %d\n", threads);
  for (int size : {8, 4096}) {
    std::vector<double> us;
    for (int r = 0; r < 15; ++r) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < runs; ++i) pool.run(size, body, buf);
      us.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / runs * 1e6);
    }
    std::sort(us.begin(), us.end());
    std::printf("loop of %4d elements: %.2f us per run\n", size, us[7]);
  }
}
