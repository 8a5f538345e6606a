//===- ir/Kernel.cpp - the kernels fusion forms and scheduling lowers -----===//
#include "ir/Kernel.h"

#include "ir/Graph.h"
#include "ir/Printer.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <optional>

namespace gradc {

static constexpr std::pair<KernelKind, llvm::StringLiteral> kKindNames[] = {
    {KernelKind::Loop, "loop"},         {KernelKind::ColumnReduce, "column_reduce"},
    {KernelKind::MatMul, "matmul"},     {KernelKind::ScatterAdd, "scatter_add"},
    {KernelKind::Random, "random"},
};

llvm::StringRef kernelKindName(KernelKind k) {
  for (auto &[kind, name] : kKindNames)
    if (kind == k) return name;
  return "?";
}

std::optional<KernelKind> parseKernelKind(llvm::StringRef name) {
  for (auto &[kind, n] : kKindNames)
    if (n == name) return kind;
  return std::nullopt;
}

bool isRuntimeLeaf(const Node *n) {
  return n->has(Leaf) && !n->is(OpKind::Const) && !n->is(OpKind::Iota) && !n->has(Random);
}

bool isColumnReduction(const Node *n) {
  if (!n->has(Reduction)) return false;
  auto axes = n->attrs.getInts(AttrKey::Axes);
  const TensorType &x = n->operand(0)->type;
  return x.rank() >= 2 && !axes.empty() && !llvm::is_contained(axes, int64_t(x.rank() - 1)) && x.shape.back() > 1;
}

int64_t blockedSumBlock(int64_t terms) { return int64_t(std::bit_ceil(uint64_t(std::sqrt(double(terms))))); }

int64_t blockedSumPart(int64_t extent, int64_t target) {
  target = std::max<int64_t>(1, target);
  for (int64_t d = 0; d <= target; ++d) {
    if (target - d >= std::max<int64_t>(2, target / 2) && extent % (target - d) == 0) return target - d;
    if (target + d <= 2 * target && target + d < extent && extent % (target + d) == 0) return target + d;
  }
  return int64_t(std::bit_floor(uint64_t(target)));
}

bool computableInLoop(const Node *n) {
  return !n->is(OpKind::MatMul) && !n->is(OpKind::ScatterAdd) && !n->has(Random);
}

KernelKind kernelKindOf(const Node *n) {
  if (n->is(OpKind::MatMul)) return KernelKind::MatMul;
  if (n->is(OpKind::ScatterAdd)) return KernelKind::ScatterAdd;
  if (n->has(Random)) return KernelKind::Random;
  if (isColumnReduction(n)) return KernelKind::ColumnReduce;
  return KernelKind::Loop;
}

Dims kernelDomain(KernelKind k, const Node *root) {
  const TensorType &t = k == KernelKind::ColumnReduce || k == KernelKind::ScatterAdd
                            ? root->operand(k == KernelKind::ScatterAdd ? 1 : 0)->type
                            : root->type;
  return Dims(t.shape.begin(), t.shape.end());
}

std::vector<std::vector<Node *>> storedValues(const Graph &g) {
  llvm::DenseSet<const Node *> readOutside;
  for (auto &o : g.outputs) readOutside.insert(o.value);
  for (auto &u : g.updates) readOutside.insert(u.value);
  auto users = g.users();
  std::vector<std::vector<Node *>> out(g.kernels.size());
  for (auto &n : g.nodes) {
    if (n->kernel < 0 || size_t(n->kernel) >= out.size()) continue;
    // A reader outside the kernel: another kernel, or a view (no kernel).
    bool stored = n->is(OpKind::MatMul) || readOutside.count(n.get()) ||
                  llvm::any_of(users[n->id], [&](const Node *u) { return u->kernel != n->kernel; });
    if (stored) out[n->kernel].push_back(n.get());
  }
  return out;
}

bool keepsSliceIndex(const Node *u, const Node *op, unsigned r) {
  if (u->type.rank() < r || op->type.rank() < r) return false;
  for (unsigned i = 0; i < r; ++i)
    if (u->type.shape[i] != op->type.shape[i]) return false;
  auto untouched = [&](llvm::ArrayRef<int64_t> offsets) {
    return llvm::all_of(offsets.take_front(r), [](int64_t o) { return o == 0; });
  };
  switch (u->op) {
  // A broadcast that adds leading axes would shift the batch axes.
  case OpKind::Broadcast: return op->type.rank() == u->type.rank();
  case OpKind::Transpose: {
    auto perm = u->attrs.getInts(AttrKey::Perm);
    for (unsigned i = 0; i < r; ++i)
      if (perm[i] != int64_t(i)) return false;
    return true;
  }
  // Equal leading sizes: the reshape maps them one to one (Schedule.cpp's
  // reshapeIndex groups dims by equal element counts).
  case OpKind::Reshape: return true;
  case OpKind::ReduceSum:
  case OpKind::ReduceMax:
    return llvm::all_of(u->attrs.getInts(AttrKey::Axes), [&](int64_t a) { return a >= int64_t(r); });
  // Past the batch axes, a product keeps only its first operand's row
  // index, the M axis of [..., M, N] (a row block of slice groups).
  case OpKind::MatMul:
    if (u->type.rank() == r + 1)
      return op == u->operand(0) && op != u->operand(1) && !u->attrs.getBool(AttrKey::TransposeA);
    return op->type.rank() == u->type.rank() && u->type.rank() >= r + 2;
  case OpKind::StopGradient: return true;
  case OpKind::Slice:
  case OpKind::Pad: return untouched(u->attrs.getInts(AttrKey::Offsets));
  case OpKind::Concat: return u->attrs.getInt(AttrKey::Axis) >= int64_t(r);
  default: return u->has(Elementwise) && op->type.rank() == u->type.rank();
  }
}

bool readsAtOwnSlice(const UserLists &users, const Graph &g, int32_t k, const Node *n,
                     unsigned r) {
  // Whether node m of kernel k is evaluated only at indices that keep the
  // domain's slice: k stores it (over its domain), or each reader of it in k
  // is so evaluated and keeps the index. Chains are bounded by fusion's
  // tree depth, so recursion is fine; memoised, each node is seen once.
  llvm::DenseMap<const Node *, bool> memo;
  std::function<bool(const Node *)> atOwnSlice = [&](const Node *m) -> bool {
    if (auto it = memo.find(m); it != memo.end()) return it->second;
    memo[m] = true; // no cycles in a graph; this only guards the recursion
    bool ok = true;
    for (const Node *u : users[m->id])
      if (u->kernel == k && !(keepsSliceIndex(u, m, r) && atOwnSlice(u))) ok = false;
    return memo[m] = ok;
  };
  // Whether k reads view v at all (through further views).
  std::function<bool(const Node *)> readsView = [&](const Node *v) {
    return llvm::any_of(users[v->id], [&](const Node *u) {
      return u->kernel == k || (u->kernel < 0 && u->is(OpKind::Reshape) && readsView(u));
    });
  };
  for (const Node *u : users[n->id]) {
    if (u->kernel < 0 && u->is(OpKind::Reshape)) { // a view of n's bytes
      if (readsView(u) && (!keepsSliceIndex(u, n, r) || !readsAtOwnSlice(users, g, k, u, r))) return false;
      continue;
    }
    if (u->kernel == k && !(keepsSliceIndex(u, n, r) && atOwnSlice(u))) return false;
  }
  return true;
}

int64_t groupRows(const Graph &g, const SliceGroup &sg) {
  const FusedKernel &first = g.kernels[sg.first];
  return first.domain.size() > sg.batch.size() ? first.domain[sg.batch.size()] : 0;
}

RowRole rowRole(const Graph &g, const SliceGroup &sg, int32_t k, int64_t rows) {
  const FusedKernel &fk = g.kernels[k];
  unsigned r = sg.batch.size();
  if (fk.kind == KernelKind::Loop)
    return fk.domain.size() > r && fk.domain[r] == rows ? RowRole::ByRow : RowRole::None;
  if (fk.kind != KernelKind::MatMul || fk.domain.size() != r + 2) return RowRole::None;
  const Node *mm = fk.root();
  bool ta = mm->attrs.getBool(AttrKey::TransposeA), tb = mm->attrs.getBool(AttrKey::TransposeB);
  // [.., M, N] = A[.., M, K] · B: the block's rows are M's.
  if (!ta) return fk.domain[r] == rows ? RowRole::ByRow : RowRole::None;
  // Aᵀ·B with A [.., K, M] and B [.., K, N]: the block's rows are K's.
  if (!tb && mm->operand(0)->type.shape[r] == rows && mm->operand(1)->type.shape[r] == rows) return RowRole::SumsRows;
  return RowRole::None;
}

namespace {
/// Whether kernel k reads n, directly or through views. Each view is
/// walked once: views that join again (a concat of two reshapes of one
/// value, repeated) made every path a walk of its own, exponential in the
/// chain (fuzz_gir: 40 such steps hung the verifier).
bool kernelReads(const UserLists &users, int32_t k, const Node *n, llvm::DenseSet<const Node *> &seen) {
  return llvm::any_of(users[n->id], [&](const Node *u) {
    return u->kernel == k || (u->kernel < 0 && u->has(Layout) && seen.insert(u).second && kernelReads(users, k, u, seen));
  });
}
bool kernelReads(const UserLists &users, int32_t k, const Node *n) {
  llvm::DenseSet<const Node *> seen;
  return kernelReads(users, k, n, seen);
}
} // namespace

std::string rowBlockProblem(const UserLists &users, const Graph &g, const SliceGroup &sg) {
  unsigned r = sg.batch.size();
  int64_t rows = groupRows(g, sg);
  if (!rows) return "the group's kernels have no axis after its slices to run in row blocks";
  std::string axis = "axis " + std::to_string(r) + " (" + std::to_string(rows) + " rows)";
  if (sg.rowBlock < 1 || sg.rowBlock > rows)
    return "blocks of " + std::to_string(sg.rowBlock) + " rows do not fit " + axis;
  for (int32_t k = sg.first; k <= sg.last; ++k) {
    RowRole role = rowRole(g, sg, k, rows);
    std::string kw = "kernel " + std::to_string(k);
    if (role == RowRole::None)
      return kw + " neither works row by row over " + axis + " nor is a product summing over it";
    for (const Node *n : g.kernels[k].stored)
      for (int32_t j = k + 1; j <= sg.last; ++j) {
        if (!kernelReads(users, j, n)) continue;
        std::string jw = "kernel " + std::to_string(j);
        if (role == RowRole::SumsRows)
          return jw + " reads what " + kw + " sums over the row blocks before the last block has added to it";
        if (rowRole(g, sg, j, rows) == RowRole::ByRow) {
          if (!readsAtOwnSlice(users, g, j, n, r + 1))
            return jw + " reads a value " + kw + " stores at rows of another block";
          continue;
        }
        // A product summing over the rows reads each operand at the block's
        // rows: as Aᵀ's A or as B, not through a view.
        const Node *mm = g.kernels[j].root();
        bool direct = llvm::all_of(users[n->id], [&](const Node *u) { return u->kernel != j || u == mm; }) &&
                      !llvm::any_of(users[n->id], [&](const Node *u) { return u->kernel < 0 && kernelReads(users, j, u); });
        if (!direct) return jw + " reads a value " + kw + " stores through a view; a product summing rows reads it whole";
      }
  }
  return "";
}

std::string sliceGroupProblem(const UserLists &users, const llvm::DenseSet<const Node *> &updated,
                              const Graph &g, const SliceGroup &sg) {
  std::string what = "slices " + std::to_string(sg.first) + " to " + std::to_string(sg.last);
  unsigned r = sg.batch.size();
  if (sg.first < 0 || sg.last >= g.numKernels() || sg.first >= sg.last)
    return what + ": a slice group is two or more of the graph's " + std::to_string(g.numKernels()) + " kernels";
  // One slice is a group only for its row blocks (SliceFusion.cpp).
  if (r == 0 || (sg.slices() < 2 && sg.rowBlock == 0))
    return what + ": a slice group runs over two or more slices, or over one in row blocks";
  for (int32_t k = sg.first; k <= sg.last; ++k) {
    const FusedKernel &fk = g.kernels[k];
    std::string kw = "kernel " + std::to_string(k);
    if (fk.kind != KernelKind::Loop && fk.kind != KernelKind::MatMul)
      return what + ": " + kw + " is a " + kernelKindName(fk.kind).str() + "; only loops and matmuls run by slice";
    if (!fk.epilogue.empty()) return what + ": " + kw + " has an epilogue";
    llvm::ArrayRef<int64_t> d = fk.domain;
    if (d.size() < r + (fk.kind == KernelKind::MatMul ? 2 : 0) || d.take_front(r) != llvm::ArrayRef<int64_t>(sg.batch))
      return what + ": " + kw + " does not run over the group's slices";
    for (const Node *n : fk.stored) {
      if (updated.count(n)) return what + ": " + kw + " writes a parameter or state";
      for (int32_t j = k + 1; j <= sg.last; ++j)
        if (!readsAtOwnSlice(users, g, j, n, r))
          return what + ": kernel " + std::to_string(j) + " reads a value kernel " + std::to_string(k) +
                 " stores at another slice";
    }
  }
  if (sg.rowBlock)
    if (auto p = rowBlockProblem(users, g, sg); !p.empty()) return what + " in row blocks: " + p;
  return "";
}

namespace {

class KernelChecker {
public:
  explicit KernelChecker(const Graph &g) : g(g) {}

