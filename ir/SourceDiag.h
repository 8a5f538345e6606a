//===- ir/SourceDiag.h - a message at a place in a source, caret included -===//
//
// Every message about a source file (.grad or .gir) goes through here:
//
//   model.grad:4:13: error: shape mismatch in '@': f32[4,2] @ f32[3,2]
//     h = x @ w @ w   # poids é
//               ^
//
// llvm::SourceMgr::PrintMessage leaves out the caret and underline on a
// line with any byte outside ASCII (its columns count bytes, a terminal
// counts characters), so one accented letter in a comment took them away.
// Here the columns count UTF-8 characters, and the caret stays.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace gradc {

/// `msg` as a message shows it: control characters, characters a terminal
/// draws in no column, and bytes that are no UTF-8 escaped (\x1b,
/// \u{202e}); line breaks and tabs kept. printMessage applies it.
std::string shownMessage(llvm::StringRef msg);
/// A value from outside (a path, a -D value) as a message quotes it: as
/// shownMessage, and line breaks and tabs escaped too (\n, \t), so that a
/// corpus path holding a newline does not split the message.
std::string shownValue(llvm::StringRef value);

void printMessage(const llvm::SourceMgr &sm, llvm::raw_ostream &os, llvm::SMLoc loc, llvm::SourceMgr::DiagKind kind,
                  const llvm::Twine &msg, llvm::ArrayRef<llvm::SMRange> ranges = {});

} // namespace gradc
