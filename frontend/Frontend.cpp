//===- frontend/Frontend.cpp - from a .grad file to a module --------------===//
#include "frontend/Frontend.h"

#include "frontend/Parser.h"
#include "ir/SourceDiag.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

namespace gradc {

/// The prelude as a buffer over the constant text, not a copy: every
/// location in its syntax tree points into kPreludeSource itself.
static std::unique_ptr<llvm::MemoryBuffer> preludeBuffer() {
  return llvm::MemoryBuffer::getMemBuffer(kPreludeSource, "<prelude>", /*RequiresNullTerminator=*/true);
}

/// The prelude's syntax tree, parsed once per process. Its text is a
/// constant and the tree is never changed, so every Frontend can share it;
/// each registers the same (uncopied) text in its own SourceMgr, so its
/// messages still quote prelude lines. Parsing it took most of a small
/// model's front end (and ~1 ms of each fuzzer input under ASan).
static const ast::Program &parsedPrelude() {
  static const std::unique_ptr<ast::Program> tree = [] {
    llvm::SourceMgr sm;
    DiagEngine diag(sm, llvm::errs());
    unsigned id = sm.AddNewSourceBuffer(preludeBuffer(), llvm::SMLoc());
    std::unique_ptr<ast::Program> p = Parser(id, diag).parseProgram();
    if (diag.hasErrors()) llvm::report_fatal_error("the built-in prelude does not parse");
    return p;
  }();
  return *tree;
}

/// The source as the lexer and the messages read it.
/// - A file whose lines end in a lone CR (classic Mac OS) read as one long
///   line: the lexer takes CR for a space, and messages counted lines by LF
///   only, quoting the wrong one. Each lone CR becomes an LF; CRLF is kept
///   (the lexer skips its CR), so locations in other files do not move.
/// - A UTF-8 byte order mark (Windows editors write one) is dropped: it was
///   column 1 of line 1, so every message there pointed one column right,
///   and quoted the mark's bytes.
static std::unique_ptr<llvm::MemoryBuffer> withLineFeeds(std::unique_ptr<llvm::MemoryBuffer> buf) {
  llvm::StringRef text = buf->getBuffer();
  bool bom = text.starts_with("\xEF\xBB\xBF");
  bool loneCR = false;
  for (size_t i = 0; i < text.size() && !loneCR; ++i) loneCR = text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n');
  if (!loneCR && !bom) return buf;
  std::string fixed = text.drop_front(bom ? 3 : 0).str();
  for (size_t i = 0; i < fixed.size(); ++i)
    if (fixed[i] == '\r' && (i + 1 == fixed.size() || fixed[i + 1] != '\n')) fixed[i] = '\n';
  return llvm::MemoryBuffer::getMemBufferCopy(fixed, buf->getBufferIdentifier());
}

/// The most bytes a model file may have: far beyond any model (the 50,000
/// line stress test is 1 MiB), and short of what would exhaust memory.
/// /dev/zero as a model file read until LLVM aborted, out of memory.
constexpr uint64_t kMaxModelBytes = uint64_t(256) << 20;
const char *const kMaxModelSize = "256 MiB";

/// A pipe or standard input, up to one byte past the limit: its size is
/// not known until it ends, if it ends.
static llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> readPipe(llvm::StringRef path) {
  llvm::sys::fs::file_t in = llvm::sys::fs::getStdinHandle();
  if (path != "-") {
    llvm::Expected<llvm::sys::fs::file_t> opened = llvm::sys::fs::openNativeFileForRead(path);
    if (!opened) return llvm::errorToErrorCode(opened.takeError());
    in = *opened;
  }
  llvm::SmallString<0> bytes;
  char chunk[1 << 16];
  std::error_code err;
  while (bytes.size() <= kMaxModelBytes) {
    llvm::Expected<size_t> n = llvm::sys::fs::readNativeFile(in, chunk);
    if (!n) {
      err = llvm::errorToErrorCode(n.takeError());
      break;
    }
    if (*n == 0) break;
    bytes.append(chunk, chunk + *n);
  }
  if (path != "-") llvm::sys::fs::closeFile(in);
  if (err) return err;
  return llvm::MemoryBuffer::getMemBufferCopy(bytes, path == "-" ? "<stdin>" : path);
}

bool Frontend::loadFile(llvm::StringRef path) {
  // A model is a file, a pipe or standard input ("-"). A device such as
  // /dev/zero never ends.
  llvm::sys::fs::file_status st;
  bool known = path != "-" && !llvm::sys::fs::status(path, st);
  if (known && !llvm::sys::fs::is_regular_file(st) && !llvm::sys::fs::is_directory(st) &&
      st.type() != llvm::sys::fs::file_type::fifo_file) {
    diag.error(path + ": cannot read: not a regular file");
    return false;
  }
  bool piped = path == "-" || (known && st.type() == llvm::sys::fs::file_type::fifo_file);
  // A named pipe with no writer blocked the build with no word, as the
  // executables say of theirs (a process substitution's /dev/fd/N is
  // written at once, and goes unremarked).
  if (piped && path != "-" && !path.starts_with("/dev/fd/") && !path.starts_with("/proc/self/fd/"))
    diag.remark(shownValue(path) + " is a named pipe: reading waits until something writes to it");
  if (known && !piped && st.getSize() > kMaxModelBytes) {
    diag.error(path + ": is too large for a model file (more than " + kMaxModelSize + ")");
    return false;
  }
  auto buf = piped ? readPipe(path) : llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf) {
    diag.error(path + ": cannot read: " + buf.getError().message());
    return false;
  }
  if ((*buf)->getBufferSize() > kMaxModelBytes) {
    diag.error(path + ": is too large for a model file (more than " + kMaxModelSize + ")");
    return false;
  }
  if (llvm::StringRef text((*buf)->getBufferStart(), (*buf)->getBufferSize()); text.contains('\0')) {
    // Where: a stray NUL in a text file can be found and removed.
    llvm::StringRef before = text.take_front(text.find('\0'));
    size_t line = before.count('\n') + 1, col = before.size() - (before.rfind('\n') + 1) + 1;
    diag.error(path + ":" + std::to_string(line) + ":" + std::to_string(col) +
               ": is not a text file (it contains NUL bytes, the first here)");
    return false;
  }
  sm.AddNewSourceBuffer(withLineFeeds(std::move(*buf)), llvm::SMLoc());
  return true;
}

void Frontend::loadString(llvm::StringRef text, llvm::StringRef name) {
  sm.AddNewSourceBuffer(withLineFeeds(llvm::MemoryBuffer::getMemBufferCopy(text, name)), llvm::SMLoc());
}

const ast::Program *Frontend::parse() {
  // A second call answers as the first: a tree with syntax errors is not
  // analysed (fuzz_grad's analyze after a failed parse got it).
  if (user) return parsedCleanly ? user.get() : nullptr;
  if (sm.getNumBuffers() == 0) return nullptr;
  user = Parser(sm.getMainFileID(), diag).parseProgram();
  sm.AddNewSourceBuffer(preludeBuffer(), llvm::SMLoc());
  prelude = &parsedPrelude();
  parsedCleanly = !diag.hasErrors();
  return parsedCleanly ? user.get() : nullptr;
}

std::unique_ptr<Module> Frontend::analyze(const SemaOptions &opts) {
  if (!parse()) return nullptr;
  return buildModule(*user, *prelude, diag, opts);
}

} // namespace gradc
