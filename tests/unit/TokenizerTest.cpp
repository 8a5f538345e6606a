//===- tests/unit/TokenizerTest.cpp - byte-level BPE ----------------------===//
//
// Training is checked against a naive trainer (a full recount per merge),
// encoding against a naive tiktoken loop, and the round trip on random and
// adversarial bytes. Files are saved, loaded and refused when malformed.
//
//===----------------------------------------------------------------------===//
#include "runtime/driver/Tokenizer.h"
#include "runtime/core/Runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sys/stat.h>

using namespace grt;

namespace {

std::vector<std::string> tokensOf(const Tokenizer &t) {
  std::vector<std::string> v;
  for (int64_t i = 0; i < t.size(); ++i) v.push_back(t.bytes(int32_t(i)));
  return v;
}

/// minbpe's trainer: count every adjacent pair of every chunk (weighted by
/// nothing: chunks are listed as often as they occur), merge the most
/// frequent (the smallest pair on a tie) left to right everywhere.
std::vector<std::string> naiveTrain(std::string_view text, int vocab, bool presplit) {
  std::vector<std::vector<int32_t>> chunks;
  auto add = [&](std::string_view c) {
    std::vector<int32_t> ids;
    for (unsigned char ch : c) ids.push_back(ch);
    chunks.push_back(ids);
  };
  if (presplit) for (auto c : presplitChunks(text)) add(c);
  else add(text);
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, char(b)));
  while (int(tokens.size()) < vocab) {
    std::map<std::pair<int32_t, int32_t>, int64_t> counts;
    for (auto &c : chunks)
      for (size_t i = 0; i + 1 < c.size(); ++i)
        if (tokens[c[i]].size() + tokens[c[i + 1]].size() <= Tokenizer::kMaxTokenBytes) ++counts[{c[i], c[i + 1]}];
    if (counts.empty()) break;
    auto best = counts.begin();
    for (auto it = counts.begin(); it != counts.end(); ++it)
      if (it->second > best->second) best = it; // map order: the smallest pair wins a tie
    int32_t id = int32_t(tokens.size());
    tokens.push_back(tokens[best->first.first] + tokens[best->first.second]);
    for (auto &c : chunks) {
      std::vector<int32_t> out;
      for (size_t i = 0; i < c.size(); ++i)
        if (i + 1 < c.size() && c[i] == best->first.first && c[i + 1] == best->first.second) {
          out.push_back(id);
          ++i;
        } else {
          out.push_back(c[i]);
        }
      c = out;
    }
  }
  return tokens;
}

/// tiktoken's loop, spelled out: join the adjacent pair whose bytes are the
/// lowest-ranked token (leftmost on a tie) until none is a token.
std::vector<int32_t> naiveEncode(const Tokenizer &t, std::string_view text) {
  std::map<std::string, int32_t> rank;
  for (int64_t i = 0; i < t.size(); ++i) rank[t.bytes(int32_t(i))] = int32_t(i);
  std::vector<int32_t> out;
  auto one = [&](std::string_view c) {
    std::vector<std::string> parts;
    for (char ch : c) parts.push_back(std::string(1, ch));
    for (;;) {
      int32_t best = -1;
      size_t at = 0;
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto it = rank.find(parts[i] + parts[i + 1]);
        if (it != rank.end() && (best < 0 || it->second < best)) best = it->second, at = i;
      }
      if (best < 0) break;
      parts[at] += parts[at + 1];
      parts.erase(parts.begin() + long(at) + 1);
    }
    for (auto &p : parts) out.push_back(rank.at(p));
  };
  if (t.presplit()) for (auto c : presplitChunks(text)) one(c);
  else one(text);
  return out;
}

std::string randomText(Rng &r, size_t n, int alphabet) {
  static const std::string common = "ab a b\n ab.a1 ";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    switch (alphabet) {
    case 0: s += char(r.below(256)); break;                       // any byte
    case 1: s += common[r.below(common.size())]; break;           // few symbols: ties, runs
    default: s += "aaab  cd\xc3\xa9\xff\x00!"[r.below(13)]; break; // runs, UTF-8, invalid, NUL
    }
  }
  return s;
}

const std::string &shakespeareLike() {
  static const std::string s = [] {
    std::string t;
    Rng r(5);
    const char *words[] = {"the", "king", "shall", "not", "thou", "art", "my", "lord", "and", "to", "be", "42", "!"};
    for (int i = 0; i < 20000; ++i) {
      t += words[r.below(13)];
      t += r.below(8) ? " " : ",\n";
    }
    return t;
  }();
  return s;
}

