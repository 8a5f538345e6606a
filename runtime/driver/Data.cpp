//===- runtime/driver/Data.cpp - where training batches come from ---------===//
#include "driver/Data.h"

#include "driver/Args.h"
#include "driver/AtomicFile.h"
#include "driver/Csv.h"
#include "gradrt/hypers.h"

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace grt {

std::vector<int> entryInputs(Session &s, const char *entry) {
  const GrtEntry *e = s.entry(entry);
  std::vector<int> out;
  if (!e) return out;
  for (auto &name : splitList(e->inputs)) out.push_back(s.find(name));
  return out;
}

/// The inputs a table fills, row by row: all but those only @step reads.
static std::vector<int> tableInputs(Session &s) {
  std::vector<int> inputs;
  for (size_t i = 0; i < s.slots.size(); ++i)
    if (s.slots[i].tensor->role == GRT_INPUT && !Session::isStepOnlyInput(s.model, *s.slots[i].tensor))
      inputs.push_back(int(i));
  return inputs;
}

/// A scalar input has no row to give each example (gradc refuses one in a
/// .grad model; a .gir module can still declare it).
static void requireBatchDimension(Session &s, const std::vector<int> &inputs) {
  for (int i : inputs)
    if (const GrtTensor &t = *s.slots[size_t(i)].tensor; t.rank == 0)
      fail("input '{}' is {}[], a scalar: table data gives each input one row per example, so it needs a batch "
           "dimension first, e.g. {}[B, 1]",
           t.name, dtypeName(t.dtype), dtypeName(t.dtype));
}

static int64_t batchOf(Session &s) {
  for (int i : tableInputs(s))
    if (s.slots[size_t(i)].tensor->rank >= 1) return s.slots[size_t(i)].tensor->dims[0];
  fail("the model has no inputs with a batch dimension");
}

/// Per-row element count of an input: everything after the batch dim.
static int64_t features(const Session::Slot &sl) { return sl.numel / sl.tensor->dims[0]; }

/// CSV column names for an input: "x" for one feature, "x[0]".."x[F-1]" for more.
static std::vector<std::string> columnNames(const Session::Slot &sl) {
  int64_t f = features(sl);
  if (f == 1) return {sl.tensor->name};
  std::vector<std::string> out;
  for (int64_t i = 0; i < f; ++i) out.push_back(fmt::format("{}[{}]", sl.tensor->name, i));
  return out;
}

/// Why column `column` (an element of a row) of index input `t` cannot
/// take `v` ("'c' is an index into 5 entries: it takes 0 to 4"), or ""
/// when it can. The generated code clamps an index, so one out of range
/// would silently read the wrong row, or give a target a loss of 0.
static std::string outOfRange(const GrtTensor &t, int64_t column, double v) {
  int64_t limit = t.column_limits ? t.column_limits[column] : t.index_limit;
  if (limit <= 0 || (v >= 0 && v < double(limit))) return "";
  // With a bound per column, the column is named: 'ids' as a whole is no
  // index into that many entries.
  std::string what = t.column_limits ? fmt::format("'{}[{}]'", t.name, column) : fmt::format("'{}'", t.name);
  return fmt::format("{} is an index into {} entries: it takes 0 to {}", what, limit, limit - 1);
}

// An f32 cell is refused from kF32Overflow (gradrt/hypers.h) up: predict
// prints FLT_MAX as 3.40282347e+38, and it reads back. (An f64 column needs
// no such check: strtod gives an infinity, refused as not finite, for what
// rounds past DBL_MAX.)

Rows readRows(Session &s, const std::vector<int> &inputs, const std::string &path) {
  requireBatchDimension(s, inputs);
  // The column of each input's each feature, found from the header before
  // any row is read: a file that is no table of these columns (a text file
  // given to a text model's predict) is told a column is missing, not
  // that its second line has another number of commas.
  std::vector<std::vector<int>> columnsOf;
  auto findColumns = [&](const CsvTable &t) {
    for (int idx : inputs) {
      auto &sl = s.slots[idx];
      auto names = columnNames(sl);
      std::vector<int> found;
      for (size_t f = 0; f < names.size(); ++f) {
        int c = t.column(names[f]);
        if (names.size() == 1) {
          // One feature: `x` or `x[0]`, not both (which would be read?).
          int alias = t.column(names[f] + "[0]");
          if (c >= 0 && alias >= 0)
            fail("{}: columns '{}' and '{}' both name input '{}'; keep one", path, names[f], names[f] + "[0]",
                 sl.tensor->name);
          if (c < 0) c = alias;
        }
        if (c < 0) {
          std::string want;
          for (int i : inputs)
            for (auto &n : columnNames(s.slots[i])) want += (want.empty() ? "" : ", ") + n;
          fail("{}: missing column '{}' (the model reads columns {})", path, names[f], want);
        }
        found.push_back(c);
      }
      columnsOf.push_back(std::move(found));
    }
  };
  CsvTable t = readCsv(path, findColumns);
  Rows r;
  r.inputs = inputs;
  r.rows = t.rows;
  std::vector<bool> used(t.header.size());
  // The first bad value in the file's order, whichever column holds it (a
  // column-by-column scan named a later line first).
  int64_t badRow = -1;
  std::string bad;
  auto problem = [&](int64_t row, std::string msg) {
    if (badRow < 0 || row < badRow) badRow = row, bad = std::move(msg);
  };
  for (size_t in = 0; in < inputs.size(); ++in) {
    auto &sl = s.slots[inputs[in]];
    std::vector<double> vals(t.rows * features(sl));
    auto names = columnNames(sl);
    for (size_t f = 0; f < names.size(); ++f) {
      int c = columnsOf[in][f];
      used[c] = true;
      bool isBool = sl.tensor->dtype == GRT_BOOL;
      // `yes` or `T` in a bool column: what the column takes says more than
      // "not a finite number".
      if (isBool && !t.notNumberHeld[size_t(c)].empty())
        fail("{}, but '{}' is bool: it takes 0 or 1, true or false", t.notNumberHeld[size_t(c)], sl.tensor->name);
      const std::vector<double> &column = t.numbers(c);
      if (!isBool && !t.truths[size_t(c)].empty())
        fail("{}, a truth value, but '{}' takes numbers", t.truths[size_t(c)], sl.tensor->name);
      for (int64_t row = 0; row < t.rows && (badRow < 0 || row < badRow); ++row) {
        double v = column[row];
        if (isBool && v != 0 && v != 1)
          problem(row, fmt::format("{}:{}: column '{}' holds {}, but '{}' is bool: it takes 0 or 1, true or false", path,
                                   t.lines[row], names[f], v, sl.tensor->name));
        else if (sl.tensor->dtype == GRT_I32 && !(v >= INT32_MIN && v <= INT32_MAX && v == std::floor(v)))
          problem(row, fmt::format("{}:{}: column '{}' holds {}, but '{}' takes 32-bit integers", path, t.lines[row],
                                   names[f], v, sl.tensor->name));
        else if (std::string why = outOfRange(*sl.tensor, int64_t(f), v); !why.empty())
          problem(row, fmt::format("{}:{}: column '{}' holds {}, but {}", path, t.lines[row], names[f], v, why));
        else if (sl.tensor->dtype == GRT_F32 && std::fabs(v) >= kF32Overflow)
          problem(row, fmt::format("{}:{}: column '{}' holds {}, too large for '{}', which is f32: it would round to "
                                   "infinity (f32 holds at most {:.9g} in magnitude)",
                                   path, t.lines[row], names[f], v, sl.tensor->name, double(FLT_MAX)));
        vals[row * names.size() + f] = v;
      }
    }
    r.values.push_back(std::move(vals));
  }
  if (badRow >= 0) fail("{}", bad);
  // Columns no input reads (an id, a label kept for reference) are allowed,
  // but said, so that a misspelt name is not silently ignored.
  // (The model's other inputs, such as the target predict does not read,
  // count as read; a scalar input, or one only @step reads, has no column.)
  for (int i : tableInputs(s))
    if (s.slots[size_t(i)].tensor->rank >= 1)
      for (auto &n : columnNames(s.slots[size_t(i)]))
        for (const std::string &alias : {n, n + "[0]"})
          if (int c = t.column(alias); c >= 0) used[c] = true;
  // A column x[k] past input x's features is no stray label: the file has
  // more features than the model was built for, and training on the first
  // few would be silently wrong (x[0..2] for an f32[B, 2] input).
  for (size_t c = 0; c < used.size(); ++c) {
    const std::string &h = t.header[c];
    size_t open = h.find('[');
    if (used[c] || open == std::string::npos || open + 2 >= h.size() || h.back() != ']' ||
        !std::all_of(h.begin() + long(open) + 1, h.end() - 1, [](char d) { return d >= '0' && d <= '9'; }))
      continue;
    for (int i : tableInputs(s)) {
      const Session::Slot &sl = s.slots[size_t(i)];
      if (sl.tensor->rank < 1 || h.compare(0, open, sl.tensor->name) != 0 || std::strlen(sl.tensor->name) != open) continue;
      int64_t f = features(sl);
      fail("{}: column '{}' is past input '{}', which has {} feature{} ({}): the file has more features than the model "
           "reads; rebuild the model for them (gradc build -D), or drop the column",
           path, shown(h), sl.tensor->name, f, f == 1 ? "" : "s",
           f == 1 ? fmt::format("column {} or {}[0]", sl.tensor->name, sl.tensor->name)
                  : fmt::format("columns {}[0] to {}[{}]", sl.tensor->name, sl.tensor->name, f - 1));
    }
  }
  std::string unused;
  int64_t numUnused = 0;
  for (size_t c = 0; c < used.size(); ++c)
    if (!used[c] && numUnused++ < 5) unused += (unused.empty() ? "'" : ", '") + t.header[c] + "'";
  if (numUnused)
    fmt::print(stderr, "note: {}: ignoring {} column{} the model does not read: {}{}\n", path, numUnused,
               numUnused == 1 ? "" : "s", unused, numUnused > 5 ? fmt::format(" and {} more", numUnused - 5) : "");
  return r;
}

void fillRows(Session &s, const Rows &r, int64_t first) {
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    auto &sl = s.slots[r.inputs[i]];
    int64_t B = sl.tensor->dims[0], F = features(sl);
    for (int64_t b = 0; b < B; ++b) {
      int64_t row = (first + b) % r.rows;
      for (int64_t f = 0; f < F; ++f) Session::set(sl, b * F + f, r.values[i][row * F + f]);
    }
  }
}

