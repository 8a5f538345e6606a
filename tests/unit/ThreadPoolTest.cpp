//===- tests/unit/ThreadPoolTest.cpp - parallel loops cover every index once ===//
//
// The pool cuts [0, n) into chunks that any thread may take. Whatever the
// thread count, chunk count and timing, every index must run exactly once,
// and each run() must return only after all of its chunks finished. The
// stress cases make threads slow at random (a preempted worker) and issue
// thousands of loops back to back, as a training step does. A group of
// loops run as one (grt_parallel_loops) must run every iteration of each
// loop once, whatever the loops' sizes and weights.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/Runtime.h"
#include "runtime/core/ThreadPool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

using grt::ThreadPool;

namespace {

struct Cover {
  std::vector<std::atomic<int>> hits;
  std::atomic<int> calls{0};
  int slowEvery = 0; // every k-th call sleeps, as a preempted thread would
  explicit Cover(int64_t n) : hits(size_t(n)) {}
};

void mark(void *data, int64_t begin, int64_t end) {
  auto &c = *static_cast<Cover *>(data);
  int call = c.calls.fetch_add(1);
  if (c.slowEvery && call % c.slowEvery == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
  for (int64_t i = begin; i < end; ++i) c.hits[size_t(i)].fetch_add(1, std::memory_order_relaxed);
}

void expectOnce(const Cover &c, int64_t n, const char *what) {
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(c.hits[size_t(i)].load(), 1) << what << ": index " << i << " of " << n;
}

} // namespace

TEST(ThreadPool, EveryIndexOnceForAnySizeThreadsAndChunks) {
  for (int threads : {1, 2, 3, 8})
    for (int maxChunks : {0, 1, 2, 5, 1000}) {
      ThreadPool pool(threads);
      for (int64_t n : {0, 1, 2, 3, 7, 64, 1000, 100003}) {
        Cover c(n);
        pool.run(n, mark, &c, maxChunks);
        expectOnce(c, n, "one loop");
      }
    }
}

TEST(ThreadPool, ThousandsOfLoopsBackToBackWithSlowThreads) {
  // A worker that finishes late must neither take chunks of the next loop
  // as if they were its own, nor let run() return before its chunk is done.
  std::mt19937 rng(7);
  for (int threads : {2, 4}) {
    ThreadPool pool(threads);
    for (int loop = 0; loop < 3000; ++loop) {
      int64_t n = 1 + int64_t(rng() % 300);
      Cover c(n);
      c.slowEvery = loop % 10 == 0 ? 1 + int(rng() % 4) : 0;
      pool.run(n, mark, &c, int(rng() % 3) == 0 ? 2 : 0);
      expectOnce(c, n, "back to back");
    }
  }
}

TEST(ThreadPool, ShareTheWorkWhenAThreadIsLate) {
  // The first chunk taken sleeps 200 ms, as a preempted thread would; the
  // other chunks must go to the thread still running. Statically split, the
  // late thread would have run 4 of the 8 chunks. (Counted, not timed: the
  // other thread only has to run within 200 ms.)
  ThreadPool pool(2);
  struct Late {
    std::mutex mu;
    std::vector<std::thread::id> ranBy; // per chunk, in the order taken
  } late;
  auto body = [](void *d, int64_t, int64_t) {
    auto &l = *static_cast<Late *>(d);
    bool first;
    {
      std::lock_guard<std::mutex> lock(l.mu);
      first = l.ranBy.empty();
      l.ranBy.push_back(std::this_thread::get_id());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(first ? 200 : 2));
  };
  pool.run(8, body, &late);
  ASSERT_EQ(late.ranBy.size(), 8u);
  EXPECT_EQ(std::count(late.ranBy.begin(), late.ranBy.end(), late.ranBy[0]), 1);
}

namespace {

/// A loop of 8 chunks on 2 threads in which each thread's first chunk holds
/// it until the other thread has started one too (or 2 s passed), so both
/// first choices are made before either thread could take the other's
/// chunks. `workerSleep` is how long the worker's first chunk then takes.
struct FirstChunks {
  std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> callerFirst{-1}, workerFirst{-1};
  std::atomic<bool> timedOut{false};
  std::chrono::microseconds workerSleep{0};
  std::atomic<int64_t> callerWaitUs{0}; // the caller's wait for the worker to start
};

void recordFirst(void *d, int64_t begin, int64_t) {
  auto &f = *static_cast<FirstChunks *>(d);
  bool isCaller = std::this_thread::get_id() == f.caller;
  std::atomic<int> &mine = isCaller ? f.callerFirst : f.workerFirst, &theirs = isCaller ? f.workerFirst : f.callerFirst;
  int none = -1;
  if (!mine.compare_exchange_strong(none, int(begin))) return;
  auto start = std::chrono::steady_clock::now(), until = start + std::chrono::seconds(2);
  while (theirs.load() < 0)
    if (std::chrono::steady_clock::now() > until) {
      f.timedOut = true;
      break;
    } else {
      std::this_thread::yield();
    }
  if (isCaller)
    f.callerWaitUs = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  if (!isCaller && f.workerSleep.count()) std::this_thread::sleep_for(f.workerSleep);
}

} // namespace

TEST(ThreadPool, EachThreadStartsOnItsOwnShareOfTheChunks) {
  // Thread t of T owns chunks [t*C/T, (t+1)*C/T) and takes them first, so
  // loop after loop it runs the same rows and finds them in its own cache:
  // the caller starts at chunk 0, the worker at chunk 4 of 8.
  //
  // On a loaded machine (CI runs tests side by side) the pool may rightly
  // see its worker held up and run loops on the caller alone for a while;
  // such a loop shows nothing here. The check then goes on with a fresh
  // pool, until 20 loops ran on both threads or 6 s passed.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  int checked = 0;
  while (checked < 20 && std::chrono::steady_clock::now() < deadline) {
    ThreadPool pool(2);
    while (checked < 20 && pool.preemptedSpells() == 0) {
      FirstChunks f;
      pool.run(8, recordFirst, &f);
      if (f.timedOut) break;
      EXPECT_EQ(f.callerFirst.load(), 0) << "loop " << checked;
      EXPECT_EQ(f.workerFirst.load(), 4) << "loop " << checked;
      ++checked;
    }
  }
  if (checked < 20) GTEST_SKIP() << "only " << checked << " of 20 loops ran on both threads within 6 s (a loaded machine)";
}

TEST(ThreadPool, LateWorkerPolicyWithChosenDurations) {
  // The policy alone, fed the durations run() measures: no timing of this
  // machine enters, so it runs the same on a loaded one. Chunks of 100 us;
  // a wait past 2 chunks + 300 us is late.
  using namespace std::chrono_literals;
  const auto chunk = std::chrono::microseconds(100);
  auto t0 = ThreadPool::Clock::now();
  ThreadPool pool(2);
  pool.noteWait(chunk, 50us, t0); // on time
  EXPECT_EQ(pool.preemptedSpells(), 0);
  pool.noteWait(chunk, 1ms, t0); // late once: a hiccup
  EXPECT_EQ(pool.preemptedSpells(), 0);
  pool.noteWait(chunk, 1ms, t0 + 30ms); // late again, but 30 ms later
  EXPECT_EQ(pool.preemptedSpells(), 0);
  pool.noteWait(chunk, 1ms, t0 + 35ms); // twice within 20 ms: another process
  EXPECT_EQ(pool.preemptedSpells(), 1);
  // Within the spell (20 ms from t0 + 35 ms) a loop runs in one call on
  // the caller; the spell has not ended unless this machine stalled 55 ms.
  if (ThreadPool::Clock::now() < t0 + 50ms) {
    Cover c(1000);
    pool.run(1000, mark, &c);
    expectOnce(c, 1000, "loop within the spell");
    EXPECT_EQ(c.calls.load(), 1);
  }

  ThreadPool other(2);
  other.noteWait(chunk, 5ms, t0); // one wait of a scheduler time slice
  EXPECT_EQ(other.preemptedSpells(), 1);
  ThreadPool slow(2);
  slow.noteWait(10ms, 15ms, t0); // slow chunks, and a wait in proportion
  EXPECT_EQ(slow.preemptedSpells(), 0);
}

TEST(ThreadPool, OneBriefStallIsAHiccupButTwoInARowMeanAnotherProcess) {
  // The worker's first chunk sleeps, so the caller waits for it once its
  // own chunks are done. One wait of ~1 ms (a hypervisor's hiccup) must not
  // make the caller run loops alone; a second one right after must, and so
  // must a single wait as long as a scheduler time slice (5 ms).
  //
  // The pool judges a wait against how long the caller's own chunks took,
  // and the caller's first chunk here lasts until the worker starts. On a
  // loaded machine (CI runs tests two at a time) the worker can start
  // milliseconds late, which makes the caller's chunks look slow and the
  // wait look normal, or stretch a 1 ms stall past a time slice. Such a run
  // cannot tell, so each scenario is tried on fresh pools until one runs
  // undisturbed: the worker starts within 200 us and the loop ends within
  // 1.5 ms of the sleep. Load comes and goes, so the tries go on for up to
  // 3 s (20 tries in a row were all disturbed in CI, once); if none is
  // undisturbed by then, the test skips. LateWorkerPolicyWithChosenDurations
  // checks the same policy on any machine; this checks that run() feeds it
  // real waits.
  using std::chrono::microseconds;
  auto undisturbed = [](ThreadPool &pool, microseconds sleep) {
    FirstChunks f;
    f.workerSleep = sleep;
    auto t0 = std::chrono::steady_clock::now();
    pool.run(8, recordFirst, &f);
    auto took = std::chrono::steady_clock::now() - t0;
    return !f.timedOut && f.callerWaitUs.load() < 200 && took < sleep + microseconds(1500);
  };
  auto tryUntilUndisturbed = [](auto scenario) {
    auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < giveUp)
      if (scenario()) return true;
      else std::this_thread::sleep_for(std::chrono::milliseconds(10)); // let the load move on
    return false;
  };

