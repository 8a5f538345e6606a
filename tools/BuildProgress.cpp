//===- tools/BuildProgress.cpp - what a long `gradc build` is doing -------===//
#include "BuildProgress.h"

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

BuildProgress::~BuildProgress() {
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
  for (int n = 1;; ++n) {
    auto at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(n * every));
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
