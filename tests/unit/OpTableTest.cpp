//===- tests/unit/OpTableTest.cpp - every op's code against its scalar row ===//
//
// One model applies every elementwise op of ir/Ops.def to 37-element inputs
// (an odd count: vector loops and scalar tails) drawn from the op's domain,
// with special values (±0, ±1, halves for rounding, NaN and ±inf where they
// mean something). It is compiled in f32 and f64 at every fusion level, and
// each op's output must equal the row's scalar semantics: exactly for
// Cheap and Normal ops, within 4 ulp for Math ones (f32 polynomials). An
// op without a row here, or without a lowering, fails the test instead of
// a user's build.
//
//===----------------------------------------------------------------------===//
#include "codegen/EmitScalarOp.h"
#include "passes/GradRules.h"
#include "runtime/driver/Session.h"
#include "tools/Compiler.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

using namespace gradc;

namespace {

/// How the source spells each elementwise op, applied to inputs $a, $b
/// (and the bool $c). One row per op.
const std::map<OpKind, const char *> kExpressions = {
    {OpKind::Neg, "-$a"},
    {OpKind::Exp, "exp($a)"},
    {OpKind::Log, "log($a)"},
    {OpKind::Sqrt, "sqrt($a)"},
    {OpKind::Tanh, "tanh($a)"},
    {OpKind::Sin, "sin($a)"},
    {OpKind::Cos, "cos($a)"},
    {OpKind::StopGradient, "stop_gradient($a)"},
    {OpKind::Add, "$a + $b"},
    {OpKind::Sub, "$a - $b"},
    {OpKind::Mul, "$a * $b"},
    {OpKind::Div, "$a / $b"},
    {OpKind::Mod, "$a % $b"},
    {OpKind::FloorDiv, "$a // $b"},
    {OpKind::Max, "maximum($a, $b)"},
    {OpKind::Min, "minimum($a, $b)"},
    {OpKind::Pow, "pow($a, $b)"},
    {OpKind::Clamp, "clamp($a, $b, $b + 2)"},
    {OpKind::Lt, "$a < $b"},
    {OpKind::Le, "$a <= $b"},
    {OpKind::Gt, "$a > $b"},
    {OpKind::Ge, "$a >= $b"},
    {OpKind::Eq, "$a == $b"},
    {OpKind::Ne, "$a != $b"},
    {OpKind::And, "$c && ($a > $b)"},
    {OpKind::Or, "$c || ($a > $b)"},
    {OpKind::Not, "!$c"},
    {OpKind::Select, "where($c, $a, $b)"},
    {OpKind::Cast, "float($c)"},
    {OpKind::Hash, "float(hash(i32($a), i32($b)))"},
    {OpKind::Expm1, "expm1($a)"},
    {OpKind::Log1p, "log1p($a)"},
    {OpKind::Rsqrt, "rsqrt($a)"},
    {OpKind::Erf, "erf($a)"},
    {OpKind::Round, "round($a)"},
    {OpKind::Ceil, "ceil($a)"},
    {OpKind::Floor, "floor($a)"},
    {OpKind::Abs, "abs($a)"},
    {OpKind::Sign, "sign($a)"},
};

constexpr int kN = 37;

/// Values of operand `i` of `op`: inside its domain, with special values.
std::vector<double> values(const OpInfo &op, unsigned i) {
  std::vector<double> v{0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, -2.5, 2.5, 3.0, -7.25, 1e-3, -1e-3, 20.0, -20.0};
  if (op.cost != Cost::Math) v.insert(v.end(), {INFINITY, -INFINITY, NAN});
  for (int k = 0; int(v.size()) < kN; ++k) v.push_back(std::sin(1.7 * k + i) * (3 + k % 5));
  // Operand b is a shifted copy, so a and b sometimes tie.
  if (i == 1) std::rotate(v.begin(), v.begin() + 3 + (kN % 4), v.end());
  for (double &x : v) {
    switch (op.domainOf(i)) {
    case Domain::Any: break;
    case Domain::Positive: x = std::fabs(x) + 0.05; break;
    case Domain::AboveMinusOne: x = std::fabs(x) - 0.95; break;
    case Domain::NonZero: if (x == 0) x = 0.75; break;
    }
  }
  return v;
}

std::vector<bool> mask() {
  std::vector<bool> c;
  for (int k = 0; k < kN; ++k) c.push_back(k % 3 != 1);
  return c;
}

std::vector<OpKind> elementwiseOps() {
  std::vector<OpKind> out;
  for (unsigned k = 0; k < kNumOps; ++k)
    if (opInfo(OpKind(k)).has(Elementwise)) out.push_back(OpKind(k));
  return out;
}

/// The ops that take i32 operands (abs, +, //, <, ...), without the ones
/// whose row reads the bool $c.
std::vector<OpKind> integerOps() {
  std::vector<OpKind> out;
  for (OpKind k : elementwiseOps()) {
    auto e = kExpressions.find(k);
    if (e == kExpressions.end() || llvm::StringRef(e->second).contains("$c")) continue;
    llvm::SmallVector<TensorType, 2> ints(opInfo(k).arity, TensorType(DType::I32, {}));
    if (auto t = inferType(k, ints, {}, nullptr)) out.push_back(k);
    else llvm::consumeError(t.takeError());
  }
  return out;
}

/// The model: y_<op> = <op>($a, $b) on every op, or with `integers`
/// float(<op>(i32($a), i32($b))) on the integer ops.
std::string modelSource(bool integers = false) {
  std::string s = "model ops {\n";
  // One pair of inputs per op, so each op gets values from its own domain.
  for (OpKind k : elementwiseOps()) {
    std::string m = mnemonic(k).str();
    s += "  input a_" + m + ": f32[37]\n  input b_" + m + ": f32[37]\n";
  }
  s += "  input c: bool[37]\n  param p: f32[1] = zeros\n";
  for (OpKind k : integers ? integerOps() : elementwiseOps()) {
    std::string m = mnemonic(k).str(), expr = kExpressions.at(k);
    std::string a = integers ? "i32(a_" + m + ")" : "a_" + m, b = integers ? "i32(b_" + m + ")" : "b_" + m;
    for (auto [from, to] : {std::pair<std::string, std::string>{"$a", a}, {"$b", b}, {"$c", "c"}})
      for (size_t at; (at = expr.find(from)) != std::string::npos;) expr.replace(at, from.size(), to);
    // '/' on i32 is refused in the language (true division would drop the
    // fraction), but the IR's div on i32 stays for the passes: the source
    // says '//', and run() turns that node into div.
    if (integers && k == OpKind::Div) expr = a + " // " + b;
    if (integers) expr = "float(" + expr + ")";
    s += "  y_" + m + " = " + expr + "\n  output y_" + m + "\n";
  }
  s += "  loss = sum(a_add * p)\n  train sgd(lr = 0.1)\n}\n";
  return s;
}

struct Built {
  std::unique_ptr<Compiler> compiler;
  std::map<std::string, std::vector<double>> outputs;
};

Built run(DType dtype, unsigned fusion, bool integers = false) {
  Built r;
  CompileOptions o;
  o.input = "ops.grad";
  o.sema.floatType = dtype;
  o.passes.fusionLevel = fusion;
  std::string diags;
  llvm::raw_string_ostream ds(diags);
  r.compiler = std::make_unique<Compiler>(o, ds);
  Compiler &c = *r.compiler;
  bool loaded = c.load(modelSource(integers));
  if (loaded && integers) {
    // y_div = float(i32(a) // i32(b)): the floordiv becomes the IR's div.
    Node *cast = c.module->graph("model")->output("y_div");
    if (!cast || !cast->operand(0)->is(OpKind::FloorDiv)) {
      ADD_FAILURE() << "y_div is not float(a // b) in the integer model";
      return r;
    }
    cast->operand(0)->op = OpKind::Div;
  }
  if (!loaded || !c.runPipeline() || !c.lower() || !c.optimize()) {
    ADD_FAILURE() << "compiling failed:\n" << diags << "\n" << modelSource(integers);
    return r;
  }
  const GrtModel *m = c.jit();
  if (!m) return r;
  grt::Session s(*m, 1);
  s.initParams(0);
  for (OpKind k : elementwiseOps())
    for (unsigned i = 0; i < 2; ++i) {
      std::string name = std::string(i ? "b_" : "a_") + mnemonic(k).str();
      if (s.find(name) < 0) continue;
      auto v = values(opInfo(k), i);
      auto &sl = s.slot(name);
      for (int j = 0; j < kN; ++j) grt::Session::set(sl, j, v[j]);
    }
  auto c3 = mask();
  if (s.find("c") >= 0)
    for (int j = 0; j < kN; ++j) grt::Session::set(s.slot("c"), j, c3[j]);
  s.run("predict");
  for (OpKind k : integers ? integerOps() : elementwiseOps()) {
    auto &sl = s.slot(grt::outputTensor("y_" + mnemonic(k).str()));
    auto &out = r.outputs[mnemonic(k).str()];
    for (int j = 0; j < kN; ++j) out.push_back(grt::Session::get(sl, j));
  }
  return r;
}

/// Units in the last place of `want` in `dtype`, between got and want.
double ulps(double got, double want, DType dtype) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : INFINITY;
  if (std::isinf(want) || std::isinf(got)) return got == want ? 0 : INFINITY;
  double w = std::fabs(want), ulp = dtype == DType::F32 ? double(std::nextafter(float(w), INFINITY)) - double(float(w))
                                                        : std::nextafter(w, INFINITY) - w;
  return ulp == 0 ? (got == want ? 0 : INFINITY) : std::fabs(got - want) / ulp;
}

