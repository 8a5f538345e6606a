//===- runtime/driver/GradientBuckets.cpp - average gradients during backward ===//
#include "driver/GradientBuckets.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <pthread.h>

namespace grt {

using Clock = std::chrono::steady_clock;

GradientBuckets::GradientBuckets(Session &s, Cluster &c, bool overlap, int64_t bucketBytes) : s(s), cluster(c) {
  if (!overlap) {
    buckets.push_back({0, s.gradients.count, -1});
    return;
  }
  const GrtEntry *e = s.entry(GRT_ENTRY_GRADS);
  const int64_t eb = int64_t(dtypeBytes(s.gradients.dtype));
  // Each gradient: where it lies in the buffer, and the last kernel that
  // stores into it or reads it (the end of the entry when none is listed):
  // a gradient another one is computed from must not be averaged before.
  struct Grad {
    int64_t first;
    int32_t ready;
  };
  std::vector<Grad> grads;
  for (size_t i = 0; i < s.slots.size(); ++i) {
    const Session::Slot &sl = s.slots[i];
    if (!sl.borrowed || sl.tensor->role != GRT_OUTPUT) continue;
    int32_t ready = -1;
    for (int64_t k = 0; k < e->num_stored; ++k)
      if (e->stored[k].tensor == int32_t(i)) ready = std::max({ready, e->stored[k].kernel, e->stored[k].last_read});
    grads.push_back({(static_cast<char *>(sl.data) - static_cast<char *>(s.gradients.data)) / eb,
                     ready < 0 ? e->num_kernels : ready});
  }
  std::sort(grads.begin(), grads.end(), [](const Grad &a, const Grad &b) { return a.first < b.first; });
  // Buckets tile the buffer from its end (the last layers', finished
  // first), each holding whole gradients, at least bucketBytes of them.
  int64_t end = s.gradients.count;
  int32_t ready = -1;
  for (size_t i = grads.size(); i-- > 0;) {
    ready = std::max(ready, grads[i].ready);
    if ((end - grads[i].first) * eb >= bucketBytes || i == 0) {
      int64_t first = i == 0 ? 0 : grads[i].first;
      buckets.push_back({first, end - first, ready});
      end = first;
      ready = -1;
    }
  }
  std::stable_sort(buckets.begin(), buckets.end(), [](const Bucket &a, const Bucket &b) { return a.readyAfter < b.readyAfter; });
  // As the pool's workers: Ctrl-C and SIGTERM are the main thread's.
  sigset_t stops, before;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stops, &before);
  worker = std::thread([this] { work(); });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

GradientBuckets::~GradientBuckets() {
  if (!worker.joinable()) return;
  {
    std::lock_guard<std::mutex> l(mutex);
    quit = true;
  }
  wake.notify_one();
  worker.join();
}

void GradientBuckets::run() {
  if (!overlapped()) {
    s.run(GRT_ENTRY_GRADS);
    auto t0 = Clock::now();
    cluster.average(s.gradients.data, s.gradients.count, s.gradients.dtype);
    double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    waitingSeconds += dt;
    averagingSeconds += dt;
    return;
  }
  {
    std::lock_guard<std::mutex> l(mutex);
    ready = done = 0;
  }
  handed = 0;
  s.ctx.kernelHook = &GradientBuckets::onKernelEnd;
  s.ctx.kernelHookData = this;
  s.run(GRT_ENTRY_GRADS);
  s.ctx.kernelHook = nullptr;
  handOver(buckets.size());
  auto t0 = Clock::now();
  std::unique_lock<std::mutex> l(mutex);
  finished.wait(l, [&] { return done == buckets.size(); });
  waitingSeconds += std::chrono::duration<double>(Clock::now() - t0).count();
}

void GradientBuckets::onKernelEnd(void *self, int32_t kernel) {
  auto *gb = static_cast<GradientBuckets *>(self);
  size_t n = gb->handed;
  while (n < gb->buckets.size() && gb->buckets[n].readyAfter <= kernel) ++n;
  if (n > gb->handed) gb->handOver(n);
}

void GradientBuckets::handOver(size_t upTo) {
  {
    std::lock_guard<std::mutex> l(mutex);
    ready = upTo;
  }
  handed = upTo;
  wake.notify_one();
}

void GradientBuckets::work() {
  // This thread shares its core with the backward pass: it waits for
  // messages sleeping, not spinning.
  cluster.pollGently();
  for (;;) {
    Bucket b;
    {
      std::unique_lock<std::mutex> l(mutex);
      wake.wait(l, [&] { return quit || done < ready; });
      if (quit) return;
      b = buckets[done];
    }
    auto t0 = Clock::now();
    cluster.average(static_cast<char *>(s.gradients.data) + b.first * int64_t(dtypeBytes(s.gradients.dtype)), b.count,
                    s.gradients.dtype);
    averagingSeconds += std::chrono::duration<double>(Clock::now() - t0).count();
    {
      std::lock_guard<std::mutex> l(mutex);
      ++done;
    }
    finished.notify_one();
  }
}

} // namespace grt
