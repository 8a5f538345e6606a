//===- ir/Kernel.h - the kernels fusion forms and scheduling lowers -------===//
//
// Fusion groups a graph's nodes into kernels (each node's `kernel` id) and
// records, for each kernel, what scheduling needs to lower it without
// looking at its ops again: its kind, its iteration domain and the values
// it writes to memory. The text form shows one line per kernel at the top of
// the graph:
//
//   kernel 0 = loop [32,1] stores %pred, %d.pred
//   kernel 1 = matmul [6,4] stores %mm epilogue %y
//   kernel 2 = column_reduce [32,4] stores %db
//
// The predicates that decide what a kernel may hold (isRuntimeLeaf,
// computableInLoop, isColumnReduction, kernelKindOf) live here, once:
// fusion forms kernels with them and the checks below hold a plan to them.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Types.h"
#include "ir/UserLists.h"

#include "llvm/ADT/DenseSet.h"

#include <optional>
#include <string>
#include <vector>

namespace gradc {

class Graph;
class Node;
struct SliceGroup;

/// How scheduling lowers a kernel (codegen/Schedule.cpp).
enum class KernelKind : uint8_t {
  /// One loop nest over the domain storing every value: elementwise chains,
  /// with the row reductions they read as inner accumulator loops.
  Loop,
  /// A reduction that keeps the innermost axis, walking its operand (the
  /// domain) in memory order and accumulating into the output row.
  ColumnReduce,
  /// The runtime's GEMM over the product's domain [..., M, N]; a 2-D one may
  /// have an epilogue: elementwise values computed on each block of rows
  /// the GEMM finishes.
  MatMul,
  /// scatter_add: zero the output, then loop over the updates (the domain).
  ScatterAdd,
  /// The runtime's random fill of the domain.
  Random,
};

llvm::StringRef kernelKindName(KernelKind k);
std::optional<KernelKind> parseKernelKind(llvm::StringRef name);

/// One kernel as fusion formed it.
struct FusedKernel {
  KernelKind kind = KernelKind::Loop;
  /// What its loops (or the runtime call) cover: see kernelDomain.
  Dims domain;
  /// The values the kernel writes to memory, in graph order: those another
  /// kernel, a view, an output or an update reads, and every product. For
  /// a matmul kernel, the product alone.
  std::vector<Node *> stored;
  /// Matmul kernels only: the values the epilogue stores.
  std::vector<Node *> epilogue;

