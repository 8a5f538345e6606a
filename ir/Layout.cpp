//===- ir/Layout.cpp - tensors as strided views of stored buffers ---------===//
#include "ir/Layout.h"

namespace gradc {

std::optional<Dims> reshapeStrides(llvm::ArrayRef<int64_t> from, llvm::ArrayRef<int64_t> strides,
                                   llvm::ArrayRef<int64_t> to) {
  // Walk both shapes in groups of equal element count. Within a group the
  // source dims must be contiguous with each other (stride[i] =
  // stride[i+1]·size[i+1]); then the target dims of the group get strides
  // by splitting the group's innermost stride. Size-1 dims take any stride.
  Dims out(to.size(), 0);
  size_t i = 0, j = 0;
  while (i < from.size() || j < to.size()) {
    // Skip size-1 dims: they contribute nothing to addresses.
    if (i < from.size() && from[i] == 1) { ++i; continue; }
    if (j < to.size() && to[j] == 1) { out[j++] = 0; continue; }
    if (i >= from.size() || j >= to.size()) return std::nullopt;
    size_t i0 = i, j0 = j;
    int64_t pf = from[i++], pt = to[j++];
    while (pf != pt) {
      if (pf < pt) {
        if (i >= from.size()) return std::nullopt;
        pf *= from[i++];
      } else {
        if (j >= to.size()) return std::nullopt;
        pt *= to[j++];
      }
    }
    // Source dims i0..i-1 must form one contiguous run (size-1 dims aside):
    // each stride is the next one times the next size. The run's innermost
    // stride then splits over the target dims j0..j-1.
    int64_t s = 0, expect = -1;
    for (size_t k = i; k-- > i0;) {
      if (from[k] == 1) continue;
      if (expect < 0) s = strides[k];
      else if (strides[k] != expect) return std::nullopt;
      expect = strides[k] * from[k];
    }
    for (size_t k = j; k-- > j0;) {
      out[k] = to[k] == 1 ? 0 : s;
      s *= to[k];
    }
  }
  return out;
}

std::optional<StridedView> stridedView(Node *n, const std::function<bool(const Node *)> &stored) {
  // Down to the stored base first, then compose the views back up: a loop,
  // not recursion, as layout ops can chain as long as the graph.
  llvm::SmallVector<Node *, 8> chain;
  while (!stored(n)) {
    if (!n->has(Layout) || n->is(OpKind::Pad) || n->is(OpKind::Concat)) return std::nullopt;
    chain.push_back(n);
    n = n->operand(0);
  }
  StridedView v{n, 0, contiguousStrides(n->type.shape)};
  for (Node *m : llvm::reverse(chain)) {
    llvm::ArrayRef<int64_t> from = m->operand(0)->type.shape;
    llvm::ArrayRef<int64_t> to = m->type.shape;
    Dims inner = std::move(v.strides);
    switch (m->op) {
    case OpKind::Broadcast: {
      size_t lead = to.size() - from.size();
      v.strides.assign(to.size(), 0);
      for (size_t i = 0; i < from.size(); ++i)
        v.strides[lead + i] = from[i] == 1 ? 0 : inner[i];
      break;
    }
    case OpKind::Transpose: {
      v.strides.clear();
      for (int64_t p : m->attrs.getInts(AttrKey::Perm)) v.strides.push_back(inner[p]);
      break;
    }
    case OpKind::Slice: {
      auto off = m->attrs.getInts(AttrKey::Offsets);
      for (size_t i = 0; i < off.size(); ++i) v.offset += off[i] * inner[i];
      v.strides = inner;
      break;
    }
    case OpKind::Reshape: {
      auto s = reshapeStrides(from, inner, to);
      if (!s) return std::nullopt;
      v.strides = *s;
      break;
    }
    default: return std::nullopt;
    }
  }
  return v;
}

} // namespace gradc
