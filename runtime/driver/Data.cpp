//===- runtime/driver/Data.cpp - tables: rows from a CSV or the model ----===//
//
// The table half of Data.h: rows of numbers from a CSV file whose header
// names the model's inputs, or from the model's `data table` block, checked
// (finite, indices in range, column by column), shuffled every epoch, with
// the last rows of a fixed permutation held out for validation. Text data
// is in TextData.cpp; loadData, at the end, picks one.
//
//===----------------------------------------------------------------------===//
#include "driver/Data.h"

#include "driver/Args.h"
#include "driver/AtomicFile.h"
#include "driver/Csv.h"
#include "gradrt/hypers.h"

#include <algorithm>
#include <cctype>
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
  Session::IndexRange r = Session::indexRange(t, column);
  if (r.holds(v)) return "";
  // With a range per column, the column is named: 'ids' as a whole is no
  // index into that many entries.
  std::string what = t.column_ranges ? fmt::format("'{}[{}]'", t.name, column) : fmt::format("'{}'", t.name);
  // (The range may be where several uses overlap, so no one table's
  // size is named.)
  if (r.low == 0) return fmt::format("{} is an index: it takes 0 to {}", what, r.limit - 1);
  // Shifted on its way to the table: labels 1..K read as onehot(y - 1, K).
  return fmt::format("{} is used as an index, shifted on its way: it takes {} to {}", what, r.low, r.limit - 1);
}

/// A column name as a reader of the file sees it: without what no editor
/// shows (a byte-order mark, written twice by some tools; a no-break, zero-
/// width or other Unicode space; control bytes), spaces and quotes, in
/// lower case. Other bytes stay: 'xé' is not 'x'.
static std::string looseName(const std::string &s) {
  static const char *const kInvisible[] = {"\xef\xbb\xbf", "\xc2\xa0", "\xe2\x80\x8b", "\xe2\x80\x8c",
                                           "\xe2\x80\x8d", "\xe2\x81\xa0", "\xe2\x80\xaf", "\xe3\x80\x80"};
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (const char *const *inv = std::find_if(std::begin(kInvisible), std::end(kInvisible),
                                              [&](const char *v) { return s.compare(i, std::strlen(v), v) == 0; });
        inv != std::end(kInvisible)) {
      i += std::strlen(*inv);
      continue;
    }
    unsigned char c = static_cast<unsigned char>(s[i++]);
    if (c > ' ' && c != 0x7f && c != '"' && c != '\'') out += char(std::tolower(c));
  }
  return out;
}

/// `s` with each byte outside printable ASCII written \xNN.
static std::string visibleBytes(const std::string &s) {
  std::string out;
  for (unsigned char c : s) out += c >= ' ' && c < 0x7f ? std::string(1, char(c)) : fmt::format("\\x{:02x}", c);
  return out;
}

/// "; the file's column 'X' ..." when a column of the file is `want` but
/// for what no one sees in an editor or a terminal, else "".
static std::string nearColumn(const CsvTable &t, const std::string &want) {
  for (const std::string &h : t.header)
    if (h != want && looseName(h) == looseName(want))
      return fmt::format("; the file's column '{}' differs from it only in case, spaces, quotes or invisible "
                         "characters",
                         visibleBytes(h));
  return "";
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
            fail("{}: columns '{}' and '{}' both name input '{}'; keep one", dataFileName(path), names[f], names[f] + "[0]",
                 sl.tensor->name);
          if (c < 0) c = alias;
        }
        if (c < 0) {
          // The columns wanted, an input of many features as a range
          // (x[0]..x[1999]: the whole list made a line of 17 kB).
          std::string want;
          for (int i : inputs) {
            auto all = columnNames(s.slots[i]);
            std::string these = all.size() > 4 ? all.front() + ".." + all.back() : "";
            for (size_t k = 0; all.size() <= 4 && k < all.size(); ++k) these += (k ? ", " : "") + all[k];
            want += (want.empty() ? "" : ", ") + these;
          }
          // A file without a header: its first row was read as one.
          bool numeric = !t.header.empty() && std::all_of(t.header.begin(), t.header.end(), [](const std::string &h) {
            char *end = nullptr;
            std::strtod(h.c_str(), &end);
            return !h.empty() && end && !*end;
          });
          std::string header;
          for (int i : inputs)
            for (auto &n : columnNames(s.slots[i])) header += (header.empty() ? "" : ",") + n;
          if (header.size() > 200) header = header.substr(0, 200) + "...";
          // One column named as the input, which has several features.
          std::string whole =
              names.size() > 1 && t.column(sl.tensor->name) >= 0
                  ? fmt::format("; the file's column '{}' is one number a row, but input '{}' has {} a row, read "
                                "from columns {} to {}",
                                sl.tensor->name, sl.tensor->name, names.size(), names.front(), names.back())
                  : "";
          fail("{}: missing column '{}' (the model reads columns {}){}{}{}", dataFileName(path), names[f], want,
               numeric ? "; its first line holds numbers, not column names: a CSV's first line names its columns, "
                         "so add one such as '" + header + "'"
                       : "",
               whole, nearColumn(t, names[f]));
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
      if (sl.tensor->dtype != GRT_F32 && sl.tensor->dtype != GRT_F64 && !t.underflows[size_t(c)].empty())
        fail("{}, too small to hold (it would read as 0), but '{}' takes {}", t.underflows[size_t(c)], sl.tensor->name,
             isBool ? "0 or 1, true or false" : "32-bit integers");
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
           dataFileName(path), shown(h), sl.tensor->name, f, f == 1 ? "" : "s",
           f == 1 ? fmt::format("column {} or {}[0]", sl.tensor->name, sl.tensor->name)
                  : fmt::format("columns {}[0] to {}[{}]", sl.tensor->name, sl.tensor->name, f - 1));
    }
  }
  std::string unused;
  int64_t numUnused = 0;
  for (size_t c = 0; c < used.size(); ++c)
    if (!used[c] && numUnused++ < 5) unused += (unused.empty() ? "'" : ", '") + shown(t.header[c]) + "'";
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

