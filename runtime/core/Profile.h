//===- runtime/core/Profile.h - time spent per kernel (train --profile) ---===//
//
// Generated entries call grt_kernel_end(ctx, i) after each kernel. With a
// Profile in the context, that call charges the time since the previous
// kernel ended to kernel i; without one it returns at once.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "core/Runtime.h"

#include <chrono>

namespace grt {

class Profile {
public:
  explicit Profile(const GrtModel &m);
  /// The entry with this index is about to run.
  void begin(int entry);
  void kernelEnd(int kernel);
  /// A runtime GEMM of `flops` floating-point operations took `secs`
  /// (inside whichever kernel called it).
  void gemm(double secs, double flops) {
    if (current >= 0) gemmSeconds[current] += secs, gemmFlops[current] += flops;
  }
  /// The kernels of `entry` that took the most time, as a table: each one's
  /// share, its time per run, and its summary.
  void print(const char *entry, int top) const;

private:
  using Clock = std::chrono::steady_clock;
  const GrtModel &model;
  int current = -1;
  Clock::time_point last;
  std::vector<std::vector<double>> seconds; // [entry][kernel]
  std::vector<int64_t> runs;                // [entry]
  std::vector<double> gemmSeconds, gemmFlops; // [entry]
};

} // namespace grt
