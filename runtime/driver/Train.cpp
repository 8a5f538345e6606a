//===- runtime/driver/Train.cpp - the `train` command ---------------------===//
#include "driver/AtomicFile.h"
#include "driver/Checkpoint.h"
#include "driver/Cluster.h"
#include "driver/DataParallel.h"
#include "gradrt/hypers.h"
#include "driver/GradientBuckets.h"
#include "driver/Commands.h"
#include "core/FiniteCheck.h"
#include "driver/Plots.h"
#include "driver/Resume.h"
#include "driver/StopSignals.h"
#include "driver/ThreadChoice.h"
#include "core/Profile.h"

#include <cerrno>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

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

/// Step times for the final median, in bounded memory: every step's time
/// was kept, 16 bytes a step, so a run of 2^31 steps (what --steps allows)
/// of a tiny model would have needed 32 GiB. Past kKept samples, every
/// other one is dropped and only every 2nd, 4th, ... step is sampled: the
/// median of a systematic sample of the run.
class StepSample {
public:
  void add(double seconds) {
    if (seen++ % stride) return;
    kept.push_back(seconds);
    if (kept.size() < kKept) return;
    for (size_t i = 0; i < kept.size() / 2; ++i) kept[i] = kept[2 * i];
    kept.resize(kept.size() / 2);
    stride *= 2;
  }
  double median() const {
    std::vector<double> v = kept;
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  }
  int64_t count() const { return seen; }

private:
  static constexpr size_t kKept = 1 << 16;
  std::vector<double> kept;
  int64_t seen = 0, stride = 1;
};

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

/// What the speed is given in.
const char *sampleUnit(const GrtModel &m) { return m.data_kind == GRT_DATA_TEXT ? "tokens" : "samples"; }

/// Every hyperparameter's value goes into the checkpoint as "hp.NAME",
/// exactly (17 digits), so a resumed run uses what the saved one did.
void saveHypers(Session &s, Metadata &meta) {
  for (auto &sl : s.slots)
    if (Session::isUserHyper(*sl.tensor)) meta[std::string("hp.") + sl.tensor->name] = fmt::format("{:.17g}", Session::get(sl, 0));
}

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

