//===- tests/modelgen/GeneratorImpl.h - the generator's pool and rules ----===//
//
// The inside of Generator.h's generator, shared by the files that define
// its rules:
//   Generator.cpp        the model's skeleton: constants, inputs and
//                        parameters, the pool of values, domain guards, the
//                        step that picks a rule, user functions, the loss,
//                        outputs, metrics, optimizer and data block;
//   GeneratorOps.cpp     elementwise rules, comparisons and where,
//                        reductions, indexing, sizes, if and for;
//   GeneratorLayers.cpp  matmul, linear, layer norm, softmax, dropout,
//                        reshape, transpose, concat, gather and onehot.
// A new rule is a method here, its definition in the file of its kind, and
// a row in Generator::step's table.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Generator.h"

#include "ir/Ops.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <numeric>
#include <optional>
#include <random>
#include <vector>

namespace gradc::modelgen::detail {

using Shape = std::vector<int64_t>;

/// Largest tensor the generator makes: models stay small so that a
/// campaign checks many of them.
constexpr int64_t kMaxElements = 512;
constexpr size_t kMaxRank = 4;

inline int64_t numel(const Shape &s) { return std::accumulate(s.begin(), s.end(), int64_t(1), std::multiplies<>()); }

/// NumPy broadcasting, as Sema does it (ir/Types.h).
inline std::optional<Shape> broadcast(const Shape &a, const Shape &b) {
  auto d = broadcastShapes(a, b);
  if (!d) return std::nullopt;
  return Shape(d->begin(), d->end());
}

inline std::string list(const std::vector<int64_t> &v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

/// A number as the language writes it: shortest form that reads back.
inline std::string num(double v) {
  std::string s = fmt::format("{:.6g}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

enum class Ty { Float, Int, Bool };

/// A value in the pool: a variable of the model (or of the function being
/// generated), its type, and bounds on its elements.
struct Val {
  std::string name;
  Ty ty = Ty::Float;
  Shape shape;
  double lo = 0, hi = 0;
  bool plateau = false; // flat pieces or repeated values: no max/maximum/abs over it
  bool grad = false;    // some parameter's gradient flows through it
  int uses = 0;
  std::string same;     // the variable it equals (v = stop_gradient(x): x), or ""
  double mag() const { return std::max(std::fabs(lo), std::fabs(hi)); }
};

/// An expression being built: its text and what it computes.
struct Ex {
  std::string text;
  Shape shape;
  double lo, hi;
  bool plateau = false, grad = false;
  bool simple = true; // a name or number: no parentheses needed
  std::string same;   // the variable its value equals (identity, stop_gradient), or ""
  double mag() const { return std::max(std::fabs(lo), std::fabs(hi)); }
  /// What it equals: two arguments with one value tie at every element.
  const std::string &value() const { return same.empty() ? text : same; }
};

/// The op table's elementwise ops that source spells as functions and that
/// map floats to floats (not hash, which takes i32: dropout uses it).
inline std::vector<const OpInfo *> tableOps() {
  std::vector<const OpInfo *> out;
  for (unsigned k = 0; k < kNumOps; ++k) {
    const OpInfo &op = opInfo(OpKind(k));
    if (!op.has(Elementwise) || !op.fold || !isFunctionSurface(op)) continue;
    llvm::SmallVector<TensorType, 3> floats(op.arity, TensorType(DType::F64, {}));
    auto t = inferType(op.kind, floats, {}, nullptr);
    if (!t) llvm::consumeError(t.takeError());
    else if (isFloat(t->dtype)) out.push_back(&op);
  }
  return out;
}

/// The smallest and largest value of op over the box of operand
/// intervals, sampled on a grid (exact at the corners).
inline std::pair<double, double> sampleBounds(const OpInfo &op, const std::vector<Ex> &args) {
  int n = args.size() == 1 ? 33 : args.size() == 2 ? 9 : 5;
  double lo = INFINITY, hi = -INFINITY;
  std::vector<int> at(args.size(), 0);
  while (true) {
    double v[3];
    for (size_t i = 0; i < args.size(); ++i) v[i] = args[i].lo + (args[i].hi - args[i].lo) * at[i] / (n - 1);
    double y = op.fold(v);
    lo = std::min(lo, y), hi = std::max(hi, y);
    size_t i = 0;
    while (i < args.size() && ++at[i] == n) at[i++] = 0;
    if (i == args.size()) break;
  }
  return {lo, hi};
}


/// Where statements go: the model body, or a function body.
struct Scope {
  /// A deque: rules hold a Val * or Val & from the pool (an index input,
  /// a loss term's value) while adding parameters and bindings to it,
  /// which would move a vector's elements (seed 269 once read a moved-from
  /// name and wrote `gather(p9, )`).
  std::deque<Val> pool;
  std::vector<std::string> lines;
  int indent = 1;
  bool inFunction = false;
  std::string fnInput; // the function's argument, whose dims params may use
};

class Generator {
public:
  explicit Generator(uint64_t seed) : rng(seed), seed(seed) {}

  GeneratedModel run();

private:
  //===--- randomness ------------------------------------------------------===//

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }
  int between(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
  template <typename T> const T &oneOf(const std::vector<T> &v) { return v[between(0, int(v.size()) - 1)]; }
  void feature(const std::string &f) { ++features[f]; }

  //===--- constants, inputs, parameters ----------------------------------===//

  void chooseConstants();

  /// A dimension: one of the constants (written by name) or a literal.
  std::pair<int64_t, std::string> dim();

  std::string fresh(const char *prefix) { return prefix + std::to_string(++counter); }

  std::string typeText(const std::string &dtype, const std::vector<std::string> &dims);

  void declareInputs(Scope &s);

  /// A new parameter of `shape`; returns its name. Its bounds cover the
  /// initialiser plus the oracles' noise (0.1 standard deviations).
  Val param(Scope &s, const Shape &shape);
  void longAxis(Scope &s);

  //===--- the pool ------------------------------------------------------------===//

  void emit(Scope &s, const std::string &line) { s.lines.push_back(std::string(2 * s.indent, ' ') + line); }

  /// A float value, preferring ones nothing reads yet and recent ones.
  Val *pickFloat(Scope &s, const std::function<bool(const Val &)> &ok = nullptr);

  Ex use(Val &v);

  static std::string paren(const Ex &e) { return e.simple ? e.text : "(" + e.text + ")"; }

  /// Binds `e` to a new variable and adds it to the pool.
  Val &bind(Scope &s, const Ex &e, const char *prefix = "v");

  //===--- guards ----------------------------------------------------------------===//

  /// `e` scaled or squashed so no element exceeds m in magnitude.
  Ex bounded(const Ex &e, double m);

  /// `e` made positive, at least 0.05, for log, sqrt and divisors.
  Ex positive(const Ex &e);

  /// `e` plus a six-digit offset in [0.2, 0.8], before an op that jumps
  /// (floor, sign, `%`, `//`): a value that is a whole number or 0 by
  /// construction (tanh saturated at 1 in f32 only, a log_softmax over one
  /// element at ±1e-16) sits on the jump, and lands on either side by
  /// rounding (seeds 101505 and 101359).
  Ex offJumps(const Ex &e);

  //===--- one step ----------------------------------------------------------------===//

  void step(Scope &s);

  /// An operand for a binary op with `a`: a value that broadcasts with it,
  /// a number, or a new parameter of a shape that broadcasts to a's.
  Ex partner(Scope &s, const Ex &a, bool allowNumber = true);

  //===--- rules: elementwise, reductions, control (GeneratorOps.cpp) --------===//

  bool unary(Scope &s);
  bool binary(Scope &s);
  /// Every elementwise op of the table that source spells as a function
  /// (exp, maximum, erf, ...): operands kept in its domain (ir/Ops.def),
  /// bounds found by evaluating its scalar semantics over the operands'
  /// intervals, inputs squashed until the result stays below 1e3.
  bool tableOp(Scope &s);
  /// pow over a value with exact zeros (relu's, or a where's), where x^y's
  /// gradients are 0·∞ in the naive formulas: y·x^(y-1) at y = 0, and
  /// x^y·log x for the exponent. PyTorch defines both as 0, and a learnt
  /// exponent over relu (GeM pooling) once trained to NaN there; random
  /// points never hit x = 0 exactly, so this rule makes them on purpose.
  bool zeroBase(Scope &s);
  /// A comparison (possibly combined with &&, || or !) selecting between
  /// two values, or turned into a float mask.
  bool whereRule(Scope &s);
  /// Axes to reduce: a subset of 0..rank-1 written as one axis, a list,
  /// negative numbers, or left out (all).
  std::string axesText(size_t rank, std::vector<int64_t> &axes);
  bool reduce(Scope &s);
  bool index(Scope &s);
  /// numel, dim, shape and full: sizes as numbers, constants as tensors.
  bool sizes(Scope &s);
  /// The builtins that convert and inspect: i32 (truncating, a stepped
  /// value), a round trip through f64, len of a shape, training(), hash.
  bool conversions(Scope &s);
  /// `if` on a constant: the branches compute different things of one shape.
  bool ifRule(Scope &s);
  /// A running sum over the first axis, unrolled: s = x[0]; s = s + x[i].
  bool sumLoop(Scope &s);
  /// An integrator's steps, unrolled: h = h + c_i * tanh(h @ W), each step
  /// with its own constant c_i (a time, a divisor, a mask position), so
  /// that its kernels differ from the other steps' only in constants and
  /// share one function (codegen/EmitModule.cpp).
  bool timeLoop(Scope &s);

  //===--- rules: layers and shapes (GeneratorLayers.cpp) --------------------===//

  bool matmul(Scope &s);
  bool attention(Scope &s);
  bool linear(Scope &s);
  /// dropout(x, p): its mask is fixed for a step (a hash of seed, step,
  /// call site and element), so to every oracle here it is x times a
  /// constant mask; @eval and @predict have none.
  bool dropoutRule(Scope &s);
  bool layerNorm(Scope &s);
  bool softmax(Scope &s);
  bool reshape(Scope &s);
  bool transpose(Scope &s);
  bool concat(Scope &s);
  /// Shifted copies of a value along one axis, joined by concat: a roll
  /// (`concat([h[:, k:], h[:, :k]], 1)`) or a 3-point stencil with edge or
  /// zero padding, repeated in a loop: a convolution stack written by
  /// hand. Each layer reads its input at three offsets, which fusion must
  /// either store or recompute (robustness/conv_stack.test, rolls.test).
  bool stencil(Scope &s);
  /// `x[:, lo:hi]`: a slice along `axis` only, the axes after it left out.
  std::string sliceAlong(const std::string &x, size_t axis, int64_t lo, int64_t hi, int64_t n);
  Val *intInput(Scope &s);
  bool gather(Scope &s);
  bool onehot(Scope &s);

  //===--- user functions ------------------------------------------------------------===//

  /// Defines a function for arguments of one shape and calls it: through
  /// a scope, or in a loop stamping out layers.
  bool callFunction(Scope &s);

  std::string defineFunction(const Shape &shape, bool &hasParams);

  //===--- the loss, outputs, metrics, optimizer and data ----------------------------===//

  /// One scalar term of the loss from v, of moderate size.
  std::string lossTerm(Scope &s, Val &v);

  void finish(Scope &s);

  void train(Scope &s);

  /// A generated dataset, when every input is a float.
  void data(Scope &s);

  std::mt19937_64 rng;
  uint64_t seed;
  std::string fty;
  int64_t batch = 2, vocab = 0;
  /// The i32 input's first value: its uses shift it to 0 (labels 1..V
  /// read as t - 1), so the compiler must find a range that starts there.
  int64_t indexBase = 0;
  /// How an index use reads the i32 input `idx`: t, (t - 1), (t + 2).
  std::string indexText(const Val &idx) const {
    if (indexBase == 0) return idx.name;
    return "(" + idx.name + (indexBase > 0 ? " - " : " + ") + std::to_string(std::abs(indexBase)) + ")";
  }
  int counter = 0;
  std::vector<std::pair<std::string, int64_t>> consts;
  std::vector<std::string> annotations, functions, outputs;
  std::vector<Shape> floatInputs;
  std::vector<std::pair<std::string, Shape>> longInputs; // longAxis's, outside the pool
  Shape fnInputShape;
  std::map<std::string, int> features;
};

} // namespace gradc::modelgen::detail
