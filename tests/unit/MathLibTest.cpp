//===- tests/unit/MathLibTest.cpp - inline f32 exp, log, tanh vs libm -----===//
//
// codegen/MathLib.cpp emits exp, log, tanh, expm1, log1p, sin, cos, erf and
// f32 fmod and pow as inline arithmetic so loops vectorise. Each is compiled into a model's predict entry and compared
// with the double-precision libm function on a dense sweep of its range,
// odd counts included (vector bodies and scalar tails), and on the special
// values: ±0, ±inf, NaN, the largest and smallest floats.
//
//===----------------------------------------------------------------------===//
#include "runtime/driver/Session.h"
#include "tools/Compiler.h"

#include <gtest/gtest.h>

#include "ir/Ops.h"

#include <cmath>
#include <limits>
#include <random>

using namespace gradc;

namespace {

std::string diagnostics;
llvm::raw_string_ostream diagStream(diagnostics);

/// y = expr for every x (and z), through a compiled predict entry, in `dtype`.
template <typename T>
std::vector<T> predictY(const std::string &expr, const char *dtype, const std::vector<T> &xs,
                        const std::vector<T> *zs = nullptr) {
  std::string n = std::to_string(xs.size());
  std::string src = std::string("model m {\n  input x: ") + dtype + "[" + n + "]\n" +
                    (zs ? std::string("  input z: ") + dtype + "[" + n + "]\n" : "") + "  param p: " + dtype +
                    "[1] = zeros\n  y = " + expr + " + p\n  loss = sum(y)\n  output y\n  train sgd(lr = 0.1)\n}\n";
  CompileOptions o;
  o.input = "math.grad";
  Compiler c(o, diagStream);
  diagnostics.clear();
  if (!c.load(src) || !c.runPipeline() || !c.lower() || !c.optimize()) {
    ADD_FAILURE() << "compiling " << expr << " failed: " << diagnostics;
    return {};
  }
  const GrtModel *m = c.jit();
  if (!m) {
    ADD_FAILURE() << "jit failed";
    return {};
  }
  grt::Session s(*m, 1);
  s.initParams(0);
  auto &x = s.slot("x");
  for (size_t i = 0; i < xs.size(); ++i) grt::Session::set(x, i, xs[i]);
  if (zs)
    for (size_t i = 0; i < zs->size(); ++i) grt::Session::set(s.slot("z"), i, (*zs)[i]);
  s.run("predict");
  auto &y = s.slot(grt::outputTensor("y"));
  std::vector<T> out(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) out[i] = T(grt::Session::get(y, i));
  return out;
}
/// y = op(x) for every x, in `dtype`.
template <typename T> std::vector<T> applyOpIn(const std::string &op, const std::vector<T> &xs, const char *dtype) {
  return predictY(op + "(x)", dtype, xs);
}
std::vector<float> applyOp(const std::string &op, const std::vector<float> &xs) { return applyOpIn(op, xs, "f32"); }

/// Distance in units in the last place of `want` (as float).
double ulps(float got, double want) {
  float w = float(want);
  if (std::isnan(w)) return std::isnan(got) ? 0 : INFINITY;
  if (std::isinf(w) || std::isinf(got)) return got == w ? 0 : INFINITY;
  double ulp = std::nextafter(std::fabs(w), INFINITY) - std::fabs(w);
  return std::fabs(double(got) - want) / ulp;
}

void sweep(const std::string &op, double (*ref)(double), double lo, double hi, double maxUlps, double absTol) {
  std::vector<float> xs;
  const int n = 20011; // odd: a scalar tail after the vector loop
  for (int i = 0; i < n; ++i) xs.push_back(float(lo + (hi - lo) * i / (n - 1)));
  std::vector<float> ys = applyOp(op, xs);
  ASSERT_EQ(ys.size(), xs.size());
  double worst = 0;
  float at = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    double want = ref(double(xs[i]));
    if (std::fabs(ys[i] - want) <= absTol) continue;
    double u = ulps(ys[i], want);
    if (u > worst) worst = u, at = xs[i];
  }
  EXPECT_LE(worst, maxUlps) << op << " is " << worst << " ulp off at x = " << at;
}

