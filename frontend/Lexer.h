//===- frontend/Lexer.h - splits .grad source into tokens -----------------===//
//
// Every newline is a token; the parser ignores the ones inside () and []
// so long calls and shapes can span lines. `#` starts a comment.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "frontend/Token.h"

#include "llvm/ADT/Twine.h"

#include <functional>

namespace gradc {

class Lexer {
public:
  /// `onError` receives lexical errors (a stray character, an unterminated
  /// string); the lexer then returns a Tok::Error token and carries on.
  /// A UTF-8 byte-order mark at the start (some editors write one) is
  /// skipped, as the runtime's CSV reader skips it.
  Lexer(llvm::StringRef buffer, std::function<void(llvm::SMLoc, const llvm::Twine &)> onError)
      : buf(buffer), cur(buffer.begin() + (buffer.starts_with("\xEF\xBB\xBF") ? 3 : 0)), onError(std::move(onError)) {}

  Token next();
  /// The token after the current one, leaving the lexer where it is (a
  /// lexical error there is said when it is really lexed, not twice).
  Token peek() const {
    Lexer ahead(*this);
    ahead.onError = [](llvm::SMLoc, const llvm::Twine &) {};
    return ahead.next();
  }

private:
  Token make(Tok k, const char *start) { return Token{k, llvm::StringRef(start, cur - start)}; }
  Token lexNumber(const char *start);
  Token lexString(const char *start);
  void skipSpaceAndComments();

  llvm::StringRef buf;
  const char *cur;
  std::function<void(llvm::SMLoc, const llvm::Twine &)> onError;
};

} // namespace gradc
