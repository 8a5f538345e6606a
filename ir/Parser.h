//===- ir/Parser.h - reads the text form of the IR back -------------------===//
//
// The inverse of ir/Printer.h: `parse(print(m))` rebuilds the module, and
// printing it again gives the same text. Errors come back as
// "file:line:col: error: ..." with the line and a caret, via SourceMgr.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include "llvm/Support/SourceMgr.h"

namespace gradc {

/// Parses the buffer `bufferId` of `sm`. Reports errors through `sm` to
/// `errs` and returns null when there were any. The module is verified.
/// `stages` lists the names its `after` line may give (the pipeline's steps,
/// which the IR does not know); empty: any name.
std::unique_ptr<Module> parseModule(llvm::SourceMgr &sm, unsigned bufferId, llvm::raw_ostream &errs,
                                    llvm::ArrayRef<llvm::StringRef> stages = {});

/// Convenience: parse `text` named `name`.
std::unique_ptr<Module> parseModule(llvm::StringRef text, llvm::StringRef name, llvm::raw_ostream &errs,
                                    llvm::ArrayRef<llvm::StringRef> stages = {});

} // namespace gradc
