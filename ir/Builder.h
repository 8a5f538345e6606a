//===- ir/Builder.h - creating nodes with checked types -------------------===//
//
// The one way passes and the frontend add nodes to a graph. Every node gets
// its type from its op's type rule, and the location and provenance the
// builder currently carries. A type-rule failure here is a compiler bug (the
// frontend checks user code before it builds), so it aborts with the rule's
// message.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

namespace gradc {

class Builder {
public:
  explicit Builder(Graph &g) : graph(g) {}

  Graph &graph;
  Location loc;
  Provenance prov;

  Node *create(OpKind op, llvm::ArrayRef<Node *> operands, Attrs attrs = {},
               const TensorType *declared = nullptr);

  // Leaves.
  Node *constant(double value, const TensorType &type);
  Node *constantLike(double value, Node *like) { return constant(value, like->type); }
  Node *leaf(OpKind op, llvm::StringRef name, const TensorType &type, Attrs extra = {});
  Node *iota(const TensorType &type, int64_t axis);

  // Elementwise.
  Node *unary(OpKind op, Node *x) { return create(op, {x}); }
  Node *binary(OpKind op, Node *a, Node *b) { return create(op, {a, b}); }
  Node *add(Node *a, Node *b) { return binary(OpKind::Add, a, b); }
  /// The terms added left to right, as a chain of adds (null for none).
  Node *addAll(llvm::ArrayRef<Node *> terms) {
    Node *total = nullptr;
    for (Node *t : terms) total = total ? add(total, t) : t;
    return total;
  }
  Node *sub(Node *a, Node *b) { return binary(OpKind::Sub, a, b); }
  Node *mul(Node *a, Node *b) { return binary(OpKind::Mul, a, b); }
  Node *div(Node *a, Node *b) { return binary(OpKind::Div, a, b); }
  Node *neg(Node *x) { return unary(OpKind::Neg, x); }
  Node *select(Node *c, Node *a, Node *b) { return create(OpKind::Select, {c, a, b}); }
  Node *cast(Node *x, DType to);
  /// x * s for a scalar constant s, broadcast to x's shape.
  Node *scale(Node *x, double s);

  // Layout.
  Node *broadcastTo(Node *x, llvm::ArrayRef<int64_t> shape);
  Node *reshape(Node *x, llvm::ArrayRef<int64_t> shape);
  Node *transpose(Node *x, llvm::ArrayRef<int64_t> perm);
  Node *slice(Node *x, llvm::ArrayRef<int64_t> offsets, llvm::ArrayRef<int64_t> shape);
  Node *pad(Node *x, llvm::ArrayRef<int64_t> offsets, llvm::ArrayRef<int64_t> shape);
  Node *concat(llvm::ArrayRef<Node *> parts, int64_t axis);

  // Reductions and contractions.
  Node *reduce(OpKind op, Node *x, llvm::ArrayRef<int64_t> axes);
  /// Sum a gradient of shape g->type.shape down to `shape`, undoing the
  /// NumPy broadcast that took `shape` to g's shape.
  Node *sumToShape(Node *g, llvm::ArrayRef<int64_t> shape);
  Node *matmul(Node *a, Node *b, bool transposeA = false, bool transposeB = false);
};

} // namespace gradc