namespace {

//===--- tables -------------------------------------------------------------===//

/// How validation cuts n rows into batches of B that the `eval` entry takes
/// whole: n / B full batches, then the r = n % B rows left in groups whose
/// size g divides B, largest first, each filling a batch with every row of
/// the group B / g times. A batch's loss weighted by its distinct rows
/// (B, or g) then adds up to the sum over rows for a loss that is a mean
/// or sum of per-row terms, and no row is counted twice. r = 25, B = 32:
/// groups of 16, 8 and 1, so three extra batches (r at worst, for a prime B).
struct EvalBatch {
  int64_t first; // index into the row list
  int64_t rows;  // distinct rows: B, or a divisor of B
};

std::vector<EvalBatch> evalBatches(int64_t n, int64_t batch) {
  std::vector<EvalBatch> out;
  int64_t at = 0;
  for (; at + batch <= n; at += batch) out.push_back({at, batch});
  while (at < n) {
    int64_t g = n - at;
    while (batch % g) --g;
    out.push_back({at, g});
    at += g;
  }
  return out;
}

class TableData : public Dataset {
public:
  TableData(Session &s, Rows rows, const DataOptions &opts, std::string source)
      : s(s), all(std::move(rows)), seed(opts.seed), source(std::move(source)), evalOnly(opts.evalOnly),
        rank(opts.rank) {
    batch = batchOf(s);
    global = batch * opts.world;
    if (evalOnly) {
      valRows.resize(all.rows);
      std::iota(valRows.begin(), valRows.end(), 0);
    } else {
      split(opts);
    }
    valBatches = evalBatches(int64_t(valRows.size()), batch);
    shuffle();
  }

