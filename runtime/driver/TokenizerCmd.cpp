//===- runtime/driver/TokenizerCmd.cpp - the `tokenizer` command ----------===//
//
//   MODEL tokenizer train --vocab N --data FILE -o TOK [--no-presplit] [--quiet]
//   MODEL tokenizer encode --tokenizer TOK [--no-presplit] < bytes > ids
//   MODEL tokenizer decode --tokenizer TOK < ids > bytes
//   MODEL tokenizer bench --data FILE [--vocab N] [--runs R] [--no-presplit]
//
// The same in every model executable: it needs nothing of the model.
//
//===----------------------------------------------------------------------===//
#include "driver/AtomicFile.h"
#include "driver/Commands.h"
#include "driver/Tokenizer.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace grt {

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

/// The text of --data: a file, or a directory of text files read as
/// `train --data DIR` reads it, so a tokenizer learns from the corpus it
/// will encode (`tok`, the tokenizer being written, is skipped there).
std::string readFile(const std::string &path, const std::string &tok = "") {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return readCorpus(path, false, tok);
  // A device (/dev/zero) never ends; a pipe does.
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    fail("cannot read {}: not a regular file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {}: {}", path, std::strerror(errno));
  // Training takes at most INT32_MAX bytes; reading one more says so.
  std::string s;
  errno = 0;
  if (!readStream(in, s, size_t(INT32_MAX))) fail("cannot read {}: {}", path, std::strerror(errno ? errno : EIO));
  if (s.empty()) fail("{} is empty; there is nothing to train on", path);
  return s;
}

/// Standard input, whole: a file, a pipe, a terminal or /dev/null (cron,
/// nohup). Another device, which may never end (< /dev/zero), was read
/// until memory ran out, 4 GiB later.
std::string readStdin() {
  struct stat st, null;
  bool isNull = ::stat("/dev/null", &null) == 0 && S_ISCHR(null.st_mode);
  if (::fstat(0, &st) == 0 && S_ISCHR(st.st_mode) && !::isatty(0) && !(isNull && st.st_rdev == null.st_rdev))
    fail("cannot read standard input: it is a device (/dev/zero, /dev/urandom), not a file, a pipe or a terminal");
  std::string s;
  errno = 0;
  if (!readStream(std::cin, s, size_t(INT32_MAX))) fail("cannot read standard input: {}", std::strerror(errno ? errno : EIO));
  if (s.size() > size_t(INT32_MAX)) fail("cannot read standard input: it is larger than 2 GiB");
  return s;
}

Tokenizer loadTokenizer(const Args &a, const char *sub) {
  if (!a.has("tokenizer")) fail("tokenizer {} needs --tokenizer FILE (written by `tokenizer train`)", sub);
  std::string err;
  auto tok = Tokenizer::load(a.str("tokenizer"), err);
  if (!tok) fatal(err);
  return std::move(*tok);
}

int64_t vocabOption(const Args &a, int64_t dflt) {
  if (dflt < 0 && !a.has("vocab")) fail("tokenizer train needs --vocab N: 256 single bytes plus N - 256 merges");
  return a.integer("vocab", dflt, 256, Tokenizer::kMaxVocab);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void checkWritable(const std::string &path) {
  // A path that cannot be written fails now, not after the training.
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) fail("cannot write tokenizer {}: it is a directory", path);
  // It is written to a temporary file and renamed over the path: that would
  // replace a device or pipe (as root, /dev/null itself) with a file.
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    fail("cannot write tokenizer {}: it is not a regular file (the tokenizer replaces its path)", path);
  std::string probe = temporaryName(path);
  FILE *f = std::fopen(probe.c_str(), "wb");
  if (!f) fail("cannot write tokenizer {}: {}", path, std::strerror(errno));
  std::fclose(f);
  std::remove(probe.c_str());
}

/// Fails when `path` holds something that is not a tokenizer (a checkpoint,
/// the user's notes): writing would replace it, as `train --save` refuses
/// to. An earlier tokenizer, or an empty file, may be replaced.
void refuseReplacingNonTokenizer(const std::string &path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return;
  if (!Tokenizer::startsLikeFile(path))
    fail("-o {} is a file that is not a tokenizer (its first line is not a token's 'BASE64 0'); writing the tokenizer "
         "would replace it: choose another path, or remove the file first",
         path);
}