TEST(OpTable, EveryElementwiseOpHasATestRowALoweringAndScalarSemantics) {
  for (OpKind k : elementwiseOps()) {
    EXPECT_TRUE(kExpressions.count(k)) << "no test row for '" << mnemonic(k).str() << "' in OpTableTest.cpp";
    EXPECT_TRUE(hasScalarLowering(k)) << "no lowering for '" << mnemonic(k).str() << "' in codegen/EmitScalarOp.cpp";
    EXPECT_NE(opInfo(k).fold, nullptr) << "no scalar semantics for '" << mnemonic(k).str() << "' in ir/Ops.def";
    const OpInfo &info = opInfo(k);
    EXPECT_TRUE(info.has(NoGrad) || gradRule(k)) << "'" << mnemonic(k).str() << "' has neither a gradient rule nor NoGrad";
  }
}

class CodeMatchesTable : public ::testing::TestWithParam<std::pair<DType, unsigned>> {};

TEST_P(CodeMatchesTable, OnEveryElement) {
  auto [dtype, fusion] = GetParam();
  Built r = run(dtype, fusion);
  ASSERT_FALSE(r.outputs.empty());
  auto c3 = mask();
  for (OpKind k : elementwiseOps()) {
    const OpInfo &info = opInfo(k);
    std::string m = mnemonic(k).str();
    // Inputs as the build holds them (f32 rounds them).
    std::vector<double> a = values(info, 0), b = values(info, 1);
    for (auto *v : {&a, &b})
      for (double &x : *v) x = roundToDType(dtype, x);
    const auto &got = r.outputs[m];
    ASSERT_EQ(got.size(), size_t(kN)) << m;
    for (int j = 0; j < kN; ++j) {
      // The expression's own semantics, composed from rows like the op's.
      double want;
      switch (k) {
      case OpKind::And: want = c3[j] && a[j] > b[j]; break;
      case OpKind::Or: want = c3[j] || a[j] > b[j]; break;
      case OpKind::Not: want = !c3[j]; break;
      case OpKind::Select: want = c3[j] ? a[j] : b[j]; break;
      case OpKind::Cast: want = c3[j]; break;
      case OpKind::Hash: { // on i32(a), i32(b); the float() rounds to the dtype
        auto toInt = [](double x) { return *evalScalar(OpKind::Cast, {x}, DType::I32); };
        want = roundToDType(dtype, murmurMix(toInt(a[j]), toInt(b[j])));
        break;
      }
      case OpKind::Clamp: want = *evalScalar(k, {a[j], b[j], roundToDType(dtype, b[j] + 2)}, dtype); break;
      default: {
        double args[] = {a[j], b[j]};
        want = *evalScalar(k, args, opInfo(k).has(NoGrad) ? DType::I1 : dtype);
      }
      }
      double tol = info.cost == Cost::Math ? 4 : 0;
      EXPECT_LE(ulps(got[j], want, dtype), tol)
          << m << " (" << kExpressions.at(k) << ") in " << dtypeName(dtype).str() << " at fusion " << fusion << ": element " << j
          << " of (" << a[j] << ", " << b[j] << ") is " << got[j] << ", the table says " << want;
    }
  }
}

