//===- runtime/driver/TrainReport.cpp - `train`: the end of a run ---------===//
//
// After the last step: the final save, the final validation (a text
// model's on the whole split), then either the line a stop by signal ends
// with, or the summary: steps, time, median step, losses and metrics, what
// was saved, the pictures, small params and the profile.
//
//===----------------------------------------------------------------------===//
#include "driver/AtomicFile.h"
#include "driver/StopSignals.h"
#include "driver/TrainRun.h"

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstring>

namespace grt {

namespace {

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

std::string signalName() {
  if (stopSignal == SIGINT) return "SIGINT";
  if (stopSignal == SIGTERM) return "SIGTERM";
  if (stopSignal == SIGHUP) return "SIGHUP";
  return "another process's signal";
}

} // namespace

int TrainRun::finish() {
  if (!save.empty()) finalSave(reached);
  releaseClaims(); // no save follows
  // From here on a signal stops the final validation, and says so: it
  // promised "stopping after this step, then saving" of a checkpoint that
  // was already saved, was then ignored, and the run exited 0. (One that
  // came during the save above stops the run before the validation.)
  setStopMessage(save.empty() ? "\nstopping the final validation (a second Ctrl-C or SIGTERM quits at once)\n"
                              : "\nthe checkpoint is saved; stopping the final validation (a second Ctrl-C or "
                                "SIGTERM quits at once)\n");
  stopping = anyStopping(stopping);
  // The final figure: text models validate on the whole split, not the
  // quick estimate the progress lines used (the two differed by 0.03 on
  // tinyshakespeare).
  threadChoice->finish();
  if (hasVal && !stopping && !data->validatesAll()) {
    data->fullValidation(true);
    val = evaluate(s, *data, dopts.seed, &stopSignal, !quiet);
    if (anyStopping(false)) {
      // The training is done: its pictures and profile are whole.
      int rc = stoppedBySignal(true);
      drawLastPictures();
      printProfile();
      return rc;
    }
    lastVal = val.loss;
    checkValidationFinite(reached);
  }
  if (stopping) {
    // A run stopped by a signal draws and profiles what it trained too:
    // its pictures were those of the last progress line, or none.
    int rc = stoppedBySignal(false);
    drawLastPictures(); // a picture that cannot be written is said; the status is the signal's
    printProfile();
    return rc;
  }
  printSummary();
  if (!drawLastPictures()) return 1;
  printSmallParams(s);
  printProfile();
  return savedAs != save ? 1 : 0; // the checkpoint was rescued: it is not where --save said
}

/// The loss curve at the last step and the fit; false (said) when a
/// picture could not be written.
bool TrainRun::drawLastPictures() {
  // The last picture, too, says that the checkpoint was saved.
  if (!plotDir.empty() && plotError.empty()) plotError = plotLoss(plotDir, m, drawn());
  if (!plotError.empty()) {
    fmt::print(stderr, "error: {}{}\n", plotError, save.empty() ? "" : fmt::format(" (the checkpoint {} was saved)", savedAs));
    return false;
  }
  if (!plotDir.empty()) {
    std::string note = plotFit(plotDir, s, *data, reached);
    fmt::print("pictures: {}/loss.svg{}\n", plotDir, note.empty() ? fmt::format(", {}/fit.svg", plotDir) : " (" + note + ")");
  }
  return true;
}

void TrainRun::printProfile() {
  if (profile) {
    // A data-parallel process runs @grads and @apply instead of @train
    // (the time spent averaging gradients is in neither); each entry that
    // ran prints its own profile.
    for (const char *entry : {"train", "grads", "apply"}) profile->print(entry, profileTop == 0 ? INT32_MAX : profileTop);
    // Threads another process preempted make the caller run loops alone
    // for a while (runtime/core/ThreadPool.cpp); say so, it explains a
    // step slower than on a quiet machine.
    if (s.ctx.pool && s.ctx.pool->preemptedSpells() > 0)
      fmt::print("threads: {} time{} a worker was preempted mid-loop by another process, and the loops ran on one "
                 "thread for a while\n",
                 s.ctx.pool->preemptedSpells(), s.ctx.pool->preemptedSpells() == 1 ? "" : "s");
  }
}

/// A path as a shell reads it back: quoted where it holds more than
/// letters, digits and . / _ - + = , : @.
std::string shellWord(const std::string &w) {
  bool plain = !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("./_-+=,:@", c);
  });
  if (plain) return w;
  std::string q = "'";
  for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// "--resume t.ckpt" alone trained on the model's own data (a note said the
