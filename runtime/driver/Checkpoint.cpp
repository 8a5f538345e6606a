//===- runtime/driver/Checkpoint.cpp - saving and restoring training ------===//
#include "driver/Checkpoint.h"

#include "driver/AtomicFile.h"

#include "driver/Json.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/resource.h>
#include <sys/stat.h>
#include <tuple>
#include <algorithm>
#include <unistd.h>

namespace grt {

static const char *safetensorsDType(int dtype) {
  switch (dtype) {
  case GRT_F32: return "F32";
  case GRT_F64: return "F64";
  case GRT_I32: return "I32";
  default: return "BOOL";
  }
}

/// Parameters and optimizer state; not generation's caches of keys and
/// values, which only live while `sample` runs.
static bool saved(const Session::Slot &s) {
  return (s.tensor->role == GRT_PARAM || s.tensor->role == GRT_STATE) && !Session::isCache(*s.tensor);
}

static std::string directoryOf(const std::string &path) {
  return path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
}

/// A checkpoint's integrity check, in its metadata as "checksum": 16 hex
/// digits of a Checksum (core/Runtime.h) of the whole file as written,
/// with those 16 digits read as zeros; checked, like the token cache's
/// (Data.cpp), before anything in the file is used. Without it a flipped
/// bit in a weight, the step, a hyperparameter or the data position loaded
/// silently and changed the run. A checkpoint from before it has none, and
/// loads unchecked.
constexpr size_t kSumDigits = 16;

/// Where the checksum's digits start in a header, or npos when it has no
/// checksum field written as a save writes it (once, no spaces). A value
/// cannot hold this text: a quote in it is escaped.
static size_t checksumDigits(const std::string &header) {
  static const std::string field = "\"checksum\":\"";
  size_t at = header.find(field);
  if (at == std::string::npos || header.find(field, at + 1) != std::string::npos ||
      header.size() < at + field.size() + kSumDigits)
    return std::string::npos;
  return at + field.size();
}

/// Where a save to PATH writes: through a symbolic link, to its target.
/// A save renames a new file over its path, which would replace the link
/// with a file and leave the checkpoint it points to stale (and a link
/// into a missing directory would not be noticed).
static std::string saveTarget(const std::string &path) {
  // A rename does not follow a link at its destination, so a loop would be
  // replaced by the checkpoint: it is an error here.
  std::string p = followLinks(path);
  if (p.empty()) fail("cannot save checkpoint {}: {}", path, std::strerror(errno));
  return p;
}

/// --save /dev/stderr with stderr sent to a log replaced the log, and the
/// run's later messages went to the file unlinked (a bad-inputs explorer's
/// find); into a pipe it said "No such file or directory".
static void refuseOwnStreams(const std::string &given) {
  struct stat target, stream;
  // A device (/dev/null, a terminal) is refused below as no regular file.
  if (::stat(given.c_str(), &target) != 0 || !(S_ISREG(target.st_mode) || S_ISFIFO(target.st_mode))) return;
  for (int fd : {1, 2})
    if (::fstat(fd, &stream) == 0 && stream.st_dev == target.st_dev && stream.st_ino == target.st_ino)
      fail("--save {} is where this run writes its {}: a checkpoint there would replace the log; choose another path",
           shown(given, 4096), fd == 1 ? "output" : "messages");
}

void checkCheckpointPath(const std::string &given) {
  refuseOwnStreams(given);
  std::string path = saveTarget(given);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) fail("cannot save checkpoint {}: {}", given, std::strerror(errno));
  } else if (S_ISDIR(st.st_mode)) {
    fail("cannot save checkpoint {}: it is a directory", given);
  } else if (!S_ISREG(st.st_mode)) {
    // A save renames a new file over the path: over /dev/null, as root,
    // that would replace the device with a checkpoint.
    fail("cannot save checkpoint {}: it is not a regular file (a device, pipe or socket), and a save replaces its file",
         given);
  }
  // The directory must take a new file: the temporary a save renames.
  std::string tmp = temporaryName(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  // A name of 245 bytes is legal, and its temporary's, NAME.tmp-PID, is
  // not: "File name too long" of a name that `touch` makes.
  if (fd < 0 && errno == ENAMETOOLONG)
    fail("cannot save checkpoint {}: the temporary file a save writes first, {}, has a name too long for the file "
         "system; choose a shorter name",
         given, tmp.substr(tmp.rfind('/') + 1)); // npos + 1 is 0
  // Which file: in /proc, beside /proc/version, it said "No such file or
  // directory" of a file that exists.
  if (fd < 0) {
    int err = errno;
    std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, std::max<size_t>(path.rfind('/'), 1));
    struct stat ds;
    if (err == ENOENT && ::stat(dir.c_str(), &ds) != 0)
      fail("cannot save checkpoint {}: its directory {} does not exist", given, shown(dir, 4096));
    fail("cannot save checkpoint {}: cannot create the temporary file a save writes first, {}: {}", given,
         tmp.substr(tmp.rfind('/') + 1), std::strerror(err));
  }
  ::close(fd);
  ::unlink(tmp.c_str());
}

