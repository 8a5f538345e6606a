//===- ir/Ops.cpp - the op table and the type rule of each op -------------===//
#include "ir/Ops.h"

#include "llvm/ADT/StringMap.h"

#include <algorithm>
#include <cmath>

namespace gradc {

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

namespace {
struct AttrRow {
  llvm::StringRef name;
  AttrKind kind;
};
const AttrRow kAttrRows[] = {
#define ATTR(Key, Name, Kind) {Name, AttrKind::Kind},
#include "ir/Ops.def"
};
} // namespace

llvm::StringRef attrName(AttrKey k) { return kAttrRows[unsigned(k)].name; }
AttrKind attrKind(AttrKey k) { return kAttrRows[unsigned(k)].kind; }

std::optional<AttrKey> parseAttrKey(llvm::StringRef s) {
  for (unsigned i = 0; i < std::size(kAttrRows); ++i)
    if (kAttrRows[i].name == s) return AttrKey(i);
  return std::nullopt;
}

void Attrs::set(AttrKey k, AttrValue v) {
  for (auto &e : list)
    if (e.first == k) {
      e.second = std::move(v);
      return;
    }
  list.emplace_back(k, std::move(v));
  std::sort(list.begin(), list.end(), [](auto &a, auto &b) { return a.first < b.first; });
}

const AttrValue *Attrs::find(AttrKey k) const {
  for (auto &e : list)
    if (e.first == k) return &e.second;
  return nullptr;
}

int64_t Attrs::getInt(AttrKey k, int64_t dflt) const {
  auto *v = find(k);
  return v ? std::get<int64_t>(*v) : dflt;
}
double Attrs::getFloat(AttrKey k, double dflt) const {
  auto *v = find(k);
  return v ? std::get<double>(*v) : dflt;
}
bool Attrs::getBool(AttrKey k) const {
  auto *v = find(k);
  return v && std::get<bool>(*v);
}
llvm::StringRef Attrs::getString(AttrKey k) const {
  auto *v = find(k);
  return v ? llvm::StringRef(std::get<std::string>(*v)) : llvm::StringRef();
}
llvm::ArrayRef<int64_t> Attrs::getInts(AttrKey k) const {
  auto *v = find(k);
  return v ? llvm::ArrayRef<int64_t>(std::get<std::vector<int64_t>>(*v)) : llvm::ArrayRef<int64_t>();
}

/// Shortest text that reads back as the same double.
static std::string floatStr(double d) {
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (std::isnan(d)) return "nan";
  char buf[64];
  for (int prec = 6; prec <= 17; ++prec) {
    snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  // Keep a float looking like a float, so `1.0` does not read back as an int.
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string attrValueStr(const AttrValue &v) {
  if (auto *i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (auto *d = std::get_if<double>(&v)) return floatStr(*d);
  if (auto *b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (auto *s = std::get_if<std::string>(&v)) {
    // A newline is written \n: the text form keeps a string on one line.
    std::string out = "\"";
    for (char c : *s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c == '\n' ? "\\n" : std::string(1, c);
    }
    return out + "\"";
  }
  auto &ints = std::get<std::vector<int64_t>>(v);
  std::string s = "[";
  for (size_t i = 0; i < ints.size(); ++i) s += (i ? ", " : "") + std::to_string(ints[i]);
  return s + "]";
}

//===----------------------------------------------------------------------===//
// Type rules
//===----------------------------------------------------------------------===//

namespace {

llvm::Error fail(const OpInfo &op, const llvm::Twine &msg) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), "'" + op.mnemonic + "' " + msg);
}

using Ty = llvm::ArrayRef<TensorType>;
using Result = llvm::Expected<TensorType>;

Result ruleDeclared(const OpInfo &op, Ty, const Attrs &, const TensorType *declared) {
  if (!declared) return fail(op, "needs a declared result type");
  return *declared;
}

Result ruleIota(const OpInfo &op, Ty, const Attrs &a, const TensorType *declared) {
  if (!declared) return fail(op, "needs a declared result type");
  if (declared->dtype != DType::I32) return fail(op, "produces i32, not " + str(*declared));
  int64_t axis = a.getInt(AttrKey::Axis);
  if (axis < 0 || axis >= int64_t(declared->rank())) return fail(op, "axis out of range for " + str(*declared));
  return *declared;
}

Result ruleRandom(const OpInfo &op, Ty, const Attrs &, const TensorType *declared) {
  if (!declared) return fail(op, "needs a declared result type");
  if (!isFloat(declared->dtype)) return fail(op, "produces floats, not " + str(*declared));
  return *declared;
}

Result ruleUnaryFloat(const OpInfo &op, Ty t, const Attrs &, const TensorType *) {
  if (!isFloat(t[0].dtype)) return fail(op, "needs a float operand, got " + str(t[0]));
  return t[0];
}

Result ruleUnaryNumeric(const OpInfo &op, Ty t, const Attrs &, const TensorType *) {
  if (t[0].dtype == DType::I1) return fail(op, "needs a number operand, got " + str(t[0]));
  return t[0];
}

Result sameTypes(const OpInfo &op, Ty t) {
  for (size_t i = 1; i < t.size(); ++i)
    if (t[i] != t[0]) return fail(op, "operands differ: " + str(t[0]) + " and " + str(t[i]));
  return t[0];
}

Result ruleBinaryArith(const OpInfo &op, Ty t, const Attrs &, const TensorType *) {
  if (t[0].dtype == DType::I1) return fail(op, "does not take booleans: " + str(t[0]));
  return sameTypes(op, t);
}

Result ruleBinaryFloat(const OpInfo &op, Ty t, const Attrs &, const TensorType *) {
  if (!isFloat(t[0].dtype)) return fail(op, "needs float operands, got " + str(t[0]));
  return sameTypes(op, t);
}

Result ruleTernaryArith(const OpInfo &op, Ty t, const Attrs &a, const TensorType *d) { return ruleBinaryArith(op, t, a, d); }

Result ruleCompare(const OpInfo &op, Ty t, const Attrs &, const TensorType *) {
  auto r = sameTypes(op, t);
  if (!r) return r;
  return r->withDType(DType::I1);
}

Result ruleLogical(const OpInfo &op, Ty t, const Attrs &, const TensorType *) {
  if (t[0].dtype != DType::I1) return fail(op, "needs i1 operands, got " + str(t[0]));
  return sameTypes(op, t);
}

Result ruleHash(const OpInfo &op, Ty t, const Attrs &, const TensorType *) {
  for (const TensorType &x : t)
    if (x.dtype != DType::I32) return fail(op, "needs i32 operands, got " + str(x));
  return sameTypes(op, t);
}

Result ruleSelect(const OpInfo &op, Ty t, const Attrs &, const TensorType *) {
  if (t[0].dtype != DType::I1) return fail(op, "condition must be i1, got " + str(t[0]));
  if (t[0].shape != t[1].shape) return fail(op, "condition " + str(t[0]) + " does not match " + str(t[1]));
  return sameTypes(op, t.drop_front());
}

Result ruleCast(const OpInfo &op, Ty t, const Attrs &, const TensorType *declared) {
  if (!declared) return fail(op, "needs a declared result type");
  if (declared->shape != t[0].shape) return fail(op, "cannot change shape: " + str(t[0]) + " to " + str(*declared));
  return *declared;
}

Result ruleBroadcast(const OpInfo &op, Ty t, const Attrs &, const TensorType *declared) {
  if (!declared) return fail(op, "needs a declared result type");
  if (declared->dtype != t[0].dtype || !broadcastsTo(t[0].shape, declared->shape))
    return fail(op, "cannot broadcast " + str(t[0]) + " to " + str(*declared));
  return *declared;
}

Result ruleReshape(const OpInfo &op, Ty t, const Attrs &, const TensorType *declared) {
  if (!declared) return fail(op, "needs a declared result type");
  if (declared->dtype != t[0].dtype || declared->numel() != t[0].numel())
    return fail(op, "cannot reshape " + str(t[0]) + " to " + str(*declared));
  return *declared;
}

Result ruleTranspose(const OpInfo &op, Ty t, const Attrs &a, const TensorType *) {
  auto perm = a.getInts(AttrKey::Perm);
  if (perm.size() != t[0].rank()) return fail(op, "perm has " + llvm::Twine(perm.size()) + " entries for " + str(t[0]));
  std::vector<bool> seen(perm.size());
  Dims shape;
  for (int64_t p : perm) {
    if (p < 0 || p >= int64_t(perm.size()) || seen[p]) return fail(op, "perm is not a permutation");
    seen[p] = true;
    shape.push_back(t[0].shape[p]);
  }
  return t[0].withShape(shape);
}

/// Slice and pad share a check: `small` fits inside `big` at `offsets`.
/// An offset is any int64 the text IR gives, so it is compared with the
/// room left (`big - small`, both positive dims) rather than added to a
/// size: 2^63 - 1 plus a dim wrapped negative and passed, and the loops
/// then read outside the tensor.
llvm::Error checkWindow(const OpInfo &op, const TensorType &small, const TensorType &big, llvm::ArrayRef<int64_t> off) {
  if (small.rank() != big.rank() || off.size() != big.rank() || small.dtype != big.dtype)
    return fail(op, "window " + str(small) + " does not fit " + str(big));
  for (unsigned i = 0; i < big.rank(); ++i)
    if (off[i] < 0 || small.shape[i] > big.shape[i] || off[i] > big.shape[i] - small.shape[i])
      return fail(op, "window " + str(small) + " at offsets " + attrValueStr(std::vector<int64_t>(off.begin(), off.end())) +
                          " does not fit " + str(big));
  return llvm::Error::success();
}

Result ruleSlice(const OpInfo &op, Ty t, const Attrs &a, const TensorType *declared) {
  if (!declared) return fail(op, "needs a declared result type");
  if (auto e = checkWindow(op, *declared, t[0], a.getInts(AttrKey::Offsets))) return e;
  return *declared;
}

Result rulePad(const OpInfo &op, Ty t, const Attrs &a, const TensorType *declared) {
  if (!declared) return fail(op, "needs a declared result type");
  if (auto e = checkWindow(op, t[0], *declared, a.getInts(AttrKey::Offsets))) return e;
  return *declared;
}

Result ruleConcat(const OpInfo &op, Ty t, const Attrs &a, const TensorType *) {
  if (t.empty()) return fail(op, "needs at least one operand");
  int64_t axis = a.getInt(AttrKey::Axis);
  if (axis < 0 || axis >= int64_t(t[0].rank())) return fail(op, "axis out of range for " + str(t[0]));
  TensorType out = t[0];
  for (size_t i = 1; i < t.size(); ++i) {
    bool ok = t[i].dtype == out.dtype && t[i].rank() == out.rank();
    for (unsigned d = 0; ok && d < out.rank(); ++d)
      ok = d == axis || t[i].shape[d] == out.shape[d];
    if (!ok) return fail(op, "cannot join " + str(t[0]) + " and " + str(t[i]) + " on axis " + llvm::Twine(axis));
    // Each dim is at most kMaxElements, but a text IR concat can have
    // enough operands for their sum to wrap.
    if (t[i].shape[axis] > kMaxElements - out.shape[axis])
      return fail(op, "joins more than " + llvm::Twine(kMaxElements) + " elements on axis " + llvm::Twine(axis));
    out.shape[axis] += t[i].shape[axis];
  }
  return out;
}

Result ruleReduce(const OpInfo &op, Ty t, const Attrs &a, const TensorType *) {
  if (t[0].dtype == DType::I1) return fail(op, "does not take booleans");
  TensorType out = t[0];
  int64_t prev = -1;
  for (int64_t ax : a.getInts(AttrKey::Axes)) {
    if (ax <= prev || ax >= int64_t(out.rank())) return fail(op, "axes must be increasing and within rank of " + str(t[0]));
    out.shape[ax] = 1;
    prev = ax;
  }
  return out;
}

Result ruleMatMul(const OpInfo &op, Ty t, const Attrs &a, const TensorType *) {
  const TensorType &x = t[0], &y = t[1];
  if (!isFloat(x.dtype) || x.dtype != y.dtype) return fail(op, "needs float operands of one dtype: " + str(x) + " @ " + str(y));
  if (x.rank() < 2 || x.rank() != y.rank()) return fail(op, "needs operands of equal rank >= 2: " + str(x) + " @ " + str(y));
  unsigned r = x.rank();
  for (unsigned i = 0; i + 2 < r; ++i)
    if (x.shape[i] != y.shape[i]) return fail(op, "batch dims differ: " + str(x) + " @ " + str(y));
  bool ta = a.getBool(AttrKey::TransposeA), tb = a.getBool(AttrKey::TransposeB);
  int64_t m = ta ? x.shape[r - 1] : x.shape[r - 2], k1 = ta ? x.shape[r - 2] : x.shape[r - 1];
  int64_t k2 = tb ? y.shape[r - 1] : y.shape[r - 2], n = tb ? y.shape[r - 2] : y.shape[r - 1];
  if (k1 != k2) return fail(op, "inner dims differ: " + str(x) + " @ " + str(y));
  TensorType out = x;
  out.shape[r - 2] = m;
  out.shape[r - 1] = n;
  return out;
}

Result ruleGather(const OpInfo &op, Ty t, const Attrs &, const TensorType *) {
  const TensorType &table = t[0], &idx = t[1];
  if (table.rank() < 1 || idx.dtype != DType::I32)
    return fail(op, "needs a table and i32 indices, got " + str(table) + " and " + str(idx));
  TensorType out = idx.withDType(table.dtype);
  out.shape.append(table.shape.begin() + 1, table.shape.end());
  return out;
}

Result ruleScatterAdd(const OpInfo &op, Ty t, const Attrs &, const TensorType *declared) {
  if (!declared) return fail(op, "needs a declared result type");
  const TensorType &idx = t[0], &upd = t[1];
  TensorType expect = idx.withDType(declared->dtype);
  if (declared->rank() >= 1) expect.shape.append(declared->shape.begin() + 1, declared->shape.end());
  if (idx.dtype != DType::I32 || upd != expect)
    return fail(op, "cannot scatter " + str(upd) + " by " + str(idx) + " into " + str(*declared));
  return *declared;
}

Result ruleOneHot(const OpInfo &op, Ty t, const Attrs &, const TensorType *declared) {
  if (!declared) return fail(op, "needs a declared result type");
  if (t[0].dtype != DType::I32 || declared->rank() != t[0].rank() + 1 ||
      !std::equal(t[0].shape.begin(), t[0].shape.end(), declared->shape.begin()))
    return fail(op, "cannot one-hot " + str(t[0]) + " into " + str(*declared));
  return *declared;
}

} // namespace

//===----------------------------------------------------------------------===//
// The table
//===----------------------------------------------------------------------===//

/// The table, built once. `using enum` lets the rows in Ops.def name
/// attribute keys without a prefix.
static llvm::ArrayRef<OpInfo> opTable() {
  using enum AttrKey;
  using enum Domain;
#define FOLD(expr) [](const double *a) -> double { return expr; }
#define NOFOLD nullptr
#define ANY {}
#define DOM(...) {__VA_ARGS__}
  static const OpInfo table[] = {
#define OP(Kind, Mn, Arity, Traits, Rule, CostClass, Surface, Fold, Dom, ...)                                       \
  {OpKind::Kind, Mn, Arity, Traits, Rule, Cost::CostClass, Surface, Fold, Dom, {__VA_ARGS__}},
#include "ir/Ops.def"
  };
#undef FOLD
#undef NOFOLD
#undef ANY
#undef DOM
  static_assert(std::size(table) == kNumOps);
  return table;
}

const OpInfo &opInfo(OpKind k) { return opTable()[unsigned(k)]; }

std::optional<OpKind> parseOpKind(llvm::StringRef mnemonic) {
  static const llvm::StringMap<OpKind> byName = [] {
    llvm::StringMap<OpKind> m;
    for (auto &op : opTable()) m[op.mnemonic] = op.kind;
    return m;
  }();
  auto it = byName.find(mnemonic);
  if (it == byName.end()) return std::nullopt;
  return it->second;
}

llvm::Expected<TensorType> inferType(OpKind k, llvm::ArrayRef<TensorType> operands, const Attrs &attrs,
                                     const TensorType *declared) {
  const OpInfo &info = opInfo(k);
  if (info.arity >= 0 && operands.size() != unsigned(info.arity))
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "'%s' takes %d operands, got %zu",
                                   info.mnemonic.data(), info.arity, operands.size());
  for (AttrKey key : info.attrs)
    if (!attrs.has(key) && attrKind(key) != AttrKind::Bool && key != AttrKey::Init && key != AttrKey::Default)
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "'%s' needs attribute '%s'",
                                     info.mnemonic.data(), attrName(key).data());
  for (auto &[key, v] : attrs.entries())
    if (std::find(info.attrs.begin(), info.attrs.end(), key) == info.attrs.end())
      return llvm::createStringError(llvm::inconvertibleErrorCode(), "'%s' has no attribute '%s'",
                                     info.mnemonic.data(), attrName(key).data());
  return info.typeRule(info, operands, attrs, declared);
}

