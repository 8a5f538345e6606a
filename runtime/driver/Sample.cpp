//===- runtime/driver/Sample.cpp - the `sample` command of text models ----===//
//
// Generates text one token (a byte, or a BPE token) at a time. The logits at
// the newest position are divided by the temperature, all but the top k are
// dropped, and the next token is drawn from the softmax of the rest.
//
// Two ways to get those logits:
//   - with `@step` (a model built with gradc --step-entry), one position per
//     call: the token at position p goes in, its keys and values stay in the
//     model's caches, and the logits at p come out. O(T) a token. When the
//     context is full, the window slides by half: the caches are cleared
//     and the last T/2 tokens are fed again (positions 0..T/2-1), so a token
//     costs two steps on average and the context never drops below T/2.
//   - otherwise (or with --no-cache), `@predict` on the whole window, the
//     last T tokens, for every token: O(T²) attention a token.
// Rows of the batch generate side by side, all at one position: a row whose
// prompt is longer is still reading it while a shorter one already writes.
// More rows than @step's batch go in groups of that many, one after another.
// `@step` equals `@predict` only for a causal model, so before trusting it
// sample checks that @predict's logits at a position do not change when
// only later tokens do, and compares @step with @predict on the prompt
// (--check-cache: at every position).
//
//===----------------------------------------------------------------------===//
#include "driver/Checkpoint.h"
#include "driver/Commands.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>

namespace grt {

namespace {

/// The next token from `p` (the logits; overwritten): greedy at temperature
/// 0, else drawn from softmax(top-k of p / temperature).
int64_t draw(std::vector<double> &p, double temperature, int64_t topK, Rng &rng, std::vector<int64_t> &order) {
  int64_t V = int64_t(p.size());
  if (temperature == 0) return std::max_element(p.begin(), p.end()) - p.begin();
  if (topK > 0 && topK < V) {
    // Exactly K: ties with the K-th are ranked by id, lower first (keeping
    // every logit equal to the K-th made --top-k 1 draw among all of an
    // untrained model's equal logits).
    auto before = [&](int64_t i, int64_t j) { return p[i] > p[j] || (p[i] == p[j] && i < j); };
    for (int64_t v = 0; v < V; ++v) order[v] = v;
    std::nth_element(order.begin(), order.begin() + (topK - 1), order.end(), before);
    int64_t cut = order[topK - 1];
    double cutLogit = p[cut];
    for (int64_t v = 0; v < V; ++v)
      if (p[v] < cutLogit || (p[v] == cutLogit && v > cut)) p[v] = -INFINITY;
  }
  // Dividing by the temperature after subtracting the largest logit keeps
  // every exponent in [-inf, 0], however small the temperature (1e-320
  // makes l / T overflow to inf, and inf - inf is NaN).
  double mx = *std::max_element(p.begin(), p.end()), sum = 0;
  for (auto &l : p) sum += (l = std::exp((l - mx) / temperature));
  double u = rng.uniform() * sum;
  for (int64_t v = 0; v < V; ++v)
    if ((u -= p[v]) < 0) return v;
  return V - 1;
}

/// The model's two ways to the logits at one position of every row.
struct Model {
  Session &s;
  Session::Slot &context, &logits; // predict: [B, T], [B, T, V]
  int64_t B = 0, T = 0, V = 0;
  // @step, when the model has it: step.idx [Bs, 1], step.pos [] (when read), step.logits [Bs, 1, V].
  Session::Slot *token = nullptr, *pos = nullptr, *stepLogits = nullptr;
  int64_t Bs = 0;
  std::vector<Session::Slot *> caches;

