//===- runtime/core/Profile.cpp - time spent per kernel -------------------===//
#include "core/Profile.h"

#include "core/ThreadPool.h"

#include <algorithm>
#include <numeric>
#include <string_view>

namespace grt {

Profile::Profile(const GrtModel &m)
    : model(m), seconds(m.num_entries), runs(m.num_entries, 0), gemmSeconds(m.num_entries, 0.0),
      gemmFlops(m.num_entries, 0.0), epilogueNanos(size_t(m.num_entries)), waitSeconds(m.num_entries, 0.0),
      waitLoops(m.num_entries, 0) {
  for (int i = 0; i < m.num_entries; ++i) seconds[i].assign(m.entries[i].num_kernels, 0.0);
  waited = seconds;
}

void Profile::begin(int entry, const ThreadPool *threads) {
  current = entry;
  ++runs[entry];
  pool = threads;
  waitedBefore = pool ? pool->callerWaitSeconds() : 0.0;
  last = Clock::now();
}

void Profile::kernelEnd(int kernel) {
  auto now = Clock::now();
  double wait = pool ? pool->callerWaitSeconds() : 0.0;
  if (current >= 0 && kernel >= 0 && size_t(kernel) < seconds[current].size()) {
    seconds[current][kernel] += std::chrono::duration<double>(now - last).count();
    waited[current][kernel] += wait - waitedBefore;
  }
  waitedBefore = wait;
  last = now;
}

void Profile::print(const char *entry, int top) const {
  int e = -1;
  for (int i = 0; i < model.num_entries; ++i)
    if (std::string_view(model.entries[i].name) == entry) e = i;
  if (e < 0 || runs[e] == 0) return;
  const auto &secs = seconds[e];
  double total = std::accumulate(secs.begin(), secs.end(), 0.0);
  std::vector<int> order(secs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return secs[a] > secs[b]; });
  fmt::print("profile of '{}': {} kernels, {:.3f} ms per run over {} runs\n", entry, secs.size(),
             total / double(runs[e]) * 1e3, runs[e]);
  // With threads, a column of how long the caller waited inside each
  // kernel for the other threads' chunks (included in us/run).
  bool waits = waitLoops[e] > 0;
  if (waits) fmt::print("  {:>6}  {:>9}  {:>7}  {:>5}  {}\n", "share", "us/run", "waited", "#", "kernel");
  else fmt::print("  {:>6}  {:>9}  {:>5}  {}\n", "share", "us/run", "#", "kernel");
  double shown = 0;
  for (int i = 0; i < std::min<int>(top, int(order.size())); ++i) {
    int k = order[i];
    shown += secs[k];
    const char *name = model.entries[e].kernel_names ? model.entries[e].kernel_names[k] : "?";
    double us = secs[k] / double(runs[e]) * 1e6, share = total > 0 ? 100 * secs[k] / total : 0.0;
    if (waits)
      fmt::print("  {:>5.1f}%  {:>9.1f}  {:>7.1f}  {:>5}  {}\n", share, us, waited[e][k] / double(runs[e]) * 1e6, k, name);
    else fmt::print("  {:>5.1f}%  {:>9.1f}  {:>5}  {}\n", share, us, k, name);
  }
  if (order.size() > size_t(top)) {
    double restShare = total > 0 ? 100 * (total - shown) / total : 0.0, restUs = (total - shown) / double(runs[e]) * 1e6;
    if (waits) {
      double restWait = 0;
      for (size_t i = size_t(top); i < order.size(); ++i) restWait += waited[e][size_t(order[i])];
      fmt::print("  {:>5.1f}%  {:>9.1f}  {:>7.1f}  {:>5}  ({} more kernels)\n", restShare, restUs,
                 restWait / double(runs[e]) * 1e6, "", order.size() - top);
    } else {
      fmt::print("  {:>5.1f}%  {:>9.1f}  {:>5}  ({} more kernels)\n", restShare, restUs, "", order.size() - top);
    }
  }

  // The same time grouped by what each kernel's stored value computes
  // ("%x = matmul : ..." counts as matmul).
  std::vector<std::pair<std::string, double>> byOp;
  for (size_t k = 0; k < secs.size(); ++k) {
    std::string_view name = model.entries[e].kernel_names ? model.entries[e].kernel_names[k] : "?";
    std::string op(name);
    if (auto eq = name.find(" = "); eq != std::string_view::npos) {
      auto rest = name.substr(eq + 3);
      op = std::string(rest.substr(0, rest.find(' ')));
    } else {
      op = std::string(name.substr(0, name.find(' ')));
    }
    auto it = std::find_if(byOp.begin(), byOp.end(), [&](auto &p) { return p.first == op; });
    if (it == byOp.end()) byOp.push_back({op, secs[k]});
    else it->second += secs[k];
  }
  std::stable_sort(byOp.begin(), byOp.end(), [](auto &a, auto &b) { return a.second > b.second; });
  fmt::print("  by the operation a kernel stores:");
  for (auto &[op, t] : byOp) fmt::print(" {} {:.1f}%", op, total > 0 ? 100 * t / total : 0.0);
  fmt::print("\n");
  // A kernel that stores a matmul's epilogue (bias, GELU, residual) spends
  // most of its time in the runtime's GEMM; this splits that out.
  if (gemmSeconds[e] > 0)
    fmt::print("  in the runtime GEMM: {:.1f}% ({:.1f} GFLOP/s); in generated loops: {:.1f}%\n",
               total > 0 ? 100 * gemmSeconds[e] / total : 0.0, gemmFlops[e] / gemmSeconds[e] / 1e9,
               total > 0 ? 100 * (total - gemmSeconds[e]) / total : 0.0);
  // The epilogues run inside the GEMM's time, on whichever thread finished
  // the rows: their time is summed over threads (at one thread, a share of
  // the step; the GEMM's rate above counts them as GEMM time).
  if (double epi = double(epilogueNanos[e].load()) * 1e-9; epi > 0)
    fmt::print("  of which epilogues (bias, activation, residual on the rows a GEMM finishes): {:.1f} us per run, "
               "summed over threads\n",
               epi / double(runs[e]) * 1e6);
  // Time the caller spent waiting for the other threads is time one core
  // idled: on two threads, the imbalance of the split loops plus the
  // hand-offs (runtime/core/ThreadPool.cpp).
  if (waitLoops[e] > 0)
    fmt::print("  threads: the caller waited {:.1f} us per run ({:.1f}%) for other threads to finish their chunks, "
               "over {:.0f} loops split per run\n",
               waitSeconds[e] / double(runs[e]) * 1e6, total > 0 ? 100 * waitSeconds[e] / total : 0.0,
               double(waitLoops[e]) / double(runs[e]));
}

} // namespace grt