  /// The node the kernel is built around: the product, scatter, random
  /// fill or column reduction; for a loop, its last stored value.
  Node *root() const { return stored.back(); }
};

/// A leaf whose bytes the runtime owns (an input, param, state or hyper):
/// no kernel computes it, and it lives in its slot.
bool isRuntimeLeaf(const Node *n);
/// A reduction that keeps its operand's innermost axis (a bias gradient:
/// [B, T, C] summed to [1, 1, C]): it runs as a kernel of its own, walking
/// its operand in memory order.
bool isColumnReduction(const Node *n);

/// The most parts a concat read inline may have. A loop that reads a
/// concat at its own index loads every part and selects among them, so a
/// wider one becomes a tree of concats of at most this many
/// (passes/SplitWideConcats.cpp), whose lower levels are stored
/// (passes/Fusion.cpp).
inline constexpr size_t kMaxInlineConcatParts = 8;
/// How deep a kernel's expression tree may nest: scheduling builds it
/// recursively (codegen/Schedule.cpp), one call per level, and LLVM's time
/// grows with it. Fusion stores a value part way down a longer chain
/// (passes/Fusion.cpp); the verifier refuses a hand-made kernel past it.
inline constexpr unsigned kMaxTreeDepth = 256;

/// A float sum of at least this many terms per output is added up in blocks
/// of about sqrt(terms) terms, then the block sums (one f32 accumulator over
/// millions of terms loses digits): passes/BlockLongSums.cpp for column
/// reductions, codegen/Schedule.cpp (blockedSum) for the sums in loops.
inline constexpr int64_t kBlockedSumTerms = 1 << 14;
/// How many terms one block of such a sum should hold: the power of two at
/// or above sqrt(terms).
int64_t blockedSumBlock(int64_t terms);
/// How many entries of an axis of `extent` one block of such a sum takes,
/// when `target` would be ideal: a divisor of `extent` from target/2 to
/// 2·target where there is one (the blocks then cover the axis exactly:
/// MNIST's 60000 rows as 240 blocks of 250), else the power of two at or
/// below `target`, with a shorter block left over. At least 1.
int64_t blockedSumPart(int64_t extent, int64_t target);
/// Ops a loop can compute at any index. The others (matmul, scatter_add,
/// random draws) are calls into the runtime or loops of their own: each is
/// its kernel's stored root.
bool computableInLoop(const Node *n);
/// The kind of kernel that `n` needs when it is stored as a kernel's root.
KernelKind kernelKindOf(const Node *n);
/// The iteration domain of a kernel of kind `k` around `root`: the product's
/// shape, the scattered updates', the column reduction's operand's, or the
/// stored value's own.
Dims kernelDomain(KernelKind k, const Node *root);

/// The values each kernel must write to memory, by kernel id, in graph
/// order: every product (the GEMM writes it), and every value read outside
/// its kernel (by another kernel, a view, an output or an update).
std::vector<std::vector<Node *>> storedValues(const Graph &g);

/// Whether `user` reads its operand `op` at its own index along the first
/// `batchRank` axes (both have them, of the same sizes): an elementwise op,
/// a reduction or transpose that leaves them alone, a matmul's batch axes.
bool keepsSliceIndex(const Node *user, const Node *op, unsigned batchRank);
/// Whether kernel k reads `n`, a value another kernel stores, only at n's
/// own slice: at every read, directly or through views and the nodes k
/// computes, n's first `batchRank` axes are indexed as k's domain's.
/// `users` is Graph::users().
bool readsAtOwnSlice(const UserLists &users, const Graph &g, int32_t k, const Node *n,
                     unsigned batchRank);
/// Why the kernels of `sg` cannot run slice by slice (ir/Graph.h), or "":
/// each must be a loop or a matmul without epilogue over [batch..., ...],
/// write no parameter or state, and read what an earlier one of the group
/// stores only at its own slice (each slice runs through the whole group
/// before the next starts). `updated` is the values of g's updates (built
/// once by the caller: a deep model has thousands, and many groups).
std::string sliceGroupProblem(const UserLists &users, const llvm::DenseSet<const Node *> &updated,
                              const Graph &g, const SliceGroup &sg);

/// How kernel k of slice group `sg`, run in blocks of rows of the axis
/// after the slices (`rows` of them), covers a block (ir/Graph.h):
///   ByRow     a loop over [batch..., rows, ...], or a product A·B whose
///             [.., M, N] has M = rows: it computes the block's rows;
///   SumsRows  a product Aᵀ·B with A [.., rows, M] and B [.., rows, N]: it
///             adds the block's share of the sum over the rows (dV = Pᵀ·dY);
///   None      neither: the group cannot run in row blocks.
enum class RowRole { None, ByRow, SumsRows };
/// The rows a group in row blocks splits: the extent of its first kernel's
/// axis after the slices, or 0 when that kernel has none.
int64_t groupRows(const Graph &g, const SliceGroup &sg);
RowRole rowRole(const Graph &g, const SliceGroup &sg, int32_t k, int64_t rows);
/// Why the kernels of `sg` cannot run in blocks of sg.rowBlock rows, or "":
/// a block is at most the rows of the first kernel's axis after the slices
/// (the last block is shorter when the blocks do not divide them),
/// every kernel has a row role, a ByRow kernel reads what an earlier one
/// stores only at its own rows, a SumsRows one reads it only as its
/// operand (at the block's rows), and nothing in the group reads a SumsRows
/// kernel's output, complete only after the last block.
std::string rowBlockProblem(const UserLists &users, const Graph &g, const SliceGroup &sg);

/// A broken rule of a graph's kernel list, for the kernel it concerns (-1:
/// the graph as a whole).
struct KernelProblem {
  int32_t kernel;
  std::string message;
  const Node *node = nullptr; // the value it is about, when it is one
};
/// Checks that the kernel list describes the nodes' kernel ids: every
/// kernel's kind, domain and stored values are those fusion would record,
/// so scheduling can trust them.
std::vector<KernelProblem> verifyKernels(const Graph &g);

} // namespace gradc
