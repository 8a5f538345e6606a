//===- ir/UserLists.h - every value's users, in one flat array -----------===//
//
// Graph::users() answers, for each node, the nodes that read it as an
// operand, in graph order, each once: users[n->id]. Passes and verifiers
// ask for it a dozen times per compile. It used to be a vector per node:
// building and freeing those was a fifth of a deep model's compile time,
// in malloc. Here the lists lie end to end in one array (CSR form), with
// one offset per node: two allocations however large the graph.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <vector>

namespace gradc {

class Node;

class UserLists {
public:
  /// The users of the node with this id (empty for one nobody reads).
  llvm::ArrayRef<Node *> operator[](size_t id) const {
    return llvm::ArrayRef<Node *>(flat.data() + start[id], flat.data() + start[id + 1]);
  }
  /// How many nodes the lists cover.
  size_t size() const { return start.empty() ? 0 : start.size() - 1; }

private:
  friend class Graph;
  std::vector<uint32_t> start; // node id -> its first user in `flat`; one more at the end
  std::vector<Node *> flat;
};

} // namespace gradc
