//===- runtime/core/ThreadPool.cpp - workers for parallel loops -----------===//
#include "core/ThreadPool.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <pthread.h>
#include <cstdlib>
#include <string_view>

#if defined(__x86_64__)
#include <immintrin.h>
#define GRT_PAUSE() _mm_pause()
#else
#define GRT_PAUSE() std::this_thread::yield()
#endif

namespace grt {

namespace {
/// How long an idle worker spins before it sleeps, and after how long its
/// spinning yields the CPU to any other runnable thread. A training step
/// has serial stretches of a few milliseconds (small kernels, the data
/// batch); a worker asleep by then takes tens of microseconds to wake for
/// the next parallel kernel, and the caller waits. Spinning 5 ms instead
/// of 0.2 ms measured 4–8% off the GPT's step on 2 threads; yielding after
/// 0.2 ms keeps the spin from starving other processes (ctest -j2).
constexpr auto kSpin = std::chrono::microseconds(5000);
constexpr auto kSpinPause = std::chrono::microseconds(200);

/// How long past its own chunks' time the caller spins, waiting for the
/// chunks other threads run, before it blocks. A worker that runs finishes
/// its chunk about when the caller finished its own; one that does not was
/// preempted, and blocking frees the caller's core (a fixed 1024 pauses,
/// ~50 µs, blocked on many of the GPT's GEMMs, and the futex wake-up cost a
/// few percent of its step).
constexpr auto kCallerSpin = std::chrono::microseconds(100);

/// Chunks per thread: enough that the threads still running can take a
/// preempted thread's share, few enough that taking one stays cheap.
constexpr int kChunksPerThread = 4;

/// A caller that waits this much longer than its own chunks took (twice)
/// for another thread's chunk takes it that the thread was preempted; two
/// such loops within kConfirm, and the workers sit out between kSoloMin and
/// kSoloMax.
constexpr auto kLate = std::chrono::microseconds(300);
constexpr auto kConfirm = std::chrono::milliseconds(20);
/// A wait this long is another process's scheduler time slice, not a hiccup.
constexpr auto kSlice = std::chrono::microseconds(3000);
constexpr auto kSoloMin = std::chrono::milliseconds(20);
constexpr auto kSoloMax = std::chrono::milliseconds(1000);

constexpr uint64_t kIndexMask = 0xffff, kEndShift = 16, kJobShift = 32;
constexpr int kMaxChunks = 0xffff;

uint64_t pack(uint32_t job, int end, int index) {
  return uint64_t(job) << kJobShift | uint64_t(end) << kEndShift | uint64_t(index);
}
/// A job's word: its number and chunk count, read together by the workers.
uint64_t jobWord(uint32_t job, int chunks) { return uint64_t(job) << kJobShift | uint64_t(chunks); }
uint32_t jobOf(uint64_t word) { return uint32_t(word >> kJobShift); }
} // namespace

ThreadPool::ThreadPool(int threads) : homes(std::make_unique<Home[]>(size_t(std::max(threads, 1)))) {
  const char *s = std::getenv("GRADC_THREADS_SHUFFLE");
  shuffle = s && *s && std::string_view(s) != "0";
  // Ctrl-C and SIGTERM go to the caller's thread, never to a worker (the
  // workers inherit a mask that blocks them): a worker that took the second
  // of two signals sent together and was then not scheduled let the caller
  // finish a clean stop first, and the process died of that signal after
  // saying it had stopped.
  sigset_t stops, before;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stops, &before);
  for (int i = 1; i < threads; ++i) workers.emplace_back([this, i] { work(i); });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

ThreadPool::~ThreadPool() {
  stopping.store(true);
  {
    std::lock_guard<std::mutex> lock(mu);
    job.word.store(jobWord(++jobs, 0), std::memory_order_seq_cst);
  }
  wake.notify_all();
  for (auto &t : workers) t.join();
}

int ThreadPool::takeChunks(uint64_t word, int self) {
  uint32_t j = jobOf(word);
  int taken = 0, threads = size(), total = int(word & kIndexMask);
  for (int k = 0; k < threads; ++k) {
    int h = (self + k) % threads, first = total * h / threads, end = total * (h + 1) / threads;
    if (first == end) continue; // no chunk is that thread's (and its counter may lag: leave it)
    std::atomic<uint64_t> &next = homes[size_t(h)].next;
    uint64_t v = next.load(std::memory_order_acquire);
    while (true) {
      // The counter names an earlier job (its first chunk is untaken), this
      // one, or a later one (this thread is behind: nothing here is its).
      auto age = int32_t(jobOf(v) - j);
      int index = age < 0 ? first : int(v & kIndexMask);
      if (age > 0 || (age == 0 && index >= int(v >> kEndShift & kIndexMask))) break;
      uint64_t want = age < 0 ? pack(j, end, first + 1) : v + 1;
      if (!next.compare_exchange_weak(v, want, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      ++taken;
      // Chunk `index` is ours: the job stays current until we report it
      // done, so its fields are this job's.
      int64_t n = job.n, begin = n * index / total, stop = n * (index + 1) / total;
      if (begin < stop) job.body(job.data, begin, stop);
      v = next.load(std::memory_order_acquire);
    }
  }
  // Reported once for all the chunks this thread ran, not chunk by chunk:
  // the caller spins reading the count, so each report moves its cache line
  // between the cores, and the caller needs only the last.
  if (taken > 0) {
    done.chunks.fetch_add(uint32_t(taken), std::memory_order_seq_cst);
    if (done.callerWaiting.load(std::memory_order_seq_cst)) done.chunks.notify_all();
  }
  return taken;
}

void ThreadPool::run(int64_t count, GrtParallelBody fn, void *arg, int maxChunks) {
  int threads = size();
  auto now = Clock::now();
  bool alone = false;
  if (shuffle) {
    shuffleState = shuffleState * 6364136223846793005u + 1442695040888963407u;
    alone = (shuffleState >> 63) != 0;
  }
  if (threads == 1 || count < 2 || now < soloUntil || alone) {
    fn(arg, 0, count);
    return;
  }
  int total = maxChunks > 0 ? maxChunks : threads * kChunksPerThread;
  total = int(std::min<int64_t>({count, total, kMaxChunks}));
  // Publish the fields, then the word that names the job (release: a thread
  // that sees the word and takes a chunk sees the fields). Sequentially
  // consistent, with the load of `sleepers` after it: a worker going to
  // sleep counts itself a sleeper and then checks the word, so either it
  // sees this job or this sees it asleep.
  job.n = count;
  job.body = fn;
  job.data = arg;
  uint64_t word = jobWord(++jobs, total);
  job.word.store(word, std::memory_order_seq_cst);
  doneTarget += uint32_t(total);
  if (sleepers.load(std::memory_order_seq_cst) > 0) {
    // The lock waits out a worker between its check and its wait.
    { std::lock_guard<std::mutex> lock(mu); }
    wake.notify_all();
  }
  int mine = takeChunks(word, 0);
  auto taken = Clock::now();
  // Every chunk is taken; wait for those still running elsewhere: spin as
  // long as a chunk of this loop should take (plus a margin), then block.
  auto spinUntil = taken + (mine > 0 ? (taken - now) / mine : Clock::duration{}) + kCallerSpin;
  auto missing = [&](uint32_t d) { return int32_t(d - doneTarget) < 0; };
  for (int spins = 0; missing(done.chunks.load(std::memory_order_acquire)); ++spins) {
    if (spins % 64 != 0 || Clock::now() < spinUntil) {
      GRT_PAUSE();
      continue;
    }
    done.callerWaiting.store(1, std::memory_order_seq_cst);
    uint32_t d = done.chunks.load(std::memory_order_seq_cst);
    if (missing(d)) done.chunks.wait(d, std::memory_order_seq_cst);
    done.callerWaiting.store(0, std::memory_order_relaxed);
  }
  auto end = Clock::now();
  ++loopsSplit;
  callerWaited += end - taken;
  if (mine > 0) noteWait((taken - now) / mine, end - taken, taken);
}

void ThreadPool::noteWait(Clock::duration perChunk, Clock::duration waited, Clock::time_point at) {
  // Chunks of one loop are the same size, so a worker's last chunk should
  // end about when the caller's did. Waiting much longer means the worker
  // was held up mid-chunk.
  if (waited < 2 * perChunk + kLate) return;
  // Once, briefly, is a hiccup: on a 2-vCPU virtual machine with nothing
  // else running, a worker stalled 0.4-2 ms about every 180 ms (10 times in
  // 100 GPT steps; the hypervisor's doing, presumably), and sitting the
  // workers out 20 ms each time made the 2-thread step 5% slower on median
  // and, as spells doubled, once 60%. Another process on the worker's core
  // holds it up a whole scheduler time slice (3.7-4.4 ms measured), and
  // again within milliseconds; while that goes on, the caller alone is
  // faster. So a wait of a time slice, or a second late loop within
  // kConfirm, leaves the workers out for a while, twice as long each time
  // it starts again soon after the last spell; then they are tried again.
  bool again = at < soloUntil + 2 * soloFor, confirmed = at < lastLate + kConfirm || waited >= kSlice;
  lastLate = at;
  if (!again && !confirmed) return;
  soloFor = again ? std::min<Clock::duration>(2 * soloFor, kSoloMax) : kSoloMin;
  soloUntil = at + soloFor;
  ++soloSpells;
}

void ThreadPool::work(int self) {
  uint64_t seen = 0;
  while (true) {
    // Spin for a new job, then sleep until one comes.
    auto start = std::chrono::steady_clock::now(), until = start + kSpin, yieldAfter = start + kSpinPause;
    uint64_t w;
    int spins = 0;
    bool yielding = false;
    while ((w = job.word.load(std::memory_order_acquire)) == seen) {
      if (yielding) std::this_thread::yield();
      else GRT_PAUSE();
      if (++spins % 256 != 0) continue;
      auto now = std::chrono::steady_clock::now();
      yielding = now > yieldAfter;
      if (now > until) {
        std::unique_lock<std::mutex> lock(mu);
        sleepers.fetch_add(1, std::memory_order_seq_cst);
        wake.wait(lock, [&] { return job.word.load(std::memory_order_seq_cst) != seen; });
        sleepers.fetch_sub(1, std::memory_order_seq_cst);
      }
    }
    seen = w;
    if (stopping.load()) return;
    // This job, or a later one if this worker fell behind: it then takes
    // chunks of whichever its word names, and none of one that ended.
    takeChunks(w, self);
  }
}

} // namespace grt