// i32 semantics: arithmetic wraps, x / 0 and x % 0 are 0, a conversion
// from a float goes toward zero and saturates (NaN is 0). The same 37
// values, through i32(...), at every fusion level.
TEST(OpTable, IntegerOpsMatchTheTable) {
  for (unsigned fusion : {0u, 1u, 2u}) {
    Built r = run(DType::F32, fusion, /*integers=*/true);
    ASSERT_FALSE(r.outputs.empty());
    for (OpKind k : integerOps()) {
      std::string m = mnemonic(k).str();
      auto toInt = [](double x) { return *evalScalar(OpKind::Cast, {roundToDType(DType::F32, x)}, DType::I32); };
      std::vector<double> a = values(opInfo(k), 0), b = values(opInfo(k), 1);
      for (int j = 0; j < kN; ++j) {
        double args[] = {toInt(a[j]), toInt(b[j]), *evalScalar(OpKind::Add, {toInt(b[j]), 2.0}, DType::I32)}; // clamp's high: b + 2
        llvm::SmallVector<TensorType, 3> ints(opInfo(k).arity, TensorType(DType::I32, {}));
        DType result = llvm::cantFail(inferType(k, ints, {}, nullptr)).dtype; // i32, or i1 for comparisons
        double want = roundToDType(DType::F32, *evalScalar(k, args, result));
        EXPECT_EQ(r.outputs[m][j], want) << m << " (" << kExpressions.at(k) << ") on i32 at fusion " << fusion
                                         << ": element " << j << " of (" << args[0] << ", " << args[1] << ")";
      }
    }
  }
}