TEST(MathLib, ExpWithinTwoUlps) { sweep("exp", [](double x) { return std::exp(x); }, -87, 88, 2, 0); }
// Up to the largest float (exp was inf from 88.38, where 2^n was built as
// 2^128), and down into the subnormals (flushed to 0 below 1.2e-38): one
// ulp of a subnormal is 1.4e-45, so a result there is within two of them.
TEST(MathLib, ExpNearTheTop) { sweep("exp", [](double x) { return std::exp(x); }, 88, 88.7228, 2, 0); }
TEST(MathLib, ExpSubnormal) { sweep("exp", [](double x) { return std::exp(x); }, -103.9, -87, 2, 0); }
TEST(MathLib, LogWithinTwoUlps) { sweep("log", [](double x) { return std::log(x); }, 1e-30, 1e4, 2, 0); }
// Subnormal inputs have no exponent bits to read (log(1e-40) was -88.02).
TEST(MathLib, LogSubnormal) { sweep("log", [](double x) { return std::log(x); }, 1.4e-45, 1.2e-38, 2, 0); }
// Kahan's and Goldberg's forms, out to where (u - 1)·x and log(u)·x
// overflowed (expm1 was inf from 84.2).
TEST(MathLib, Expm1) { sweep("expm1", [](double x) { return std::expm1(x); }, -20, 88.7, 4, 1e-7); }
TEST(MathLib, Log1p) { sweep("log1p", [](double x) { return std::log1p(x); }, -0.999, 50, 4, 1e-7); }
TEST(MathLib, Log1pHuge) { sweep("log1p", [](double x) { return std::log1p(x); }, 1e37, 3.4e38, 4, 0); }
TEST(MathLib, LogNearOne) { sweep("log", [](double x) { return std::log(x); }, 0.5, 2, 2, 1e-7); }
// tanh trades accuracy for speed away from 0: a rational function (4 ulp).
TEST(MathLib, TanhWithinFourUlps) { sweep("tanh", [](double x) { return std::tanh(x); }, -12, 12, 4, 1e-7); }
TEST(MathLib, TanhNearZero) { sweep("tanh", [](double x) { return std::tanh(x); }, -0.01, 0.01, 2, 0); }

// sin and cos reduce |x| by quadrants in f64 (exact to 5e7), so they stay
// within 2 ulp of libm far out, and near each zero, where a reduction in
// f32 lost the digits (absTol 1e-7 would hide that: none here but at 0).
TEST(MathLib, SinCosNearZero) {
  sweep("sin", [](double x) { return std::sin(x); }, -0.01, 0.01, 2, 0);
  sweep("cos", [](double x) { return std::cos(x); }, -0.01, 0.01, 2, 0);
}
TEST(MathLib, SinCosWithinTwoUlps) {
  sweep("sin", [](double x) { return std::sin(x); }, -10, 10, 2, 1e-30);
  sweep("cos", [](double x) { return std::cos(x); }, -10, 10, 2, 1e-30);
  sweep("sin", [](double x) { return std::sin(x); }, 1e4, 1e6, 2, 1e-30);
  sweep("cos", [](double x) { return std::cos(x); }, -1e6, -1e4, 2, 1e-30);
  sweep("sin", [](double x) { return std::sin(x); }, 1e7, 4e7, 2, 1e-30);
}
// At multiples of π/2 the answer is tiny, and only a reduction that keeps
// π's digits gets it: sin(float(π)) is -8.74e-8, cos(float(π/2)) -4.37e-8.
TEST(MathLib, SinCosAtMultiplesOfHalfPi) {
  std::vector<float> xs;
  for (int k = -2000; k <= 2000; ++k) xs.push_back(float(k * M_PI / 2));
  std::vector<float> s = applyOp("sin", xs), c = applyOp("cos", xs);
  ASSERT_EQ(c.size(), xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_LE(ulps(s[i], std::sin(double(xs[i]))), 2) << "sin(" << xs[i] << ") = " << s[i];
    EXPECT_LE(ulps(c[i], std::cos(double(xs[i]))), 2) << "cos(" << xs[i] << ") = " << c[i];
  }
}

