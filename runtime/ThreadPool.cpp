//===- runtime/ThreadPool.cpp - workers for parallel loops ----------------===//

//===----------------------------------------------------------------------===//
#include "ThreadPool.h"

namespace grt {

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers.emplace_back([this, i] { work(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
    ++generation;
  }
  wake.notify_all();
  for (auto &t : workers) t.join();
}

static void part(int64_t n, int parts, int index, int64_t &begin, int64_t &end) {
  begin = n * index / parts;
  end = n * (index + 1) / parts;
}

void ThreadPool::run(int64_t count, GrtParallelBody fn, void *arg) {
  int parts = size();
  if (parts == 1 || count < 2) {
    fn(arg, 0, count);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    n = count;
    body = fn;
    data = arg;
    pending.store(parts - 1, std::memory_order_relaxed);
    ++generation;
  }
  wake.notify_all();
  int64_t b, e;
  part(count, parts, 0, b, e);
  if (b < e) fn(arg, b, e);
  while (pending.load(std::memory_order_acquire) > 0) std::this_thread::yield();
}

void ThreadPool::work(int index) {
  uint64_t seen = 0;
  while (true) {
    std::unique_lock<std::mutex> lock(mu);
    wake.wait(lock, [&] { return generation != seen; });
    seen = generation;
    if (stopping) return;
    int64_t count = n;
    GrtParallelBody fn = body;
    void *arg = data;
    lock.unlock();
    int64_t b, e;
    part(count, size(), index, b, e);
    if (b < e) fn(arg, b, e);
    pending.fetch_sub(1, std::memory_order_acq_rel);
  }
}

} // namespace grt