// data differed) and, without --save, saved nothing at the end.
std::string TrainRun::resumeHint(const std::string &from) const {
  std::string hint = "--resume " + shellWord(from);
  if (a.has("data")) hint += " --data " + shellWord(a.str("data"));
  hint += " --save " + shellWord(from);
  if (a.has("save-every")) hint += " --save-every " + shellWord(a.str("save-every"));
  return hint;
}

/// The run's last line when a signal stopped it: what was saved, and the
/// exit status of a process the signal ended (128 + its number).
int TrainRun::stoppedBySignal(bool duringFinalValidation) {
  if (duringFinalValidation) {
    if (save.empty())
      fmt::print(stderr, "stopped by {} during the final validation, after the last step ({}); nothing saved (no "
                 "--save given)\n", signalName(), reached);
    else
      fmt::print(stderr, "stopped by {} during the final validation, after the last step ({}); saved {}\n", signalName(),
                 reached, savedAs);
  } else {
    // A signal after the last step's work stops nothing but the figures
    // that follow it: there is nothing for --resume to continue (it said
    // it would, and --resume then refused: "nothing to train").
    std::string at = reached == steps ? fmt::format("after the last step ({})", reached) : fmt::format("at step {}", reached);
    if (save.empty()) fmt::print(stderr, "stopped by {} {}; nothing saved (no --save given)\n", signalName(), at);
    else if (reached == steps)
      fmt::print(stderr, "stopped by {} {}; saved {}, which holds the whole run\n", signalName(), at, savedAs);
    else fmt::print(stderr, "stopped by {} {}; saved {} ({} continues)\n", signalName(), at, savedAs, resumeHint(savedAs));
  }
  // Under mpirun, Ctrl-C reaches the processes as SIGTERM (Open MPI turns
  // the one into the other), and a user who pressed it would not know it.
  // But mpirun sends SIGTERM whenever it ends a run, and a process cannot
  // tell why (its standard output, a terminal of mpirun's, still takes
  // lines after mpirun's own output has gone), so the note names them all.
  if (cluster.parallel() && stopSignal == SIGTERM)
    fmt::print(stderr, "note: under mpirun, a SIGTERM may be Ctrl-C, which mpirun passes on as SIGTERM, or mpirun "
                       "ending the run for another reason: a signal to mpirun, a process that ended, or output it "
                       "could not write (a `| head` that has quit)\n");
  return 128 + int(stopSignal ? stopSignal : SIGTERM);
}

/// "done: N steps in T (median M ms/step); final loss L, validation loss
/// V, metrics", then where the checkpoint is.
void TrainRun::printSummary() {
  double median = stepTimes.median();
  std::string exchange;
  if (cluster.parallel() && median > 0) {
    std::string bytes = humanBytes(double(s.gradients.count) * double(dtypeBytes(s.gradients.dtype)));
    double waited = exchangeTimes.median();
    if (buckets->overlapped())
      exchange = fmt::format(", {} ms of it waiting for averaged gradients ({:.0f}%, {} in {} buckets; {} ms a step "
                             "averaging, overlapped with the backward pass)",
                             millis(waited), 100 * waited / median, bytes, buckets->size(),
                             millis(buckets->averagingSeconds / double(stepTimes.count())));
    else
      exchange = fmt::format(", {} ms of it averaging gradients ({:.0f}%, {} in all)", millis(waited), 100 * waited / median,
                             bytes);
  }
  // The steps' own time too, where the rest (validations, saves) took a
  // good part of the run.
  double wall = wallSecs();
  std::string inSteps = wall > 1.25 * trainSecs + 0.5 ? fmt::format(", {} of it in the steps", duration(trainSecs)) : "";
  fmt::print("done: {} step{} in {}{} (median {} ms/step{}); final loss {:.6f}", reached - start,
             reached - start == 1 ? "" : "s", duration(std::max(wall, trainSecs)), inSteps, millis(median), exchange,
             lastLoss + 0.0); // + 0.0: a loss of -0 (a vocabulary of 1) printed as -0.000000
  if (hasVal)
    fmt::print(", validation loss {:.6f}{}{}", lastVal + 0.0, bitsPerByte(*data, lastVal),
               data->bytesPerToken() > 0 ? fmt::format(" over the whole validation split ({} batch{})", val.batches,
                                                       val.batches == 1 ? "" : "es")
                                         : "");
  for (auto &[name, v] : val.metrics) fmt::print(", {} {:.4f}", name, v);
  fmt::print("\n");
  if (!save.empty()) fmt::print("saved {}\n", savedAs);
}

} // namespace grt