// `hash` is MurmurHash3's 32-bit hash of a 4-byte key with a seed: the
// published test vectors (SMHasher's verification set) hold.
TEST(OpTable, HashIsMurmur3OfAFourByteKey) {
  EXPECT_EQ(uint32_t(int32_t(murmurMix(0, 0))), 0x2362F9DEu);                        // key 00 00 00 00, seed 0
  EXPECT_EQ(uint32_t(int32_t(murmurMix(0x61616161, int32_t(0x9747B28Cu)))), 0x5A97808Au); // key "aaaa"
}

// NaN policy: a NaN anywhere in what max looks at makes the result NaN, in
// a row maximum (a loop's accumulator) and a column maximum (a kernel of its
// own that walks memory in order) alike; so does maximum, minimum and clamp.
TEST(OpTable, ReduceMaxPropagatesNaNInRowsAndColumns) {
  CompileOptions o;
  o.input = "nanmax.grad";
  Compiler c(o);
  // A batch of one [4, 64] matrix: @predict keeps only outputs with a row
  // per input row, and a maximum over the batch's rows has none.
  ASSERT_TRUE(c.load("model m {\n  input x: f32[1, 4, 64]\n  param p: f32[1] = zeros\n  rows = max(x, 2)\n"
                     "  cols = max(x, 1)\n  loss = sum(x * p)\n  output rows\n  output cols\n  train sgd(lr = 0.1)\n}\n"));
  ASSERT_TRUE(c.runPipeline() && c.lower() && c.optimize());
  const GrtModel *m = c.jit();
  ASSERT_TRUE(m);
  grt::Session s(*m, 1);
  s.initParams(0);
  auto &x = s.slot("x");
  for (int i = 0; i < 4 * 64; ++i) grt::Session::set(x, i, i % 7 - 3.0);
  grt::Session::set(x, 1 * 64 + 5, NAN); // row 1, column 5
  s.run("predict");
  for (int r = 0; r < 4; ++r) EXPECT_EQ(std::isnan(grt::Session::get(s.slot(grt::outputTensor("rows")), r)), r == 1) << "row " << r;
  for (int col = 0; col < 64; ++col)
    EXPECT_EQ(std::isnan(grt::Session::get(s.slot(grt::outputTensor("cols")), col)), col == 5) << "column " << col;
}

