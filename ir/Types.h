//===- ir/Types.h - dtypes, static shapes and tensor types ----------------===//
//
// Every IR value is a tensor with a dtype and a static shape. A scalar is a
// tensor of rank 0 (shape []).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>

namespace gradc {

enum class DType : uint8_t { F32, F64, I32, I1 };

llvm::StringRef dtypeName(DType t);
std::optional<DType> parseDType(llvm::StringRef s);
inline bool isFloat(DType t) { return t == DType::F32 || t == DType::F64; }
/// Bytes one element occupies in memory (i1 is stored as a byte).
unsigned dtypeBytes(DType t);

using Dims = llvm::SmallVector<int64_t, 4>;

/// A tensor type: dtype plus static shape, e.g. f32[12,64,128].
struct TensorType {
  DType dtype = DType::F32;
  Dims shape;

  TensorType() = default;
  TensorType(DType dt, llvm::ArrayRef<int64_t> s) : dtype(dt), shape(s.begin(), s.end()) {}

  unsigned rank() const { return shape.size(); }
  int64_t numel() const;
  int64_t bytes() const { return numel() * dtypeBytes(dtype); }
  bool isScalar() const { return shape.empty(); }
  bool operator==(const TensorType &o) const { return dtype == o.dtype && shape == o.shape; }
  bool operator!=(const TensorType &o) const { return !(*this == o); }
  TensorType withDType(DType d) const { return TensorType(d, shape); }
  TensorType withShape(llvm::ArrayRef<int64_t> s) const { return TensorType(dtype, s); }
};

/// "f32[2,3]"; a scalar prints as "f32[]".
std::string str(const TensorType &t);
/// The type as the source language writes it, for messages to the user:
/// bool[4,2] where the IR says i1[4,2].
std::string sourceStr(const TensorType &t);
/// "[2,3]".
std::string shapeStr(llvm::ArrayRef<int64_t> shape);

/// NumPy broadcasting of two shapes (trailing dims aligned; 1 stretches).
std::optional<Dims> broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b);
/// True when `from` broadcasts to `to` under NumPy rules.
bool broadcastsTo(llvm::ArrayRef<int64_t> from, llvm::ArrayRef<int64_t> to);
/// Row-major strides in elements for a contiguous tensor of this shape.
Dims contiguousStrides(llvm::ArrayRef<int64_t> shape);
/// The product of dims, unchecked: every shape in a graph has passed
/// checkedNumel when it was made from user input, so it cannot overflow.
int64_t product(llvm::ArrayRef<int64_t> dims);

/// The most elements one tensor may have: 2^37, which is 1 TiB in f64 and
/// 512 GiB in f32, beyond any model this compiler trains on one machine, and
/// small enough that byte sizes, arena offsets and element offsets of
/// millions of such tensors still fit in int64 without overflow checks.
constexpr int64_t kMaxElements = int64_t(1) << 37;
/// The most dims a program's tensor may have: 32, as NumPy allowed for
/// years (the front end checks it). A shape built from a list doubled in a
/// loop had rank 262,144, and every reduction over it took time quadratic
/// in the rank (22 s each).
constexpr size_t kMaxRank = 32;
/// The most dims a tensor of the IR may have: passes add some (a blocked
/// sum views [262144, 9] as [512, 512, 9]), and a rank-32 model's kernels
/// stage must parse back.
constexpr size_t kMaxIRRank = 2 * kMaxRank;
/// The element count of `shape` when every dim is positive, the count is
/// at most kMaxElements (computed without overflow) and the rank at most
/// kMaxIRRank; otherwise nullopt.
std::optional<int64_t> checkedNumel(llvm::ArrayRef<int64_t> shape);
/// Why a tensor of `shape` is too large ("562949953421312 elements, more
/// than ...", or too many dims), for a message that names it; empty when it
/// is not.
std::string sizeProblem(llvm::ArrayRef<int64_t> shape);

} // namespace gradc
