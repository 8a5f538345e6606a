//===- passes/ConstantFold.cpp - compute what is known at compile time ----===//
//
// Constants in the IR are splats: one value filling a whole tensor. An op
// whose operands are all splat constants is replaced by the splat of its
// result when the op maps splats to splats: elementwise arithmetic, layout
// ops, and reductions (a sum of n copies of v is n·v). The arithmetic is
// done in double and rounded to the result's dtype, so f32 folds give what
// the f32 code would have computed for one operation.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"
#include "passes/Rewrite.h"

#include "ir/Builder.h"

#include "llvm/ADT/DenseMap.h"

namespace gradc {
namespace {

std::optional<double> constValue(const Node *n) {
  if (n->is(OpKind::Const)) return n->attrs.getFloat(AttrKey::Value);
  return std::nullopt;
}

std::optional<double> fold(const Node *n) {
  llvm::SmallVector<double, 3> vals;
  for (Node *op : n->operands) {
    auto v = constValue(op);
    if (!v) return std::nullopt;
    vals.push_back(*v);
  }
  if (n->operands.empty()) return std::nullopt;
  // Elementwise ops by their scalar semantics (ir/Ops.def); a splat stays a
  // splat through layout ops, and a sum of n copies of v is n·v.
  switch (n->op) {
  case OpKind::Broadcast:
  case OpKind::Reshape:
  case OpKind::Transpose:
  case OpKind::Slice:
  case OpKind::ReduceMax: return vals[0];
  case OpKind::ReduceSum: return vals[0] * double(n->operand(0)->type.numel() / n->type.numel());
  default: return evalScalar(n->op, vals, n->type.dtype);
  }
}

} // namespace

llvm::Error runConstantFold(Module &m, const PassOptions &) {
  for (auto &g : m.graphs) {
    rewriteNodes(*g, [&](Builder &b, Node *n) -> Node * {
      auto v = fold(n);
      return v ? b.constant(roundToDType(n->type.dtype, *v), n->type) : nullptr;
    });
  }
  return llvm::Error::success();
}

} // namespace gradc
