//===- tools/BuildProgress.h - what a long `gradc build` is doing -*- C++ -*-===//
//
// A deep model takes a while to build: a 100-layer tiny GPT spends about 3 s
// in the passes and 12 s making machine code, and said nothing until it was
// done. Past 10 s, a line on stderr every 10 s says how long the build has
// run and what it is doing:
//
//   gradc: 10 s: making machine code for 10253 kernels on 2 threads
//
// The lines come from a thread of their own, so a phase that runs long
// (one LLVM call) is still reported. GRADC_PROGRESS_SECONDS=S sets the
// interval (the tests use a fraction of a second).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace gradc {

class BuildProgress {
public:
  BuildProgress();
  ~BuildProgress();
  BuildProgress(const BuildProgress &) = delete;
  BuildProgress &operator=(const BuildProgress &) = delete;

  /// What the build does from now on ("running the pass fusion").
  void doing(std::string what);
  /// No more lines: the build's last line comes after this.
  void stop();

private:
  void tick();

  std::mutex mu;
  std::condition_variable wake;
  bool done = false;
  std::string activity = "reading the model";
  double every = 10;
  std::thread ticker;
};

} // namespace gradc
