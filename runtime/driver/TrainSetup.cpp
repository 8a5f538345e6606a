//===- runtime/driver/TrainSetup.cpp - `train`: everything before step 1 --===//
//
// What a run settles before its first step, in this order: the checkpoint
// it goes on from (and what the flags given now change of the saved run),
// its outputs against its inputs, the data at the saved position, the
// hyperparameters, the steps it trains and when it prints, validates and
// saves, and, on several processes, what they must all agree on.
//
//===----------------------------------------------------------------------===//
#include "driver/AtomicFile.h"
#include "driver/DataParallel.h"
#include "driver/StopSignals.h"
#include "driver/TrainRun.h"
#include "gradrt/hypers.h"

#include <sys/stat.h>

namespace grt {

void TrainRun::resumeFrom() {
  if (paths.from.empty()) return;
  const std::string &from = paths.from;
  resumed = loadCheckpoint(from, s, a.has("partial-load"));
  // A file no gradc executable wrote (weights from PyTorch) names no
  // model: under --partial-load its weights start a new run, as another
  // model's do.
  bool foreign = !resumed.count("model");
  if (foreign && !a.has("partial-load"))
    fail("checkpoint {} was not written by a gradc executable (its metadata names no model), so it holds no run to "
         "go on with; --partial-load starts a new run from its weights",
         from);
  std::string savedModel = foreign ? std::string() : requiredField(resumed, "model", from);
  resuming = !foreign && savedModel == m.name;
  if (resuming) return;
  // Adam's moments and momentum were summed over that run's steps;
  // with the step back at 0, Adam's bias correction would scale them
  // up as if they were one step's. They start over, as the step does.
  for (auto &sl : s.slots)
    if (sl.tensor->role == GRT_STATE && !Session::isCache(*sl.tensor)) {
      Rng rng(dopts.seed, hashName(sl.tensor->name));
      initTensor(sl, rng);
    }
  overrides.push_back(fmt::format("--partial-load: only the weights{} carry over from {}{}: this run starts at step "
                                  "0, with this model's own seed, hyperparameters and optimizer state, the data from "
                                  "its start and no loss history{}",
                                  foreign ? std::string() : fmt::format(" of model '{}'", shown(savedModel)), from,
                                  foreign ? " (a file no gradc executable wrote)" : "",
                                  foreign ? "" : " (the checkpoint's are those of that model's run)"));
}

void TrainRun::goOnWithSavedRun() {
  const std::string &from = paths.from;
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
  // The quick validation estimate's batches (text): a resume without
  // --val-batches went back to 8, and the loss history mixed estimates of
  // 150 batches with estimates of 8.
  if (saved.valBatches && m.data_kind == GRT_DATA_TEXT) {
    if (!a.has("val-batches")) dopts.valBatches = *saved.valBatches;
    else if (dopts.valBatches != *saved.valBatches)
      overrides.push_back(fmt::format("--val-batches {} overrides the checkpoint's {}: the validation losses from here "
                                      "on estimate over another number of batches",
                                      dopts.valBatches, *saved.valBatches));
  }
  // The run's checkpoint holds the step it resumed from, when --save is
  // where it resumed from.
  if (!save.empty() && samePlace(from, save)) savedStep = start;
}

void TrainRun::useSavedTokenizer() {
  // A run on BPE tokens goes on with its tokenizer (a table model has
  // none, whatever a hand-edited checkpoint says); weights of another
  // model's run read those tokens too.
  const std::string &from = paths.from;
  auto it = resumed.find("tokenizer");
  if (from.empty() || m.data_kind != GRT_DATA_TEXT || it == resumed.end() || it->second.empty() || a.has("tokenizer"))
    return;
  dopts.tokenizer = savedTokenizerPath(it->second, from);
  requireSavedTokenizer(dopts.tokenizer, from);
  // The file may have been trained anew since (`tokenizer train -o` onto
  // it): its token ids then mean other bytes to the embeddings. eval and
  // sample refused it; train went on with a note that the data differed.
  dopts.tokenizer = tokenizerForCheckpoint(dopts.tokenizer, resumed, from, modelVocab(s));
}

void TrainRun::checkOutputs() {
  const std::string &corpus = paths.corpus;
  bool defaultCorpus = paths.defaultCorpus;
  refuseOverwritingCorpus(save, "--save", corpus, defaultCorpus);
  refuseOverwritingInput(save, "--save", dopts.tokenizer, "--tokenizer");
  refuseOverwritingProgram(save, "--save");
  // After the checks that say which input a path is: any other file.
  if (!save.empty()) refuseReplacingOtherFile(save, m.name);
  // Another run saving to the same path would rename its saves over these.
  if (std::string refused = save.empty() ? "" : claimForWriting(save, "--save"); !refused.empty()) fail("{}", refused);
  if (!save.empty()) checkSaveLimits(save, s);
  for (const char *picture : {"loss.svg", "fit.svg"}) {
    if (!save.empty() && !plotDir.empty() && samePlace(save, plotDir + "/" + picture))
      fail("--save {} is where --plot draws {}; choose another path for the checkpoint", save, picture);
    // The pictures are outputs too.
    if (plotDir.empty()) continue;
    std::string path = plotDir + "/" + picture;
    refuseOverwritingCorpus(path, "--plot's picture", corpus, defaultCorpus);
    refuseOverwritingInput(path, "--plot's picture", dopts.tokenizer, "--tokenizer");
    refuseOverwritingInput(path, "--plot's picture", paths.from, a.has("resume") ? "--resume" : "--load");
    // Any other file of that name (a picture of the user's): replaced
    // without a word, where --save refuses to replace a non-checkpoint.
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && !drawnHere(path))
      fail("--plot {}: {} is there and is not a picture a training run drew; move it, or choose another directory",
           plotDir, path);
    // Nor can a directory or a device be drawn over: said at the end of
    // the run, after all its steps.
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      fail("--plot {}: {} is {}, where the run draws a picture; move it, or choose another directory", plotDir, path,
           S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
  }
}

void TrainRun::loadTrainingData() {
  const std::string &from = paths.from;
  data = loadData(s, dopts);
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
  // A resume that forgot its --data trained on the model's own data (its
  // data block, or compiled-in corpus), with a note: the common slip, where
  // fine-tuning names its new file. It is refused, and says both ways on.
  if (otherData && !a.has("data") && !saved.dataPath.empty() && saved.dataPath != paths.corpus)
    fail("checkpoint {} was trained on {}, and this run has no --data, so it would train on the model's own data; "
         "give --data {} to go on with the run, or --data FILE to train on other data",
         from, saved.dataPath, shellWord(saved.dataPath));
  if (otherData)
    // An identity is about 90 characters (text, size, hashes of the bytes
    // and of the tokenizer): shown whole, so the part that differs is seen.
    // With the files' names, where the checkpoint has its own.
    overrides.push_back(fmt::format("the data is not what the checkpoint was trained on (it was {}{}; this is {}{}): "
                                    "training goes on, but not as the saved run would have",
                                    shown(saved.dataId, 200),
                                    saved.dataPath.empty() ? "" : ", " + shown(saved.dataPath, 200),
                                    data->identity(), paths.corpus.empty() ? "" : ", " + paths.corpus));
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
}

void TrainRun::setHypersAndSchedule() {
  const std::string &from = paths.from;
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
  stopAt = std::min(steps, a.integer("stop-after", steps, 0));
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
  logEvery = a.integer("log-every",
                       saved.logEvery > 0 && steps == saved.totalSteps ? saved.logEvery
                                                                       : std::max<int64_t>(1, steps / 20),
                       1);
  // The saved run's too, unless --steps changes or it validated with each
  // line (the default, which follows --log-every).
  bool keepsEvalEvery = saved.evalEvery > 0 && saved.evalEvery != saved.logEvery && steps == saved.totalSteps;
  evalEvery = a.integer("eval-every", keepsEvalEvery ? saved.evalEvery : logEvery, 1);
  // 0 (no periodic saves) is the default: asked for, it is refused like
  // --log-every 0, not read as "never".
  saveEvery = a.integer("save-every", 0, 1);
  if (a.has("save-every") && !a.has("save")) fail("--save-every needs --save FILE, the checkpoint it rewrites");
  hasVal = data->numValBatches() > 0 && s.has("eval");
}

void TrainRun::prepareExchange() {
  // Averaging the last layers' gradients while the backward pass computes
  // the first ones', in buckets of 1 MiB (--bucket-kib). By default only when the run
  // spans machines: between processes of one machine, averaging is memory
  // copies and additions on the cores that compute, and overlapping them
  // hid 87% of the wait but made the 6-layer GPT's step no faster
  // (docs/data-parallel.md). Never for gradients of one bucket or less
  // (nothing to overlap), or when MPI allows no second thread.
  if (a.has("overlap") && a.has("no-overlap")) fail("give --overlap or --no-overlap, not both");
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
  if (!cluster.parallel()) return;
  // What else every process must do alike: progress lines and validation
  // gather from all of them, and so does each bucket of gradients, so
  // processes that differ here would exchange messages that do not match.
  // And rank 0 alone writes what the run outputs: --save given to another
  // process only was ignored, and the run saved nothing, silently.
  // (--threads and --check-finite are each process's own.)
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
  buckets = std::make_unique<GradientBuckets>(s, cluster, overlap, kBucketBytes);
}

} // namespace grt
