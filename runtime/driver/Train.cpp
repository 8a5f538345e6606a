//===- runtime/driver/Train.cpp - the `train` command ---------------------===//
#include "driver/Checkpoint.h"
#include "driver/Commands.h"
#include "core/FiniteCheck.h"
#include "driver/Plots.h"
#include "core/Profile.h"

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <sys/stat.h>

namespace grt {

namespace {

using Clock = std::chrono::steady_clock;

std::string duration(double s) {
  if (s < 60) return fmt::format("{:.1f}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", int(s) / 60, int(s) % 60);
  return fmt::format("{}h{:02}m", int(s) / 3600, int(s) / 60 % 60);
}

/// Milliseconds with four significant digits: 41.23, 0.0005012.
std::string millis(double seconds) {
  double ms = seconds * 1e3;
  return ms >= 1000 ? fmt::format("{:.0f}", ms) : fmt::format("{:.4g}", ms);
}

/// The parameters themselves, when there are few enough to read.
void printSmallParams(Session &s) {
  std::string line;
  int64_t total = 0;
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_PARAM) total += sl.numel;
  if (total > 12) return;
  for (auto &sl : s.slots) {
    if (sl.tensor->role != GRT_PARAM) continue;
    line += fmt::format("{}{} = [", line.empty() ? "" : "  ", sl.tensor->name);
    for (int64_t i = 0; i < sl.numel; ++i) line += fmt::format("{}{:.6g}", i ? ", " : "", Session::get(sl, i));
    line += "]";
  }
  fmt::print("learned: {}\n", line);
}

} // namespace

