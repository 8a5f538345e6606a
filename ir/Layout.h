//===- ir/Layout.h - tensors as strided views of stored buffers -----------===//
//
// Layout ops (broadcast, transpose, slice, and reshapes that only split
// dimensions) compute nothing: element i of the result is element f(i) of
// the operand for an affine f. Composing them down to a stored value gives a
// strided view: a base node, an element offset and one stride per result
// dimension (0 where broadcast). Codegen reads such views directly instead
// of copying.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include <functional>

namespace gradc {

struct StridedView {
  Node *base = nullptr; // the stored value the view reads
  int64_t offset = 0;   // in elements
  Dims strides;         // one per dimension of the viewed node
};

/// True when `n` holds its own bytes at run time: a leaf other than a
/// constant or iota, a node some kernel stores, or a reshape view of one.
/// Follows layout ops from `n` down to a node for which `stored` is true.
/// Returns nullopt when the path contains anything else (arithmetic, a
/// padding, a reshape that merges dimensions of a non-contiguous view).
std::optional<StridedView> stridedView(Node *n, const std::function<bool(const Node *)> &stored);

/// The strides of a reshape of a view with `strides` over `from`, or nullopt
/// when the reshape cannot be expressed as strides.
std::optional<Dims> reshapeStrides(llvm::ArrayRef<int64_t> from, llvm::ArrayRef<int64_t> strides,
                                   llvm::ArrayRef<int64_t> to);

} // namespace gradc