// A row maximum's last step reduces its vector lanes as integer keys
// (codegen/MaxReductions.cpp). Against llvm.maximum's definition, bit for
// bit, on rows that end in a vector loop's lanes and in scalar tails:
// +0 above -0, infinities, all-negative rows, and a NaN of either sign
// anywhere (the result is then a NaN).
TEST(OpTable, RowMaximumMatchesItsDefinitionBitForBit) {
  auto maximum = [](float a, float b) {
    if (std::isnan(a) || std::isnan(b)) return NAN;
    if (a == b) return std::signbit(a) ? b : a; // +0 over -0
    return a > b ? a : b;
  };
  const int kRows = 9;
  for (int width : {1, 3, 16, 17, 64, 100}) {
    CompileOptions o;
    o.input = "rowmax.grad";
    Compiler c(o);
    ASSERT_TRUE(c.load(fmt::format("model m {{\n  input x: f32[{}, {}]\n  param p: f32[1] = zeros\n  rows = max(x, 1)\n"
                                   "  loss = sum(x * p)\n  output rows\n  train sgd(lr = 0.1)\n}}\n",
                                   kRows, width)));
    ASSERT_TRUE(c.runPipeline() && c.lower() && c.optimize());
    const GrtModel *m = c.jit();
    ASSERT_TRUE(m);
    grt::Session s(*m, 1);
    s.initParams(0);
    std::vector<std::vector<float>> rows(kRows, std::vector<float>(size_t(width)));
    for (int j = 0; j < width; ++j) {
      float v = float((j * 37) % 11) - 7.5f; // mixed signs
      rows[0][size_t(j)] = -0.0f;           // -0 everywhere, +0 last: +0
      rows[1][size_t(j)] = -0.0f;           // -0 everywhere: -0
      rows[2][size_t(j)] = -std::fabs(v) - 1; // all negative
      rows[3][size_t(j)] = v;               // +inf in the middle
      rows[4][size_t(j)] = -INFINITY;       // -inf everywhere
      rows[5][size_t(j)] = v;               // NaN last
      rows[6][size_t(j)] = v;               // -NaN (x86's default NaN) first
      rows[7][size_t(j)] = v * 1e30f;       // large values
      rows[8][size_t(j)] = j % 2 ? 0.0f : -0.0f; // +0 and -0 alternating
    }
    rows[0][size_t(width - 1)] = 0.0f;
    rows[3][size_t(width / 2)] = INFINITY;
    rows[5][size_t(width - 1)] = NAN;
    rows[6][0] = -NAN;
    auto &x = s.slot("x");
    for (int r = 0; r < kRows; ++r)
      for (int j = 0; j < width; ++j) grt::Session::set(x, r * width + j, rows[size_t(r)][size_t(j)]);
    s.run("predict");
    for (int r = 0; r < kRows; ++r) {
      float want = -INFINITY;
      for (float v : rows[size_t(r)]) want = maximum(want, v);
      float got = float(grt::Session::get(s.slot(grt::outputTensor("rows")), r));
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(got)) << "width " << width << ", row " << r << ": " << got;
        continue;
      }
      uint32_t wb, gb;
      std::memcpy(&wb, &want, 4);
      std::memcpy(&gb, &got, 4);
      EXPECT_EQ(gb, wb) << "width " << width << ", row " << r << ": " << got << ", want " << want;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Builds, CodeMatchesTable,
                         ::testing::Values(std::pair{DType::F32, 0u}, std::pair{DType::F32, 1u}, std::pair{DType::F32, 2u},
                                           std::pair{DType::F64, 0u}, std::pair{DType::F64, 1u}, std::pair{DType::F64, 2u}),
                         [](const auto &info) {
                           return dtypeName(info.param.first).str() + "_fusion" + std::to_string(info.param.second);
                         });

} // namespace