  void nextTrainBatch(Session &) override {
    if (cursor + global > int64_t(order.size())) {
      ++epoch;
      shuffle();
    }
    fill(order, cursor + rank * batch, batch);
    cursor += global;
  }
  int64_t numValBatches() const override { return int64_t(valBatches.size()); }
  int64_t fillValBatch(Session &, int64_t i) override {
    fill(valRows, valBatches[i].first, valBatches[i].rows);
    return valBatches[i].rows;
  }

  std::string saveState() const override { return fmt::format("table:{}:{}", epoch, cursor); }
  std::string identity() const override {
    if (!identityCache.empty()) return identityCache; // every checkpoint asks; the rows never change
    std::string bytes;
    for (auto &v : all.values) bytes.append(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(double));
    return identityCache = fmt::format("table {} rows fnv {:016x}", all.rows, hashName(bytes));
  }
  mutable std::string identityCache;
  std::string malformedState(const std::string &state) const override {
    int64_t e, c;
    return parseState(state, e, c);
  }
  bool restoreState(const std::string &state) override {
    int64_t e, c;
    if (!parseState(state, e, c).empty()) return false;
    epoch = e;
    shuffle();
    cursor = c;
    return cursor <= int64_t(order.size());
  }
  std::string describe() const override {
    if (evalOnly) return fmt::format("{}: {} row{}", source, all.rows, all.rows == 1 ? "" : "s");
    return fmt::format("{}: {} rows ({} train, {} validation)", source, all.rows, trainRows.size(), valRows.size());
  }
  int64_t samplesPerBatch() const override { return global; }
  const Rows *rows() const override { return &all; }

private:
  /// Reads "table:EPOCH:ROW", exactly as saveState writes it: two whole
  /// numbers and nothing else (sscanf's %lld took "table:-1:5", an epoch
  /// past 2^63 and trailing junk). An epoch begins at most once a step, so
  /// none is past the 2^31 - 1 steps a run may have. Returns why not, or "".
  static std::string parseState(std::string_view state, int64_t &epoch, int64_t &row) {
    const std::string_view kind = "table:";
    size_t colon = state.rfind(':');
    if (!state.starts_with(kind) || colon < kind.size())
      return "not a table's data position (table:EPOCH:ROW)";
    auto whole = [](std::string_view digits, int64_t max, int64_t &out) { return parseCount(digits, out) && out <= max; };
    std::string_view e = state.substr(kind.size(), colon - kind.size()), r = state.substr(colon + 1);
    if (!whole(e, INT32_MAX, epoch))
      return fmt::format("not a table's data position (table:EPOCH:ROW): its epoch '{}' is not a whole number from 0 "
                         "to {}",
                         shown(e), INT32_MAX);
    if (!whole(r, INT64_MAX, row))
      return fmt::format("not a table's data position (table:EPOCH:ROW): its row '{}' is not a whole number",
                         shown(r));
    return "";
  }
  /// Holds out the last rows of a fixed permutation for validation (the
  /// split does not depend on the seed): as many as --val-frac asks, but
  /// never so many that training is left without one full batch (of all
  /// the processes of a data-parallel run).
  void split(const DataOptions &opts) {
    int64_t n = all.rows;
    if (opts.world > 1 && n < global)
      fail("{}: {} rows, fewer than one global batch of {} ({} processes × {}); pass more rows, or run fewer processes",
           source, n, global, opts.world, batch);
    if (n < batch && opts.path.empty())
      fail("{}: {} rows, fewer than one batch of {}; pass --data with at least {} rows, or rebuild the model with "
           "more rows or a smaller batch (gradc build -D)",
           source, n, batch, batch);
    if (n < batch)
      fail("{}: {} row{}, fewer than one batch of {}; pass at least {} rows, or rebuild the model with a smaller "
           "batch (gradc build -D)",
           source, n, n == 1 ? "" : "s", batch, batch);
    int64_t asked = opts.valFraction > 0 ? std::max<int64_t>(1, int64_t(n * opts.valFraction)) : 0;
    int64_t val = std::min(asked, n - global);
    if (val == 0 && asked > 0)
      fmt::print(stderr,
                 "note: {}: {} rows leave none for validation with a {}; training without validation (pass "
                 "more rows, or --val-frac 0 to silence this)\n",
                 source, n,
                 // Training keeps a whole global batch: all processes' rows.
                 opts.world > 1 ? fmt::format("global batch of {} ({} processes × {})", global, opts.world, batch)
                                : fmt::format("batch of {}", batch));
    else if (val < asked)
      fmt::print(stderr, "note: {}: holding out {} row{} for validation, not {}, so that training keeps a full batch of {}\n",
                 source, val, val == 1 ? "" : "s", asked, global);
    std::vector<int64_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    Rng rng(12345, hashName("split"));
    for (int64_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
    trainRows.assign(perm.begin(), perm.end() - val);
    valRows.assign(perm.end() - val, perm.end());
    std::sort(trainRows.begin(), trainRows.end());
    std::sort(valRows.begin(), valRows.end());
  }
  /// The epoch's order: the training rows permuted by (seed, epoch).
  void shuffle() {
    order = trainRows;
    Rng rng(seed, hashName("shuffle") + uint64_t(epoch));
    for (int64_t i = int64_t(order.size()) - 1; i > 0; --i) std::swap(order[i], order[rng.below(i + 1)]);
    cursor = 0;
  }
  /// Fills the batch with the `distinct` rows list[first...], repeated in
  /// turn until all B slots are full (once each when distinct == B).
  void fill(const std::vector<int64_t> &list, int64_t first, int64_t distinct) {
    // Runs before every step: for a small model (mlp64's is 90 µs) a
    // division per row and a type switch per value showed in profiles.
    int64_t end = first + distinct;
    for (size_t i = 0; i < all.inputs.size(); ++i) {
      auto &sl = s.slots[all.inputs[i]];
      int64_t F = features(sl);
      const double *values = all.values[i].data();
      float *f32 = sl.tensor->dtype == GRT_F32 ? static_cast<float *>(sl.data) : nullptr;
      for (int64_t b = 0, k = first; b < batch; ++b, k = k + 1 == end ? first : k + 1) {
        const double *row = values + list[k] * F;
        if (f32)
          for (int64_t f = 0; f < F; ++f) f32[b * F + f] = float(row[f]);
        else
          for (int64_t f = 0; f < F; ++f) Session::set(sl, b * F + f, row[f]);
      }
    }
  }

  Session &s;
  Rows all;
  uint64_t seed;
  std::string source;
  bool evalOnly;
  int rank;
  int64_t batch = 0, global = 0; // this process's rows of a step, and all processes'

  std::vector<int64_t> trainRows, valRows, order;
  std::vector<EvalBatch> valBatches;
  int64_t epoch = 0, cursor = 0;
};

/// Runs the model's generator entry and reads the rows it wrote.
Rows generateTable(Session &s, const DataOptions &opts, std::vector<int> inputs) {
  if (!s.has("data")) fail("the model has no default data; pass --data FILE.csv");
  requireBatchDimension(s, inputs);
  s.ctx.rng = Rng(opts.dataSeed, hashName("data"));
  s.run("data");
  Rows r;
  r.inputs = inputs;
  r.rows = s.model.data_rows;
  for (int idx : inputs) {
    // gradc makes each of @data's outputs its input's type with data_rows
    // rows; a descriptor that says otherwise (from hand-edited text IR) is
    // refused rather than read past the end of the rows.
    const GrtTensor &in = *s.slots[idx].tensor;
    int g = s.find(outputTensor(in.name));
    if (g < 0) fail("the model's data table generates no rows for input '{}'", in.name);
    auto &gen = s.slots[size_t(g)];
    int64_t perRow = features(s.slots[idx]);
    if (r.rows < 1 || gen.numel % perRow != 0 || gen.numel / perRow != r.rows)
      fail("the model's data table gives input '{}' {} values, not {} rows of {}", in.name, gen.numel, r.rows, perRow);
    std::vector<double> vals(gen.numel);
    for (int64_t i = 0; i < gen.numel; ++i) vals[i] = Session::get(gen, i);
    // The same check a CSV's indices get: out of range, a gather would
    // read a clamped row and a target give a loss of 0, silently.
    for (int64_t i = 0; i < gen.numel; ++i)
      if (std::string bad = outOfRange(in, i % perRow, vals[i]); !bad.empty())
        fail("the model's data table gives '{}' the value {} in row {}, but {}", in.name, vals[i], i / perRow, bad);
    // As a CSV's: a value that overflowed (exp(40 * x) in f32) trained
    // into "the loss became inf at step 1" with no word of the data.
    for (int64_t i = 0; i < gen.numel; ++i)
      if (!std::isfinite(vals[i]))
        fail("the model's data table gives '{}' the value {} in row {}: a table's values must be finite numbers "
             "(does its data block overflow {}?)",
             in.name, vals[i], i / perRow, dtypeName(in.dtype));
    r.values.push_back(std::move(vals));
  }
  return r;
}

//===--- text ---------------------------------------------------------------===//

/// The token cache's format. Version 2 ends with a hash of the ids: damage
/// that keeps the file's size (a flipped id) trained on other tokens,
/// silently. A version-1 file is simply encoded again.
static const char kTokMagic[8] = {'G', 'R', 'A', 'D', 'C', 'T', 'K', '2'},
                  kTokOld[8] = {'G', 'R', 'A', 'D', 'C', 'T', 'K', '1'};

/// Whether `path` is a token cache gradc wrote beside a corpus
/// (`c.txt.tok-HASH`, starting with kTokMagic of any version): read as
/// text, it was reported as a file holding NUL bytes.
static bool isTokenCache(const std::string &path) {
  if (path.find(".tok-") == std::string::npos) return false;
  char magic[7]; // kTokMagic without its version
  std::ifstream in(path, std::ios::binary);
  return in.read(magic, sizeof magic) && !std::memcmp(magic, kTokMagic, sizeof magic);
}

/// Bytes of a file, or of every text file in a directory (sorted by name).
/// In a directory, what is not a text file directly in it is skipped:
/// subdirectories (not read), hidden files, symlinks, the `.dat` index files
/// `fortune` keeps beside its text files, gradc's token caches, anything
/// with NUL bytes or that cannot be read. A --data directory says so in
/// notes (its corpus shrank unnoticed); the compiled-in corpus, whose
/// skipped files are expected (fortunes' .dat and .u8 links), does not.
std::string readCorpus(const std::string &path, bool compiledIn) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) fail("cannot read corpus {}: {}", path, std::strerror(errno));
  // The text is held in memory about twice (whole, then split), so it may
  // take at most a quarter of it; sizes are checked before allocating, and
  // a pipe is read in chunks up to the same limit.
  uint64_t limit = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE)) / 4;
  uint64_t total = 0;
  auto tooLarge = [&](const std::string &p) {
    fail("corpus {} is too large: more than {:.1f} GiB, a quarter of this machine's memory", p,
         double(limit) / double(1 << 30));
  };
  auto readFile = [&](const std::string &p, std::string &out) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return false;
    out.clear();
    bool ok = readStream(in, out, size_t(limit - total));
    total += out.size();
    if (total > limit) tooLarge(p);
    return ok;
  };
  if (!S_ISDIR(st.st_mode)) {
    // A device (/dev/zero, /dev/urandom) never ends; a pipe does.
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) fail("cannot read corpus {}: not a regular file", path);
    if (uint64_t(st.st_size) > limit) tooLarge(path);
    std::string text;
    if (!readFile(path, text)) fail("cannot read corpus {}: {}", path, std::strerror(errno));
    return text;
  }
  std::vector<std::string> names;
  DIR *d = opendir(path.c_str());
  if (!d) fail("cannot list corpus directory {}: {}", path, std::strerror(errno));
  while (dirent *e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  std::string all;
  // A file that cannot be read, or holds NUL bytes (binary, or UTF-16
  // text), is skipped, but said: the corpus shrank silently, and results
  // changed with who ran the command. So is everything else skipped, in
  // one note ("name (why)"), the first few of them by name.
  std::vector<std::string> binary, skipped;
  bool subdirectories = false;
  for (auto &n : names) {
    std::string p = path + "/" + n, text;
    struct stat ls;
    bool listed = lstat(p.c_str(), &ls) == 0;
    if (listed && S_ISDIR(ls.st_mode)) {
      subdirectories = subdirectories || n[0] != '.';
      skipped.push_back(n + (n[0] == '.' ? "/ (hidden)" : "/ (a subdirectory: not read)"));
      continue;
    }
    if (n[0] == '.') {
      skipped.push_back(n + " (hidden)");
      continue;
    }
    if (!listed || !S_ISREG(ls.st_mode)) {
      skipped.push_back(n + (listed && S_ISLNK(ls.st_mode) ? " (a symbolic link)" : " (not a regular file)"));
      continue;
    }
    if (n.ends_with(".dat")) {
      skipped.push_back(n + " (a .dat index)");
      continue;
    }
    if (isTokenCache(p)) {
      skipped.push_back(n + " (gradc's token cache)");
      continue;
    }
    if (total + uint64_t(ls.st_size) > limit) tooLarge(path);
    if (!readFile(p, text)) {
      fmt::print(stderr, "note: skipping {} of the corpus: it cannot be read ({})\n", p, std::strerror(errno));
      continue;
    }
    if (text.find('\0') != std::string::npos) {
      binary.push_back(n);
      continue;
    }
    all += text;
  }
  if (!binary.empty())
    fmt::print(stderr, "note: skipping {} file{} of corpus directory {} that hold{} NUL bytes (binary, or UTF-16 text): {}{}\n",
               binary.size(), binary.size() == 1 ? "" : "s", path, binary.size() == 1 ? "s" : "",
               fmt::join(binary.begin(), binary.begin() + std::min<size_t>(binary.size(), 5), ", "),
               binary.size() > 5 ? fmt::format(" and {} more", binary.size() - 5) : "");
  if (!skipped.empty() && !compiledIn)
    fmt::print(stderr, "note: skipping {} entr{} of corpus directory {}: {}{}\n", skipped.size(),
               skipped.size() == 1 ? "y" : "ies", path,
               fmt::join(skipped.begin(), skipped.begin() + std::min<size_t>(skipped.size(), 5), ", "),
               skipped.size() > 5 ? fmt::format(" and {} more", skipped.size() - 5) : "");
  if (all.empty() && subdirectories)
    fail("corpus directory {} has no readable text files directly in it, and its subdirectories are not read: give "
         "one of them as --data, or move the files up",
         path);
  if (all.empty()) fail("corpus directory {} has no readable text files", path);
  return all;
}

