//===- ir/Plan.h - the rules a fused, memory-planned graph obeys ----------===//
//
// After fusion every computing node names its kernel, and after memory
// planning every stored value names where it lives. Scheduling and codegen
// trust both, so a plan that breaks them (a `.gir` file edited by hand, or
// a pass with a bug) must be refused before it becomes code that writes
// outside the arena. The kernel list itself is checked first (ir/Kernel.h,
// verifyKernels); given a sound one, verifyPlan checks the rest:
//
//   kernels   a kernel reads only values stored by earlier kernels (or its
//             own); exactly the values it lists are stored;
//   storage   runtime leaves live in their slots; an arena value lies
//             inside the arena, aligned to its element size; a slot value
//             goes to an output of its own type or in place into the
//             param or state its update replaces, read there only at the
//             element it writes; values live at the same time never share
//             bytes, except a GEMM's epilogue output over its product
//             (epilogueOverProducts); a value another kernel reads is stored;
//   operands  matmul operands are strided views of stored values with a
//             unit stride.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include <string>
#include <vector>

namespace gradc {

/// Whether kernel `k` loads `n` from memory rather than computing it.
bool loadedBy(const Node *n, int32_t k);
/// Follows reshape views to the node that owns the bytes.
const Node *storageBase(const Node *n);
/// How many copy kernels the executable adds to a planned graph: one per
/// output or update whose value the plan left outside its slot
/// (codegen/Schedule.cpp copies it there after the IR's kernels).
int64_t copiesIntoSlots(const Graph &g);
/// Whether `value` was planned into the runtime tensor `slot` ("w",
/// "output:loss"), so no copy kernel puts it there.
bool storedInSlot(const Node *value, llvm::StringRef slot);
/// The largest slice (or row block of one) that goes to a slice group's
/// scratch, which each thread gets from the runtime (grt_thread_scratch)
/// and reuses for every slice: a [256, 256] f32 attention matrix fits
/// (passes/MemoryPlan.cpp).
constexpr int64_t kLocalSliceBytes = 256 * 1024;
/// At most this much scratch per group, so that a slice's values stay
/// near the core's L2; the group's other values go to the arena.
constexpr int64_t kGroupScratchBytes = 1024 * 1024;
/// The bytes of n that its slice group `sg` holds at a time in scratch:
/// one slice, or in row blocks (ir/Graph.h) one block of rows of a slice.
int64_t localBytes(const SliceGroup &sg, const Node *n);
/// True once memory planning has placed anything in the graph.
bool isPlanned(const Graph &g);

/// Each epilogue output of a matmul kernel that may take its product's
/// bytes (passes/MemoryPlan.cpp), with that product. The epilogue runs on rows of C
/// once they are final (runtime/core/Gemm.cpp), one pass over each row, so
/// an output E may overwrite C when every value the kernel computes from C
/// is elementwise at C's own index (reshape views keep the index), E is the
/// kernel's only stored output, and no other kernel, output or update
/// reads C. A row reduction of C (a layer norm's mean) or a second stored
/// output would read C after E overwrote it, so either keeps them apart.
std::vector<std::pair<Node *, Node *>> epilogueOverProducts(const Graph &g, const UserLists &users);

struct PlanProblem {
  const Node *node; // the value the message is about, or null
  std::string message;
};
/// One message per broken rule (empty when the plan is sound).
std::vector<PlanProblem> verifyPlan(const Graph &g);

} // namespace gradc
