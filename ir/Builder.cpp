//===- ir/Builder.cpp - creating nodes with checked types -----------------===//
#include "ir/Builder.h"

#include "llvm/Support/ErrorHandling.h"

namespace gradc {

Node *Builder::create(OpKind op, llvm::ArrayRef<Node *> operands, Attrs attrs, const TensorType *declared) {
  llvm::SmallVector<TensorType, 3> types;
  for (Node *n : operands) types.push_back(n->type);
  auto type = inferType(op, types, attrs, declared);
  if (!type) llvm::report_fatal_error(llvm::Twine("internal error: building IR: ") + llvm::toString(type.takeError()));
  auto node = std::make_unique<Node>(op, *type);
  node->operands.assign(operands.begin(), operands.end());
  node->attrs = std::move(attrs);
  node->loc = loc;
  node->prov = prov;
  return graph.append(std::move(node));
}

Node *Builder::constant(double value, const TensorType &type) {
  Attrs a;
  a.set(AttrKey::Value, value);
  return create(OpKind::Const, {}, std::move(a), &type);
}

Node *Builder::leaf(OpKind op, llvm::StringRef leafName, const TensorType &type, Attrs extra) {
  extra.set(AttrKey::Name, leafName.str());
  Node *n = create(op, {}, std::move(extra), &type);
  n->name = leafName.str();
  return n;
}

Node *Builder::iota(const TensorType &type, int64_t axis) {
  Attrs a;
  a.set(AttrKey::Axis, axis);
  return create(OpKind::Iota, {}, std::move(a), &type);
}

Node *Builder::cast(Node *x, DType to) {
  if (x->type.dtype == to) return x;
  TensorType t = x->type.withDType(to);
  return create(OpKind::Cast, {x}, {}, &t);
}

Node *Builder::scale(Node *x, double s) { return mul(x, constant(s, x->type)); }

Node *Builder::broadcastTo(Node *x, llvm::ArrayRef<int64_t> shape) {
  if (x->type.shape == llvm::ArrayRef(shape)) return x;
  TensorType t = x->type.withShape(shape);
  return create(OpKind::Broadcast, {x}, {}, &t);
}

Node *Builder::reshape(Node *x, llvm::ArrayRef<int64_t> shape) {
  if (x->type.shape == llvm::ArrayRef(shape)) return x;
  TensorType t = x->type.withShape(shape);
  return create(OpKind::Reshape, {x}, {}, &t);
}

Node *Builder::transpose(Node *x, llvm::ArrayRef<int64_t> perm) {
  Attrs a;
  a.set(AttrKey::Perm, std::vector<int64_t>(perm.begin(), perm.end()));
  return create(OpKind::Transpose, {x}, std::move(a));
}

Node *Builder::slice(Node *x, llvm::ArrayRef<int64_t> offsets, llvm::ArrayRef<int64_t> shape) {
  Attrs a;
  a.set(AttrKey::Offsets, std::vector<int64_t>(offsets.begin(), offsets.end()));
  TensorType t = x->type.withShape(shape);
  return create(OpKind::Slice, {x}, std::move(a), &t);
}

Node *Builder::concat(llvm::ArrayRef<Node *> parts, int64_t axis) {
  Attrs a;
  a.set(AttrKey::Axis, axis);
  return create(OpKind::Concat, parts, std::move(a));
}

Node *Builder::pad(Node *x, llvm::ArrayRef<int64_t> offsets, llvm::ArrayRef<int64_t> shape) {
  Attrs a;
  a.set(AttrKey::Offsets, std::vector<int64_t>(offsets.begin(), offsets.end()));
  TensorType t = x->type.withShape(shape);
  return create(OpKind::Pad, {x}, std::move(a), &t);
}

Node *Builder::reduce(OpKind op, Node *x, llvm::ArrayRef<int64_t> axes) {
  if (axes.empty()) return x;
  Attrs a;
  a.set(AttrKey::Axes, std::vector<int64_t>(axes.begin(), axes.end()));
  return create(op, {x}, std::move(a));
}

Node *Builder::sumToShape(Node *g, llvm::ArrayRef<int64_t> shape) {
  llvm::ArrayRef<int64_t> from = g->type.shape;
  if (from == shape) return g;
  // Leading dims that broadcasting added, plus dims where `shape` has a 1.
  size_t lead = from.size() - shape.size();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < from.size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && from[i] != 1)) axes.push_back(i);
  return reshape(reduce(OpKind::ReduceSum, g, axes), shape);
}

Node *Builder::matmul(Node *a, Node *b, bool transposeA, bool transposeB) {
  Attrs at;
  if (transposeA) at.set(AttrKey::TransposeA, true);
  if (transposeB) at.set(AttrKey::TransposeB, true);
  return create(OpKind::MatMul, {a, b}, std::move(at));
}

} // namespace gradc
