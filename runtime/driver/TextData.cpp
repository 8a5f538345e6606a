//===- runtime/driver/TextData.cpp - text: bytes or tokens of a corpus ---===//
//
// The text half of Data.h: a file or a directory of text files read as
// bytes, or encoded by a BPE tokenizer into ids (cached beside the corpus,
// NAME.tok-HASH); training batches are random windows of the first 90%,
// validation windows come from the rest. Also the tokenizer a checkpoint
// names, found and checked.
//
//===----------------------------------------------------------------------===//
#include "driver/Data.h"

#include "driver/Args.h"
#include "driver/AtomicFile.h"
#include "driver/Csv.h"
#include "gradrt/hypers.h"

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>


namespace grt {

namespace {

/// The token cache's format: kTokMagic, then its owner (CacheOwner: which
/// tokenizer, and which corpus path), the two id counts, the ids, and a
/// hash of the ids. The hash (version 2) catches damage that keeps the
/// file's size (a flipped id trained on other tokens, silently); the owner
/// (version 3) lets a new cache replace those of the corpus's earlier
/// contents, which piled up, one per edit. Older versions are simply
/// encoded again.
static const char kTokMagic[8] = {'G', 'R', 'A', 'D', 'C', 'T', 'K', '3'};

/// Whether `path` is a token cache gradc wrote beside a corpus
/// (`c.txt.tok-HASH`, starting with kTokMagic of any version): read as
/// text, it was reported as a file holding NUL bytes.
static bool isTokenCache(const std::string &path) {
  if (path.find(".tok-") == std::string::npos) return false;
  char magic[7]; // kTokMagic without its version
  std::ifstream in(path, std::ios::binary);
  return in.read(magic, sizeof magic) && !std::memcmp(magic, kTokMagic, sizeof magic);
}

} // namespace

/// Bytes of a file, or of every text file in a directory (sorted by name).
/// In a directory, what is not a text file directly in it is skipped:
/// subdirectories (not read), hidden files, symlinks, the `.dat` index files
/// `fortune` keeps beside its text files, gradc's token caches, anything
/// with NUL bytes or that cannot be read. A --data directory says so in
/// notes (its corpus shrank unnoticed); the compiled-in corpus, whose
/// skipped files are expected (fortunes' .dat and .u8 links), does not.
std::string readCorpus(const std::string &path, bool compiledIn, const std::string &tokenizer) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) fail("cannot read corpus {}: {}", path, std::strerror(errno));
  // The text is held in memory about twice (a directory's files, then the
  // whole), so it may take at most a quarter of the memory the process may
  // use (machineMemory: a ulimit -v counts); sizes are checked before
  // allocating, and a pipe is read in chunks up to the same limit.
  uint64_t limit = uint64_t(machineMemory() / 4);
  uint64_t total = 0;
  auto tooLarge = [&](const std::string &p) {
    fail("corpus {} is too large: more than {}, a quarter of the memory it may take: {}", p, sizeText(double(limit)),
         memoryText());
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
    checkDataFile(path, st, "corpus ");
    if (uint64_t(st.st_size) > limit) tooLarge(path);
    std::string text;
    if (!readFile(path, text)) fail("cannot read corpus {}: {}", path, std::strerror(errno));
    // As a directory's such file is skipped with a note, one given alone
    // is read with one: a UTF-16 text trains on its bytes, half of them 0.
    if (!compiledIn && text.find('\0') != std::string::npos)
      fmt::print(stderr, "note: corpus {} holds NUL bytes (binary, or UTF-16 text); it is read byte for byte, as it "
                         "is\n", dataFileName(path));
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
    // The --tokenizer file kept beside the text was read as text (its
    // base64 lines the whole validation split), with no word.
    if (struct stat ts; !tokenizer.empty() && stat(tokenizer.c_str(), &ts) == 0 && ts.st_dev == ls.st_dev && ts.st_ino == ls.st_ino) {
      skipped.push_back(n + " (the tokenizer file)");
      continue;
    }
    // Any other tokenizer (its first lines are the bytes 0 and 1 in
    // base64), and what an interrupted write left (NAME.tmp-PID): an
    // earlier tokenizer beside the corpus was trained on as text.
    if (char head[14]; std::ifstream(p, std::ios::binary).read(head, sizeof head) &&
                       std::string_view(head, sizeof head) == "AA== 0\nAQ== 1\n") {
      skipped.push_back(n + " (a tokenizer)");
      continue;
    }
    if (size_t at = n.rfind(".tmp-"); at != std::string::npos && at + 5 < n.size() &&
                                      n.find_first_not_of("0123456789", at + 5) == std::string::npos) {
      skipped.push_back(n + " (left by an interrupted write)");
      continue;
    }
    // Read a piece at a time, and a binary file left at its first NUL: a
    // 300 MB one was read whole to find it, and counted against the memory
    // limit first, so that 3 KB of text beside it was "too large".
    std::ifstream in(p, std::ios::binary);
    bool isBinary = false;
    text.clear();
    static char piece[1 << 16];
    while (in && !isBinary && (in.read(piece, sizeof piece) || in.gcount() > 0)) {
      std::string_view got(piece, size_t(in.gcount()));
      isBinary = got.find('\0') != std::string_view::npos;
      if (!isBinary && total + text.size() + got.size() > limit) tooLarge(p);
      if (!isBinary) text.append(got);
    }
    if (!in.is_open() || in.bad()) {
      fmt::print(stderr, "note: skipping {} of the corpus: it cannot be read ({})\n", p, std::strerror(errno));
      continue;
    }
    if (isBinary) {
      binary.push_back(n);
      continue;
    }
    total += text.size();
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

namespace {

/// The corpus as token ids under `tok`: the training and validation parts
/// encoded apart (the split is at 90% of the bytes), read from a cache
/// when one is there for this corpus and tokenizer, else encoded and
/// cached (`NAME.tok-HASH`).
struct Encoded {
  std::vector<int32_t> train, val;
};

namespace {

/// Whose ids a cache holds: the tokenizer's (with its pre-split) and the
/// corpus path's. Caches of one owner differ only in the corpus's contents,
/// so only the newest is worth keeping.
struct CacheOwner {
  uint64_t tokenizer, corpus;
  bool operator==(const CacheOwner &) const = default;
};

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
  // Only a regular file: a FIFO put at the cache's name blocked train and
  // eval in open, with no word, and a directory there was called damaged.
  // O_NONBLOCK keeps even the open from waiting for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fmt::print(stderr, "note: ignoring {}, where the token cache goes: it is not a regular file; encoding again\n", path);
    return std::nullopt;
  }
  FILE *f = ::fdopen(fd, "rb");
  if (!f) {
    ::close(fd);
    return std::nullopt;
  }
  Encoded e;
  char magic[8];
  CacheOwner owner;
  int64_t n[2];
  uint64_t sum = 0;
  // An older version (the same first 7 bytes) is replaced without a word.
  bool read = std::fread(magic, 1, 8, f) == 8, old = read && !std::memcmp(magic, kTokMagic, 7) && magic[7] < kTokMagic[7];
  bool ok = read && !std::memcmp(magic, kTokMagic, 8) && std::fread(&owner, sizeof owner, 1, f) == 1 &&
            std::fread(n, sizeof n, 1, f) == 1 && n[0] >= 0 && n[1] >= 0 && n[0] <= int64_t(trainBytes) &&
            n[1] <= int64_t(valBytes);
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
bool writeTokenCache(const std::string &path, const CacheOwner &owner, const Encoded &e) {
  int64_t n[2] = {int64_t(e.train.size()), int64_t(e.val.size())};
  uint64_t sum = idsChecksum(e);
  return writeAtomically(path, [&](int fd) {
           return writeAll(fd, kTokMagic, 8) && writeAll(fd, &owner, sizeof owner) && writeAll(fd, n, sizeof n) &&
                  writeAll(fd, e.train.data(), 4 * e.train.size()) && writeAll(fd, e.val.data(), 4 * e.val.size()) &&
                  writeAll(fd, &sum, sizeof sum);
         }).empty();
}

/// Removes the caches beside `written` (the same `NAME.tok-` prefix) that
/// `owner` wrote for earlier contents of its corpus; returns how many.
/// Those of another tokenizer, or of another corpus of the same name (the
/// user's cache directory holds caches by file name), are kept.
int removeStaleCaches(const std::string &written, const CacheOwner &owner) {
  namespace fs = std::filesystem;
  fs::path mine(written);
  std::string name = mine.filename().string(), prefix = name.substr(0, name.rfind(".tok-") + 5);
  std::error_code ec;
  int removed = 0;
  for (fs::directory_iterator it(mine.parent_path().empty() ? "." : mine.parent_path(), ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string other = it->path().filename().string();
    // Not another writer's temporary (PATH.tmp-PID): two processes
    // encoding one corpus at once (the ranks of an mpirun) removed each
    // other's file before its rename, and the save failed.
    if (other == name || !other.starts_with(prefix) || other.find(".tmp-") != std::string::npos ||
        !it->is_regular_file(ec))
      continue;
    char magic[8];
    CacheOwner theirs;
    std::ifstream in(it->path(), std::ios::binary);
    if (!in.read(magic, 8) || std::memcmp(magic, kTokMagic, 8) ||
        !in.read(reinterpret_cast<char *>(&theirs), sizeof theirs) || !(theirs == owner))
      continue;
    in.close();
    if (fs::remove(it->path(), ec)) ++removed;
  }
  return removed;
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
/// directory, no $HOME) is passed over quietly. A process that does not
/// `write` (ranks other than 0) only reads a cache.
Encoded encodeCorpus(const Tokenizer &tok, const std::string &trainBytes, const std::string &valBytes,
                     const std::string &source, bool compiledIn, bool write) {
  uint64_t key = hashName(tok.serialize()) ^ (hashName(trainBytes) * 31 + hashName(valBytes)) ^ uint64_t(tok.presplit());
  // Absolute and normal, so that "dd/" is the directory dd and "." is the
  // working directory by name: the cache of --data . was "..tok-HASH",
  // inside the corpus directory.
  std::error_code absError;
  std::string path = std::filesystem::absolute(source, absError).lexically_normal().string();
  if (absError) path = source;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::string userDir = userCacheDirectory();
  std::vector<std::string> places;
  // Beside a file or directory only: --data - wrote /dev/stdin.tok-HASH.
  struct stat st;
  bool besideIt = !compiledIn && stat(path.c_str(), &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
                  path != "/";
  if (besideIt) places.push_back(fmt::format("{}.tok-{:016x}", path, key));
  if (!userDir.empty())
    places.push_back(fmt::format("{}/{}.tok-{:016x}", userDir, std::filesystem::path(path).filename().string(), key));
  for (auto &place : places)
    if (auto e = readTokenCache(place, tok, trainBytes.size(), valBytes.size())) return std::move(*e);
  Encoded e;
  // No cache: a large corpus takes a while (54 s for 50 MB), which went
  // unsaid between the header and the first step. The process that writes
  // the cache says it (under mpirun, rank 0).
  auto t0 = std::chrono::steady_clock::now();
  bool large = trainBytes.size() + valBytes.size() > (4u << 20);
  if (large && write) fmt::print(stderr, "note: encoding the corpus with the tokenizer (cached for the next run)\n");
  e.train = tok.encode(trainBytes);
  e.val = tok.encode(valBytes);
  if (large && write)
    fmt::print(stderr, "note: encoded in {:.1f} s\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::error_code ec;
  CacheOwner owner{hashName(tok.serialize()) ^ uint64_t(tok.presplit()),
                   hashName(std::filesystem::absolute(path, ec).lexically_normal().string())};
  // Under mpirun every process encodes the corpus, and rank 0 alone
  // writes the cache (the others raced it for the same file).
  if (!write) return e;
  for (auto &place : places) {
    if (place.starts_with(userDir + "/")) std::filesystem::create_directories(userDir, ec);
    if (!writeTokenCache(place, owner, e)) continue;
    if (int n = removeStaleCaches(place, owner))
      fmt::print(stderr, "note: removed {} token cache{} of earlier contents of {} beside the new one, {}\n", n,
                 n == 1 ? "" : "s", source, place);
    return e;
  }
  // Only the time to encode it again is lost.
  fmt::print(stderr, "note: cannot cache the encoded corpus ({}); it will be encoded again next time\n",
             places.empty() ? std::string("no writable place: $XDG_CACHE_HOME and $HOME are unset")
                            : places.size() == 1 ? places[0] + " cannot be written"
                                                 : fmt::format("neither {} can be written", fmt::join(places, " nor ")));
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
    // The training part keeps the corpus's own buffer: a copy of it made
    // the corpus take twice its size in memory while it was split.
    int64_t split = int64_t(text.size() * 0.9);
    val = text.substr(split);
    text.resize(split);
    train = std::move(text);
    int64_t vocab = modelVocab(s);
    if (!opts.tokenizer.empty()) {
      tok = loadTokenizer(opts.tokenizer, vocab);
      Encoded e = encodeCorpus(*tok, train, val, this->source, opts.path.empty(), opts.writesCache);
      trainIds = std::move(e.train);
      valIds = std::move(e.val);
      tokName = opts.tokenizer;
    }
    int64_t need = context + 1;
    if (int64_t have = tok ? trainLen() + valLen() : int64_t(train.size() + val.size()); trainLen() < need || valLen() < need)
      fail("corpus {} has {} {}; the model needs at least {} in both its first 90% (training) and last 10% "
           "(validation): one context window of {} plus the next {}, so {} {} {} in all",
           dataFileName(this->source), have, have == 1 ? (tok ? "token" : "byte") : unit(), need, context, tok ? "token" : "byte",
           tok ? "about" : "at least", need * 10 - 9, tok ? "tokens" : "bytes");
    if (vocab > 0 && !tok)
      for (const std::string *part : {&train, &val})
        for (unsigned char c : *part)
          if (c >= vocab)
            fail("corpus {} contains byte {} but the model's vocabulary has {} entries", dataFileName(this->source), int(c), vocab);
    Rng fixed(777, hashName("validation"));
    // (--val-batches batches of the global batch, as one process would draw.)
    for (int64_t i = 0; i < int64_t(opts.valBatches) * batch * world; ++i)
      valStarts.push_back(fixed.below(valLen() - context));
    // The whole split: windows [k·T, k·T + T] (the last target is the next
    // window's first input), in batches weighted so that their sum is the
    // mean over every window (evalBatches, Data.h).
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
  double fillValBatch(Session &, int64_t i) override {
    if (full) {
      const EvalBatch &e = fullBatches[i];
      for (int64_t b = 0; b < batch; ++b) window(true, e.row(b) * context, b);
      return e.weight;
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

std::unique_ptr<Dataset> loadText(Session &s, const DataOptions &opts) {
  std::string path = opts.path.empty() ? s.model.text_corpus : opts.path;
  return std::make_unique<TextData>(s, readCorpus(path, opts.path.empty(), opts.tokenizer), opts, path);
}

int64_t modelVocab(Session &s) {
  // What the compiler found the text inputs index (the embedding's rows,
  // the loss's classes), else the logits' width; 0 when neither says.
  // Text ids start at 0: a model that shifts them on their way to the
  // table (gather(E, ids - 1)) would read every id 0 clamped.
  int64_t vocab = 0;
  for (const char *name : {s.model.text_input, s.model.text_target})
    if (int slot = name ? s.find(name) : -1; slot >= 0) {
      Session::IndexRange r = Session::indexRange(*s.slots[slot].tensor, 0);
      if (r.bounded() && r.low > 0)
        fail("the model uses its text input '{}' as an index that takes {} to {}, but text ids start at 0 (a byte "
             "or token id); index with the ids as they are",
             name, r.low, r.limit - 1);
      if (r.bounded()) vocab = vocab ? std::min(vocab, r.limit) : r.limit;
    }
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