void checkSaveLimits(const std::string &given, const Session &s) {
  // A save opens its temporary and then its directory, one after the other.
  int fd = ::open("/dev/null", O_RDONLY);
  if (fd < 0) {
    int err = errno;
    struct rlimit rl;
    std::string limit = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                            ? fmt::format(" (ulimit -n is {})", uint64_t(rl.rlim_cur))
                            : std::string();
    fail("cannot save checkpoint {}: no file descriptor is left to write it with: {}{}", given, std::strerror(err), limit);
  }
  ::close(fd);
}

/// The header a save writes: the tensors in descriptor order, then the
/// metadata, padded to 8 bytes as safetensors asks.
static std::string headerText(const Session &s, const Metadata &meta) {
  std::string header = "{";
  size_t offset = 0;
  for (auto &sl : s.slots) {
    if (!saved(sl)) continue;
    std::string shape;
    for (int i = 0; i < sl.tensor->rank; ++i) shape += (i ? "," : "") + std::to_string(sl.tensor->dims[i]);
    header += fmt::format("{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}},", jsonQuote(sl.tensor->name),
                          safetensorsDType(sl.tensor->dtype), shape, offset, offset + sl.bytes);
    offset += sl.bytes;
  }
  header += "\"__metadata__\":{";
  bool first = true;
  for (auto &[k, v] : meta) {
    header += (first ? "" : ",") + jsonQuote(k) + ":" + jsonQuote(v);
    first = false;
  }
  header += "}}";
  while (header.size() % 8) header += ' ';
  return header;
}

void checkSaveSize(const std::string &given, const Session &s, const Metadata &fields) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
  Metadata meta = fields;
  meta["checksum"] = std::string(kSumDigits, '0');
  uint64_t tensors = 0;
  for (auto &sl : s.slots)
    if (saved(sl)) tensors += uint64_t(sl.bytes);
  // Slack for fields that may grow a little (the data's position).
  uint64_t bytes = 8 + headerText(s, meta).size() + tensors + 256;
  if (bytes > uint64_t(rl.rlim_cur))
    fail("cannot save checkpoint {}: it may take {} bytes ({} of tensors, the rest its header and the run's loss "
         "history), past the file-size limit of {} bytes (ulimit -f {})",
         given, bytes, tensors, uint64_t(rl.rlim_cur), uint64_t(rl.rlim_cur) / 1024);
}

/// A safetensors file's header, read from the start of `in`: the 8 bytes
/// that give its length (`len`, for the checksum), its text and its JSON,
/// with `in` left at the first tensor byte. What is wrong with it, said as
/// "is truncated: no header", "has a corrupt header (...)", ..., or "".
struct Header {
  int64_t size = 0; // of the whole file
  unsigned char len[8] = {};
  std::string text;
  Json json;
};
static std::string readHeader(std::ifstream &in, Header &h) {
  in.seekg(0, std::ios::end);
  h.size = in.tellg();
  in.seekg(0);
  if (h.size < 8 || !in.read(reinterpret_cast<char *>(h.len), 8)) return "is truncated: no header";
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(h.len[i]) << (8 * i);
  if (n > uint64_t(h.size - 8) || n > (100u << 20))
    return fmt::format("is truncated or not a safetensors file (its first 8 bytes give a header of {} bytes; the file "
                       "has {})",
                       n, h.size);
  h.text.assign(n, '\0');
  if (!in.read(h.text.data(), std::streamsize(n))) return "is truncated in its header";
  std::string err;
  if (!parseJson(h.text, h.json, err)) return fmt::format("has a corrupt header ({})", err);
  if (h.json.kind != Json::Object) return "has a corrupt header (it is not a JSON object)";
  return "";
}

