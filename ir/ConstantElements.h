//===- ir/ConstantElements.h - the elements of a value known at compile time ===//
//
// A value built only from constants and iotas, through elementwise ops and
// layout ops, is known element by element before anything runs: arange(4)
// * 2 - 1 is [-1, 1, 3, 5]. Semantic analysis reads such values to check
// indices (gather's rows, onehot's classes) that the generated code would
// otherwise clamp in silence.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include <optional>
#include <vector>

namespace gradc {

/// The elements of `n` in row-major order, each as its dtype holds it
/// (ir/Ops.def's fold semantics). nullopt when `n` depends on anything but
/// constants and iotas (an input, a param, a random number), goes through
/// an op other than an elementwise or layout one, or when computing it
/// would take more than `maxElements` elements over all the values involved.
std::optional<std::vector<double>> constantElements(const Node *n, int64_t maxElements);

/// The elements of layout op `n` (reshape, broadcast, transpose, slice,
/// pad, concat) from its operands' (`operands`, one per operand, row-major):
/// where each element comes from, when the operands hold element numbers.
/// A pad's new elements are 0.
std::vector<double> layoutElements(const Node *n, llvm::ArrayRef<const std::vector<double> *> operands);
/// Whether `n` is one of the layout ops layoutElements takes.
bool isLayoutOp(const Node *n);

} // namespace gradc
