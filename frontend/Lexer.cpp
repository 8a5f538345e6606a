//===- frontend/Lexer.cpp - splits .grad source into tokens ---------------===//
#include "frontend/Lexer.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"

#include <cctype>

namespace gradc {

llvm::StringRef tokSpelling(Tok t) {
  switch (t) {
  case Tok::Eof: return "end of file";
  case Tok::Newline: return "end of line";
  case Tok::Error: return "invalid token";
  case Tok::Ident: return "identifier";
  case Tok::Int: return "integer";
  case Tok::Float: return "number";
  case Tok::String: return "string";
  case Tok::KwModel: return "'model'";
  case Tok::KwFn: return "'fn'";
  case Tok::KwInput: return "'input'";
  case Tok::KwParam: return "'param'";
  case Tok::KwConst: return "'const'";
  case Tok::KwReturn: return "'return'";
  case Tok::KwFor: return "'for'";
  case Tok::KwIn: return "'in'";
  case Tok::KwTrain: return "'train'";
  case Tok::KwOutput: return "'output'";
  case Tok::KwMetric: return "'metric'";
  case Tok::KwData: return "'data'";
  case Tok::KwTrue: return "'true'";
  case Tok::KwFalse: return "'false'";
  case Tok::KwNone: return "'none'";
  case Tok::KwIf: return "'if'";
  case Tok::KwElse: return "'else'";
  case Tok::LParen: return "'('";
  case Tok::RParen: return "')'";
  case Tok::LBracket: return "'['";
  case Tok::RBracket: return "']'";
  case Tok::LBrace: return "'{'";
  case Tok::RBrace: return "'}'";
  case Tok::Comma: return "','";
  case Tok::Colon: return "':'";
  case Tok::Semi: return "';'";
  case Tok::Dot: return "'.'";
  case Tok::DotDot: return "'..'";
  case Tok::Assign: return "'='";
  case Tok::Plus: return "'+'";
  case Tok::Minus: return "'-'";
  case Tok::Star: return "'*'";
  case Tok::Slash: return "'/'";
  case Tok::SlashSlash: return "'//'";
  case Tok::At: return "'@'";
  case Tok::Percent: return "'%'";
  case Tok::Lt: return "'<'";
  case Tok::Le: return "'<='";
  case Tok::Gt: return "'>'";
  case Tok::Ge: return "'>='";
  case Tok::EqEq: return "'=='";
  case Tok::Ne: return "'!='";
  case Tok::Bang: return "'!'";
  case Tok::AndAnd: return "'&&'";
  case Tok::OrOr: return "'||'";
  }
  return "?";
}

void Lexer::skipSpaceAndComments() {
  while (cur < buf.end()) {
    char c = *cur;
    if (c == '#') {
      while (cur < buf.end() && *cur != '\n') ++cur;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      ++cur;
    } else if (c == '\\') {
      // An explicit line continuation: the backslash ends its line, but for
      // spaces and a CR (a CRLF file gave "unexpected character").
      const char *p = cur + 1;
      while (p < buf.end() && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
      if (p >= buf.end() || *p != '\n') break;
      cur = p + 1;
    } else {
      break;
    }
  }
}

Token Lexer::next() {
  skipSpaceAndComments();
  const char *start = cur;
  if (cur >= buf.end()) return Token{Tok::Eof, llvm::StringRef(buf.end(), 0)};
  char c = *cur++;
  if (c == '\n') return make(Tok::Newline, start);
  if (std::isalpha((unsigned char)c) || c == '_') {
    while (cur < buf.end() && (std::isalnum((unsigned char)*cur) || *cur == '_')) ++cur;
    llvm::StringRef word(start, cur - start);
    Tok k = llvm::StringSwitch<Tok>(word)
                .Case("model", Tok::KwModel)
                .Case("fn", Tok::KwFn)
                .Case("input", Tok::KwInput)
                .Case("param", Tok::KwParam)
                .Case("const", Tok::KwConst)
                .Case("return", Tok::KwReturn)
                .Case("for", Tok::KwFor)
                .Case("in", Tok::KwIn)
                .Case("train", Tok::KwTrain)
                .Case("output", Tok::KwOutput)
                .Case("metric", Tok::KwMetric)
                .Case("data", Tok::KwData)
                .Case("true", Tok::KwTrue)
                .Case("false", Tok::KwFalse)
                .Case("none", Tok::KwNone)
                .Case("if", Tok::KwIf)
                .Case("else", Tok::KwElse)
                .Default(Tok::Ident);
    return make(k, start);
  }
  if (std::isdigit((unsigned char)c) || (c == '.' && cur < buf.end() && std::isdigit((unsigned char)*cur)))
    return lexNumber(start);
  if (c == '"') return lexString(start);

  auto two = [&](char second, Tok yes, Tok no) {
    if (cur < buf.end() && *cur == second) {
      ++cur;
      return make(yes, start);
    }
    return make(no, start);
  };
  switch (c) {
  case '(': return make(Tok::LParen, start);
  case '[': return make(Tok::LBracket, start);
  case ')': return make(Tok::RParen, start);
  case ']': return make(Tok::RBracket, start);
  case '{': return make(Tok::LBrace, start);
  case '}': return make(Tok::RBrace, start);
  case ',': return make(Tok::Comma, start);
  case ':': return make(Tok::Colon, start);
  case ';': return make(Tok::Semi, start);
  case '.': return two('.', Tok::DotDot, Tok::Dot);
  case '=': return two('=', Tok::EqEq, Tok::Assign);
  case '+': return make(Tok::Plus, start);
  case '-': return make(Tok::Minus, start);
  case '*': return make(Tok::Star, start);
  case '/': return two('/', Tok::SlashSlash, Tok::Slash);
  case '@': return make(Tok::At, start);
  case '%': return make(Tok::Percent, start);
  case '<': return two('=', Tok::Le, Tok::Lt);
  case '>': return two('=', Tok::Ge, Tok::Gt);
  case '!': return two('=', Tok::Ne, Tok::Bang);
  case '&':
    if (cur < buf.end() && *cur == '&') return ++cur, make(Tok::AndAnd, start);
    break;
  case '|':
    if (cur < buf.end() && *cur == '|') return ++cur, make(Tok::OrOr, start);
    break;
  }
  if ((unsigned char)c >= 0x80) {
    // A run of them (a UTF-8 character, or binary junk) is one mistake.
    std::string bytes = "0x" + llvm::utohexstr((unsigned char)c);
    for (int shown = 1; cur < buf.end() && (unsigned char)*cur >= 0x80; ++cur)
      if (shown++ < 8) bytes += " 0x" + llvm::utohexstr((unsigned char)*cur);
    onError(llvm::SMLoc::getFromPointer(start),
            "unexpected byte" + llvm::Twine(cur - start > 1 ? "s " : " ") + bytes + (cur - start > 8 ? " ..." : "") +
                "; outside strings and comments a program is ASCII");
  } else if (!std::isprint((unsigned char)c))
    onError(llvm::SMLoc::getFromPointer(start), "unexpected byte 0x" + llvm::utohexstr((unsigned char)c));
  else
    onError(llvm::SMLoc::getFromPointer(start), llvm::Twine("unexpected character '") + llvm::Twine(c) + "'" +
                                                    (c == '^'    ? "; a power is written pow(x, y)"
                                                     : c == '\'' ? "; strings are written in double quotes"
                                                                 : ""));
  return make(Tok::Error, start);
}

Token Lexer::lexNumber(const char *start) {
  // digits [. digits] [e [+-] digits]; a '..' after digits is a range, not a
  // decimal point.
  cur = start;
  bool isFloat = false;
  while (cur < buf.end() && std::isdigit((unsigned char)*cur)) ++cur;
  if (cur < buf.end() && *cur == '.' && !(cur + 1 < buf.end() && cur[1] == '.')) {
    isFloat = true;
    ++cur;
    while (cur < buf.end() && std::isdigit((unsigned char)*cur)) ++cur;
  }
  if (cur < buf.end() && (*cur == 'e' || *cur == 'E')) {
    const char *save = cur++;
    if (cur < buf.end() && (*cur == '+' || *cur == '-')) ++cur;
    if (cur < buf.end() && std::isdigit((unsigned char)*cur)) {
      isFloat = true;
      while (cur < buf.end() && std::isdigit((unsigned char)*cur)) ++cur;
    } else {
      cur = save;
    }
  }
  if (cur < buf.end() && (std::isalpha((unsigned char)*cur) || *cur == '_')) {
    while (cur < buf.end() && (std::isalnum((unsigned char)*cur) || *cur == '_')) ++cur;
    onError(llvm::SMLoc::getFromPointer(start), llvm::Twine("malformed number '") + llvm::StringRef(start, cur - start) + "'");
    return make(Tok::Error, start);
  }
  return make(isFloat ? Tok::Float : Tok::Int, start);
}

Token Lexer::lexString(const char *start) {
  while (cur < buf.end() && *cur != '"' && *cur != '\n') {
    if (*cur == '\\' && cur + 1 < buf.end() && cur[1] != '\n') {
      // "C:\path" lost its backslash in silence: \p is no escape.
      if (!llvm::StringRef("nt\"'\\").contains(cur[1]))
        onError(llvm::SMLoc::getFromPointer(cur), llvm::Twine("unknown escape '\\") + llvm::StringRef(cur + 1, 1) +
                                                      "' in a string; the escapes are \\n, \\t, \\\", \\' and \\\\ (a backslash)");
      ++cur;
    }
    ++cur;
  }
  if (cur >= buf.end() || *cur != '"') {
    onError(llvm::SMLoc::getFromPointer(start), "unterminated string");
    return make(Tok::Error, start);
  }
  ++cur;
  return make(Tok::String, start);
}

} // namespace gradc