/// The corpus as token ids under `tok`: the training and validation parts
/// encoded apart (the split is at 90% of the bytes), read from a cache
/// when one is there for this corpus and tokenizer, else encoded and
/// cached (`NAME.tok-HASH`).
struct Encoded {
  std::vector<int32_t> train, val;
};

namespace {

uint64_t idsChecksum(const Encoded &x) {
  auto bytes = [](const std::vector<int32_t> &v) {
    return std::string_view(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(int32_t));
  };
  return hashName(bytes(x.train)) * 31 + hashName(bytes(x.val));
}

/// The ids in the cache `path` when it is there and whole; a damaged one is
/// said (an old version is not: it is simply replaced).
std::optional<Encoded> readTokenCache(const std::string &path, const Tokenizer &tok, size_t trainBytes,
                                      size_t valBytes) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) return std::nullopt;
  Encoded e;
  char magic[8];
  int64_t n[2];
  uint64_t sum = 0;
  bool read = std::fread(magic, 1, 8, f) == 8, old = read && !std::memcmp(magic, kTokOld, 8);
  bool ok = read && !std::memcmp(magic, kTokMagic, 8) && std::fread(n, sizeof n, 1, f) == 1 && n[0] >= 0 && n[1] >= 0 &&
            n[0] <= int64_t(trainBytes) && n[1] <= int64_t(valBytes);
  if (ok) {
    e.train.resize(size_t(n[0]));
    e.val.resize(size_t(n[1]));
    ok = std::fread(e.train.data(), 4, e.train.size(), f) == e.train.size() &&
         std::fread(e.val.data(), 4, e.val.size(), f) == e.val.size() && std::fread(&sum, sizeof sum, 1, f) == 1 &&
         std::fgetc(f) == EOF && sum == idsChecksum(e);
    for (auto *v : {&e.train, &e.val})
      for (int32_t id : *v) ok = ok && id >= 0 && id < tok.size();
  }
  std::fclose(f);
  if (ok) return e;
  if (!old) fmt::print(stderr, "note: ignoring the damaged token cache {}; encoding again\n", path);
  return std::nullopt;
}