int train(int argc, char **argv) {
  Args a("tokenizer train", argc, argv, 3, {"vocab", "data", "output"}, {"no-presplit", "quiet"});
  int64_t vocab = vocabOption(a, -1);
  if (!a.has("data")) fail("tokenizer train needs --data FILE: the text to learn merges from");
  if (!a.has("output")) fail("tokenizer train needs -o FILE: where to write the tokenizer");
  // `--data -` is standard input, read once, as for train and predict.
  std::string data = dataPath(a), outPath = a.str("output");
  bool quiet = a.has("quiet"), presplit = !a.has("no-presplit");
  checkWritable(outPath);
  refuseOverwritingInput(outPath, "-o", data, "--data");
  refuseOverwritingProgram(outPath, "-o");
  refuseReplacingNonTokenizer(outPath);
  // What a run killed while writing OUT left (OUT.tmp-PID), as saves do.
  removeStaleTemporaries(outPath);
  std::string text = readFile(data, outPath);
  if (text.size() > size_t(INT32_MAX)) fail("{} has {} bytes; training reads at most {}", data, text.size(), INT32_MAX);

  int64_t wanted = vocab - 256, every = std::max<int64_t>(1, wanted / 10);
  if (!quiet)
    fmt::print("training {} merges on {} ({} bytes), {}\n", wanted, data, text.size(),
               presplit ? "pre-split GPT-2 style" : "without pre-split");
  Tokenizer::TrainStats stats;
  double t0 = now();
  Tokenizer tok = Tokenizer::train(text, vocab, presplit, &stats, [&](const Tokenizer::MergeEvent &e) {
    if (quiet || (e.merge % every && e.merge != wanted)) return;
    fmt::print("  merge {}/{}: {} = {} + {} '{}' ({} times)\n", e.merge, wanted, e.id, e.left, e.right, escapeBytes(e.bytes),
               e.count);
    std::fflush(stdout);
  });
  double seconds = now() - t0;
  std::string err = tok.save(outPath);
  if (!err.empty()) fail("cannot write tokenizer {}: {}", outPath, err);
  // A corpus of one repeated byte runs out of pairs by the token-size cap,
  // not by pairs: it was said to have none left.
  if (stats.merges < wanted && stats.capped)
    fmt::print(stderr, "note: {} has no adjacent pair left after {} merges whose token would be {} bytes or fewer (the "
                       "longest a token may be); the vocabulary has {} tokens, not {}: the corpus repeats too little "
                       "else for more\n",
               data, stats.merges, Tokenizer::kMaxTokenBytes, tok.size(), vocab);
  else if (stats.merges < wanted)
    fmt::print(stderr, "note: {} has no adjacent pair left after {} merges; the vocabulary has {} tokens, not {}\n", data,
               stats.merges, tok.size(), vocab);
  fmt::print("{} merge{} in {:.3f} s ({} chunks, {} distinct); vocabulary {} tokens\n", stats.merges,
             stats.merges == 1 ? "" : "s", seconds, stats.chunks, stats.distinct, tok.size());
  // Encoding the text again to count its tokens took a minute of silence
  // after the last merge line on 50 MB; what it took is said.
  if (!quiet && text.size() > (4 << 20)) {
    fmt::print("encoding {} to count its tokens\n", data);
    std::fflush(stdout);
  }
  double t1 = now();
  size_t tokens = tok.encode(text).size();
  fmt::print("{}: {} byte{} -> {} token{}, {:.3f} bytes per token{}\n", data, text.size(), text.size() == 1 ? "" : "s",
             tokens, tokens == 1 ? "" : "s", double(text.size()) / double(std::max<size_t>(tokens, 1)),
             now() - t1 >= 1 ? fmt::format(" (encoded in {:.1f} s)", now() - t1) : "");
  fmt::print("wrote {}{}\n", outPath, presplit ? "" : " (encode with --no-presplit too)");
  return 0;
}

int encode(int argc, char **argv) {
  Args a("tokenizer encode", argc, argv, 3, {"tokenizer"}, {"no-presplit"});
  Tokenizer tok = loadTokenizer(a, "encode");
  tok.setPresplit(!a.has("no-presplit"));
  if (tok.presplit())
    if (int64_t n = tok.tokensAcrossChunks())
      fmt::print(stderr, "note: {} has {} tokens that span pre-split chunks; it was trained with --no-presplit, "
                 "so encode with --no-presplit too\n", a.str("tokenizer"), n);
  std::vector<int32_t> ids = tok.encode(readStdin());
  std::string out;
  out.reserve(ids.size() * 5 + 1);
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    fmt::format_int s(ids[i]);
    out.append(s.data(), s.size());
  }
  if (!ids.empty()) out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