int cmdTrain(const GrtModel &m, int argc, char **argv) {
  Args a("train", argc, argv, 2,
         {"steps", "lr", "hp", "seed", "data", "val-frac", "save", "save-every", "load", "resume", "stop-after",
          "log-every", "eval-every", "threads", "plot"},
         {"quiet", "profile", "check-finite"});
  if (a.has("load") && a.has("resume")) fail("give --load or --resume, not both");
  std::string from = a.has("resume") ? a.str("resume") : a.str("load");
  std::string save = a.str("save");
  std::string plotDir = a.str("plot");
  if (!plotDir.empty() && mkdir(plotDir.c_str(), 0755) != 0 && errno != EEXIST)
    fail("cannot create the plot directory {}: {}", plotDir, std::strerror(errno));
  bool quiet = a.has("quiet");

  Session s(m, threadsOption(a));
  if (!s.has("train")) fail("the model has no train entry");
  // Timing every kernel costs two clock reads each; only when asked.
  std::unique_ptr<Profile> profile;
  if (a.has("profile")) s.ctx.profile = (profile = std::make_unique<Profile>(m)).get();
  // Scanning every stored value after every kernel is slow; a debug mode.
  std::unique_ptr<FiniteCheck> finite;
  if (a.has("check-finite")) s.ctx.finite = (finite = std::make_unique<FiniteCheck>(m)).get();
  DataOptions dopts = dataOptions(a);
  int64_t steps = a.integer("steps", 1000, 0);
  int64_t start = 0;
  s.initParams(dopts.seed);
  Metadata resumed;
  auto get = [&](const char *k) -> std::string {
    auto it = resumed.find(k);
    if (it == resumed.end()) fail("checkpoint {} has no '{}' in its metadata; it was not written by a gradc executable", from, k);
    return it->second;
  };
  std::string seedNote;
  if (!from.empty()) {
    resumed = loadCheckpoint(from, s);
    if (get("model") != m.name) fail("checkpoint {} is from model '{}', not '{}'", from, get("model"), m.name);
    start = std::atoll(get("step").c_str());
    if (!a.has("steps")) steps = std::atoll(get("total_steps").c_str());
    // The seed orders every epoch's batches, so a resumed run continues bit
    // for bit only with the seed it started with: settle it before the data
    // is loaded and shuffled.
    std::string saved = get("seed");
    char *end;
    uint64_t savedSeed = std::strtoull(saved.c_str(), &end, 10);
    if (saved.empty() || *end) fail("checkpoint {}: its seed '{}' is not a number", from, saved);
    if (!a.has("seed")) dopts.seed = savedSeed;
    seedNote = dopts.seed == savedSeed ? fmt::format(" with the checkpoint's seed {}", savedSeed)
                                       : fmt::format("; --seed {} overrides the checkpoint's seed {}", dopts.seed, savedSeed);
  }
  auto data = loadData(s, dopts);
  if (!from.empty() && !data->restoreState(get("data")))
    fail("checkpoint {}: its data position does not fit this data", from);
  applyHypers(s, a);
  s.setHyper("total_steps", double(steps));
  int64_t stopAt = std::min(steps, a.integer("stop-after", steps, 0));
  int64_t logEvery = a.integer("log-every", std::max<int64_t>(1, (stopAt - start) / 20), 1);
  int64_t evalEvery = a.integer("eval-every", logEvery, 1);
  int64_t saveEvery = a.integer("save-every", 0, 0);
  bool hasVal = data->numValBatches() > 0 && s.has("eval");

  auto checkpoint = [&](int64_t step) {
    Metadata meta{{"format", "gradc"},         {"model", m.name},
                  {"step", std::to_string(step)}, {"total_steps", std::to_string(steps)},
                  {"data", data->saveState()},  {"seed", std::to_string(dopts.seed)}};
    saveCheckpoint(save, s, meta);
  };

  if (!quiet) {
    fmt::print("training {} for {} steps; data {}\n", m.name, steps - start, data->describe());
    if (!from.empty()) fmt::print("resuming from {} at step {}{}\n", from, start, seedNote);
  }
  double lastLoss = NAN, windowLoss = 0, lastVal = NAN;
  int64_t windowSteps = 0;
  // Seconds spent in training steps (not validation, logging or saving),
  // over the whole run and since the last progress line.
  double trainSecs = 0, windowSecs = 0;
  std::vector<double> stepTimes;
  EvalResult val;
  History history;
  for (int64_t step = start; step < stopAt; ++step) {
    auto ts = Clock::now();
    data->nextTrainBatch(s);
    s.setHyper("step", double(step));
    s.run("train");
    double dt = std::chrono::duration<double>(Clock::now() - ts).count();
    trainSecs += dt;
    windowSecs += dt;
    stepTimes.push_back(dt);
    lastLoss = s.scalar(GRT_OUTPUT_PREFIX "loss");
    if (finite && finite->first())
      fail("step {}: the first value to go non-finite is {}", step + 1, FiniteCheck::describe(*finite->first()));
    if (!std::isfinite(lastLoss))
      fail("the loss became {} at step {}; lower the learning rate, or check the data for extreme values (train "
           "--check-finite names the first value that went non-finite)",
           lastLoss, step + 1);
    windowLoss += lastLoss;
    ++windowSteps;
    int64_t done = step + 1;
    bool last = done == stopAt;
    if (hasVal && (done % evalEvery == 0 || last)) {
      val = evaluate(s, *data);
      lastVal = val.loss;
      history.val.push_back({double(done), lastVal});
    }
    if (done % logEvery == 0 || last) {
      double perStep = windowSecs / double(windowSteps);
      double eta = trainSecs / double(done - start) * double(stopAt - done);
      std::string line = fmt::format("step {:>{}}/{}  loss {:.6f}", done, std::to_string(steps).size(), steps,
                                     windowLoss / double(windowSteps));
      if (hasVal) line += std::isnan(lastVal) ? std::string("  val -") : fmt::format("  val {:.6f}", lastVal);
      for (auto &[name, v] : val.metrics) line += fmt::format("  {} {:.4f}", name, v);
      if (s.find(GRT_OUTPUT_PREFIX "grad_norm") >= 0) line += fmt::format("  |g| {:.3g}", s.scalar(GRT_OUTPUT_PREFIX "grad_norm"));
      line += fmt::format("  | {} {}/s  {} ms/step  eta {}", humanCount(double(data->samplesPerBatch()) / perStep),
                          m.data_kind == GRT_DATA_TEXT ? "tokens" : "samples", millis(perStep), duration(eta));
      if (!quiet) {
        fmt::print("{}\n", line);
        std::fflush(stdout);
      }
      history.train.push_back({double(done), windowLoss / double(windowSteps)});
      if (!plotDir.empty()) plotLoss(plotDir, m, history);
      windowLoss = 0;
      windowSteps = 0;
      windowSecs = 0;
    }
    if (!save.empty() && saveEvery > 0 && done % saveEvery == 0 && !last) checkpoint(done);
  }
  if (!save.empty()) checkpoint(stopAt);
  std::sort(stepTimes.begin(), stepTimes.end());
  double median = stepTimes.empty() ? 0 : stepTimes[stepTimes.size() / 2];
  fmt::print("done: {} steps in {} (median {} ms/step); final loss {:.6f}", stopAt - start, duration(trainSecs),
             millis(median), lastLoss);
  if (hasVal) fmt::print(", validation loss {:.6f}", lastVal);
  for (auto &[name, v] : val.metrics) fmt::print(", {} {:.4f}", name, v);
  fmt::print("\n");
  if (!save.empty()) fmt::print("saved {}\n", save);
  if (!plotDir.empty()) {
    plotLoss(plotDir, m, history);
    std::string note = plotFit(plotDir, s, *data, stopAt);
    fmt::print("pictures: {}/loss.svg{}\n", plotDir, note.empty() ? fmt::format(", {}/fit.svg", plotDir) : " (" + note + ")");
  }
  printSmallParams(s);
  if (profile) profile->print("train", 25);
  return 0;
}

} // namespace grt
