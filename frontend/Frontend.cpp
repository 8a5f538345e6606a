//===- frontend/Frontend.cpp - from a .grad file to a module --------------===//
#include "frontend/Frontend.h"

#include "frontend/Parser.h"

#include "llvm/Support/ErrorHandling.h"
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

/// A file whose lines end in a lone CR (classic Mac OS) read as one long
/// line: the lexer takes CR for a space, and messages counted lines by LF
/// only, quoting the wrong one. Each lone CR becomes an LF; CRLF is kept
/// (the lexer skips its CR), so locations in other files do not move.
static std::unique_ptr<llvm::MemoryBuffer> withLineFeeds(std::unique_ptr<llvm::MemoryBuffer> buf) {
  llvm::StringRef text = buf->getBuffer();
  bool loneCR = false;
  for (size_t i = 0; i < text.size() && !loneCR; ++i) loneCR = text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n');
  if (!loneCR) return buf;
  std::string fixed = text.str();
  for (size_t i = 0; i < fixed.size(); ++i)
    if (fixed[i] == '\r' && (i + 1 == fixed.size() || fixed[i + 1] != '\n')) fixed[i] = '\n';
  return llvm::MemoryBuffer::getMemBufferCopy(fixed, buf->getBufferIdentifier());
}

bool Frontend::loadFile(llvm::StringRef path) {
  auto buf = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/true);
  if (!buf) {
    diag.error(path + ": cannot read: " + buf.getError().message());
    return false;
  }
  if (llvm::StringRef((*buf)->getBufferStart(), (*buf)->getBufferSize()).contains('\0')) {
    diag.error(path + ": is not a text file (it contains NUL bytes)");
    return false;
  }
  sm.AddNewSourceBuffer(withLineFeeds(std::move(*buf)), llvm::SMLoc());
  return true;
}

void Frontend::loadString(llvm::StringRef text, llvm::StringRef name) {
  sm.AddNewSourceBuffer(withLineFeeds(llvm::MemoryBuffer::getMemBufferCopy(text, name)), llvm::SMLoc());
}

const ast::Program *Frontend::parse() {
  if (user) return user.get();
  if (sm.getNumBuffers() == 0) return nullptr;
  user = Parser(sm.getMainFileID(), diag).parseProgram();
  sm.AddNewSourceBuffer(preludeBuffer(), llvm::SMLoc());
  prelude = &parsedPrelude();
  return diag.hasErrors() ? nullptr : user.get();
}

std::unique_ptr<Module> Frontend::analyze(const SemaOptions &opts) {
  if (!parse()) return nullptr;
  return buildModule(*user, *prelude, diag, opts);
}

} // namespace gradc
