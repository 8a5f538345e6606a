//===- tools/BuildProgress.cpp - what a long `gradc build` is doing -------===//
#include "BuildProgress.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <system_error>

namespace gradc {

BuildProgress::BuildProgress() {
  if (const char *s = std::getenv("GRADC_PROGRESS_SECONDS")) {
    char *end;
    double v = std::strtod(s, &end);
    if (*s && !*end && v > 0 && v < 1e6) every = v;
  }
  // Under a limit on memory or threads no thread may start: the build goes
  // on without its progress lines.
  try {
    ticker = std::thread([this] { tick(); });
  } catch (const std::system_error &) {
  }
}

BuildProgress::~BuildProgress() { stop(); }

void BuildProgress::stop() {
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  wake.notify_one();
  if (ticker.joinable()) ticker.join();
}

void BuildProgress::doing(std::string what) {
  std::lock_guard<std::mutex> lock(mu);
  activity = std::move(what);
}

void BuildProgress::tick() {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  std::unique_lock<std::mutex> lock(mu);
  for (int64_t n = 1;; ++n) {
    // Ticks missed while a line was written are skipped, not caught up
    // on: at GRADC_PROGRESS_SECONDS=0.000001 they came as 218 lines at once.
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    n = std::max<int64_t>(n, int64_t(elapsed / every) + 1);
    auto at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(double(n) * every));
    if (wake.wait_until(lock, at, [this] { return done; })) return;
    double secs = std::chrono::duration<double>(Clock::now() - start).count();
    // One write per line, so that it does not split a diagnostic the
    // main thread prints at the same moment.
    std::string line = fmt::format("gradc: {} s: {}\n", every < 1 ? fmt::format("{:.1f}", secs)
                                                                  : fmt::format("{:.0f}", secs),
                                   activity);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
}

} // namespace gradc
