//===- frontend/Frontend.cpp - from a .grad file to a module --------------===//
#include "frontend/Frontend.h"

#include "frontend/Parser.h"

#include "llvm/Support/MemoryBuffer.h"

namespace gradc {

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
  sm.AddNewSourceBuffer(std::move(*buf), llvm::SMLoc());
  return true;
}

void Frontend::loadString(llvm::StringRef text, llvm::StringRef name) {
  sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, name), llvm::SMLoc());
}

const ast::Program *Frontend::parse() {
  if (user) return user.get();
  if (sm.getNumBuffers() == 0) return nullptr;
  user = Parser(sm.getMainFileID(), diag).parseProgram();
  unsigned preludeId = sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBuffer(kPreludeSource, "<prelude>"), llvm::SMLoc());
  prelude = Parser(preludeId, diag).parseProgram();
  return diag.hasErrors() ? nullptr : user.get();
}

std::unique_ptr<Module> Frontend::analyze(const SemaOptions &opts) {
  if (!parse()) return nullptr;
  return buildModule(*user, *prelude, diag, opts);
}

} // namespace gradc
