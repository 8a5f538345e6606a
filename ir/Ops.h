//===- ir/Ops.h - op kinds, traits, attributes and type rules -------------===//
//
// The C++ face of Ops.def: an enum of op kinds, an enum of attribute keys,
// a small attribute list, and opInfo() with everything the table says.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Types.h"

#include "llvm/Support/Error.h"

#include <cmath>
#include <string>
#include <variant>
#include <vector>

namespace gradc {

enum class OpKind : uint8_t {
#define OP(Kind, ...) Kind,
#include "ir/Ops.def"
};
constexpr unsigned kNumOps = 0
#define OP(...) +1
#include "ir/Ops.def"
    ;

enum OpTrait : unsigned {
  None = 0,
  Leaf = 1u << 0,        // no operands; value comes from outside or is generated
  Stateful = 1u << 1,    // persistent across steps (params, optimizer state)
  Random = 1u << 2,      // draws from the runtime RNG
  Elementwise = 1u << 3, // result[i] depends only on operands[i]
  Commutative = 1u << 4,
  NoGrad = 1u << 5,      // not differentiable (integer/boolean result)
  Layout = 1u << 6,      // moves elements without arithmetic
  Reduction = 1u << 7,
  Kinked = 1u << 8,      // continuous, but not differentiable where operands tie (max, abs)
  Stepped = 1u << 9,     // piecewise constant (floor, sign): zero gradient, jumps between
};

/// What one element of an op costs (see Ops.def).
enum class Cost : uint8_t { Free, Cheap, Normal, Math };

/// Where an elementwise op's operand keeps it finite and smooth.
enum class Domain : uint8_t { Any, Positive, AboveMinusOne, NonZero };

/// The scalar semantics of an elementwise op: one element, in double.
using ScalarFn = double (*)(const double *a);

/// max and min that propagate NaN, as the generated code does
/// (llvm.maximum): a NaN in either operand gives NaN.
/// Python's and PyTorch's a // b on floats: the quotient rounded toward
/// minus infinity, computed from the exact remainder so that
/// a == (a // b) * b + a % b holds as closely as rounding allows (1 // 0.1
/// is 9, where floor(1 / 0.1) is 10); a / b when b is 0.
inline double floorDiv(double a, double b) {
  if (b == 0) return a / b;
  double m = std::fmod(a, b), d = (a - m) / b;
  if (m != 0 && (b < 0) != (m < 0)) d -= 1;
  if (d == 0) return std::copysign(0.0, a / b);
  double f = std::floor(d);
  return d - f > 0.5 ? f + 1 : f;
}
/// Python's and PyTorch's a % b: the remainder with the sign of b (-7 % 2
/// is 1), exact for floats (fmod is), NaN when b is 0.
inline double floorMod(double a, double b) {
  double m = std::fmod(a, b);
  return m != 0 && (b < 0) != (m < 0) ? m + b : m;
}
/// murmur3_32 of the 4-byte key a with seed b (Appleby's MurmurHash3,
/// public domain), on i32 values held in doubles: the `hash` op. Any change
/// of an input bit flips about half the output bits, so hash(element index,
/// key) gives independent-looking bits per element without a stored state.
inline double murmurMix(double a, double b) {
  auto word = [](double x) { // i32 semantics: toward zero, saturating, NaN 0
    return uint32_t(int32_t(x != x ? 0.0 : x < -2147483648.0 ? -2147483648.0 : x > 2147483647.0 ? 2147483647.0 : x));
  };
  auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  uint32_t k = word(a), h = word(b);
  k *= 0xCC9E2D51u, k = rotl(k, 15), k *= 0x1B873593u;
  h ^= k, h = rotl(h, 13), h = h * 5 + 0xE6546B64u;
  h ^= 4u; // the key's length in bytes
  h ^= h >> 16, h *= 0x85EBCA6Bu, h ^= h >> 13, h *= 0xC2B2AE35u, h ^= h >> 16;
  return double(int32_t(h));
}
inline double maxNaN(double a, double b) { return a != a || b != b ? a + b : (a > b ? a : b); }
inline double minNaN(double a, double b) { return a != a || b != b ? a + b : (a < b ? a : b); }

enum class AttrKey : uint8_t {
#define ATTR(Key, ...) Key,
#include "ir/Ops.def"
};
enum class AttrKind : uint8_t { Int, Float, Bool, String, Ints };

llvm::StringRef attrName(AttrKey k);
AttrKind attrKind(AttrKey k);
std::optional<AttrKey> parseAttrKey(llvm::StringRef s);

using AttrValue = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>>;

/// The attributes of one node: a short list, ordered by key.
class Attrs {
public:
  void set(AttrKey k, AttrValue v);
  bool has(AttrKey k) const { return find(k) != nullptr; }
  const AttrValue *find(AttrKey k) const;
  int64_t getInt(AttrKey k, int64_t dflt = 0) const;
  double getFloat(AttrKey k, double dflt = 0) const;
  bool getBool(AttrKey k) const;
  llvm::StringRef getString(AttrKey k) const;
  llvm::ArrayRef<int64_t> getInts(AttrKey k) const;
  const std::vector<std::pair<AttrKey, AttrValue>> &entries() const { return list; }
  bool operator==(const Attrs &o) const { return list == o.list; }

private:
  std::vector<std::pair<AttrKey, AttrValue>> list;
};

/// Print an attribute value the way the text IR writes it.
std::string attrValueStr(const AttrValue &v);

struct OpInfo;
/// Checks operand types and attributes and returns the result type. `declared`
/// is the type the producer asked for (from the builder or the text form);
/// rules of ops whose result shape is not implied by their operands need it.
using TypeRule = llvm::Expected<TensorType> (*)(const OpInfo &, llvm::ArrayRef<TensorType> operands,
                                                const Attrs &, const TensorType *declared);

struct OpInfo {
  OpKind kind;
  llvm::StringRef mnemonic;
  int arity; // -1: variadic
  unsigned traits;
  TypeRule typeRule;
  Cost cost;
  llvm::StringRef surface; // "exp", "+", "unary -"; empty: IR only
  ScalarFn fold;           // null: not a scalar function
  llvm::SmallVector<Domain, 3> domain; // per operand; empty: any
  llvm::SmallVector<AttrKey, 2> attrs;