  bool hiccups = tryUntilUndisturbed([&] {
    ThreadPool pool(2);
    if (!undisturbed(pool, microseconds(1000))) return false;
    EXPECT_EQ(pool.preemptedSpells(), 0) << "one brief stall";
    if (!undisturbed(pool, microseconds(1000))) return false;
    EXPECT_EQ(pool.preemptedSpells(), 1) << "two brief stalls in a row";
    return true;
  });
  bool slice = tryUntilUndisturbed([&] {
    ThreadPool pool(2);
    if (!undisturbed(pool, microseconds(5000))) return false;
    EXPECT_EQ(pool.preemptedSpells(), 1) << "one stall of a time slice";
    return true;
  });
  if (!hiccups || !slice) GTEST_SKIP() << "no undisturbed run in 3 s of tries (a loaded machine)";
}

TEST(ThreadPool, ShuffleRunsSomeLoopsAloneAndSomeSplit) {
  // GRADC_THREADS_SHUFFLE=1 (read when the pool is made) sends a
  // pseudo-random part of the loops down the alone path, one call over the
  // whole range: over 64 loops, both kinds must occur, and every index
  // still runs once.
  setenv("GRADC_THREADS_SHUFFLE", "1", 1);
  ThreadPool pool(2);
  unsetenv("GRADC_THREADS_SHUFFLE");
  int alone = 0, split = 0;
  for (int loop = 0; loop < 64; ++loop) {
    Cover c(1000);
    pool.run(1000, mark, &c);
    expectOnce(c, 1000, "shuffled loop");
    (c.calls.load() == 1 ? alone : split)++;
  }
  EXPECT_GT(alone, 8);
  EXPECT_GT(split, 8);
}

