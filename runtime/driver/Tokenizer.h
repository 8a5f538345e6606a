//===- runtime/driver/Tokenizer.h - byte-level BPE, trained by our code ---===//
//
// A byte-level byte-pair-encoding tokenizer in the GPT-2 / minbpe sense.
// Token ids are ranks: 0..255 are the single bytes, and every later token is
// two earlier tokens joined, learned by merging the most frequent adjacent
// pair of the training text (ties: the smallest pair of ids).
//
// Encoding follows tiktoken exactly: within each pre-split chunk, repeatedly
// join the adjacent pair whose concatenation is the token of lowest rank
// (the leftmost such pair on a tie), until no adjacent pair forms a token.
// The merge list is thus implied by the ranks, and the file holds only them,
// in tiktoken's plain format: one `base64(token bytes) rank` per line.
//
// The optional pre-split approximates GPT-2's pattern on bytes, with no regex
// library; it is exactly Python's
//   re.findall(rb" ?[A-Za-z\x80-\xff]+| ?[0-9]+| ?[^\sA-Za-z0-9\x80-\xff]+|\s+(?!\S)|\s+", text)
// Bytes >= 0x80 count as letters, so a UTF-8 character is never split and
// non-ASCII words stay whole; GPT-2's contractions ('s, 't...) are left out.
// A tokenizer is used with the pre-split it was trained with: the file cannot
// say which (tiktoken keeps its pattern apart from the ranks too).
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace grt {

/// Calls `f(chunk)` for each pre-split chunk of `text`, in order; the chunks
/// concatenate to `text`.
void forEachChunk(std::string_view text, const std::function<void(std::string_view)> &f);
std::vector<std::string_view> presplitChunks(std::string_view text);

class Tokenizer {
public:
  /// The most tokens a vocabulary may have: ids stay far from int32 limits
  /// and the tables small.
  static constexpr int64_t kMaxVocab = 1000000;
  /// The longest token training makes. A run of one byte merged into
  /// tokens of 2, 4, 8, ... bytes, up to the whole run: 20 MB of NUL gave a
  /// 67 MB tokenizer and took 2.6 GB to train, 100 MB took 17.5 GB. Text
  /// has no useful token near this long (GPT-2's longest is 128 bytes).
  static constexpr size_t kMaxTokenBytes = 256;

  struct MergeEvent {
    int merge;      // 1-based
    int32_t id;     // the new token
    int32_t left, right;
    int64_t count;  // occurrences of the pair in the training text
    std::string_view bytes; // the new token's
  };
  struct TrainStats {
    int64_t chunks = 0, distinct = 0; // pre-split chunks of the text, and how many differ
    int merges = 0;                   // fewer than asked when no adjacent pair is left
    bool capped = false;              // pairs were passed over: their token passes kMaxTokenBytes
  };

  /// The 256 single bytes.
  Tokenizer();

  /// Learns up to vocabSize - 256 merges (vocabSize in [256, kMaxVocab]) on
  /// `text` (at most 2^31 - 1 bytes; std::invalid_argument otherwise),
  /// none making a token longer than kMaxTokenBytes.
  /// `onMerge` is called after each merge.
  static Tokenizer train(std::string_view text, int64_t vocabSize, bool presplit, TrainStats *stats = nullptr,
                         const std::function<void(const MergeEvent &)> &onMerge = {});

  /// Reads tiktoken's plain format; on a malformed file returns nothing and
  /// sets `error` to one line naming `name` and the line.
  static std::optional<Tokenizer> parse(std::string_view contents, const std::string &name, std::string &error);
  static std::optional<Tokenizer> load(const std::string &path, std::string &error);
  /// Whether the file `path` starts as a tokenizer file does: a first line
  /// "BASE64 0" whose base64 is one byte. A tokenizer damaged further on
  /// still is one (and `tokenizer train -o` may replace it); a checkpoint,
  /// a corpus or notes are not.
  static bool startsLikeFile(const std::string &path);
  std::string serialize() const;
  /// Writes atomically (temporary file, fsync, rename); returns the reason
  /// it failed, or "" on success.
  std::string save(const std::string &path) const;

  std::vector<int32_t> encode(std::string_view bytes) const;
  /// Every id must be below size().
  std::string decode(const std::vector<int32_t> &ids) const;

  int64_t size() const { return int64_t(tokens.size()); }
  const std::string &bytes(int32_t id) const { return tokens[size_t(id)]; }
  bool presplit() const { return split; }
  void setPresplit(bool on) { split = on; }
  /// Tokens that the pre-split can never produce, because they span two
  /// chunks (only a tokenizer trained with --no-presplit has them).
  int64_t tokensAcrossChunks() const;

private:
  void buildTables();
  /// BPE of one chunk, appended to `out`.
  void encodeChunk(std::string_view chunk, std::vector<int32_t> &out) const;
  int32_t pairToken(int32_t a, int32_t b) const { return pairs.find(uint64_t(uint32_t(a)) << 32 | uint32_t(b)); }

  /// Open addressing with linear probing, at most half full: encoding does
  /// this lookup for every adjacent pair and every join, and a flat array
  /// spares it std::unordered_map's pointer chasing.
  struct PairTable {
    static constexpr uint64_t kEmpty = ~uint64_t(0); // no pair of ids below 2^31
    std::vector<uint64_t> keys;
    std::vector<int32_t> values;
    int shift = 64;
    size_t slot(uint64_t k) const { return size_t((k * 0x9E3779B97F4A7C15ull) >> shift); }
    void reset(size_t n);
    void insert(uint64_t k, int32_t v);
    int32_t find(uint64_t k) const {
      if (keys.empty()) return -1;
      for (size_t i = slot(k), mask = keys.size() - 1;; i = (i + 1) & mask) {
        if (keys[i] == k) return values[i];
        if (keys[i] == kEmpty) return -1;
      }
    }
  };

  std::vector<std::string> tokens; // id (= rank) -> bytes
  int32_t byteId[256];             // byte -> its single-byte token
  /// (a, b) -> the token a's bytes + b's bytes, for every way of writing
  /// every token as two tokens: what tiktoken's merge loop looks up.
  PairTable pairs;
  /// [a << 8 | b]: bytes a, b are adjacent in some token. Where they are in
  /// none, no token spans them (encode() cuts the text there).
  std::vector<bool> inToken;
  bool split = true;
};

/// Printable ASCII as is (but ' and \), every other byte as \xNN; past
/// `limit` bytes, "... (N bytes)" (a 1 MB token from a damaged file made
/// a 1 MB error line).
std::string escapeBytes(std::string_view bytes, size_t limit = 80);

/// Standard base64 with padding, as Python's base64.b64encode.
std::string base64Encode(std::string_view bytes);
/// Strict: the standard alphabet, length a multiple of 4, '=' only as padding.
std::optional<std::string> base64Decode(std::string_view text);

} // namespace grt
