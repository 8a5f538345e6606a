//===- runtime/driver/ThreadChoice.cpp - all threads, or one? -------------===//
#include "driver/ThreadChoice.h"

#include "core/ThreadPool.h"

#include <algorithm>
#include <fmt/format.h>

namespace grt {

ThreadChoice::ThreadChoice(GrtContext &ctx, ThreadPool *pool, bool enabled)
    : ctx(ctx), pool(pool), enabled(enabled && pool && pool->size() > 1) {}

void ThreadChoice::beforeStep() {
  if (!enabled) return;
  bool all = warmup > 0 || (probing ? probeAll : useAll);
  ctx.pool = all ? pool : nullptr;
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

static double sum(const std::vector<double> &v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

bool ThreadChoice::done() const {
  auto enough = [&](const std::vector<double> &v) {
    return int(v.size()) >= samples && (sum(v) >= kMinSeconds || int(v.size()) >= kMaxSamples);
  };
  return inBlock == 0 && enough(onAll) && enough(onOne);
}

std::string ThreadChoice::afterStep(double seconds) {
  if (!enabled) return "";
  if (warmup > 0) {
    --warmup;
    return "";
  }
  if (!probing) {
    sinceDecision += seconds;
    if (sinceDecision >= recheck) probing = true, samples = kSamplesAgain, probeAll = true, inBlock = 0;
    return "";
  }
  if (inBlock > 0) (probeAll ? onAll : onOne).push_back(seconds);
  if (++inBlock == kBlock) inBlock = 0, probeAll = !probeAll;
  if (!done()) return "";
  double all = median(onAll), one = median(onOne);
  size_t n = std::min(onAll.size(), onOne.size());
  bool was = useAll, first = !decided;
  // One thread must be clearly faster (5%) to give up the others.
  useAll = one > 0.95 * all;
  // The same choice again: look less often.
  recheck = !first && was == useAll ? std::min(2 * recheck, kMaxRecheck) : kFirstRecheck;
  decided = true, probing = false, sinceDecision = 0, probeAll = true;
  onAll.clear(), onOne.clear();
  ctx.pool = useAll ? pool : nullptr;
  // Say so when one thread wins, and whenever the choice changes.
  if (first ? useAll : was == useAll) return "";
  return fmt::format("threads: {} for this model here ({:.4g} ms/step on {} threads, {:.4g} on 1, medians of {} "
                     "steps each; measured again in {:.0f} s; --threads N fixes the count)",
                     useAll ? fmt::format("all {}", pool->size()) : std::string("1"), all * 1e3, pool->size(),
                     one * 1e3, n, recheck);
}

} // namespace grt
