//===- runtime/driver/Inspect.cpp - the eval, predict and info commands ---===//
#include "driver/Checkpoint.h"
#include "driver/Commands.h"
#include "driver/DataParallel.h"
#include "core/Gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace grt {

/// --seed of eval and predict seeds only the model's own random numbers:
/// a model without rand_* has no `seed`, and the flag would change nothing.
static void refuseIdleSeed(const Args &a, const Session &s, const char *batches) {
  if (a.has("seed") && s.find("seed") < 0)
    fail("--seed seeds the model's own random numbers (rand_*), and this model draws none{}; drop --seed", batches);
}

int cmdEval(const GrtModel &m, int argc, char **argv) {
  // The validation batches are fixed (Data.cpp): --seed seeds only the
  // model's own random numbers (rand_*).
  Args a("eval", argc, argv, 2, {"load", "data", "threads", "val-batches", "tokenizer", "precision", "seed"},
         {"partial-load", "quick"});
  precisionOption(a, m);
  Session s(m, threadsOption(a));
  // Without --quick, eval covers the whole validation split, in windows
  // that do not overlap: a batch count would be ignored.
  if (m.data_kind != GRT_DATA_TEXT && (a.has("quick") || a.has("val-batches")))
    fail("--{} is for text models; a table model's eval covers every row of its data", a.has("quick") ? "quick" : "val-batches");
  if (a.has("val-batches") && !a.has("quick")) fail("--val-batches goes with --quick; eval without it covers the whole validation split");
  DataOptions d = dataOptions(a);
  d.evalOnly = true;
  s.initParams(0);
  Metadata meta;
  if (a.has("load")) meta = loadCheckpoint(a.str("load"), s, a.has("partial-load"), /*weightsOnly=*/true);
  else fmt::print(stderr, "note: no --load given; evaluating freshly initialised parameters\n");
  // The model's random numbers (rand_*): the data ignores the seed.
  refuseIdleSeed(a, s, " (eval's batches are fixed)");
  d.seed = modelSeed(a, meta, a.str("load"));
  // A text model reads the tokens it was trained on.
  if (m.data_kind == GRT_DATA_TEXT) d.tokenizer = tokenizerForCheckpoint(d.tokenizer, meta, a.str("load"), modelVocab(s));
  auto data = loadData(s, d);
  // Text: the whole validation split, unless --quick asks for the estimate
  // progress lines use (--val-batches random windows).
  data->fullValidation(!a.has("quick"));
  applyHypers(s, a);
  if (Cluster &c = Cluster::get(); c.parallel()) checkSameRun(c, evalDefinition(s, *data, d), "evaluate one model");
  EvalResult r = evaluate(s, *data, d.seed);
  fmt::print("loss {:.9g}{}", r.loss, bitsPerByte(*data, r.loss));
  for (auto &[name, v] : r.metrics) fmt::print("  {} {:.9g}", name, v);
  fmt::print("  ({} batch{} of {})\n", r.batches, r.batches == 1 ? "" : "es", data->describe());
  // A NaN printed among the numbers is easy to miss in a script's log.
  if (!std::isfinite(r.loss)) fmt::print(stderr, "note: the loss is not finite ({})\n", r.loss);
  for (auto &[name, v] : r.metrics)
    if (!std::isfinite(v))
      fmt::print(stderr, "note: metric '{}' is not finite ({}): some row gives it a NaN or an infinity\n", name, v);
  return 0;
}

