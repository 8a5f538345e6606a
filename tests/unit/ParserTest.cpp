//===- tests/unit/ParserTest.cpp - syntax tree and error recovery ---------===//
#include "TestUtil.h"

#include "frontend/Parser.h"

using namespace gradc;

namespace {

struct Parsed {
  std::string errors, dump;
  unsigned errorCount = 0;
};

Parsed parse(llvm::StringRef text) {
  Parsed p;
  llvm::raw_string_ostream es(p.errors), ds(p.dump);
  llvm::SourceMgr sm;
  DiagEngine diag(sm, es);
  sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "t.grad"), llvm::SMLoc());
  auto prog = Parser(sm.getMainFileID(), diag).parseProgram();
  ast::dump(*prog, ds);
  p.errorCount = diag.errorCount();
  return p;
}

TEST(Parser, PrecedenceAndAssociativity) {
  auto p = parse("const c = 1 - 2 - 3 * 4 @ 5\n");
  EXPECT_EQ(p.errorCount, 0u) << p.errors;
  // (1 - 2) - ((3 * 4) @ 5): multiplicative operators bind tighter, all left-associative.
  EXPECT_EQ(p.dump, "const c\n"
                    "  binary -\n"
                    "    binary -\n"
                    "      int 1\n"
                    "      int 2\n"
                    "    binary @\n"
                    "      binary *\n"
                    "        int 3\n"
                    "        int 4\n"
                    "      int 5\n");
}

TEST(Parser, ModelStatements) {
  auto p = parse("model m {\n input x: f32[B, 1]\n param w: f32[1, 1] = normal(0.02)\n pred = x @ w\n"
                 " loss = mean(pred)\n output pred\n metric a = mean(pred)\n train sgd(lr = 0.1)\n}\n");
  EXPECT_EQ(p.errorCount, 0u) << p.errors;
  EXPECT_NE(p.dump.find("  input x\n    type f32 rank 2\n      name B\n      int 1\n"), std::string::npos) << p.dump;
  EXPECT_NE(p.dump.find("  param w\n"), std::string::npos);
  EXPECT_NE(p.dump.find("    init\n      call normal\n        number 0.02\n"), std::string::npos) << p.dump;
  EXPECT_NE(p.dump.find("  train sgd\n    kwarg lr\n      number 0.1\n"), std::string::npos) << p.dump;
  EXPECT_NE(p.dump.find("  output pred\n"), std::string::npos);
}

TEST(Parser, ScopedCallsSlicesAndLoops) {
  auto p = parse("fn f(x, n = 2) { return x }\nmodel m {\n for i in 0..3 {\n  x = h[i].f(x[:, 1:2], n = 3)\n }\n}\n");
  EXPECT_EQ(p.errorCount, 0u) << p.errors;
  EXPECT_NE(p.dump.find("fn f(x, n)"), std::string::npos);
  EXPECT_NE(p.dump.find("call f\n        scope\n          index\n            name h\n"), std::string::npos) << p.dump;
  EXPECT_NE(p.dump.find("slice"), std::string::npos);
}

TEST(Parser, RecoversAtStatementBoundaries) {
  // Three broken statements, each reported once; the valid ones still parse.
  // An open '(' continues its statement onto the next line, so `d = 4` is
  // swallowed by the broken `c = (3`, and the error points at the '('.
  auto p = parse("model m {\n a = 1 +\n b = 2\n c = (3\n d = 4\n e = ] 5\n f = 6\n}\n");
  EXPECT_EQ(p.errorCount, 3u) << p.errors;
  EXPECT_NE(p.dump.find("assign b"), std::string::npos);
  EXPECT_NE(p.dump.find("assign f"), std::string::npos);
  EXPECT_NE(p.errors.find("t.grad:2:9: error: expected an expression, found end of line"), std::string::npos) << p.errors;
  EXPECT_NE(p.errors.find("t.grad:5:2: error: expected ')', found 'd'"), std::string::npos) << p.errors;
  EXPECT_NE(p.errors.find("t.grad:4:6: note: to match this '('"), std::string::npos) << p.errors;
}

TEST(Parser, UnclosedBlockAtEndOfFile) {
  auto p = parse("model m {\n a = 1\n");
  EXPECT_EQ(p.errorCount, 1u);
  EXPECT_NE(p.errors.find("expected '}' before end of file"), std::string::npos) << p.errors;
}

TEST(Parser, GarbageNeverHangsOrCrashes) {
  // Random bytes and deep nesting: the parser must finish with errors.
  std::string junk;
  for (int i = 0; i < 2000; ++i) junk += "([{<>}]),;:=@#\n\"x"[i * 7 % 17];
  auto p = parse(junk);
  EXPECT_GT(p.errorCount, 0u);
  auto q = parse(std::string(5000, '(') + "1");
  EXPECT_GT(q.errorCount, 0u);
}

} // namespace
