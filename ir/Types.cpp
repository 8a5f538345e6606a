//===- ir/Types.cpp - dtypes, static shapes and tensor types --------------===//
#include "ir/Types.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"

#include <cstdio>

namespace gradc {

llvm::StringRef dtypeName(DType t) {
  switch (t) {
  case DType::F32: return "f32";
  case DType::F64: return "f64";
  case DType::I32: return "i32";
  case DType::I1: return "i1";
  }
  return "?";
}

std::optional<DType> parseDType(llvm::StringRef s) {
  if (s == "f32") return DType::F32;
  if (s == "f64") return DType::F64;
  if (s == "i32") return DType::I32;
  if (s == "i1" || s == "bool") return DType::I1;
  return std::nullopt;
}

unsigned dtypeBytes(DType t) {
  switch (t) {
  case DType::F32: return 4;
  case DType::F64: return 8;
  case DType::I32: return 4;
  case DType::I1: return 1;
  }
  return 0;
}

int64_t product(llvm::ArrayRef<int64_t> dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t TensorType::numel() const { return product(shape); }

std::optional<int64_t> checkedNumel(llvm::ArrayRef<int64_t> shape) {
  if (shape.size() > kMaxIRRank) return std::nullopt;
  int64_t n = 1;
  for (int64_t d : shape)
    if (d < 1 || llvm::MulOverflow(n, d, n) || n > kMaxElements) return std::nullopt;
  return n;
}

std::string sizeProblem(llvm::ArrayRef<int64_t> shape) {
  if (checkedNumel(shape)) return "";
  if (llvm::any_of(shape, [](int64_t d) { return d < 1; })) return "a dimension is not positive";
  if (shape.size() > kMaxIRRank)
    return std::to_string(shape.size()) + " dims, more than the " + std::to_string(kMaxIRRank) + " a tensor may have";
  // Counted in floating point: the count may not fit in 64 bits.
  double n = 1;
  for (int64_t d : shape) n *= double(d);
  char count[32];
  snprintf(count, sizeof count, n < 1e15 ? "%.0f" : "%.3g", n);
  return std::string(count) + " elements, more than the " + std::to_string(kMaxElements) +
         " (2^37) a tensor may have";
}

std::string shapeStr(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string str(const TensorType &t) { return dtypeName(t.dtype).str() + shapeStr(t.shape); }
std::string sourceStr(const TensorType &t) {
  return (t.dtype == DType::I1 ? std::string("bool") : dtypeName(t.dtype).str()) + shapeStr(t.shape);
}

std::optional<Dims> broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b) {
  size_t r = std::max(a.size(), b.size());
  Dims out(r, 1);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = da == 1 ? db : da;
  }
  return out;
}

bool broadcastsTo(llvm::ArrayRef<int64_t> from, llvm::ArrayRef<int64_t> to) {
  if (from.size() > to.size()) return false;
  size_t lead = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[lead + i]) return false;
  return true;
}

Dims contiguousStrides(llvm::ArrayRef<int64_t> shape) {
  Dims s(shape.size(), 1);
  for (int i = int(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

} // namespace gradc