TEST(Tokenizer, WikipediaExample) {
  // aaabdaaabac: "aa" is the most frequent pair (4, overlaps counted); then
  // "ab" and "aa"+"a" tie at 2 and the smaller pair (97, 98) wins; then
  // "aa"+"ab"; then every pair occurs once and "ac" (97, 99) is the smallest.
  Tokenizer t = Tokenizer::train("aaabdaaabac", 260, true);
  ASSERT_EQ(t.size(), 260);
  EXPECT_EQ(t.bytes(256), "aa");
  EXPECT_EQ(t.bytes(257), "ab");
  EXPECT_EQ(t.bytes(258), "aaab");
  EXPECT_EQ(t.bytes(259), "ac");
  EXPECT_EQ(t.encode("aaabdaaabac"), (std::vector<int32_t>{258, 'd', 258, 259}));
  EXPECT_EQ(t.encode("aaaa"), (std::vector<int32_t>{256, 256}));
  EXPECT_EQ(t.encode("aaa"), (std::vector<int32_t>{256, 'a'}));
}

TEST(Tokenizer, StopsWhenNoPairIsLeft) {
  Tokenizer::TrainStats st;
  Tokenizer t = Tokenizer::train("abab", 1000, false, &st);
  EXPECT_EQ(st.merges, 2); // ab, then abab
  EXPECT_EQ(t.bytes(257), "abab");
  EXPECT_EQ(Tokenizer::train("", 300, true).size(), 256);
  EXPECT_THROW(Tokenizer::train("x", 255, true), std::invalid_argument);
}

TEST(Tokenizer, PresplitMatchesGpt2StylePattern) {
  // Python: re.findall(rb" ?[A-Za-z\x80-\xff]+| ?[0-9]+| ?[^\sA-Za-z0-9\x80-\xff]+|\s+(?!\S)|\s+", s)
  auto v = presplitChunks("Hello  world!! 42x\n\nfoo \tbar\xc3\xa9 \n x  ");
  std::vector<std::string_view> want = {"Hello", " ", " world", "!!", " 42", "x", "\n", "\n", "foo", " ",
                                        "\t", "bar\xc3\xa9", " \n", " x", "  "};
  EXPECT_EQ(v, want);
  EXPECT_TRUE(presplitChunks("").empty());
}

TEST(Tokenizer, TrainingMatchesNaiveTrainer) {
  Rng r(11);
  for (int round = 0; round < 60; ++round) {
    std::string text = randomText(r, 1 + r.below(400), 1 + round % 2);
    bool presplit = round % 3 != 0;
    int vocab = 256 + int(r.below(40));
    Tokenizer t = Tokenizer::train(text, vocab, presplit);
    ASSERT_EQ(tokensOf(t), naiveTrain(text, vocab, presplit)) << "round " << round;
  }
  std::string big = shakespeareLike().substr(0, 30000);
  EXPECT_EQ(tokensOf(Tokenizer::train(big, 330, true)), naiveTrain(big, 330, true));
  // Runs longer than the longest token: the pairs that would pass it are
  // skipped, and the others still merge in the same order.
  for (std::string runs : {std::string(700, 'a') + "b" + std::string(300, 'a') + "ab" + std::string(1500, 'b'),
                           std::string(3000, '\0') + "xy" + std::string(257, '\0')})
    for (bool presplit : {false, true})
      EXPECT_EQ(tokensOf(Tokenizer::train(runs, 320, presplit)), naiveTrain(runs, 320, presplit)) << presplit;
}

TEST(Tokenizer, EncodingMatchesTiktokenLoop) {
  Tokenizer pre = Tokenizer::train(shakespeareLike(), 600, true);
  Tokenizer raw = Tokenizer::train(shakespeareLike(), 600, false);
  Rng r(3);
  for (int round = 0; round < 300; ++round) {
    std::string text = round % 2 ? shakespeareLike().substr(r.below(shakespeareLike().size()), r.below(300)) : randomText(r, r.below(300), round % 3);
    ASSERT_EQ(pre.encode(text), naiveEncode(pre, text)) << "round " << round;
    ASSERT_EQ(raw.encode(text), naiveEncode(raw, text)) << "round " << round;
  }
  // Without the pre-split, encode() cuts the text between bytes adjacent in
  // no token; a longer text checks that the cut changes nothing.
  std::string longer = shakespeareLike().substr(500, 1500) + "\xff\x00  \n\n" + shakespeareLike().substr(9000, 300);
  EXPECT_EQ(raw.encode(longer), naiveEncode(raw, longer));
}

