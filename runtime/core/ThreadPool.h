//===- runtime/core/ThreadPool.h - workers for parallel loops -------------===//
#pragma once

#include "gradrt/abi.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace grt {

/// A fixed set of worker threads that run parallel loops over [0, n).
///
/// The range is cut into a fixed set of contiguous chunks (a few per
/// thread), and any thread, the caller included, takes the next chunk from
/// a shared counter. On a quiet machine every thread gets about its share.
/// When another process takes a worker's core, the others take the
/// descheduled worker's chunks instead of waiting a scheduler time slice
/// for it (a step is ~360 loops, so a static split waited ~360 slices).
///
/// Results do not depend on which thread runs a chunk, or on the thread
/// count: a loop body writes disjoint elements, each computed in the same
/// order whatever range it runs in (generated kernels and the GEMM both
/// keep reductions inside one element).
///
/// A training step issues hundreds of parallel loops back to back, and
/// waking a sleeping thread costs more than many of them take, so idle
/// workers spin (with pause instructions) for a while before they sleep.
/// The caller, once no chunk is left to take, spins briefly for the
/// workers still running one, then blocks: a blocked caller frees its core,
/// so the kernel can move a worker that another process preempted onto it.
class ThreadPool {
public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  int size() const { return int(workers.size()) + 1; }
  /// Runs body(data, begin, end) over [0, n) in at most `maxChunks` chunks
  /// (0: a few per thread). Loops whose chunks each repeat a setup cost
  /// (the GEMM packs a panel per chunk) ask for fewer.
  void run(int64_t n, GrtParallelBody body, void *data, int maxChunks = 0);
  /// How many times the workers were left out because one was preempted.
  int64_t preemptedSpells() const { return soloSpells; }

private:
  using Clock = std::chrono::steady_clock;
  void work();
  void noteWait(Clock::duration perChunk, Clock::duration waited, Clock::time_point at);
  /// Takes and runs chunks of job `job` until none is left.
  int takeChunks(uint32_t job);

  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable wake;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> stopping{false};
  // The chunk counter: job number (high 32 bits), chunk count (16 bits),
  // next chunk to take (low 16 bits). A thread takes chunk i of job j by
  // moving the counter from (j, c, i) to (j, c, i + 1); a thread still
  // looking at an earlier job finds another job number and takes nothing.
  std::atomic<uint64_t> next{0};
  // Chunks of the current job finished; the caller waits for all of them.
  std::atomic<int> done{0};
  std::atomic<int> callerWaiting{0};
  // The current job, published before `next` names it. A thread reads it
  // only after taking a chunk, so the job cannot end (and be replaced)
  // while it reads.
  int64_t n = 0;
  GrtParallelBody body = nullptr;
  void *data = nullptr;
  uint32_t job = 0;
  // The caller's: until when it runs loops alone (workers preempted by
  // another process cost more than they give), and for how long it did last.
  Clock::time_point soloUntil{};
  Clock::duration soloFor{};
  int64_t soloSpells = 0;
};

} // namespace grt
