//===- runtime/driver/Tokenizer.cpp - byte-level BPE, trained by our code -===//
//
// Training is the incremental algorithm: each distinct chunk is stored once
// with its frequency as a linked list of symbols; pair counts (weighted by
// frequency) and the positions where each pair was seen are kept, and a merge
// visits only those positions, updating the counts of the pairs around each.
// A max-heap with lazy deletion picks the next pair. Without the pre-split the
// whole text is one chunk, and the position lists keep each merge local.
//
//===----------------------------------------------------------------------===//
#include "driver/Tokenizer.h"

#include "driver/AtomicFile.h"

#include "core/Runtime.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <fstream>
#include <queue>
#include <stdexcept>
#include <unistd.h>
#include <unordered_map>

namespace grt {

//===----------------------------------------------------------------------===//
// Pre-split
//===----------------------------------------------------------------------===//

namespace {

enum Class : uint8_t { Space, Letter, Digit, Other };

struct ClassTable {
  Class c[256];
  constexpr ClassTable() : c() {
    for (int i = 0; i < 256; ++i) {
      if (i == ' ' || i == '\t' || i == '\n' || i == '\r' || i == '\f' || i == '\v') c[i] = Space;
      else if ((i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z') || i >= 0x80) c[i] = Letter;
      else if (i >= '0' && i <= '9') c[i] = Digit;
      else c[i] = Other;
    }
  }
};
constexpr ClassTable kClass;

inline Class cls(char ch) { return kClass.c[uint8_t(ch)]; }

/// The chunks of GPT-2's pattern (see Tokenizer.h): a run of one class with
/// an optional leading space, or whitespace. A whitespace run followed by a
/// non-space gives up its last character, which, if a space, leads the next
/// chunk (`\s+(?!\S)`), and is otherwise a chunk of its own (`\s+`).
template <typename F> void chunks(std::string_view s, F &&f) {
  size_t i = 0, n = s.size();
  while (i < n) {
    Class c = cls(s[i]);
    if (c == Space) {
      size_t j = i + 1;
      while (j < n && cls(s[j]) == Space) ++j;
      if (j == n) {
        f(s.substr(i, j - i));
        return;
      }
      if (j - i >= 2) {
        f(s.substr(i, j - 1 - i));
        i = j - 1;
      }
      if (s[i] != ' ') {
        f(s.substr(i, 1));
        ++i;
        continue;
      }
      // A single space leads the run that follows it.
      Class d = cls(s[i + 1]);
      size_t k = i + 2;
      while (k < n && cls(s[k]) == d) ++k;
      f(s.substr(i, k - i));
      i = k;
      continue;
    }
    size_t j = i + 1;
    while (j < n && cls(s[j]) == c) ++j;
    f(s.substr(i, j - i));
    i = j;
  }
}

} // namespace

std::string escapeBytes(std::string_view b, size_t limit) {
  std::string s;
  for (unsigned char c : b.substr(0, limit)) {
    if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') s += char(c);
    else s += fmt::format("\\x{:02x}", c);
  }
  if (b.size() > limit) s += fmt::format("... ({} bytes)", b.size());
  return s;
}

void forEachChunk(std::string_view text, const std::function<void(std::string_view)> &f) { chunks(text, f); }

std::vector<std::string_view> presplitChunks(std::string_view text) {
  std::vector<std::string_view> v;
  chunks(text, [&](std::string_view c) { v.push_back(c); });
  return v;
}

//===----------------------------------------------------------------------===//
// Base64
//===----------------------------------------------------------------------===//

static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  size_t rest = in.size() - i;
  if (rest) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | (rest == 2 ? uint32_t(uint8_t(in[i + 1])) << 8 : 0);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += rest == 2 ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view in) {
  if (in.empty() || in.size() % 4) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < in.size(); i += 4) {
    bool last = i + 4 == in.size();
    int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
    uint32_t v = 0;
    for (int k = 0; k < 4 - pad; ++k) {
      int d = val(in[i + k]);
      if (d < 0) return std::nullopt;
      v |= uint32_t(d) << (18 - 6 * k);
    }
    out += char(v >> 16);
    if (pad < 2) out += char((v >> 8) & 255);
    if (pad < 1) out += char(v & 255);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// The vocabulary
//===----------------------------------------------------------------------===//

namespace {

/// Tokens found by their bytes, where the bytes are a piece of a longer
/// string: a token of L bytes splits L - 1 ways into two halves, and
/// hashing each half anew costs O(L) a split, O(L²) a token. A tokenizer
/// trained on a long run of one byte has tokens of 2^k bytes: loading one
/// with 277 tokens took 13 s. Here the string's prefixes are hashed once
/// (polynomial, mod 2^64), so each half's hash costs O(1), and only a hash
/// that matches compares bytes.
class TokenIndex {
public:
  explicit TokenIndex(const std::vector<std::string> &tokens) : tokens(tokens) {}

  void add(int32_t id) {
    const std::string &t = tokens[size_t(id)];
    hashPrefixes(t);
    ids.emplace(key(t.size(), pre.back()), id);
  }

  /// Hashes the prefixes of s, for find(); s must outlive the calls.
  void hashPrefixes(std::string_view s) {
    str = s;
    pre.assign(s.size() + 1, 0);
    while (pow.size() <= s.size()) pow.push_back(pow.back() * kBase);
    for (size_t i = 0; i < s.size(); ++i) pre[i + 1] = pre[i] * kBase + uint8_t(s[i]) + 1;
  }

  /// The token whose bytes are str[b, e), or -1.
  int32_t find(size_t b, size_t e) const {
    uint64_t h = pre[e] - pre[b] * pow[e - b];
    auto [lo, hi] = ids.equal_range(key(e - b, h));
    for (auto it = lo; it != hi; ++it)
      if (tokens[size_t(it->second)] == str.substr(b, e - b)) return it->second;
    return -1;
  }

private:
  static constexpr uint64_t kBase = 0x100000001b3ULL;
  static uint64_t key(size_t len, uint64_t h) { return h ^ (uint64_t(len) * 0x9E3779B97F4A7C15ULL); }
  const std::vector<std::string> &tokens;
  std::unordered_multimap<uint64_t, int32_t> ids;
  std::vector<uint64_t> pre, pow{1};
  std::string_view str;
};

} // namespace

Tokenizer::Tokenizer() {
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, char(b)));
  buildTables();
}

void Tokenizer::buildTables() {
  TokenIndex index(tokens);
  for (size_t i = 0; i < tokens.size(); ++i) index.add(int32_t(i));
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i].size() == 1) byteId[uint8_t(tokens[i][0])] = int32_t(i);
  size_t splits = 0;
  inToken.assign(65536, false);
  for (auto &t : tokens) {
    splits += t.size() - 1;
    for (size_t k = 0; k + 1 < t.size(); ++k) inToken[size_t(uint8_t(t[k])) << 8 | uint8_t(t[k + 1])] = true;
  }
  pairs.reset(splits);
  for (size_t t = 0; t < tokens.size(); ++t) {
    std::string_view s = tokens[t];
    index.hashPrefixes(s);
    for (size_t k = 1; k < s.size(); ++k) {
      int32_t a = index.find(0, k), b = a < 0 ? -1 : index.find(k, s.size());
      if (b >= 0) pairs.insert(uint64_t(uint32_t(a)) << 32 | uint32_t(b), int32_t(t));
    }
  }
}