// f64 exp, log and tanh are inline too (Cephes' double forms), within 2
// ulp of libm; an f64 model's tanh was a libm call per element, 1.8x
// PyTorch's step (an explorer's find).
double ulps64(double got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : INFINITY;
  if (std::isinf(want) || std::isinf(got)) return got == want ? 0 : INFINITY;
  if (want == 0) return got == 0 ? 0 : INFINITY;
  return std::fabs(got - want) / (std::nextafter(std::fabs(want), INFINITY) - std::fabs(want));
}
void sweep64(const std::string &op, double (*ref)(double), double lo, double hi, double maxUlps) {
  std::vector<double> xs;
  const int n = 20011;
  for (int i = 0; i < n; ++i) xs.push_back(lo + (hi - lo) * i / (n - 1));
  std::vector<double> ys = applyOpIn(op, xs, "f64");
  ASSERT_EQ(ys.size(), xs.size());
  double worst = 0, at = 0;
  for (size_t i = 0; i < xs.size(); ++i)
    if (double u = ulps64(ys[i], ref(xs[i])); u > worst) worst = u, at = xs[i];
  EXPECT_LE(worst, maxUlps) << op << " in f64 is " << worst << " ulp off at x = " << at;
}
/// op(x) for each x within 1 ulp of libm's `ref`, in f64.
void specials64(const char *op, double (*ref)(double), const std::vector<double> &xs) {
  std::vector<double> ys = applyOpIn(op, xs, "f64");
  ASSERT_EQ(ys.size(), xs.size());
  for (size_t i = 0; i < xs.size(); ++i) EXPECT_LE(ulps64(ys[i], ref(xs[i])), 1) << op << "(" << xs[i] << ") = " << ys[i];
}
TEST(MathLib, F64Log) {
  auto ref = [](double x) { return std::log(x); };
  sweep64("log", ref, 0.5, 2, 2);
  sweep64("log", ref, 1e-5, 10, 2);
  sweep64("log", ref, 3, 1e6, 2);
  sweep64("log", ref, 1e290, 1.7e308, 2);
  sweep64("log", ref, 1e-310, 2.2e-308, 2); // subnormal arguments
  const double inf = INFINITY, nan = NAN;
  specials64("log", ref, {0.0, -0.0, inf, -inf, nan, -1.0, 1.0, 5e-324, 0.70710678118654746, 0.70710678118654757});
}
// log1p and expm1 are Goldberg's and Kahan's forms over the inline log
// and exp, in f64 as in f32.
TEST(MathLib, F64Log1pAndExpm1) {
  sweep64("log1p", [](double x) { return std::log1p(x); }, -0.999, 50, 4);
  sweep64("log1p", [](double x) { return std::log1p(x); }, -1e-6, 1e-6, 4);
  sweep64("log1p", [](double x) { return std::log1p(x); }, 1e300, 1.7e308, 4);
  sweep64("expm1", [](double x) { return std::expm1(x); }, -40, 709, 4);
  sweep64("expm1", [](double x) { return std::expm1(x); }, -1e-6, 1e-6, 4);
  const double inf = INFINITY, nan = NAN;
  std::vector<double> xs{0.0, inf, -inf, nan, -1.0, 710.0, -800.0, 1e-300};
  specials64("log1p", [](double x) { return std::log1p(x); }, xs);
  specials64("expm1", [](double x) { return std::expm1(x); }, xs);
}
TEST(MathLib, F64ExpAndTanh) {
  sweep64("exp", [](double x) { return std::exp(x); }, -745, 709.78, 2);
  sweep64("exp", [](double x) { return std::exp(x); }, -1, 1, 2);
  sweep64("exp", [](double x) { return std::exp(x); }, -745.13, -700, 2); // subnormal results
  sweep64("tanh", [](double x) { return std::tanh(x); }, -25, 25, 2);
  sweep64("tanh", [](double x) { return std::tanh(x); }, -0.7, 0.7, 2);
  sweep64("tanh", [](double x) { return std::tanh(x); }, -1e-5, 1e-5, 2);
  const double inf = INFINITY, nan = NAN, big = std::numeric_limits<double>::max();
  std::vector<double> xs{0.0, -0.0, inf, -inf, nan, big, -big, 5e-324, 710.0, -746.0, 22.5, -40.0};
  specials64("exp", [](double x) { return std::exp(x); }, xs);
  specials64("tanh", [](double x) { return std::tanh(x); }, xs);
}

