//===- runtime/driver/Sample.cpp - the `sample` command of text models ----===//
//
// Generates text one byte at a time: the context (the prompt, then what was
// generated, at most T bytes) goes through `predict`, the logits at the last
// position are divided by the temperature, all but the top k are dropped,
// and the next byte is drawn from the softmax of the rest.
//
//===----------------------------------------------------------------------===//
#include "driver/Checkpoint.h"
#include "driver/Commands.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

namespace grt {

int cmdSample(const GrtModel &m, int argc, char **argv) {
  Args a("sample", argc, argv, 2, {"load", "resume", "prompt", "tokens", "temperature", "top-k", "seed", "threads", "samples", "tokenizer"},
         {"partial-load"});
  if (m.data_kind != GRT_DATA_TEXT) fail("sample is for text models; '{}' reads tables (use predict)", m.name);
  Session s(m, threadsOption(a));
  const GrtEntry *e = s.entry("predict");
  int in = s.find(m.text_input), out = s.find(GRT_OUTPUT_PREFIX "logits");
  if (!e || in < 0 || out < 0) fail("the model has no `output logits` to sample from");
  s.initParams(0);
  std::string ckpt = a.has("load") ? a.str("load") : a.str("resume");
  if (!ckpt.empty()) loadCheckpoint(ckpt, s, a.has("partial-load"));
  else fmt::print(stderr, "note: no --load given; sampling from freshly initialised parameters\n");
  applyHypers(s, a);

  auto &x = s.slots[in];
  auto &logits = s.slots[out];
  int64_t B = x.tensor->dims[0], T = x.tensor->dims[1];
  int64_t V = logits.tensor->dims[logits.tensor->rank - 1];
  std::string prompt = a.str("prompt", "\n");
  if (prompt.empty()) prompt = "\n";
  // With --tokenizer the model reads and writes BPE token ids; else bytes.
  std::optional<Tokenizer> tok;
  if (a.has("tokenizer")) tok = loadTokenizer(a.str("tokenizer"), V);
  std::vector<int32_t> promptIds;
  if (tok) promptIds = tok->encode(prompt);
  else
    for (unsigned char c : prompt) promptIds.push_back(c);
  const char *unit = tok ? "tokens" : "bytes";
  if (int64_t(promptIds.size()) > T)
    fail("the prompt is {} {}, longer than the model's context of {} {}", promptIds.size(), unit, T, unit);
  for (int32_t c : promptIds)
    if (c >= V) fail("the prompt contains byte {}, outside the model's vocabulary of {}", c, V);
  auto bytesOf = [&](int32_t id) { return tok ? tok->bytes(id) : std::string(1, char(id)); };
  int64_t tokens = a.integer("tokens", 200, 0, 100000000);
  double temperature = a.number("temperature", 1.0);
  int64_t topK = a.integer("top-k", 0, 0);
  if (temperature < 0) fail("--temperature must not be negative");
  // The predict entry runs all B rows of its batch at once: --samples N
  // (at most B) continues the prompt N times independently for the price of
  // one. Row 0 draws from the stream a single sample always used.
  int64_t samples = a.integer("samples", 1, 1);
  if (samples > B)
    fail("--samples {} is more than the model's batch of {} (rebuild with a larger batch to sample more at once)",
         samples, B);
  uint64_t seed = uint64_t(a.integer("seed", 0, 0));
  std::vector<Rng> rngs;
  for (int64_t r = 0; r < samples; ++r) rngs.emplace_back(seed, hashName("sample") + uint64_t(r));
  std::vector<std::vector<int32_t>> texts(samples, promptIds);
  // One sample is printed as it is made; several, each whole at the end.
  bool stream = samples == 1;
  if (stream) std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  std::vector<double> p(V);
  std::vector<int64_t> order(V);
  auto started = std::chrono::steady_clock::now();
  for (int64_t t = 0; t < tokens; ++t) {
    // The last T bytes of each sample, left-aligned in its row; the causal
    // mask makes the padding after them irrelevant. Rows past --samples
    // repeat row 0.
    int64_t n = std::min<int64_t>(T, texts[0].size());
    auto *xd = static_cast<int32_t *>(x.data);
    for (int64_t b = 0; b < B; ++b) {
      const std::vector<int32_t> &text = texts[b < samples ? b : 0];
      for (int64_t i = 0; i < T; ++i) xd[b * T + i] = i < n ? text[text.size() - n + i] : 0;
    }
    s.run("predict");
    for (int64_t r = 0; r < samples; ++r) {
      int64_t base = (r * T + n - 1) * V; // row r, position n-1
      for (int64_t v = 0; v < V; ++v) {
        p[v] = Session::get(logits, base + v);
        if (!std::isfinite(p[v]))
          fail("the model's logit for byte {} is {} after {} sampled bytes; its parameters{} produce non-finite values",
               v, p[v], t, ckpt.empty() ? "" : " from " + ckpt);
      }
      int64_t next;
      if (temperature == 0) {
        next = std::max_element(p.begin(), p.end()) - p.begin();
      } else {
        if (topK > 0 && topK < V) {
          for (int64_t v = 0; v < V; ++v) order[v] = v;
          std::nth_element(order.begin(), order.begin() + (topK - 1), order.end(),
                           [&](int64_t i, int64_t j) { return p[i] > p[j]; });
          double cut = p[order[topK - 1]];
          for (auto &l : p)
            if (l < cut) l = -INFINITY;
        }
        // Dividing by the temperature after subtracting the largest logit
        // keeps every exponent in [-inf, 0], however small the temperature
        // (1e-320 makes l / T overflow to inf, and inf - inf is NaN).
        double mx = *std::max_element(p.begin(), p.end()), sum = 0;
        for (auto &l : p) sum += (l = std::exp((l - mx) / temperature));
        double u = rngs[r].uniform() * sum;
        next = V - 1;
        for (int64_t v = 0; v < V; ++v)
          if ((u -= p[v]) < 0) {
            next = v;
            break;
          }
      }
      texts[r].push_back(int32_t(next));
      if (stream) {
        std::string b = bytesOf(int32_t(next));
        std::fwrite(b.data(), 1, b.size(), stdout);
        std::fflush(stdout);
      }
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (stream) std::fputc('\n', stdout);
  else
    for (int64_t r = 0; r < samples; ++r) {
      std::string out = prompt;
      for (size_t i = promptIds.size(); i < texts[r].size(); ++i) out += bytesOf(texts[r][i]);
      fmt::print("--- sample {} ---\n{}\n", r + 1, out);
    }
  std::fflush(stdout);
  if (tokens > 0)
    fmt::print(stderr, "sampled {} {} in {:.2f} s: {:.0f} {}/s ({} at a time, each step recomputing the context)\n",
               tokens * samples, tokens * samples == 1 ? (tok ? "token" : "byte") : unit, secs,
               double(tokens * samples) / std::max(secs, 1e-9), unit, samples);
  return 0;
}

} // namespace grt
