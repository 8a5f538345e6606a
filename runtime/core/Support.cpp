//===- runtime/core/Support.cpp - errors, random numbers, small helpers ---===//
#include "core/Runtime.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <cmath>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <istream>
#include <sys/resource.h>
#include <fcntl.h>
#include <unistd.h>

#ifdef __linux__
#include <sys/mman.h>
#include <vector>
#endif

namespace grt {

namespace {
FILE *errorStream = nullptr; // null: stderr
std::string errorTag;
bool fatalThrows = false;
} // namespace

void fatal(std::string_view msg) {
  if (fatalThrows) throw FatalError{std::string(msg)};
  // One line, whatever a path or name in it holds: `--data $'a\nb\e[31m'`
  // split the message and drove the terminal. Each line is shown() as a
  // file's text is; a message's own continuation lines (the ranks of a
  // data-parallel run that differ) start with two spaces.
  std::string lines;
  for (size_t from = 0;;) {
    size_t at = msg.find("\n  ", from);
    lines += shown(msg.substr(from, at == std::string_view::npos ? at : at - from), std::string_view::npos);
    if (at == std::string_view::npos) break;
    lines += '\n';
    from = at + 1;
  }
  std::fflush(stdout);
  std::fprintf(errorStream ? errorStream : stderr, "%serror: %s\n", errorTag.c_str(), lines.c_str());
  std::exit(1);
}

void setFatalThrows(bool on) { fatalThrows = on; }

bool readStream(std::istream &in, std::string &out, size_t limit) {
  // On the heap: 64 KiB on the stack crashed a run under ulimit -s 64.
  std::vector<char> chunk(size_t(1) << 16);
  while (out.size() <= limit && (in.read(chunk.data(), std::streamsize(chunk.size())) || in.gcount() > 0))
    out.append(chunk.data(), size_t(in.gcount()));
  return !in.bad();
}

/// How many bytes the UTF-8 sequence at the start of `s` takes, or 0 when
/// it is not one (a stray continuation byte, an overlong form, a surrogate,
/// past U+10FFFF, or cut short).
static size_t utf8Length(std::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(0);
  size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n == 0 || n > s.size()) return 0;
  for (size_t i = 1; i < n; ++i)
    if ((b(i) & 0xc0) != 0x80) return 0;
  if ((c == 0xe0 && b(1) < 0xa0) || (c == 0xed && b(1) > 0x9f) || (c == 0xf0 && b(1) < 0x90) || (c == 0xf4 && b(1) > 0x8f))
    return 0;
  return n;
}

/// The code point of a valid UTF-8 sequence of n bytes.
static uint32_t codePointOf(std::string_view s, size_t n) {
  auto c = static_cast<unsigned char>(s[0]);
  uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
  for (size_t i = 1; i < n; ++i) cp = cp << 6 | (static_cast<unsigned char>(s[i]) & 0x3f);
  return cp;
}

/// A character a terminal draws in no column, or that changes how the
/// rest of the line is drawn: C1 controls, zero-width characters and
/// joiners, bidirectional overrides and isolates, line and paragraph
/// separators, the byte-order mark. A tensor name holding U+202E reversed
/// the rest of the refusal as shown.
static bool invisible(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

std::string shown(std::string_view untrusted, size_t limit) {
  std::string out;
  std::string_view s = untrusted.substr(0, limit);
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = utf8Length(s.substr(i));
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7f || n == 0) out += fmt::format("\\x{:02x}", int(c));
    else if (n > 1 && invisible(codePointOf(s.substr(i), n))) out += fmt::format("\\u{{{:04x}}}", codePointOf(s.substr(i), n));
    else out.append(s.substr(i, n)); // a character, ASCII or UTF-8
    i += n == 0 ? 1 : n;
  }
  if (untrusted.size() > limit) out += fmt::format("... ({} characters)", untrusted.size());
  return out;
}

void setErrorOutput(FILE *stream, std::string tag) {
  errorStream = stream;
  errorTag = std::move(tag);
}

Rng::Rng(uint64_t seed, uint64_t stream) {
  inc = (stream << 1u) | 1u;
  state = 0;
  next();
  state += seed;
  next();
}

