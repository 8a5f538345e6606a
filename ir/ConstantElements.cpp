//===- ir/ConstantElements.cpp - the elements of a value known at compile time ===//
#include "ir/ConstantElements.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace gradc {
namespace {

/// Whether the elements of `n` follow from its operands' by computeNode.
bool computable(const Node *n) {
  return n->is(OpKind::Const) || n->is(OpKind::Iota) || isLayoutOp(n) || (n->has(Elementwise) && n->info().fold);
}

/// The row-major multi-index of element `flat` of `shape`, and back.
void unflatten(int64_t flat, llvm::ArrayRef<int64_t> shape, llvm::MutableArrayRef<int64_t> idx) {
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
}
int64_t flatten(llvm::ArrayRef<int64_t> idx, llvm::ArrayRef<int64_t> shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + idx[d];
  return flat;
}

/// The elements of `n` from those of its operands (`xs`, one per operand).
std::vector<double> computeNode(const Node *n, llvm::ArrayRef<const std::vector<double> *> xs) {
  if (n->is(OpKind::Reshape)) return *xs[0]; // same elements, same order
  llvm::ArrayRef<int64_t> shape = n->type.shape;
  std::vector<double> out(size_t(n->type.numel()));
  Dims idx(shape.size()), at;
  llvm::SmallVector<double, 3> args(n->operands.size());
  for (int64_t i = 0; i < int64_t(out.size()); ++i) {
    unflatten(i, shape, idx);
    double &v = out[size_t(i)];
    switch (n->op) {
    case OpKind::Const: v = n->attrs.getFloat(AttrKey::Value); break;
    case OpKind::Iota: v = roundToDType(n->type.dtype, double(idx[size_t(n->attrs.getInt(AttrKey::Axis))])); break;
    case OpKind::Broadcast: {
      // NumPy's rule: shapes align on the right; a dimension of 1 repeats.
      llvm::ArrayRef<int64_t> from = n->operand(0)->type.shape;
      size_t lead = shape.size() - from.size();
      at.assign(from.size(), 0);
      for (size_t d = 0; d < from.size(); ++d) at[d] = from[d] == 1 ? 0 : idx[lead + d];
      v = (*xs[0])[size_t(flatten(at, from))];
      break;
    }
    case OpKind::Transpose: {
      // Result dimension d is operand dimension perm[d].
      auto perm = n->attrs.getInts(AttrKey::Perm);
      at.assign(shape.size(), 0);
      for (size_t d = 0; d < perm.size(); ++d) at[size_t(perm[d])] = idx[d];
      v = (*xs[0])[size_t(flatten(at, n->operand(0)->type.shape))];
      break;
    }
    case OpKind::Slice:
    case OpKind::Pad: {
      // slice: res[i] = x[i + off]; pad: res[i + off] = x[i], 0 elsewhere.
      auto off = n->attrs.getInts(AttrKey::Offsets);
      llvm::ArrayRef<int64_t> from = n->operand(0)->type.shape;
      at.assign(shape.size(), 0);
      bool inside = true;
      for (size_t d = 0; d < shape.size(); ++d) {
        at[d] = n->is(OpKind::Slice) ? idx[d] + off[d] : idx[d] - off[d];
        inside = inside && at[d] >= 0 && at[d] < from[d];
      }
      v = inside ? (*xs[0])[size_t(flatten(at, from))] : 0;
      break;
    }
    case OpKind::Concat: {
      size_t axis = size_t(n->attrs.getInt(AttrKey::Axis));
      at.assign(idx.begin(), idx.end());
      size_t k = 0;
      while (at[axis] >= n->operand(unsigned(k))->type.shape[axis]) at[axis] -= n->operand(unsigned(k++))->type.shape[axis];
      v = (*xs[k])[size_t(flatten(at, n->operand(unsigned(k))->type.shape))];
      break;
    }
    default: // elementwise: operands share the result's shape
      for (size_t j = 0; j < args.size(); ++j) args[j] = (*xs[j])[size_t(i)];
      v = *evalScalar(n->op, args, n->type.dtype);
      break;
    }
  }
  return out;
}

} // namespace

bool isLayoutOp(const Node *n) {
  switch (n->op) {
  case OpKind::Broadcast:
  case OpKind::Reshape:
  case OpKind::Transpose:
  case OpKind::Slice:
  case OpKind::Pad:
  case OpKind::Concat: return true;
  default: return false;
  }
}

std::vector<double> layoutElements(const Node *n, llvm::ArrayRef<const std::vector<double> *> operands) {
  assert(isLayoutOp(n));
  return computeNode(n, operands);
}

std::optional<std::vector<double>> constantElements(const Node *root, int64_t maxElements) {
  // The values involved, operands before users, found without recursion
  // (a loop can build a chain of thousands of nodes). Give up at the first
  // one that is not known, or when they grow past the budget.
  std::vector<const Node *> order;
  llvm::SmallPtrSet<const Node *, 32> visited{root};
  int64_t elements = root->type.numel();
  if (!computable(root) || elements > maxElements) return std::nullopt;
  std::vector<std::pair<const Node *, unsigned>> stack{{root, 0}};
  while (!stack.empty()) {
    const Node *n = stack.back().first;
    unsigned next = stack.back().second++;
    if (next == n->operands.size()) {
      order.push_back(n);
      stack.pop_back();
      continue;
    }
    const Node *x = n->operand(next);
    if (!visited.insert(x).second) continue;
    if (!computable(x) || (elements += x->type.numel()) > maxElements) return std::nullopt;
    stack.push_back({x, 0});
  }
  llvm::DenseMap<const Node *, size_t> position;
  std::vector<std::vector<double>> values(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    llvm::SmallVector<const std::vector<double> *, 3> xs;
    for (const Node *x : order[i]->operands) xs.push_back(&values[position.lookup(x)]);
    values[i] = computeNode(order[i], xs);
    position[order[i]] = i;
  }
  return std::move(values.back()); // the root comes last
}

} // namespace gradc