  std::vector<KernelProblem> run() {
    for (auto &n : g.nodes)
      if (n->kernel < -1 || n->kernel >= g.numKernels())
        err(-1, name(n.get()) + " is in kernel " + std::to_string(n->kernel) + ", but the graph has " +
                    std::to_string(g.numKernels()) + " kernels");
    if (!problems.empty() || g.kernels.empty()) return problems;
    // Once a graph has kernels, whatever computes is in one: outside them
    // are only leaves, constants and views that kernels read through. A
    // .gir with `%n = neg %e` in no kernel passed here and failed the
    // plan's check after plan-memory, as an internal error.
    for (auto &n : g.nodes)
      if (n->kernel < 0 && !n->operands.empty() && !n->has(Layout) && !n->is(OpKind::Const) && !n->is(OpKind::Iota))
        problems.push_back({-1, op(n.get()) + " is computed by no kernel: once a graph has kernels, every value it computes is in one",
                            n.get()});
    if (!problems.empty()) return problems;
    // A .gir that put a 30,000-op chain into one kernel overflowed the
    // stack scheduling it. The longest chain of operands within a kernel
    // (nodes come operands first), against the depth fusion keeps to.
    std::vector<unsigned> chain(g.nodes.size());
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Node *n = g.nodes[i].get();
      if (n->kernel < 0) continue;
      for (const Node *o : n->operands)
        if (o->kernel == n->kernel && o->id < i) chain[i] = std::max(chain[i], chain[o->id]);
      // chain[i] ops: chain[i] - 1 levels below the top one.
      if (++chain[i] > kMaxTreeDepth + 1) {
        problems.push_back({n->kernel, "kernel " + std::to_string(n->kernel) + " nests " + op(n) + " " +
                                           std::to_string(chain[i] - 1) + " levels deep, past the " +
                                           std::to_string(kMaxTreeDepth) + " that scheduling takes: store a value " +
                                           "part way down the chain in a kernel of its own",
                            n});
        return problems;
      }
    }
    auto expected = storedValues(g);
    for (int32_t k = 0; k < g.numKernels(); ++k) checkKernel(k, expected[k]);
    if (!problems.empty()) return problems;
    auto users = g.users();
    llvm::DenseSet<const Node *> updated;
    for (auto &u : g.updates) updated.insert(u.value);
    for (size_t i = 0; i < g.sliceGroups.size(); ++i) {
      const SliceGroup &sg = g.sliceGroups[i];
      if (i > 0 && sg.first <= g.sliceGroups[i - 1].last)
        err(-1, "slice groups must be in kernel order and must not overlap");
      else if (auto p = sliceGroupProblem(users, updated, g, sg); !p.empty())
        err(sg.first >= 0 && sg.first < g.numKernels() ? sg.first : -1, p);
    }
    // One walk for all kernels (one per kernel would be quadratic).
    for (auto &n : g.nodes)
      if (n->kernel >= 0 && !computableInLoop(n.get()) && !llvm::is_contained(g.kernels[n->kernel].stored, n.get()))
        err(n->kernel, "kernel " + std::to_string(n->kernel) + " computes " + op(n.get()) +
                           ", which a loop cannot: it must be the kernel's root");
    return problems;
  }

private:
  void err(int32_t k, const std::string &msg) { problems.push_back({k, msg}); }
  // Names only for messages: printing every value's name after each pass
  // was a quarter of a deep model's compile time.
  std::string name(const Node *n) const {
    if (!names) names = valueNames(g);
    return "%" + names->lookup(n);
  }
  std::string op(const Node *n) const { return name(n) + " = " + n->info().mnemonic.str(); }