void Tokenizer::PairTable::reset(size_t n) {
  size_t cap = 16;
  shift = 60;
  while (cap < 2 * n) cap *= 2, --shift;
  keys.assign(cap, kEmpty);
  values.assign(cap, -1);
}

void Tokenizer::PairTable::insert(uint64_t k, int32_t v) {
  size_t i = slot(k), mask = keys.size() - 1;
  while (keys[i] != kEmpty && keys[i] != k) i = (i + 1) & mask;
  keys[i] = k; // a pair of tokens joins into one token: a key never comes twice
  values[i] = v;
}

int64_t Tokenizer::tokensAcrossChunks() const {
  int64_t n = 0;
  for (auto &t : tokens) {
    int k = 0;
    chunks(t, [&](std::string_view) { ++k; });
    n += k > 1;
  }
  return n;
}

//===----------------------------------------------------------------------===//
// Training
//===----------------------------------------------------------------------===//

Tokenizer Tokenizer::train(std::string_view text, int64_t vocabSize, bool presplit, TrainStats *stats,
                           const std::function<void(const MergeEvent &)> &onMerge) {
  if (vocabSize < 256 || vocabSize > kMaxVocab)
    throw std::invalid_argument(fmt::format("a vocabulary has 256 to {} tokens, not {}", kMaxVocab, vocabSize));
  if (text.size() > size_t(INT32_MAX))
    throw std::invalid_argument(fmt::format("{} bytes are too many to train on (at most {})", text.size(), INT32_MAX));
  Tokenizer tok;
  tok.split = presplit;

  // Each distinct chunk once, with its frequency; sorted so that positions,
  // and therefore the result, do not depend on hash order.
  std::unordered_map<std::string_view, int64_t> freq;
  int64_t nChunks = 0;
  if (presplit) {
    freq.reserve(1 << 16);
    chunks(text, [&](std::string_view c) {
      ++freq[c];
      ++nChunks;
    });
  } else if (!text.empty()) {
    freq[text] = 1;
    nChunks = 1;
  }
  std::vector<std::pair<std::string_view, int64_t>> words(freq.begin(), freq.end());
  std::sort(words.begin(), words.end());
  freq = {};

  // The symbols of all distinct chunks, end to end; prev/next link the live
  // ones of a chunk (-1 at its ends), and a merged-away symbol is -1.
  size_t total = 0;
  for (auto &w : words) total += w.first.size();
  std::vector<int32_t> sym(total), prev(total), next(total), word(total);
  {
    size_t p = 0;
    for (size_t w = 0; w < words.size(); ++w) {
      size_t n = words[w].first.size();
      for (size_t k = 0; k < n; ++k, ++p) {
        sym[p] = uint8_t(words[w].first[k]);
        prev[p] = k ? int32_t(p - 1) : -1;
        next[p] = k + 1 < n ? int32_t(p + 1) : -1;
        word[p] = int32_t(w);
      }
    }
  }

  struct PairInfo {
    int64_t count = 0;
    std::vector<int32_t> where; // positions of the left symbol; may be stale
  };
  std::unordered_map<uint64_t, PairInfo> pairStats;
  pairStats.reserve(1 << 16);
  auto key = [](int32_t a, int32_t b) { return uint64_t(uint32_t(a)) << 32 | uint32_t(b); };
  for (size_t p = 0; p < total; ++p)
    if (next[p] >= 0) {
      PairInfo &pi = pairStats[key(sym[p], sym[next[p]])];
      pi.count += words[word[p]].second;
      pi.where.push_back(int32_t(p));
    }

  // Max-heap on (count, then the smaller pair). An entry whose count is not
  // the pair's current one is stale: a pair's count only grows with a push,
  // so each pair always has an entry at least as large as its count.
  using Entry = std::pair<int64_t, uint64_t>;
  auto lower = [](const Entry &x, const Entry &y) { return x.first < y.first || (x.first == y.first && x.second > y.second); };
  std::priority_queue<Entry, std::vector<Entry>, decltype(lower)> heap(lower);
  for (auto &[k, pi] : pairStats) heap.push({pi.count, k});

  std::vector<uint64_t> grown;
  int merges = 0;
  bool capped = false;
  int64_t wanted = vocabSize - 256;
  while (merges < wanted && !heap.empty()) {
    auto [count, k] = heap.top();
    heap.pop();
    auto it = pairStats.find(k);
    if (it == pairStats.end() || it->second.count <= 0) continue;
    if (it->second.count != count) {
      if (it->second.count < count) heap.push({it->second.count, k});
      continue;
    }
    int32_t a = int32_t(k >> 32), b = int32_t(k & 0xffffffffu);
    if (tok.tokens[size_t(a)].size() + tok.tokens[size_t(b)].size() > kMaxTokenBytes) {
      capped = true;
      // Never merged: its count is dropped (a later occurrence may raise
      // it again, and it is passed over again).
      it->second.count = 0;
      std::vector<int32_t>().swap(it->second.where);
      continue;
    }
    int32_t c = int32_t(tok.tokens.size());
    tok.tokens.push_back(tok.tokens[size_t(a)] + tok.tokens[size_t(b)]);
    std::vector<int32_t> where = std::move(it->second.where);
    // Left to right, so that a run like "aaaa" merges as (aa)(aa).
    std::sort(where.begin(), where.end());
    grown.clear();
    for (int32_t p : where) {
      int32_t q = next[p];
      if (sym[p] != a || q < 0 || sym[q] != b) continue; // stale
      int64_t f = words[word[p]].second;
      int32_t l = prev[p], r = next[q];
      if (l >= 0) {
        pairStats[key(sym[l], a)].count -= f;
        PairInfo &pi = pairStats[key(sym[l], c)];
        pi.count += f;
        pi.where.push_back(l);
        grown.push_back(key(sym[l], c));
      }
      if (r >= 0) {
        pairStats[key(b, sym[r])].count -= f;
        PairInfo &pi = pairStats[key(c, sym[r])];
        pi.count += f;
        pi.where.push_back(p);
        grown.push_back(key(c, sym[r]));
      }
      pairStats[k].count -= f;
      sym[p] = c;
      sym[q] = -1;
      next[p] = r;
      if (r >= 0) prev[r] = p;
    }
    pairStats.erase(k); // every occurrence is merged, and it cannot form again
    std::sort(grown.begin(), grown.end());
    grown.erase(std::unique(grown.begin(), grown.end()), grown.end());
    for (uint64_t g : grown) {
      auto gi = pairStats.find(g);
      if (gi != pairStats.end() && gi->second.count > 0) heap.push({gi->second.count, g});
    }
    ++merges;
    if (onMerge) onMerge({merges, c, a, b, count, tok.tokens[size_t(c)]});
  }
  tok.buildTables();
  if (stats) *stats = {nChunks, int64_t(words.size()), merges, capped};
  return tok;
}