/// Writes `e` to the cache `path` atomically (a temporary file, renamed);
/// false when it cannot be written there.
bool writeTokenCache(const std::string &path, const Encoded &e) {
  int64_t n[2] = {int64_t(e.train.size()), int64_t(e.val.size())};
  uint64_t sum = idsChecksum(e);
  return writeAtomically(path, [&](int fd) {
           return writeAll(fd, kTokMagic, 8) && writeAll(fd, n, sizeof n) &&
                  writeAll(fd, e.train.data(), 4 * e.train.size()) && writeAll(fd, e.val.data(), 4 * e.val.size()) &&
                  writeAll(fd, &sum, sizeof sum);
         }).empty();
}

/// The user's cache directory for gradc: $XDG_CACHE_HOME/gradc, else
/// ~/.cache/gradc; "" when neither variable names a directory.
std::string userCacheDirectory() {
  if (const char *x = std::getenv("XDG_CACHE_HOME"); x && x[0] == '/') return std::string(x) + "/gradc";
  if (const char *h = std::getenv("HOME"); h && h[0] == '/') return std::string(h) + "/.cache/gradc";
  return "";
}

} // namespace

/// Where the cache may be, in the order it is looked for and written:
/// beside a --data corpus (`c.txt.tok-HASH`; a directory's beside it, not
/// in it, where it would be read as text), then in the user's cache
/// directory (`gradc/c.txt.tok-HASH`). The compiled-in corpus is often a
/// system file (/usr/share/games/fortunes): its cache is only ever in the
/// user's directory. A place that cannot be written (a read-only
/// directory, no $HOME) is passed over quietly.
Encoded encodeCorpus(const Tokenizer &tok, const std::string &trainBytes, const std::string &valBytes,
                     const std::string &source, bool compiledIn) {
  uint64_t key = hashName(tok.serialize()) ^ (hashName(trainBytes) * 31 + hashName(valBytes)) ^ uint64_t(tok.presplit());
  std::string path = source;
  while (path.size() > 1 && path.back() == '/') path.pop_back(); // "dd/": the directory dd
  std::string userDir = userCacheDirectory();
  std::vector<std::string> places;
  if (!compiledIn) places.push_back(fmt::format("{}.tok-{:016x}", path, key));
  if (!userDir.empty())
    places.push_back(fmt::format("{}/{}.tok-{:016x}", userDir, std::filesystem::path(path).filename().string(), key));
  for (auto &place : places)
    if (auto e = readTokenCache(place, tok, trainBytes.size(), valBytes.size())) return std::move(*e);
  Encoded e;
  e.train = tok.encode(trainBytes);
  e.val = tok.encode(valBytes);
  for (auto &place : places) {
    if (place.starts_with(userDir + "/")) {
      std::error_code ec;
      std::filesystem::create_directories(userDir, ec);
    }
    if (writeTokenCache(place, e)) return e;
  }
  // Only the time to encode it again is lost.
  fmt::print(stderr, "note: cannot cache the encoded corpus ({}); it will be encoded again next time\n",
             places.empty() ? std::string("no writable place: $XDG_CACHE_HOME and $HOME are unset")
                            : fmt::format("{} cannot be written", fmt::join(places, " nor ")));
  return e;
}

