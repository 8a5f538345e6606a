//===- frontend/Token.h - tokens of the .grad language --------------------===//
#pragma once

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

namespace gradc {

enum class Tok : uint8_t {
  Eof, Newline, Error,
  Ident, Int, Float, String,
  // keywords
  KwModel, KwFn, KwInput, KwParam, KwConst, KwReturn, KwFor, KwIn, KwTrain,
  KwOutput, KwMetric, KwData, KwTrue, KwFalse, KwNone, KwIf, KwElse,
  // punctuation
  LParen, RParen, LBracket, RBracket, LBrace, RBrace,
  Comma, Colon, Semi, Dot, DotDot, Assign,
  Plus, Minus, Star, Slash, SlashSlash, At, Percent,
  Lt, Le, Gt, Ge, EqEq, Ne, Bang, AndAnd, OrOr,
};

llvm::StringRef tokSpelling(Tok t);

struct Token {
  Tok kind = Tok::Eof;
  llvm::StringRef text; // points into the source buffer
  llvm::SMLoc loc() const { return llvm::SMLoc::getFromPointer(text.data()); }
  llvm::SMLoc endLoc() const { return llvm::SMLoc::getFromPointer(text.data() + text.size()); }
  bool is(Tok k) const { return kind == k; }
};

} // namespace gradc