//===----------------------------------------------------------------------===//
// Encoding and decoding
//===----------------------------------------------------------------------===//

void Tokenizer::encodeChunk(std::string_view s, std::vector<int32_t> &out) const {
  size_t n = s.size();
  if (n == 0) return;
  if (n == 1) {
    out.push_back(byteId[uint8_t(s[0])]);
    return;
  }
  if (n <= 64) {
    // tiktoken's loop: find the lowest-ranked joinable pair (leftmost on a
    // tie), join it, and look again. Quadratic, but chunks are short.
    int32_t ids[64], rank[64];
    for (size_t i = 0; i < n; ++i) ids[i] = byteId[uint8_t(s[i])];
    for (size_t i = 0; i + 1 < n; ++i) rank[i] = pairToken(ids[i], ids[i + 1]);
    size_t m = n;
    while (m > 1) {
      size_t best = SIZE_MAX;
      for (size_t i = 0; i + 1 < m; ++i)
        if (rank[i] >= 0 && (best == SIZE_MAX || rank[i] < rank[best])) best = i;
      if (best == SIZE_MAX) break;
      ids[best] = rank[best];
      std::memmove(ids + best + 1, ids + best + 2, (m - best - 2) * sizeof(int32_t));
      if (m >= best + 3) std::memmove(rank + best + 1, rank + best + 2, (m - best - 3) * sizeof(int32_t));
      --m;
      if (best + 1 < m) rank[best] = pairToken(ids[best], ids[best + 1]);
      if (best > 0) rank[best - 1] = pairToken(ids[best - 1], ids[best]);
    }
    out.insert(out.end(), ids, ids + m);
    return;
  }
  // A long chunk (a run of one byte, or the whole text without pre-split):
  // the same order of joins, from a min-heap of (rank, position) over a
  // linked list, so it takes O(n log n). An entry is valid while the pair
  // at its position still forms that rank.
  // That is about 28 bytes a byte: a 1 GiB run of NUL passed the corpus's
  // memory check (a quarter of the machine) and then needed 28 GiB, which
  // the kernel's OOM killer ended, unsaid. It is refused first.
  // (Positions are int32: a stretch past 2^31 bytes is refused whatever
  // the memory.)
  if (double need = 28.0 * double(n), have = machineMemory(); (have > 0 && need > have / 2) || n > size_t(INT32_MAX))
    throw std::length_error(fmt::format(
        "encoding a stretch of {} bytes that no pre-split breaks (a run of one byte, or text under --no-presplit) "
        "needs about {:.1f} GiB, more than half this machine's memory ({:.1f} GiB)",
        n, need / (1 << 30), have / (1 << 30)));
  std::vector<int32_t> ids(n), nxt(n), prv(n);
  for (size_t i = 0; i < n; ++i) {
    ids[i] = byteId[uint8_t(s[i])];
    nxt[i] = i + 1 < n ? int32_t(i + 1) : -1;
    prv[i] = int32_t(i) - 1;
  }
  // An entry is rank << 32 | position: one integer compare orders both.
  auto entry = [](int32_t rank, int32_t pos) { return uint64_t(uint32_t(rank)) << 32 | uint32_t(pos); };
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<uint64_t>> heap;
  {
    std::vector<uint64_t> init;
    for (size_t i = 0; i + 1 < n; ++i)
      if (int32_t r = pairToken(ids[i], ids[i + 1]); r >= 0) init.push_back(entry(r, int32_t(i)));
    heap = decltype(heap)(std::greater<uint64_t>(), std::move(init));
  }
  while (!heap.empty()) {
    int32_t r = int32_t(heap.top() >> 32), p = int32_t(heap.top() & 0xffffffffu);
    heap.pop();
    int32_t q = nxt[p];
    if (ids[p] < 0 || q < 0 || pairToken(ids[p], ids[q]) != r) continue;
    ids[p] = r;
    ids[q] = -1;
    nxt[p] = nxt[q];
    if (nxt[p] >= 0) {
      prv[nxt[p]] = p;
      if (int32_t t = pairToken(r, ids[nxt[p]]); t >= 0) heap.push(entry(t, p));
    }
    if (prv[p] >= 0)
      if (int32_t t = pairToken(ids[prv[p]], r); t >= 0) heap.push(entry(t, prv[p]));
  }
  for (int32_t p = 0; p >= 0; p = nxt[p]) out.push_back(ids[p]);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 16);
  // Words repeat: each distinct chunk is encoded once per call. Keys view
  // into `text`; values are spans of `store`.
  std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> cache;
  std::vector<int32_t> store;
  auto emit = [&](std::string_view c) {
    if (c.size() == 1) {
      out.push_back(byteId[uint8_t(c[0])]);
      return;
    }
    if (c.size() > 64 || cache.size() > (1u << 20)) {
      encodeChunk(c, out);
      return;
    }
    auto [it, fresh] = cache.try_emplace(c);
    if (fresh) {
      size_t start = store.size();
      encodeChunk(c, store);
      it->second = {uint32_t(start), uint32_t(store.size() - start)};
    }
    const int32_t *p = store.data() + it->second.first;
    out.insert(out.end(), p, p + it->second.second);
  };
  if (split) {
    chunks(text, emit);
    return out;
  }
  // Without the pre-split, the text still falls apart between two bytes
  // that are adjacent in no token: no join can ever span them, so each
  // side is encoded alone, and in the same order of joins as the whole
  // (the lowest-ranked pair of the whole is the lowest of its own part).
  // On tinyshakespeare the parts average 10 bytes.
  size_t start = 0;
  for (size_t i = 0; i + 1 < text.size(); ++i)
    if (!inToken[size_t(uint8_t(text[i])) << 8 | uint8_t(text[i + 1])]) {
      emit(text.substr(start, i + 1 - start));
      start = i + 1;
    }
  if (start < text.size()) emit(text.substr(start));
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t> &ids) const {
  std::string out;
  size_t n = 0;
  for (int32_t id : ids) n += tokens[size_t(id)].size();
  out.reserve(n);
  for (int32_t id : ids) out += tokens[size_t(id)];
  return out;
}

