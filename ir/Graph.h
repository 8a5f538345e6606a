//===- ir/Graph.h - nodes, graphs and modules of the tensor IR ------------===//
//
// A Graph is a list of Nodes in SSA form: each node computes one tensor from
// earlier nodes. A Module holds the graphs of one model (the model itself and,
// when it has one, the generator of its default dataset) together with what
// the frontend learned that is not computation: how to train, where the data
// comes from, and where each source line is.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Kernel.h"
#include "ir/Ops.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <map>
#include <memory>
#include <vector>

namespace gradc {

/// A position in a source file; file 0 means "unknown".
struct Location {
  uint32_t file = 0;
  uint32_t line = 0, col = 0;
  bool known() const { return file != 0; }
  bool operator==(const Location &o) const = default;
};

/// Which part of a training step a node belongs to. Dumps draw the parts
/// differently so a learner can tell forward from backward from update.
enum class Phase : uint8_t { Forward, Backward, Optimizer };
llvm::StringRef phaseName(Phase p);

/// Where a backward or optimizer node came from: the forward value whose
/// gradient rule created it (by name, so it survives that value being
/// optimised away) and the rule's name (e.g. "matmul.rhs"). The node's own
/// Location is the forward value's, so dumps can quote the source line.
struct Provenance {
  Phase phase = Phase::Forward;
  std::string of;
  std::string rule;
  bool operator==(const Provenance &o) const = default;
};

/// Where a value lives at run time, decided by memory planning.
struct Storage {
  enum Kind : uint8_t {
    None,  // not stored: computed inside the kernel that uses it
    Slot,  // a runtime tensor: a leaf, an output, or (for an update) the
           // param/state it overwrites in place; `slot` is its name
    Arena, // the step's scratch arena at byte `offset`
    View,  // the same bytes as its operand, reinterpreted (a reshape)
    Local, // one slice of it, in its slice group's per-slice scratch at byte
           // `offset` (passes/SliceFusion.cpp): only that group reads it
  };
  Kind kind = None;
  std::string slot;
  int64_t offset = 0;
  bool operator==(const Storage &o) const = default;
};

class Node {
public:
  Node(OpKind op, TensorType type) : op(op), type(std::move(type)) {}

  OpKind op;
  TensorType type;
  llvm::SmallVector<Node *, 3> operands;
  Attrs attrs;
  Location loc;
  /// The user's name for this value ("pred", "loss"), or a leaf's external
  /// name; empty when it has none.
  std::string name;
  Provenance prov;
  /// Set by fusion: the kernel that computes this node; kernels run in id
  /// order. -1 for leaves and views, which no kernel computes.
  int32_t kernel = -1;
  /// Set by memory planning.
  Storage storage;
  /// Position in the owning graph; valid after Graph::renumber().
  unsigned id = 0;

  const OpInfo &info() const { return opInfo(op); }
  bool is(OpKind k) const { return op == k; }
  bool has(OpTrait t) const { return info().has(t); }
  Node *operand(unsigned i) const { return operands[i]; }
};

/// The i1 leaf training() reads (dropout). It never reaches the runtime:
/// split-entries replaces it by true in the training entries and by false
/// in @eval and @predict, and constant folding removes what it switches off.
inline constexpr const char *kTrainingLeaf = "training";

struct GraphOutput {
  std::string name; // "loss", "pred", "metric.accuracy", "grad.w"
  Node *value;
  /// The `output` line that asked for it, where sema made it (unknown in
  /// text IR and for the outputs passes add): a note about the output
  /// points there, not at the value, which may be inside a function.
  Location loc = {};
};

/// A stateful leaf (param or optimizer state) takes `value` at the end of
/// the step. Updates happen in place, after everything else reads the leaf.
struct Update {
  Node *target;
  Node *value;
};

/// Kernels first..last (consecutive) that run as one loop over the slices
/// of their common leading axes `batch`: for each slice, each kernel in turn
/// on that slice alone (passes/SliceFusion.cpp). Two or more slices, or a
/// single one in row blocks. A value that only they
/// read lives one slice at a time in the group's per-slice scratch of
/// `scratchBytes` (Storage::Local); memory planning sets its size.
///
/// With `rowBlock` > 0 each slice runs in blocks of that many rows of the
/// axis after `batch` (attention's query rows): every kernel of the group on
/// rows [r0, r0 + rowBlock), then the next block (the last one shorter when
/// rowBlock does not divide the rows). A local then holds one
/// block of its slice, [rowBlock, ...], where the whole slice would not
/// fit the group's scratch (a long context's [T, T] attention values). Kernels
/// either work row by row, or are products summing over those rows (dV =
/// Pᵀ·dY), which add each block's share to their output (ir/Kernel.h,
/// rowBlockProblem).
struct SliceGroup {
  int32_t first = 0, last = 0;
  Dims batch;
  int64_t rowBlock = 0;
  int64_t scratchBytes = 0;
  bool contains(int32_t k) const { return k >= first && k <= last; }
  int64_t slices() const { return product(batch); }
};

class Graph {
public:
  explicit Graph(std::string name) : name(std::move(name)) {}