llvm::StringRef surfaceName(const OpInfo &op) { return op.surface.split('(').first; }

std::vector<std::string> surfaceParams(const OpInfo &op) {
  std::vector<std::string> out;
  llvm::StringRef params = op.surface.split('(').second.rsplit(')').first;
  while (!params.empty()) {
    auto [p, rest] = params.split(',');
    out.push_back(p.trim().str());
    params = rest;
  }
  return out;
}

bool isFunctionSurface(const OpInfo &op) { return op.surface.contains('('); }

std::optional<OpKind> opForSurface(llvm::StringRef name) {
  static const llvm::StringMap<OpKind> bySurface = [] {
    llvm::StringMap<OpKind> m;
    for (auto &op : opTable())
      if (!op.surface.empty()) m[surfaceName(op)] = op.kind;
    return m;
  }();
  auto it = bySurface.find(name);
  if (it == bySurface.end()) return std::nullopt;
  return it->second;
}

double roundToDType(DType t, double v) {
  switch (t) {
  case DType::F32: return double(float(v));
  case DType::I32: {
    // Truncation toward zero, wrapping like two's complement arithmetic;
    // NaN and infinities are 0.
    if (!std::isfinite(v)) return 0;
    double t = std::trunc(v);
    double m = std::fmod(t, 4294967296.0);
    if (m < 0) m += 4294967296.0;
    return m >= 2147483648.0 ? m - 4294967296.0 : m;
  }
  case DType::I1: return v != 0 ? 1 : 0;
  case DType::F64: return v;
  }
  return v;
}

std::optional<double> evalScalar(OpKind k, llvm::ArrayRef<double> a, DType dtype) {
  const OpInfo &op = opInfo(k);
  if (!op.fold) return std::nullopt;
  double v = op.fold(a.data());
  // A conversion to i32 saturates (NaN is 0), as the generated code's
  // fptosi.sat; arithmetic on i32 wraps (roundToDType).
  if (k == OpKind::Cast && dtype == DType::I32)
    return std::isnan(v) ? 0 : std::trunc(std::clamp(v, -2147483648.0, 2147483647.0));
  return roundToDType(dtype, v);
}

} // namespace gradc
