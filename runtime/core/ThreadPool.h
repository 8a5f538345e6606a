//===- runtime/core/ThreadPool.h - workers for parallel loops -------------===//
#pragma once

#include "gradrt/abi.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace grt {

/// A fixed set of worker threads that run parallel loops over [0, n).
///
/// The range is cut into a fixed set of contiguous chunks (a few per
/// thread). Each thread, the caller included as thread 0, has a home share
/// of them: thread t of T owns chunks [t·C/T, (t+1)·C/T) and takes those
/// first, then takes any chunk another thread has not started.
///
/// On a quiet machine a thread so runs the same rows loop after loop, and
/// finds what the previous loop wrote in its own cache. The GEMM splits
/// rows the same way. When any thread took the next chunk of one shared
/// counter, the rows went to whichever thread asked first, and a loop read
/// half its input from the other core's cache: the GPT's small loops ran
/// slower on two threads than on one (a [768,512] column sum, 33 µs on one
/// thread, took 70 on two).
///
/// When another process takes a worker's core, the others take the
/// descheduled worker's chunks instead of waiting a scheduler time slice
/// for it (a step is ~360 loops, so a static split waited ~360 slices).
///
/// Results do not depend on which thread runs a chunk, or on the thread
/// count: a loop body writes disjoint elements, each computed in the same
/// order whatever range it runs in (generated kernels and the GEMM both
/// keep reductions inside one element). A body must not depend on how the
/// range is cut either: while the workers are preempted the caller runs a
/// loop in one call. GRADC_THREADS_SHUFFLE=1 makes loops alternate between
/// the two at random, so tests reach that path on a quiet machine.
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
  /// Loops split among the threads so far, and how long the caller waited
  /// in all, once its own chunks were done, for the other threads' (what
  /// uneven shares and handing a loop over cost; train --profile prints it).
  int64_t splitLoops() const { return loopsSplit; }
  double callerWaitSeconds() const { return std::chrono::duration<double>(callerWaited).count(); }

  using Clock = std::chrono::steady_clock;
  /// What run() does after each loop it split: each of the caller's chunks
  /// took `perChunk`, then it waited `waited` for the other threads' from
  /// `at` on. A wait much longer than a chunk means a late worker; one as
  /// long as a time slice, or two within 20 ms, start a spell in which
  /// loops run on the caller alone. Public so tests can drive the policy
  /// with chosen durations, which a loaded machine cannot disturb.
  void noteWait(Clock::duration perChunk, Clock::duration waited, Clock::time_point at);

private:
  void work(int self);
  /// Takes and runs chunks of the job whose word is `word` until none is
  /// left: thread `self`'s home chunks first, then the other threads'.
  int takeChunks(uint64_t word, int self);

  std::vector<std::thread> workers;
  // A loop is handed over on one cache line, which idle workers spin on:
  // its word (job number, high 32 bits; chunk count, low 16) and its fields.
  // A worker that sees the word change finds the fields on the same line, so
  // it takes one cache miss to start, not one per field (the fields, the
  // counters and a generation on separate lines cost it ~1.2 µs a loop).
  // The fields are written before the word (release) and read only after
  // taking a chunk: the job then cannot end, and be replaced, while they are
  // read.
  struct alignas(64) Job {
    std::atomic<uint64_t> word{0};
    int64_t n = 0;
    GrtParallelBody body = nullptr;
    void *data = nullptr;
  };
  Job job;
  // Each thread's home counter: job number (high 32 bits), end of its home
  // chunks (16 bits), next chunk to take (low 16 bits). The first thread to
  // look at a home in a new job, its owner or not, moves it from an earlier
  // job's number to this one's (a thread still on an earlier job finds a
  // later number and takes nothing). The caller never writes the workers'
  // counters ahead, so a worker's own is usually still in its cache. One
  // cache line each, so taking a home chunk touches no line another thread
  // is taking from.
  struct alignas(64) Home {
    std::atomic<uint64_t> next{0};
  };
  std::unique_ptr<Home[]> homes;
  // Chunks finished, counted over all jobs (wrapping): the caller waits until
  // it reaches `doneTarget`. Never reset, so the caller does not write the
  // line the workers last wrote before they write it again.
  struct alignas(64) Done {
    std::atomic<uint32_t> chunks{0};
    std::atomic<int> callerWaiting{0};
  };
  Done done;
  // Read by the caller every loop, written only when a worker sleeps or
  // wakes: a line of its own, so it stays in both caches.
  alignas(64) std::atomic<int> sleepers{0};
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable wake;
  uint32_t jobs = 0;
  uint32_t doneTarget = 0;
  // The caller's: until when it runs loops alone (workers preempted by
  // another process cost more than they give), and for how long it did last.
  Clock::time_point soloUntil{};
  Clock::duration soloFor{};
  Clock::time_point lastLate{}; // the last loop that waited for a late worker
  int64_t soloSpells = 0;
  int64_t loopsSplit = 0;
  Clock::duration callerWaited{};
  // GRADC_THREADS_SHUFFLE=1 (tests): every other loop or so, chosen by a
  // fixed pseudo-random sequence, runs alone in one call over the whole
  // range, as it does while the workers are preempted.
  bool shuffle = false;
  uint64_t shuffleState = 0x9e3779b97f4a7c15u;
};

} // namespace grt