  Model(Session &s, const GrtModel &m) : s(s), context(s.slot(m.text_input)), logits(s.slot(GRT_OUTPUT_PREFIX "logits")) {
    // The logits are read at (row, position, id): any other shape read
    // past the tensor (a [B, V] of the last position only crashed).
    // gradc refuses such a model; an older executable gets here.
    const GrtTensor &c = *context.tensor, &l = *logits.tensor;
    if (c.rank != 2 || l.rank != 3 || l.dims[0] != c.dims[0] || l.dims[1] != c.dims[1])
      fail("sample reads `output logits` as [B, T, V] = [{}, {}, V], a score for every id at each position of the "
           "context '{}' ({}), but this model's is {}; rebuild it with logits of that shape",
           c.rank == 2 ? c.dims[0] : 0, c.rank == 2 ? c.dims[1] : 0, c.name, shapeStr(c), shapeStr(l));
    B = c.dims[0];
    T = c.dims[1];
    V = l.dims[2];
    if (!s.has(GRT_ENTRY_STEP)) return;
    token = &s.slot(GRT_STEP_PREFIX + std::string(m.text_input));
    Bs = token->tensor->dims[0];
    // A model whose logits do not depend on the position (a bigram model)
    // has no step.pos: nothing in @step reads it.
    if (int i = s.find(GRT_STEP_POS); i >= 0) pos = &s.slots[size_t(i)];
    stepLogits = &s.slot(GRT_OUTPUT_PREFIX GRT_STEP_PREFIX "logits");
    if (const GrtTensor &sl = *stepLogits->tensor; sl.rank != 3 || sl.dims[0] != Bs || sl.dims[1] != 1 || sl.dims[2] != V)
      fail("the model's @step logits are {}, not [{}, 1, {}]; rebuild it with gradc build --no-step-entry", shapeStr(sl),
           Bs, V);
    for (auto &sl : s.slots)
      if (Session::isCache(*sl.tensor)) caches.push_back(&sl);
  }

