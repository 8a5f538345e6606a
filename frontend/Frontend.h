//===- frontend/Frontend.h - from a .grad file to a module ----------------===//
#pragma once

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"
#include "frontend/Sema.h"

namespace gradc {

/// The text of frontend/Prelude.grad, compiled into the binary.
extern const char kPreludeSource[];

/// Loads one .grad file with the prelude beside it, and runs the parser and
/// semantic analysis. Diagnostics go to the DiagEngine.
class Frontend {
public:
  explicit Frontend(llvm::raw_ostream &diagOut = llvm::errs()) : diag(sm, diagOut), out(diagOut) {}

  /// Reads `path` ("-" for stdin). Reports and returns false when it cannot.
  bool loadFile(llvm::StringRef path);
  /// Uses `text` as the source, named `name` in messages.
  void loadString(llvm::StringRef text, llvm::StringRef name);

  /// Parses the user file (and the prelude); null if there were errors.
  const ast::Program *parse();
  /// parse() then semantic analysis; null if there were errors.
  std::unique_ptr<Module> analyze(const SemaOptions &opts);

  llvm::SourceMgr sm;
  DiagEngine diag;
  /// Where diagnostics go (for other readers of the same files).
  llvm::raw_ostream &diagStream() { return out; }

private:
  llvm::raw_ostream &out;
  std::unique_ptr<ast::Program> user;
  bool parsedCleanly = false; // the first parse() had no errors
  const ast::Program *prelude = nullptr; // shared by every Frontend (Frontend.cpp)
};

} // namespace gradc