/// Why the file `path` is not a gradc checkpoint, or "" when it is one: a
/// safetensors header whose metadata says "format": "gradc" (what every
/// save writes). Its tensors and checksum are not looked at: a damaged
/// checkpoint is still one, and may be replaced. `model` is the model that
/// saved it, when its metadata names one.
static std::string notACheckpoint(const std::string &path, std::string &model) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::strerror(errno);
  Header h;
  if (!readHeader(in, h).empty()) return "not a safetensors file";
  const Json *md = h.json.get("__metadata__");
  const Json *format = md && md->kind == Json::Object ? md->get("format") : nullptr;
  if (!format || format->kind != Json::String || format->string != "gradc") return "a safetensors file gradc did not save";
  if (const Json *name = md->get("model"); name && name->kind == Json::String) model = name->string;
  return "";
}

void refuseReplacingOtherFile(const std::string &given, const std::string &modelName) {
  std::string path = saveTarget(given);
  struct stat st;
  // Nothing is lost by replacing an empty file (one made by `touch`).
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) return;
  std::string savedBy;
  // A checkpoint this user may not read is still somebody's checkpoint.
  if (::access(path.c_str(), R_OK) != 0)
    fail("--save {}: cannot read the file there to check that it is a gradc checkpoint ({}); saving would replace it: "
         "choose another path, or remove the file first",
         given, std::strerror(errno));
  if (std::string why = notACheckpoint(path, savedBy); !why.empty())
    fail("--save {} is a file that is not a gradc checkpoint ({}); saving would replace it: choose another path, or "
         "remove the file first",
         given, why);
  // Retraining into the same file is the common workflow (other -D
  // constants included); another model's weights are another run's work.
  if (!savedBy.empty() && savedBy != modelName)
    fail("--save {} is a checkpoint of model '{}', and this is model '{}'; saving would replace it: choose another "
         "path, or remove the file first",
         given, shown(savedBy), modelName);
}

std::string saveCheckpoint(const std::string &given, Session &s, const Metadata &fields,
                           const std::function<void()> &renamed) {
  std::string path = saveTarget(given);
  // A file put at --save during the run (the check before the first step
  // saw none, or a checkpoint) is not replaced: a CSV written there by
  // mistake was overwritten by the next save, without a word.
  struct stat st;
  std::string savedBy, notOurs;
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      !(notOurs = notACheckpoint(path, savedBy)).empty())
    return "a file that is no gradc checkpoint (" + notOurs + ") was put there during the run, and a save would replace it";
  removeStaleTemporaries(path);
  Metadata meta = fields;
  meta["checksum"] = std::string(kSumDigits, '0'); // the digits, once the file's bytes are hashed
  std::string header = headerText(s, meta);
  uint64_t n = header.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = (n >> (8 * i)) & 0xff;
  Checksum sum;
  sum.add(std::string_view(reinterpret_cast<char *>(len), 8));
  sum.add(header);
  for (auto &sl : s.slots)
    if (saved(sl)) sum.add(std::string_view(static_cast<const char *>(sl.data), sl.bytes));
  header.replace(checksumDigits(header), kSumDigits, fmt::format("{:016x}", sum.value()));

  std::string dir = directoryOf(path);
  std::string why = writeAtomically(path, [&](int fd) {
    bool ok = writeAll(fd, len, 8) && writeAll(fd, header.data(), header.size());
    for (auto &sl : s.slots)
      if (ok && saved(sl)) ok = writeAll(fd, sl.data, sl.bytes);
    return ok;
  });
  if (!why.empty()) return why;
  if (renamed) renamed();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return "";
}

std::string fallbackCheckpointPath(const std::string &path) {
  const char *tmp = std::getenv("TMPDIR");
  std::string dir = tmp && tmp[0] == '/' ? tmp : "/tmp";
  std::filesystem::path name = std::filesystem::path(path).filename();
  return fmt::format("{}/{}-{}{}", dir, name.stem().string(), long(getpid()), name.extension().string());
}