uint32_t Rng::next() {
  uint64_t old = state;
  state = old * 6364136223846793005ULL + inc;
  uint32_t xorshifted = uint32_t(((old >> 18u) ^ old) >> 27u);
  uint32_t rot = uint32_t(old >> 59u);
  return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

double Rng::uniform() {
  uint64_t hi = next() >> 5, lo = next() >> 6; // 27 + 26 = 53 bits
  return double(hi * 67108864ULL + lo) * (1.0 / 9007199254740992.0);
}

double Rng::normal() {
  double u1 = uniform(), u2 = uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

uint64_t Rng::below(uint64_t n) {
  // Lemire's nearly-divisionless method would be faster; this is simple and unbiased.
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  while (true) {
    uint64_t x = (uint64_t(next()) << 32) | next();
    if (x < limit) return x % n;
  }
}

std::string Rng::save() const { return fmt::format("{:016x}:{:016x}", state, inc); }

bool Rng::restore(std::string_view text) {
  // Parsed in place: "%016x:%016x", exactly as save() writes it.
  auto hex = [](std::string_view digits, uint64_t &out) {
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out, 16);
    return ec == std::errc() && end == digits.data() + digits.size();
  };
  uint64_t st, in;
  if (text.size() != 33 || text[16] != ':' || !hex(text.substr(0, 16), st) || !hex(text.substr(17), in) || !(in & 1))
    return false;
  state = st;
  inc = in;
  return true;
}

uint64_t hashName(std::string_view s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

namespace {
constexpr uint64_t kChecksumK = 0x9E3779B97F4A7C15ULL; // odd: the multiply is invertible

/// One lane's step on the little-endian word at `p` (read whole: a loop
/// over its bytes was not merged into one load, and ran at a third of the speed).
inline uint64_t lane(uint64_t l, const unsigned char *p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
  l = (l ^ w) * kChecksumK;
  return l ^ (l >> 29);
}
} // namespace

void Checksum::blocks(const unsigned char *p, size_t n) {
  // The lanes in locals: four independent chains the CPU runs side by side.
  uint64_t a = lanes[0], b = lanes[1], c = lanes[2], d = lanes[3];
  for (; n >= 32; p += 32, n -= 32) {
    a = lane(a, p);
    b = lane(b, p + 8);
    c = lane(c, p + 16);
    d = lane(d, p + 24);
  }
  lanes[0] = a, lanes[1] = b, lanes[2] = c, lanes[3] = d;
}

void Checksum::add(std::string_view bytes) {
  auto *p = reinterpret_cast<const unsigned char *>(bytes.data());
  size_t n = bytes.size();
  total += n;
  if (numPending > 0) {
    size_t take = std::min(n, sizeof pending - numPending);
    std::memcpy(pending + numPending, p, take);
    numPending += take;
    p += take;
    n -= take;
    if (numPending < sizeof pending) return;
    blocks(pending, sizeof pending);
    numPending = 0;
  }
  size_t whole = n / 32 * 32;
  blocks(p, whole);
  std::memcpy(pending, p + whole, n - whole);
  numPending = n - whole;
}

uint64_t Checksum::value() const {
  // The lanes, then the bytes short of a block, then the length.
  uint64_t h = 0;
  for (uint64_t l : lanes) {
    h = (h ^ l) * kChecksumK;
    h ^= h >> 29;
  }
  for (size_t i = 0; i < numPending; ++i) h = (h ^ pending[i]) * 1099511628211ULL;
  h = (h ^ total) * kChecksumK;
  return h ^ (h >> 32);
}

size_t dtypeBytes(int dtype) {
  switch (dtype) {
  case GRT_F32: return 4;
  case GRT_F64: return 8;
  case GRT_I32: return 4;
  case GRT_BOOL: return 1;
  }
  return 0;
}

const char *dtypeName(int dtype) {
  switch (dtype) {
  case GRT_F32: return "f32";
  case GRT_F64: return "f64";
  case GRT_I32: return "i32";
  case GRT_BOOL: return "bool";
  }
  return "?";
}

namespace {
constexpr size_t kHuge = size_t(2) << 20;
size_t alignFor(size_t bytes) { return bytes >= kHuge / 2 ? kHuge : 64; }
size_t rounded(size_t bytes) {
  size_t align = alignFor(bytes);
  return (std::max<size_t>(bytes, 1) + align - 1) / align * align;
}
// What the buffers held now add up to.
std::atomic<double> held{0};
} // namespace

double machineMemory() {
  // A limit set on the process (ulimit -v, prlimit --as, a batch system)
  // is its memory: past it an allocation fails with a bare "out of memory",
  // where the checks below name what did not fit.
  double physical = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  struct rlimit limit;
  if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      (physical <= 0 || double(limit.rlim_cur) < physical))
    return double(limit.rlim_cur);
  return physical;
}

std::string sizeText(double bytes) {
  return bytes >= double(1 << 30) ? fmt::format("{:.1f} GiB", bytes / (1 << 30)) : fmt::format("{:.1f} MiB", bytes / (1 << 20));
}

std::string memoryText() {
  double physical = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE)), memory = machineMemory();
  if (memory < physical)
    return fmt::format("this process may use {} (its limit, ulimit -v)", sizeText(memory));
  return fmt::format("this machine has {}", sizeText(memory));
}

void *allocateBuffer(size_t bytes) {
  size_t size = rounded(bytes), align = alignFor(bytes);
  // More than the machine's memory may still be granted (overcommit), and
  // the zeroing below then ends in the kernel's OOM kill, not a message.
  double memory = machineMemory();
  double total = held.fetch_add(double(size)) + double(size);
  void *p = memory > 0 && total > memory ? nullptr : std::aligned_alloc(align, size);
  if (!p) {
    held.fetch_sub(double(size));
    fail("out of memory allocating {} bytes ({}, {} in all; {})", bytes, sizeText(double(bytes)), sizeText(total),
         memoryText());
  }
#ifdef MADV_HUGEPAGE
  if (align == kHuge) madvise(p, size, MADV_HUGEPAGE); // advice only: failure is harmless
#endif
  std::memset(p, 0, size);
  return p;
}

void checkMemory(size_t bytes, const char *what) {
  double memory = machineMemory();
  double total = held.load() + double(bytes);
  if (memory > 0 && total > memory)
    fail("out of memory: {} need {} bytes ({}, {} in all); {}", what, bytes, sizeText(double(bytes)), sizeText(total),
         memoryText());
}

void freeBuffer(void *p, size_t bytes) {
  if (!p) return;
  held.fetch_sub(double(rounded(bytes)));
  std::free(p);
}

int64_t numel(const GrtTensor &t) {
  int64_t n = 1;
  for (int i = 0; i < t.rank; ++i) n *= t.dims[i];
  return n;
}

std::string shapeStr(const GrtTensor &t) {
  std::string s = "[";
  for (int i = 0; i < t.rank; ++i) s += (i ? "," : "") + std::to_string(t.dims[i]);
  return s + "]";
}

std::vector<std::string> splitList(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    if (comma > start) out.emplace_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

void reopenClosedStdFds() {
  for (int fd = 0; fd <= 2; ++fd)
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
      int got = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
      if (got >= 0 && got != fd) {
        dup2(got, fd);
        close(got);
      }
    }
}

} // namespace grt
