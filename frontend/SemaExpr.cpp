//===- frontend/SemaExpr.cpp - expressions, operators and calls -----------===//
#include "frontend/SemaImpl.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MathExtras.h"

#include <cfloat>
#include <cmath>

namespace gradc {

using namespace ast;
using llvm::cast;

bool SemaImpl::enter(llvm::SMLoc loc) {
  if (evalDepth < kMaxEvalDepth) {
    ++evalDepth;
    return true;
  }
  error(loc, "expressions, blocks and calls nest more than " + llvm::Twine(kMaxEvalDepth) + " deep here");
  stopped = true;
  return false;
}

Value SemaImpl::eval(const Expr &e) {
  if (!spend(e.loc()) || !enter(e.loc())) return Value::error();
  Value v = evalNode(e);
  --evalDepth;
  // An error value stands for a mistake already reported. One with nothing
  // reported at all is a failure that forgot to say why: carried on, it
  // dropped an output or the loss and the build succeeded. Say where.
  if (v.isError() && !diag.hasErrors())
    error(e.loc(), "internal error: this expression failed without a message (a bug in gradc; please report it "
                   "with the model file)", {e.range});
  return v;
}

Value SemaImpl::evalNode(const Expr &e) {
  switch (e.kind) {
  case Expr::Number: {
    auto &n = cast<NumberExpr>(e);
    return n.isInt ? Value::integer(n.intValue, e.range) : Value::number(n.value, e.range);
  }
  case Expr::String:
    if (cast<StringExpr>(e).value.size() > kMaxStringBytes)
      return error(e.loc(), "a string may hold at most " + llvm::Twine(kMaxStringBytes) + " bytes", {e.range});
    return Value::string(cast<StringExpr>(e).value, e.range);
  case Expr::Bool: return Value::boolean(cast<BoolExpr>(e).value, e.range);
  case Expr::None: return Value::none(e.range);
  case Expr::Name: return lookup(cast<NameExpr>(e).name, e.range);
  case Expr::Unary: return evalUnary(cast<UnaryExpr>(e));
  case Expr::Binary: return evalBinary(cast<BinaryExpr>(e));
  case Expr::Call: return evalCall(cast<CallExpr>(e));
  case Expr::Index: return evalIndex(cast<IndexExpr>(e));
  case Expr::Member: return evalMember(cast<MemberExpr>(e));
  case Expr::List: {
    std::vector<Value> items;
    for (auto &item : cast<ListExpr>(e).items) {
      items.push_back(eval(*item));
      if (items.back().isError()) return Value::error();
    }
    Value list = Value::makeList(std::move(items), e.range);
    if (list.depth > kMaxListDepth)
      return error(e.loc(), "lists nest more than " + llvm::Twine(kMaxListDepth) + " deep here (a list inside a list, " +
                                "as l = [l] in a loop makes)", {e.range});
    return list;
  }
  }
  return Value::error();
}

//===--- operators --------------------------------------------------------===//

Value SemaImpl::evalUnary(const UnaryExpr &e) {
  Value x = eval(*e.operand);
  if (x.isError()) return x;
  if (e.op == "-") {
    if (x.kind == Value::Int) {
      if (x.i == std::numeric_limits<int64_t>::min())
        return error(e.opLoc, "integer overflow in a constant expression: -(" + llvm::Twine(x.i) + ")", {e.range});
      return Value::integer(-x.i, e.range);
    }
    if (x.kind == Value::Float) return Value::number(-x.f, e.range);
    if (x.kind == Value::Tensor && isFloat(x.node->type.dtype)) {
      setLoc(e.opLoc);
      return Value::tensor(b().neg(x.node), e.range);
    }
    if (x.kind == Value::Tensor && x.node->type.dtype == DType::I32)
      return arith(OpKind::Sub, Value::integer(0, e.range), x, e.opLoc, "'-'").at(e.range);
    return error(e.opLoc, "'-' needs a number or a numeric tensor, got " + describe(x), {e.operand->range});
  }
  // '!'
  if (x.kind == Value::Bool) return Value::boolean(!x.b, e.range);
  if (x.kind == Value::Tensor && x.node->type.dtype == DType::I1) {
    setLoc(e.opLoc);
    return Value::tensor(b().unary(OpKind::Not, x.node), e.range);
  }
  return error(e.opLoc, "'!' needs true/false or a bool tensor, got " + describe(x), {e.operand->range});
}

// Whether two compile-time values are equal, or nothing when they cannot
// be compared now: integers exactly, other numbers as doubles. Each pair
// of lists is compared once (`seen`): lists share their items, and
// `for i in 0..64 { l = [l, l] }` holds 2^64 ones in 65 lists, whose
// comparison item by item hung gradc.
static std::optional<bool> sameValue(const Value &a, const Value &b,
                                     llvm::DenseMap<std::pair<const void *, const void *>, std::optional<bool>> &seen) {
  if (a.kind == Value::None || b.kind == Value::None) return a.kind == b.kind;
  if (a.isNumber() && b.isNumber())
    return a.kind == Value::Int && b.kind == Value::Int ? a.i == b.i : a.asDouble() == b.asDouble();
  if (a.kind != b.kind) return std::nullopt;
  switch (a.kind) {
  case Value::Bool: return a.b == b.b;
  case Value::Str: return a.s == b.s;
  case Value::List: {
    // Lengths differ: unequal, as in Python, whatever the items hold.
    if (a.items().size() != b.items().size()) return false;
    std::pair<const void *, const void *> key{a.list.get(), b.list.get()};
    if (auto it = seen.find(key); it != seen.end()) return it->second;
    bool all = true;
    for (size_t i = 0; i < a.items().size(); ++i) {
      std::optional<bool> same = sameValue(a.items()[i], b.items()[i], seen);
      if (!same) return seen[key] = std::nullopt;
      all = all && *same;
    }
    return seen[key] = all;
  }
  default: return std::nullopt;
  }
}

std::optional<bool> SemaImpl::sameConstant(const Value &a, const Value &b) {
  llvm::DenseMap<std::pair<const void *, const void *>, std::optional<bool>> seen;
  return sameValue(a, b, seen);
}

Value SemaImpl::foldConstant(llvm::StringRef op, const Value &a, const Value &b, llvm::SMLoc opLoc) {
  llvm::SMRange r(a.range.Start, b.range.End);
  if (a.kind == Value::Bool && b.kind == Value::Bool) {
    if (op == "&&") return Value::boolean(a.b && b.b, r);
    if (op == "||") return Value::boolean(a.b || b.b, r);
    if (op == "==") return Value::boolean(a.b == b.b, r);
    if (op == "!=") return Value::boolean(a.b != b.b, r);
  }
  // Lists compare item by item, as in Python: [B, T] == [4, 64]. Items that
  // cannot be compared now (tensors, functions, a number and a string)
  // make the comparison an error, as they do outside a list.
  if (a.kind == Value::List && b.kind == Value::List && (op == "==" || op == "!=")) {
    std::optional<bool> same = sameConstant(a, b);
    if (!same)
      return error(opLoc, "'" + op + "' compares lists of numbers, bools, strings, none or lists, not " + describe(a) +
                              " and " + describe(b), {a.range, b.range});
    return Value::boolean(*same == (op == "=="), r);
  }
  // Lists join with '+', as in Python, so a loop can collect what it makes:
  // outs = outs + [h], then concat(outs, 1). Each item copied is a step of
  // the budget, so a loop that keeps doubling a list stops there rather than
  // exhausting memory.
  if (a.kind == Value::List && b.kind == Value::List && op == "+") {
    int64_t copied = int64_t(a.items().size() + b.items().size());
    listCopySteps += copied;
    if (int64_t atHere = joinCopies[opLoc.getPointer()] += copied; atHere > biggestJoinItems)
      biggestJoinItems = atHere, biggestJoin = opLoc;
    if (!spend(opLoc, copied)) return Value::error();
    std::vector<Value> items(a.items());
    items.insert(items.end(), b.items().begin(), b.items().end());
    return Value::makeList(std::move(items), r);
  }
  if (a.kind == Value::Str && b.kind == Value::Str) {
    if (op == "==") return Value::boolean(a.s == b.s, r);
    if (op == "!=") return Value::boolean(a.s != b.s, r);
    if (op == "+") {
      if (a.s.size() + b.s.size() > kMaxStringBytes)
        return error(opLoc, "a string may hold at most " + llvm::Twine(kMaxStringBytes) + " bytes", {r});
      return Value::string(a.s + b.s, r);
    }
  }
  if (a.isNumber() && b.isNumber()) {
    bool ints = a.kind == Value::Int && b.kind == Value::Int;
    double x = a.asDouble(), y = b.asDouble();
    if (ints && (op == "+" || op == "-" || op == "*" || op == "/" || op == "%" || op == "//")) {
      // 64-bit integers, checked: a wrapped size would pass every later check.
      // Of the divisions only the quotient -2^63 / -1 = 2^63 does not fit;
      // the remainder -2^63 % -1 is 0 (computed below without C++'s %,
      // which is undefined there).
      int64_t v = 0;
      bool overflow = op == "+"   ? llvm::AddOverflow(a.i, b.i, v)
                      : op == "-" ? llvm::SubOverflow(a.i, b.i, v)
                      : op == "*" ? llvm::MulOverflow(a.i, b.i, v)
                      : op == "%" ? false
                                  : a.i == std::numeric_limits<int64_t>::min() && b.i == -1;
      if (overflow)
        return error(opLoc, "integer overflow in a constant expression: " + llvm::Twine(a.i) + " " + op + " " +
                                llvm::Twine(b.i) + " does not fit in 64 bits", {a.range, b.range});
      if (op == "+" || op == "-" || op == "*") return Value::integer(v, r);
    }
    // As the parser refuses 1e999, a sum or product that overflows is
    // refused: an infinite scale or rate silently ruins training.
    auto finite = [&](double v) {
      if (std::isfinite(v)) return Value::number(v, r);
      return error(opLoc, "a constant expression overflows: " + describe(a) + " " + op + " " + describe(b) +
                              " is not a finite number",
                   {a.range, b.range});
    };
    if (op == "+") return finite(x + y);
    if (op == "-") return finite(x - y);
    if (op == "*") return finite(x * y);
    if (op == "/" || op == "%" || op == "//") {
      if (y == 0) return error(opLoc, "division by zero in a constant expression", {r});
      // % and // round toward minus infinity, as Python's do (-7 // 2 is -4
      // and -7 % 2 is 1), so a == (a // b) * b + a % b.
      if (ints) {
        if (b.i == -1) return Value::integer(op == "%" ? 0 : -a.i, r); // -2^63 / -1 was refused above
        int64_t q = a.i / b.i, m = a.i % b.i;
        if (m != 0 && (m < 0) != (b.i < 0)) --q, m += b.i;
        if (op == "%") return Value::integer(m, r);
        if (op == "//") return Value::integer(q, r);
      }
      if (op == "%") return Value::number(x - std::floor(x / y) * y, r);
      if (op == "//") return Value::number(std::floor(x / y), r);
      // Integers that divide exactly stay integers, so shapes like C / H work.
      if (ints && a.i % b.i == 0) return Value::integer(a.i / b.i, r);
      return finite(x / y);
    }
    // Integers compare exactly, not as doubles (2^53 + 1 is not 2^53).
    auto compare = [&](auto p, auto q) -> std::optional<bool> {
      if (op == "<") return p < q;
      if (op == "<=") return p <= q;
      if (op == ">") return p > q;
      if (op == ">=") return p >= q;
      if (op == "==") return p == q;
      if (op == "!=") return p != q;
      return std::nullopt;
    };
    if (auto c = ints ? compare(a.i, b.i) : compare(x, y)) return Value::boolean(*c, r);
  }
  // Both none from the same function: say why once.
  if (a.kind == Value::None && b.kind == Value::None && a.fn == b.fn)
    return error(opLoc, "'" + op + "' cannot combine none and " + describe(b), {a.range, b.range});
  return error(opLoc, "'" + op + "' cannot combine " + describe(a) + " and " + describe(b), {a.range, b.range});
}

Value SemaImpl::evalBinary(const BinaryExpr &e) {
  Value a = eval(*e.lhs);
  // A compile-time && or || stops at a left side that decides it, as
  // Python's and and or do: `n != none && n > 3` compared none with 3.
  if (a.kind == Value::Bool && ((e.op == "&&" && !a.b) || (e.op == "||" && a.b)))
    return Value::boolean(a.b, e.range);
  Value c = eval(*e.rhs);
  if (a.isError() || c.isError()) return Value::error();
  llvm::StringRef op = e.op;
  // `none` compares with anything at compile time, equal only to none, so
  // a function can tell a default from a given argument: fn lin(x, n =
  // none) { if n == none { n = dim(x, -1) } ... }.
  if ((op == "==" || op == "!=") && (a.kind == Value::None || c.kind == Value::None))
    return Value::boolean((a.kind == c.kind) == (op == "=="), e.range);
  bool tensors = a.kind == Value::Tensor || c.kind == Value::Tensor;
  if (!tensors) return foldConstant(op, a, c, e.opLoc);
  // '/' is true division, as for compile-time numbers (-7 / 2 is -3.5): on
  // i32 operands it would have to drop the fraction, which it did silently,
  // toward zero (-3), where '//' floors (-4). The IR's div on i32 stays for
  // the passes; only the surface refuses it.
  auto isI32 = [](const Value &v) {
    return v.kind == Value::Int || (v.kind == Value::Tensor && v.node->type.dtype == DType::I32);
  };
  if (op == "/" && isI32(a) && isI32(c)) {
    std::string lhs = a.kind == Value::Tensor ? srcType(a.node->type) : describe(a);
    std::string rhs = c.kind == Value::Tensor ? srcType(c.node->type) : describe(c);
    std::string hint =
        isUserLoc(e.opLoc)
            ? "write a // b for the quotient rounded down, as Python's // (-7 // 2 is -4), or float(a) / b for the "
              "exact quotient (-3.5)"
            : "convert the i32 argument with float(...) first, for the exact quotient";
    return error(e.opLoc, "'/' is true division, which i32 operands cannot hold: " + lhs + " / " + rhs,
                 {e.lhs->range, e.rhs->range}, {{e.opLoc, hint}});
  }
  Value r;
  // Every other operator is the op whose row in ir/Ops.def spells it so.
  if (op == "@") r = matmul(a, c, e.opLoc);
  else if (auto k = opForSurface(op); k && opInfo(*k).arity == 2) r = arith(*k, a, c, e.opLoc, "'" + op.str() + "'");
  else return error(e.opLoc, "'" + op + "' does not apply to tensors", {e.lhs->range, e.rhs->range});
  return r.at(e.range);
}

bool SemaImpl::broadcastValues(llvm::ArrayRef<Value> vals, DType dtype, llvm::SMLoc opLoc, llvm::StringRef what,
                               llvm::SmallVectorImpl<Node *> &out) {
  // The common shape of all tensor operands; numbers are scalars.
  Dims shape;
  for (size_t i = 0; i < vals.size(); ++i) {
    if (vals[i].kind != Value::Tensor) continue;
    auto s = broadcastShapes(shape, vals[i].node->type.shape);
    if (!s) {
      std::string shapes;
      llvm::SmallVector<llvm::SMRange, 3> ranges;
      for (auto &v : vals) {
        shapes += (shapes.empty() ? "" : " and ") + describe(v);
        ranges.push_back(v.range);
      }
      error(opLoc, "cannot broadcast " + shapes + " in " + what, ranges);
      note(opLoc, "shapes are matched from the right; each pair of dimensions must be equal or one of them 1");
      return false;
    }
    shape = *s;
  }
  if (!checkSize(shape, dtype, opLoc, "result of broadcasting in " + what)) return false;
  // Where a number does not fit the dtype it takes: the tensor of that
  // dtype it meets, or none (where(c, 1e39, 1.0) of two numbers takes the
  // float type; a lookup of the tensor read past the end and crashed).
  auto meets = [&](const Value &v) -> std::pair<std::string, llvm::SmallVector<llvm::SMRange, 2>> {
    auto t = llvm::find_if(vals, [&](const Value &x) { return x.kind == Value::Tensor && x.node->type.dtype == dtype; });
    if (t == vals.end()) return {"the dtype " + dtypeName(dtype).str() + " it takes in " + what.str(), {v.range}};
    return {"the dtype of " + srcType(t->node->type) + " it meets in " + what.str(), {v.range, t->range}};
  };
  auto at = [&](const Value &v) { return v.range.Start.isValid() ? v.range.Start : opLoc; };
  // A number joins an i32 tensor as an i32 constant: one outside i32's
  // range wrapped silently (k + 4294967296 was k).
  if (dtype == DType::I32)
    for (auto &v : vals)
      if (v.kind == Value::Int && (v.i < INT32_MIN || v.i > INT32_MAX)) {
        auto [where, ranges] = meets(v);
        error(at(v), "the integer " + llvm::Twine(v.i) + " does not fit in i32 (-2147483648 to 2147483647), " + where,
              ranges);
        return false;
      }
  // A number joins a bool tensor (in == or where) as a bool constant: 2
  // made an invalid IR constant (an internal error after the passes).
  if (dtype == DType::I1)
    for (auto &v : vals)
      if (v.isNumber() && v.asDouble() != 0 && v.asDouble() != 1) {
        auto [where, ranges] = meets(v);
        error(at(v), describe(v) + " is not a bool (true, false, 1 or 0), " + where, ranges);
        return false;
      }
  // A number joins an f32 tensor as an f32 constant: 3.5e38 became inf.
  if (dtype == DType::F32)
    for (auto &v : vals)
      if (std::string bad = f32RangeProblem(v); !bad.empty()) {
        auto [where, ranges] = meets(v);
        error(at(v), bad + ", " + where + "; it would be infinite", ranges);
        return false;
      }
  // Numbers become splat constants of the full shape; tensors broadcast.
  for (auto &v : vals) {
    if (v.kind == Value::Tensor)
      out.push_back(b().broadcastTo(v.node, shape));
    else
      out.push_back(b().constant(v.kind == Value::Bool ? double(v.b) : v.asDouble(), TensorType(dtype, shape)));
  }
  return true;
}

std::string SemaImpl::floatConversionNote(DType a, DType b) const {
  std::string x = dtypeName(a).str(), y = dtypeName(b).str();
  return "convert one side, with " + y + "(...) on the " + x + " one or " + x + "(...) on the " + y +
         " one; --dtype f64 makes every f32 of the model f64";
}

std::string SemaImpl::preludeFloatNote() const {
  std::string t = dtypeName(opts.floatType).str();
  return "the prelude's parameters, onehot and float() are in the model's float type, " + t + " here: pass it " + t +
         " values, as " + t + "(x)" +
         (opts.floatType == DType::F32 ? ", or build with --dtype f64, which makes every f32 f64" : "");
}

Value SemaImpl::arith(OpKind op, Value a, Value c, llvm::SMLoc opLoc, llvm::StringRef what) {
  if (a.isError() || c.isError()) return Value::error();
  bool logical = op == OpKind::And || op == OpKind::Or;
  bool equality = op == OpKind::Eq || op == OpKind::Ne;
  for (const Value *v : {&a, &c})
    if (v->kind != Value::Tensor && !v->isNumber() && !(v->kind == Value::Bool && (logical || equality)))
      return error(v->range.Start.isValid() ? v->range.Start : opLoc,
                   what + " needs tensors or numbers, but this is " + describe(*v), {v->range});
  // The dtype comes from the tensor operand(s); a literal adopts it.
  const Value &t = a.kind == Value::Tensor ? a : c;
  DType dt = t.node->type.dtype;
  if (a.kind == Value::Tensor && c.kind == Value::Tensor && a.node->type.dtype != c.node->type.dtype) {
    DType da = a.node->type.dtype, dc = c.node->type.dtype;
    std::string msg = "operands of " + what.str() + " have different dtypes: " + srcType(a.node->type) + " and " +
                      srcType(c.node->type);
    // Inside the prelude, one side made there (a param, onehot, float())
    // is in the model's float type: the note says so, before the calls
    // that lead there. Two of the user's arguments (mse(pred, target))
    // are the user's to convert, as anywhere.
    if (isFloat(da) && isFloat(dc) && diag.inPrelude(opLoc) && !(a.origin.isValid() && c.origin.isValid()))
      return error(opLoc, msg, {a.range, c.range}, {{opLoc, preludeFloatNote()}});
    error(opLoc, msg, {a.range, c.range});
    if (logical)
      note(opLoc, what + " takes bool tensors on both sides: compare the other one, e.g. x > 0");
    else if (da == DType::I1 || dc == DType::I1)
      note(opLoc, "convert the bool side explicitly, e.g. float(c), or choose with where(c, a, b)");
    else if (isFloat(da) && isFloat(dc))
      note(opLoc, floatConversionNote(da, dc));
    else
      note(opLoc, "convert one side explicitly: the i32 one with float(...), or the float one with i32(...)");
    return Value::error();
  }
  for (const Value *v : {&a, &c}) {
    if (v->kind == Value::Float && !isFloat(dt)) {
      error(opLoc, "cannot combine " + srcType(t.node->type) + " with " + describe(*v) + ", which is not an integer, in " + what,
            {a.range, c.range});
      note(opLoc, "compute in floats with float(...) on the " + srcType(t.node->type) + " side");
      return Value::error();
    }
    if (v->kind == Value::Bool && dt != DType::I1)
      return error(opLoc, "cannot combine " + srcType(t.node->type) + " with " + describe(*v) + " in " + what, {a.range, c.range});
  }
  if (logical && dt != DType::I1)
    return error(opLoc, what + " needs bool tensors, got " + srcType(t.node->type), {a.range, c.range});
  if (!logical && !equality && dt == DType::I1)
    return error(opLoc, what + " does not take bool tensors (" + srcType(t.node->type) + "); use where(cond, a, b)",
                 {a.range, c.range});
  if ((op == OpKind::Max || op == OpKind::Min) && dt == DType::I1)
    return error(opLoc, what + " does not take bool tensors", {a.range, c.range});
  // As in a constant expression: x // 0 gave 0 or inf elementwise, silently.
  if ((op == OpKind::Div || op == OpKind::Mod || op == OpKind::FloorDiv) && c.isNumber() && c.asDouble() == 0)
    return error(opLoc, "division by zero: the divisor of " + what + " is the constant 0", {c.range});
  setLoc(opLoc);
  llvm::SmallVector<Node *, 2> xy;
  if (!broadcastValues({a, c}, dt, opLoc, what, xy)) return Value::error();
  return Value::tensor(b().binary(op, xy[0], xy[1]));
}

Value SemaImpl::matmul(Value a, Value c, llvm::SMLoc opLoc) {
  for (const Value *v : {&a, &c})
    if (v->kind != Value::Tensor || !isFloat(v->node->type.dtype))
      return error(v->range.Start, "'@' needs float tensors, but this is " + describe(*v), {v->range});
  TensorType ta = a.node->type, tb = c.node->type;
  std::string shapes = srcType(ta) + " @ " + srcType(tb);
  if (ta.dtype != tb.dtype) {
    llvm::SmallVector<DiagEngine::Note, 1> notes;
    if (diag.inPrelude(opLoc) && !(a.origin.isValid() && c.origin.isValid())) notes.push_back({opLoc, preludeFloatNote()});
    else notes.push_back({opLoc, floatConversionNote(ta.dtype, tb.dtype)});
    return error(opLoc, "operands of '@' have different dtypes: " + shapes, {a.range, c.range}, notes);
  }
  if (ta.rank() < 2 || tb.rank() < 2) {
    error(opLoc, "'@' needs operands of rank 2 or more: " + shapes, {a.range, c.range});
    note(opLoc, "reshape a vector to [n, 1] or [1, n] first");
    return Value::error();
  }
  int64_t ka = ta.shape[ta.rank() - 1], kb = tb.shape[tb.rank() - 2];
  if (ka != kb) {
    error(opLoc, "shape mismatch in '@': " + shapes, {a.range, c.range});
    note(opLoc, "the left operand's last dimension (" + llvm::Twine(ka) +
                    ") must equal the right operand's second-to-last (" + llvm::Twine(kb) + ")");
    return Value::error();
  }
  setLoc(opLoc);
  Node *x = a.node, *y = c.node;
  int64_t m = ta.shape[ta.rank() - 2], n = tb.shape[tb.rank() - 1];
  if (tb.rank() == 2 && ta.rank() > 2) {
    // [..., M, K] @ [K, N]: one big matrix product over all leading rows.
    Dims out(ta.shape.begin(), ta.shape.end() - 1);
    out.push_back(n);
    if (!checkSize(out, ta.dtype, opLoc, "result of '@'", {a.range, c.range})) return Value::error();
    Node *flat = b().reshape(x, {ta.numel() / ka, ka});
    return Value::tensor(b().reshape(b().matmul(flat, y), out));
  }
  // Batched: broadcast the batch dimensions against each other.
  llvm::ArrayRef<int64_t> ba(ta.shape.begin(), ta.shape.end() - 2), bb(tb.shape.begin(), tb.shape.end() - 2);
  auto batch = broadcastShapes(ba, bb);
  if (!batch) {
    error(opLoc, "batch dimensions of '@' do not broadcast: " + shapes, {a.range, c.range});
    return Value::error();
  }
  Dims sa = *batch, sb = *batch, out = *batch;
  sa.append({m, ka});
  sb.append({kb, n});
  out.append({m, n});
  // The operands broadcast over the batch must fit as well as the product.
  if (!checkSize(sa, ta.dtype, opLoc, "left operand of '@' broadcast over the batch", {a.range}) ||
      !checkSize(sb, tb.dtype, opLoc, "right operand of '@' broadcast over the batch", {c.range}) ||
      !checkSize(out, ta.dtype, opLoc, "result of '@'", {a.range, c.range}))
    return Value::error();
  return Value::tensor(b().matmul(b().broadcastTo(x, sa), b().broadcastTo(y, sb)));
}

//===--- indexing and slicing ---------------------------------------------===//

Value SemaImpl::evalIndex(const IndexExpr &e) {
  Value base = eval(*e.base);
  if (base.isError()) return base;
  if (base.kind == Value::List) {
    if (e.items.size() == 1 && e.items[0].isSlice)
      return error(e.items[0].range.Start, "a list cannot be sliced; it takes one integer index, as l[1]",
                   {e.items[0].range});
    if (e.items.size() != 1)
      return error(e.loc(), "a list takes one index, not " + llvm::Twine(e.items.size()), {e.range});
    Value i = eval(*e.items[0].start);
    int64_t idx;
    if (!intArg(i, idx, e.items[0].range.Start, "a list index")) return Value::error();
    int64_t n = base.items().size();
    if (idx < -n || idx >= n) return error(e.items[0].range.Start, "index " + llvm::Twine(idx) + " is out of range for a list of " + llvm::Twine(n));
    return base.items()[idx < 0 ? idx + n : idx].at(e.range);
  }
  if (base.kind != Value::Tensor) return error(e.loc(), "only tensors and lists can be indexed, not " + describe(base), {e.base->range});
  const TensorType &t = base.node->type;
  if (t.rank() == 0)
    return error(e.loc(), "cannot index " + srcType(t) + ", a scalar: it has no dimensions", {e.range});
  if (e.items.size() > t.rank())
    return error(e.loc(), llvm::Twine(e.items.size()) + " indices for " + srcType(t) + ", which has " +
                              llvm::Twine(t.rank()) + (t.rank() == 1 ? " dimension" : " dimensions"),
                 {e.range});
  Dims offsets(t.rank(), 0), sizes(t.shape.begin(), t.shape.end()), kept;
  for (unsigned d = 0; d < t.rank(); ++d) {
    if (d >= e.items.size()) {
      kept.push_back(t.shape[d]);
      continue;
    }
    auto &it = e.items[d];
    int64_t n = t.shape[d];
    auto bound = [&](const ExprPtr &x, int64_t dflt, int64_t &out) {
      if (!x) {
        out = dflt;
        return true;
      }
      Value v = eval(*x);
      // "an index must be an integer, got i32[4]": but i32 is one. What
      // it must be is known when the model is built.
      if (v.kind == Value::Tensor && !isFloat(v.node->type.dtype)) {
        error(x->loc(), "an index must be an integer known when the model is built, but this is a tensor (" +
                            srcType(v.node->type) + "); gather(table, idx) picks rows by a tensor of indices",
              {x->range});
        return false;
      }
      if (!intArg(v, out, x->loc(), "an index")) return false;
      if (out < 0) out += n;
      return true;
    };
    int64_t lo, hi;
    if (!bound(it.start, 0, lo)) return Value::error();
    if (!it.isSlice) {
      if (lo < 0 || lo >= n) {
        // As written, with the range it may take (-4 did not say which).
        std::string written(it.range.Start.getPointer(), it.range.End.getPointer());
        return error(it.range.Start,
                     "index " + llvm::StringRef(written).trim() + " is out of range for dimension " + llvm::Twine(d) +
                         " of " + srcType(t) + ", which has " + llvm::Twine(n) + (n == 1 ? " element" : " elements") +
                         " (indices " + llvm::Twine(-n) + " to " + llvm::Twine(n - 1) + ")",
                     {it.range});
      }
      offsets[d] = lo;
      sizes[d] = 1;
      continue;
    }
    if (!bound(it.stop, n, hi)) return Value::error();
    if (lo < 0 || hi > n || lo >= hi) {
      // As written (-1:-1), with what it comes to where that differs (2:2).
      std::string written(it.range.Start.getPointer(), it.range.End.getPointer());
      std::string counted = std::to_string(lo) + ":" + std::to_string(hi);
      std::string slice = "slice " + written + (llvm::StringRef(written).trim() == counted ? "" : " (that is, " + counted + ")");
      std::string dim = "dimension " + std::to_string(d) + " of " + srcType(t);
      if (lo < 0 || hi > n)
        return error(it.range.Start, slice + " is out of range for " + dim + ", which has " + std::to_string(n) +
                                         (n == 1 ? " element" : " elements"), {it.range});
      return error(it.range.Start, slice + " is empty: it selects nothing of " + dim + "; a slice keeps at least one element",
                   {it.range});
    }
    offsets[d] = lo;
    sizes[d] = hi - lo;
    kept.push_back(hi - lo);
  }
  setLoc(e.loc());
  Node *n = base.node;
  if (llvm::ArrayRef<int64_t>(sizes) != llvm::ArrayRef<int64_t>(t.shape)) n = b().slice(n, offsets, sizes);
  return Value::tensor(b().reshape(n, kept), e.range);
}

//===--- calls ------------------------------------------------------------===//

/// `fc.weight`, `blocks[1].attn.q_proj.weight`: a parameter that a scoped
/// call declared, named as the call named it, relative to the scope of the
/// function being run (as declarations are). For an L2 penalty on one
/// layer, or weights tied between two: the parameter must be declared
/// before it is read.
Value SemaImpl::evalMember(const MemberExpr &e) {
  // `(x @ w).T`: a member of a computed value, as in NumPy. It was told
  // "a call scope is a name such as attn or h[i]", of a line with no call.
  if (!llvm::isa<NameExpr, MemberExpr, IndexExpr>(e.base.get()))
    return error(e.loc(), "a value has no members, so '." + e.member + "' reads nothing; a dotted name reads a "
                          "parameter that a scoped call declared, as fc.weight" +
                          std::string(e.member == "T" ? " (a transpose is transpose(x))" : ""),
                 {e.range});
  bool ok = true;
  std::string name = scopeName(e, ok);
  if (!ok) return Value::error();
  std::string prefix;
  for (auto &sc : scopes) prefix += sc + ".";
  if (auto it = params.find(prefix + name); it != params.end()) return Value::tensor(it->second, e.range);
  // `x.shape`: a value has no members.
  if (auto *base = llvm::dyn_cast<NameExpr>(e.base.get());
      base && (frame().vars.count(base->name) || globals.count(base->name))) {
    Value v = lookup(base->name, base->range);
    if (!v.isError())
      return error(e.loc(), "'" + base->name + "' is " + describe(v) + ", which has no members; a dotted name reads a " +
                                "parameter that a scoped call declared, as fc.weight after fc.linear(x, n)" +
                                (v.kind == Value::Tensor ? " (dim(x, i) gives a size)" : ""),
                   {e.range});
  }
  // Not a parameter: say what a dotted name can be, and offer the nearest
  // parameter under the same scope.
  std::string scope = llvm::StringRef(name).rsplit('.').first.str();
  NearMiss near(name);
  for (auto &kv : params)
    if (llvm::StringRef cand = kv.first; cand.consume_front(prefix)) near.consider(cand);
  llvm::SmallVector<DiagEngine::Note, 1> notes;
  if (std::string hint = near.hint(); !hint.empty()) notes.push_back({e.loc(), hint});
  // math.pi, np.inf: another language's modules.
  else if (llvm::is_contained({"math", "np", "numpy", "torch"}, llvm::StringRef(scope)))
    notes.push_back({e.loc(), "there are no modules here: a constant is written as a number (pi is "
                              "3.141592653589793; there is no infinity, and a mask's fill is a large number such as "
                              "-1e9), and a function is called by its name, as tanh(x)"});
  return error(e.loc(), "'" + name + "' names no parameter: a dotted name reads a parameter that a scoped call declared, as " +
                            "fc.weight after fc.linear(x, n), and '" + scope + "' declared none by that name so far",
               {e.range}, notes);
}

std::string SemaImpl::scopeName(const Expr &scope, bool &ok) {
  if (auto *n = llvm::dyn_cast<NameExpr>(&scope)) return n->name;
  if (auto *m = llvm::dyn_cast<MemberExpr>(&scope)) return scopeName(*m->base, ok) + "." + m->member;
  if (auto *ix = llvm::dyn_cast<IndexExpr>(&scope)) {
    std::string base = scopeName(*ix->base, ok);
    for (auto &it : ix->items) {
      int64_t i = 0;
      if (it.isSlice) {
        error(it.range.Start, "a call scope takes one index per level, such as blocks[i], not a slice", {it.range});
        ok = false;
        return "";
      }
      if (!intArg(eval(*it.start), i, it.range.Start, "a scope index")) {
        ok = false;
        return "";
      }
      // Parameter names are dotted identifiers (ir/Declarations.h), so
      // b[-1] would name "b.-1.weight", which no .gir could read back.
      if (i < 0) {
        error(it.range.Start, "a scope index counts layers from 0, so it cannot be negative; got " + std::to_string(i),
              {it.range});
        ok = false;
        return "";
      }
      base += "." + std::to_string(i);
    }
    return base;
  }
  error(scope.loc(), "a call scope is a name such as attn or h[i]", {scope.range});
  ok = false;
  return "";
}

bool SemaImpl::bindArgs(llvm::ArrayRef<std::string> params, size_t required, const CallExpr &call,
                        llvm::StringRef calleeName, BoundArgs &out) {
  out.values.assign(params.size(), Value::none());
  out.given.assign(params.size(), false);
  out.call = &call;
  bool ok = true;
  size_t misnamed = 0; // keywords the callee does not have
  size_t positional = 0;
  const Arg *keyword = nullptr; // the first keyword argument, if one came yet
  for (auto &a : call.args) {
    size_t slot;
    if (a.name.empty()) {
      // As in Python: sum(axis = 1, x) reads as if x came first, which is
      // not what it looks like.
      if (keyword) {
        error(a.value->loc(), "a positional argument follows the keyword argument '" + keyword->name +
                                  "'; write the positional ones first",
              {a.value->range});
        return false;
      }
      if (positional >= params.size()) {
        std::string list;
        for (auto &p : params) list += (list.empty() ? "" : ", ") + p;
        std::string most = params.empty()       ? "takes no arguments"
                           : params.size() == 1 ? "takes at most 1 argument (" + list + ")"
                                                : "takes at most " + std::to_string(params.size()) + " arguments (" + list + ")";
        error(a.value->loc(), "'" + calleeName + "' " + most, {a.value->range});
        return false;
      }
      slot = positional++;
    } else {
      if (!keyword) keyword = &a;
      auto it = llvm::find(params, a.name);
      if (it == params.end()) {
        std::string list;
        NearMiss near(a.name);
        for (auto &p : params) list += (list.empty() ? "" : ", ") + p, near.consider(p);
        llvm::SmallVector<DiagEngine::Note, 1> notes;
        if (std::string hint = near.hint(); !hint.empty()) notes.push_back({a.nameLoc, hint});
        error(a.nameLoc,
              "'" + calleeName + "' has no parameter '" + a.name +
                  (params.empty() ? "' (it takes none)" : "' (it takes " + list + ")"),
              {}, notes);
        ok = false;
        ++misnamed;
        continue;
      }
      slot = it - params.begin();
    }
    if (out.given[slot]) {
      error(a.value->loc(), "'" + params[slot] + "' is given twice", {a.value->range});
      ok = false;
      continue;
    }
    out.values[slot] = eval(*a.value);
    out.given[slot] = true;
    if (out.values[slot].isError()) ok = false;
  }
  // Every missing argument in one error: clamp(x) needs low and high.
  std::vector<std::string> missing;
  for (size_t i = 0; i < required; ++i)
    if (!out.given[i]) missing.push_back("'" + params[i] + "'");
  // exp(y = x): the misnamed keyword is the one mistake, not also "needs
  // argument 'x'"; the first error lists the parameters. One missing more
  // than were misnamed is said.
  if (missing.size() > misnamed) {
    std::string list = missing.back();
    if (missing.size() > 1)
      list = llvm::join(llvm::ArrayRef(missing).drop_back(), ", ") + " and " + missing.back();
    error(call.loc(), "'" + calleeName + "' needs argument" + (missing.size() > 1 ? "s " : " ") + list, {call.range},
          valueScopeNote(call));
    ok = false;
  }
  return ok;
}

/// x.mean() read as a method call of the tensor x, which the language has
/// not: it is a scoped call, with x the scope of mean's params, and the
/// error said only that mean needs its argument. Says so when the scope is
/// the name of a tensor.
llvm::SmallVector<DiagEngine::Note, 1> SemaImpl::valueScopeNote(const CallExpr &call) {
  auto *name = llvm::dyn_cast_or_null<NameExpr>(call.scope.get());
  if (!name) return {};
  auto it = frame().vars.find(name->name);
  if (it == frame().vars.end() || it->second.kind != Value::Tensor) return {};
  return {{name->loc(), "'" + name->name + "." + call.callee + "(...)' is a scoped call: '" + name->name +
                            "' names where " + call.callee + "'s params go, not the tensor " + name->name +
                            " (values have no methods); to pass it, write " + call.callee + "(" + name->name + ")"}};
}

/// A chain of method calls as function calls, for a message: x.sum(1).mean()
/// is mean(sum(x, 1)). Anything else (a scoped call, attn.f(x)) is its
/// source text.
std::string SemaImpl::functionForm(const Expr &e) {
  auto text = [](llvm::SMRange r) { return std::string(r.Start.getPointer(), r.End.getPointer()); };
  auto isTensor = [&](const Expr &s) {
    auto *n = llvm::dyn_cast<NameExpr>(&s);
    auto v = n ? frame().vars.find(n->name) : frame().vars.end();
    return v != frame().vars.end() && v->second.kind == Value::Tensor;
  };
  auto *call = llvm::dyn_cast<CallExpr>(&e);
  if (!call || !call->scope || !(llvm::isa<CallExpr>(*call->scope) || isTensor(*call->scope))) return text(e.range);
  std::string out = call->callee + "(" + functionForm(*call->scope);
  for (const Arg &a : call->args) out += ", " + (a.name.empty() ? "" : a.name + " = ") + text(a.value->range);
  return out + ")";
}

Value SemaImpl::evalCall(const CallExpr &call) {
  std::string scope;
  // x.sum(1).mean(): a method on a call's result, as in PyTorch (of a
  // function that exists: mean(h).foo() is told foo is unknown).
  if (call.scope && llvm::isa<CallExpr>(*call.scope)) {
    Value callee = lookup(call.callee, llvm::SMRange(call.calleeLoc, call.calleeLoc));
    if (callee.isError()) return callee;
    return error(call.calleeLoc, "'." + call.callee + "(...)' is no method call: values have no methods, and " +
                                     "builtins take a tensor as an argument; write " + functionForm(call),
                 {call.scope->range});
  }
  if (call.scope) {
    bool ok = true;
    scope = scopeName(*call.scope, ok);
    if (!ok) return Value::error();
  }
  Value callee = lookup(call.callee, llvm::SMRange(call.calleeLoc, call.calleeLoc));
  if (callee.isError()) return callee;
  if (callee.kind != Value::Func) {
    // fn zeros(n) beside the initialiser zeros: the initialiser wins.
    llvm::SmallVector<DiagEngine::Note, 1> notes;
    if (auto f = functions.find(call.callee); callee.kind == Value::Init && f != functions.end())
      notes.push_back({f->second->nameLoc, "your function '" + call.callee +
                                               "' is hidden by the initialiser of that name; give it another name"});
    return error(call.calleeLoc, "'" + call.callee + "' is " + describe(callee) + ", not a function", {call.range},
                 notes);
  }
  if (callee.isBuiltin || callee.isOp) {
    if (!scope.empty()) {
      // x.sum() of a tensor x: a method call, as in PyTorch, not a scope.
      if (auto v = frame().vars.find(scope); v != frame().vars.end() && v->second.kind == Value::Tensor)
        return error(call.calleeLoc, "'" + scope + "." + call.callee + "(...)' is no method call: '" + scope +
                                         "' is a tensor, and builtins take it as an argument; write " + call.callee +
                                         "(" + scope + (call.args.empty() ? ")" : ", ...)"));
      return error(call.calleeLoc, "'" + call.callee + "' is a builtin; it has no parameters to put in a scope");
    }
    if (callee.isOp) return callOp(callee.op, call).at(call.range);
    return callBuiltin(callee.builtin, call).at(call.range);
  }
  return callFunction(*callee.fn, call, scope).at(call.range);
}

std::string SemaImpl::f32RangeProblem(const Value &v) {
  // What rounds to a finite float fits: 3.4028235e38 is FLT_MAX as f32
  // reads it, a hair above the double FLT_MAX, and was refused.
  if (!v.isNumber() || !std::isfinite(v.asDouble()) || std::isfinite(static_cast<float>(v.asDouble()))) return "";
  return describe(v) + " does not fit in f32 (largest 3.4028235e38)";
}

/// Which function of the chain of calls recurses: the one called most often
/// in it (the outermost on a tie: f in f -> g -> f -> g), with the others it
/// recurses through. The call that hits the limit may be any of them, or a
/// prelude function the recursive one calls (linear in a residual stack).
std::string SemaImpl::recursionHint(llvm::StringRef calling) const {
  llvm::StringMap<int> count;
  std::vector<std::string> order;
  auto base = [](llvm::StringRef callee) { return callee.rsplit('.').second.empty() ? callee : callee.rsplit('.').second; };
  for (auto &c : diag.calls) {
    std::string name = base(c.callee).str();
    if (count[name]++ == 0) order.push_back(name);
  }
  if (count[base(calling)]++ == 0) order.push_back(base(calling).str());
  std::string best;
  for (auto &n : order)
    if (best.empty() || count[n] > count[best]) best = n;
  if (best.empty() || count[best] < 2) return "";
  std::string through;
  for (auto &n : order)
    if (n != best && count[n] * 2 >= count[best]) through += (through.empty() ? "" : ", ") + ("'" + n + "'");
  return "; is '" + best + "' recursive? It is called " + std::to_string(count[best]) + " times in this chain" +
         (through.empty() ? "" : ", through " + through);
}

Value SemaImpl::callFunction(const FnDecl &fn, const CallExpr &call, const std::string &scope) {
  if (!spend(call.calleeLoc, kStepsPerCall) || brokenFns.contains(&fn)) return Value::error();
  if (diag.calls.size() >= kMaxCallDepth) {
    error(call.calleeLoc, "calls nest more than " + llvm::Twine(kMaxCallDepth) + " deep" + recursionHint(fn.name));
    stopped = true;
    return Value::error();
  }
  std::vector<std::string> names;
  size_t required = 0;
  for (auto &p : fn.params) {
    names.push_back(p.name);
    if (!p.defaultValue && required == names.size() - 1) ++required;
  }
  BoundArgs args;
  if (!bindArgs(names, required, call, fn.name, args)) return Value::error();
  for (size_t i = 0; i < names.size(); ++i)
    if (!args.has(i) && !fn.params[i].defaultValue)
      return error(call.loc(), "'" + fn.name + "' needs argument '" + names[i] + "'", {call.range}, valueScopeNote(call));

  // Defaults are evaluated where the function is defined: globals only, and
  // outside the call, so a mistake in one is said once at its definition
  // rather than once per call.
  // (defaultOf names the parameter for the message when one reads another.)
  Frame f;
  // A function called in a data block is in it too: a param it declares
  // reached the IR (an internal error after the passes).
  f.inData = frame().inData;
  frames.emplace_back();
  const FnDecl *outerDefaultOf = defaultOf;
  std::string outerParam = defaultParam;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!args.has(i)) {
      // fn f(a = f()): each default asked for the next, until the nesting
      // limit said only "nest more than 512 deep".
      if (llvm::is_contained(defaultsInProgress, std::pair<const FnDecl *, std::string>(&fn, names[i]))) {
        frames.pop_back();
        defaultOf = outerDefaultOf, defaultParam = outerParam;
        return error(call.loc(), "the default of '" + names[i] + "' of '" + fn.name + "' calls '" + fn.name +
                                     "' without that argument, which computes the default again, without end",
                     {call.range});
      }
      defaultOf = &fn, defaultParam = names[i];
      defaultsInProgress.push_back({&fn, names[i]});
      args.values[i] = eval(*fn.params[i].defaultValue);
      defaultsInProgress.pop_back();
    }
    f.vars[names[i]] = args.values[i];
  }
  frames.pop_back();
  // The body's own unknown names are not a default's (restored on leaving).
  defaultOf = nullptr;

  // From here on, errors are inside the callee: they name this call.
  diag.calls.push_back({call.calleeLoc, scope.empty() ? fn.name : scope + "." + fn.name, valueScopeNote(call)});
  llvm::SMLoc savedSite = callSite;
  if (isUserLoc(call.calleeLoc)) callSite = call.calleeLoc;
  size_t savedScopes = scopes.size();
  auto leave = llvm::make_scope_exit([&] {
    scopes.resize(savedScopes);
    callSite = savedSite;
    defaultOf = outerDefaultOf, defaultParam = outerParam;
    diag.calls.pop_back();
  });

  if (!scope.empty()) {
    llvm::SmallVector<llvm::StringRef, 4> parts;
    llvm::StringRef(scope).split(parts, '.');
    for (auto p : parts) scopes.push_back(p.str());
  }
  frames.push_back(std::move(f));
  execBlock(fn.body);
  Value result = frame().returned;
  if (!frame().didReturn) result.fn = &fn; // messages about this none then name the function
  frames.pop_back();
  return result;
}

} // namespace gradc