/// A JSON number that is a whole number in [0, max]; false for anything
/// else (1e300, -1, 2.5, a string), checked before converting.
static bool wholeNumber(const Json &j, double max, int64_t &out) {
  if (j.kind != Json::Number || !(j.number >= 0 && j.number <= max) || j.number != std::floor(j.number)) return false;
  out = int64_t(j.number);
  return true;
}

/// A header entry's three fields, or a failure naming the entry `name`
/// (as the message shows it) as malformed.
struct Entry {
  const Json *dtype, *shape, *offsets;
};
static Entry entryFields(const std::string &path, const std::string &name, const Json &e) {
  Entry f{e.get("dtype"), e.get("shape"), e.get("data_offsets")};
  if (!f.dtype || !f.shape || !f.offsets || f.dtype->kind != Json::String || f.shape->kind != Json::Array ||
      f.offsets->kind != Json::Array || f.offsets->array.size() != 2)
    fail("checkpoint {}: entry '{}' is malformed", path, name);
  return f;
}
/// An entry's shape, each dimension a whole number from 0 to 2^53.
static std::vector<int64_t> entryShape(const std::string &path, const std::string &name, const Json &shape) {
  std::vector<int64_t> dims(shape.array.size());
  for (size_t i = 0; i < dims.size(); ++i)
    if (!wholeNumber(shape.array[i], 9007199254740992.0, dims[i]))
      fail("checkpoint {}: tensor '{}' has a malformed shape (dimension {} is not a whole number from 0 to 2^53)", path,
           name, i);
  return dims;
}
/// An entry's data_offsets [begin, end), within the file's `dataSize` bytes.
static std::pair<int64_t, int64_t> entryRange(const std::string &path, const std::string &name, const Json &offsets,
                                              int64_t dataSize) {
  int64_t b, e;
  if (!wholeNumber(offsets.array[0], double(dataSize), b) || !wholeNumber(offsets.array[1], double(dataSize), e) || e < b)
    fail("checkpoint {} is truncated or corrupt: tensor '{}' has data_offsets outside the file's {} bytes of data", path,
         name, dataSize);
  return {b, e};
}

/// The byte range [begin, end) of the data of a tensor this model does not
/// read (another model's, under --partial-load, or another optimizer's
/// state), after the checks the tensors it reads get: a file truncated or
/// damaged within such a tensor loaded with no word. A dtype not in the
/// table (C64, 4- and 6-bit floats, what safetensors adds next) is not
/// refused: its range is checked, not its size.
static std::pair<int64_t, int64_t> unreadTensorRange(const std::string &path, const std::string &name, const Json &e,
                                                     int64_t dataSize) {
  static const std::map<std::string, int64_t> sizes{
      {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},     {"I32", 4},     {"I16", 2},
      {"I8", 1},  {"U64", 8}, {"U32", 4}, {"U16", 2},  {"U8", 1},      {"BOOL", 1},    {"F8_E4M3", 1},
      {"F8_E5M2", 1}, {"C64", 8}};
  Entry f = entryFields(path, shown(name), e);
  auto size = sizes.find(f.dtype->string);
  double bytes = size == sizes.end() ? -1 : double(size->second);
  for (int64_t dim : entryShape(path, shown(name), *f.shape)) bytes *= double(dim);
  auto [b, end] = entryRange(path, shown(name), *f.offsets, dataSize);
  if (bytes >= 0 && double(end - b) != bytes)
    fail("checkpoint {} is corrupt: tensor '{}' has data_offsets [{},{}], {} bytes, but its dtype and shape take {}", path,
         shown(name), b, end, end - b, bytes);
  return {b, end};
}

