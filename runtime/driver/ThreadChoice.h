//===- runtime/driver/ThreadChoice.h - all threads, or one? ---------------===//
//
// More threads are not always faster. A small model's loops are too short to
// pay for handing chunks to another core, and for reading, on one core,
// what a loop wrote on the other: the 1→64→64→1 MLP's step took 46 µs on
// one thread and 68 µs on two (AMD EPYC, 2 vCPUs). And a core taken by
// another process slows every parallel loop.
//
// Results are bit-identical for any thread count (runtime/core/ThreadPool.h),
// so `train` may simply measure: when the user gave no --threads, it runs
// blocks of steps on all threads and on one (the context's pool removed) in
// turn, and keeps the faster median; it measures again after 30 s of
// training, then after twice as long each time the choice stands (up to
// 10 min), so a machine that gets busy or quiet later is noticed while
// probing costs little: a step on the losing side may take twice as long.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "core/Runtime.h"

#include <string>
#include <vector>

namespace grt {

class ThreadChoice {
public:
  /// `pool` is the session's (null: one thread, nothing to choose).
  ThreadChoice(GrtContext &ctx, ThreadPool *pool, bool enabled);
  /// Before a step: sets the context's pool for it.
  void beforeStep();
  /// After it, with its duration. Returns a line for the log when one
  /// thread was chosen, or the choice changed (empty otherwise).
  std::string afterStep(double seconds);
  /// After the last step: every thread again (the final validation).
  void finish() {
    if (enabled) ctx.pool = pool;
  }

private:
  // The first steps warm caches and fault in pages: not measured. Then the
  // two sides take turns in blocks, whose first step (data still in the
  // other core's cache) is not measured either, until each side has enough
  // steps and time for a stable median: a 50 µs step is noisy.
  static constexpr int kWarmup = 3;
  static constexpr int kBlock = 4;
  static constexpr int kSamplesFirst = 8, kSamplesAgain = 4;
  static constexpr double kMinSeconds = 0.02;  // per side
  static constexpr int kMaxSamples = 300;      // per side, for tiny steps
  static constexpr double kFirstRecheck = 30, kMaxRecheck = 600; // seconds

  bool done() const;

  GrtContext &ctx;
  ThreadPool *pool;
  bool enabled;
  int warmup = kWarmup;
  bool useAll = true;  // the current choice
  bool decided = false;
  bool probing = true;
  int samples = kSamplesFirst; // per side in this round
  bool probeAll = true;        // the side probing now
  int inBlock = 0;
  std::vector<double> onAll, onOne;
  double sinceDecision = 0;
  double recheck = kFirstRecheck;
};

} // namespace grt