class TextData : public Dataset {
public:
  TextData(Session &s, std::string text, const DataOptions &opts, std::string source)
      : s(s), source(std::move(source)), rng(opts.seed, hashName("windows")), rank(opts.rank), world(opts.world) {
    in = s.find(s.model.text_input);
    tg = s.find(s.model.text_target);
    // gradc refuses a text model that never reads one of them; an
    // executable built before that (or from a .gir module) gets here.
    for (auto [slot, name] : {std::pair{in, s.model.text_input}, std::pair{tg, s.model.text_target}})
      if (slot < 0)
        fail("the model never reads its text input '{}' (gradc dropped it as unread), so the text has nowhere to go; "
             "rebuild the model with its loss and logits computed from '{}'",
             name ? name : "", name ? name : "");
    batch = s.slots[in].tensor->dims[0];
    context = s.slots[in].tensor->dims[1];
    int64_t split = int64_t(text.size() * 0.9);
    train = text.substr(0, split);
    val = text.substr(split);
    int64_t vocab = modelVocab(s);
    if (!opts.tokenizer.empty()) {
      tok = loadTokenizer(opts.tokenizer, vocab);
      Encoded e = encodeCorpus(*tok, train, val, this->source, opts.path.empty());
      trainIds = std::move(e.train);
      valIds = std::move(e.val);
      tokName = opts.tokenizer;
    }
    int64_t need = context + 1;
    if (int64_t have = tok ? trainLen() + valLen() : int64_t(text.size()); trainLen() < need || valLen() < need)
      fail("corpus {} has {} {}; the model needs at least {} in both its first 90% (training) and last 10% "
           "(validation): one context window of {} plus the next {}",
           this->source, have, have == 1 ? (tok ? "token" : "byte") : unit(), need, context, tok ? "token" : "byte");
    if (vocab > 0 && !tok)
      for (unsigned char c : text)
        if (c >= vocab) fail("corpus {} contains byte {} but the model's vocabulary has {} entries", this->source, int(c), vocab);
    Rng fixed(777, hashName("validation"));
    // (--val-batches batches of the global batch, as one process would draw.)
    for (int64_t i = 0; i < int64_t(opts.valBatches) * batch * world; ++i)
      valStarts.push_back(fixed.below(valLen() - context));
    // The whole split: windows [k·T, k·T + T] (the last target is the next
    // window's first input), in batches whose distinct windows divide B,
    // so weighting each batch by them gives the exact mean.
    fullBatches = evalBatches((valLen() - 1) / context, batch);
  }

