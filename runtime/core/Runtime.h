//===- runtime/core/Runtime.h - shared pieces of the gradrt runtime -------===//
//
// The runtime is linked into every model executable. It knows nothing of the
// compiler: only the descriptor in gradrt/abi.h. Everything here is plain
// C++ with no LLVM.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "gradrt/abi.h"

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace grt {

/// Prints "error: MESSAGE" on one line and exits with status 1. Every bad
/// flag, file or checkpoint ends here: no stack traces.
[[noreturn]] void fatal(std::string_view msg);
/// Opens /dev/null on standard input, output and error where they are
/// closed (`./model train >&- 2>&-`): otherwise the next file opened takes
/// their number, and messages meant for stderr were written into it (the
/// lock file, the checkpoint being saved, which then failed its checksum).
/// The executables and gradc call it first thing.
void reopenClosedStdFds();
/// Where fatal() writes, and a tag before "error:" ("rank 1: " for a
/// process of a data-parallel run whose other output is silenced).
void setErrorOutput(FILE *stream, std::string tag);
/// A string from a user's file as a message shows it: control bytes, and
/// bytes that are not UTF-8, as escapes (\n, \t, \x1b, \xff), so that a
/// message stays one line, readable, and cannot drive the terminal, and at
/// most `limit` bytes, then how long it was.
std::string shown(std::string_view untrusted, size_t limit = 40);
/// Appends what `in` holds to `out`, in chunks, until its end or until
/// `out` holds more than `limit` bytes; false on a read error (errno says
/// which, where the library set it). `ss << in.rdbuf()` instead sets no
/// error on `in`: a read error looked like an empty file.
bool readStream(std::istream &in, std::string &out, size_t limit);
/// What fatal() throws instead of exiting after setFatalThrows(true): the
/// file-reader fuzzer (tests/fuzz/FuzzFiles.cpp) feeds one process
/// millions of bad files, and checks each refusal's message.
struct FatalError {
  std::string message;
};
void setFatalThrows(bool on);
template <typename... Args> [[noreturn]] void fail(fmt::format_string<Args...> f, Args &&...args) {
  fatal(fmt::format(f, std::forward<Args>(args)...));
}

/// PCG32 (O'Neill 2014): small, fast, and its whole state is two integers,
/// so checkpoints can carry it and a resumed run draws the same numbers.
class Rng {
public:
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0);
  uint32_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  /// Standard normal (Box-Muller; uses two uniforms per draw).
  double normal();
  /// Uniform integer in [0, n).
  uint64_t below(uint64_t n);

  std::string save() const;
  bool restore(std::string_view text);

private:
  uint64_t state = 0, inc = 1;
};

/// Stable 64-bit hash of a string (FNV-1a), to derive per-tensor streams.
uint64_t hashName(std::string_view s);

/// A 64-bit checksum of a file's bytes, fed in pieces of any size (the
/// result does not depend on where they are cut): checkpoints carry one.
/// FNV-1a, a byte at a time, checks the token cache, but runs at a few
/// hundred MB/s, a second or more for a checkpoint of hundreds of MB; this
/// takes the bytes as four interleaved lanes of 8-byte words, each
/// lane = (lane ^ word) * K, lane ^= lane >> 29 (both steps invertible, so
/// any change to one word changes the result), at memory speed.
class Checksum {
public:
  void add(std::string_view bytes);
  uint64_t value() const;

private:
  void blocks(const unsigned char *p, size_t n); // whole blocks of 32 bytes: a word for each lane
  uint64_t lanes[4] = {1, 2, 3, 4};
  unsigned char pending[32];
  size_t numPending = 0;
  uint64_t total = 0;
};

size_t dtypeBytes(int dtype);
const char *dtypeName(int dtype);
int64_t numel(const GrtTensor &t);
std::string shapeStr(const GrtTensor &t);
std::vector<std::string> splitList(std::string_view commaSeparated);

/// Zeroed memory, 64-byte aligned, released with freeBuffer. Buffers of
/// 1 MiB or more are 2 MiB aligned and advised as transparent huge pages
/// where Linux allows it: one TLB entry then maps what would take 512, and
/// the GEMM's packed blocks and the arena are read in strides that would
/// otherwise miss the TLB. Fails with a message when memory runs out, or
/// when the buffers held would add up to more than the machine's memory
/// (the kernel may grant more, and then kill the process as it is zeroed).
void *allocateBuffer(size_t bytes);
/// Releases what allocateBuffer(bytes) returned (null is fine).
void freeBuffer(void *p, size_t bytes);
/// The memory this process may use, in bytes: the machine's physical
/// memory, or the process's limit (RLIMIT_AS) when that is lower; 0 if
/// unknown.
double machineMemory();
/// That memory in words: "this machine has 23.5 GiB", or "this process
/// may use 6.0 GiB (its limit, ulimit -v)".
std::string memoryText();
/// A size in words: "1.5 GiB", or "381.5 MiB" below a GiB (0.0 GiB said
/// nothing of 1 MiB).
std::string sizeText(double bytes);
/// Fails, naming `what`, when `bytes` more than the buffers held now would
/// not fit in the machine's memory: checked before allocating many.
void checkMemory(size_t bytes, const char *what);

class ThreadPool;
class Profile;
class FiniteCheck;

} // namespace grt

/// The runtime side of GrtContext (opaque to generated code).
struct GrtContext {
  grt::Rng rng;
  grt::ThreadPool *pool = nullptr;
  grt::Profile *profile = nullptr;     // set by train --profile
  grt::FiniteCheck *finite = nullptr;  // set by train --check-finite
  // Called after each kernel when set (data-parallel training averages
  // gradients as the kernels that finish them end).
  void (*kernelHook)(void *data, int32_t kernel) = nullptr;
  void *kernelHookData = nullptr;
};