  void checkKernel(int32_t k, llvm::ArrayRef<Node *> expected) {
    const FusedKernel &fk = g.kernels[k];
    std::string what = "kernel " + std::to_string(k);
    size_t before = problems.size();
    if (expected.empty()) return err(k, what + " stores nothing: no value of it is read outside it");
    // The listed values are exactly those the kernel must store.
    llvm::DenseSet<const Node *> listed;
    for (auto *list : {&fk.stored, &fk.epilogue})
      for (const Node *n : *list) {
        if (n->kernel != k)
          err(k, what + " lists " + name(n) + ", which is in " +
                     (n->kernel < 0 ? std::string("no kernel") : "kernel " + std::to_string(n->kernel)));
        else if (!llvm::is_contained(expected, n))
          err(k, what + " lists " + name(n) + ", which nothing outside the kernel reads");
        if (!listed.insert(n).second) err(k, what + " lists " + name(n) + " twice");
      }
    for (const Node *n : expected)
      if (!listed.count(n))
        err(k, what + " must store " + name(n) +
                   (n->is(OpKind::MatMul) ? " (the GEMM writes it)" : " (it is read outside the kernel)") +
                   ", but does not list it");
    if (fk.stored.empty()) return err(k, what + " lists no stored values");
    if (problems.size() != before) return;

    const Node *root = fk.root();
    llvm::StringRef kind = kernelKindName(fk.kind);
    if (fk.kind != KernelKind::Loop) {
      if (fk.stored.size() != 1) return err(k, what + " is a " + kind.str() + " kernel: it stores its root alone");
      if (kernelKindOf(root) != fk.kind)
        return err(k, what + " is declared " + kind.str() + ", but its root " + op(root) + " needs a " +
                          kernelKindName(kernelKindOf(root)).str() + " kernel");
    } else {
      for (const Node *n : fk.stored)
        if (kernelKindOf(n) != KernelKind::Loop)
          return err(k, what + " is a loop, but " + op(n) + " needs a " + kernelKindName(kernelKindOf(n)).str() +
                            " kernel of its own");
    }
    if (!fk.epilogue.empty() && fk.kind != KernelKind::MatMul)
      return err(k, what + " is a " + kind.str() + " kernel; only a matmul kernel has an epilogue");
    Dims domain = kernelDomain(fk.kind, root);
    if (fk.domain != domain)
      return err(k, what + " iterates over [" + llvm::join(llvm::map_range(fk.domain, [](int64_t d) { return std::to_string(d); }), ",") +
                        "], but its root " + op(root) + " needs [" +
                        llvm::join(llvm::map_range(domain, [](int64_t d) { return std::to_string(d); }), ",") + "]");
    if (fk.kind == KernelKind::Loop)
      for (const Node *n : fk.stored)
        if (llvm::ArrayRef<int64_t>(n->type.shape) != llvm::ArrayRef<int64_t>(fk.domain))
          err(k, what + " is one loop nest, but stores values of different shapes: " + name(root) + " " + str(root->type) +
                     " and " + name(n) + " " + str(n->type));
    if (fk.epilogue.empty()) return;
    // An epilogue runs on the product's rows: [M, N], and the values it
    // stores are [..., N] with M rows in their leading dims.
    if (root->type.rank() != 2)
      return err(k, what + " has an epilogue, but its product " + name(root) + " is not a matrix: " + str(root->type));
    for (const Node *n : fk.epilogue) {
      llvm::ArrayRef<int64_t> s = n->type.shape;
      if (kernelKindOf(n) != KernelKind::Loop)
        err(k, what + ": the epilogue's " + op(n) + " needs a " + kernelKindName(kernelKindOf(n)).str() +
                   " kernel of its own");
      else if (s.empty() || s.back() != root->type.shape[1] || product(s) != root->type.numel())
        err(k, what + ": the epilogue's " + name(n) + " " + str(n->type) + " does not cover the rows of " + name(root) +
                   " " + str(root->type));
      else if (llvm::ArrayRef<int64_t>(s) != llvm::ArrayRef<int64_t>(fk.epilogue.front()->type.shape))
        err(k, what + ": the epilogue stores values of different shapes: " + name(fk.epilogue.front()) + " " +
                   str(fk.epilogue.front()->type) + " and " + name(n) + " " + str(n->type));
    }
  }

  const Graph &g;
  mutable std::optional<llvm::DenseMap<const Node *, std::string>> names;
  std::vector<KernelProblem> problems;
};

} // namespace

std::vector<KernelProblem> verifyKernels(const Graph &g) { return KernelChecker(g).run(); }

} // namespace gradc