  void nextTrainBatch(Session &) override {
    // Every process draws the whole global batch's windows and keeps its own.
    for (int64_t b = 0; b < batch * world; ++b) {
      int64_t start = int64_t(rng.below(trainLen() - context));
      if (b / batch == rank) window(false, start, b % batch);
    }
  }
  int64_t numValBatches() const override {
    return full ? int64_t(fullBatches.size()) : int64_t(valStarts.size()) / batch;
  }
  int64_t fillValBatch(Session &, int64_t i) override {
    if (full) {
      const EvalBatch &e = fullBatches[i];
      for (int64_t b = 0; b < batch; ++b) window(true, (e.first + b % e.rows) * context, b);
      return e.rows;
    }
    for (int64_t b = 0; b < batch; ++b) window(true, valStarts[i * batch + b], b);
    return batch;
  }
  void fullValidation(bool on) override { full = on; }
  bool validatesAll() const override { return full; }
  double bytesPerToken() const override { return tok ? double(val.size()) / double(valIds.size()) : 1.0; }
  std::string saveState() const override { return "text:" + rng.save(); }
  std::string identity() const override {
    if (!identityCache.empty()) return identityCache; // every checkpoint asks: hash the corpus once
    std::string id = fmt::format("text {} bytes fnv {:016x}", train.size() + val.size(),
                                 hashName(train) ^ (hashName(val) * 0x9E3779B97F4A7C15ULL));
    if (tok) id += fmt::format(" tokenizer fnv {:016x}", hashName(tok->serialize()));
    return identityCache = id;
  }
  mutable std::string identityCache;
  std::string malformedState(const std::string &state) const override {
    Rng probe = rng;
    if (state.rfind("text:", 0) == 0 && probe.restore(state.substr(5))) return "";
    return "not a text's data position (text:STATE:STREAM, the window generator's two words in 16 hex digits each)";
  }
  bool restoreState(const std::string &state) override {
    return state.rfind("text:", 0) == 0 && rng.restore(state.substr(5));
  }
  std::string describe() const override {
    std::string d = fmt::format("{}: {} bytes ({} train, {} validation)", source, train.size() + val.size(),
                                train.size(), val.size());
    if (tok)
      d += fmt::format(", {} tokens by {} ({} train, {} validation; {:.2f} bytes a token)", trainLen() + valLen(),
                       tokName, trainLen(), valLen(), bytesPerToken());
    return d;
  }
  int64_t samplesPerBatch() const override { return batch * world * context; }

private:
  int64_t trainLen() const { return tok ? int64_t(trainIds.size()) : int64_t(train.size()); }
  int64_t valLen() const { return tok ? int64_t(valIds.size()) : int64_t(val.size()); }
  const char *unit() const { return tok ? "tokens" : "bytes"; }
  int32_t at(bool isVal, int64_t i) const {
    if (tok) return (isVal ? valIds : trainIds)[size_t(i)];
    return (unsigned char)(isVal ? val : train)[size_t(i)];
  }
  void window(bool isVal, int64_t start, int64_t b) {
    auto &x = s.slots[in], &y = s.slots[tg];
    auto *xd = static_cast<int32_t *>(x.data), *yd = static_cast<int32_t *>(y.data);
    for (int64_t t = 0; t < context; ++t) {
      xd[b * context + t] = at(isVal, start + t);
      yd[b * context + t] = at(isVal, start + t + 1);
    }
  }

  Session &s;
  std::string source;
  Rng rng;
  int rank, world;
  int in = -1, tg = -1;
  int64_t batch = 0, context = 0;
  std::string train, val;
  std::optional<Tokenizer> tok; // --tokenizer: windows of token ids, not bytes
  std::string tokName;
  std::vector<int32_t> trainIds, valIds;
  std::vector<int64_t> valStarts;
  std::vector<EvalBatch> fullBatches;
  bool full = false;
};

} // namespace