//===----------------------------------------------------------------------===//
// The file
//===----------------------------------------------------------------------===//

std::string Tokenizer::serialize() const {
  std::string s;
  for (size_t i = 0; i < tokens.size(); ++i) {
    s += base64Encode(tokens[i]);
    s += ' ';
    s += std::to_string(i);
    s += '\n';
  }
  return s;
}

std::optional<Tokenizer> Tokenizer::parse(std::string_view text, const std::string &name, std::string &error) {
  Tokenizer tok;
  tok.tokens.clear();
  std::unordered_map<std::string, int64_t> seen;
  TokenIndex earlier(tok.tokens);
  int64_t line = 0;
  auto bad = [&](const std::string &msg) {
    error = fmt::format("{}:{}: {}", name, line, msg);
    return std::nullopt;
  };
  if (text.empty()) {
    error = fmt::format("{} is empty; a tokenizer file has one 'BASE64 RANK' line per token", name);
    return std::nullopt;
  }
  size_t pos = 0;
  while (pos < text.size()) {
    ++line;
    size_t eol = text.find('\n', pos);
    std::string_view l = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    // As tiktoken reads it: CRLF line ends, and blank lines skipped.
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) continue;
    size_t sp = l.find(' ');
    if (sp == std::string_view::npos || l.find(' ', sp + 1) != std::string_view::npos)
      return bad("expected 'BASE64 RANK' (one space between them)");
    std::string_view b64 = l.substr(0, sp), rankText = l.substr(sp + 1);
    auto bytes = base64Decode(b64);
    if (!bytes || bytes->empty()) return bad(fmt::format("'{}' is not valid base64", escapeBytes(b64)));
    int64_t expect = int64_t(tok.tokens.size()), rank = -1;
    if (!rankText.empty() && rankText.size() <= 9 &&
        std::all_of(rankText.begin(), rankText.end(), [](char c) { return c >= '0' && c <= '9'; }))
      rank = std::stoll(std::string(rankText));
    if (rank < 0) return bad(fmt::format("rank '{}' is not a number", escapeBytes(rankText)));
    if (rank != expect) return bad(fmt::format("rank {} is out of order; ranks go 0, 1, 2, ... and this line's is {}", rank, expect));
    if (expect >= kMaxVocab) return bad(fmt::format("more than {} tokens", kMaxVocab));
    auto [it, fresh] = seen.emplace(*bytes, rank);
    if (!fresh) return bad(fmt::format("token '{}' (rank {}) duplicates rank {}", escapeBytes(*bytes), rank, it->second));
    if (rank < 256 && bytes->size() != 1)
      return bad(fmt::format("token '{}' has rank {}, but ranks 0-255 must be the 256 single bytes", escapeBytes(*bytes), rank));
    if (rank >= 256) {
      // Merges are implied by the ranks, as in tiktoken: the token must be
      // two earlier tokens joined.
      bool joined = false;
      earlier.hashPrefixes(*bytes);
      for (size_t k = 1; k < bytes->size() && !joined; ++k)
        joined = earlier.find(0, k) >= 0 && earlier.find(k, bytes->size()) >= 0;
      if (!joined) return bad(fmt::format("token '{}' (rank {}) is not two earlier tokens joined", escapeBytes(*bytes), rank));
    }
    tok.tokens.push_back(std::move(*bytes));
    earlier.add(int32_t(tok.tokens.size() - 1));
  }
  if (tok.tokens.size() < 256)
    return bad(fmt::format("the file ends after {} tokens; the first 256 must be the single bytes", tok.tokens.size()));
  tok.buildTables();
  return tok;
}