// f64 sin, cos and erf are inline too (Cephes' double forms): each was a
// libm call per element, which kept an f64 loop scalar (sin(x·w) 1.4x
// PyTorch's step).
TEST(MathLib, F64SinCos) {
  auto s = [](double x) { return std::sin(x); };
  auto c = [](double x) { return std::cos(x); };
  for (auto [lo, hi] : {std::pair{-10.0, 10.0}, {-1e-6, 1e-6}, {0.7, 0.9}, {1e5, 1.001e5}, {-3e9, 3e9}, {1e14, 3e15}}) {
    sweep64("sin", s, lo, hi, 2);
    sweep64("cos", c, lo, hi, 2);
  }
  // Near multiples of π/2, where r cancels: the zeros of sin and cos, to
  // j = 2^40.
  std::vector<double> xs;
  for (double k : {1.0, 2.0, 3.0, 7.0, 1e3, 12345.0, 1e6 + 1, 3e9, 1099511627776.0})
    for (double d : {-2.0, -1.0, 0.0, 1.0, 2.0}) {
      double x = k * 1.5707963267948966;
      for (int u = 0; u < std::fabs(d); ++u) x = std::nextafter(x, d > 0 ? INFINITY : 0.0);
      xs.push_back(x);
    }
  auto worst = [&](const char *op, double (*ref)(double)) {
    std::vector<double> ys = applyOpIn(op, xs, "f64");
    ASSERT_EQ(ys.size(), xs.size());
    for (size_t i = 0; i < xs.size(); ++i) EXPECT_LE(ulps64(ys[i], ref(xs[i])), 2) << op << "(" << xs[i] << ") = " << ys[i];
  };
  worst("sin", s);
  worst("cos", c);
  const double inf = INFINITY, nan = NAN;
  specials64("sin", s, {0.0, 5e-324, -5e-324, 1e-300, 0.5, -0.5, 1e15});
  specials64("cos", c, {0.0, -0.0, 5e-324, 1e-300, 0.5, -0.5, 1e15});
  // ±inf and NaN give NaN; past 3.5e15 the result is only a value in [-1, 1].
  std::vector<double> far{inf, -inf, nan, 4e15, -1e300, std::numeric_limits<double>::max()};
  for (const char *op : {"sin", "cos"}) {
    std::vector<double> ys = applyOpIn(op, far, "f64");
    ASSERT_EQ(ys.size(), far.size());
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(std::isnan(ys[i])) << op << "(" << far[i] << ") = " << ys[i];
    for (size_t i = 3; i < far.size(); ++i) EXPECT_LE(std::fabs(ys[i]), 1) << op << "(" << far[i] << ") = " << ys[i];
  }
}
TEST(MathLib, F64Erf) {
  auto ref = [](double x) { return std::erf(x); };
  sweep64("erf", ref, -7, 7, 2);
  sweep64("erf", ref, -1e-6, 1e-6, 2);
  sweep64("erf", ref, 0.8, 1.3, 2); // the three pieces meet at 0.84375 and 1.25
  sweep64("erf", ref, 1, 6.5, 2);
  sweep64("erf", ref, -6.5, -1, 2);
  const double inf = INFINITY, nan = NAN;
  specials64("erf", ref, {0.0, 1.0, -1.0, 5e-324, 1e-300, 5.9, 6.0, 6.1, 30.0, -30.0, inf, -inf, nan,
                          std::numeric_limits<double>::max()});
}