  bool has(OpTrait t) const { return (traits & t) != 0; }
  Domain domainOf(unsigned operand) const { return operand < domain.size() ? domain[operand] : Domain::Any; }
};

const OpInfo &opInfo(OpKind k);
std::optional<OpKind> parseOpKind(llvm::StringRef mnemonic);
inline llvm::StringRef mnemonic(OpKind k) { return opInfo(k).mnemonic; }

/// Runs the op's type rule.
llvm::Expected<TensorType> inferType(OpKind k, llvm::ArrayRef<TensorType> operands, const Attrs &attrs,
                                     const TensorType *declared);

/// The op a source spelling stands for: a builtin's name ("exp") or an
/// operator ("+", "unary -").
std::optional<OpKind> opForSurface(llvm::StringRef name);
/// "exp" of the surface "exp(x)", "+" of "+".
llvm::StringRef surfaceName(const OpInfo &op);
/// The parameters of a builtin surface: {"a", "b"} of "maximum(a, b)".
std::vector<std::string> surfaceParams(const OpInfo &op);
/// Whether the surface is a builtin function (not an operator).
bool isFunctionSurface(const OpInfo &op);

/// One element of op k applied to `args`, rounded to `dtype` the way the
/// generated code stores it (f32 rounds; i32 truncates toward zero and
/// wraps; i1 is 0 or 1). Null when the op is not a scalar function.
std::optional<double> evalScalar(OpKind k, llvm::ArrayRef<double> args, DType dtype);
/// A double as `dtype` holds it.
double roundToDType(DType dtype, double v);

} // namespace gradc
