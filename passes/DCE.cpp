//===- passes/DCE.cpp - dead-code elimination -----------------------------===//
//
// Removes every node no output or update depends on.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

namespace gradc {

llvm::Error runDCE(Module &m, const PassOptions &) {
  for (auto &g : m.graphs) g->removeDeadNodes();
  return llvm::Error::success();
}

} // namespace gradc