TEST(MathLib, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float big = std::numeric_limits<float>::max(), tiny = std::numeric_limits<float>::denorm_min();
  // 3.6e15 and 4.5e15: sin and cos were inf from 3.5e15, past 2^52
  // octants, to 2^52 (a reviewer's find).
  std::vector<float> xs{0.f, -0.f, inf, -inf, nan, big, -big, tiny, -tiny, 100.f, -100.f, 3.6e15f, -4.5e15f};
  std::vector<float> e = applyOp("exp", xs), l = applyOp("log", xs), t = applyOp("tanh", xs);
  std::vector<float> s = applyOp("sin", xs), c = applyOp("cos", xs);
  ASSERT_EQ(c.size(), xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    double x = xs[i];
    EXPECT_LE(ulps(e[i], std::exp(x)), 0.5) << "exp(" << x << ") = " << e[i]; // correctly rounded
    EXPECT_LE(ulps(t[i], std::tanh(x)), 1) << "tanh(" << x << ") = " << t[i];
    EXPECT_LE(ulps(l[i], std::log(x)), 1) << "log(" << x << ") = " << l[i];
    // inf and NaN give NaN. Far out (FLT_MAX, 3.6e15) the result is only
    // finite. (The sign of sin(-0) does not survive y = sin(x) + p.)
    if (std::fabs(x) < 1e7) {
      EXPECT_LE(ulps(s[i], std::sin(x)), 1) << "sin(" << x << ") = " << s[i];
      EXPECT_LE(ulps(c[i], std::cos(x)), 1) << "cos(" << x << ") = " << c[i];
    } else if (std::isfinite(x)) {
      EXPECT_TRUE(std::isfinite(s[i]) && std::fabs(s[i]) <= 1) << "sin(" << x << ") = " << s[i];
      EXPECT_TRUE(std::isfinite(c[i]) && std::fabs(c[i]) <= 1) << "cos(" << x << ") = " << c[i];
    }
  }
}

// f32 % and // take fmod inline (straight-line f64 stages, where fmodf
// was a libm call per lane). fmod is exact, so % must give libm's bits for
// every pair: quotients from below 1 to 2^277, subnormals, signs, and the
// special values (x % 0, inf % y and NaNs are NaN; x % inf is x, or inf
// for x < 0, as Python has it).
TEST(MathLib, FloatModIsExact) {
  std::mt19937 rng(7);
  auto anyFloat = [&] { // uniform over exponents: every scale from 2^-149 to 2^127
    return std::ldexp(std::uniform_real_distribution<float>(1, 2)(rng), std::uniform_int_distribution<int>(-149, 127)(rng)) *
           (rng() & 1 ? -1.f : 1.f);
  };
  auto near = [&](float v) { return v * std::uniform_real_distribution<float>(0.5f, 1e4f)(rng); };
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float big = std::numeric_limits<float>::max(), tiny = std::numeric_limits<float>::denorm_min();
  std::vector<float> specials{0.f, -0.f, inf, -inf, nan, -nan, big, -big, tiny, -tiny, 1.f, -1.f, 0.7f, 3.f, 1e-40f};
  std::vector<float> xs, zs;
  for (float a : specials)
    for (float b : specials) xs.push_back(a), zs.push_back(b);
  for (int i = 0; i < 40001; ++i) {
    float z = anyFloat();
    float x = i % 3 == 0 ? anyFloat() : i % 3 == 1 ? near(z) : float(std::floor(near(z) / z)) * z; // exact multiples too
    xs.push_back(x), zs.push_back(z);
  }
  std::vector<float> mod = predictY("x % z", "f32", xs, &zs), div = predictY("x // z", "f32", xs, &zs);
  ASSERT_EQ(mod.size(), xs.size());
  int wrong = 0;
  // NaNs as libm's too: the CPU's default NaN, or the operand's, sign and all.
  auto sameNaN = [](float a, float b) { return std::isnan(a) && std::isnan(b) && std::signbit(a) == std::signbit(b); };
  for (size_t i = 0; i < xs.size() && wrong < 10; ++i) {
    float want = float(floorMod(xs[i], zs[i])) + 0.f; // fmod of floats is a float: exact in double
    if (std::memcmp(&want, &mod[i], 4) != 0 && !sameNaN(want, mod[i]))
      ++wrong, ADD_FAILURE() << xs[i] << " % " << zs[i] << " = " << mod[i] << ", not " << want;
    // // is (x - x mod y) / y in f32, from the same fmod (codegen/EmitScalarOp.cpp).
    float x = xs[i], y = zs[i], m = std::fmod(x, y), d = (x - m) / y;
    if (m != 0 && (y < 0) != (m < 0)) d -= 1;
    float f = std::floor(d);
    f = d - f > 0.5f ? f + 1 : f;
    f = d == 0 ? std::copysign(0.f, x / y) : f;
    f = (y == 0 ? x / y : f) + 0.f;
    if (std::memcmp(&f, &div[i], 4) != 0 && !sameNaN(f, div[i]))
      ++wrong, ADD_FAILURE() << x << " // " << y << " = " << div[i] << ", not " << f;
  }
}

} // namespace