/// Fails unless the file's bytes match the checksum in its metadata (when
/// it has one): `in` is the file, `len` its first 8 bytes and `header` the
/// JSON after them, parsed as `h`.
static void verifyChecksum(const std::string &path, std::ifstream &in, const unsigned char *len, std::string header,
                           const Json &h) {
  const Json *md = h.get("__metadata__");
  const Json *sum = md && md->kind == Json::Object ? md->get("checksum") : nullptr;
  if (!sum) {
    // Saved before checkpoints had one, unless it has what saves wrote
    // only later: then the field was damaged (one flipped bit in the word
    // "checksum" made it an unknown key, and the file loaded unchecked).
    if (md && md->kind == Json::Object)
      for (const char *later : {"constants", "history.train", "log_every"})
        if (md->get(later))
          fail("checkpoint {} is damaged: it has no checksum, though it has '{}', which saves wrote only after "
               "every save had a checksum; it cannot be used",
               path, later);
    // The metadata under another key: one flipped bit in "__metadata__"
    // hid the checksum, and --partial-load then loaded unchecked weights
    // with only a note of an unknown tensor.
    if (!md)
      for (auto &[key, value] : h.object)
        if (value.kind == Json::Object && value.get("checksum"))
          fail("checkpoint {} is damaged: its metadata (with the checksum) is under the key '{}', not '__metadata__'; "
               "it cannot be used",
               path, shown(key));
    return;
  }
  bool digits = sum->kind == Json::String && sum->string.size() == kSumDigits;
  for (size_t i = 0; digits && i < kSumDigits; ++i)
    digits = std::isxdigit((unsigned char)sum->string[i]); // saves write lowercase; an edit may not
  if (!digits)
    fail("checkpoint {} is damaged: its checksum {} is not 16 hex digits; it cannot be used", path,
         sum->kind == Json::String ? "'" + shown(sum->string) + "'" : std::string("entry"));
  // The digits are read from the parsed metadata; the bytes they cover
  // include the header's own text, as a save writes it. A header written
  // otherwise (re-spaced by a JSON tool, the field given twice or spelled
  // with escapes) was changed after the save: it was refused as "not 16
  // hex digits", which was not true.
  size_t at = checksumDigits(header);
  if (at == std::string::npos || header.compare(at, kSumDigits, sum->string) != 0)
    fail("checkpoint {} is damaged: its header is not as a save writes it (it was rewritten after the save, by a JSON "
         "tool or an edit), so its bytes do not match the checksum {} saved in it; it cannot be used",
         path, sum->string);
  uint64_t want = 0;
  std::from_chars(sum->string.data(), sum->string.data() + kSumDigits, want, 16);
  header.replace(at, kSumDigits, kSumDigits, '0');
  Checksum got;
  got.add(std::string_view(reinterpret_cast<const char *>(len), 8));
  got.add(header);
  in.seekg(8 + int64_t(header.size()));
  std::vector<char> chunk(size_t(1) << 20);
  while (in.read(chunk.data(), std::streamsize(chunk.size())) || in.gcount() > 0)
    got.add(std::string_view(chunk.data(), size_t(in.gcount())));
  if (in.bad()) fail("cannot read checkpoint {}: {}", path, std::strerror(errno));
  in.clear();
  if (got.value() != want)
    fail("checkpoint {} is damaged: its bytes do not match the checksum saved in it (it changed after the save: a "
         "bad disk, an incomplete copy, an edit); it cannot be used",
         path);
}

/// NAME=VALUE lines (GrtModel::constants) as a map.
static std::map<std::string, std::string> constantMap(std::string_view text) {
  std::map<std::string, std::string> out;
  while (!text.empty()) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    if (size_t eq = line.find('='); eq != std::string_view::npos)
      out[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
  }
  return out;
}

/// How the constants of the build that saved a checkpoint (its metadata's
/// "constants") differ from this executable's, as "saved by a build with
/// n_embd=16, this executable was built with n_embd=32";
/// empty when they are alike, or the checkpoint predates the record. A
/// tensor of another shape is explained by it (a -D changed it).
static std::string constantsDiffer(const Json &h, const GrtModel &m) {
  const Json *md = h.get("__metadata__");
  const Json *saved = md && md->kind == Json::Object ? md->get("constants") : nullptr;
  if (!saved || saved->kind != Json::String) return "";
  auto theirs = constantMap(saved->string), ours = constantMap(m.constants ? m.constants : "");
  std::vector<std::string> was, now;
  for (auto &[name, value] : theirs) {
    auto it = ours.find(name);
    if (it != ours.end() && it->second == value) continue;
    was.push_back(shown(name + "=" + value, 200));
    now.push_back(it == ours.end() ? fmt::format("no constant {}", shown(name, 200)) : shown(name + "=" + it->second, 200));
  }
  for (auto &[name, value] : ours)
    if (!theirs.count(name)) {
      was.push_back(fmt::format("no constant {}", shown(name, 200)));
      now.push_back(shown(name + "=" + value, 200));
    }
  if (was.empty()) return "";
  return fmt::format("saved by a build with {}, this executable was built with {}", fmt::join(was, ", "),
                     fmt::join(now, ", "));
}

