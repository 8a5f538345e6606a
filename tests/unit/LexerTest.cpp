//===- tests/unit/LexerTest.cpp - tokens of the .grad language ------------===//
#include "frontend/Lexer.h"

#include <gtest/gtest.h>

using namespace gradc;

namespace {

struct Lexed {
  std::vector<Token> toks;
  std::vector<std::string> errors;
};

Lexed lex(llvm::StringRef text) {
  Lexed out;
  Lexer l(text, [&](llvm::SMLoc, const llvm::Twine &m) { out.errors.push_back(m.str()); });
  for (Token t = l.next(); !t.is(Tok::Eof); t = l.next()) out.toks.push_back(t);
  return out;
}

std::vector<Tok> kinds(const Lexed &l) {
  std::vector<Tok> k;
  for (auto &t : l.toks) k.push_back(t.kind);
  return k;
}

TEST(Lexer, KeywordsIdentifiersAndPunctuation) {
  auto l = lex("model m { param w: f32[2, 3] = zeros }");
  EXPECT_EQ(kinds(l), (std::vector<Tok>{Tok::KwModel, Tok::Ident, Tok::LBrace, Tok::KwParam, Tok::Ident, Tok::Colon,
                                        Tok::Ident, Tok::LBracket, Tok::Int, Tok::Comma, Tok::Int, Tok::RBracket,
                                        Tok::Assign, Tok::Ident, Tok::RBrace}));
  EXPECT_TRUE(l.errors.empty());
}

TEST(Lexer, NumbersAndRanges) {
  auto l = lex("1 2.5 1e-3 .5 3E+2 0..10");
  EXPECT_EQ(kinds(l), (std::vector<Tok>{Tok::Int, Tok::Float, Tok::Float, Tok::Float, Tok::Float, Tok::Int, Tok::DotDot, Tok::Int}));
  EXPECT_EQ(l.toks[2].text, "1e-3");
  EXPECT_EQ(l.toks[5].text, "0");
}

TEST(Lexer, OperatorsOfTwoCharacters) {
  auto l = lex("a <= b >= c == d != e && f || !g");
  EXPECT_EQ(kinds(l), (std::vector<Tok>{Tok::Ident, Tok::Le, Tok::Ident, Tok::Ge, Tok::Ident, Tok::EqEq, Tok::Ident,
                                        Tok::Ne, Tok::Ident, Tok::AndAnd, Tok::Ident, Tok::OrOr, Tok::Bang, Tok::Ident}));
}

TEST(Lexer, EveryNewlineIsAToken) {
  // The parser, not the lexer, decides that newlines inside brackets do not
  // end a statement, so error recovery can still find line ends.
  auto l = lex("a = f(1,\n 2)\nb = [3,\n4]\n");
  int newlines = 0;
  for (auto &t : l.toks) newlines += t.is(Tok::Newline);
  EXPECT_EQ(newlines, 4);
}

TEST(Lexer, CommentsAreSkipped) {
  auto l = lex("a # a comment @ ! ^\nb");
  EXPECT_EQ(kinds(l), (std::vector<Tok>{Tok::Ident, Tok::Newline, Tok::Ident}));
}

TEST(Lexer, StringsKeepTheirQuotes) {
  auto l = lex(R"(x = "a \"b\" c")");
  ASSERT_EQ(l.toks.size(), 3u);
  EXPECT_EQ(l.toks[2].kind, Tok::String);
  EXPECT_EQ(l.toks[2].text, R"("a \"b\" c")");
}

TEST(Lexer, ReportsBadCharactersAndCarriesOn) {
  auto l = lex("a $ b ^ c");
  EXPECT_EQ(l.errors.size(), 2u);
  EXPECT_EQ(l.errors[0], "unexpected character '$'");
  EXPECT_EQ(kinds(l), (std::vector<Tok>{Tok::Ident, Tok::Error, Tok::Ident, Tok::Error, Tok::Ident}));
}

TEST(Lexer, ReportsUnterminatedStringsAndMalformedNumbers) {
  auto l = lex("\"abc\n12ab");
  ASSERT_EQ(l.errors.size(), 2u);
  EXPECT_EQ(l.errors[0], "unterminated string");
  EXPECT_EQ(l.errors[1], "malformed number '12ab'");
}

TEST(Lexer, NonAsciiBytesAreReportedNotCrashedOn) {
  std::string text = "a \xe2\x82\xac b \x01";
  auto l = lex(text);
  // The euro sign's three bytes are one mistake; the control byte another.
  ASSERT_EQ(l.errors.size(), 2u);
  EXPECT_EQ(l.errors[0], "unexpected bytes 0xE2 0x82 0xAC; outside strings and comments a program is ASCII");
  EXPECT_EQ(l.errors[1], "unexpected byte 0x1");
}

} // namespace
