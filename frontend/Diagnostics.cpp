//===- frontend/Diagnostics.cpp - reporting mistakes in .grad files -------===//
#include "frontend/Diagnostics.h"

namespace gradc {

void DiagEngine::error(llvm::SMLoc loc, const llvm::Twine &msg, llvm::ArrayRef<llvm::SMRange> ranges) {
  ++errors;
  lastDropped = errors > kMaxErrors;
  if (errors == kMaxErrors + 1) os << "gradc: too many errors; stopping here\n";
  if (lastDropped) return;
  sm.PrintMessage(os, loc, llvm::SourceMgr::DK_Error, msg, ranges);
}

void DiagEngine::note(llvm::SMLoc loc, const llvm::Twine &msg) {
  if (lastDropped) return;
  sm.PrintMessage(os, loc, llvm::SourceMgr::DK_Note, msg);
}

void DiagEngine::error(const llvm::Twine &msg) {
  ++errors;
  os << "gradc: error: " << msg << "\n";
}

} // namespace gradc