/// Creates the --plot directory if needed and makes sure files can be
/// written in it.
void checkPlotDirectory(const std::string &dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    fail("cannot create the plot directory {}: {}", dir, std::strerror(errno));
  std::string probe = fmt::format("{}/.write-test-{}", dir, getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail("cannot write pictures in {}: {}", dir, std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

} // namespace

int cmdTrain(const GrtModel &m, int argc, char **argv) {
  Args a("train", argc, argv, 2,
         {"steps", "lr", "hp", "seed", "data", "val-frac", "val-batches", "tokenizer", "save", "save-every", "load", "resume", "stop-after",
          "log-every", "eval-every", "threads", "plot", "bucket-kib", "precision", "profile-top"},
         {"quiet", "profile", "check-finite", "partial-load", "overlap", "no-overlap"});
  if (a.has("load") && a.has("resume")) fail("give --load or --resume, not both");
  // Text is split by position, not by rows: the flag would be ignored.
  if (m.data_kind == GRT_DATA_TEXT && a.has("val-frac"))
    fail("--val-frac is for table models; a text model validates on the last 10% of its corpus");
  if (m.data_kind != GRT_DATA_TEXT && a.has("val-batches"))
    fail("--val-batches is for text models; a table model validates on all its held-out rows");
  std::string from = a.has("resume") ? a.str("resume") : a.str("load");
  std::string save = a.str("save");
  std::string plotDir = a.str("plot");
  // Every output is checked before the first step, so no run ends in an
  // error after its work is done.
  // In a data-parallel run, rank 0 alone writes checkpoints and pictures.
  Cluster &cluster = Cluster::get();
  if (!cluster.leader()) save.clear(), plotDir.clear();
  // Before the plot directory is made: a path that does not exist yet
  // would pass the checkpoint's check, then become the directory (the run
  // trained to its end and could not save).
  if (!save.empty() && !plotDir.empty() && samePlace(save, plotDir))
    fail("--save {} and --plot {} are the same path; the checkpoint needs a path of its own", save, plotDir);
  // The corpus actually read: --data, else a text model's compiled-in one
  // (a save onto it replaced it, and the next run trained on the checkpoint).
  std::string corpus = dataPath(a);
  bool defaultCorpus = corpus.empty() && m.data_kind == GRT_DATA_TEXT;
  if (defaultCorpus) corpus = m.text_corpus ? m.text_corpus : "";
  // Then the plot directory, which a checkpoint may go in (--plot run
  // --save run/m.ckpt), and which is made in no corpus directory (--data
  // DIR --plot DIR/plots made one there, and drew in it).
  refuseOverwritingCorpus(plotDir, "--plot", corpus, defaultCorpus, true);
  if (!plotDir.empty()) checkPlotDirectory(plotDir);
  if (!save.empty()) checkCheckpointPath(save);
  bool quiet = a.has("quiet");

  std::string precision = precisionOption(a, m);
  Session s(m, threadsOption(a));
  if (!s.has("train")) fail("the model has no train entry");
  if (cluster.parallel() && !(s.has(GRT_ENTRY_GRADS) && s.has(GRT_ENTRY_APPLY)))
    fail("this executable cannot train on {} processes: it was built without the data-parallel entries; rebuild it "
         "with gradc build --data-parallel",
         cluster.size);
  if (cluster.parallel() && !s.gradients.mixed.empty())
    fail("data-parallel training averages all gradients as one buffer of one float type, but this model's params "
         "differ: {}; give them one type",
         s.gradients.mixed);
  // Timing every kernel costs two clock reads each; only when asked.
  std::unique_ptr<Profile> profile;
  // --profile-top N lists N kernels instead of 25 (0: all of them).
  int profileTop = int(a.integer("profile-top", 25, 0, INT32_MAX));
  if (a.has("profile") || a.has("profile-top")) s.ctx.profile = (profile = std::make_unique<Profile>(m)).get();
  // Scanning every stored value after every kernel is slow; a debug mode.
  std::unique_ptr<FiniteCheck> finite;
  if (a.has("check-finite")) s.ctx.finite = (finite = std::make_unique<FiniteCheck>(m)).get();
  DataOptions dopts = dataOptions(a);
  dopts.rank = cluster.rank;
  dopts.world = cluster.size;
  // The model counts steps in i32 (its step and total_steps inputs): a run
  // of 2^31 steps or more wrapped them negative, and the schedule with them.
  int64_t steps = a.integer("steps", 1000, 1, kMaxSteps);
  int64_t start = 0;
  s.initParams(dopts.seed);
  Metadata resumed;
  std::string seedNote;
  std::vector<std::string> overrides; // what flags change of the saved run, said when resuming
  History history;
  // Whether the run goes on from the checkpoint's step: not for another
  // model's checkpoint, which loadCheckpoint takes under --partial-load
  // (as eval and predict do) for its tensors alone. Its step, schedule,
  // data position, seed, hyperparameters and loss curve are another run's,
  // of other tensors; this run starts at step 0 from the tensors both have.
  // (It was refused here, after loadCheckpoint had said it was loading it.)
  bool resuming = false;
  // The run the checkpoint saved, which this one goes on with (when
  // `resuming`; the defaults otherwise: no saved steps, lines or curve).
  SavedRun saved;
  if (!from.empty()) {
    resumed = loadCheckpoint(from, s, a.has("partial-load"));
    std::string savedModel = requiredField(resumed, "model", from);
    resuming = savedModel == m.name;
    if (!resuming) {
      // Adam's moments and momentum were summed over that run's steps;
      // with the step back at 0, Adam's bias correction would scale them
      // up as if they were one step's. They start over, as the step does.
      for (auto &sl : s.slots)
        if (sl.tensor->role == GRT_STATE && !Session::isCache(*sl.tensor)) {
          Rng rng(dopts.seed, hashName(sl.tensor->name));
          initTensor(sl, rng);
        }
      overrides.push_back(fmt::format("--partial-load: only the weights of model '{}' carry over from {}: this run "
                                      "starts at step 0, with this model's own seed, hyperparameters and optimizer "
                                      "state, the data from its start and no loss history (the checkpoint's are those "
                                      "of that model's run)",
                                      shown(savedModel), from));
    }
  }
  if (resuming) {
    saved = readSavedRun(resumed, from, m);
    start = saved.step;
    // The loss curve so far, for --plot (and for the next checkpoint, so a
    // later resume with --plot draws it too).
    history = saved.history;
    if (!saved.hasHistory && !plotDir.empty() && start > 0)
      overrides.push_back(fmt::format("checkpoint {} holds no loss history (it was saved before checkpoints kept "
                                      "one): {}/loss.svg starts at step {}",
                                      from, plotDir, start));
    if (!a.has("steps")) steps = saved.totalSteps;
    else if (steps != saved.totalSteps && s.find("total_steps") >= 0)
      overrides.push_back(fmt::format("--steps {} overrides the checkpoint's {}: the learning-rate schedule now spans {} "
                                      "steps, so the run no longer matches one trained for {} from the start",
                                      steps, saved.totalSteps, steps, steps));
    if (steps < start)
      fail("checkpoint {} is at step {}, past --steps {}; give --steps above {} to train further", from, start, steps,
           start);
    // The seed orders every epoch's batches, so a resumed run continues bit
    // for bit only with the seed it started with: settle it before the data
    // is loaded and shuffled.
    if (!a.has("seed")) dopts.seed = saved.seed;
    seedNote = dopts.seed == saved.seed
                   ? fmt::format(" with the checkpoint's seed {}", saved.seed)
                   : fmt::format("; --seed {} overrides the checkpoint's seed {}", dopts.seed, saved.seed);
    // bf16 products round differently: a run goes on in the precision it
    // was trained in, unless --precision says otherwise. (Checkpoints from
    // before it was stored were f32 or bf16 alike: the flag decides.)
    if (!saved.precision.empty()) {
      if (!a.has("precision")) {
        precision = saved.precision;
        setPrecision(precision, m, "the checkpoint's precision");
        if (precision != "f32") overrides.push_back(fmt::format("matrix products in {}, as the checkpoint was trained", precision));
      } else if (precision != saved.precision) {
        overrides.push_back(fmt::format("--precision {} overrides the checkpoint's {}: the run does not continue as it "
                                        "was trained",
                                        precision, saved.precision));
      }
    }
    // The validation fraction decides which table rows are trained on.
    // Checkpoints from before it was stored have none: the flag decides.
    if (saved.valFrac) {
      if (!a.has("val-frac")) dopts.valFraction = *saved.valFrac;
      else if (dopts.valFraction != *saved.valFrac)
        overrides.push_back(fmt::format("--val-frac {} overrides the checkpoint's {}: other rows are trained on now",
                                        dopts.valFraction, *saved.valFrac));
    }
  }
  // A run on BPE tokens goes on with its tokenizer (a table model has
  // none, whatever a hand-edited checkpoint says); weights of another
  // model's run read those tokens too.
  if (auto it = resumed.find("tokenizer"); !from.empty() && m.data_kind == GRT_DATA_TEXT && it != resumed.end() &&
                                           !it->second.empty() && !a.has("tokenizer")) {
    dopts.tokenizer = savedTokenizerPath(it->second, from);
    requireSavedTokenizer(dopts.tokenizer, from);
    // The file may have been trained anew since (`tokenizer train -o` onto
    // it): its token ids then mean other bytes to the embeddings. eval and
    // sample refused it; train went on with a note that the data differed.
    dopts.tokenizer = tokenizerForCheckpoint(dopts.tokenizer, resumed, from, modelVocab(s));
  }
  refuseOverwritingCorpus(save, "--save", corpus, defaultCorpus);
  refuseOverwritingInput(save, "--save", dopts.tokenizer, "--tokenizer");
  refuseOverwritingProgram(save, "--save");
  // After the checks that say which input a path is: any other file.
  if (!save.empty()) refuseReplacingOtherFile(save, m.name);
  // Another run saving to the same path would rename its saves over these.
  if (std::string holder = save.empty() ? "" : claimForWriting(save); !holder.empty())
    fail("--save {} is in use: another run ({}) is saving to it; give this run another path, or wait for that one "
         "to end",
         save, holder);
  for (const char *picture : {"loss.svg", "fit.svg"}) {
    if (!save.empty() && !plotDir.empty() && samePlace(save, plotDir + "/" + picture))
      fail("--save {} is where --plot draws {}; choose another path for the checkpoint", save, picture);
    // The pictures are outputs too.
    if (plotDir.empty()) continue;
    std::string path = plotDir + "/" + picture;
    refuseOverwritingCorpus(path, "--plot's picture", corpus, defaultCorpus);
    refuseOverwritingInput(path, "--plot's picture", dopts.tokenizer, "--tokenizer");
    refuseOverwritingInput(path, "--plot's picture", from, a.has("resume") ? "--resume" : "--load");
    // Any other file of that name (a picture of the user's): replaced
    // without a word, where --save refuses to replace a non-checkpoint.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && !drawnHere(path))
      fail("--plot {}: {} is there and is not a picture a training run drew; move it, or choose another directory",
           plotDir, path);
  }
  auto data = loadData(s, dopts);
  // A run resumed on another number of processes keeps the data position
  // (an epoch and a row of its order, or the window generator's state);
  // only the number of rows each step draws changes with the global batch.
  if (saved.globalBatch > 0 && saved.globalBatch != data->samplesPerBatch())
    overrides.push_back(fmt::format("the checkpoint was trained with a global batch of {} {} ({} process{}); this run's "
                                    "is {} ({} process{} × {}): the data position carries over, and each step now "
                                    "draws {}",
                                    saved.globalBatch, positionUnit(m), saved.world, saved.world == 1 ? "" : "es",
                                    data->samplesPerBatch(), cluster.size, cluster.size == 1 ? "" : "es",
                                    data->samplesPerBatch() / cluster.size, data->samplesPerBatch()));
  bool otherData = resuming && !saved.dataId.empty() && saved.dataId != data->identity();
  if (otherData)
    // An identity is about 90 characters (text, size, hashes of the bytes
    // and of the tokenizer): shown whole, so the part that differs is seen.
    // With the files' names, where the checkpoint has its own.
    overrides.push_back(fmt::format("the data is not what the checkpoint was trained on (it was {}{}; this is {}{}): "
                                    "training goes on, but not as the saved run would have",
                                    shown(saved.dataId, 200),
                                    saved.dataPath.empty() ? "" : ", " + shown(saved.dataPath, 200),
                                    data->identity(), corpus.empty() ? "" : ", " + corpus));
  std::string freshPosition = data->saveState();
  if (std::string why = resuming ? data->malformedState(saved.data) : ""; !why.empty())
    fail("checkpoint {}: its data '{}' is {}", from, shown(saved.data), why);
  if (resuming && !data->restoreState(saved.data)) {
    // On other data (fine-tuning on a smaller table) a saved position that
    // does not fit starts over (one that fits carries on, as it always
    // did). On the same data it is a damaged checkpoint, or a --val-frac
    // that left fewer rows to train on.
    if (!otherData)
      fail("checkpoint {}: its data position does not fit this data{}", from,
           a.has("val-frac") ? " (with --val-frac, fewer rows are trained on than when it was saved)" : "");
    data->restoreState(freshPosition);
    overrides.push_back("the checkpoint's data position does not fit this data, so it is read from its start");
  }
  applyHypers(s, a);
  if (resuming) restoreHypers(s, a, resumed, from, overrides);
  // As gradc warns of it in the source: --hp can set it too (the model has
  // min_lr only with cosine decay).
  if (int lo = s.find("min_lr"), hi = s.find("lr"); lo >= 0 && hi >= 0 && cluster.leader()) {
    double minLr = Session::get(s.slots[size_t(lo)], 0), lr = Session::get(s.slots[size_t(hi)], 0);
    if (minLr > lr)
      fmt::print(stderr, "warning: min_lr {:g} is above lr {:g}, so the cosine decay raises the learning rate instead of lowering it\n",
                 minLr, lr);
  }
  s.setHyper("total_steps", double(steps));
  s.setHyper("seed", randomSeedWord(dopts.seed, cluster.rank));
  int64_t stopAt = std::min(steps, a.integer("stop-after", steps, 0));
  if (stopAt < start) fail("--stop-after {} is before the checkpoint's step {}", stopAt, start);
  // No step to run: the loss would print as nan, with nothing learned.
  if (stopAt == start && !a.has("stop-after") && !a.has("steps"))
    fail("nothing to train: checkpoint {} is at step {}, the end of its run of {} steps; give --steps N with N above "
         "{} to train further",
         from, start, steps, start);
  if (stopAt == start)
    fail("nothing to train: the run is at step {}, and {} ends it there", start,
         a.has("stop-after") ? fmt::format("--stop-after {}", stopAt) : fmt::format("--steps {}", steps));
  // About 20 lines over the whole run (--steps), not over the steps this
  // process trains: a run stopped and resumed then prints, and plots, at
  // the steps a straight run does (each half of a 400-step run spaced its
  // lines by its own length). A resumed run keeps the saved run's, unless
  // --steps makes it another run.
  int64_t logEvery = a.integer("log-every",
                               saved.logEvery > 0 && steps == saved.totalSteps ? saved.logEvery
                                                                        : std::max<int64_t>(1, steps / 20),
                               1);
  // The saved run's too, unless --steps changes or it validated with each
  // line (the default, which follows --log-every).
  bool keepsEvalEvery = saved.evalEvery > 0 && saved.evalEvery != saved.logEvery && steps == saved.totalSteps;
  int64_t evalEvery = a.integer("eval-every", keepsEvalEvery ? saved.evalEvery : logEvery, 1);
  // 0 (no periodic saves) is the default: asked for, it is refused like
  // --log-every 0, not read as "never".
  int64_t saveEvery = a.integer("save-every", 0, 1);
  if (a.has("save-every") && !a.has("save")) fail("--save-every needs --save FILE, the checkpoint it rewrites");
  bool hasVal = data->numValBatches() > 0 && s.has("eval");
  // Averaging the last layers' gradients while the backward pass computes
  // the first ones', in buckets of 1 MiB (--bucket-kib). By default only when the run
  // spans machines: between processes of one machine, averaging is memory
  // copies and additions on the cores that compute, and overlapping them
  // hid 87% of the wait but made the 6-layer GPT's step no faster
  // (docs/data-parallel.md). Never for gradients of one bucket or less
  // (nothing to overlap), or when MPI allows no second thread.
  if (a.has("overlap") && a.has("no-overlap")) fail("give --overlap or --no-overlap, not both");
  std::unique_ptr<GradientBuckets> buckets;
  const int64_t kBucketBytes = a.integer("bucket-kib", 1024, 1, int64_t(1) << 30) * 1024;
  bool overlap = a.has("overlap") || (!a.has("no-overlap") && cluster.localSize < cluster.size);
  int64_t gradientBytes = s.gradients.count * int64_t(dtypeBytes(s.gradients.dtype));
  // Asked for and not done: said, not silently ignored.
  if (a.has("overlap") && cluster.leader()) {
    if (!cluster.parallel())
      fmt::print(stderr, "note: --overlap does nothing here: this run has one process, with no gradients to average\n");
    else if (!cluster.threadsMayExchange)
      fmt::print(stderr, "note: --overlap does nothing here: this MPI library allows no second thread to exchange "
                         "gradients\n");
    else if (gradientBytes <= kBucketBytes)
      fmt::print(stderr, "note: --overlap does nothing here: the gradients ({} KiB) fit in one bucket of {} KiB, so "
                         "there is nothing to overlap\n",
                 (gradientBytes + 1023) / 1024, kBucketBytes / 1024);
  }
  overlap = overlap && cluster.threadsMayExchange && gradientBytes > kBucketBytes;
  if (a.has("bucket-kib") && !a.has("overlap") && !overlap && cluster.leader())
    fmt::print(stderr, "note: --bucket-kib sizes the buckets of --overlap, which this run does not use\n");
  // What else every process must do alike: progress lines and validation
  // gather from all of them, and so does each bucket of gradients, so
  // processes that differ here would exchange messages that do not match.
  // And rank 0 alone writes what the run outputs: --save given to another
  // process only was ignored, and the run saved nothing, silently.
  // (--threads and --check-finite are each process's own.)
  if (cluster.parallel()) {
    std::string outputs;
    auto output = [&](const std::string &flag) { outputs += (outputs.empty() ? "" : " ") + flag; };
    if (a.has("save")) output("--save " + a.str("save"));
    if (saveEvery > 0) output(fmt::format("--save-every {}", saveEvery));
    if (a.has("plot")) output("--plot " + a.str("plot"));
    if (quiet) output("--quiet");
    if (profile) output(fmt::format("--profile-top {}", profileTop));
    checkSameRun(cluster, runDefinition(s, *data, dopts, start, steps, stopAt) +
                              fmt::format("progress every {} steps; validation every {} steps, on {} batches\n"
                                          "matrix products in {}\ngradients averaged {}\n"
                                          "the outputs, which rank 0 writes for all: {}\n",
                                          logEvery, evalEvery, data->numValBatches(), precision,
                                          overlap ? fmt::format("during the backward pass, in {} KiB buckets",
                                                                kBucketBytes / 1024)
                                                  : std::string("after the backward pass"),
                                          outputs.empty() ? "none given" : outputs));
  }
  if (cluster.parallel()) buckets = std::make_unique<GradientBuckets>(s, cluster, overlap, kBucketBytes);

  std::string plotError; // the first picture that could not be written
  // The progress line being summed: its steps, and their losses' sum (a
  // resumed run's open line goes on).
  double windowLoss = saved.windowLoss;
  int64_t windowSteps = saved.windowSteps;
  // The points a run that goes on to --steps draws too are kept in
  // `history`, and in the checkpoint: those on the grid of --log-every and
  // --eval-every, and the run's last step. A line or validation at a step
  // where this process stops short of --steps (--stop-after 30, lines
  // every 20) is drawn in its own pictures (`tail`), but not kept: a
  // resumed run's curve had a point at 30 that a straight run never has.
  // Its open line is kept instead (windowLoss, windowSteps).
  History tail;
  auto drawn = [&] {
    History h = history;
    for (auto [extra, into] : {std::pair{&tail.train, &h.train}, std::pair{&tail.val, &h.val}})
      for (auto &[step, loss] : *extra) History::add(*into, step, loss);
    return h;
  };
  // Where the run's checkpoint is (--save, or where the last save was
  // rescued to) and the step it holds, when this run knows it: it saved
  // there, or resumed from there.
  std::string savedAs = save;
  int64_t savedStep = !save.empty() && resuming && samePlace(from, save) ? start : -1;
  auto checkpoint = [&](const std::string &path, int64_t step, const std::function<void()> &renamed) {
    Metadata meta{{"format", "gradc"},         {"model", m.name},
                  {"step", std::to_string(step)}, {"total_steps", std::to_string(steps)},
                  {"data", data->saveState()},  {"seed", std::to_string(dopts.seed)},
                  {"val_frac", fmt::format("{:.17g}", dopts.valFraction)}, {"data_id", data->identity()},
                  {"data_path", corpus},
                  {"tokenizer", tokenizerPathToSave(dopts.tokenizer)}, {"world", std::to_string(cluster.size)},
                  {"global_batch", std::to_string(data->samplesPerBatch())}, {"precision", precision},
                  {"optimizer", optimizerName(m)}, {"constants", m.constants ? m.constants : ""},
                  {"log_every", std::to_string(logEvery)}, {"eval_every", std::to_string(evalEvery)},
                  {"window_steps", std::to_string(windowSteps)},
                  {"window_loss", fmt::format("{:.17g}", windowLoss)}};
    meta["history.train"] = History::toText(history.train);
    meta["history.val"] = History::toText(history.val);
    saveHypers(s, meta);
    setSavingCheckpoint(path, step);
    std::string why = saveCheckpoint(path, s, meta, renamed);
    if (!why.empty()) setSavingCheckpoint(path, -1); // it failed: no rename will land
    return why;
  };
  // Whether --save still holds the step the run last saved there, after a
  // save failed: the failure may be that the file or its directory was
  // removed (the warning said "it still holds step 10" of a deleted file).
  auto savedStepThere = [&] {
    struct stat st;
    return savedStep >= 0 && stat(save.c_str(), &st) == 0;
  };
  auto lostSave = [&] { return fmt::format("the checkpoint of step {} is no longer there", savedStep); };
  // What --save holds now, for the line a second signal writes as it quits
  // the run, and for the error that ends a data-parallel run whose other
  // processes are gone: each stops the run unsaved, and the steps since
  // this checkpoint are lost. `final`: the run's last save.
  auto recordSaved = [&](bool final) {
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
  };
  // A periodic save that fails (a full disk) must not end the run: the
  // steps since the last good save would be lost with it. The run goes on,
  // and the next save tries again.
  // The save is recorded as soon as the file is renamed into place, before
  // the directory's sync: a second signal during that sync named the step
  // before (the file held step 40, the line said 20).
  auto periodicSave = [&](int64_t step) {
    std::string why = checkpoint(save, step, [&] {
      savedStep = step;
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
  };
  // The last save holds the whole run: when --save cannot take it, it goes
  // to the temporary directory instead, the run says where, and its exit
  // status is 1 so that a script notices. Only when that fails too are the
  // weights lost.
  auto finalSave = [&](int64_t step) {
    std::string why = checkpoint(save, step, [&] {
      savedStep = step;
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
    fmt::print(stderr, "error: cannot save checkpoint {} at step {}: {}; saved it to {} instead (--resume {} continues)\n",
               save, step, why, fallback, fallback);
  };

  if (!quiet) {
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
                 cluster.size, data->samplesPerBatch() / cluster.size, data->samplesPerBatch(),
                 positionUnit(m));
    if (resuming) fmt::print("resuming from {} at step {}{}\n", from, start, seedNote);
    for (auto &o : overrides) fmt::print("note: {}\n", o);
    // Before any note on stderr: into a pipe (2>&1 | tee) the header came
    // after the first validation's notes.
    std::fflush(stdout);
  }
  double lastLoss = NAN, lastVal = NAN;
  int64_t valStep = -1; // the step of the last validation
  // Seconds spent in training steps (not validation, logging or saving),
  // over the whole run and in this process's steps since the last progress
  // line (windowTimed of them).
  double trainSecs = 0, windowSecs = 0;
  int64_t windowTimed = 0;
  // The run's wall clock, validations, saves and pictures included: what
  // eta and the final line say (with --eval-every 1 on a large split, eta
  // was 0.0s and "done: 400 steps in 0.0s" for 3.5 s of running).
  const auto runStart = Clock::now();
  auto wallSecs = [&] { return std::chrono::duration<double>(Clock::now() - runStart).count(); };
  // --plot redraws at most every 2 s: at --log-every 1 it rewrote and
  // synced loss.svg every step, and 3,000 steps took 21 s, not 0.05.
  std::optional<Clock::time_point> plotted;
  StepSample stepTimes, exchangeTimes; // the latter: averaging gradients, data-parallel
  EvalResult val;
  int64_t reached = start;
  // --check-finite watches validation too (a metric's log of a negative
  // input): a finding there is reported after that validation, not blamed
  // on the next step or missed after the last.
  auto checkValidationFinite = [&](int64_t after) {
    if (finite && finite->first())
      fail("the validation after step {}: the first value to go non-finite is {}", after,
           FiniteCheck::describe(*finite->first()));
  };
  // In a data-parallel run, the others must get through the step too: when
  // one has died, mpirun stops the rest with SIGTERM, and nothing is saved.
  setStopMessage(save.empty() ? "\nstopping after this step (a second Ctrl-C or SIGTERM quits at once)\n"
                 : cluster.parallel()
                     ? "\nstopping after this step, then saving, if every process gets through the step (a second "
                       "Ctrl-C or SIGTERM quits at once, unsaved)\n"
                     : "\nstopping after this step, then saving (a second Ctrl-C or SIGTERM quits at once, unsaved)\n");
  recordSaved(false);
  catchStopSignals(cluster.rank == 0);
  cluster.stopRequested = &stopSignal;
  // A reader of the progress lines that goes away (`| head`, quitting
  // `| less`) must not kill the run unsaved: the writes fail instead, the
  // run goes on and saves, and the failed output is reported at the end.
  std::signal(SIGPIPE, SIG_IGN);
  // A data-parallel run stops when any of its processes is asked to, all at
  // the same step, so they save one consistent checkpoint: every process
  // must take the same branch wherever a signal can change one.
  auto anyStopping = [&](bool here) {
    here = here || stopSignal != 0;
    return cluster.parallel() ? cluster.sum(here ? 1 : 0) > 0 : here;
  };
  bool stopping = stopSignal != 0;
  // Without --threads, steps on all threads and on one are timed against
  // each other now and then (ThreadChoice.h); the results do not change.
  // Not under --profile, whose kernel times would mix the two.
  ThreadChoice threadChoice(s.ctx, s.ctx.pool, !a.has("threads") && !cluster.parallel() && !profile);
  // What --save holds when the run ends on non-finite weights, which are
  // not saved: the finite steps before are lost unless a --save-every save
  // kept them.
  auto savedNote = [&]() -> std::string {
    if (save.empty()) return "";
    if (savedStepThere()) return fmt::format("; {} holds step {}, the last checkpoint", save, savedStep);
    return fmt::format("; nothing was saved to {}: the step's update may have made the weights non-finite, and no "
                       "checkpoint was kept before it (--save-every N keeps one every N steps)",
                       save);
  };
  // A loss can stay finite while a param does not (where(s > 0, log(s), 0)
  // at s = 0: the branch not taken still has an infinite derivative, and 0
  // times it is NaN). The run finished with s = NaN and saved a checkpoint
  // that every command then refused to load. The params are checked at
  // each progress line and before each save (a pass over them, no more).
  int64_t paramsCheckedAt = start;
  auto checkParamsFinite = [&](int64_t done) {
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
  };
  for (int64_t step = start; step < stopAt && !stopping; ++step) {
    threadChoice.beforeStep();
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
    if (std::string line = threadChoice.afterStep(dt); !line.empty() && !quiet) {
      std::fputs((line + "\n").c_str(), stdout); // not fmt::print: see the progress line
      std::fflush(stdout);
    }
    lastLoss = s.scalar(GRT_OUTPUT_PREFIX "loss");
    stopping = stopSignal != 0;
    if (cluster.parallel()) lastLoss = globalLoss(cluster, lastLoss, stopping);
    if (finite && finite->first())
      fail("step {}: the first value to go non-finite is {}", step + 1, FiniteCheck::describe(*finite->first()));
    if (!std::isfinite(lastLoss)) {
      // The step's update has run on that loss's gradients, so the weights
      // may be NaN: they are not saved. Say what --save holds, since the
      // finite steps before are lost unless a --save-every save kept them.
      std::string saved = savedNote();
      // At the run's first step no update has run yet: the loss comes from
      // the initial (or loaded) parameters and the first batch, so a lower
      // learning rate cannot help (it was advised for sqrt(x - 10)).
      std::string value = lossText(lastLoss);
      if (step == start)
        fail("the loss is {} at step {}, before any update: the model computes it so from its {} parameters and the "
             "first batch, so the learning rate is not the cause; check the model (a log, sqrt or division of a "
             "value that can be 0 or negative) and the data (train --check-finite names the first value that went "
             "non-finite){}",
             value, step + 1, from.empty() ? "initial" : "loaded", saved);
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
             kInfiniteGradient, saved);
      fail("the loss became {} at step {}; lower the learning rate, or check the data for extreme values (train "
           "--check-finite names the first value that went non-finite){}",
           value, step + 1, saved);
    }
    windowLoss += lastLoss;
    ++windowSteps;
    int64_t done = step + 1;
    reached = done;
    bool last = done == stopAt, runEnds = done == steps;
    if (done % logEvery == 0 || last || (!save.empty() && saveEvery > 0 && done % saveEvery == 0))
      checkParamsFinite(done);
    // A signal during a validation leaves it unfinished (its figure would be
    // of part of the split) and stops the run after this step, as the stop
    // message promised: it waited for the whole split, then trained a step
    // more.
    bool validates = hasVal && (done % evalEvery == 0 || last);
    EvalResult result;
    if (validates) {
      result = evaluate(s, *data, dopts.seed, &stopSignal, !quiet);
      bool cut = anyStopping(false);
      stopping = stopping || cut;
      validates = !cut;
    }
    if (validates) {
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
      History::add(done % evalEvery == 0 || runEnds ? history.val : tail.val, double(done), lastVal);
    }
    if (done % logEvery == 0 || last) {
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
      bool kept = done % logEvery == 0 || runEnds;
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
    if (!save.empty() && saveEvery > 0 && done % saveEvery == 0 && !last) periodicSave(done);
  }
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
  auto signalName = []() -> std::string {
    if (stopSignal == SIGINT) return "SIGINT";
    if (stopSignal == SIGTERM) return "SIGTERM";
    return "another process's signal";
  };
  // Under mpirun, Ctrl-C reaches the processes as SIGTERM (Open MPI turns
  // the one into the other), and a user who pressed it would not know it.
  // But mpirun sends SIGTERM whenever it ends a run, and a process cannot
  // tell why (its standard output, a terminal of mpirun's, still takes
  // lines after mpirun's own output has gone), so the note names them all.
  auto explainSignal = [&] {
    if (cluster.parallel() && stopSignal == SIGTERM)
      fmt::print(stderr, "note: under mpirun, a SIGTERM may be Ctrl-C, which mpirun passes on as SIGTERM, or mpirun "
                         "ending the run for another reason: a signal to mpirun, a process that ended, or output it "
                         "could not write (a `| head` that has quit)\n");
  };
  // The final figure: text models validate on the whole split, not the
  // quick estimate the progress lines used (the two differed by 0.03 on
  // tinyshakespeare).
  threadChoice.finish();
  if (hasVal && !stopping && !data->validatesAll()) {
    data->fullValidation(true);
    val = evaluate(s, *data, dopts.seed, &stopSignal, !quiet);
    if (anyStopping(false)) {
      if (save.empty())
        fmt::print(stderr, "stopped by {} during the final validation, after the last step ({}); nothing saved (no "
                   "--save given)\n", signalName(), reached);
      else
        fmt::print(stderr, "stopped by {} during the final validation, after the last step ({}); saved {}\n", signalName(),
                   reached, savedAs);
      explainSignal();
      return 128 + int(stopSignal ? stopSignal : SIGTERM);
    }
    lastVal = val.loss;
    checkValidationFinite(reached);
  }
  if (stopping) {
    // A signal after the last step's work stops nothing but the figures
    // that follow it: there is nothing for --resume to continue (it said
    // it would, and --resume then refused: "nothing to train").
    std::string at = reached == steps ? fmt::format("after the last step ({})", reached) : fmt::format("at step {}", reached);
    if (save.empty()) fmt::print(stderr, "stopped by {} {}; nothing saved (no --save given)\n", signalName(), at);
    else if (reached == steps)
      fmt::print(stderr, "stopped by {} {}; saved {}, which holds the whole run\n", signalName(), at, savedAs);
    else fmt::print(stderr, "stopped by {} {}; saved {} (--resume {} continues)\n", signalName(), at, savedAs, savedAs);
    explainSignal();
    return 128 + int(stopSignal ? stopSignal : SIGTERM);
  }
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
  if (!plotError.empty()) {
    fmt::print(stderr, "error: {}{}\n", plotError, save.empty() ? "" : fmt::format(" (the checkpoint {} was saved)", savedAs));
    return 1;
  }
  if (!plotDir.empty()) {
    if (std::string err = plotLoss(plotDir, m, drawn()); !err.empty()) fail("{}", err);
    std::string note = plotFit(plotDir, s, *data, reached);
    fmt::print("pictures: {}/loss.svg{}\n", plotDir, note.empty() ? fmt::format(", {}/fit.svg", plotDir) : " (" + note + ")");
  }
  printSmallParams(s);
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
  return savedAs != save ? 1 : 0; // the checkpoint was rescued: it is not where --save said
}

} // namespace grt
