//===- frontend/SemaBuiltins.cpp - the primitives the language offers -----===//
//
// Builtins are the small set of primitives everything else is written in;
// the prelude (frontend/Prelude.grad) builds softmax, layer norm, GELU,
// cross-entropy and the rest from them, in the language itself. Elementwise
// builtins (exp, maximum, erf, ...) are the ops of ir/Ops.def whose rows
// give a function surface, handled alike by callOp; the builtins below are
// the ones with shapes, axes, lists or initialisers to handle.
//
//===----------------------------------------------------------------------===//
#include "frontend/SemaImpl.h"
#include "ir/ConstantElements.h"
#include "ir/Declarations.h"
#include "llvm/ADT/StringExtras.h"

#include <cmath>
#include <numeric>

namespace gradc {

enum class Builtin : uint8_t {
  Where,
  Sum, Max, Numel, Dim, Shape, DTypeOf, Len,
  Reshape, Transpose, Concat,
  Arange, OneHot, Gather, Float, ToI32, ToF32, ToF64, Full,
  RandUniform, RandNormal, RandBits, Training,
  InitNormal, InitUniform, InitConstant, Error,
};

namespace {
struct BuiltinInfo {
  const char *name;
  Builtin id;
  std::vector<std::string> params;
  size_t required;
  const char *help;
};

const std::vector<BuiltinInfo> &builtinTable() {
  static const std::vector<BuiltinInfo> table = {
      {"where", Builtin::Where, {"cond", "a", "b"}, 3, "a where cond is true, else b"},
      {"sum", Builtin::Sum, {"x", "axis", "keepdims"}, 1, "sum over axes (default: all)"},
      {"max", Builtin::Max, {"x", "axis", "keepdims"}, 1, "maximum over axes (default: all)"},
      {"numel", Builtin::Numel, {"x", "axis"}, 1, "number of elements over axes (default: all)"},
      {"dim", Builtin::Dim, {"x", "axis"}, 2, "size of one dimension"},
      {"shape", Builtin::Shape, {"x"}, 1, "the shape as a list"},
      {"dtype", Builtin::DTypeOf, {"x"}, 1, "the element type as a string: \"f32\", \"f64\", \"i32\" or \"bool\" (\"number\", \"none\", \"string\", \"list\" or \"function\" for what is no tensor)"},
      {"len", Builtin::Len, {"x"}, 1, "the number of items of a list, or bytes of a string"},
      {"reshape", Builtin::Reshape, {"x", "shape"}, 2, "same elements, new shape (one -1 is inferred)"},
      {"transpose", Builtin::Transpose, {"x", "perm"}, 1, "permute axes (default: swap the last two)"},
      {"concat", Builtin::Concat, {"xs", "axis"}, 1, "join a list of tensors along an axis"},
      {"arange", Builtin::Arange, {"n"}, 1, "i32[n] holding 0, 1, ..., n-1"},
      {"onehot", Builtin::OneHot, {"idx", "n"}, 2, "float one-hot vectors of length n"},
      {"gather", Builtin::Gather, {"table", "idx"}, 2, "rows of table picked by i32 indices (embedding lookup)"},
      {"float", Builtin::Float, {"x"}, 1, "convert to the model's float type"},
      {"i32", Builtin::ToI32, {"x"}, 1, "convert to i32: toward zero, saturating at the i32 range, NaN to 0"},
      {"f32", Builtin::ToF32, {"x"}, 1, "convert to f32 (nearest)"},
      {"f64", Builtin::ToF64, {"x"}, 1, "convert to f64"},
      {"full", Builtin::Full, {"shape", "value"}, 2, "a constant tensor"},
      {"rand_uniform", Builtin::RandUniform, {"shape", "low", "high"}, 1, "uniform random numbers on [low, high) (default [0, 1))"},
      {"rand_normal", Builtin::RandNormal, {"shape", "mean", "std"}, 1, "normal random numbers (default mean 0, std 1)"},
      {"rand_bits", Builtin::RandBits, {"shape"}, 1, "i32 random bits, every value equally likely (the model only)"},
      {"training", Builtin::Training, {}, 0, "true while training (train, gradients), false in eval, predict and sample"},
      {"normal", Builtin::InitNormal, {"std"}, 1, "initialiser: normal with mean 0"},
      {"uniform", Builtin::InitUniform, {"low", "high"}, 2, "initialiser: uniform on [low, high)"},
      {"constant", Builtin::InitConstant, {"value"}, 1, "initialiser: every element equal"},
      {"error", Builtin::Error, {"message", "value"}, 1, "stop with this message (and the value, if given): checks in your own functions"},
  };
  return table;
}
} // namespace

std::optional<Builtin> SemaImpl::findBuiltin(llvm::StringRef name) const {
  for (auto &b : builtinTable())
    if (name == b.name) return b.id;
  return std::nullopt;
}

void SemaImpl::considerBuiltins(NearMiss &near) const {
  for (auto &b : builtinTable()) near.consider(b.name);
  for (unsigned k = 0; k < kNumOps; ++k)
    if (const OpInfo &op = opInfo(OpKind(k)); isFunctionSurface(op)) near.consider(surfaceName(op));
}

std::optional<OpKind> SemaImpl::findOpBuiltin(llvm::StringRef name) const {
  auto k = opForSurface(name);
  if (!k || !isFunctionSurface(opInfo(*k))) return std::nullopt;
  return k;
}

/// Whether op k maps integers to integers (abs, maximum, //): its type rule
/// takes i32 operands and gives i32.
static bool integerClosed(OpKind k) {
  const OpInfo &op = opInfo(k);
  llvm::SmallVector<TensorType, 3> ints(op.arity, TensorType(DType::I32, {}));
  auto t = inferType(k, ints, {}, nullptr);
  if (!t) {
    llvm::consumeError(t.takeError());
    return false;
  }
  return t->dtype == DType::I32;
}

Value SemaImpl::callOp(OpKind k, const ast::CallExpr &call) {
  const OpInfo &op = opInfo(k);
  std::string name = surfaceName(op).str();
  std::vector<std::string> params = surfaceParams(op);
  BoundArgs a;
  if (!bindArgs(params, params.size(), call, name, a)) return Value::error();
  llvm::SMLoc loc = call.calleeLoc;
  // Numbers: the op's scalar semantics, at compile time.
  if (llvm::all_of(a.values, [](const Value &v) { return v.isNumber(); })) {
    llvm::SmallVector<double, 3> x;
    for (auto &v : a.values) x.push_back(v.asDouble());
    double r = op.fold(x.data());
    // As `1e308 * 10` is refused: exp(1000.0), log(0.0) and sqrt(-1.0)
    // folded to inf or NaN in silence, and predict printed -nan.
    if (!std::isfinite(r)) {
      std::string args;
      for (auto &v : a.values) args += (args.empty() ? "" : ", ") + describe(v);
      return error(loc, "'" + name + "' of " + args + " is " + (std::isnan(r) ? "not a number (NaN)" : "infinite") +
                            ": a constant must be a finite number",
                   {call.range});
    }
    if (!llvm::all_of(a.values, [](const Value &v) { return v.kind == Value::Int; }) || !integerClosed(k))
      return Value::number(r);
    if (!std::isfinite(r) || std::fabs(r) > 9007199254740992.0)
      return error(loc, "'" + name + "' of these integers has no integer result", {call.range});
    return Value::integer(int64_t(r));
  }
  // clamp(x, 1, -1) made every element -1, with no gradient: a mistake
  // (as uniform(2, 1) is), not a model.
  if (k == OpKind::Clamp && a.values[1].isNumber() && a.values[2].isNumber() &&
      a.values[1].asDouble() > a.values[2].asDouble())
    return error(a.values[1].range.Start.isValid() ? a.values[1].range.Start : loc,
                 "clamp's low (" + describe(a.values[1]) + ") is above its high (" + describe(a.values[2]) +
                     "): every element would be " + attrValueStr(a.values[2].asDouble()) + ", with no gradient",
                 {a.values[1].range, a.values[2].range});
  // Tensors: numbers adopt the dtype of the first tensor, all broadcast.
  const Value *first = nullptr;
  for (auto &v : a.values) {
    if (v.kind != Value::Tensor && !v.isNumber())
      return error(v.range.Start.isValid() ? v.range.Start : loc,
                   "'" + name + "' needs tensors or numbers, but this is " + describe(v), {v.range});
    if (v.kind == Value::Tensor && !first) first = &v;
  }
  DType dt = first->node->type.dtype;
  for (auto &v : a.values) {
    if (v.kind == Value::Tensor && v.node->type.dtype != dt)
      return error(loc, "the arguments of '" + name + "' have different dtypes: " + srcType(first->node->type) + " and " +
                            srcType(v.node->type), {first->range, v.range});
    if (v.kind == Value::Float && !isFloat(dt))
      return error(loc, "cannot combine " + srcType(first->node->type) + " with " + describe(v) + ", which is not an integer, in '" +
                            name + "'", {first->range, v.range});
  }
  llvm::SmallVector<TensorType, 3> types;
  for (size_t i = 0; i < a.values.size(); ++i) types.push_back(TensorType(dt, {}));
  if (auto t = inferType(k, types, {}, nullptr); !t) {
    llvm::consumeError(t.takeError());
    bool wantsFloat = !isFloat(dt) && [&] {
      llvm::SmallVector<TensorType, 3> fl(types.size(), TensorType(DType::F32, {}));
      auto f = inferType(k, fl, {}, nullptr);
      if (!f) llvm::consumeError(f.takeError());
      return bool(f);
    }();
    if (wantsFloat)
      return error(first->range.Start, "'" + name + "' needs a float tensor, got " + srcType(first->node->type) +
                                           "; convert it with float(...)", {first->range});
    // Name the dtype it takes (hash takes i32), with its conversion.
    std::string takes;
    for (DType d : {DType::I32, DType::I1, DType::F32, DType::F64}) {
      llvm::SmallVector<TensorType, 3> ts(types.size(), TensorType(d, {}));
      auto t = inferType(k, ts, {}, nullptr);
      if (!t) llvm::consumeError(t.takeError());
      else if (takes.empty()) takes = d == DType::I1 ? std::string("bool") : dtypeName(d).str();
    }
    if (takes.empty())
      return error(first->range.Start, "'" + name + "' cannot take " + srcType(first->node->type),
                   {first->range});
    std::string convert = takes == "bool" ? "compare it, as x > 0" : "convert it with " + takes + "(...)";
    return error(first->range.Start, "'" + name + "' needs " + (takes == "bool" ? "a " : "an ") + takes + " tensor, got " + srcType(first->node->type) +
                                         "; " + convert, {first->range});
  }
  setLoc(loc);
  llvm::SmallVector<Node *, 3> xs;
  if (!broadcastValues(a.values, dt, loc, "'" + name + "'", xs)) return Value::error();
  return Value::tensor(b().create(k, xs));
}

//===--- argument helpers -------------------------------------------------===//

bool SemaImpl::intArg(const Value &v, int64_t &out, llvm::SMLoc loc, llvm::StringRef what) {
  if (v.isError()) return false;
  if (v.kind != Value::Int) {
    // 6 + 2 * 1.5 is the float 9.0: one float makes the whole expression
    // one (K / 2 stays an integer only when 2 divides K).
    std::string hint = v.kind == Value::Float ? "; a float, even a whole one, is no integer: i32(...) converts it "
                                                 "(toward zero), and // divides integers"
                                               : "";
    error(v.range.Start.isValid() ? v.range.Start : loc, what + " must be an integer, got " + describe(v) + hint,
          {v.range});
    return false;
  }
  out = v.i;
  return true;
}

Node *SemaImpl::tensorArg(const Value &v, llvm::SMLoc loc, llvm::StringRef what, llvm::StringRef expected) {
  if (v.isError()) return nullptr;
  if (v.kind != Value::Tensor) {
    error(v.range.Start.isValid() ? v.range.Start : loc, what + " must be " + expected + ", got " + describe(v), {v.range});
    return nullptr;
  }
  return v.node;
}

bool SemaImpl::checkConstantIndices(const Value &v, int64_t limit, llvm::StringRef entries) {
  auto [it, fresh] = constantIndexRanges.try_emplace(v.node);
  if (fresh && indexElementsLeft > 0)
    if (auto xs = constantElements(v.node, std::min(kMaxIndexElements, indexElementsLeft)); xs && !xs->empty()) {
      indexElementsLeft -= int64_t(xs->size());
      auto [lo, hi] = std::minmax_element(xs->begin(), xs->end());
      it->second = {int64_t(*lo), int64_t(*hi)};
    }
  if (!it->second || (it->second->first >= 0 && it->second->second < limit)) return true;
  int64_t bad = it->second->first < 0 ? it->second->first : it->second->second;
  error(v.range.Start, "index " + llvm::Twine(bad) + " is out of range for " + llvm::Twine(limit) + " " + entries + " (0.." +
                           llvm::Twine(limit - 1) + ")",
        {v.range});
  return false;
}

bool SemaImpl::shapeArg(const Value &v, Dims &out, llvm::SMLoc loc) {
  if (v.kind == Value::Int) {
    out = {v.i};
    return v.i >= 1 || (error(loc, "a dimension must be positive", {v.range}), false);
  }
  if (v.kind != Value::List) {
    error(v.range.Start.isValid() ? v.range.Start : loc, "a shape is a list of integers, got " + describe(v), {v.range});
    return false;
  }
  out.clear();
  for (auto &item : v.items()) {
    int64_t d;
    if (!intArg(item, d, loc, "a dimension")) return false;
    out.push_back(d);
  }
  return true;
}

bool SemaImpl::checkSize(llvm::ArrayRef<int64_t> shape, DType dt, llvm::SMLoc loc, const llvm::Twine &what,
                         llvm::ArrayRef<llvm::SMRange> ranges) {
  // Too many dims for a program (the IR takes more, for the passes' views),
  // and too many to print (a list doubled in a loop: 262,144 of them).
  if (shape.size() > kMaxRank) {
    error(loc, what + ": a tensor of " + llvm::Twine(shape.size()) + " dims is too many: a tensor may have " +
                   llvm::Twine(kMaxRank) + " at most",
          ranges);
    return false;
  }
  std::string problem = sizeProblem(shape);
  if (problem.empty()) return true;
  // A zero or negative dimension is not a size problem: say what is wrong.
  bool notPositive = llvm::any_of(shape, [](int64_t d) { return d < 1; });
  error(loc, what + ": " + srcType(TensorType(dt, shape)) + (notPositive ? ": a dimension must be positive" : " is too large: " + problem),
        ranges);
  return false;
}

bool SemaImpl::axesArg(const Value &v, unsigned rank, std::vector<int64_t> &out, llvm::SMLoc loc, llvm::SMRange tensor) {
  out.clear();
  if (v.kind == Value::None) {
    for (unsigned i = 0; i < rank; ++i) out.push_back(i);
    return true;
  }
  std::vector<Value> items = v.kind == Value::List ? v.items() : std::vector<Value>{v};
  for (auto &item : items) {
    int64_t a;
    if (!intArg(item, a, loc, "an axis")) return false;
    if (a < -int64_t(rank) || a >= int64_t(rank)) {
      llvm::SmallVector<llvm::SMRange, 2> ranges{item.range};
      if (tensor.isValid()) ranges.push_back(tensor);
      error(item.range.Start.isValid() ? item.range.Start : loc,
            "axis " + llvm::Twine(a) + " is out of range for rank " + llvm::Twine(rank), ranges);
      return false;
    }
    int64_t axis = a < 0 ? a + rank : a;
    // sum(x, [1, -1]) is a slip, not a request to reduce axis 1 once
    // (NumPy and PyTorch refuse it too).
    if (llvm::is_contained(out, axis)) {
      error(item.range.Start.isValid() ? item.range.Start : loc,
            "axis " + llvm::Twine(a) + " is axis " + llvm::Twine(axis) + " of the rank-" + llvm::Twine(rank) +
                " value, which the list already names; name each axis once",
            {item.range});
      return false;
    }
    out.push_back(axis);
  }
  std::sort(out.begin(), out.end());
  return true;
}

Value SemaImpl::reduce(OpKind op, const Value &xv, const Value &axis, bool keepdims, llvm::SMLoc loc) {
  Node *x = tensorArg(xv, loc, "the reduced value");
  if (!x) return Value::error();
  if (x->type.dtype == DType::I1) return error(loc, "cannot reduce a bool tensor; convert it with float(...)", {xv.range});
  std::vector<int64_t> axes;
  if (!axesArg(axis, x->type.rank(), axes, loc, xv.range)) return Value::error();
  setLoc(loc);
  Node *r = b().reduce(op, x, axes);
  if (keepdims) return Value::tensor(r);
  Dims kept;
  for (unsigned i = 0; i < x->type.rank(); ++i)
    if (!llvm::is_contained(axes, int64_t(i))) kept.push_back(x->type.shape[i]);
  return Value::tensor(b().reshape(r, kept));
}

//===--- random numbers inside the model ----------------------------------===//

/// i32 bits for every element of `shape`: hash(element index, key), with
/// key = hash(hash(seed, step), call site). They depend on nothing but
/// (seed, step, call site, element), so one step draws the same numbers
/// wherever they are computed: in the forward and backward kernels (fusion
/// recomputes them rather than storing them), in @train and @grads alike,
/// and after a resume. `seed` and `step` are i32 leaves the runtime sets;
/// each call site (each evaluation of rand_uniform, so each dropout layer)
/// gets its own stream number.
bool SemaImpl::checkRandomSize(llvm::ArrayRef<int64_t> shape, llvm::SMLoc loc, const llvm::Twine &what,
                               llvm::ArrayRef<llvm::SMRange> ranges) {
  // randomBits hashes an i32 element index: past 2^31 elements its strides
  // were no i32 (an internal error), and past 2^32 the numbers repeated,
  // silently (a bad-inputs explorer's find).
  int64_t n = product(shape); // checkSize kept it below 2^37
  if (n <= INT32_MAX) return true;
  error(loc, what + ": " + llvm::Twine(n) + " random numbers are too many: each is drawn from its element's i32 "
                   "index, so one call may draw at most 2147483647; draw parts and concat them",
        ranges);
  return false;
}

Node *SemaImpl::randomBits(llvm::ArrayRef<int64_t> shape) {
  TensorType scalar(DType::I32, {}), t(DType::I32, shape);
  auto counter = [&](const char *name) {
    Node *h = graph->findLeaf(OpKind::Hyper, name);
    return h ? h : b().leaf(OpKind::Hyper, name, scalar);
  };
  Node *key = b().binary(OpKind::Hash, counter("seed"), counter("step"));
  key = b().binary(OpKind::Hash, key, b().constant(double(randomStreams++), scalar));
  // The row-major element index, sum of iota(axis) * stride(axis): [shape] i32.
  Node *index = nullptr;
  int64_t stride = 1;
  for (int i = int(shape.size()) - 1; i >= 0; --i) {
    Node *term = b().iota(t, i);
    if (stride != 1) term = b().mul(term, b().constant(double(stride), t));
    index = index ? b().add(index, term) : term;
    stride *= shape[size_t(i)];
  }
  if (!index) index = b().constant(0, t);
  return b().binary(OpKind::Hash, index, b().broadcastTo(key, shape));
}

/// Uniform on [0, 1] from i32 bits: bits / 2^32 + 1/2. Exact in f64, and
/// below 1; f32 rounds to 24 bits, so 0 and 1 themselves have probability
/// about 2^-26 (rand_uniform keeps its draws below `high`).
Node *SemaImpl::uniformFromBits(Node *bits) {
  TensorType t(opts.floatType, bits->type.shape);
  return b().add(b().scale(b().cast(bits, opts.floatType), 0x1p-32), b().constant(0.5, t));
}

//===--- dispatch ---------------------------------------------------------===//

Value SemaImpl::callBuiltin(Builtin id, const ast::CallExpr &call) {
  const BuiltinInfo *info = nullptr;
  for (auto &bi : builtinTable())
    if (bi.id == id) info = &bi;
  BoundArgs a;
  if (!bindArgs(info->params, info->required, call, info->name, a)) return Value::error();
  return applyBuiltin(id, a, call);
}

// Not inlined: arguments nest (exp(exp(...))), and evaluating them must not
// carry this function's large frame down every level of the recursion.
LLVM_ATTRIBUTE_NOINLINE Value SemaImpl::applyBuiltin(Builtin id, const BoundArgs &a, const ast::CallExpr &call) {
  const BuiltinInfo *info = nullptr;
  for (auto &bi : builtinTable())
    if (bi.id == id) info = &bi;
  llvm::SMLoc loc = call.calleeLoc;
  auto flag = [&](size_t i, bool &out) {
    if (!a.has(i)) return true;
    if (a[i].kind != Value::Bool) {
      error(a[i].range.Start, std::string(info->params[i]) + " must be true or false", {a[i].range});
      return false;
    }
    out = a[i].b;
    return true;
  };

  switch (id) {
  case Builtin::Where: {
    // A condition known at compile time picks its branch, so a function
    // built on where (the prelude's sigmoid) also takes plain numbers, and
    // `where(b == none, x, b)` its default. A number picked against a
    // tensor branch is that tensor's shape and dtype, filled: where(true,
    // 1, t) was the number 1, and `mean` of it failed.
    if (a[0].kind == Value::Bool) {
      const Value &picked = a[0].b ? a[1] : a[2], &other = a[0].b ? a[2] : a[1];
      if (picked.isNumber() && other.kind == Value::Tensor) {
        setLoc(loc);
        return Value::tensor(b().constant(picked.kind == Value::Float ? picked.f : double(picked.i), other.node->type));
      }
      return picked;
    }
    Node *c = tensorArg(a[0], loc, "the condition");
    if (!c) return Value::error();
    if (c->type.dtype != DType::I1)
      return error(a[0].range.Start, "the condition of where must be a bool tensor, got " + srcType(c->type), {a[0].range});
    // Each branch is a tensor or a number (a string or a list became the
    // constant 0.0, silently); true and false go with a bool tensor.
    // where(m, true, false) is a bool tensor (it was refused).
    bool bools = a[1].kind == Value::Bool && a[2].kind == Value::Bool;
    DType dt = a[1].kind == Value::Tensor ? a[1].node->type.dtype
               : a[2].kind == Value::Tensor ? a[2].node->type.dtype
               : bools                      ? DType::I1
                                            : opts.floatType;
    for (const Value *v : {&a[1], &a[2]}) {
      bool boolWithBool = v->kind == Value::Bool && dt == DType::I1;
      if (v->kind != Value::Tensor && !v->isNumber() && !boolWithBool)
        return error(v->range.Start.isValid() ? v->range.Start : loc,
                     "where needs numbers or tensors for its branches, but this is " + describe(*v), {v->range});
      // As in arithmetic: 1.5 in an i32 branch was an invalid constant.
      if (v->kind == Value::Float && dt == DType::I32) {
        const Value &t = v == &a[1] ? a[2] : a[1];
        error(loc, "cannot combine " + srcType(t.node->type) + " with " + describe(*v) +
                       ", which is not an integer, in where",
              {a[1].range, a[2].range});
        note(loc, "choose between floats: float(...) on the " + srcType(t.node->type) + " branch");
        return Value::error();
      }
    }
    // Branches: make them one dtype and shape via the arithmetic rules, then
    // broadcast all three together.
    if (a[1].kind == Value::Tensor && a[2].kind == Value::Tensor && a[1].node->type.dtype != a[2].node->type.dtype)
      return error(loc, "the branches of where have different dtypes: " + srcType(a[1].node->type) + " and " +
                            srcType(a[2].node->type), {a[1].range, a[2].range});
    setLoc(loc);
    llvm::SmallVector<Node *, 3> cxy;
    if (!broadcastValues({a[0], a[1], a[2]}, dt, loc, "where", cxy)) return Value::error();
    // The condition keeps its own dtype (i1); broadcastValues only casts numbers.
    return Value::tensor(b().select(cxy[0], cxy[1], cxy[2]));
  }
  case Builtin::Sum:
  case Builtin::Max: {
    // max(h, 0.0), max(a, b): an elementwise maximum, written as
    // PyTorch's torch.max(a, b). Told it was no integer axis, with a hint
    // to convert it with i32(...).
    if (id == Builtin::Max && (a[1].kind == Value::Float || a[1].kind == Value::Tensor))
      return error(a[1].range.Start.isValid() ? a[1].range.Start : loc,
                   "max's second argument is the axis to take the largest along, but this is " + describe(a[1]),
                   {a[1].range}, {{loc, "the larger of two values, element by element, is maximum(a, b)"}});
    bool keep = false;
    if (!flag(2, keep)) return Value::error();
    return reduce(id == Builtin::Sum ? OpKind::ReduceSum : OpKind::ReduceMax, a[0], a[1], keep, loc);
  }
  case Builtin::Numel: {
    // A number is one element, as a scalar tensor is (mse(pred, 0.0)).
    if (a[0].isNumber() && a[1].kind == Value::None) return Value::integer(1);
    Node *x = tensorArg(a[0], loc, "the argument");
    std::vector<int64_t> axes;
    if (!x || !axesArg(a[1], x->type.rank(), axes, loc, a[0].range)) return Value::error();
    int64_t n = 1;
    for (int64_t ax : axes) n *= x->type.shape[ax];
    return Value::integer(n);
  }
  case Builtin::Dim: {
    Node *x = tensorArg(a[0], loc, "the argument");
    std::vector<int64_t> axes;
    if (!x || !axesArg(a[1], x->type.rank(), axes, loc, a[0].range)) return Value::error();
    if (axes.size() != 1) return error(loc, "dim takes one axis", {a[1].range});
    return Value::integer(x->type.shape[axes[0]]);
  }
  case Builtin::Len: {
    // -D widths=[4, 4, 2] then needs no second constant for its length.
    if (a[0].kind == Value::List) return Value::integer(int64_t(a[0].items().size()));
    if (a[0].kind == Value::Str) return Value::integer(int64_t(a[0].s.size()));
    return error(a[0].range.Start,
                 "len takes a list or a string, got " + describe(a[0]) +
                     (a[0].kind == Value::Tensor ? " (dim(x, 0) or numel(x) give a tensor's sizes)" : ""),
                 {a[0].range});
  }
  case Builtin::Shape: {
    Node *x = tensorArg(a[0], loc, "the argument");
    if (!x) return Value::error();
    std::vector<Value> dims;
    for (int64_t d : x->type.shape) dims.push_back(Value::integer(d));
    return Value::makeList(std::move(dims));
  }
  case Builtin::DTypeOf: {
    // For a function's checks of its arguments (cross_entropy's targets,
    // layer_norm's eps): a compile-time number is "number".
    if (a[0].isNumber()) return Value::string("number");
    // And what is no tensor says what it is, so a prelude function's check
    // (softmax's "takes float scores") lets the function's own message
    // about it stand.
    if (a[0].kind == Value::None) return Value::string("none");
    if (a[0].kind == Value::Bool) return Value::string("bool");
    if (a[0].kind == Value::Str) return Value::string("string");
    if (a[0].kind == Value::List) return Value::string("list");
    if (a[0].kind == Value::Func) return Value::string("function");
    Node *x = tensorArg(a[0], loc, "the argument");
    if (!x) return Value::error();
    return Value::string(x->type.dtype == DType::I1 ? std::string("bool") : dtypeName(x->type.dtype).str());
  }
  case Builtin::Reshape: {
    Node *x = tensorArg(a[0], loc, "the reshaped value");
    if (!x || a[1].kind != Value::List) {
      if (x) error(a[1].range.Start, "reshape needs a list of dimensions, got " + describe(a[1]), {a[1].range});
      return Value::error();
    }
    Dims shape;
    int infer = -1;
    for (size_t i = 0; i < a[1].items().size(); ++i) {
      int64_t d;
      if (!intArg(a[1].items()[i], d, loc, "a dimension")) return Value::error();
      if (d == -1 && infer < 0) infer = i;
      else if (d < 1) return error(a[1].items()[i].range.Start, "a dimension must be positive (or one -1)", {a[1].items()[i].range});
      shape.push_back(d);
    }
    if (shape.size() > kMaxRank)
      return error(a[1].range.Start, "reshape: a tensor of " + llvm::Twine(shape.size()) +
                                         " dims is too many: a tensor may have " + llvm::Twine(kMaxRank) + " at most",
                   {a[1].range});
    // The written dims, multiplied without overflow: more than kMaxElements
    // cannot match x's count anyway.
    Dims written = shape;
    if (infer >= 0) written.erase(written.begin() + infer);
    std::optional<int64_t> known = checkedNumel(written);
    if (known && infer >= 0 && x->type.numel() % *known == 0) shape[infer] = x->type.numel() / *known;
    if (!known || (infer >= 0 && shape[infer] < 1) || product(shape) != x->type.numel())
      return error(loc, "cannot reshape " + srcType(x->type) + " (" + llvm::Twine(x->type.numel()) +
                            (x->type.numel() == 1 ? " element) to " : " elements) to ") +
                            shapeStr(shape), {call.range});
    setLoc(loc);
    return Value::tensor(b().reshape(x, shape));
  }
  case Builtin::Transpose: {
    Node *x = tensorArg(a[0], loc, "the transposed value");
    if (!x) return Value::error();
    unsigned r = x->type.rank();
    std::vector<int64_t> perm(r);
    std::iota(perm.begin(), perm.end(), 0);
    if (!a.has(1)) {
      if (r < 2) return error(loc, "transpose needs rank 2 or more, got " + srcType(x->type), {a[0].range});
      std::swap(perm[r - 1], perm[r - 2]);
    } else {
      // A permutation, not a shape: shapeArg's "a dimension must be
      // positive" said nothing useful about transpose(x, 0).
      std::string example;
      for (unsigned i = r; i-- > 0;) example += std::to_string(i) + (i ? ", " : "");
      if (a[1].kind != Value::List)
        return error(a[1].range.Start.isValid() ? a[1].range.Start : loc,
                     "transpose takes a permutation of the " + llvm::Twine(r) + " axes of " + srcType(x->type) +
                         " as a list, e.g. [" + example + "], but this is " + describe(a[1]),
                     {a[1].range});
      Dims p;
      for (auto &item : a[1].items()) {
        int64_t axis;
        if (!intArg(item, axis, loc, "an axis of the permutation")) return Value::error();
        p.push_back(axis);
      }
      std::vector<bool> seen(r);
      bool ok = p.size() == r;
      for (size_t i = 0; ok && i < p.size(); ++i) {
        int64_t v = p[i] < 0 ? p[i] + r : p[i];
        ok = v >= 0 && v < int64_t(r) && !seen[v];
        if (ok) seen[v] = true, perm[i] = v;
      }
      if (!ok) return error(a[1].range.Start, "not a permutation of the " + llvm::Twine(r) + " axes of " + srcType(x->type), {a[1].range});
    }
    setLoc(loc);
    return Value::tensor(b().transpose(x, perm));
  }
  case Builtin::Concat: {
    if (a[0].kind != Value::List || a[0].items().empty())
      return error(loc, "concat needs a non-empty list of tensors", {a[0].range});
    std::vector<Node *> xs;
    for (auto &item : a[0].items()) {
      Node *x = tensorArg(item, loc, "each concatenated value");
      if (!x) return Value::error();
      xs.push_back(x);
    }
    // One axis: a list (or none, which axesArg reads as every axis) would
    // leave no single axis to join along.
    Value axisV = a.has(1) ? a[1] : Value::integer(0);
    if (axisV.kind != Value::Int)
      return error(axisV.range.Start.isValid() ? axisV.range.Start : loc,
                   "concat joins along one axis, an integer, but this is " + describe(axisV), {axisV.range});
    std::vector<int64_t> axes;
    if (!axesArg(axisV, xs[0]->type.rank(), axes, loc)) return Value::error();
    llvm::SmallVector<TensorType, 4> types;
    for (Node *x : xs) types.push_back(x->type);
    Attrs at;
    at.set(AttrKey::Axis, axes[0]);
    auto t = inferType(OpKind::Concat, types, at, nullptr);
    if (!t) {
      std::string list;
      for (auto &ty : types) list += (list.empty() ? "" : ", ") + srcType(ty);
      llvm::consumeError(t.takeError());
      // Say what differs: the ranks or dtypes, else the first dimension
      // other than the axis whose sizes differ.
      std::string why;
      for (size_t k = 1; k < types.size() && why.empty(); ++k) {
        if (types[k].dtype != types[0].dtype) why = "their dtypes differ";
        else if (types[k].rank() != types[0].rank()) why = "their ranks differ";
        else
          for (unsigned d = 0; d < types[0].rank() && why.empty(); ++d)
            if (int64_t(d) != axes[0] && types[k].shape[d] != types[0].shape[d])
              why = "dimension " + std::to_string(d) + " differs (" + std::to_string(types[0].shape[d]) + " and " +
                    std::to_string(types[k].shape[d]) + "); every dimension but the axis must match";
      }
      return error(loc, "cannot concatenate " + list + " along axis " + llvm::Twine(axes[0]) + (why.empty() ? "" : ": " + why),
                   {call.range});
    }
    if (!checkSize(t->shape, t->dtype, loc, "concat", {call.range})) return Value::error();
    setLoc(loc);
    std::vector<Node *> ops(xs.begin(), xs.end());
    return Value::tensor(b().create(OpKind::Concat, ops, at));
  }
  case Builtin::Arange: {
    int64_t n;
    if (!intArg(a[0], n, loc, "the length")) return Value::error();
    if (n < 1) return error(a[0].range.Start, "arange needs a positive length", {a[0].range});
    // Its values are i32: n - 1 must be one (it wrapped to -2^31 past it).
    if (n - 1 > int64_t(INT32_MAX))
      return error(a[0].range.Start,
                   "arange makes i32 values, so its length is at most 2147483648 (values 0 to 2147483647), not " +
                       std::to_string(n),
                   {a[0].range});
    if (!checkSize({n}, DType::I32, loc, "arange", {a[0].range})) return Value::error();
    setLoc(loc);
    return Value::tensor(b().iota(TensorType(DType::I32, {n}), 0));
  }
  case Builtin::OneHot: {
    Node *idx = tensorArg(a[0], loc, "the indices");
    int64_t n;
    if (!idx || !intArg(a[1], n, loc, "the number of classes")) return Value::error();
    if (idx->type.dtype != DType::I32)
      return error(a[0].range.Start, "onehot needs i32 indices, got " + srcType(idx->type), {a[0].range});
    if (n < 1) return error(a[1].range.Start, "onehot needs a positive number of classes", {a[1].range});
    if (!checkConstantIndices(a[0], n, "classes")) return Value::error();
    TensorType t(opts.floatType, idx->type.shape);
    t.shape.push_back(n);
    if (!checkSize(t.shape, t.dtype, loc, "onehot", {call.range})) return Value::error();
    setLoc(loc);
    return Value::tensor(b().create(OpKind::OneHot, {idx}, {}, &t));
  }
  case Builtin::Gather: {
    Node *table = tensorArg(a[0], loc, "the table");
    Node *idx = tensorArg(a[1], loc, "the indices");
    if (!table || !idx) return Value::error();
    if (idx->type.dtype != DType::I32 || !isFloat(table->type.dtype) || table->type.rank() < 1)
      return error(loc, "gather needs a float table and i32 indices, got " + srcType(table->type) + " and " + srcType(idx->type),
                   {call.range});
    Dims rows(idx->type.shape.begin(), idx->type.shape.end());
    rows.append(table->type.shape.begin() + 1, table->type.shape.end());
    if (!checkSize(rows, table->type.dtype, loc, "gather", {call.range})) return Value::error();
    if (!checkConstantIndices(a[1], table->type.shape[0], "rows")) return Value::error();
    setLoc(loc);
    return Value::tensor(b().create(OpKind::Gather, {table, idx}));
  }
  case Builtin::Float: {
    // A compile-time bool converts as in Python: float(true) is 1.0.
    if (a[0].kind == Value::Bool) return Value::number(a[0].b ? 1.0 : 0.0);
    if (a[0].isNumber()) return Value::number(a[0].asDouble());
    Node *x = tensorArg(a[0], loc, "the argument", "a number or a tensor");
    if (!x) return Value::error();
    setLoc(loc);
    return Value::tensor(b().cast(x, opts.floatType));
  }
  case Builtin::ToI32:
  case Builtin::ToF32:
  case Builtin::ToF64: {
    // f32(x) converts to the type `f32` stands for, as f32[...] in a
    // declaration does: f64 under --dtype f64 (and in gradcheck), so that a
    // model that mixes the two types still checks, all in f64.
    DType to = id == Builtin::ToI32 ? DType::I32 : id == Builtin::ToF32 ? opts.floatType : DType::F64;
    // Numbers (and bools, as 1 and 0) convert now, by the cast row's own
    // semantics.
    if (a[0].isNumber() || a[0].kind == Value::Bool) {
      double v = *evalScalar(OpKind::Cast, {a[0].kind == Value::Bool ? double(a[0].b) : a[0].asDouble()}, to);
      // f32(1e39) became inf in silence, though `x + 1e39` is refused.
      if (to == DType::F32)
        if (std::string bad = f32RangeProblem(a[0]); !bad.empty())
          return error(a[0].range.Start, bad + "; f32 of it would be infinite", {a[0].range});
      return to == DType::I32 ? Value::integer(int64_t(v)) : Value::number(v);
    }
    Node *x = tensorArg(a[0], loc, "the argument", "a number or a tensor");
    if (!x) return Value::error();
    setLoc(loc);
    return Value::tensor(b().cast(x, to));
  }
  case Builtin::Full: {
    Dims shape;
    if (!shapeArg(a[0], shape, loc)) return Value::error();
    // full(shape, true): a bool mask of one value, as where() takes it.
    if (a[1].kind == Value::Bool) {
      if (!checkSize(shape, DType::I1, loc, "full", {a[0].range})) return Value::error();
      setLoc(loc);
      return Value::tensor(b().constant(a[1].b ? 1.0 : 0.0, TensorType(DType::I1, shape)));
    }
    if (!a[1].isNumber())
      return error(a[1].range.Start, "full needs a number or true/false, got " + describe(a[1]), {a[1].range});
    if (std::string bad = f32RangeProblem(a[1]); !bad.empty() && opts.floatType == DType::F32)
      return error(a[1].range.Start, "full: " + bad + "; it would be infinite", {a[1].range});
    if (!checkSize(shape, opts.floatType, loc, "full", {a[0].range})) return Value::error();
    setLoc(loc);
    return Value::tensor(b().constant(a[1].asDouble(), TensorType(opts.floatType, shape)));
  }
  case Builtin::RandUniform:
  case Builtin::RandNormal: {
    Dims shape;
    if (!shapeArg(a[0], shape, loc) || !checkSize(shape, opts.floatType, loc, info->name, {a[0].range}))
      return Value::error();
    bool uni = id == Builtin::RandUniform;
    double p1 = 0, p2 = 1;
    for (size_t i : {1, 2})
      if (a.has(i)) {
        if (!a[i].isNumber()) return error(a[i].range.Start, info->params[i] + " must be a number", {a[i].range});
        // As full(..., 1e39) is: drawn in f32, every value was infinite.
        if (std::string bad = f32RangeProblem(a[i]); !bad.empty() && opts.floatType == DType::F32)
          return error(a[i].range.Start, std::string(info->name) + "'s " + info->params[i] + ": " + bad + "; its values would be infinite",
                       {a[i].range});
        (i == 1 ? p1 : p2) = a[i].asDouble();
      }
    // An empty range has nothing to draw (the model's form would scale by
    // high - low < 0, drawing from (high, low] instead).
    if (uni && p1 > p2) {
      llvm::SMRange at = a.has(1) ? a[1].range : a[2].range;
      return error(at.Start,
                   "rand_uniform's low " + attrValueStr(p1) + " is above its high " + attrValueStr(p2) +
                       ": the range is empty",
                   {at});
    }
    // normal(-1) is refused as an initialiser; in a data block it drew
    // mirrored values, silently.
    if (!uni && p2 < 0)
      return error(a[2].range.Start, "rand_normal's std " + attrValueStr(p2) + " is negative: a spread is at least 0",
                   {a[2].range});
    setLoc(loc);
    TensorType t(opts.floatType, shape);
    // A data block draws from the runtime's generator, in order; the model
    // hashes (seed, step, call site, element) instead, see randomBits.
    if (graph->name != "model") {
      Attrs at;
      at.set(uni ? AttrKey::Low : AttrKey::Mean, p1);
      at.set(uni ? AttrKey::High : AttrKey::Std, p2);
      return Value::tensor(b().create(uni ? OpKind::RandUniform : OpKind::RandNormal, {}, at, &t));
    }
    if (!checkRandomSize(shape, loc, info->name, {a[0].range})) return Value::error();
    if (uni) {
      Node *u = b().add(b().scale(uniformFromBits(randomBits(shape)), p2 - p1), b().constant(p1, t));
      // f32 rounds the top 2^-26 or so of draws up to `high` itself, which
      // the range leaves out: -log(1 - u) was inf once in 5e7 draws (an
      // explorer's find). Such draws take the float just below it.
      if (opts.floatType == DType::F32 && float(p2) > float(p1))
        u = b().binary(OpKind::Min, u, b().constant(std::nextafter(float(p2), -INFINITY), t));
      return Value::tensor(u);
    }
    // Box-Muller: sqrt(-2 ln u1) cos(2 pi u2) is standard normal for
    // independent uniforms u1, u2 (u1 kept off 0, where ln is -inf).
    Node *u1 = b().binary(OpKind::Max, uniformFromBits(randomBits(shape)), b().constant(0x1p-32, t));
    Node *u2 = uniformFromBits(randomBits(shape));
    Node *radius = b().unary(OpKind::Sqrt, b().scale(b().unary(OpKind::Log, u1), -2));
    Node *z = b().mul(radius, b().unary(OpKind::Cos, b().scale(u2, 2 * M_PI)));
    return Value::tensor(b().add(b().scale(z, p2), b().constant(p1, t)));
  }
  case Builtin::RandBits: {
    // Constants are evaluated into a scratch graph ("constants"), a data
    // block's generator into "data".
    if (graph->name == "constants")
      return error(loc, "rand_bits is for the model, not a constant: a constant is a number, string or list known at "
                        "compile time, never random");
    if (graph->name != "model") {
      // dropout in a data block failed in the prelude, on a rand_bits the
      // user never wrote: said at the user's call, of what was called.
      if (auto [at, fn] = userCall(loc); !fn.empty()) {
        error(at, fn + " is for the model (it draws rand_bits); a data block has rand_uniform and rand_normal");
        diag.claimPreludeCall();
        return Value::error();
      }
      return error(loc, "rand_bits is for the model; a data block has rand_uniform and rand_normal");
    }
    Dims shape;
    if (!shapeArg(a[0], shape, loc) || !checkSize(shape, DType::I32, loc, info->name, {a[0].range}) ||
        !checkRandomSize(shape, loc, info->name, {a[0].range}))
      return Value::error();
    setLoc(loc);
    return Value::tensor(randomBits(shape));
  }
  case Builtin::Training: {
    if (graph->name == "constants")
      return error(loc, "training() has a meaning only in the model, not in a constant: a constant is known at compile "
                        "time, while training() is true in train and false in eval, predict and sample");
    if (graph->name != "model") return error(loc, "training() has a meaning only in the model, not in a data block");
    setLoc(loc);
    Node *h = graph->findLeaf(OpKind::Hyper, kTrainingLeaf);
    return Value::tensor(h ? h : b().leaf(OpKind::Hyper, kTrainingLeaf, TensorType(DType::I1, {})));
  }
  case Builtin::Error: {
    // A function's own argument checks (the prelude's dropout and gelu):
    // the message, then what the value was; the call notes lead back to
    // the user's line.
    if (a[0].kind != Value::Str)
      return error(a[0].range.Start, "error() takes a message string, got " + describe(a[0]), {a[0].range});
    // One line, as every message: a "\n" in it split the diagnostic.
    std::string msg;
    for (char c : a[0].s) {
      if (c == '\n') msg += "\\n";
      else if (c == '\t') msg += "\\t";
      else if ((unsigned char)c < 0x20 || c == 0x7f) msg += std::string("\\x") + llvm::hexdigit((unsigned char)c >> 4) + llvm::hexdigit(c & 15);
      else msg += c;
    }
    if (a.has(1)) msg += ", got " + describe(a[1]);
    // A prelude function's check of an argument the user passed as it is
    // (layer_norm(h, eps = -1)) is said at that argument; of a list of
    // them (cross_entropy's [logits, targets]), at the span from the first
    // to the last, when they are on one line of one file.
    if (a.has(1) && diag.inPrelude(loc)) {
      llvm::SMRange at = a[1].origin;
      // A list the user wrote (layer_norm(x, [1, 2])) is said where it is
    // written; one the prelude made of the user's arguments, at their span.
    if (a[1].kind == Value::List && !a[1].items().empty() && (!at.isValid() || diag.inPrelude(at.Start))) {
        auto &sm = diag.sourceMgr();
        llvm::SMRange first = a[1].items().front().origin;
        const char *lo = first.Start.getPointer(), *hi = first.End.getPointer();
        for (const Value &item : a[1].items()) {
          llvm::SMRange r = item.origin;
          if (!first.isValid() || !r.isValid() || sm.FindBufferContainingLoc(r.Start) != sm.FindBufferContainingLoc(first.Start) ||
              sm.FindLineNumber(r.Start) != sm.FindLineNumber(first.Start)) {
            lo = hi = nullptr;
            break;
          }
          lo = std::min(lo, r.Start.getPointer());
          hi = std::max(hi, r.End.getPointer());
        }
        at = lo ? llvm::SMRange(llvm::SMLoc::getFromPointer(lo), llvm::SMLoc::getFromPointer(hi)) : llvm::SMRange();
      }
      if (at.isValid()) {
        diag.errorAtArgument(at, loc, msg, {}, a[1].kind == Value::List ? "checks the arguments here" : "checks the argument here");
        return Value::error();
      }
    }
    return error(loc, msg, {call.range});
  }
  case Builtin::InitNormal:
  case Builtin::InitUniform:
  case Builtin::InitConstant: {
    std::string spec = std::string(info->name) + "(";
    std::vector<double> args;
    for (size_t i = 0; i < info->params.size(); ++i) {
      if (!a[i].isNumber()) return error(a[i].range.Start, info->params[i] + " must be a number", {a[i].range});
      spec += (i ? ", " : "") + attrValueStr(a[i].asDouble());
      args.push_back(a[i].asDouble());
    }
    // The rules a .gir initialiser is held to too (ir/Declarations.h).
    if (std::string p = initArgsProblem(info->name, args); !p.empty())
      return args.size() == 1 ? error(a[0].range.Start, p, {a[0].range}) : error(loc, p, {call.range});
    return Value::init(spec + ")");
  }
  }
  return Value::error();
}

} // namespace gradc
