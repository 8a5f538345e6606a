//===- runtime/driver/TrainRun.h - one run of the `train` command -*- C++ -*-===//
//
// `train` in its phases, one file each, in the order they run:
//
//   Train.cpp        the command: its flags, the output paths checked before
//                    anything else, the session; then the phases below
//   TrainSetup.cpp   going on from a checkpoint, the outputs and the data,
//                    the hyperparameters and the schedule (steps, progress
//                    lines, validations, saves), what the processes of a
//                    data-parallel run must agree on
//   TrainLoop.cpp    the steps: progress lines, validations, and the errors
//                    of a loss or a param that is no longer finite
//   TrainSaves.cpp   checkpoints: periodic, final, the rescue to the
//                    temporary directory, and what --save holds
//   TrainReport.cpp  the end: the final validation, a stop by signal, the
//                    summary line, the pictures and the profile
//
// TrainRun holds what the phases share; each member says what it is for.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "core/FiniteCheck.h"
#include "core/Profile.h"
#include "driver/Args.h"
#include "driver/Cluster.h"
#include "driver/Commands.h"
#include "driver/Data.h"
#include "driver/GradientBuckets.h"
#include "driver/Plots.h"
#include "driver/Resume.h"
#include "driver/ThreadChoice.h"

#include <chrono>
#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace grt {

/// The run's input and output paths, checked before the session is made
/// (Train.cpp), so that no run ends in an error after its work is done.
struct TrainPaths {
  std::string from;    ///< --resume or --load ("": a fresh run)
  std::string save;    ///< --save ("": none, or not rank 0)
  std::string plotDir; ///< --plot ("": none, or not rank 0)
  /// The corpus actually read: --data, else a text model's compiled-in
  /// one (`defaultCorpus`), which no output may replace.
  std::string corpus;
  bool defaultCorpus = false;
};

/// A duration as the progress lines give it: 41.2s, 3m05s, 2h10m.
std::string duration(double seconds);
/// Milliseconds with four significant digits: 41.23, 0.0005012.
std::string millis(double seconds);

/// Step times for the final median, in bounded memory: every step's time
/// was kept, 16 bytes a step, so a run of 2^31 steps (what --steps allows)
/// of a tiny model would have needed 32 GiB. Past kKept samples, every
/// other one is dropped and only every 2nd, 4th, ... step is sampled: the
/// median of a systematic sample of the run.
class StepSample {
public:
  void add(double seconds);
  double median() const;
  int64_t count() const { return seen; }

private:
  static constexpr size_t kKept = 1 << 16;
  std::vector<double> kept;
  int64_t seen = 0, stride = 1;
};

/// A path as a shell reads it back (quoted where it holds more than
/// letters, digits and . / _ - + = , : @), for the commands messages give.
std::string shellWord(const std::string &w);

class TrainRun {
public:
  TrainRun(const GrtModel &m, const Args &a, Session &s, TrainPaths paths, std::string precision);
  TrainRun(const TrainRun &) = delete;
  TrainRun &operator=(const TrainRun &) = delete;
  /// The whole run, from the checkpoint it goes on from to its summary;
  /// returns the exit status (errors end it through fail()).
  int run();

private:
  using Clock = std::chrono::steady_clock;

  // --- TrainSetup.cpp ------------------------------------------------------
  void resumeFrom();          ///< --load/--resume: weights, and the saved run
  void goOnWithSavedRun();    ///< the saved run's steps, seed, precision, ...
  void useSavedTokenizer();   ///< a text run's BPE tokenizer, from the checkpoint
  void checkOutputs();        ///< --save and --plot's pictures, against inputs
  void loadTrainingData();    ///< the data, at the saved position
  void setHypersAndSchedule(); ///< --hp, the step range, lines, validations, saves
  void prepareExchange();     ///< data-parallel: agreement and gradient buckets

  // --- TrainLoop.cpp -------------------------------------------------------
  void printHeader();
  void trainSteps();
  void failOnNonFiniteLoss(int64_t step);
  void checkParamsFinite(int64_t done);
  void checkValidationFinite(int64_t after);
  void validateAfter(int64_t done, bool last);
  void progressLine(int64_t done, bool last);
  /// Whether any process of the run is asked to stop (or `here` is true):
  /// every process must take the same branch wherever a signal can change
  /// one.
  bool anyStopping(bool here);
  double wallSecs() const;

  // --- TrainSaves.cpp ------------------------------------------------------
  /// What a checkpoint of `step` records besides the tensors.
  Metadata metadata(int64_t step) const;
  /// Fails before the first step if ulimit -f leaves no room for a save.
  void checkSaveSize() const;
  std::string checkpoint(const std::string &path, int64_t step, const std::function<void()> &renamed);
  bool savedStepThere() const;
  /// Remembers which file the save just renamed into --save is.
  void noteSavedFile();
  std::string lostSave() const;
  void recordSaved(bool final);
  void periodicSave(int64_t step);
  void finalSave(int64_t step);
  std::string savedNote() const;