int decode(int argc, char **argv) {
  Args a("tokenizer decode", argc, argv, 3, {"tokenizer"}, {});
  Tokenizer tok = loadTokenizer(a, "decode");
  std::string in = readStdin();
  std::vector<int32_t> ids;
  size_t i = 0, n = in.size();
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  while (i < n) {
    while (i < n && space(in[i])) ++i;
    if (i == n) break;
    size_t j = i;
    while (j < n && !space(in[j])) ++j;
    std::string_view w(in.data() + i, j - i);
    int64_t id = -1;
    if (w.size() <= 9 && std::all_of(w.begin(), w.end(), [](char c) { return c >= '0' && c <= '9'; }))
      id = std::stoll(std::string(w));
    if (id < 0) fail("standard input: '{}' is not a token id", escapeBytes(w.substr(0, 40)));
    if (id >= tok.size()) fail("standard input: token id {} is outside the vocabulary of {} tokens", id, tok.size());
    ids.push_back(int32_t(id));
    i = j;
  }
  std::string out = tok.decode(ids);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

/// Not a test: the figures for bench/README.md. Each timing is the median
/// of --runs; encoding is repeated within a run until it takes 0.2 s.
int bench(int argc, char **argv) {
  Args a("tokenizer bench", argc, argv, 3, {"data", "vocab", "runs"}, {"no-presplit"});
  if (!a.has("data")) fail("tokenizer bench needs --data FILE");
  int64_t vocab = vocabOption(a, 1256), runs = a.integer("runs", 3, 1, 100);
  bool presplit = !a.has("no-presplit");
  std::string data = a.str("data"), text = readFile(data);
  std::vector<double> trainTimes, encodeRates, decodeRates;
  Tokenizer tok;
  Tokenizer::TrainStats stats;
  for (int64_t r = 0; r < runs; ++r) {
    double t0 = now();
    tok = Tokenizer::train(text, vocab, presplit, &stats);
    trainTimes.push_back(now() - t0);
  }
  std::vector<int32_t> ids;
  for (int64_t r = 0; r < runs; ++r) {
    double t0 = now(), t;
    int reps = 0;
    do {
      ids = tok.encode(text);
      ++reps;
    } while ((t = now() - t0) < 0.2);
    encodeRates.push_back(double(text.size()) * reps / t / 1e6);
    t0 = now();
    reps = 0;
    std::string back;
    do {
      back = tok.decode(ids);
      ++reps;
    } while ((t = now() - t0) < 0.2);
    decodeRates.push_back(double(text.size()) * reps / t / 1e6);
    if (back != text) fail("decode(encode({})) differs from the file", data);
  }
  fmt::print("{}: {} bytes, {}\n", data, text.size(), presplit ? "pre-split" : "no pre-split");
  fmt::print("train  {} merges: {:.3f} s (median of {}; runs {:.3f})\n", stats.merges, median(trainTimes), runs,
             fmt::join(trainTimes, ", "));
  fmt::print("encode {:.1f} MB/s (median of {}; runs {:.1f}), {} tokens, {:.3f} bytes per token\n", median(encodeRates), runs,
             fmt::join(encodeRates, ", "), ids.size(), double(text.size()) / double(std::max<size_t>(ids.size(), 1)));
  fmt::print("decode {:.1f} MB/s (median of {}); round trip exact\n", median(decodeRates), runs);
  return 0;
}

} // namespace

int cmdTokenizer(const GrtModel &, int argc, char **argv) {
  std::string sub = argc > 2 ? argv[2] : "";
  // `-o FILE` is short for --output FILE.
  std::vector<char *> args(argv, argv + argc);
  static char output[] = "--output";
  for (int i = 3; i < argc; ++i)
    if (!std::strcmp(args[i], "-o")) {
      // Said here, as typed: Args would name --output, which the user did not write.
      if (i + 1 >= argc) fail("-o needs a value: the file to write");
      if (!*argv[i + 1]) fail("-o needs a value, not an empty string");
      if (!std::strcmp(argv[i + 1], "-")) fail("{}", dashRefused("-o"));
      args[i] = output;
    }
  if (sub == "train") return train(argc, args.data());
  if (sub == "encode") return encode(argc, args.data());
  if (sub == "decode") return decode(argc, args.data());
  if (sub == "bench") return bench(argc, args.data());
  if (sub.empty()) fail("tokenizer needs a subcommand: train, encode, decode or bench (see {} --help)", argv[0]);
  fail("tokenizer has no subcommand '{}'; they are train, encode, decode, bench (see {} --help)", sub, argv[0]);
}

} // namespace grt