// f32 pow is computed in f64 and rounded once (codegen/MathLib.cpp's
// powF32), where libm's powf was a call per lane: a [2048, 1024] step of
// pow(x * w, 3.0) was slower than PyTorch's. It must round as a correctly
// rounded pow would, but for near-ties, and follow C's rules at every
// special value.
TEST(MathLib, FloatPow) {
  std::mt19937 rng(7);
  std::vector<float> xs, ys;
  auto add = [&](float x, float y) { xs.push_back(x), ys.push_back(y); };
  std::uniform_real_distribution<float> base(1e-3f, 100.f), expo(-12.f, 12.f), wide(-80.f, 80.f);
  for (int k = 0; k < 20001; ++k) add(base(rng), expo(rng));
  for (int k = 0; k < 5001; ++k) add(std::ldexp(base(rng), int(wide(rng))), expo(rng) / 4); // results near the ends
  for (int k = 0; k < 5001; ++k) add(-base(rng), std::round(expo(rng))); // negative bases, whole exponents
  for (int k = 0; k < 2001; ++k) add(1 + (base(rng) - 50) * 1e-6f, wide(rng) * 1e4f); // near 1, big exponents
  std::vector<float> got = predictY("pow(x, z)", "f32", xs, &ys);
  ASSERT_EQ(got.size(), xs.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < xs.size(); ++i)
    if (double u = ulps(got[i], std::pow(double(xs[i]), double(ys[i]))); u > worst) worst = u, at = i;
  EXPECT_LE(worst, 0.501) << "pow(" << xs[at] << ", " << ys[at] << ") = " << got[at] << " is " << worst << " ulp off";

  // Constant exponents: whole and half ones up to 8 are f64 products (of
  // √x for a half), others exp·log; special bases too.
  std::vector<float> bases;
  for (int k = 0; k < 4001; ++k) bases.push_back((k % 2 ? -1 : 1) * std::ldexp(base(rng), int(wide(rng) / 8)));
  for (float v : {0.f, -0.f, 1.f, -1.f, INFINITY, -INFINITY, NAN, std::numeric_limits<float>::max(),
                  -std::numeric_limits<float>::max(), 1e-45f, -1e-45f})
    bases.push_back(v);
  for (float n : {-8.f, -7.f, -3.f, -2.f, -1.f, 1.f, 2.f, 3.f, 5.f, 8.f, 0.5f, -0.5f, 1.5f, -1.5f, 7.5f, -7.5f, 2.25f,
                  9.f, 0.f}) {
    std::vector<float> p = predictY("pow(x, " + std::to_string(n) + ")", "f32", bases);
    ASSERT_EQ(p.size(), bases.size());
    for (size_t i = 0; i < bases.size(); ++i) {
      double want = std::pow(double(bases[i]), double(n));
      if (std::isnan(want)) EXPECT_TRUE(std::isnan(p[i])) << "pow(" << bases[i] << ", " << n << ") = " << p[i];
      else EXPECT_LE(ulps(p[i], want), 0.501) << "pow(" << bases[i] << ", " << n << ") = " << p[i];
    }
  }

  // Every pair of special values, against libm's powf. (The sign of a
  // zero result does not survive y = pow(x, z) + p.)
  const float inf = INFINITY, nan = NAN, big = std::numeric_limits<float>::max();
  const float sp[] = {0.f, -0.f, 1.f, -1.f, 0.5f, -0.5f, 2.f, -2.f, 3.f, -3.f, 2.5f, -2.5f,
                      inf, -inf, nan, big, -big, 1e-45f, -1e-45f, 16777216.f, 16777217.f, -16777215.f};
  xs.clear(), ys.clear();
  for (float x : sp)
    for (float y : sp) add(x, y);
  got = predictY("pow(x, z)", "f32", xs, &ys);
  ASSERT_EQ(got.size(), xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    float want = std::pow(xs[i], ys[i]);
    if (std::isnan(want)) EXPECT_TRUE(std::isnan(got[i])) << "pow(" << xs[i] << ", " << ys[i] << ") = " << got[i];
    else EXPECT_EQ(got[i], want) << "pow(" << xs[i] << ", " << ys[i] << ")";
  }
}