  std::string name;
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<GraphOutput> outputs;
  std::vector<Update> updates;

  Node *append(std::unique_ptr<Node> n);
  Node *output(llvm::StringRef name) const;
  /// Leaves of one op kind, in order (e.g. all params).
  std::vector<Node *> leaves(OpKind k) const;
  Node *findLeaf(OpKind k, llvm::StringRef name) const;

  /// Point every use of `from` (operands, outputs, updates) at `to`.
  void replaceAllUsesWith(Node *from, Node *to);
  /// The same for many replacements in one walk over the graph (one walk
  /// per replacement would make passes quadratic). A replacement that is
  /// replaced in turn is followed to the end of the chain.
  void replaceAllUsesWith(const llvm::DenseMap<Node *, Node *> &repl);
  /// Restore a topological order (stable: keeps the current order where it
  /// already is one) and renumber. Passes that append may call it at the end.
  void sortTopologically();
  void renumber();
  /// The nodes an output or update reaches; the rest is dead code.
  llvm::DenseSet<const Node *> liveNodes() const;
  /// Delete nodes that no output or update reaches; returns how many.
  unsigned removeDeadNodes();
  /// A deep copy with a new name.
  std::unique_ptr<Graph> clone(std::string newName) const;
  /// For each node, the nodes that use it as an operand (in node order,
  /// each once): users()[n->id].
  UserLists users() const;
  /// The kernels fusion formed, in the order they run (empty before
  /// fusion); a node's `kernel` indexes it.
  std::vector<FusedKernel> kernels;
  int32_t numKernels() const { return int32_t(kernels.size()); }
  /// Forgets fusion and memory planning: a pass that removes nodes after
  /// them leaves a plan that no longer describes the graph.
  void clearPlan();
  /// Bytes of arena after memory planning.
  int64_t arenaBytes = 0;
  /// Runs of kernels that run slice by slice (passes/SliceFusion.cpp).
  std::vector<SliceGroup> sliceGroups;
  /// The slice group kernel k belongs to, or null (by binary search: the
  /// groups must be in kernel order, as verifyKernels requires).
  const SliceGroup *sliceGroupOf(int32_t k) const;
};

/// How the model trains: the optimizer and its arguments as written in the
/// source. The optimizer pass turns it into IR.
struct TrainSpec {
  std::string optimizer; // empty: no train statement
  std::vector<std::pair<std::string, AttrValue>> args;
  Location loc;
};

/// Where the executable's data comes from when the user gives no --data.
struct DataSpec {
  enum Kind : uint8_t { None, Table, Text } kind = None;
  int64_t rows = 0;           // Table: rows the @data graph generates
  std::string corpus;         // Text: default corpus (file or directory)
  std::string textInput;      // Text: the input that gets the context tokens
  std::string textTarget;     // Text: the input that gets the next tokens
};

class Module {
public:
  std::string name;
  /// The stage: the last step of the pipeline (passes/Pipeline.cpp) that this
  /// module has been through, with every step before it: "sema", "dce", ...
  /// Empty when unknown (text IR without an `after` line).
  std::string after;
  std::vector<std::unique_ptr<Graph>> graphs;
  TrainSpec train;
  DataSpec data;
  /// The source's top-level constants as built (-D applied), NAME and the
  /// value as source text ("n_embd", "64"; "corpus", "\"/data/x.txt\""):
  /// the executable records them in its checkpoints, so a checkpoint from a
  /// build with other values is named as such. Empty for a .gir module.
  std::vector<std::pair<std::string, std::string>> constants;
  /// Source files named by Location::file (index 0 is unused), and the text of
  /// source lines that nodes point at, so dumps can quote them.
  std::vector<std::string> files{""};
  std::map<std::pair<uint32_t, uint32_t>, std::string> sourceLines;
  /// The outputs split-entries left out of @predict (each row of them
  /// depends on other rows), by name, at their `output` lines: for the
  /// messages of later passes only (text IR does not carry them).
  std::map<std::string, Location> rowlessOutputs;

  Graph *graph(llvm::StringRef name) const;
  Graph &addGraph(std::string name);
  void removeGraph(llvm::StringRef name);
  uint32_t fileId(llvm::StringRef path);
  std::string locStr(const Location &l) const; // "file:line:col"
  llvm::StringRef sourceLine(const Location &l) const;
};

} // namespace gradc
