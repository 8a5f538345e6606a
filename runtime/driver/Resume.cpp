//===- runtime/driver/Resume.cpp - what `train --resume` reads back -------===//
#include "driver/Resume.h"

#include "driver/Args.h"

#include "gradrt/hypers.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace grt {

std::string optimizerName(const GrtModel &m) {
  std::string_view o = m.optimizer ? m.optimizer : "";
  return std::string(o.substr(0, o.find('(')));
}

const char *positionUnit(const GrtModel &m) { return m.data_kind == GRT_DATA_TEXT ? "tokens" : "rows"; }

SavedRun readSavedRun(const Metadata &meta, const std::string &from, const GrtModel &m) {
  SavedRun r;
  // Step counts: whole numbers, nothing else ("-50", "abc", "1e3" and
  // "12x" are all refused).
  auto count = [&](const char *k) -> int64_t {
    const std::string &v = requiredField(meta, k, from);
    int64_t x = -1;
    if (!parseCount(v, x)) fail("checkpoint {}: its {} '{}' is not a whole number of steps", from, k, shown(v));
    if (x > kMaxSteps) fail("checkpoint {}: its {} {} is more than the {} steps a run may have", from, k, x, kMaxSteps);
    return x;
  };
  r.step = count("step");
  // The loss curve so far, for --plot (and for the next checkpoint, so a
  // later resume with --plot draws it too).
  auto savedTrain = meta.find("history.train"), savedVal = meta.find("history.val");
  r.hasHistory = savedTrain != meta.end() && savedVal != meta.end();
  if (r.hasHistory)
    for (auto [field, series] : {std::pair{savedTrain, &r.history.train}, std::pair{savedVal, &r.history.val}})
      if (std::string why = History::fromText(field->second, r.step, *series); !why.empty())
        fail("checkpoint {}: its {} is malformed: {}", from, field->first, why);
  // A run stopped between two progress lines (--stop-after 30 with lines
  // every 20, or killed after a --save-every save) goes on with that
  // line's steps and losses, so its line, and the point it plots, is the
  // mean over the same steps as a straight run's: it averaged the resumed
  // steps only.
  if (meta.count("log_every")) {
    r.logEvery = count("log_every");
    if (r.logEvery < 1) fail("checkpoint {}: its log_every is 0; progress lines come every 1 or more steps", from);
  }
  // Its --eval-every, as its --log-every (checkpoints from before it was
  // stored have none: validation comes with each line).
  if (meta.count("eval_every")) {
    r.evalEvery = count("eval_every");
    if (r.evalEvery < 1) fail("checkpoint {}: its eval_every is 0; validation comes every 1 or more steps", from);
  }
  if (meta.count("window_steps") || meta.count("window_loss")) {
    r.windowSteps = count("window_steps");
    if (r.windowSteps > r.step)
      fail("checkpoint {}: its window_steps {} is more than the {} steps it has trained", from, r.windowSteps, r.step);
    const std::string &text = requiredField(meta, "window_loss", from);
    char *end;
    r.windowLoss = std::strtod(text.c_str(), &end);
    if (text.empty() || *end || !std::isfinite(r.windowLoss))
      fail("checkpoint {}: its window_loss '{}' is not a finite number", from, shown(text));
  }
  r.totalSteps = count("total_steps");
  if (r.step > r.totalSteps)
    fail("checkpoint {}: its step {} is past its total of {} steps", from, r.step, r.totalSteps);
  r.seed = checkpointSeed(meta, from);
  if (auto it = meta.find("precision"); it != meta.end()) {
    if (it->second != "f32" && it->second != "bf16")
      fail("checkpoint {}: its precision '{}' is neither f32 nor bf16", from, shown(it->second));
    r.precision = it->second;
  }
  if (auto it = meta.find("val_frac"); it != meta.end()) {
    char *end;
    double frac = std::strtod(it->second.c_str(), &end);
    if (it->second.empty() || *end || !(frac >= 0 && frac < 1))
      fail("checkpoint {}: its val_frac '{}' is not a fraction in [0, 1)", from, shown(it->second));
    r.valFrac = frac;
  }
  if (auto it = meta.find("val_batches"); it != meta.end()) {
    int64_t n = 0;
    if (!parseCount(it->second, n) || n < 1 || n > 100000)
      fail("checkpoint {}: its val_batches '{}' is not a number from 1 to 100000", from, shown(it->second));
    r.valBatches = int(n);
  }
  // Its processes and global batch: whole numbers, a share of the batch
  // for each process, as a save writes them. A hand-edited 0, -1 or
  // 99999999999999999999 went into the note train prints unchecked.
  auto number = [&](const char *k, int64_t max, const std::string &what) -> int64_t {
    const std::string &v = meta.at(k);
    int64_t x = 0;
    if (!parseCount(v, x) || x < 1 || x > max)
      fail("checkpoint {}: its {} '{}' is not {} from 1 to {}", from, k, shown(v), what, max);
    return x;
  };
  if (meta.count("world")) r.world = number("world", INT32_MAX, "a number of processes");
  if (meta.count("global_batch")) {
    r.globalBatch = number("global_batch", INT64_MAX, fmt::format("a number of {}", positionUnit(m)));
    // Each process's share fills one batch of inputs, a tensor of at
    // most 2^37 elements.
    constexpr int64_t kMaxShare = int64_t(1) << 37;
    if (r.globalBatch % r.world != 0 || r.globalBatch / r.world > kMaxShare)
      fail("checkpoint {}: its global_batch {} does not split into equal shares of at most {} {} for its {} process{}",
           from, r.globalBatch, kMaxShare, positionUnit(m), r.world, r.world == 1 ? "" : "es");
  }
  r.data = requiredField(meta, "data", from);
  if (auto it = meta.find("data_id"); it != meta.end()) r.dataId = it->second;
  if (auto it = meta.find("data_path"); it != meta.end()) r.dataPath = it->second;
  return r;
}