  // --- TrainReport.cpp -----------------------------------------------------
  int finish();
  int stoppedBySignal(bool duringFinalValidation);
  bool drawLastPictures();
  void printProfile();
  /// The command line's options that go on with this run from checkpoint
  /// `from`: --resume, and what a checkpoint does not keep (--data, --save,
  /// --save-every) as this run was given them.
  std::string resumeHint(const std::string &from) const;
  void printSummary();

  const GrtModel &m;
  const Args &a;
  Session &s;
  Cluster &cluster;
  TrainPaths paths;
  std::string &save;    ///< paths.save
  std::string &plotDir; ///< paths.plotDir
  std::string precision; ///< "f32" or "bf16": what matrix products compute in
  bool quiet;

  // Instruments, each only when asked: timing every kernel costs two clock
  // reads each; scanning every stored value after every kernel is slow.
  std::unique_ptr<Profile> profile;
  int profileTop = 25; ///< --profile-top N lists N kernels (0: all of them)
  std::unique_ptr<FiniteCheck> finite;

  DataOptions dopts;
  /// The run's steps: it trains steps start+1 .. stopAt of a run of
  /// `steps` (--stop-after may end this process's part early).
  int64_t steps = 0, start = 0, stopAt = 0;
  Metadata resumed;                   ///< the checkpoint's metadata
  std::string seedNote;               ///< how the seed relates to the saved run's
  std::vector<std::string> overrides; ///< what flags change of the saved run, said when resuming
  History history;                    ///< the loss curve kept (and saved)
  /// Whether the run goes on from the checkpoint's step: not for another
  /// model's checkpoint, which loadCheckpoint takes under --partial-load
  /// (as eval and predict do) for its tensors alone. Its step, schedule,
  /// data position, seed, hyperparameters and loss curve are another run's,
  /// of other tensors; this run starts at step 0 from the tensors both have.
  bool resuming = false;
  /// The run the checkpoint saved, which this one goes on with (when
  /// `resuming`; the defaults otherwise: no saved steps, lines or curve).
  SavedRun saved;
  std::unique_ptr<Dataset> data;
  int64_t logEvery = 1, evalEvery = 1, saveEvery = 0;
  bool hasVal = false;
  std::unique_ptr<GradientBuckets> buckets;

  std::string plotError; ///< the first picture that could not be written
  /// The progress line being summed: its steps, and their losses' sum (a
  /// resumed run's open line goes on).
  double windowLoss = 0;
  int64_t windowSteps = 0;
  /// The points a run that goes on to --steps draws too are kept in
  /// `history`, and in the checkpoint: those on the grid of --log-every and
  /// --eval-every, and the run's last step. A line or validation at a step
  /// where this process stops short of --steps (--stop-after 30, lines
  /// every 20) is drawn in its own pictures (`tail`), but not kept: a
  /// resumed run's curve had a point at 30 that a straight run never has.
  /// Its open line is kept instead (windowLoss, windowSteps).
  History tail;
  History drawn() const;
  /// Where the run's checkpoint is (--save, or where the last save was
  /// rescued to) and the step it holds, when this run knows it: it saved
  /// there, or resumed from there (-1: none known).
  std::string savedAs;
  int64_t savedStep = -1;
  // The file that save wrote at --save, as it was then (a write over it in
  // place keeps the inode).
  uint64_t savedDev = 0, savedIno = 0, savedSize = 0;
  int64_t savedMtimeNs = 0;

  double lastLoss = NAN, lastVal = NAN;
  int64_t valStep = -1; ///< the step of the last validation
  /// Seconds spent in training steps (not validation, logging or saving),
  /// over the whole run and in this process's steps since the last
  /// progress line (windowTimed of them).
  double trainSecs = 0, windowSecs = 0;
  int64_t windowTimed = 0;
  /// The run's wall clock, validations, saves and pictures included: what
  /// eta and the final line say (with --eval-every 1 on a large split, eta
  /// was 0.0s and "done: 400 steps in 0.0s" for 3.5 s of running).
  Clock::time_point runStart;
  /// --plot redraws at most every 2 s: at --log-every 1 it rewrote and
  /// synced loss.svg every step, and 3,000 steps took 21 s, not 0.05.
  std::optional<Clock::time_point> plotted;
  StepSample stepTimes, exchangeTimes; ///< the latter: averaging gradients, data-parallel
  EvalResult val;                      ///< the last validation's figures
  int64_t reached = 0;                 ///< the last step done
  bool stopping = false;               ///< a signal asked the run to stop
  /// The step whose params were last checked finite (at each progress line
  /// and before each save).
  int64_t paramsCheckedAt = 0;
  /// Without --threads, steps on all threads and on one are timed against
  /// each other now and then (ThreadChoice.h); the results do not change.
  std::optional<ThreadChoice> threadChoice;
};

} // namespace grt