std::vector<EvalBatch> evalBatches(int64_t n, int64_t batch) {
  std::vector<EvalBatch> out;
  int64_t at = 0;
  for (; at + batch <= n; at += batch) out.push_back({at, batch, double(batch)});
  if (at == n) return out;
  // B's divisors, largest first, in O(√B).
  std::vector<int64_t> divisors;
  for (int64_t d = 1; d * d <= batch; ++d)
    if (batch % d == 0) divisors.insert(divisors.end(), {d, batch / d});
  std::sort(divisors.rbegin(), divisors.rend());
  std::vector<EvalBatch> groups;
  for (int64_t pos = at; pos < n && groups.size() <= kMaxEvalGroups;) {
    int64_t g = *std::find_if(divisors.begin(), divisors.end(), [&](int64_t d) { return d <= n - pos; });
    groups.push_back({pos, g, double(g)});
    pos += g;
  }
  if (groups.size() <= kMaxEvalGroups) {
    out.insert(out.end(), groups.begin(), groups.end());
    return out;
  }
  double weight = double(batch);
  for (int64_t k = n - at; k > 0; k = batch % k) {
    int64_t q = batch / k;
    weight /= -double(q);
    out.push_back({at, k, -weight});
  }
  return out;
}

namespace {

//===--- tables -------------------------------------------------------------===//

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
    // f32 inputs' rows as f32, so a batch is a copy of each row: converting
    // each double took 7.8 of a 9.4 ms step that fed x [4096, 1024] to a
    // 1.5 ms model (an explorer's find). Up to 1 GiB of copies; past it,
    // conversion as before.
    size_t bytes = 0;
    f32Rows.resize(all.inputs.size());
    for (size_t i = 0; i < all.inputs.size(); ++i)
      if (s.slots[all.inputs[i]].tensor->dtype == GRT_F32 && (bytes += all.values[i].size() * 4) <= kMaxF32Copies)
        f32Rows[i].assign(all.values[i].begin(), all.values[i].end());
  }

  void nextTrainBatch(Session &) override {
    if (cursor + global > int64_t(order.size())) {
      ++epoch;
      shuffle();
    }
    fill(order, {cursor + rank * batch, batch, double(batch)});
    cursor += global;
  }
  int64_t numValBatches() const override { return int64_t(valBatches.size()); }
  double fillValBatch(Session &, int64_t i) override {
    fill(valRows, valBatches[i]);
    return valBatches[i].weight;
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
                 "note: {}: {} row{} leave{} none for validation with a {}; training without validation (pass "
                 "more rows, or --val-frac 0 to silence this)\n",
                 source, n, n == 1 ? "" : "s", n == 1 ? "s" : "",
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
  /// Fills the batch with the e.rows rows list[e.first...], repeated in
  /// turn until all B slots are full (once each when e.rows == B): slot b
  /// holds list[e.row(b)].
  void fill(const std::vector<int64_t> &list, const EvalBatch &e) {
    // Runs before every step: for a small model (mlp64's is 90 µs) a
    // division per row and a type switch per value showed in profiles.
    int64_t first = e.first, end = first + e.rows;
    for (size_t i = 0; i < all.inputs.size(); ++i) {
      auto &sl = s.slots[all.inputs[i]];
      int64_t F = features(sl);
      const double *values = all.values[i].data();
      float *f32 = sl.tensor->dtype == GRT_F32 ? static_cast<float *>(sl.data) : nullptr;
      if (f32 && !f32Rows[i].empty()) {
        for (int64_t b = 0, k = first; b < batch; ++b, k = k + 1 == end ? first : k + 1)
          std::memcpy(f32 + b * F, f32Rows[i].data() + list[k] * F, size_t(F) * sizeof(float));
        continue;
      }
      for (int64_t b = 0, k = first; b < batch; ++b, k = k + 1 == end ? first : k + 1) {
        const double *row = values + list[k] * F;
        if (f32)
          for (int64_t f = 0; f < F; ++f) f32[b * F + f] = float(row[f]);
        else
          for (int64_t f = 0; f < F; ++f) Session::set(sl, b * F + f, row[f]);
      }
    }
  }

  static constexpr size_t kMaxF32Copies = size_t(1) << 30;

  Session &s;
  Rows all;
  std::vector<std::vector<float>> f32Rows; // per input: all.values as f32, or empty
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

} // namespace

std::unique_ptr<Dataset> loadData(Session &s, const DataOptions &opts) {
  if (s.model.data_kind == GRT_DATA_TEXT) {
    return loadText(s, opts);
  }
  if (!opts.tokenizer.empty()) fail("--tokenizer is for text models; '{}' reads tables", s.model.name);
  std::vector<int> inputs = tableInputs(s);
  if (!opts.path.empty()) return std::make_unique<TableData>(s, readRows(s, inputs, opts.path), opts, dataFileName(opts.path));
  if (s.model.data_kind != GRT_DATA_TABLE) fail("the model has no default data; pass --data FILE.csv");
  return std::make_unique<TableData>(s, generateTable(s, opts, inputs), opts, "default data");
}

} // namespace grt
