//===- passes/IndexOnly.h - values of their indices alone -----------------===//
//
// A mask such as causal attention's, reshape(arange(T), [T, 1]) >=
// reshape(arange(T), [1, T]), is a value of its indices alone. Fusion
// (passes/Fusion.cpp) recomputes such values inline in each kernel that
// reads them instead of storing them; SliceFusion (passes/SliceFusion.cpp)
// runs a group that selects by one in row blocks, whose products and loops
// then skip the columns it hides (codegen/MaskedColumns.cpp).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include "llvm/ADT/STLExtras.h"

namespace gradc {

/// Whether n is a short chain of non-Math elementwise ops over constants,
/// iota and layout ops of them: the causal mask above, or a causal window
/// `i >= j && i - j < W`. Recomputing it reads no memory, so each kernel
/// that reads it computes it inline, even through a broadcast over leading
/// axes (the mask read as [B, H, T, T]); stored, it would be a [T, T] value
/// in the arena, 256 MB of bytes at T = 16384, loaded again by every head.
/// At most 8 elementwise ops (layout ops are index arithmetic) and 32 nodes
/// in all, counting shared ones each time.
inline bool indexOnly(const Node *n, int &ops, int &nodes) {
  if (n->is(OpKind::Const) || n->is(OpKind::Iota)) return true;
  if (--nodes < 0 || n->has(Random) || n->has(Leaf)) return false;
  if (!n->has(Layout) && !(n->has(Elementwise) && n->info().cost != Cost::Math)) return false;
  if (!n->has(Layout) && --ops < 0) return false;
  return llvm::all_of(n->operands, [&](const Node *op) { return indexOnly(op, ops, nodes); });
}
inline bool indexOnly(const Node *n) {
  int ops = 8, nodes = 32;
  return n->has(Elementwise) && indexOnly(n, ops, nodes);
}

} // namespace gradc
