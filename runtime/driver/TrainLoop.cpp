//===- runtime/driver/TrainLoop.cpp - `train`: the steps ------------------===//
//
// Each step: a batch, the model's train entry (or, data-parallel, its
// gradients, averaged, then its update), the loss; every --log-every steps
// a progress line, every --eval-every a validation, every --save-every a
// checkpoint. A loss or a param that stops being finite ends the run with
// the error that says why, and what --save still holds.
//
//===----------------------------------------------------------------------===//
#include "driver/DataParallel.h"
#include "driver/StopSignals.h"
#include "driver/TrainRun.h"

#include <algorithm>
#include <csignal>
#include <cstdio>

namespace grt {

namespace {

/// What the speed is given in.
const char *sampleUnit(const GrtModel &m) { return m.data_kind == GRT_DATA_TEXT ? "tokens" : "samples"; }

/// Why a gradient is not finite when the loss is, for the errors that
/// name such a param.
constexpr const char *kInfiniteGradient = "a log, sqrt or division at 0, even in a where branch not taken, has an "
                                          "infinite derivative, and 0 times it is NaN";

/// A loss as the errors print it: NaN, not -nan.
std::string lossText(double loss) { return std::isnan(loss) ? "NaN" : fmt::format("{}", loss); }

/// After a step whose loss was finite, the first param the update made
/// non-finite, or "": its gradient held a NaN or infinity though the loss
/// did not (a 0 * inf of the backward pass: sqrt or log at 0, even in a
/// where branch not taken), and "lower the learning rate" pointed the wrong
/// way.
std::string nonFiniteParam(Session &s) {
  // A plain loop over the floats (x - x is 0 unless x is NaN or infinite),
  // which vectorises: 10 M params take a few milliseconds.
  auto finite = [](const auto *x, int64_t n) {
    bool ok = true;
    for (int64_t i = 0; i < n; ++i) ok &= (x[i] - x[i]) == 0;
    return ok;
  };
  for (auto &sl : s.slots) {
    if (sl.tensor->role != GRT_PARAM) continue;
    bool ok = sl.tensor->dtype == GRT_F32   ? finite(static_cast<const float *>(sl.data), sl.numel)
              : sl.tensor->dtype == GRT_F64 ? finite(static_cast<const double *>(sl.data), sl.numel)
                                            : true;
    if (!ok) return sl.tensor->name;
  }
  return "";
}

/// The largest finite magnitude among the params: evidence of which story
/// a non-finite loss tells (weights grown to 1e29 overflowed it).
double largestFiniteParam(Session &s) {
  double top = 0;
  for (auto &sl : s.slots) {
    if (sl.tensor->role != GRT_PARAM) continue;
    for (int64_t i = 0; i < sl.numel; ++i)
      if (double v = std::fabs(Session::get(sl, i)); std::isfinite(v)) top = std::max(top, v);
  }
  return top;
}

} // namespace

std::string duration(double s) {
  if (s < 60) return fmt::format("{:.1f}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", int(s) / 60, int(s) % 60);
  return fmt::format("{}h{:02}m", int(s) / 3600, int(s) / 60 % 60);
}

std::string millis(double seconds) {
  double ms = seconds * 1e3;
  return ms >= 1000 ? fmt::format("{:.0f}", ms) : fmt::format("{:.4g}", ms);
}

void StepSample::add(double seconds) {
  if (seen++ % stride) return;
  kept.push_back(seconds);
  if (kept.size() < kKept) return;
  for (size_t i = 0; i < kept.size() / 2; ++i) kept[i] = kept[2 * i];
  kept.resize(kept.size() / 2);
  stride *= 2;
}

double StepSample::median() const {
  std::vector<double> v = kept;
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

History TrainRun::drawn() const {
  History h = history;
  for (auto [extra, into] : {std::pair{&tail.train, &h.train}, std::pair{&tail.val, &h.val}})
    for (auto &[step, loss] : *extra) History::add(*into, step, loss);
  return h;
}

double TrainRun::wallSecs() const { return std::chrono::duration<double>(Clock::now() - runStart).count(); }

bool TrainRun::anyStopping(bool here) {
  here = here || stopSignal != 0;
  return cluster.parallel() ? cluster.sum(here ? 1 : 0) > 0 : here;
}

void TrainRun::printHeader() {
  if (quiet) {
    // The notes say what a resumed run trains on and with what: another
    // corpus than the checkpoint's, a restarted data position, a setting
    // that overrides the checkpoint's. A scripted --quiet resume that
    // forgot --data trained on the model's own data and said nothing.
    for (auto &o : overrides) fmt::print(stderr, "note: {}\n", o);
    if (resuming && seedNote.rfind("; ", 0) == 0) fmt::print(stderr, "note: {}\n", seedNote.substr(2));
    return;
  }
  // The steps this run trains: a resume starts past 0, and --stop-after
  // ends it before --steps.
  std::string which;
  if (start > 0 || stopAt < steps)
    which = stopAt - start == 1 ? fmt::format(" (step {} of {})", stopAt, steps)
                                : fmt::format(" (steps {} to {} of {})", start + 1, stopAt, steps);
  fmt::print("training {} for {} step{}{}; data {}\n", m.name, stopAt - start, stopAt - start == 1 ? "" : "s", which,
             data->describe());
  if (cluster.parallel())
    fmt::print("data-parallel on {} processes: each trains on {} of every global batch of {} {}, and their "
               "gradients are averaged before each update\n",
               cluster.size, data->samplesPerBatch() / cluster.size, data->samplesPerBatch(), positionUnit(m));
  if (resuming) fmt::print("resuming from {} at step {}{}\n", paths.from, start, seedNote);
  for (auto &o : overrides) fmt::print("note: {}\n", o);
  // Before any note on stderr: into a pipe (2>&1 | tee) the header came
  // after the first validation's notes.
  std::fflush(stdout);
}

/// --check-finite watches validation too (a metric's log of a negative
/// input): a finding there is reported after that validation, not blamed
/// on the next step or missed after the last.
void TrainRun::checkValidationFinite(int64_t after) {
  if (finite && finite->first())
    fail("the validation after step {}: the first value to go non-finite is {}", after,
         FiniteCheck::describe(*finite->first()));
}

/// A loss can stay finite while a param does not (where(s > 0, log(s), 0)
/// at s = 0: the branch not taken still has an infinite derivative, and 0
/// times it is NaN). The run finished with s = NaN and saved a checkpoint
/// that every command then refused to load. The params are checked at
/// each progress line and before each save (a pass over them, no more).
void TrainRun::checkParamsFinite(int64_t done) {
  std::string p = nonFiniteParam(s);
  if (p.empty()) {
    paramsCheckedAt = done;
    return;
  }
  fail("param '{}' is not finite after step {}, though every loss was: {} got a gradient that was not finite "
       "({}); train --check-finite names the first value that went non-finite{}",
       p, done,
       done == paramsCheckedAt + 1 ? fmt::format("step {}'s update", done)
                                   : fmt::format("an update between steps {} and {}", paramsCheckedAt + 1, done),
       kInfiniteGradient, savedNote());
}

void TrainRun::failOnNonFiniteLoss(int64_t step) {
  // The step's update has run on that loss's gradients, so the weights
  // may be NaN: they are not saved. Say what --save holds, since the
  // finite steps before are lost unless a --save-every save kept them.
  std::string savedText = savedNote();
  // At the run's first step no update has run yet: the loss comes from
  // the initial (or loaded) parameters and the first batch, so a lower
  // learning rate cannot help (it was advised for sqrt(x - 10)).
  std::string value = lossText(lastLoss);
  if (step == start)
    fail("the loss is {} at step {}, before any update: the model computes it so from its {} parameters and the "
         "first batch, so the learning rate is not the cause; check the model (a log, sqrt or division of a "
         "value that can be 0 or negative) and the data (train --check-finite names the first value that went "
         "non-finite){}",
         value, step + 1, paths.from.empty() ? "initial" : "loaded", savedText);
  // Which update made a param non-finite is known only when the params
  // were checked after the step before (at a progress line): then the
  // loss overflowed from finite weights, and this step's own update,
  // on its infinite gradients, did it. Otherwise it may be either: a
  // learning rate of 1e30 grew the weights to 1e30 at step 1 and the
  // loss overflowed at step 2; this said step 1's gradient was not
  // finite, and that a lower rate could not help, which would have.
  if (std::string p = nonFiniteParam(s); !p.empty() && paramsCheckedAt < step)
    fail("the loss became {} at step {}, and param '{}' is no longer finite: either the updates grew the weights "
         "until the loss overflowed (lower the learning rate; the largest finite weight is now {:.3g}), or {} got "
         "a gradient that was not finite though its loss was ({}); train --check-finite names the first value "
         "that went non-finite{}",
         value, step + 1, p, largestFiniteParam(s),
         paramsCheckedAt + 1 == step ? fmt::format("step {}'s update", step)
                                     : fmt::format("an update between steps {} and {}", paramsCheckedAt + 1, step),
         kInfiniteGradient, savedText);
  fail("the loss became {} at step {}; lower the learning rate, or check the data for extreme values (train "
       "--check-finite names the first value that went non-finite){}",
       value, step + 1, savedText);
}

/// A signal during a validation leaves it unfinished (its figure would be
/// of part of the split) and stops the run after this step, as the stop
/// message promised: it waited for the whole split, then trained a step
/// more.
void TrainRun::validateAfter(int64_t done, bool last) {
  if (!hasVal || (done % evalEvery != 0 && !last)) return;
  EvalResult result = evaluate(s, *data, dopts.seed, &stopSignal, !quiet);
  bool cut = anyStopping(false);
  stopping = stopping || cut;
  if (cut) return;
  val = result;
  lastVal = val.loss;
  valStep = done;
  checkValidationFinite(done);
  if (!std::isfinite(lastVal)) {
    std::string value = lossText(lastVal);
    if (std::string p = nonFiniteParam(s); !p.empty())
      fail("the validation loss became {} at step {}: that step's update made param '{}' non-finite, so its "
           "gradient was not finite though the training loss was (lowering the learning rate cannot mend that: "
           "{}; train --check-finite names the first value that went non-finite)",
           value, done, p, kInfiniteGradient);
    fail("the validation loss became {} at step {}; lower the learning rate, or check the data for extreme values "
         "(train --check-finite names the first value that went non-finite)",
         value, done);
  }
  History::add(done % evalEvery == 0 || done == steps ? history.val : tail.val, double(done), lastVal);
}

void TrainRun::progressLine(int64_t done, bool last) {
  if (done % logEvery != 0 && !last) return;
  double perStep = windowSecs / double(windowTimed);
  double eta = wallSecs() / double(done - start) * double(stopAt - done);
  std::string line = fmt::format("step {:>{}}/{}  loss {:.6f}", done, std::to_string(steps).size(), steps,
                                 windowLoss / double(windowSteps));
  // The validation figures only on a line of a step that validated:
  // one between validations (--eval-every 14, lines every 7) showed the
  // last one's, as if measured there.
  if (valStep == done) {
    line += fmt::format("  val {:.6f}", lastVal);
    for (auto &[name, v] : val.metrics) line += fmt::format("  {} {:.4f}", name, v);
  }
  if (s.find(GRT_OUTPUT_PREFIX "grad_norm") >= 0) line += fmt::format("  |g| {:.3g}", s.scalar(GRT_OUTPUT_PREFIX "grad_norm"));
  line += fmt::format("  | {} {}/s  {} ms/step  eta {}", humanCount(double(data->samplesPerBatch()) / perStep),
                      sampleUnit(m), millis(perStep), duration(eta));
  // Not fmt::print, which throws when stdout is full: training goes on
  // to save, and main() reports the lost output at the end.
  if (!quiet) {
    std::fputs((line + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
  bool kept = done % logEvery == 0 || done == steps;
  History::add(kept ? history.train : tail.train, double(done), windowLoss / double(windowSteps));
  // A picture that cannot be written (a full disk) must not lose the
  // run: training goes on, saves, and then reports it.
  if (!plotDir.empty() && plotError.empty() && (!plotted || Clock::now() - *plotted >= std::chrono::seconds(2))) {
    plotError = plotLoss(plotDir, m, drawn());
    plotted = Clock::now();
  }
  if (kept) {
    windowLoss = 0;
    windowSteps = 0;
  }
  windowSecs = 0;
  windowTimed = 0;
}

void TrainRun::trainSteps() {
  windowLoss = saved.windowLoss;
  windowSteps = saved.windowSteps;
  runStart = Clock::now();
  reached = start;
  paramsCheckedAt = start;
  // In a data-parallel run, the others must get through the step too: when
  // one has died, mpirun stops the rest with SIGTERM, and nothing is saved.
  setStopMessage(save.empty() ? "\nstopping after this step (a second Ctrl-C or SIGTERM quits at once)\n"
                 : cluster.parallel()
                     ? "\nstopping after this step, then saving, if every process gets through the step (a second "
                       "Ctrl-C or SIGTERM quits at once, unsaved)\n"
                     : "\nstopping after this step, then saving (a second Ctrl-C or SIGTERM quits at once, unsaved)\n");
  if (savedStep >= 0) noteSavedFile(); // resumed from --save
  recordSaved(false);
  catchStopSignals(cluster.rank == 0);
  cluster.stopRequested = &stopSignal;
  // A reader of the progress lines that goes away (`| head`, quitting
  // `| less`) must not kill the run unsaved: the writes fail instead, the
  // run goes on and saves, and the failed output is reported at the end.
  std::signal(SIGPIPE, SIG_IGN);
  // A data-parallel run stops when any of its processes is asked to, all at
  // the same step, so they save one consistent checkpoint.
  stopping = stopSignal != 0;
  // Not under --profile, whose kernel times would mix the two.
  threadChoice.emplace(s.ctx, s.ctx.pool, !a.has("threads") && !cluster.parallel() && !profile);
  for (int64_t step = start; step < stopAt && !stopping; ++step) {
    threadChoice->beforeStep();
    auto ts = Clock::now();
    data->nextTrainBatch(s);
    s.setHyper("step", double(step));
    if (buckets) {
      double waited = buckets->waitingSeconds;
      buckets->run();
      exchangeTimes.add(buckets->waitingSeconds - waited);
      s.run(GRT_ENTRY_APPLY);
    } else {
      s.run("train");
    }
    double dt = std::chrono::duration<double>(Clock::now() - ts).count();
    trainSecs += dt;
    windowSecs += dt;
    ++windowTimed;
    stepTimes.add(dt);
    if (std::string line = threadChoice->afterStep(dt); !line.empty() && !quiet) {
      std::fputs((line + "\n").c_str(), stdout); // not fmt::print: see the progress line
      std::fflush(stdout);
    }
    lastLoss = s.scalar(GRT_OUTPUT_PREFIX "loss");
    stopping = stopSignal != 0;
    if (cluster.parallel()) lastLoss = globalLoss(cluster, lastLoss, stopping);
    if (finite && finite->first())
      fail("step {}: the first value to go non-finite is {}", step + 1, FiniteCheck::describe(*finite->first()));
    if (!std::isfinite(lastLoss)) failOnNonFiniteLoss(step);
    windowLoss += lastLoss;
    ++windowSteps;
    int64_t done = step + 1;
    reached = done;
    bool last = done == stopAt;
    if (done % logEvery == 0 || last || (!save.empty() && saveEvery > 0 && done % saveEvery == 0))
      checkParamsFinite(done);
    validateAfter(done, last);
    progressLine(done, last);
    if (!save.empty() && saveEvery > 0 && done % saveEvery == 0 && !last) periodicSave(done);
  }
}

} // namespace grt
