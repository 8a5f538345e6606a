//===- runtime/driver/TrainSaves.cpp - `train`: its checkpoints -----------===//
//
// A run saves to --save every --save-every steps and at its end. A
// periodic save that fails (a full disk) does not end the run; the final
// one, which holds the whole run, is rescued to the temporary directory.
// What --save holds at any moment is recorded (StopSignals.h), for the
// line a second Ctrl-C prints as it quits and for the error that ends a
// data-parallel run whose other processes are gone.
//
//===----------------------------------------------------------------------===//
#include "driver/AtomicFile.h"
#include "driver/StopSignals.h"
#include "driver/TrainRun.h"

#include <sys/stat.h>

namespace grt {

namespace {

/// Every hyperparameter's value goes into the checkpoint as "hp.NAME",
/// exactly (17 digits), so a resumed run uses what the saved one did.
void saveHypers(Session &s, Metadata &meta) {
  for (auto &sl : s.slots)
    if (Session::isUserHyper(*sl.tensor)) meta[std::string("hp.") + sl.tensor->name] = fmt::format("{:.17g}", Session::get(sl, 0));
}

} // namespace

Metadata TrainRun::metadata(int64_t step) const {
  Metadata meta{{"format", "gradc"},         {"model", m.name},
                {"step", std::to_string(step)}, {"total_steps", std::to_string(steps)},
                {"data", data->saveState()},  {"seed", std::to_string(dopts.seed)},
                {"val_frac", fmt::format("{:.17g}", dopts.valFraction)}, {"data_id", data->identity()},
                {"val_batches", std::to_string(dopts.valBatches)},
                {"data_path", paths.corpus},
                {"tokenizer", tokenizerPathToSave(dopts.tokenizer)}, {"world", std::to_string(cluster.size)},
                {"global_batch", std::to_string(data->samplesPerBatch())}, {"precision", precision},
                {"optimizer", optimizerName(m)}, {"constants", m.constants ? m.constants : ""},
                {"log_every", std::to_string(logEvery)}, {"eval_every", std::to_string(evalEvery)},
                {"window_steps", std::to_string(windowSteps)},
                {"window_loss", fmt::format("{:.17g}", windowLoss)}};
  meta["history.train"] = History::toText(history.train);
  meta["history.val"] = History::toText(history.val);
  saveHypers(s, meta);
  return meta;
}

void TrainRun::checkSaveSize() const {
  if (save.empty()) return;
  // Each loss history at the most points the run can keep, each point as
  // wide as one gets (the last step, 17 digits and an exponent).
  Metadata meta = metadata(steps);
  auto widest = [&](const Points &kept, int64_t every) {
    size_t n = std::min<size_t>(History::kMaxPoints,
                                kept.size() + size_t((steps - start) / std::max<int64_t>(every, 1)) + 2);
    std::string point = fmt::format("{}:{:.17g}", steps, -1.2345678901234567e-308), out;
    for (size_t i = 0; i < n; ++i) out += (i ? " " : "") + point;
    return out;
  };
  meta["history.train"] = widest(history.train, logEvery);
  // A run that never validates keeps the validation history it has.
  if (hasVal) meta["history.val"] = widest(history.val, evalEvery);
  grt::checkSaveSize(save, s, meta);
}

std::string TrainRun::checkpoint(const std::string &path, int64_t step, const std::function<void()> &renamed) {
  Metadata meta = metadata(step);
  setSavingCheckpoint(path, step);
  std::string why = saveCheckpoint(path, s, meta, renamed);
  if (!why.empty()) setSavingCheckpoint(path, -1); // it failed: no rename will land
  return why;
}

/// Whether --save still holds the step the run last saved there, after a
/// save failed: the failure may be that the file or its directory was
/// removed (the warning said "it still holds step 10" of a deleted file).
void TrainRun::noteSavedFile() {
  struct stat st;
  if (stat(save.c_str(), &st) != 0) return;
  savedDev = uint64_t(st.st_dev), savedIno = uint64_t(st.st_ino), savedSize = uint64_t(st.st_size);
  savedMtimeNs = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

bool TrainRun::savedStepThere() const {
  // The same file, not only a file: one put there since (a CSV written to
  // the path by mistake) holds no step.
  struct stat st;
  return savedStep >= 0 && stat(save.c_str(), &st) == 0 && uint64_t(st.st_dev) == savedDev &&
         uint64_t(st.st_ino) == savedIno && uint64_t(st.st_size) == savedSize &&
         int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec == savedMtimeNs;
}

std::string TrainRun::lostSave() const {
  return fmt::format("the checkpoint of step {} is no longer there", savedStep);
}

/// What --save holds now, for the line a second signal writes as it quits
/// the run, and for the error that ends a data-parallel run whose other
/// processes are gone: each stops the run unsaved, and the steps since
/// this checkpoint are lost. `final`: the run's last save.
void TrainRun::recordSaved(bool final) {
  setSavedCheckpoint(savedAs, savedStep, final);
  // The other processes do not save, nor know what rank 0 saved.
  if (!cluster.leader()) return;
  cluster.checkpointNote = save.empty()        ? std::string("nothing saved (no --save given)")
                           : final            ? fmt::format("{} holds step {}, the run's final checkpoint", savedAs,
                                                            savedStep)
                           : savedStepThere() ? fmt::format("{} still holds step {}, the last checkpoint saved", save,
                                                            savedStep)
                           : savedStep >= 0   ? fmt::format("{} ({})", lostSave(), save)
                                              : fmt::format("this run has saved nothing to {}", save);
}

/// A periodic save that fails (a full disk) must not end the run: the
/// steps since the last good save would be lost with it. The run goes on,
/// and the next save tries again. The save is recorded as soon as the file
/// is renamed into place, before the directory's sync: a second signal
/// during that sync named the step before (the file held step 40, the line
/// said 20).
void TrainRun::periodicSave(int64_t step) {
  std::string why = checkpoint(save, step, [&] {
    savedStep = step;
    noteSavedFile();
    recordSaved(false);
  });
  if (why.empty()) return;
  fmt::print(stderr, "warning: cannot save checkpoint {} at step {}: {}; {}; training goes on and tries again at the "
                     "next save\n",
             save, step, why,
             savedStepThere()   ? fmt::format("it still holds step {}", savedStep)
             : savedStep >= 0 ? lostSave()
                              : std::string("the file there, if any, is unchanged"));
  recordSaved(false);
}

/// The last save holds the whole run: when --save cannot take it, it goes
/// to the temporary directory instead, the run says where, and its exit
/// status is 1 so that a script notices. Only when that fails too are the
/// weights lost.
void TrainRun::finalSave(int64_t step) {
  std::string why = checkpoint(save, step, [&] {
    savedStep = step;
    noteSavedFile();
    recordSaved(true);
  });
  if (why.empty()) return;
  std::string fallback = fallbackCheckpointPath(save);
  if (std::string whyNot = checkpoint(fallback, step,
                                      [&] {
                                        savedAs = fallback;
                                        savedStep = step;
                                        recordSaved(true);
                                      });
      !whyNot.empty())
    fail("cannot save checkpoint {} at step {}: {}, nor at {}: {}; the run's weights are lost{}", save, step, why,
         fallback, whyNot,
         savedStepThere() ? fmt::format(" ({} still holds step {})", save, savedStep)
         : savedStep >= 0 ? fmt::format(" ({})", lostSave())
                          : std::string(" (the file at --save before, if any, is unchanged)"));
  fmt::print(stderr, "error: cannot save checkpoint {} at step {}: {}; saved it to {} instead ({} continues)\n",
             save, step, why, fallback, resumeHint(fallback));
}

/// What --save holds when the run ends on non-finite weights, which are
/// not saved: the finite steps before are lost unless a --save-every save
/// kept them.
std::string TrainRun::savedNote() const {
  if (save.empty()) return "";
  if (savedStepThere()) return fmt::format("; {} holds step {}, the last checkpoint", save, savedStep);
  return fmt::format("; nothing was saved to {}: the step's update may have made the weights non-finite, and no "
                     "checkpoint was kept before it (--save-every N keeps one every N steps)",
                     save);
}

} // namespace grt