/// The largest tokenizer file read (a million tokens take some 30 MiB).
static constexpr int64_t kMaxTokenizerBytes = int64_t(1) << 30;

std::optional<Tokenizer> Tokenizer::load(const std::string &path, std::string &error) {
  // /dev/zero was read for 20 s, to 2 GiB, and then "out of memory"; so
  // was a sparse file of 2 GiB. A tokenizer of a million tokens is some
  // 30 MiB.
  if (struct stat st; ::stat(path.c_str(), &st) == 0) {
    std::string why = S_ISDIR(st.st_mode)                                 ? "it is a directory"
                      : !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)     ? "not a regular file"
                      : S_ISREG(st.st_mode) && st.st_size > kMaxTokenizerBytes
                          ? fmt::format("it is {}, far more than a tokenizer holds", sizeText(double(st.st_size)))
                          : "";
    if (!why.empty()) {
      error = fmt::format("cannot read tokenizer {}: {}", path, why);
      return std::nullopt;
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("cannot read tokenizer {}: {}", path, std::strerror(errno));
    return std::nullopt;
  }
  std::string text;
  errno = 0;
  if (!readStream(in, text, size_t(kMaxTokenizerBytes))) {
    error = fmt::format("cannot read tokenizer {}: {}", path, std::strerror(errno ? errno : EIO));
    return std::nullopt;
  }
  if (text.size() > size_t(kMaxTokenizerBytes)) {
    error = fmt::format("cannot read tokenizer {}: larger than 1 GiB, far more than a tokenizer holds", path);
    return std::nullopt;
  }
  return parse(text, path, error);
}

bool Tokenizer::startsLikeFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  // base64 of one byte ("AA==") and " 0", then the line's end: a longer
  // first line is no tokenizer's, and is not read through.
  char buf[16];
  in.read(buf, sizeof buf);
  std::string_view head(buf, size_t(in.gcount()));
  size_t eol = head.find('\n');
  if (eol == std::string_view::npos) return false;
  std::string_view line = head.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!line.ends_with(" 0")) return false;
  auto bytes = base64Decode(line.substr(0, line.size() - 2));
  return bytes && bytes->size() == 1;
}

std::string Tokenizer::save(const std::string &path) const {
  // The rename would replace a device or pipe (as root, /dev/null itself)
  // with a regular file.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) return "it is not a regular file";
  return writeAtomically(path, serialize());
}

} // namespace grt
