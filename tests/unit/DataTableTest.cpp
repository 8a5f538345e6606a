//===- tests/unit/DataTableTest.cpp - the default table against its descriptor
//
// gradc makes each output of @data its input's type with the descriptor's
// data_rows rows. A descriptor that says otherwise (from a hand-edited .gir
// before the verifier held it to that) made the runtime copy rows past the
// end of the generated tensor. It now stops with one line.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/Runtime.h"
#include "runtime/driver/Data.h"
#include "runtime/driver/Session.h"
#include "tools/Compiler.h"

#include <gtest/gtest.h>

using namespace gradc;

namespace {

const char *kModel = R"(model m {
  input x: f32[4, 1]
  param w: f32[1, 1] = zeros
  loss = mean(x @ w)
  train sgd(lr = 0.1)
  data table(rows = 8) {
    x = rand_uniform([8, 1], -1, 1)
  }
}
)";

TEST(DataTable, RowsDisagreeingWithTheGeneratorAreRefused) {
  CompileOptions o;
  o.input = "table.grad";
  Compiler c(o);
  ASSERT_TRUE(c.load(kModel) && c.runPipeline() && c.lower() && c.optimize());
  const GrtModel *m = c.jit();
  ASSERT_TRUE(m);
  GrtModel wrong = *m;
  wrong.data_rows = 1000;
  grt::Session s(wrong, 1);
  grt::setFatalThrows(true);
  try {
    grt::loadData(s, grt::DataOptions{});
    ADD_FAILURE() << "a table of 1000 rows was read from 8 generated ones";
  } catch (const grt::FatalError &e) {
    EXPECT_EQ(e.message, "the model's data table gives input 'x' 8 values, not 1000 rows of 1");
  }
  grt::setFatalThrows(false);
}

} // namespace