int cmdPredict(const GrtModel &m, int argc, char **argv) {
  Args a("predict", argc, argv, 2, {"load", "data", "threads", "precision", "seed"}, {"partial-load"});
  precisionOption(a, m);
  Session s(m, threadsOption(a));
  const GrtEntry *e = s.entry("predict");
  // gradc keeps in @predict only the outputs with a row per input row, and
  // notes at build time each one it leaves out (passes/SplitEntries.cpp).
  if (!e)
    fail("the model has no output to predict: predict prints outputs with a row per input row; add `output NAME` for "
         "one (gradc build notes each output it left out, and why)");
  if (!a.has("data")) fail("predict needs --data FILE.csv with a column per input");
  s.initParams(0);
  Metadata meta;
  if (a.has("load")) meta = loadCheckpoint(a.str("load"), s, a.has("partial-load"), /*weightsOnly=*/true);
  else fmt::print(stderr, "note: no --load given; predicting with freshly initialised parameters\n");
  refuseIdleSeed(a, s, "");
  uint64_t seed = modelSeed(a, meta, a.str("load"));
  std::vector<int> inputs = entryInputs(s, "predict");
  Rows rows = readRows(s, inputs, dataPath(a));
  int64_t batch = s.slots[inputs.empty() ? 0 : inputs[0]].tensor->dims[0];
  // predict prints a row per input row, so it prints the outputs shaped
  // [B, ...] like the inputs; any other (a sum over the batch, a parameter)
  // has no row to go on. gradc leaves those out of @predict; a .gir edited
  // after split-entries can still have them.
  std::vector<std::string> outs;
  for (auto &o : splitList(e->outputs)) {
    const GrtTensor &t = *s.slot(outputTensor(o)).tensor;
    if (t.rank >= 1 && t.dims[0] == batch) outs.push_back(o);
    else
      fmt::print(stderr, "note: not printing output '{}' ({}{}): predict prints one row per input row, and its first "
                         "dimension is not the batch ({})\n",
                 o, dtypeName(t.dtype), shapeStr(t), batch);
  }
  if (outs.empty()) fail("no output of the model has one row per input row (a first dimension of {}); nothing to predict", batch);

  // Header: the input columns, then the output columns.
  std::vector<std::string> header;
  auto columns = [&](const Session::Slot &sl, const std::string &name) {
    int64_t f = sl.numel / sl.tensor->dims[0];
    for (int64_t i = 0; i < f; ++i) header.push_back(f == 1 ? name : fmt::format("{}[{}]", name, i));
  };
  for (int i : inputs) columns(s.slots[i], s.slots[i].tensor->name);
  // An output named like an input (`output x`) is named as its tensor
  // (`output:x`, as info lists it): two columns `x` would not read back as
  // --data, and a column `x` would be read as the input.
  auto isInput = [&](const std::string &name) {
    int i = s.find(name);
    return i >= 0 && s.slots[size_t(i)].tensor->role == GRT_INPUT;
  };
  for (auto &o : outs) columns(s.slot(outputTensor(o)), isInput(o) ? outputTensor(o) : o);
  fmt::print("{}\n", fmt::join(header, ","));
  // Integers print as integers; f64 with the 17 digits that read back the same.
  auto cell = [](const Session::Slot &sl, int64_t i) {
    double v = Session::get(sl, i);
    switch (sl.tensor->dtype) {
    case GRT_F32: return fmt::format("{:.9g}", v);
    case GRT_F64: return fmt::format("{:.17g}", v);
    default: return fmt::format("{}", int64_t(v));
    }
  };
  // Rows whose outputs are NaN or infinite, per output: said at the end,
  // where a script's reader of the CSV would miss them.
  std::vector<int64_t> notFinite(outs.size(), 0);
  std::vector<int64_t> firstBad(outs.size(), -1);
  for (int64_t first = 0; first < rows.rows; first += batch) {
    fillRows(s, rows, first);
    seedBatch(s, seed, first / batch);
    s.run("predict");
    for (int64_t b = 0; b < batch && first + b < rows.rows; ++b) {
      std::vector<std::string> cells;
      auto row = [&](const Session::Slot &sl) {
        int64_t f = sl.numel / sl.tensor->dims[0];
        bool finite = true;
        for (int64_t k = 0; k < f; ++k) {
          cells.push_back(cell(sl, b * f + k));
          finite = finite && std::isfinite(Session::get(sl, b * f + k));
        }
        return finite;
      };
      for (int i : inputs) row(s.slots[i]);
      for (size_t o = 0; o < outs.size(); ++o)
        if (!row(s.slot(outputTensor(outs[o]))) && notFinite[o]++ == 0) firstBad[o] = first + b;
      fmt::print("{}\n", fmt::join(cells, ","));
    }
  }
  for (size_t o = 0; o < outs.size(); ++o)
    if (notFinite[o])
      fmt::print(stderr, "note: output '{}' is not finite (NaN or infinite) in {} of {} rows, the first at data row {}\n",
                 outs[o], notFinite[o], rows.rows, firstBad[o] + 1);
  return 0;
}