TEST(Tokenizer, RoundTripAnyBytes) {
  Tokenizer pre = Tokenizer::train(shakespeareLike(), 700, true);
  Tokenizer raw = Tokenizer::train(shakespeareLike() + std::string(5000, 'a') + std::string(3000, '\0'), 700, false);
  std::vector<std::string> inputs = {"", std::string(1, '\0'), std::string(100000, 'a'), std::string(100000, ' '),
                                     std::string(100000, '\0'), std::string(100000, '\xff'), "\xc3\x28\xa0\xa1\xe2\x82",
                                     "\xf0\x28\x8c\xbc\xed\xa0\x80", std::string("nul\0inside\0\0", 13)};
  std::string all;
  for (int b = 0; b < 256; ++b) all += char(b);
  inputs.push_back(all);
  inputs.push_back(all + all + shakespeareLike().substr(0, 1000));
  Rng r(7);
  for (int i = 0; i < 3000; ++i) inputs.push_back(randomText(r, r.below(i % 100 == 0 ? 5000 : 200), i % 3));
  for (auto &s : inputs) {
    ASSERT_EQ(pre.decode(pre.encode(s)), s);
    ASSERT_EQ(raw.decode(raw.encode(s)), s);
  }
  // Long runs of one byte go through the heap path; it must agree with the
  // tiktoken loop there too.
  std::string run(3000, 'a');
  EXPECT_EQ(raw.encode(run), naiveEncode(raw, run));
  EXPECT_EQ(pre.encode(std::string(500, ' ')), naiveEncode(pre, std::string(500, ' ')));
}