TEST(ThreadPool, LoopGroupsRunEveryIterationOfEachLoopOnce) {
  // Loops of odd sizes and weights, empty ones included, on no pool (the
  // caller alone), on 2 and 3 threads, and with the shuffle that runs some
  // groups in one call.
  std::mt19937 rng(7);
  for (int threads : {0, 2, 3, -2}) {
    if (threads < 0) setenv("GRADC_THREADS_SHUFFLE", "1", 1);
    std::unique_ptr<ThreadPool> pool = threads ? std::make_unique<ThreadPool>(std::abs(threads)) : nullptr;
    unsetenv("GRADC_THREADS_SHUFFLE");
    GrtContext ctx;
    ctx.pool = pool.get();
    for (int round = 0; round < 40; ++round) {
      int count = 1 + int(rng() % 70);
      std::vector<std::unique_ptr<Cover>> covers;
      std::vector<GrtLoop> loops;
      for (int i = 0; i < count; ++i) {
        int64_t n = std::vector<int64_t>{0, 1, 3, 7, 128, 1001}[rng() % 6];
        int64_t weight = std::vector<int64_t>{1, 5, 512, 65536}[rng() % 4];
        covers.push_back(std::make_unique<Cover>(n));
        loops.push_back(GrtLoop{n, weight, mark, covers.back().get()});
      }
      grt_parallel_loops(&ctx, count, loops.data());
      for (int i = 0; i < count; ++i) expectOnce(*covers[size_t(i)], loops[size_t(i)].n, "a loop of a group");
    }
  }
}
