//===- ir/Plan.h - the rules a fused, memory-planned graph obeys ----------===//
//
// After fusion every computing node names its kernel, and after memory
// planning every stored value names where it lives. Scheduling and codegen
// trust both, so a plan that breaks them (a `.gir` file edited by hand, or
// a pass with a bug) must be refused before it becomes code that writes
// outside the arena. The rules, checked by verifyPlan:
//
//   kernels   ids in range; every kernel stores something; a kernel reads
//             only values stored by earlier kernels (or its own);
//   storage   runtime leaves live in their slots; an arena value lies
//             inside the arena, aligned to its element size; a slot value
//             goes to an output of its own type or in place into the
//             param or state its update replaces, read there only at the
//             element it writes; values live at the same time never share
//             bytes; a value another kernel reads is stored;
//   shapes    a kernel is one loop nest over one shape, a matmul (alone, or
//             with an elementwise epilogue over its rows), a scatter, a
//             random fill or a column reduction; matmul operands are
//             strided views of stored values with a unit stride.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include <string>
#include <vector>

namespace gradc {

/// A leaf whose bytes the runtime owns: an input, param, state or hyper.
bool isRuntimeLeaf(const Node *n);
/// A reduction that keeps its operand's innermost axis (a bias gradient:
/// [B, T, C] summed to [1, 1, C]): it runs as a kernel of its own, walking
/// its operand in memory order.
bool isColumnReduction(const Node *n);
/// Ops a kernel's loops can compute at any index. The others (matmul,
/// scatter_add, random draws) only run as a kernel's stored root.
bool computableInLoop(const Node *n);
/// Whether kernel `k` loads `n` from memory rather than computing it.
bool loadedBy(const Node *n, int32_t k);
/// Follows reshape views to the node that owns the bytes.
const Node *storageBase(const Node *n);
/// True once memory planning has placed anything in the graph.
bool isPlanned(const Graph &g);

/// One message per broken rule (empty when the plan is sound).
std::vector<std::string> verifyPlan(const Graph &g);

} // namespace gradc