  void clearCaches() {
    for (auto *c : caches) std::memset(c->data, 0, c->bytes);
  }
  /// @step at position p with one token per row; the logits land in stepLogits.
  void step(const std::vector<int32_t> &tokens, int64_t p) {
    for (int64_t b = 0; b < Bs; ++b) Session::set(*token, b, tokens[b]);
    if (pos) Session::set(*pos, 0, double(p));
    s.run(GRT_ENTRY_STEP);
  }
  /// @predict on `window` (each row's tokens from position 0, at most T;
  /// zeros after, which a causal model never reads).
  void predict(const std::vector<std::vector<int32_t>> &window) {
    auto *xd = static_cast<int32_t *>(context.data);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < T; ++i) xd[b * T + i] = i < int64_t(window[b].size()) ? window[b][i] : 0;
    s.run("predict");
  }
  double stepLogit(int64_t b, int64_t v) const { return Session::get(*stepLogits, b * V + v); }
  double predictLogit(int64_t b, int64_t p, int64_t v) const { return Session::get(logits, (b * T + p) * V + v); }
};

/// The largest difference between @step's and @predict's logits at position
/// p, over @step's rows that hold a token there, relative to each row's
/// largest logit. (A row that has made all its tokens is fed its last one
/// again.)
double stepError(const Model &md, int64_t p, const std::vector<bool> &live) {
  double worst = 0;
  for (int64_t b = 0; b < md.Bs; ++b) {
    if (!live[b]) continue;
    double scale = 1e-30, diff = 0;
    for (int64_t v = 0; v < md.V; ++v) {
      scale = std::max(scale, std::fabs(md.predictLogit(b, p, v)));
      diff = std::max(diff, std::fabs(md.stepLogit(b, v) - md.predictLogit(b, p, v)));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

/// What a change of later tokens alone does to @predict's logits: for each
/// live row with a prompt of two tokens or more, every token after a cut is
/// changed (to the next id) and the logits at the cut compared, relative to
/// their scale, at two cuts: after the first token (it sees all the later
/// ones) and before the last (it sees one). A causal model's logits at a
/// position read nothing later, through the same kernels in both runs: the
/// same bits, in f32 and in bf16 alike. (Comparing @step with @predict
/// instead mixes in bf16's rounding: 1% of lookahead hid under the 5%
/// that allows.) Returns the largest change, and the position and row.
struct Lookahead {
  double change = 0;
  int64_t row = 0, position = 0;
};
Lookahead lookahead(Model &md, const std::vector<std::vector<int32_t>> &prompts, const std::vector<bool> &live,
                    int64_t ids) {
  Lookahead worst;
  int64_t B = md.B, V = md.V;
  auto checked = [&](int64_t b) { return live[b] && prompts[b].size() >= 2; };
  auto cutOf = [&](int cut, int64_t b) { return cut == 0 ? int64_t(0) : int64_t(prompts[b].size()) - 2; };
  bool any = false;
  for (int64_t b = 0; b < B; ++b) any |= checked(b);
  if (!any) return worst;
  // The prompts' logits at both cuts, then each cut's changed prompts.
  md.predict(prompts);
  std::vector<double> base(size_t(2 * B * V));
  for (int cut = 0; cut < 2; ++cut)
    for (int64_t b = 0; b < B; ++b)
      if (checked(b))
        for (int64_t v = 0; v < V; ++v) base[(cut * B + b) * V + v] = md.predictLogit(b, cutOf(cut, b), v);
  for (int cut = 0; cut < 2; ++cut) {
    std::vector<std::vector<int32_t>> changed(prompts);
    for (int64_t b = 0; b < B; ++b)
      if (checked(b))
        for (size_t i = size_t(cutOf(cut, b)) + 1; i < changed[b].size(); ++i)
          changed[b][i] = int32_t((changed[b][i] + 1) % ids);
    md.predict(changed);
    for (int64_t b = 0; b < B; ++b) {
      if (!checked(b)) continue;
      // A logit that turns NaN or infinite, or finite again, changed
      // without measure (inf - inf is NaN, and inf / inf too).
      double scale = 1e-30, diff = 0;
      for (int64_t v = 0; v < V; ++v) {
        double x = base[(cut * B + b) * V + v], y = md.predictLogit(b, cutOf(cut, b), v);
        bool same = std::isnan(x) ? std::isnan(y) : x == y;
        if (std::isfinite(x) && std::isfinite(y)) {
          scale = std::max(scale, std::fabs(x));
          diff = std::max(diff, std::fabs(x - y));
        } else if (!same) {
          diff = INFINITY;
        }
      }
      if (diff / scale > worst.change) worst = {diff / scale, b, cutOf(cut, b)};
    }
  }
  return worst;
}

} // namespace

int cmdSample(const GrtModel &m, int argc, char **argv) {
  Args a("sample", argc, argv, 2,
         {"load", "resume", "prompt", "tokens", "temperature", "top-k", "seed", "threads", "samples", "tokenizer", "precision"},
         {"partial-load", "no-cache", "check-cache"});
  if (m.data_kind != GRT_DATA_TEXT) fail("sample is for text models; '{}' reads tables (use predict)", m.name);
  if (a.has("load") && a.has("resume")) fail("give --load or --resume, not both");
  std::string precision = precisionOption(a, m);
  // How far @step's logits may be from @predict's. In f32 both sum the same
  // products in another order. Under bf16, @predict's products round their
  // operands to 8 significant bits (2^-9 relative) while @step's thin ones
  // may run as f32 loops, so the two differ by bf16 rounding through every
  // layer: 0.5-0.8% of the logits' scale on the default GPT. A model that
  // is not causal differs by far more (its early logits see later tokens).
  bool bf16 = precision == "bf16";
  const double trustTolerance = bf16 ? 5e-2 : 1e-3, checkTolerance = bf16 ? 5e-2 : 1e-5;
  // A causal model's logits do not move at all with later tokens (see
  // lookahead()); this leaves room for a sum's order only.
  const double kLookaheadTolerance = 1e-5;
  Session s(m, threadsOption(a));
  // gradc leaves logits out of @predict, and out of the executable, when
  // each of their rows depends on the batch's other rows: this said the
  // model had no `output logits`, which it has.
  const GrtEntry *predict = s.entry("predict");
  std::vector<std::string> outs = predict ? splitList(predict->outputs) : std::vector<std::string>{};
  if (s.find(GRT_OUTPUT_PREFIX "logits") < 0 || std::find(outs.begin(), outs.end(), "logits") == outs.end())
    fail("the model has no `output logits` to sample from, or none with a row per input row (gradc's build notes "
         "say which: logits whose rows depend on the batch's other rows cannot continue a prompt)");
  // gradc refuses a text model that never reads its context; an executable
  // built before that lacks the input (nothing read it, so it was dropped).
  if (s.find(m.text_input) < 0)
    fail("the model's logits never read its context input '{}' (gradc dropped it as unread), so they cannot continue "
         "a prompt; rebuild the model with logits computed from '{}'",
         m.text_input, m.text_input);
  modelVocab(s); // refuses a model that shifts text ids on their way to a table
  s.initParams(0);
  std::string ckpt = a.has("load") ? a.str("load") : a.str("resume");
  Metadata meta;
  if (!ckpt.empty()) meta = loadCheckpoint(ckpt, s, a.has("partial-load"), /*weightsOnly=*/true);
  else fmt::print(stderr, "note: no --load given; sampling from freshly initialised parameters\n");
  applyHypers(s, a);
  // The model's own random numbers (rand_*) stay those of step 0 for the
  // whole sample: @step's cached keys and values were computed with them.
  seedBatch(s, modelSeed(a, meta, ckpt), 0);
  Model md(s, m);
  const int64_t B = md.B, T = md.T, V = md.V;

  // With --tokenizer the model reads and writes BPE token ids; else bytes.
  std::optional<Tokenizer> tok;
  if (std::string path = tokenizerForCheckpoint(a.str("tokenizer"), meta, ckpt, V); !path.empty())
    tok = loadTokenizer(path, V);
  const char *unit = tok ? "tokens" : "bytes";
  auto bytesOf = [&](int32_t id) { return tok ? tok->bytes(id) : std::string(1, char(id)); };
  // The ids a sample may hold: each drawn one is fed back as context, so it
  // must be one the context input takes (the generated code clamps an index
  // out of its range: it would read another row), and without a tokenizer
  // a byte. Logits wider than that (a byte model of 300 classes) printed id
  // 299 as byte 43 and went on from row 255.
  int64_t ids = V;
  if (int64_t limit = Session::indexRange(*md.context.tensor, 0).limit; limit > 0 && limit < ids) {
    ids = limit;
    fmt::print(stderr, "note: the logits have {} classes, but the context input '{}' takes ids 0 to {}: sampling "
               "among those only\n", V, m.text_input, limit - 1);
  }
  if (!tok && ids > 256) {
    ids = 256;
    fmt::print(stderr, "note: the logits have {} classes, but without a tokenizer the text is bytes, 0 to 255: "
               "sampling among those only\n", V);
  }
  // One row per --prompt (several give a batch of prompts), or --samples N
  // continuations of one prompt; at most the model's batch.
  std::vector<std::string> prompts = a.has("prompt") ? a.all("prompt") : std::vector<std::string>{"\n"};
  int64_t samples = a.integer("samples", 1, 1);
  if (prompts.size() > 1 && samples > 1) fail("give several --prompt or --samples N, not both");
  int64_t rows = std::max<int64_t>(samples, int64_t(prompts.size()));
  if (rows > B)
    fail("{} {} is more than the model's batch of {} (rebuild with a larger batch to sample more at once)",
         samples > 1 ? "--samples" : "--prompt given", rows, B);
  std::vector<std::string> rowPrompt(rows);
  std::vector<std::vector<int32_t>> texts(rows);
  for (int64_t r = 0; r < rows; ++r) {
    rowPrompt[r] = prompts[prompts.size() > 1 ? r : 0];
    // The model needs a token to go on from: an empty prompt starts a
    // sample as if after a line break.
    bool lineBreak = !a.has("prompt") || rowPrompt[r].empty();
    if (rowPrompt[r].empty()) {
      if (r == 0 || prompts.size() > 1)
        fmt::print(stderr, "note: an empty --prompt starts after a line break (the model needs a token to go on from)\n");
      rowPrompt[r] = "\n";
    }
    if (tok) texts[r] = tok->encode(rowPrompt[r]);
    else
      for (unsigned char c : rowPrompt[r]) texts[r].push_back(c);
    // A vocabulary of 10 or fewer has no line break (byte 10): the start
    // the user did not choose is then the first id, said in a note (it was
    // "the prompt contains byte 10", of a prompt never given).
    if (lineBreak && texts[r].size() == 1 && texts[r][0] >= ids) {
      if (r == 0 || prompts.size() > 1)
        fmt::print(stderr, "note: the model's vocabulary of {} has no line break (byte {}), where a sample starts by "
                   "default; starting from {} 0 instead (--prompt chooses the start)\n",
                   ids, texts[r][0], tok ? "token" : "byte");
      texts[r] = {0};
      rowPrompt[r] = bytesOf(0);
    }
    for (int32_t c : texts[r])
      if (c >= ids)
        fail("the prompt contains {} {}, outside the model's vocabulary of {}", tok ? "token" : "byte", c, ids);
    // The model sees at most T tokens, so a longer prompt goes on from its
    // last T, as any language model's sampler does; the output still shows
    // the whole prompt.
    if (int64_t(texts[r].size()) > T) {
      if (r == 0 || prompts.size() > 1)
        fmt::print(stderr, "note: the prompt{} is {} {}, longer than the model's context of {} {}: continuing from its "
                   "last {}\n",
                   prompts.size() > 1 ? fmt::format(" of sample {}", r + 1) : "", texts[r].size(), unit, T, unit, T);
      texts[r].erase(texts[r].begin(), texts[r].end() - T);
    }
  }
  std::vector<size_t> promptLength(rows);
  for (int64_t r = 0; r < rows; ++r) promptLength[r] = texts[r].size();
  int64_t tokens = a.integer("tokens", 200, 0, 100000000);
  double temperature = a.number("temperature", 1.0);
  int64_t topK = a.integer("top-k", 0, 0);
  if (temperature < 0) fail("--temperature must not be negative");
  uint64_t seed = uint64_t(a.integer("seed", 0, 0));
  // Row 0 draws from the stream a single sample always used.
  std::vector<Rng> rngs;
  for (int64_t r = 0; r < rows; ++r) rngs.emplace_back(seed, hashName("sample") + uint64_t(r));

  bool checkAll = a.has("check-cache");
  bool cached = md.token && !a.has("no-cache");
  if (checkAll && !md.token) fail("--check-cache needs a model built with gradc --step-entry");
  if (checkAll && a.has("no-cache")) fail("--check-cache compares the cache with recomputation; drop --no-cache");

  // One row is printed as it is made; several, each whole at the end.
  bool stream = rows == 1;
  if (stream) std::fwrite(rowPrompt[0].data(), 1, rowPrompt[0].size(), stdout);
  std::vector<double> p(ids);
  std::vector<int64_t> order(ids);
  std::vector<int64_t> made(rows, 0);
  auto takeNext = [&](int64_t r, auto logit) {
    for (int64_t v = 0; v < ids; ++v) {
      p[v] = logit(v);
      if (!std::isfinite(p[v]))
        fail("the model's logit for token {} is {} after {} sampled {}; its parameters{} produce non-finite values", v, p[v],
             made[r], unit, ckpt.empty() ? "" : " from " + ckpt);
    }
    int32_t next = int32_t(draw(p, temperature, topK, rngs[r], order));
    texts[r].push_back(next);
    ++made[r];
    if (stream) {
      std::string b = bytesOf(next);
      std::fwrite(b.data(), 1, b.size(), stdout);
      std::fflush(stdout);
    }
  };
  auto done = [&](int64_t from, int64_t to) {
    return std::all_of(made.begin() + from, made.begin() + to, [&](int64_t n) { return n >= tokens; });
  };

  auto started = std::chrono::steady_clock::now();
  int64_t calls = 0, checked = 0;
  double worst = 0;
  bool trusted = checkAll;
  // @step generates Bs rows at a time, so more rows go in groups of Bs,
  // one group after another: every row sees the contexts a single sample
  // sees (the window sliding by half), and the first row is exactly what a
  // single sample writes. (Recomputing them all at once instead slid the
  // window by one token: past T tokens the first row differed.)
  for (int64_t first = 0; cached && first < rows; first += md.Bs) {
    int64_t end = std::min(rows, first + md.Bs);
    // @step's row b holds sample first + b; rows past the group repeat its first.
    auto textOf = [&](int64_t b) -> const std::vector<int32_t> & { return texts[first + b < end ? first + b : first]; };
    // Before @step is trusted (and under --check-cache), its logits at
    // each position of the prompts' first window are compared with
    // @predict's on the whole of it. A model that lets a position see a
    // later one is not causal, and differs there; compared only at the
    // prompt's last position, with nothing later in either, a mask
    // j <= i + 1 agreed, and sample trusted @step silently (an explorer
    // found it).
    std::vector<std::vector<int32_t>> prompts(B);
    for (int64_t b = 0; b < B; ++b) {
      int64_t r = b < md.Bs && first + b < end ? first + b : first;
      prompts[b].assign(texts[r].begin(), texts[r].begin() + std::min<size_t>(promptLength[r], T));
    }
    bool comparePrompts = checkAll || !trusted, promptsPredicted = false;
    // Lookahead first: a logit that moves with later tokens alone. Any
    // such change is the model's, whatever the precision.
    if (comparePrompts) {
      std::vector<bool> live(B);
      for (int64_t b = 0; b < md.Bs && b < B; ++b) live[b] = first + b < end;
      Lookahead la = lookahead(md, prompts, live, ids);
      if (la.change > kLookaheadTolerance) {
        std::string what = fmt::format("the logits at position {} of the prompt{} change by {:.2g} of their scale when only "
                                       "later tokens change: the model is not causal",
                                       la.position, rows > 1 ? fmt::format(" of sample {}", first + la.row + 1) : "",
                                       la.change);
        if (checkAll) fail("{}, so its cached step cannot match recomputation", what);
        fmt::print(stderr, "warning: {}; recomputing the context for every token instead\n", what);
        cached = false;
        break;
      }
    }
    // Position p of the window holds token start + p of every row.
    int64_t start = 0, pos = 0;
    std::vector<int32_t> feed(md.Bs);
    md.clearCaches();
    while (!done(first, end)) {
      if (pos == T) { // full: keep the last T/2 positions, feed them again
        start += T - T / 2;
        pos = 0;
        md.clearCaches();
      }
      for (int64_t b = 0; b < md.Bs; ++b) {
        const auto &text = textOf(b);
        feed[b] = text[std::min<size_t>(start + pos, text.size() - 1)];
      }
      md.step(feed, pos);
      ++calls;
      double promptErr = 0;
      if (comparePrompts && start == 0) {
        std::vector<bool> live(md.Bs);
        for (int64_t b = 0; b < md.Bs; ++b) live[b] = pos < int64_t(prompts[b].size()) && first + b < end;
        if (std::count(live.begin(), live.end(), true) > 0) {
          if (!promptsPredicted) md.predict(prompts), promptsPredicted = true;
          promptErr = stepError(md, pos, live);
          worst = std::max(worst, promptErr);
        }
      }
      // Rows at their last known token draw the next one.
      bool drawing = false;
      for (int64_t r = first; r < end; ++r) drawing |= size_t(start + pos) == texts[r].size() - 1 && made[r] < tokens;
      if (!trusted && promptErr > trustTolerance) drawing = true; // said at once, below
      if (checkAll || (drawing && !trusted)) {
        std::vector<std::vector<int32_t>> window(B);
        std::vector<bool> live(B);
        for (int64_t b = 0; b < B; ++b) {
          const auto &text = textOf(b < md.Bs ? b : 0);
          size_t from = std::min<size_t>(start, text.size()), to = std::min<size_t>(start + pos + 1, text.size());
          window[b].assign(text.begin() + from, text.begin() + to);
          live[b] = size_t(start + pos) < text.size();
        }
        md.predict(window);
        promptsPredicted = false; // the prompts' logits are overwritten
        double err = std::max(promptErr, stepError(md, pos, live));
        worst = std::max(worst, err);
        ++checked;
        if (!trusted && err > trustTolerance) {
          fmt::print(stderr,
                     "warning: the cached step differs from recomputation on the prompt ({:.2g} of the logits' scale): "
                     "the model is not causal; recomputing the context for every token instead\n",
                     err);
          cached = false;
          calls = 0;
          break;
        }
        trusted = true;
      }
      for (int64_t r = first; r < end; ++r)
        if (size_t(start + pos) == texts[r].size() - 1 && made[r] < tokens)
          takeNext(r, [&](int64_t v) { return md.stepLogit(r - first, v); });
      ++pos;
    }
  }
  if (!cached) {
    std::vector<std::vector<int32_t>> window(B);
    while (!done(0, rows)) {
      // The last T tokens of each row, left-aligned.
      for (int64_t b = 0; b < B; ++b) {
        const auto &text = texts[b < rows ? b : 0];
        size_t n = std::min<size_t>(T, text.size());
        window[b].assign(text.end() - n, text.end());
      }
      md.predict(window);
      ++calls;
      for (int64_t r = 0; r < rows; ++r)
        if (made[r] < tokens) {
          int64_t last = int64_t(window[r].size()) - 1;
          takeNext(r, [&](int64_t v) { return md.predictLogit(r, last, v); });
        }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (stream) std::fputc('\n', stdout);
  else
    for (int64_t r = 0; r < rows; ++r) {
      std::string out = rowPrompt[r];
      for (size_t i = promptLength[r]; i < texts[r].size(); ++i) out += bytesOf(texts[r][i]);
      fmt::print("--- sample {} ---\n{}\n", r + 1, out);
    }
  std::fflush(stdout);
  if (tokens > 0)
    fmt::print(stderr, "sampled {} {} in {:.2f} s: {:.0f} {}/s ({} at a time, {} calls of {})\n", tokens * rows,
               tokens * rows == 1 ? (tok ? "token" : "byte") : unit, secs, double(tokens * rows) / std::max(secs, 1e-9),
               unit, cached ? std::min(rows, md.Bs) : rows, calls,
               cached ? "@step, keys and values cached"
               : md.token ? "@predict, recomputing the context"
                          : "@predict, recomputing the context; the model has no @step: gradc build --step-entry says why");
  if (checkAll) {
    fmt::print(stderr, "cache check: {} positions compared with recomputation, largest difference {:.2g} of the logits' scale\n",
               checked, worst);
    if (worst > checkTolerance)
      fail("the cached step differs from recomputation by {:.2g} (more than {})", worst,
           bf16 ? "0.05, the tolerance for bf16 products" : "1e-5");
  }
  return 0;
}

} // namespace grt
