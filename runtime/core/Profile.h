//===- runtime/core/Profile.h - time spent per kernel (train --profile) ---===//
//
// Generated entries call grt_kernel_end(ctx, i) after each kernel. With a
// Profile in the context, that call charges the time since the previous
// kernel ended to kernel i; without one it returns at once.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "core/Runtime.h"

#include <atomic>
#include <chrono>

namespace grt {

class ThreadPool;

class Profile {
public:
  explicit Profile(const GrtModel &m);
  /// The entry with this index is about to run. With a pool, each kernel
  /// is also charged the time the caller waited in it for other threads.
  void begin(int entry, const ThreadPool *pool = nullptr);
  void kernelEnd(int kernel);
  /// A runtime GEMM of `flops` floating-point operations took `secs`
  /// (inside whichever kernel called it).
  void gemm(double secs, double flops) {
    if (current >= 0) gemmSeconds[current] += secs, gemmFlops[current] += flops;
  }
  /// A GEMM's epilogue took `secs` on some thread, within the GEMM's time.
  /// Any thread may call this (each runs the epilogue on its own rows).
  void epilogue(double secs) {
    if (current >= 0) epilogueNanos[size_t(current)].fetch_add(int64_t(secs * 1e9), std::memory_order_relaxed);
  }
  /// The run of the current entry split `loops` loops among the threads, and
  /// the caller waited `secs` in all for other threads' chunks after its own.
  void threadWait(double secs, int64_t loops) {
    if (current >= 0) waitSeconds[current] += secs, waitLoops[current] += loops;
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
  std::vector<std::vector<double>> waited;  // [entry][kernel]: the caller's wait
  const ThreadPool *pool = nullptr;
  double waitedBefore = 0; // the pool's total wait at the last kernel's end
  std::vector<int64_t> runs;                // [entry]
  std::vector<double> gemmSeconds, gemmFlops; // [entry]
  std::vector<std::atomic<int64_t>> epilogueNanos; // [entry], summed over threads
  std::vector<double> waitSeconds;                 // [entry]
  std::vector<int64_t> waitLoops;                  // [entry]
};

} // namespace grt
