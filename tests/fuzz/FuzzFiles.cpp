//===- tests/fuzz/FuzzFiles.cpp - libFuzzer target: a trained executable's files ===//
//
// What a trained executable reads from its user, fed arbitrary bytes. The
// first byte picks the reader, the rest is the file:
//
//   0  a CSV table: loadData for a table model (the train/validation split,
//      every validation batch, a few training batches), and readRows as
//      `predict` reads it
//   1  a checkpoint (safetensors): loadCheckpoint, strict then partial,
//      and what `train --resume` reads of the saved run (readSavedRun, its
//      hyperparameters, and its data position restored)
//   2  a tokenizer file (tiktoken's format): parse, then decode(encode(x))
//      must give x back for a fixed text and for the file's own bytes
//   3  a text corpus: loadData for a byte-level text model, then batches
//   4  JSON, the safetensors header's language
//
// A reader must take the file or refuse it through fatal(), which here
// throws (setFatalThrows) instead of exiting. A crash, a sanitizer report,
// a hang, or a refusal whose message is empty or longer than one line is a
// bug: the README promises one clear line for every bad file.
//
// The models are descriptors written by hand (runtime/include/gradrt/abi.h),
// with entries that do nothing: the readers only fill tensors.
//
// GRADC_FUZZ_VERBOSE=1 prints every refusal's message.
//
// Seeds: with GRADC_FUZZ_SEEDS=DIR set, the first run writes a valid file of
// each kind there (run_fuzzers.sh does this), so mutations start from
// files a real run would read.
//
//===----------------------------------------------------------------------===//
#include "core/Runtime.h"
#include "driver/Checkpoint.h"
#include "driver/Data.h"
#include "driver/Json.h"
#include "driver/Resume.h"
#include "driver/Session.h"
#include "driver/Tokenizer.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

using namespace grt;

namespace {

void nothing(void *const *, char *, GrtContext *) {}

// A table model: inputs x [4, 2] and y [4, 1], AdamW-like state, one hyper.
const int64_t kX[] = {4, 2}, kY[] = {4, 1}, kW[] = {2, 1}, kB[] = {1};
const GrtTensor kTableTensors[] = {
    {"x", GRT_INPUT, GRT_F32, 2, 0, 0, kX, "", 0},
    {"y", GRT_INPUT, GRT_F32, 2, 0, 0, kY, "", 0},
    {"w", GRT_PARAM, GRT_F32, 2, 0, 0, kW, "normal(0.1)", 0},
    {"b", GRT_PARAM, GRT_F32, 1, 0, 0, kB, "zeros", 0},
    {"w.adam_m", GRT_STATE, GRT_F32, 2, 0, 0, kW, "zeros", 0},
    {"lr", GRT_HYPER, GRT_F32, 0, 0, 0, nullptr, "", 0.1},
    {"output:loss", GRT_OUTPUT, GRT_F32, 0, 0, 0, nullptr, "", 0},
};
const GrtEntry kTableEntries[] = {
    {"train", nothing, 0, 0, 0, "x,y", "loss", nullptr, nullptr, 0},
    {"eval", nothing, 0, 0, 0, "x,y", "loss", nullptr, nullptr, 0},
    {"predict", nothing, 0, 0, 0, "x", "loss", nullptr, nullptr, 0},
};
const GrtModel kTableModel = {GRT_ABI_VERSION, int32_t(std::size(kTableTensors)), "fuzz_table", "fuzz.grad",
                              "sgd(lr = 0.1)", kTableTensors, kTableEntries, int32_t(std::size(kTableEntries)),
                              GRT_DATA_TABLE, 0, "", "", "", ""};

// A byte-level text model: windows of 8 tokens, 2 rows a batch.
const int64_t kIdx[] = {2, 8}, kE[] = {256, 4};
const GrtTensor kTextTensors[] = {
    {"idx", GRT_INPUT, GRT_I32, 2, 0, 256, kIdx, "", 0},
    {"targets", GRT_INPUT, GRT_I32, 2, 0, 256, kIdx, "", 0},
    {"emb", GRT_PARAM, GRT_F32, 2, 0, 0, kE, "zeros", 0},
    {"output:loss", GRT_OUTPUT, GRT_F32, 0, 0, 0, nullptr, "", 0},
};
const GrtEntry kTextEntries[] = {
    {"train", nothing, 0, 0, 0, "idx,targets", "loss", nullptr, nullptr, 0},
    {"eval", nothing, 0, 0, 0, "idx,targets", "loss", nullptr, nullptr, 0},
};
const GrtModel kTextModel = {GRT_ABI_VERSION, int32_t(std::size(kTextTensors)), "fuzz_text", "fuzz.grad",
                             "sgd(lr = 0.1)", kTextTensors, kTextEntries, int32_t(std::size(kTextEntries)),
                             GRT_DATA_TEXT, 0, "", "idx", "targets", ""};

const char kTable[] = "x[0],x[1],y\n0.5,1,2\n1,2,3\n-1,0.25,1e-3\n2,2,2\n3,1,0\n4,4,4\n";
const char kText[] = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n";

std::string dir;
std::string path(const char *name) { return dir + "/" + name; }

void writeFile(const std::string &p, const void *data, size_t size) {
  FILE *f = std::fopen(p.c_str(), "wb");
  if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) {
    std::fprintf(stderr, "fuzz_files: cannot write %s\n", p.c_str());
    std::abort();
  }
}

