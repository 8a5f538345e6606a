//===- ir/Stats.cpp - what a graph costs ----------------------------------===//
#include "ir/Stats.h"
#include "ir/Plan.h"

#include "runtime/include/gradrt/abi.h"

#include "llvm/Support/MathExtras.h"

#include <limits>

namespace gradc {

/// Costs add up without wrapping: one product of 2^37-element tensors is
/// up to 2^57 FLOPs, and a text IR module can declare a hundred of them.
static int64_t capped(int64_t a, int64_t b, bool multiply = false) {
  int64_t r;
  bool over = multiply ? llvm::MulOverflow(a, b, r) : llvm::AddOverflow(a, b, r);
  return over ? std::numeric_limits<int64_t>::max() : r;
}

int64_t flopsOf(const Node &n) {
  if (n.has(Leaf) || n.has(Layout) || n.is(OpKind::StopGradient) || n.is(OpKind::Cast)) return 0;
  // Floating-point work only: a mask's comparisons, dropout's hash and an
  // index's arithmetic are integer or boolean, and inflated the count.
  if (!isFloat(n.type.dtype)) return 0;
  if (n.is(OpKind::MatMul)) {
    unsigned r = n.type.rank();
    const TensorType &a = n.operand(0)->type;
    int64_t k = n.attrs.getBool(AttrKey::TransposeA) ? a.shape[r - 2] : a.shape[r - 1];
    return capped(2 * n.type.numel(), k, /*multiply=*/true);
  }
  if (n.has(Reduction)) return n.operand(0)->type.numel();
  if (n.is(OpKind::ScatterAdd)) return n.operand(1)->type.numel();
  if (n.is(OpKind::Gather) || n.is(OpKind::OneHot)) return 0;
  return n.type.numel();
}

GraphStats computeStats(const Graph &g) {
  GraphStats s;
  bool backward = false;
  for (auto &np : g.nodes) {
    const Node &n = *np;
    s.opCounts[n.info().mnemonic.str()]++;
    ++s.nodes;
    s.flops = capped(s.flops, flopsOf(n));
    backward |= n.prov.phase == Phase::Backward;
    if (n.is(OpKind::Param)) s.params = capped(s.params, n.type.numel()), s.paramBytes = capped(s.paramBytes, n.type.bytes());
    // Optimizer state only: not @step's key and value caches, nor the
    // values gradient checking holds fixed.
    llvm::StringRef name = n.has(Leaf) ? n.attrs.getString(AttrKey::Name) : "";
    if (n.is(OpKind::State) && !name.starts_with(GRT_CACHE_PREFIX) && !name.starts_with(GRT_FROZEN_PREFIX))
      s.stateBytes = capped(s.stateBytes, n.type.bytes());
    if (!n.has(Leaf) && n.prov.phase == Phase::Forward && !n.has(Layout)) s.activationBytes = capped(s.activationBytes, n.type.bytes());
  }
  // (@step updates its caches, and computes no gradient.)
  if (backward || llvm::any_of(g.updates, [](const Update &u) { return u.target->is(OpKind::Param); }))
    s.gradBytes = s.paramBytes;
  // Kernels as the executable counts them (info, train --profile): a slice
  // group runs as one (the table said 109 where they said 101), and an
  // output or update planned outside its slot gets a copy kernel of its
  // own (mlp_nd's @eval: 22 where info said 23).
  s.kernels = g.numKernels();
  for (const SliceGroup &sg : g.sliceGroups) s.kernels -= sg.last - sg.first;
  if (s.kernels) s.kernels += copiesIntoSlots(g);
  s.arenaBytes = g.arenaBytes;
  return s;
}

} // namespace gradc
