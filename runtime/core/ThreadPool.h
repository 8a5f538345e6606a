//===- runtime/core/ThreadPool.h - workers for parallel loops -------------===//
#pragma once

#include "gradrt/abi.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace grt {

/// A fixed set of worker threads that split a range [0, n) into equal
/// contiguous parts, one per thread (the caller takes part 0). The split
/// depends only on n and the thread count, so results are the same from run
/// to run.
///
/// A training step issues hundreds of parallel loops back to back, and
/// waking a sleeping thread costs more than many of them take, so idle
/// workers spin (with pause instructions) for a while before they sleep.
class ThreadPool {
public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  int size() const { return int(workers.size()) + 1; }
  void run(int64_t n, GrtParallelBody body, void *data);

private:
  void work(int index);

  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable wake;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> stopping{false};
  // The current job, published before `generation` is bumped.
  int64_t n = 0;
  GrtParallelBody body = nullptr;
  void *data = nullptr;
};

} // namespace grt
