//===- passes/GradRules.h - the vector-Jacobian product of each op --------===//
//
// For a node n = op(x0, x1, ...) and the gradient g = dL/dn (shape of n), the
// rule for operand i returns dL/dxi restricted to this use of xi, as ordinary
// IR built with the given Builder. Autodiff sums contributions from all uses.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Builder.h"

namespace gradc {

struct GradRule {
  /// Returns the contribution to operand i's gradient, or null when operand
  /// i gets none (an integer index, a mask).
  using Fn = Node *(*)(Builder &b, Node *n, unsigned i, Node *g);
  Fn vjp = nullptr;
};

/// The rule of an op, or null when the op has none. Ops with the NoGrad
/// trait, and leaves, need none.
const GradRule *gradRule(OpKind op);

} // namespace gradc
