//===- frontend/SemaDefines.cpp - the values of -D NAME=TEXT -------------===//
//
// `gradc build -D n_layer=6` overrides a constant of the file. The text is
// read with the language's own lexer and parser, so a value is written as
// in the source; what is no expression of known names is a string (a
// word, a path, my-run), and an expression with a name nothing defines is
// a typo, reported in the -D text rather than at a distant use.
//
//===----------------------------------------------------------------------===//
#include "frontend/Lexer.h"
#include "frontend/Parser.h"
#include "frontend/SemaImpl.h"

#include "llvm/ADT/StringExtras.h"

#include <optional>

namespace gradc {

using namespace ast;

/// Whether a -D value reads as a file path: it has a '/', starts with '~',
/// or is a file name with an extension (x.txt, 3.txt; not 1.5e3 or 1.e-2,
/// which are numbers). Asked only of text with a name nothing defines, or
/// that does not parse: D/2 is a division.
static bool looksLikePath(llvm::StringRef text) {
  if (text.starts_with("\"")) return false; // a string in quotes, read as the language reads one
  if (text.contains('/') || text.starts_with("~")) return true;
  if (double v; !text.getAsDouble(v)) return false;
  auto [stem, ext] = text.rsplit('.');
  if (ext.empty() || stem.empty() || ext.size() == text.size() || !llvm::isAlpha(ext.front())) return false;
  auto fileChar = [](char c) { return llvm::isAlnum(c) || c == '_' || c == '-' || c == '.'; };
  return llvm::all_of(text, fileChar);
}

/// The value of an expression given with -D: as the source would
/// evaluate it, except that a name the program does not know makes a
/// string (-D mode=fast, -D names=[a, b]), and so does a path
/// (data/a-b.txt) or words joined by '-' (my-run). Any other expression
/// with a name nothing defines is a typo (-D B=A2*2), reported here, not
/// as the string "A2*2" that a use far away then complained of.
static Value evalDefine(SemaImpl &s, const Expr &e) {
  if (auto *n = llvm::dyn_cast<NameExpr>(&e))
    return s.knownName(n->name) ? s.lookup(n->name, {}) : Value::string(n->name, e.range);
  if (auto *l = llvm::dyn_cast<ListExpr>(&e)) {
    std::vector<Value> items;
    for (auto &item : l->items) {
      items.push_back(evalDefine(s, *item));
      if (items.back().isError()) return Value::error();
    }
    return Value::makeList(std::move(items), e.range);
  }
  llvm::StringRef text(e.range.Start.getPointer(), e.range.End.getPointer() - e.range.Start.getPointer());
  // One pass over the tokens finds the first name nothing defines (a
  // keyword argument's name, normal(std = 0.05), names no value) and
  // whether the text is unknown words and dashes only: my-run (a number
  // or known name among them makes it arithmetic: A2-1 is a typo).
  bool dashedWords = true;
  std::optional<llvm::StringRef> unknown;
  Lexer lex(text, [](llvm::SMLoc, const llvm::Twine &) {});
  for (Token t = lex.next(); !t.is(Tok::Eof); t = lex.next()) {
    bool known = t.is(Tok::Ident) && s.knownName(t.text);
    dashedWords = dashedWords && (t.is(Tok::Minus) || (t.is(Tok::Ident) && !known));
    if (t.is(Tok::Ident) && !known && !lex.peek().is(Tok::Assign) && !unknown) unknown = t.text;
  }
  if (!unknown) return s.eval(e);
  if (looksLikePath(text) || (dashedWords && !text.starts_with("-") && !text.ends_with("-")))
    return Value::string(text.str(), e.range);
  NearMiss near(*unknown);
  for (auto &g : s.globals) near.consider(g.first());
  std::string hint = near.hint();
  llvm::SMLoc at = llvm::SMLoc::getFromPointer(unknown->data());
  return s.error(at, "'" + *unknown + "' is not a constant above this one, a function or a builtin" +
                         (hint.empty() ? "" : "; " + hint),
                 {llvm::SMRange(at, llvm::SMLoc::getFromPointer(unknown->end()))});
}

/// The value of `-D NAME=TEXT`, read with the language's own lexer and
/// parser, so it is written as in the source: numbers (64-bit integers),
/// true, false and none, strings in quotes, lists (nested), arithmetic on
/// constants, and names of functions or initialisers (-D act=relu). A word
/// the program does not know, or a path, is a string.
Value SemaImpl::parseDefine(llvm::StringRef text, llvm::StringRef name) {
  SemaImpl &s = *this;
  text = text.trim();
  auto &sm = s.diag.sourceMgr();
  auto parse = [&](DiagEngine &diag) {
    unsigned id = sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "-D " + name.str()), llvm::SMLoc());
    s.defineBuffers.push_back(id);
    return Parser(id, diag).parseValue();
  };
  // First quietly: text that is no expression and has no operator or
  // bracket in it (`hello world`) reads as a string; `A*` and `=3` (from
  // -D B==3) are mistakes, reported.
  DiagEngine quiet(sm, llvm::nulls());
  ExprPtr e = parse(quiet);
  if (!e || quiet.hasErrors()) {
    // A path: ./x.txt and 3.txt were refused as an expression and a number.
    if (looksLikePath(text)) return Value::string(text.str());
    bool looksLikeValue = !text.empty() && (llvm::isDigit(text.front()) || llvm::StringRef("[\"-+.(").contains(text.front()) ||
                                            text.find_first_of("=*/%()[]<>!&|,^") != llvm::StringRef::npos);
    if (!looksLikeValue) return Value::string(text.str());
    parse(s.diag); // again, to report why
    if (!s.diag.hasErrors()) s.diag.error("-D " + name + "=" + text + ": not a value");
    return Value::error();
  }
  s.frames.emplace_back();
  Value v = evalDefine(s, *e);
  s.frames.pop_back();
  return v;
}

} // namespace gradc
