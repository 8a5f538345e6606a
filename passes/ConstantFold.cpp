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

double roundTo(DType t, double v) {
  switch (t) {
  case DType::F32: return double(float(v));
  case DType::I32: return double(int32_t(v));
  case DType::I1: return v != 0 ? 1 : 0;
  case DType::F64: return v;
  }
  return v;
}

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
  switch (n->op) {
  case OpKind::Broadcast:
  case OpKind::Reshape:
  case OpKind::Transpose:
  case OpKind::Slice:
  case OpKind::StopGradient:
  case OpKind::ReduceMax:
  case OpKind::Cast: return vals[0];
  case OpKind::ReduceSum: return vals[0] * double(n->operand(0)->type.numel() / n->type.numel());
  case OpKind::Select: return vals[0] != 0 ? vals[1] : vals[2];
  case OpKind::Lt: return double(vals[0] < vals[1]);
  case OpKind::Le: return double(vals[0] <= vals[1]);
  case OpKind::Gt: return double(vals[0] > vals[1]);
  case OpKind::Ge: return double(vals[0] >= vals[1]);
  case OpKind::Eq: return double(vals[0] == vals[1]);
  case OpKind::Ne: return double(vals[0] != vals[1]);
  case OpKind::And: return double(vals[0] != 0 && vals[1] != 0);
  case OpKind::Or: return double(vals[0] != 0 || vals[1] != 0);
  case OpKind::Not: return double(vals[0] == 0);
  default: return evalScalar(n->op, vals);
  }
}

} // namespace

llvm::Error runConstantFold(Module &m, const PassOptions &) {
  for (auto &g : m.graphs) {
    rewriteNodes(*g, [&](Builder &b, Node *n) -> Node * {
      auto v = fold(n);
      return v ? b.constant(roundTo(n->type.dtype, *v), n->type) : nullptr;
    });
  }
  return llvm::Error::success();
}

} // namespace gradc
