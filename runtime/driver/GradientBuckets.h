//===- runtime/driver/GradientBuckets.h - average gradients during backward ===//
//
// The backward pass finishes the last layers' gradients first. A
// data-parallel step need not wait for the first layers' before it starts
// averaging the last ones': as PyTorch DDP does, the gradient buffer is cut
// into buckets of about 1 MiB (whole gradients, contiguous in the buffer),
// and a communication thread averages each bucket across the processes as
// soon as the kernel that stores its last gradient has run, while the main
// thread goes on with the backward pass.
//
// Which kernel finishes which gradient comes from the descriptor: each
// entry lists what every kernel stores (GrtEntry.stored), and generated
// code calls grt_kernel_end after each kernel.
//
// Without overlap (the default on one machine, see Train.cpp) there is one
// bucket, the whole buffer, averaged by the main thread after the backward
// pass: the same collective, with no second thread.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "driver/Cluster.h"
#include "driver/Session.h"

#include <condition_variable>
#include <mutex>
#include <thread>

namespace grt {

class GradientBuckets {
public:
  /// Overlapped averaging in buckets of about bucketBytes, or, with
  /// overlap false, one average of the whole buffer after the pass.
  GradientBuckets(Session &s, Cluster &c, bool overlap, int64_t bucketBytes = int64_t(1) << 20);
  ~GradientBuckets();

  /// Runs the grads entry and returns once every gradient is averaged.
  void run();

  /// Buckets, and the kernels that finish them (for the log).
  size_t size() const { return buckets.size(); }
  bool overlapped() const { return worker.joinable(); }
  /// Seconds, over all steps: the communication thread averaging, and the
  /// main thread waiting for it after the backward pass (what overlap did
  /// not hide).
  double averagingSeconds = 0, waitingSeconds = 0;

private:
  struct Bucket {
    int64_t first, count; // elements of Session::gradients
    int32_t readyAfter;   // the kernel that stores its last gradient
  };
  static void onKernelEnd(void *self, int32_t kernel);
  void handOver(size_t upTo);
  void work();

  Session &s;
  Cluster &cluster;
  std::vector<Bucket> buckets; // in the order they become ready
  size_t handed = 0;           // main thread: buckets given to the worker this step

  std::mutex mutex;
  std::condition_variable wake, finished;
  size_t ready = 0, done = 0; // under `mutex`
  bool quit = false;
  std::thread worker;
};

} // namespace grt
