//===- runtime/driver/Train.cpp - the `train` command ---------------------===//
//
// The command itself: its flags, the output paths (checked before the
// first step, so that no run ends in an error after its work is done), and
// the session; TrainRun.h lists the phases that follow, a file each.
//
//===----------------------------------------------------------------------===//
#include "driver/AtomicFile.h"
#include "driver/StopSignals.h"
#include "driver/TrainRun.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace grt {

namespace {

/// Creates the --plot directory if needed and makes sure files can be
/// written in it.
void checkPlotDirectory(const std::string &dir) {
  bool made = mkdir(dir.c_str(), 0755) == 0;
  if (!made && errno != EEXIST) fail("cannot create the plot directory {}: {}", dir, std::strerror(errno));
  // A run that ends before its first picture (an error in set-up, a
  // second Ctrl-C) leaves no empty directory behind.
  if (made) {
    static std::string madeDir = dir;
    removeOnQuit(madeDir, QuitRemoval::EmptyDir);
    std::atexit([] { ::rmdir(madeDir.c_str()); });
  }
  std::string probe = fmt::format("{}/.write-test-{}", dir, getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) fail("cannot write pictures in {}: {}", dir, std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
}

/// The flags that name paths, checked against each other and made ready.
TrainPaths trainPaths(const GrtModel &m, const Args &a) {
  TrainPaths p;
  p.from = a.has("resume") ? a.str("resume") : a.str("load");
  p.save = a.str("save");
  p.plotDir = a.str("plot");
  // In a data-parallel run, rank 0 alone writes checkpoints and pictures.
  if (!Cluster::get().leader()) p.save.clear(), p.plotDir.clear();
  // Before the plot directory is made: a path that does not exist yet
  // would pass the checkpoint's check, then become the directory (the run
  // trained to its end and could not save).
  if (!p.save.empty() && !p.plotDir.empty() && samePlace(p.save, p.plotDir))
    fail("--save {} and --plot {} are the same path; the checkpoint needs a path of its own", p.save, p.plotDir);
  // The corpus actually read: --data, else a text model's compiled-in one
  // (a save onto it replaced it, and the next run trained on the checkpoint).
  p.corpus = dataPath(a);
  p.defaultCorpus = p.corpus.empty() && m.data_kind == GRT_DATA_TEXT;
  if (p.defaultCorpus) p.corpus = m.text_corpus ? m.text_corpus : "";
  // Then the plot directory, which a checkpoint may go in (--plot run
  // --save run/m.ckpt), and which is made in no corpus directory (--data
  // DIR --plot DIR/plots made one there, and drew in it).
  refuseOverwritingCorpus(p.plotDir, "--plot", p.corpus, p.defaultCorpus, true);
  if (!p.plotDir.empty()) checkPlotDirectory(p.plotDir);
  if (!p.save.empty()) checkCheckpointPath(p.save);
  return p;
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
  // Until the first step a signal quits at once, and removes the lock and
  // an empty plot directory this run makes.
  quitOnStopSignals(Cluster::get().leader());
  TrainPaths paths = trainPaths(m, a);
  std::string precision = precisionOption(a, m);
  Session s(m, threadsOption(a));
  if (!s.has("train")) fail("the model has no train entry");
  Cluster &cluster = Cluster::get();
  if (cluster.parallel() && !(s.has(GRT_ENTRY_GRADS) && s.has(GRT_ENTRY_APPLY)))
    fail("this executable cannot train on {} processes: it was built without the data-parallel entries; rebuild it "
         "with gradc build --data-parallel",
         cluster.size);
  if (cluster.parallel() && !s.gradients.mixed.empty())
    fail("data-parallel training averages all gradients as one buffer of one float type, but this model's params "
         "differ: {}; give them one type",
         s.gradients.mixed);
  TrainRun run(m, a, s, std::move(paths), std::move(precision));
  return run.run();
}

TrainRun::TrainRun(const GrtModel &m, const Args &a, Session &s, TrainPaths p, std::string precision)
    : m(m), a(a), s(s), cluster(Cluster::get()), paths(std::move(p)), save(paths.save), plotDir(paths.plotDir),
      precision(std::move(precision)), quiet(a.has("quiet")), savedAs(paths.save) {}

int TrainRun::run() {
  profileTop = int(a.integer("profile-top", 25, 0, INT32_MAX));
  if (a.has("profile") || a.has("profile-top")) s.ctx.profile = (profile = std::make_unique<Profile>(m)).get();
  if (a.has("check-finite")) s.ctx.finite = (finite = std::make_unique<FiniteCheck>(m)).get();
  dopts = dataOptions(a);
  dopts.rank = cluster.rank;
  dopts.world = cluster.size;
  // The model counts steps in i32 (its step and total_steps inputs): a run
  // of 2^31 steps or more wrapped them negative, and the schedule with them.
  steps = a.integer("steps", 1000, 1, kMaxSteps);
  s.initParams(dopts.seed);
  resumeFrom();
  if (resuming) goOnWithSavedRun();
  useSavedTokenizer();
  checkOutputs();
  loadTrainingData();
  setHypersAndSchedule();
  checkSaveSize();
  prepareExchange();
  printHeader();
  trainSteps();
  return finish();
}

} // namespace grt