TEST(Tokenizer, SaveLoadGivesIdenticalEncodings) {
  Tokenizer t = Tokenizer::train(shakespeareLike(), 800, true);
  std::string path = ::testing::TempDir() + "tok.txt";
  ASSERT_EQ(t.save(path), "");
  std::string err;
  auto back = Tokenizer::load(path, err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(tokensOf(*back), tokensOf(t));
  EXPECT_EQ(back->serialize(), t.serialize());
  std::string sample = shakespeareLike().substr(1000, 20000) + "\xff\x00 zzz 123";
  EXPECT_EQ(back->encode(sample), t.encode(sample));
  // The file is tiktoken's: the first lines are the single bytes in order.
  EXPECT_EQ(t.serialize().substr(0, 15), "AA== 0\nAQ== 1\nA");
  EXPECT_EQ(t.save("/nonexistent-dir/tok.txt"), "No such file or directory");
  // The rename would replace a pipe or device with a regular file.
  std::string fifo = ::testing::TempDir() + "tok.fifo";
  std::remove(fifo.c_str());
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_EQ(t.save(fifo), "it is not a regular file");
  struct stat st;
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  std::remove(fifo.c_str());
}

// A long run of one byte makes tokens of 2^k bytes. Their pair table and
// the load-time check (each token two earlier ones joined) are built from
// hashed prefixes, not by hashing each split's halves anew (quadratic in a
// token's length: a 160,000-byte run took 9 s to train on, and loading the
// tokenizer 13 s). The tables must be the ones the plain way builds.
TEST(Tokenizer, LongRunsOfOneByte) {
  std::string text = std::string(100000, 'a') + " ab" + std::string(777, '=') + " abab";
  Tokenizer t = Tokenizer::train(text, 320, true);
  size_t longest = 0;
  for (auto &tok : tokensOf(t)) longest = std::max(longest, tok.size());
  // Merged pair by pair up to the longest token there may be (it was the
  // whole run: 20 MB of NUL took 2.6 GB to train).
  EXPECT_EQ(longest, Tokenizer::kMaxTokenBytes);
  std::string err;
  auto back = Tokenizer::parse(t.serialize(), "run", err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(tokensOf(*back), tokensOf(t));
  for (std::string s : {text, std::string(70000, 'a'), std::string(1000, '=') + "a"}) {
    EXPECT_EQ(back->encode(s), t.encode(s));
    EXPECT_EQ(back->decode(back->encode(s)), s);
  }
  std::string small(5000, 'a');
  EXPECT_EQ(t.encode(small), naiveEncode(t, small));
  // A token that is not two earlier ones joined is still refused.
  std::string bad = t.serialize();
  bad += "YWE= " + std::to_string(t.size()) + "\n"; // "aa": a token already, a duplicate
  EXPECT_FALSE(Tokenizer::parse(bad, "dup", err));
  std::string odd = Tokenizer().serialize() + "YWJj 256\n"; // "abc" from single bytes only
  EXPECT_FALSE(Tokenizer::parse(odd, "odd", err));
  EXPECT_NE(err.find("is not two earlier tokens joined"), std::string::npos) << err;
}

TEST(Tokenizer, Base64) {
  using namespace std::string_literals;
  // (No token is empty, and the strict decoder refuses "".)
  for (std::string s : {"a"s, "ab"s, "abc"s, "abcd"s, "\xff\x00\x10"s}) EXPECT_EQ(base64Decode(base64Encode(s)), s);
  EXPECT_EQ(base64Encode("ab"), "YWI=");
  EXPECT_FALSE(base64Decode("YWI"));
  EXPECT_FALSE(base64Decode("Y!I="));
  EXPECT_FALSE(base64Decode("Y=I="));
  EXPECT_FALSE(base64Decode("YW=="
                            "YWI="));
}

std::string refusal(const std::string &contents) {
  std::string err;
  EXPECT_FALSE(Tokenizer::parse(contents, "t.txt", err));
  return err;
}

TEST(Tokenizer, MalformedFilesRefused) {
  std::string good = Tokenizer::train("aaabdaaabac", 260, true).serialize();
  auto lines = [&] {
    std::vector<std::string> v;
    size_t p = 0;
    while (p < good.size()) {
      size_t e = good.find('\n', p);
      v.push_back(good.substr(p, e - p));
      p = e + 1;
    }
    return v;
  };
  auto join = [](const std::vector<std::string> &v) {
    std::string s;
    for (auto &l : v) s += l + "\n";
    return s;
  };
  std::string err;
  ASSERT_TRUE(Tokenizer::parse(good, "t.txt", err)) << err;

  EXPECT_EQ(refusal(""), "t.txt is empty; a tokenizer file has one 'BASE64 RANK' line per token");
  auto v = lines();
  v[257] = "YW!= 257";
  EXPECT_EQ(refusal(join(v)), "t.txt:258: 'YW!=' is not valid base64");
  v = lines();
  v[257] = "YWI= 258";
  EXPECT_EQ(refusal(join(v)), "t.txt:258: rank 258 is out of order; ranks go 0, 1, 2, ... and this line's is 257");
  v = lines();
  v[257] = "YWE= 257"; // "aa" again
  EXPECT_EQ(refusal(join(v)), "t.txt:258: token 'aa' (rank 257) duplicates rank 256");
  v = lines();
  v[258] = "YWFhYg== 258";
  v[257] = "Y2Q= 257"; // "cd": 'c' and 'd' are earlier tokens, fine; then "aaab" is not aa + ab
  EXPECT_EQ(refusal(join(v)), "t.txt:259: token 'aaab' (rank 258) is not two earlier tokens joined");
  v = lines();
  std::swap(v[256], v[258]);
  v[256] = "YWFhYg== 256";
  EXPECT_EQ(refusal(join(v)), "t.txt:257: token 'aaab' (rank 256) is not two earlier tokens joined");
  v = lines();
  v[3] = "YWE= 3";
  EXPECT_EQ(refusal(join(v)), "t.txt:4: token 'aa' has rank 3, but ranks 0-255 must be the 256 single bytes");
  v = lines();
  v.resize(100);
  EXPECT_EQ(refusal(join(v)), "t.txt:100: the file ends after 100 tokens; the first 256 must be the single bytes");
  v = lines();
  v[10] = "Cg==  10";
  EXPECT_EQ(refusal(join(v)), "t.txt:11: expected 'BASE64 RANK' (one space between them)");
  v = lines();
  v[10] = "Cg== x";
  EXPECT_EQ(refusal(join(v)), "t.txt:11: rank 'x' is not a number");
  // A blank line, or CRLF line ends, as tiktoken's reader takes them.
  std::string crlf;
  for (char c : good) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  for (const std::string &text : {good + "\n", "\n" + good, crlf}) {
    auto t = Tokenizer::parse(text, "t.txt", err);
    ASSERT_TRUE(t) << err;
    EXPECT_EQ(t->serialize(), good);
  }
  v = lines();
  v[10] = "Cg== 10\r\r";
  EXPECT_EQ(refusal(join(v)), "t.txt:11: rank '10\\x0d' is not a number");
  err.clear();
  EXPECT_FALSE(Tokenizer::load(::testing::TempDir() + "missing-tok.txt", err));
  EXPECT_NE(err.find("cannot read tokenizer"), std::string::npos);
}

} // namespace