/// The first element of a float tensor that is NaN or infinite, or -1.
static int64_t firstNonFinite(const Session::Slot &sl) {
  if (sl.tensor->dtype != GRT_F32 && sl.tensor->dtype != GRT_F64) return -1;
  for (int64_t i = 0; i < sl.numel; ++i)
    if (!std::isfinite(Session::get(sl, i))) return i;
  return -1;
}

Metadata loadCheckpoint(const std::string &path, Session &s, bool partial, bool weightsOnly) {
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) fail("cannot read checkpoint {}: it is a directory", path);
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) fail("cannot read checkpoint {}: not a regular file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read checkpoint {}: {}", path, std::strerror(errno));
  Header hd;
  if (std::string bad = readHeader(in, hd); !bad.empty()) fail("checkpoint {} {}", path, bad);
  const Json &h = hd.json;
  // Before anything is read from the header: damage is reported as such,
  // not as whatever it happened to make of a value.
  verifyChecksum(path, in, hd.len, hd.text, h);
  const int64_t headerEnd = 8 + int64_t(hd.text.size()), dataSize = hd.size - headerEnd;

  // A checkpoint of another model is refused by its name first: its
  // tensors may happen to match (two regressions with `w` and `b`), and
  // when they do not, the name says more than the first tensor that differs.
  const Json *md = h.get("__metadata__");
  const Json *savedBy = md && md->kind == Json::Object ? md->get("model") : nullptr;
  if (savedBy && savedBy->kind == Json::String && savedBy->string != s.model.name) {
    if (!partial)
      fail("checkpoint {} was saved by model '{}', and this is model '{}'; it cannot be loaded (--partial-load loads "
           "the tensors both have)",
           path, shown(savedBy->string), s.model.name);
    fmt::print(stderr, "note: --partial-load: checkpoint {} was saved by model '{}', not '{}': loading the tensors both "
                       "have\n",
               path, shown(savedBy->string), s.model.name);
  }
  // Another -D (n_embd=16 for 32) gives tensors of other shapes, or other
  // tensors (n_layer); one that changes no tensor (a learning rate) loads,
  // with a note.
  // Another model's constants explain nothing (logreg's B and N beside
  // linreg's w): its shapes differ because it is another model.
  bool otherModel = savedBy && savedBy->kind == Json::String && savedBy->string != s.model.name;
  std::string constants = otherModel ? "" : constantsDiffer(h, s.model);
  std::string because = otherModel      ? fmt::format("; the checkpoint is of model '{}'", shown(savedBy->string))
                        : constants.empty() ? ""
                                            : "; the checkpoint was " + constants;

  // Every tensor the file holds must be one the model saves, and the other
  // way round, unless the user asked for a partial load.
  // Without an optimizer step, state is not needed: a file of weights
  // alone (exported from PyTorch, or written for inference) serves eval.
  auto isParam = [&](const std::string &n) {
    int i = s.find(n);
    return i >= 0 && s.slots[size_t(i)].tensor->role == GRT_PARAM;
  };
  auto paramState = [&](const std::string &n) { return n.rfind('.') != std::string::npos && isParam(n.substr(0, n.rfind('.'))); };
  std::vector<std::string> extra, missing;
  for (auto &[name, e] : h.object) {
    if (name == "__metadata__") continue;
    int i = s.find(name);
    if (i >= 0 && saved(s.slots[i])) continue;
    // Only what an optimizer keeps: another suffix is no state of ours.
    auto dot = name.rfind('.');
    std::string_view suffix = dot == std::string::npos ? std::string_view() : std::string_view(name).substr(dot + 1);
    bool optimizerState = suffix == "momentum" || suffix == "adam_m" || suffix == "adam_v";
    if (!(weightsOnly && optimizerState && paramState(name))) extra.push_back(name); // else left unread
  }
  for (auto &sl : s.slots)
    if (saved(sl) && !h.get(sl.tensor->name) && !(weightsOnly && sl.tensor->role == GRT_STATE))
      missing.push_back(sl.tensor->name);
  auto list = [](const std::vector<std::string> &names) {
    std::string out;
    for (size_t i = 0; i < names.size() && i < 5; ++i) out += (i ? ", '" : "'") + shown(names[i]) + "'";
    return names.size() > 5 ? fmt::format("{} and {} more", out, names.size() - 5) : out;
  };
  // Tensors that differ only in optimizer state (w.momentum, w.adam_m):
  // the same model, built with other optimizer settings (momentum = 0
  // compiles its buffers out), not "a different model".
  bool onlyState = (!extra.empty() || !missing.empty()) && std::all_of(extra.begin(), extra.end(), paramState) &&
                   std::all_of(missing.begin(), missing.end(),
                               [&](const std::string &n) { return s.slots[size_t(s.find(n))].tensor->role == GRT_STATE; });
  std::string why = !savedBy ? "it was not written by a gradc executable (its metadata names no model)"
                    : !constants.empty() ? "it was " + constants
                    : onlyState ? "only optimizer state differs: was it saved by a build with other optimizer "
                                  "settings (a momentum of 0 leaves momentum out, or another optimizer)?"
                                : "was it saved from a different model?";
  if (!partial && !extra.empty())
    fail("checkpoint {} has {} tensor{} the model does not have ({}); {} (--partial-load loads only the tensors both "
         "have)",
         path, extra.size(), extra.size() == 1 ? "" : "s", list(extra), why);
  if (!partial && !missing.empty())
    fail("checkpoint {} has no tensor {}{}; {} (--partial-load keeps the initial values of tensors it lacks)", path,
         list(missing), missing.size() > 1 ? fmt::format(" ({} missing)", missing.size()) : "", why);
  // A partial load that loads no parameter trains or evaluates fresh
  // weights, with exit 0: a checkpoint of another model given by mistake.
  if (partial) {
    std::vector<std::string> params;
    bool shared = false;
    for (auto &sl : s.slots)
      if (sl.tensor->role == GRT_PARAM) {
        params.push_back(sl.tensor->name);
        shared = shared || h.get(sl.tensor->name);
      }
    if (!params.empty() && !shared)
      fail("checkpoint {} has none of the model's parameters ({}), so --partial-load would load nothing; was it saved "
           "from a different model?",
           path, list(params));
  }
  if (!extra.empty()) fmt::print(stderr, "note: --partial-load: ignoring {} tensor{} of {} the model does not have: {}\n",
                                 extra.size(), extra.size() == 1 ? "" : "s", path, list(extra));
  if (!missing.empty())
    fmt::print(stderr, "note: --partial-load: {} lacks {} of the model's tensors, which keep their initial values: {}\n",
               path, missing.size(), list(missing));

  std::vector<std::tuple<int64_t, int64_t, std::string>> ranges; // data_offsets of each tensor read
  for (auto &sl : s.slots) {
    if (!saved(sl)) continue;
    const GrtTensor &t = *sl.tensor;
    const Json *e = h.get(t.name);
    if (!e) continue;
    Entry f = entryFields(path, t.name, *e);
    const Json *dt = f.dtype;
    if (dt->string != safetensorsDType(t.dtype))
      fail("checkpoint {}: tensor '{}' is {}, the model expects {}{}", path, t.name, shown(dt->string),
           safetensorsDType(t.dtype),
           // A checkpoint of an f64 build (gradc build --dtype f64) read by an f32 one, or back.
           (dt->string == "F64" && t.dtype == GRT_F32) || (dt->string == "F32" && t.dtype == GRT_F64)
               ? fmt::format(" (was it saved by a build with{} --dtype f64?)", t.dtype == GRT_F64 ? "out" : "")
               : std::string());
    std::vector<int64_t> dims = entryShape(path, t.name, *f.shape);
    std::string got = "[";
    bool same = int(dims.size()) == t.rank;
    for (size_t i = 0; i < dims.size(); ++i) {
      got += (i ? "," : "") + std::to_string(dims[i]);
      same = same && dims[i] == t.dims[i];
    }
    got += "]";
    if (!same)
      fail("checkpoint {}: tensor '{}' has shape {}, the model expects {}{}", path, t.name, got, shapeStr(t), because);
    auto [b, e2] = entryRange(path, t.name, *f.offsets, dataSize);
    if (e2 - b != int64_t(sl.bytes))
      fail("checkpoint {} is corrupt: tensor '{}' has data_offsets [{},{}], {} bytes, but {} {} takes {}", path, t.name, b,
           e2, e2 - b, shown(dt->string), got, sl.bytes);
    ranges.emplace_back(b, e2, t.name);
    in.seekg(headerEnd + b);
    if (!in.read(static_cast<char *>(sl.data), sl.bytes)) fail("checkpoint {}: cannot read tensor '{}'", path, t.name);
    // Weights and the optimizer's moments: a NaN in either trains NaN.
    if (t.role == GRT_PARAM || t.role == GRT_STATE) {
      int64_t bad = firstNonFinite(sl);
      if (bad >= 0)
        fail("checkpoint {}: tensor '{}' holds {} (element {} of {}); it cannot be used", path, t.name,
             Session::get(sl, bad), bad, sl.numel);
      // Adam's second moment is a mean of squares: a negative one (a sign
      // flipped by hand or by damage) makes its square root NaN.
      if (std::string_view(t.name).ends_with(".adam_v"))
        for (int64_t i = 0; i < sl.numel; ++i)
          if (Session::get(sl, i) < 0)
            fail("checkpoint {}: tensor '{}' holds {} (element {} of {}), but Adam's second moment is never negative; "
                 "it cannot be used",
                 path, t.name, Session::get(sl, i), i, sl.numel);
    }
  }
  for (auto &[name, e] : h.object) {
    if (name == "__metadata__") continue;
    if (int i = s.find(name); i >= 0 && saved(s.slots[size_t(i)])) continue;
    auto [b, e2] = unreadTensorRange(path, name, e, dataSize);
    ranges.emplace_back(b, e2, name);
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (std::get<0>(ranges[i]) < std::get<1>(ranges[i - 1]))
      fail("checkpoint {} is corrupt: the data of tensors '{}' and '{}' overlap", path, std::get<2>(ranges[i - 1]),
           std::get<2>(ranges[i]));
  // A save writes the tensors back to back and nothing after them: bytes
  // past the last are damage, or another file appended (safetensors'
  // own reader refuses them too).
  if (!ranges.empty() && std::get<1>(ranges.back()) < dataSize)
    fail("checkpoint {} is corrupt: {} bytes follow its last tensor", path, dataSize - std::get<1>(ranges.back()));
  if (!constants.empty()) fmt::print(stderr, "note: checkpoint {} was {}\n", path, constants);
  Metadata meta;
  if (md) {
    if (md->kind != Json::Object) fail("checkpoint {}: its __metadata__ is not an object", path);
    for (auto &[k, v] : md->object) {
      if (v.kind != Json::String) fail("checkpoint {}: metadata '{}' is not a string", path, shown(k));
      meta[k] = v.string;
    }
  }
  return meta;
}

const std::string &requiredField(const Metadata &meta, const char *key, const std::string &path) {
  auto it = meta.find(key);
  if (it == meta.end())
    fail("checkpoint {} has no '{}' in its metadata; it was not written by a gradc executable", path, key);
  return it->second;
}

uint64_t checkpointSeed(const Metadata &meta, const std::string &path) {
  const std::string &saved = requiredField(meta, "seed", path);
  char *end;
  errno = 0;
  uint64_t seed = std::strtoull(saved.c_str(), &end, 10);
  // At most what --seed takes (2^63 - 1); strtoull saturated larger ones.
  if (saved.empty() || *end || saved[0] == '-' || saved[0] == '+' || errno == ERANGE || seed > uint64_t(INT64_MAX))
    fail("checkpoint {}: its seed '{}' is not a number from 0 to {}", path, shown(saved), INT64_MAX);
  return seed;
}

} // namespace grt