int64_t modelVocab(Session &s) {
  // What the compiler found the text inputs index (the embedding's rows,
  // the loss's classes), else the logits' width; 0 when neither says.
  int64_t vocab = 0;
  for (const char *name : {s.model.text_input, s.model.text_target})
    if (int slot = name ? s.find(name) : -1; slot >= 0)
      if (int64_t l = s.slots[slot].tensor->index_limit; l > 0) vocab = vocab ? std::min(vocab, l) : l;
  if (int v = s.find(GRT_OUTPUT_PREFIX "logits"); vocab == 0 && v >= 0)
    vocab = s.slots[v].tensor->dims[s.slots[v].tensor->rank - 1];
  return vocab;
}

Tokenizer loadTokenizer(const std::string &path, int64_t vocab, bool notes) {
  std::string err;
  auto tok = Tokenizer::load(path, err);
  if (!tok) fail("{}", err);
  // A tokenizer with fewer tokens than the model's vocabulary may be one
  // whose corpus ran out of pairs to merge (tokenizer train says so in a
  // note): `tokenizer train --vocab N` on that corpus again, the only
  // advice this gave, makes the same one. (Its size is at least 256.)
  if (vocab > 0 && tok->size() != vocab)
    fail("tokenizer {} has {} tokens, but the model's vocabulary has {} entries; they must match (gradc build -D "
         "vocab={}, or tokenizer train --vocab {}{})",
         path, tok->size(), vocab, tok->size(), vocab,
         tok->size() < vocab ? fmt::format(" on a corpus large enough for {} merges: one that runs out of pairs to "
                                           "merge gives fewer tokens",
                                           vocab - 256)
                             : "");
  // Text models encode with the pre-split, as `tokenizer encode` does by
  // default; a tokenizer trained without it has tokens that then never occur.
  if (int64_t n = notes ? tok->tokensAcrossChunks() : 0)
    fmt::print(stderr,
               "note: {} has {} token{} that span pre-split chunks (it was trained with --no-presplit); text models "
               "encode with the pre-split, so {} never occur\n",
               path, n, n == 1 ? "" : "s", n == 1 ? "it" : "they");
  return std::move(*tok);
}

std::unique_ptr<Dataset> loadData(Session &s, const DataOptions &opts) {
  if (s.model.data_kind == GRT_DATA_TEXT) {
    std::string path = opts.path.empty() ? s.model.text_corpus : opts.path;
    return std::make_unique<TextData>(s, readCorpus(path, opts.path.empty()), opts, path);
  }
  if (!opts.tokenizer.empty()) fail("--tokenizer is for text models; '{}' reads tables", s.model.name);
  std::vector<int> inputs = tableInputs(s);
  if (!opts.path.empty()) return std::make_unique<TableData>(s, readRows(s, inputs, opts.path), opts, opts.path);
  if (s.model.data_kind != GRT_DATA_TABLE) fail("the model has no default data; pass --data FILE.csv");
  return std::make_unique<TableData>(s, generateTable(s, opts, inputs), opts, "default data");
}

std::string savedTokenizerPath(const std::string &saved, const std::string &ckpt) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (saved.empty() || fs::exists(saved, ec)) return saved;
  fs::path dir = fs::path(ckpt).parent_path(), name = fs::path(saved).filename();
  std::vector<fs::path> beside{dir / name};
  if (fs::path(saved).is_relative()) beside.insert(beside.begin(), dir / saved);
  for (const fs::path &p : beside)
    if (fs::is_regular_file(p, ec)) return p.string();
  return saved;
}

void requireSavedTokenizer(const std::string &path, const std::string &ckpt) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    fail("checkpoint {} was trained on the tokens of {}, which cannot be read ({}); pass --tokenizer with that "
         "tokenizer",
         ckpt, path, std::strerror(errno));
}

std::string tokenizerPathToSave(const std::string &path) {
  std::error_code ec;
  if (path.empty()) return path;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

std::string tokenizerForCheckpoint(const std::string &given, const std::map<std::string, std::string> &meta,
                                   const std::string &ckpt, int64_t vocab) {
  auto field = [&](const char *k) {
    auto it = meta.find(k);
    return it == meta.end() ? std::string() : it->second;
  };
  // A checkpoint of a text run names its data "text N bytes fnv H", then
  // " tokenizer fnv H" when it was trained on tokens.
  std::string dataId = field("data_id"), saved = savedTokenizerPath(field("tokenizer"), ckpt);
  if (dataId.rfind("text ", 0) != 0) return given; // no checkpoint, or one from before data_id
  size_t at = dataId.find(" tokenizer fnv ");
  std::string savedHash = at == std::string::npos ? "" : dataId.substr(at + 15);
  std::string path = given;
  if (path.empty() && !saved.empty()) {
    requireSavedTokenizer(saved, ckpt);
    fmt::print(stderr, "note: using the tokenizer checkpoint {} was trained with, {}\n", ckpt, saved);
    path = saved;
  }
  if (path.empty() && !savedHash.empty())
    fail("checkpoint {} was trained on BPE tokens; pass --tokenizer with the tokenizer it was trained with", ckpt);
  if (!path.empty() && savedHash.empty())
    fail("checkpoint {} was trained on bytes, not on the tokens of --tokenizer {}; leave --tokenizer out", ckpt, path);
  if (!path.empty()) {
    std::string mine = fmt::format("{:016x}", hashName(loadTokenizer(path, vocab, false).serialize()));
    if (mine != savedHash)
      fail("{} is not the tokenizer checkpoint {} was trained with{}: its tokens differ (fnv {}, not {})", path, ckpt,
           saved.empty() || saved == path ? "" : " (" + saved + ")", mine, savedHash);
  }
  return path;
}

} // namespace grt