std::string readFileOrDie(const std::string &p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// A refusal must say what is wrong in one line. GRADC_FUZZ_VERBOSE=1
/// prints each (to see why an input is refused).
bool verbose = false;
void checkMessage(const FatalError &e) {
  if (verbose) std::fprintf(stderr, "refused: %s\n", e.message.c_str());
  if (e.message.empty() || e.message.find('\n') != std::string::npos) {
    std::fprintf(stderr, "fuzz_files: a refusal's message is not one line:\n[%s]\n", e.message.c_str());
    std::abort();
  }
}

template <typename F> void refusedOrTaken(F &&f) {
  try {
    f();
  } catch (const FatalError &e) {
    checkMessage(e);
  }
}

DataOptions tableOptions(const std::string &csv) {
  DataOptions o;
  o.path = csv;
  o.seed = 3;
  o.valFraction = 0.3;
  return o;
}

/// Every validation batch and a few training batches: the rows the split
/// and the shuffle pick must lie in the table.
void drawBatches(Session &s, Dataset &d) {
  for (int i = 0; i < 3; ++i) d.nextTrainBatch(s);
  for (int64_t i = 0; i < d.numValBatches() && i < 64; ++i) d.fillValBatch(s, i);
}

void csvTable(const uint8_t *data, size_t size) {
  std::string csv = path("table.csv");
  writeFile(csv, data, size);
  Session s(kTableModel, 1);
  refusedOrTaken([&] {
    auto d = loadData(s, tableOptions(csv));
    drawBatches(s, *d);
    std::string state = d->saveState();
    if (!d->restoreState(state)) {
      std::fprintf(stderr, "fuzz_files: a table's own data position does not restore: %s\n", state.c_str());
      std::abort();
    }
  });
  refusedOrTaken([&] {
    std::vector<int> inputs = entryInputs(s, "predict");
    Rows r = readRows(s, inputs, csv);
    for (int64_t first = 0; first < r.rows && first < 64; first += 4) fillRows(s, r, first);
  });
}

void checkpoint(const uint8_t *data, size_t size) {
  std::string ckpt = path("model.ckpt"), csv = path("fixed.csv");
  writeFile(ckpt, data, size);
  Session s(kTableModel, 1);
  s.initParams(1);
  for (bool partial : {false, true})
    refusedOrTaken([&] {
      Metadata meta = loadCheckpoint(ckpt, s, partial);
      // `train --resume` then reads the saved run, takes its
      // hyperparameters and puts the data back where it stopped.
      SavedRun saved = readSavedRun(meta, ckpt, kTableModel);
      char *argv[] = {const_cast<char *>("fuzz"), const_cast<char *>("train"), nullptr};
      Args none("train", 2, argv, 2, {"lr", "hp"}, {"partial-load"});
      std::vector<std::string> notes;
      restoreHypers(s, none, meta, ckpt, notes);
      auto d = loadData(s, tableOptions(csv));
      if (d->restoreState(saved.data)) drawBatches(s, *d);
    });
}

void tokenizer(const uint8_t *data, size_t size) {
  std::string_view file(reinterpret_cast<const char *>(data), size);
  std::string error;
  std::optional<Tokenizer> tok = Tokenizer::parse(file, "fuzz.tok", error);
  if (!tok) {
    if (error.empty() || error.find('\n') != std::string::npos) {
      std::fprintf(stderr, "fuzz_files: a refused tokenizer's message is not one line:\n[%s]\n", error.c_str());
      std::abort();
    }
    return;
  }
  for (std::string_view text : {std::string_view(kText), file.substr(0, 512)}) {
    std::vector<int32_t> ids = tok->encode(text);
    for (int32_t id : ids)
      if (id < 0 || id >= tok->size()) {
        std::fprintf(stderr, "fuzz_files: encode gave id %d of a vocabulary of %lld\n", id, (long long)tok->size());
        std::abort();
      }
    if (tok->decode(ids) != text) {
      std::fprintf(stderr, "fuzz_files: decode(encode(x)) != x\n");
      std::abort();
    }
  }
}

void textCorpus(const uint8_t *data, size_t size) {
  std::string corpus = path("corpus.txt");
  writeFile(corpus, data, size);
  Session s(kTextModel, 1);
  refusedOrTaken([&] {
    DataOptions o;
    o.path = corpus;
    o.seed = 5;
    o.valBatches = 2;
    auto d = loadData(s, o);
    drawBatches(s, *d);
    d->fullValidation(true);
    drawBatches(s, *d);
  });
}

void json(const uint8_t *data, size_t size) {
  Json j;
  std::string error;
  if (!parseJson(std::string(reinterpret_cast<const char *>(data), size), j, error) &&
      (error.empty() || error.find('\n') != std::string::npos)) {
    std::fprintf(stderr, "fuzz_files: a JSON error is not one line:\n[%s]\n", error.c_str());
    std::abort();
  }
}

/// Valid files of each kind, for the corpus.
void writeSeeds(const std::string &to) {
  auto seed = [&](const char *name, char kind, const std::string &bytes) {
    std::string withKind = std::string(1, kind) + bytes;
    writeFile(to + "/" + name, withKind.data(), withKind.size());
  };
  seed("seed-table.csv", 0, kTable);
  {
    Session s(kTableModel, 1);
    s.initParams(1);
    auto d = loadData(s, tableOptions(path("fixed.csv")));
    d->nextTrainBatch(s);
    // Every field train writes and reads back on --resume.
    Metadata meta{{"model", "fuzz_table"}, {"step", "3"}, {"total_steps", "10"}, {"seed", "3"},
                  {"data", d->saveState()}, {"val_frac", "0.3"}, {"log_every", "2"}, {"eval_every", "2"},
                  {"window_steps", "1"}, {"window_loss", "0.5"}, {"history.train", "2:0.75"},
                  {"history.val", "2:0.875"}, {"precision", "f32"}, {"world", "1"}, {"global_batch", "4"},
                  {"data_id", d->identity()}, {"optimizer", "sgd"}, {"hp.lr", "0.05"}};
    saveCheckpoint(path("seed.ckpt"), s, meta);
    seed("seed-checkpoint", 1, readFileOrDie(path("seed.ckpt")));
  }
  Tokenizer tok = Tokenizer::train(kText, 270, true);
  seed("seed-tokenizer", 2, tok.serialize());
  seed("seed-corpus.txt", 3, kText);
  seed("seed-header.json", 4, R"({"__metadata__":{"step":"1"},"w":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]}})");
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  // Files live in a private directory, in memory where there is one.
  char tmpl[] = "/dev/shm/fuzz_files.XXXXXX", fallback[] = "/tmp/fuzz_files.XXXXXX";
  const char *made = mkdtemp(tmpl);
  if (!made) made = mkdtemp(fallback);
  if (!made) {
    std::perror("fuzz_files: mkdtemp");
    std::abort();
  }
  dir = made;
  std::atexit([] {
    for (const char *f : {"table.csv", "model.ckpt", "fixed.csv", "corpus.txt", "seed.ckpt"}) std::remove(path(f).c_str());
    rmdir(dir.c_str());
  });
  writeFile(path("fixed.csv"), kTable, std::strlen(kTable));
  setFatalThrows(true);
  verbose = std::getenv("GRADC_FUZZ_VERBOSE") != nullptr;
  if (const char *to = std::getenv("GRADC_FUZZ_SEEDS")) try {
      writeSeeds(to);
    } catch (const FatalError &e) {
      std::fprintf(stderr, "fuzz_files: cannot write the seeds: %s\n", e.message.c_str());
      std::abort();
    }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const uint8_t *file = data + 1;
  size_t fileSize = size - 1;
  switch (data[0] % 5) {
  case 0: csvTable(file, fileSize); break;
  case 1: checkpoint(file, fileSize); break;
  case 2: tokenizer(file, fileSize); break;
  case 3: textCorpus(file, fileSize); break;
  case 4: json(file, fileSize); break;
  }
  return 0;
}
