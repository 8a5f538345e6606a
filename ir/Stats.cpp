//===- ir/Stats.cpp - what a graph costs ----------------------------------===//
#include "ir/Stats.h"

namespace gradc {

int64_t flopsOf(const Node &n) {
  if (n.has(Leaf) || n.has(Layout) || n.is(OpKind::StopGradient) || n.is(OpKind::Cast)) return 0;
  if (n.is(OpKind::MatMul)) {
    unsigned r = n.type.rank();
    const TensorType &a = n.operand(0)->type;
    int64_t k = n.attrs.getBool(AttrKey::TransposeA) ? a.shape[r - 2] : a.shape[r - 1];
    return 2 * n.type.numel() * k;
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
    s.flops += flopsOf(n);
    backward |= n.prov.phase == Phase::Backward;
    if (n.is(OpKind::Param)) s.params += n.type.numel(), s.paramBytes += n.type.bytes();
    if (n.is(OpKind::State)) s.stateBytes += n.type.bytes();
    if (!n.has(Leaf) && n.prov.phase == Phase::Forward && !n.has(Layout)) s.activationBytes += n.type.bytes();
  }
  if (backward || !g.updates.empty()) s.gradBytes = s.paramBytes;
  s.kernels = g.numKernels();
  s.arenaBytes = g.arenaBytes;
  return s;
}

} // namespace gradc