int cmdInfo(const GrtModel &m, int argc, char **argv) {
  Args a("info", argc, argv, 2, {}, {});
  // By GrtRole (gradrt/abi.h); a role this runtime does not know is shown
  // as a number rather than read past the table.
  static const char *roles[] = {"input", "param", "state", "hyper", "output", "grad"};
  auto roleName = [](int32_t r) -> std::string {
    return r >= 0 && size_t(r) < std::size(roles) ? roles[r] : fmt::format("role{}", r);
  };
  fmt::print("model {} (compiled from {})\n", m.name, m.source);
  fmt::print("optimizer: {}\n", m.optimizer);
  // As built, -D applied: what checkpoints record and compare.
  if (m.constants && *m.constants) {
    std::string list(m.constants);
    list.pop_back(); // the last line's '\n'
    std::replace(list.begin(), list.end(), '\n', ' ');
    fmt::print("constants: {}\n", list);
  }
  if (m.data_kind == GRT_DATA_TABLE) fmt::print("default data: a table of {} rows the model generates\n", m.data_rows);
  else if (m.data_kind == GRT_DATA_TEXT)
    fmt::print("default data: text from {} ('{}' gets the context, '{}' the next tokens: bytes, or a tokenizer's "
               "tokens)\n",
               grt::shown(m.text_corpus, 4096), m.text_input, m.text_target);
  else fmt::print("default data: none; pass --data\n");
  int64_t params = 0, paramBytes = 0, stateBytes = 0;
  // Columns as wide as their longest entry, so that a long name
  // (h.0.attn.q_proj.weight.adam_m) does not push its line's out of line.
  size_t nameWidth = 24, typeWidth = 17;
  for (int i = 0; i < m.num_tensors; ++i) {
    nameWidth = std::max(nameWidth, std::strlen(m.tensors[i].name));
    typeWidth = std::max(typeWidth, std::strlen(dtypeName(m.tensors[i].dtype)) + shapeStr(m.tensors[i]).size());
  }
  fmt::print("tensors:\n");
  for (int i = 0; i < m.num_tensors; ++i) {
    const GrtTensor &t = m.tensors[i];
    std::string extra;
    bool cache = Session::isCache(t), step = Session::isStepOnlyInput(m, t);
    if (t.role == GRT_PARAM || t.role == GRT_STATE) extra = fmt::format("init {}", t.init);
    if (cache) extra = "keys or values for `sample` (not saved)";
    if (Session::isUserHyper(t))
      extra = fmt::format("default {}", t.default_value);
    auto range = [](Session::IndexRange r) {
      return r.bounded() ? fmt::format("{}..{}", r.low, r.limit - 1) : std::string("any");
    };
    if (t.role == GRT_INPUT && Session::indexRange(t, 0).bounded() && !t.column_ranges)
      extra = "indices in " + range(Session::indexRange(t, 0));
    if (t.role == GRT_INPUT && t.column_ranges) {
      // One range per column: "indices by column: 0..4, 0..99, any".
      extra = "indices by column:";
      int64_t columns = numel(t) / std::max<int64_t>(1, t.dims[0]);
      for (int64_t c = 0; c < columns && c < 8; ++c) extra += (c ? ", " : " ") + range(Session::indexRange(t, c));
      if (columns > 8) extra += ", ...";
    }
    if (step) extra += std::string(extra.empty() ? "" : "; ") + "set by `sample` for @step, not a data column";
    std::string role = cache ? std::string("cache") : step ? std::string("step") : roleName(t.role);
    fmt::print("  {:<6}  {:<{}} {:<{}} {}\n", role, t.name, nameWidth, std::string(dtypeName(t.dtype)) + shapeStr(t),
               typeWidth, extra);
    int64_t bytes = numel(t) * int64_t(dtypeBytes(t.dtype));
    if (t.role == GRT_PARAM) params += numel(t), paramBytes += bytes;
    if (t.role == GRT_STATE && !cache) stateBytes += bytes;
  }
  fmt::print("entry points:\n");
  size_t entryWidth = 8;
  for (int i = 0; i < m.num_entries; ++i) entryWidth = std::max(entryWidth, std::strlen(m.entries[i].name));
  for (int i = 0; i < m.num_entries; ++i)
    fmt::print("  {:<{}} {:>4} kernel{}, scratch arena {}\n", m.entries[i].name, entryWidth, m.entries[i].num_kernels,
               m.entries[i].num_kernels == 1 ? "" : "s", humanBytes(double(m.entries[i].arena_bytes)));
  fmt::print("parameters: {} ({}), optimizer state {}\n", params, humanBytes(double(paramBytes)), humanBytes(double(stateBytes)));
  // The packed kernels are f32's; f64 products (a --dtype f64 build) are
  // the textbook sums, in AVX-512 register tiles or row by row. A product
  // with a side of 4 or less is a loop of the kernel's own and calls
  // neither (passes/Matvec.cpp).
  int32_t products = modelProducts(m);
  bool f32 = products & GRT_PRODUCTS_F32, f64 = products & GRT_PRODUCTS_F64;
  if (f32) fmt::print("matrix multiply on this CPU: {}\n", gemmDescription());
  if (f64)
    fmt::print("f64 matrix multiply: the textbook sums, each term in order, {} and split across threads by rows, "
               "not packed (slower than f32)\n",
               &gemmForHost() == &gemmAvx512() ? "in AVX-512 tiles of 4 rows by 32 columns" : "row by row");
  if (!f32 && !f64)
    fmt::print("matrix multiply: none in this model (a product with a side of 4 or less is a loop of its kernel); "
               "on this CPU: {}\n", gemmDescription());
  fmt::print("bf16 matrix products (--precision bf16): {}\n",
             !f32 ? "none: they replace f32 products with no side under 5, and this model has none"
             : gemmBf16Supported() ? gemmAvx512Bf16().name
                                   : "not on this CPU (no AVX-512 BF16)");
  return 0;
}

} // namespace grt