/// On resume, the checkpoint's hyperparameters continue the run, in place
/// of the values compiled into the model (a note names each that differs);
/// one given again with --lr or --hp wins, and a note says what it changed.
/// A checkpoint of another optimizer (SGD resumed by an AdamW build) gives
/// none: its learning rate was chosen for that optimizer, so the model's
/// own values apply, and a note says so. One the model does not have (a
/// momentum, weight decay or warmup of the saved run's optimizer or
/// schedule) cannot go on: like a tensor the model lacks, it is an error
/// unless --partial-load, which ignores it.
void restoreHypers(Session &s, const Args &a, const Metadata &meta, const std::string &from,
                   std::vector<std::string> &overrides) {
  std::vector<std::string> given, ignored;
  if (a.has("lr")) given.push_back("lr");
  for (auto &kv : a.all("hp")) given.push_back(kv.substr(0, kv.find('=')));
  auto isGiven = [&](const std::string &name) { return std::find(given.begin(), given.end(), name) != given.end(); };
  // Checkpoints from before the optimizer was stored: taken as this one's.
  auto savedOpt = meta.find("optimizer");
  std::string mine = optimizerName(s.model);
  bool otherOptimizer = savedOpt != meta.end() && savedOpt->second != mine;
  for (auto &[key, text] : meta) {
    if (key.rfind("hp.", 0) != 0) continue;
    std::string name = key.substr(3);
    // As strictly as a saved count: decimal only (strtod took " 5" and
    // "0x10", which no save writes).
    double v = 0;
    if (parseReal(text, v) != NumberText::Ok)
      fail("checkpoint {}: its hyperparameter {} is '{}', not a number", from, shown(name), shown(text));
    int i = s.find(name);
    // The step, the seed and such are the run's own, kept elsewhere in a
    // checkpoint: an hp.step was told to be another optimizer's.
    if (Session::runtimeHyperName(name.c_str()))
      fail("checkpoint {} has hyperparameter {} ({:.6g}), which the run sets itself, and no save writes; the file was "
           "edited or written by other software",
           from, shown(name), v);
    if (i < 0 || !Session::isUserHyper(*s.slots[i].tensor)) {
      if (!a.has("partial-load"))
        fail("checkpoint {} has hyperparameter {} ({:.6g}), which this model does not have ({}); --partial-load "
             "resumes without it",
             from, shown(name), v,
             otherOptimizer ? fmt::format("the checkpoint was trained with {}, this model trains with {}",
                                          shown(savedOpt->second), mine)
                            : std::string("it was saved by another optimizer or schedule"));
      ignored.push_back(fmt::format("{} ({:.6g})", shown(name), v));
      continue;
    }
    if (otherOptimizer) continue;
    double now = Session::get(s.slots[i], 0);
    if (!isGiven(name)) {
      // Checked only where it is used: a flag that sets another value
      // resumes a checkpoint whose own no longer passes (warmup = 2.5
      // built before warmup had to be a whole number of steps).
      if (const char *why = hyperRangeError(name.c_str(), v, s.hyperInF32(int(i))))
        fail("checkpoint {}: its hyperparameter {} is {}, but it {}; {} sets another", from, shown(name), v, why,
             name == "lr" ? "--lr" : "--hp " + name + "=X");
      if (now != v)
        overrides.push_back(fmt::format("the checkpoint's {} {:.6g} continues the run, in place of the {:.6g} this "
                                        "model was compiled with ({} sets another)",
                                        name, v, now, name == "lr" ? "--lr" : "--hp " + name + "=X"));
      Session::set(s.slots[i], 0, v);
      continue;
    }
    if (now != v)
      overrides.push_back(fmt::format("{} overrides the checkpoint's {:.6g}",
                                      name == "lr" && a.has("lr") ? fmt::format("--lr {:.6g}", now)
                                                                  : fmt::format("--hp {}={:.6g}", name, now),
                                      v));
  }
  if (!ignored.empty())
    overrides.push_back(fmt::format("--partial-load: ignoring the checkpoint's hyperparameter{} {}, which this model "
                                    "does not have: the run goes on without {}",
                                    ignored.size() == 1 ? "" : "s", fmt::join(ignored, ", "),
                                    ignored.size() == 1 ? "it" : "them"));
  if (otherOptimizer) {
    std::vector<std::string> values;
    for (auto &sl : s.slots)
      if (Session::isUserHyper(*sl.tensor)) values.push_back(fmt::format("{} {:.6g}", sl.tensor->name, Session::get(sl, 0)));
    overrides.push_back(fmt::format("the checkpoint was trained with {}, this model trains with {}: the checkpoint's "
                                    "hyperparameters do not carry over: this model's own apply ({}; --lr and --hp "
                                    "set them)",
                                    shown(savedOpt->second), mine, fmt::join(values, ", ")));
    return;
  }
  // A hyperparameter the saved run did not have (an SGD checkpoint
  // resumed by an SGD model with momentum) takes the model's value.
  for (auto &sl : s.slots)
    if (Session::isUserHyper(*sl.tensor) && !meta.count(std::string("hp.") + sl.tensor->name) && !isGiven(sl.tensor->name))
      overrides.push_back(fmt::format("the checkpoint has no hyperparameter {} (saved by another optimizer or "
                                      "schedule): it takes this model's {:.6g}",
                                      sl.tensor->name, Session::get(sl, 0)));
}

} // namespace grt
