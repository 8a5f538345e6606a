//===- tests/unit/RoundTripTest.cpp - the text IR prints and parses back --===//
//
// For every example and every IR stage: print(parse(print(m))) == print(m).
//
//===----------------------------------------------------------------------===//
#include "tools/Compiler.h"

#include "ir/Parser.h"
#include "ir/Printer.h"

#include <gtest/gtest.h>

using namespace gradc;

namespace {

struct Case {
  std::string example;
  const Step *stage; // a stage of the IR: graph, grad, ..., kernels
};

class RoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(RoundTrip, PrintParsePrintIsStable) {
  CompileOptions o;
  o.input = std::string(GRADC_EXAMPLES_DIR) + "/" + GetParam().example + ".grad";
  Compiler c(o);
  ASSERT_TRUE(c.load());
  ASSERT_TRUE(c.runPipeline(GetParam().stage));
  EXPECT_EQ(c.module->after, GetParam().stage->name);
  std::string first = toString(*c.module);
  std::string errors;
  llvm::raw_string_ostream es(errors);
  auto parsed = parseModule(first, "roundtrip.gir", es, moduleSteps());
  ASSERT_TRUE(parsed) << errors << "\n" << first;
  std::string second = toString(*parsed);
  EXPECT_EQ(first, second);
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const char *ex : {"linreg", "logreg", "mlp_1d", "mlp_nd", "moons"})
    for (const Step &s : pipeline())
      if (s.makesModule() && !s.stage.empty()) out.push_back({ex, &s});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Examples, RoundTrip, ::testing::ValuesIn(cases()), [](const auto &info) {
  return info.param.example + "_" + info.param.stage->stage.str();
});

TEST(IRParser, ReportsErrorsWithLocations) {
  std::string errors;
  llvm::raw_string_ostream es(errors);
  EXPECT_FALSE(parseModule("module m\ngraph @g {\n  %0 = add %x, %x : f32[2]\n}\n", "bad.gir", es));
  EXPECT_NE(errors.find("bad.gir:3:12: error: use of undefined value %x"), std::string::npos) << errors;
  errors.clear();
  EXPECT_FALSE(parseModule("module m\ngraph @g {\n  %a = input {name = \"a\"} : f32[2]\n  %b = neg %a : f32[3]\n}\n", "t.gir", es));
  EXPECT_NE(errors.find("t.gir:4:3: error: 'neg' computes f32[2], not the declared f32[3]"), std::string::npos) << errors;
  errors.clear();
  EXPECT_FALSE(parseModule("module m\ngraph @g {\n  %a = frobnicate : f32[2]\n}\n", "t.gir", es));
  EXPECT_NE(errors.find("t.gir:3:8: error: unknown op 'frobnicate'"), std::string::npos) << errors;
}

} // namespace
