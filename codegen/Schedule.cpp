//===- codegen/Schedule.cpp - from fused graph to loop nests --------------===//
//
// Two steps per kernel.
//
// 1. Expressions. The value of a graph node at an index (one Index
//    expression per dimension) is built recursively: a stored node is a load
//    at its strided address; a layout op rewrites the index and recurses
//    (broadcast zeroes dims, transpose permutes them, slice shifts them, pad
//    and concat clamp and select); an elementwise op applies itself to its
//    operands at the same index; a reduction becomes a Reduce expression over
//    fresh loop variables.
//
// 2. Placement (codegen/Placement.h). Each expression is computed in the
//    innermost loop among the loops whose variables it uses: a bias load
//    moves out of the row loop, a row maximum becomes an accumulator loop
//    placed before the loop that uses it.
//
//===----------------------------------------------------------------------===//
#include "codegen/Schedule.h"

#include "codegen/MaskedColumns.h"
#include "codegen/Placement.h"
#include "codegen/Threading.h"

#include "ir/Layout.h"
#include "ir/Plan.h"
#include "ir/Printer.h"
#include "runtime/include/gradrt/abi.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/ErrorHandling.h"

#include <cmath>
#include <deque>
#include <functional>
#include <limits>

namespace gradc {

using namespace loops;
using IndexVec = llvm::SmallVector<const Expr *, 4>;

namespace {

/// How domainOf splits dims into several loops, by (call, dim): the
/// kernel's n-th domainOf call, that call's dim. Kernels are built the same
/// way each time, so the numbering holds from one build to the next.
struct SplitPlan {
  std::map<std::pair<int, int>, std::vector<int64_t>> factors; // outer to inner
  std::map<int, std::tuple<int, int, int>> origin;             // var -> (call, dim, part)
  int calls = 0;
};

//===--- expressions ----------------------------------------------------------===//

class KernelBuilder {
public:
  KernelBuilder(const Module &m, const Graph &g, Kernel &k, const llvm::DenseMap<const Node *, std::string> &names)
      : m(m), g(g), k(k), names(names) {}

  /// The buffer holding a stored node (through views), or a named slot.
  int buffer(const Node *n) {
    const Node *base = storageBase(n);
    const Storage &s = base->storage;
    std::string key = s.kind == Storage::Slot    ? "slot:" + s.slot
                      : s.kind == Storage::Local ? "local:" + std::to_string(s.offset)
                                                 : "arena:" + std::to_string(s.offset);
    if (s.kind == Storage::None) llvm::report_fatal_error("internal error: kernel reads a value nothing stored");
    auto it = ids.find(key);
    if (it != ids.end()) {
      // An epilogue output written over its product (ir/Plan.h,
      // epilogueOverProducts) shares its buffer: name both, "mm/y".
      Buffer &b = k.buffers[it->second];
      std::string name = names.lookup(base);
      if (s.kind == Storage::Arena && !name.empty() && ("/" + b.name + "/").find("/" + name + "/") == std::string::npos)
        b.name += "/" + name;
      return it->second;
    }
    Buffer b;
    b.name = s.kind == Storage::Slot && !llvm::StringRef(s.slot).starts_with(GRT_OUTPUT_PREFIX) ? s.slot : names.lookup(base);
    b.type = scalarType(base->type.dtype);
    b.isSlot = s.kind == Storage::Slot;
    b.slot = s.slot;
    b.offset = s.offset;
    b.elements = base->type.numel();
    if (s.kind == Storage::Local) {
      b.isLocal = true;
      b.elements /= product(llvm::ArrayRef<int64_t>(base->type.shape).take_front(sliceRank));
      if (blockRows) {
        b.isBlock = true;
        b.elements = b.elements / base->type.shape[sliceRank] * blockRows;
      }
    }
    k.buffers.push_back(b);
    return ids[key] = k.buffers.size() - 1;
  }
  int slotBuffer(const std::string &slot, const Node *like) {
    std::string key = "slot:" + slot;
    auto it = ids.find(key);
    if (it != ids.end()) return it->second;
    Buffer b{slot, scalarType(like->type.dtype), true, slot, 0, like->type.numel()};
    k.buffers.push_back(b);
    return ids[key] = k.buffers.size() - 1;
  }

  /// The element offset of `idx` in a contiguous tensor of `shape`.
  const Expr *linear(llvm::ArrayRef<const Expr *> idx, llvm::ArrayRef<int64_t> shape) {
    Dims strides = contiguousStrides(shape);
    const Expr *off = k.index(0);
    for (size_t i = 0; i < idx.size(); ++i) off = k.add(off, k.mul(idx[i], strides[i]));
    return off;
  }

  /// The element offset of `idx` in stored node n's buffer: a local one
  /// holds only the slice, so the slice axes drop out, and in a group run
  /// in row blocks only the block's rows, counted from its first.
  const Expr *offsetOf(const Node *n, llvm::ArrayRef<const Expr *> idx) {
    if (storageBase(n)->storage.kind != Storage::Local) return linear(idx, n->type.shape);
    IndexVec at(idx.begin() + sliceRank, idx.end());
    Dims shape(n->type.shape.begin() + sliceRank, n->type.shape.end());
    if (blockRows) {
      at[0] = k.add(at[0], k.mul(blockRow, -1));
      shape[0] = blockRows;
    }
    return linear(at, shape);
  }

  bool isStored(const Node *n) const { return loadedBy(n, kernelId); }

  /// Between the kernels of a slice group: what one computed inline the
  /// next must load or compute again in its own loops.
  void forgetValues() { memo.clear(); }

  Type typeOf(const Node *n) const { return scalarType(n->type.dtype); }

  const Expr *valueAt(Node *n, llvm::ArrayRef<const Expr *> idx) {
    auto key = std::make_pair(n, std::vector<const Expr *>(idx.begin(), idx.end()));
    auto it = memo.find(key);
    if (it != memo.end()) return it->second;
    const Expr *v = compute(n, idx);
    memo[key] = v;
    return v;
  }

  /// Maps an index of the reshaped tensor to an index of its operand. Dims
  /// are grouped by equal element counts; a group that only splits dims is
  /// affine, one that merges them needs division.
  IndexVec reshapeIndex(llvm::ArrayRef<const Expr *> idx, llvm::ArrayRef<int64_t> to, llvm::ArrayRef<int64_t> from) {
    IndexVec at(from.size(), k.index(0));
    size_t i = 0, j = 0;
    while (i < from.size() || j < to.size()) {
      if (i < from.size() && from[i] == 1) { ++i; continue; }
      if (j < to.size() && to[j] == 1) { ++j; continue; }
      size_t i0 = i, j0 = j;
      int64_t pf = from[i++], pt = to[j++];
      while (pf != pt) {
        if (pf < pt) pf *= from[i++];
        else pt *= to[j++];
      }
      const Expr *lin = k.index(0);
      int64_t s = 1;
      for (size_t q = j; q-- > j0;) {
        lin = k.add(lin, k.mul(idx[q], s));
        s *= to[q];
      }
      s = 1;
      for (size_t q = i; q-- > i0;) {
        const Expr *e = k.divConst(lin, s);
        at[q] = q == i0 ? e : k.remConst(e, from[q]);
        s *= from[q];
      }
    }
    return at;
  }

  /// One store per value, into its buffer at `idx`; the values share a shape.
  std::vector<Placer::Root> storesAt(llvm::ArrayRef<Node *> values, llvm::ArrayRef<const Expr *> idx) {
    std::vector<Placer::Root> out;
    for (Node *r : values) {
      if (r->type.shape != values.front()->type.shape)
        llvm::report_fatal_error("internal error: kernel " + llvm::Twine(kernelId) + " stores values of different shapes");
      out.push_back({Stmt::Store, buffer(r), offsetOf(r, idx), valueAt(r, idx)});
    }
    return out;
  }

  // Not -1: leaves and views have kernel -1 and must be loaded, not computed.
  int32_t kernelId = std::numeric_limits<int32_t>::min();
  SplitPlan *plan = nullptr;
  /// In a slice group: how many leading axes index the slice, and the
  /// variable of the loop over slices.
  unsigned sliceRank = 0;
  int sliceVar = -1;
  /// In a slice group run in row blocks (ir/Graph.h): the block's first row
  /// along axis sliceRank, its rows, the variable of the block loop (-1 in
  /// the last, shorter block), and when a product summing the rows adds to
  /// its output (nonzero: every block but the first).
  const Expr *blockRow = nullptr;
  int64_t blockRows = 0;
  int blockVar = -1;
  const Expr *accumulate = nullptr;

private:
  const Expr *compute(Node *n, llvm::ArrayRef<const Expr *> idx) {
    Type t = typeOf(n);
    if (isStored(n)) {
      // A view reads its base's bytes with its own contiguous strides.
      return k.load(buffer(n), offsetOf(n, idx));
    }
    auto opAt = [&](unsigned i, llvm::ArrayRef<const Expr *> at) { return valueAt(n->operand(i), at); };
    const TensorType &xt = n->operands.empty() ? n->type : n->operand(0)->type;
    switch (n->op) {
    case OpKind::Const: return k.constant(n->attrs.getFloat(AttrKey::Value), t);
    case OpKind::Iota: return k.op(OpKind::Cast, Type::I32, {idx[n->attrs.getInt(AttrKey::Axis)]});
    case OpKind::StopGradient: return opAt(0, idx);
    case OpKind::Broadcast: {
      size_t lead = idx.size() - xt.rank();
      IndexVec at;
      for (unsigned j = 0; j < xt.rank(); ++j)
        at.push_back(xt.shape[j] == 1 ? k.index(0) : idx[lead + j]);
      return opAt(0, at);
    }
    case OpKind::Transpose: {
      auto perm = n->attrs.getInts(AttrKey::Perm);
      IndexVec at(perm.size());
      for (size_t i = 0; i < perm.size(); ++i) at[perm[i]] = idx[i];
      return opAt(0, at);
    }
    case OpKind::Slice: {
      auto off = n->attrs.getInts(AttrKey::Offsets);
      IndexVec at;
      for (size_t i = 0; i < idx.size(); ++i) at.push_back(k.add(idx[i], k.index(off[i])));
      return opAt(0, at);
    }
    case OpKind::Pad: {
      // Read a clamped index (always in bounds) and select zero outside.
      auto off = n->attrs.getInts(AttrKey::Offsets);
      IndexVec at;
      const Expr *inside = nullptr;
      for (size_t i = 0; i < idx.size(); ++i) {
        const Expr *shifted = k.add(idx[i], k.index(-off[i]));
        if (xt.shape[i] == n->type.shape[i]) {
          at.push_back(shifted);
          continue;
        }
        const Expr *ok = k.op(OpKind::And, Type::I1,
                              {k.op(OpKind::Ge, Type::I1, {shifted, k.index(0)}),
                               k.op(OpKind::Lt, Type::I1, {shifted, k.index(xt.shape[i])})});
        inside = inside ? k.op(OpKind::And, Type::I1, {inside, ok}) : ok;
        at.push_back(k.clamp(shifted, 0, xt.shape[i] - 1));
      }
      const Expr *v = opAt(0, at);
      return inside ? k.op(OpKind::Select, t, {inside, v, k.constant(0, t)}) : v;
    }
    case OpKind::Concat: {
      int64_t axis = n->attrs.getInt(AttrKey::Axis);
      const Expr *result = nullptr;
      int64_t start = n->type.shape[axis];
      for (size_t p = n->operands.size(); p-- > 0;) {
        int64_t len = n->operand(p)->type.shape[axis];
        start -= len;
        IndexVec at(idx.begin(), idx.end());
        at[axis] = k.clamp(k.add(idx[axis], k.index(-start)), 0, len - 1);
        const Expr *v = opAt(p, at);
        result = result ? k.op(OpKind::Select, t, {k.op(OpKind::Lt, Type::I1, {idx[axis], k.index(start + len)}), v, result}) : v;
      }
      return result;
    }
    case OpKind::Reshape: return opAt(0, reshapeIndex(idx, n->type.shape, xt.shape));
    case OpKind::ReduceSum:
    case OpKind::ReduceMax: {
      llvm::SmallVector<int64_t, 4> axes;
      int64_t terms = 1;
      for (int64_t ax : n->attrs.getInts(AttrKey::Axes)) {
        if (xt.shape[ax] == 1) continue;
        axes.push_back(ax);
        terms *= xt.shape[ax];
      }
      if (n->is(OpKind::ReduceSum) && isFloat(t) && terms >= kBlockedSumTerms) return blockedSum(n, idx, axes, terms);
      IndexVec at(idx.begin(), idx.end());
      llvm::SmallVector<int, 2> vs;
      for (int64_t ax : axes) {
        int v = k.newVar("r", xt.shape[ax]);
        vs.push_back(v);
        at[ax] = k.var(v);
      }
      const Expr *body = opAt(0, at);
      if (vs.empty()) return body;
      return k.reduce(n->op, t, body, vs);
    }
    case OpKind::OneHot: {
      IndexVec at(idx.begin(), idx.end() - 1);
      const Expr *cls = opAt(0, at);
      // The class index as i32, unless there are more classes than i32
      // holds: then the index read widens instead (the position cut to
      // i32 made -1 match class 2^32 - 1).
      const Expr *hit = n->type.shape.back() > INT32_MAX
                            ? k.op(OpKind::Eq, Type::I1, {k.op(OpKind::Cast, Type::Index, {cls}), idx.back()})
                            : k.op(OpKind::Eq, Type::I1, {cls, k.op(OpKind::Cast, Type::I32, {idx.back()})});
      return k.op(OpKind::Select, t, {hit, k.constant(1, t), k.constant(0, t)});
    }
    case OpKind::Gather: {
      const TensorType &ids = n->operand(1)->type;
      IndexVec at(idx.begin(), idx.begin() + ids.rank());
      const Expr *row = k.op(OpKind::Cast, Type::Index, {opAt(1, at)});
      // Clamped: an out-of-range token reads the last row, never past it.
      IndexVec tat{k.clamp(row, 0, xt.shape[0] - 1)};
      tat.append(idx.begin() + ids.rank(), idx.end());
      return opAt(0, tat);
    }
    default: break;
    }
    if (!n->has(Elementwise))
      llvm::report_fatal_error(llvm::Twine("internal error: op '") + n->info().mnemonic + "' cannot be computed inside a loop");
    llvm::SmallVector<const Expr *, 3> args;
    for (unsigned i = 0; i < n->operands.size(); ++i) args.push_back(opAt(i, idx));
    return k.op(n->op, t, args);
  }

  /// A long float sum added up in one accumulator loses precision: after a
  /// million terms each addend is tiny beside the running total, and a mean
  /// over [262144, 9] came out 1.3e-3 off. Sums of at least kBlockedSumTerms
  /// (ir/Kernel.h) terms are added in blocks of about sqrt(terms), and then
  /// the block sums: the rounding error grows with about 2·sqrt(terms)
  /// instead of terms. The order is fixed at compile time, so any thread
  /// count gives the same bits. For x: f32[262144, 9] summed over both axes:
  ///
  ///   for rb in 0..2048            the block sums, in order
  ///     for ri in 0..128           a block: 128 rows of 9 = 1152 terms
  ///       for r in 0..9            row rb·128 + ri
  ///
  /// A block holds whole inner axes while they fit, then part of the next
  /// axis (blockedSumPart: a divisor of its length near the ideal, else a
  /// power of two, the entries past the last whole block then a loop of
  /// their own); the axes outside the block are summed around.
  /// Column reductions are blocked in the graph (passes/BlockLongSums.cpp).
  const Expr *blockedSum(Node *n, llvm::ArrayRef<const Expr *> idx, llvm::ArrayRef<int64_t> axes, int64_t terms) {
    Type t = typeOf(n);
    const Dims &shape = n->operand(0)->type.shape;
    int64_t block = blockedSumBlock(terms);
    // Whole axes from the innermost out, while they fit in a block; axis
    // `split` is the first that does not.
    size_t split = axes.size();
    int64_t inner = 1;
    while (split > 0 && inner * shape[axes[split - 1]] <= block) inner *= shape[axes[--split]];
    --split; // terms > block, so some axis does not fit
    int64_t extent = shape[axes[split]];
    int64_t part = block / inner >= 2 ? blockedSumPart(extent, block / inner) : 1;

    IndexVec at(idx.begin(), idx.end());
    llvm::SmallVector<int, 4> outer;
    for (size_t a = 0; a < split; ++a) {
      outer.push_back(k.newVar("r", shape[axes[a]]));
      at[axes[a]] = k.var(outer.back());
    }
    // The sum over the axes inside the block, at index `at` of the split axis.
    auto sumInside = [&](const Expr *splitIndex, llvm::SmallVector<int, 4> vars) {
      IndexVec in = at;
      in[axes[split]] = splitIndex;
      for (size_t a = split + 1; a < axes.size(); ++a) {
        vars.push_back(k.newVar("r", shape[axes[a]]));
        in[axes[a]] = k.var(vars.back());
      }
      const Expr *body = valueAt(n->operand(0), in);
      return vars.empty() ? body : k.reduce(OpKind::ReduceSum, t, body, vars);
    };
    const Expr *sum;
    if (part == 1) {
      // The inner axes fill a block: one block per index of the split axis.
      outer.push_back(k.newVar("r", extent));
      sum = sumInside(k.var(outer.back()), {});
    } else {
      int64_t blocks = extent / part, rest = extent % part;
      int rb = k.newVar("rb", blocks), ri = k.newVar("ri", part);
      sum = k.reduce(OpKind::ReduceSum, t, sumInside(k.add(k.mul(k.var(rb), part), k.var(ri)), {ri}), {rb});
      if (rest) {
        int rt = k.newVar("rt", rest);
        sum = k.op(OpKind::Add, t, {sum, sumInside(k.add(k.var(rt), k.index(blocks * part)), {rt})});
      }
    }
    return outer.empty() ? sum : k.reduce(OpKind::ReduceSum, t, sum, outer);
  }

  const Module &m;
  const Graph &g;
  Kernel &k;
  const llvm::DenseMap<const Node *, std::string> &names;
  std::map<std::string, int> ids;
  std::map<std::pair<Node *, std::vector<const Expr *>>, const Expr *> memo;
};

//===--- kernels by kind ------------------------------------------------------===//

/// Loop variables over the non-unit dims of `shape`; unit dims index 0.
/// With a split plan, a dim may loop as several variables (see SplitPlan).
IndexVec domainOf(Kernel &k, llvm::ArrayRef<int64_t> shape, llvm::SmallVectorImpl<int> &vars, llvm::StringRef prefix = "i",
                  SplitPlan *plan = nullptr) {
  IndexVec idx;
  int call = plan ? plan->calls++ : -1;
  for (size_t dim = 0; dim < shape.size(); ++dim) {
    int64_t d = shape[dim];
    if (d == 1) {
      idx.push_back(k.index(0));
      continue;
    }
    std::vector<int64_t> parts{d};
    if (plan)
      if (auto it = plan->factors.find({call, int(dim)}); it != plan->factors.end()) parts = it->second;
    const Expr *at = k.index(0);
    for (size_t p = 0; p < parts.size(); ++p) {
      int v = k.newVar(prefix, parts[p]);
      vars.push_back(v);
      if (plan) plan->origin[v] = {call, int(dim), int(p)};
      at = k.add(k.mul(at, parts[p]), k.var(v));
    }
    idx.push_back(at);
  }
  return idx;
}

/// Splits the loops of a built kernel where its addresses divide a loop
/// variable by a divisor of its extent (i / 64 with i in 0..768: a reshape
/// that merged [12, 64] into 768). Returns whether the plan changed; the
/// kernel is then built again, looping over (i1, i2) in 12×64 where the
/// division and remainder become i1 and i2 and the inner loop reads
/// contiguous memory.
bool refineSplits(const Kernel &k, SplitPlan &plan) {
  bool changed = false;
  for (const Expr &e : k.expressions()) {
    if (e.kind != Expr::Op || e.type != Type::Index || e.op != OpKind::Div || e.args[1]->kind != Expr::Const) continue;
    int64_t q = int64_t(e.args[1]->value);
    for (auto &[t, c] : linearTerms(e.args[0])) {
      if (t->kind != Expr::Var || c <= 0 || q % c != 0) continue;
      auto o = plan.origin.find(t->var);
      if (o == plan.origin.end()) continue;
      int64_t f = q / c, ext = k.vars[t->var].extent;
      if (f <= 1 || f >= ext || ext % f != 0) continue;
      auto [call, dim, part] = o->second;
      auto &parts = plan.factors[{call, dim}];
      if (parts.empty()) parts = {ext};
      if (parts[part] != ext) continue; // already refined in this round
      parts[part] = f;
      parts.insert(parts.begin() + part, ext / f);
      changed = true;
      break;
    }
  }
  return changed;
}

/// A (batched) product: a GEMM per matrix of its batch. In a slice group,
/// `slice` indexes the group's leading axes and `into` is the slice loop's
/// body; the product's other batch axes, if any, loop inside it. In a group
/// run in row blocks (kb.blockRows), `role` says which rows the block
/// covers: ByRow, the block's rows of A and C (M = blockRows); SumsRows,
/// those of A and B (K = blockRows), each block after the first adding to C.
void buildMatMul(Kernel &k, KernelBuilder &kb, Node *n, llvm::ArrayRef<const Expr *> slice = {},
                 std::vector<Stmt> *into = nullptr, RowRole role = RowRole::None) {
  bool ta = n->attrs.getBool(AttrKey::TransposeA), tb = n->attrs.getBool(AttrKey::TransposeB);
  unsigned r = n->type.rank();
  llvm::ArrayRef<int64_t> batch(n->type.shape.begin(), n->type.shape.end() - 2);
  llvm::SmallVector<int, 4> vars;
  IndexVec bidx(slice.begin(), slice.end());
  IndexVec rest = domainOf(k, batch.drop_front(slice.size()), vars, "b", kb.plan);
  bidx.append(rest.begin(), rest.end());
  // A local matrix holds one slice: its slice axes add nothing.
  auto batchOffset = [&](const Node *base, llvm::ArrayRef<int64_t> strides) {
    size_t from = storageBase(base)->storage.kind == Storage::Local ? slice.size() : 0;
    const Expr *off = k.index(0);
    for (size_t i = from; i < batch.size(); ++i) off = k.add(off, k.mul(bidx[i], strides[i]));
    return off;
  };
  auto stored = [&](const Node *x) { return kb.isStored(x); };
  // The block's first row of a tiled operand (its axis r-2): a local holds
  // the block alone, so only memory-wide values shift.
  auto blockShift = [&](const Node *base, int64_t rowStride) {
    if (storageBase(base)->storage.kind == Storage::Local) return k.index(0);
    return k.mul(kb.blockRow, rowStride);
  };
  auto matrix = [&](Node *x, bool logicalTrans, bool tiled) {
    auto v = stridedView(x, stored);
    if (!v) llvm::report_fatal_error("internal error: matmul operand is not a strided view");
    Stmt::Matrix mat;
    mat.buffer = kb.buffer(v->base);
    mat.offset = k.add(k.index(v->offset), batchOffset(v->base, v->strides));
    if (tiled) mat.offset = k.add(mat.offset, blockShift(v->base, v->strides[r - 2]));
    int64_t rows = x->type.shape[r - 2], cols = x->type.shape[r - 1];
    int64_t rs = v->strides[r - 2], cs = v->strides[r - 1];
    // Unit-stride columns: row-major with leading dim rs. Unit-stride rows:
    // stored transposed (column-major) with leading dim cs. A single row or
    // column is either, whatever its other stride.
    bool rowMajor;
    if (cs == 1 || cols == 1) rowMajor = true;
    else if (rs == 1 || rows == 1) rowMajor = false;
    else llvm::report_fatal_error("internal error: matmul operand has no unit stride");
    mat.trans = rowMajor ? logicalTrans : !logicalTrans;
    mat.ld = rowMajor ? (rows == 1 ? cols : rs) : (cols == 1 ? rows : cs);
    return mat;
  };
  bool byRow = role == RowRole::ByRow, sumsRows = role == RowRole::SumsRows;
  Stmt s{Stmt::Gemm};
  s.a = matrix(n->operand(0), ta, byRow || sumsRows);
  s.b = matrix(n->operand(1), tb, sumsRows);
  s.m = byRow ? kb.blockRows : n->type.shape[r - 2];
  s.n = n->type.shape[r - 1];
  s.k = sumsRows ? kb.blockRows : ta ? n->operand(0)->type.shape[r - 2] : n->operand(0)->type.shape[r - 1];
  s.c.buffer = kb.buffer(n);
  s.c.offset = batchOffset(n, contiguousStrides(n->type.shape));
  if (byRow) s.c.offset = k.add(s.c.offset, blockShift(n, s.n));
  s.c.ld = s.n;
  if (sumsRows) s.accumulate = kb.accumulate; // blocks after the first add to C
  k.work += n->type.numel() * s.k;
  std::vector<const Expr *> exprs{s.a.offset, s.b.offset, s.c.offset};
  Placer p(k);
  llvm::SmallVector<int, 2> outer;
  if (!slice.empty()) outer.push_back(kb.sliceVar);
  if (!slice.empty() && kb.blockVar >= 0) outer.push_back(kb.blockVar);
  p.setOuter(outer);
  p.nestStmt(vars, s, exprs, into);
}

/// A matmul with an epilogue: the GEMM, then, for each block of rows it
/// finishes, one loop nest over those rows storing the kernel's other
/// values. The product is [M, N]; the values are [..., N] with M rows in
/// their leading dims, so a row index is split into those dims once per row.
void buildMatMulEpilogue(Kernel &k, KernelBuilder &kb, Node *mm, llvm::ArrayRef<Node *> roots) {
  buildMatMul(k, kb, mm);
  Stmt &gemm = k.body.back();
  if (gemm.kind != Stmt::Gemm) llvm::report_fatal_error("internal error: an epilogue's matmul has batch loops");
  llvm::ArrayRef<int64_t> shape = roots.front()->type.shape;
  int row = k.newVar("row", gemm.m), col = k.newVar("col", gemm.n);
  IndexVec idx = kb.reshapeIndex({k.var(row)}, {gemm.m}, shape.drop_back());
  idx.push_back(k.var(col));
  Placer(k).nest({row, col}, kb.storesAt(roots, idx), &gemm.body);
  // The runtime calls the epilogue on row ranges: its row loop takes them.
  for (auto &st : gemm.body)
    if (st.kind == Stmt::Loop && st.var == row) st.parallel = true;
  k.work += gemm.m * gemm.n;
}

void buildScatterAdd(Kernel &k, KernelBuilder &kb, Node *n) {
  int out = kb.buffer(n);
  Type t = scalarType(n->type.dtype);
  // out = 0, then out[idx[p], j] += upd[p, j] for every position p.
  llvm::SmallVector<int, 1> all;
  int v = k.newVar("i", n->type.numel());
  all.push_back(v);
  Placer(k).nest(all, {{Stmt::Store, out, k.var(v), k.constant(0, t)}});
  const TensorType &ids = n->operand(0)->type;
  llvm::SmallVector<int, 4> vars;
  IndexVec pidx = domainOf(k, ids.shape, vars, "p", kb.plan);
  llvm::ArrayRef<int64_t> rowShape(n->type.shape.begin() + 1, n->type.shape.end());
  IndexVec ridx = domainOf(k, rowShape, vars, "j", kb.plan);
  const Expr *row = k.clamp(k.op(OpKind::Cast, Type::Index, {kb.valueAt(n->operand(0), pidx)}), 0, n->type.shape[0] - 1);
  IndexVec uidx = pidx;
  uidx.append(ridx.begin(), ridx.end());
  IndexVec oidx{row};
  oidx.append(ridx.begin(), ridx.end());
  Placer(k).nest(vars, {{Stmt::AccStore, out, kb.linear(oidx, n->type.shape), kb.valueAt(n->operand(1), uidx)}});
  k.work = n->operand(1)->type.numel();
}

/// A column reduction (ir/Kernel.h) runs over the operand in memory order,
/// reduced axes outside and kept ones inside, adding into the output row:
/// contiguous, vectorisable loads instead of a strided walk per column.
void buildColumnReduction(Kernel &k, KernelBuilder &kb, Node *n) {
  int out = kb.buffer(n);
  Type t = scalarType(n->type.dtype);
  bool isMax = n->is(OpKind::ReduceMax);
  double init = isMax ? -INFINITY : 0;
  const TensorType &x = n->operand(0)->type;
  auto axes = n->attrs.getInts(AttrKey::Axes);
  int64_t cols = x.shape.back();
  // Threads share the kernel by its first axis when that axis is kept (the
  // per-batch-row sums passes/SplitColumnSums.cpp makes: each thread sums
  // the rows the kernels before it wrote on that thread), else by blocks of
  // 64 columns of the kept innermost axis. Either way each output element
  // is one thread's, summed in the same order for any thread count.
  bool big = x.numel() >= (1 << 15);
  bool byFirst = big && x.shape[0] >= 2 && !llvm::is_contained(axes, int64_t(0));
  int64_t block = !byFirst && cols % 64 == 0 && cols >= 128 && big ? 64 : cols;
  int cb = block == cols ? -1 : k.newVar("cb", cols / block);
  int first = byFirst ? k.newVar("b", x.shape[0]) : -1;
  auto column = [&](const Expr *ci) { return block == cols ? ci : k.add(k.mul(k.var(cb), block), ci); };
  // out[..., c] = init
  {
    llvm::SmallVector<int, 4> ovars;
    Dims inner(n->type.shape.begin(), n->type.shape.end());
    inner.back() = block;
    if (byFirst) inner[0] = 1;
    IndexVec oidx = domainOf(k, inner, ovars, "i", kb.plan);
    oidx.back() = column(oidx.back());
    if (byFirst) oidx[0] = k.var(first);
    Placer p(k);
    p.nest(ovars, {{Stmt::Store, out, kb.linear(oidx, n->type.shape), k.constant(init, t)}});
  }
  // out[at] op= x[r...] over the operand in memory order, within the block.
  {
    Dims inner(x.shape.begin(), x.shape.end());
    inner.back() = block;
    if (byFirst) inner[0] = 1;
    llvm::SmallVector<int, 4> vars;
    IndexVec xidx = domainOf(k, inner, vars, "r", kb.plan);
    xidx.back() = column(xidx.back());
    if (byFirst) xidx[0] = k.var(first);
    IndexVec at = xidx;
    for (int64_t ax : axes) at[ax] = k.index(0);
    Placer(k).nest(vars, {{Stmt::AccStore, out, kb.linear(at, n->type.shape), kb.valueAt(n->operand(0), xidx),
                           isMax ? OpKind::ReduceMax : OpKind::ReduceSum}});
  }
  k.work = x.numel();
  // Wrap both nests in the parallel loop over the first axis or column blocks.
  int shared = byFirst ? first : cb;
  if (shared < 0) return;
  Stmt outer{Stmt::Loop};
  outer.var = shared;
  outer.parallel = true;
  outer.body = std::move(k.body);
  k.body.clear();
  k.body.push_back(std::move(outer));
  k.parallelExtent = k.vars[shared].extent;
}

/// A slice group (ir/Graph.h): one parallel loop over its slices, and in
/// it each of its kernels on that slice in turn, a matmul as a GEMM of the
/// slice's matrices, a loop as a nest over the slice's other axes:
///
///   parallel for slice in 0..48              [B, H] = [12, 4]
///     gemm  s[64,64] = q[slice] @ k[slice]ᵀ     s is local: one slice
///     for i, j: e = exp(s - rowmax(s)) ...       loops over [T, T]
///     gemm  y[slice] = p @ v[slice]
///
/// Its local buffers hold one slice each in the call's scratch; each
/// thread runs whole slices, with single-threaded GEMMs. A group run in row
/// blocks (ir/Graph.h) has a loop over the blocks inside the slice loop,
/// and its locals hold one block of a slice:
///
///   parallel for slice in 0..48              [B, H] = [8, 6], T = 256
///     for blk in 0..8                         32 rows of T at a time
///       gemm  s[32,256] = q[slice, rows] @ k[slice]ᵀ
///       for i, j: ...                          loops over [32, T]
///       gemm  y[slice, rows] = p @ v[slice]
///       gemm  dv[slice] += pᵀ @ dy[slice, rows]   (a product summing rows)
///     (the last block again, when the blocks do not divide T)
void buildSliceGroup(Kernel &k, KernelBuilder &kb, const Graph &g, const SliceGroup &sg, bool skipMasked) {
  unsigned r = sg.batch.size();
  int s = k.newVar("slice", sg.slices());
  // The slice's index along each of the group's axes (row-major).
  IndexVec slice;
  int64_t inner = sg.slices();
  for (int64_t d : sg.batch) {
    inner /= d;
    const Expr *at = inner == 1 ? k.var(s) : k.divConst(k.var(s), inner);
    slice.push_back(d == 1 ? k.index(0) : k.remConst(at, d));
  }
  Stmt loop{Stmt::Loop};
  loop.var = s;
  kb.sliceRank = r;
  kb.sliceVar = s;
  // The group's kernels, in turn, into `body`: on the whole slice, or on
  // the block of `rows` rows from kb.blockRow in a group run in row blocks.
  int64_t rows = sg.rowBlock ? groupRows(g, sg) : 0;
  int blockLoop = -1; // the loop over row blocks, when there is one
  auto members = [&](std::vector<Stmt> *body, llvm::ArrayRef<int> outer) {
    for (int32_t id = sg.first; id <= sg.last; ++id) {
      const FusedKernel &fk = g.kernels[id];
      kb.kernelId = id;
      kb.forgetValues();
      if (fk.kind == KernelKind::MatMul) {
        buildMatMul(k, kb, fk.root(), slice, body, sg.rowBlock ? rowRole(g, sg, id, rows) : RowRole::None);
        continue;
      }
      k.work += product(fk.domain);
      llvm::SmallVector<int, 4> vars;
      IndexVec idx = slice;
      Dims dims(fk.domain.begin() + r, fk.domain.end());
      if (sg.rowBlock) dims[0] = kb.blockRows;
      IndexVec rest = domainOf(k, dims, vars, "i", kb.plan);
      if (sg.rowBlock) rest[0] = k.add(kb.blockRow, rest[0]);
      idx.append(rest.begin(), rest.end());
      Placer p(k);
      p.setOuter(outer);
      p.nest(vars, kb.storesAt(fk.stored, idx), body);
    }
  };
  if (!sg.rowBlock) {
    members(&loop.body, {s});
  } else {
    // Full blocks in a loop inside the slice loop; then, when the blocks do
    // not divide the rows, the last, shorter one (rows % rowBlock of them).
    int64_t full = rows / sg.rowBlock, tail = rows % sg.rowBlock;
    Stmt blocks{Stmt::Loop};
    blocks.var = kb.blockVar = blockLoop = k.newVar("blk", full);
    kb.blockRows = sg.rowBlock;
    kb.blockRow = k.mul(k.var(blocks.var), sg.rowBlock);
    kb.accumulate = k.var(blocks.var); // a product summing rows adds after block 0
    members(&blocks.body, {s, blocks.var});
    loop.body.push_back(std::move(blocks));
    if (tail) {
      kb.blockVar = -1;
      kb.blockRows = tail;
      kb.blockRow = k.index(full * sg.rowBlock);
      kb.accumulate = k.index(1);
      int64_t work = k.work; // counted once, with the full blocks
      members(&loop.body, {s});
      k.work = work;
    }
  }
  kb.blockRows = 0;
  kb.blockRow = nullptr;
  kb.blockVar = -1;
  kb.accumulate = nullptr;
  // Products whose readers use some columns only (a causal mask's).
  if (skipMasked) narrowMaskedProducts(k, loop, blockLoop);
  markGemms(loop, &Stmt::singleThreaded);
  loop.parallel = true;
  k.parallelExtent = sg.slices();
  k.scratchBytes = sg.scratchBytes;
  k.body.push_back(std::move(loop));
}

/// What a kernel computes, for dumps: "pred = add(...)".
std::string summarize(const Node *root, const llvm::DenseMap<const Node *, std::string> &names) {
  std::string s = "%" + names.lookup(root) + " = " + root->info().mnemonic.str() + " : " + str(root->type);
  return s;
}

/// A stored value for the runtime's non-finite check: what it is, where in
/// the source it comes from, and where it lives.
Kernel::Stored describeStored(const Module &m, const Node *n, const llvm::DenseMap<const Node *, std::string> &names) {
  Kernel::Stored st;
  st.what = summarize(n, names);
  if (n->loc.known() && n->loc.file < m.files.size())
    st.what += " at " + m.files[n->loc.file] + ":" + std::to_string(n->loc.line) + ":" + std::to_string(n->loc.col);
  st.where.name = names.lookup(n);
  st.where.type = scalarType(n->type.dtype);
  st.where.isSlot = n->storage.kind == Storage::Slot;
  st.where.slot = n->storage.slot;
  st.where.offset = n->storage.offset;
  st.where.elements = n->type.numel();
  return st;
}

} // namespace

std::vector<Kernel> scheduleGraph(const Module &m, const Graph &g, const ScheduleOptions &opts) {
  auto names = valueNames(g);
  // What each kernel's fused reductions loop over, found in one walk (one
  // walk per kernel was quadratic: 40,000 kernels took 10 s).
  std::vector<int64_t> reducedWork(g.numKernels(), 0);
  for (auto &n : g.nodes)
    if (n->kernel >= 0 && n->has(Reduction))
      reducedWork[n->kernel] = std::max(reducedWork[n->kernel], n->operand(0)->type.numel());

  // The last kernel reading each value, through views: data-parallel
  // training may start averaging a gradient only after it.
  auto users = g.users();
  std::function<int32_t(const Node *)> lastRead = [&](const Node *n) {
    int32_t last = -1;
    for (const Node *u : users[n->id])
      last = std::max(last, u->storage.kind == Storage::View ? lastRead(u) : u->kernel);
    return last;
  };
  // A slice group becomes one loop-IR kernel: the loop-IR index of each
  // graph kernel, for the readers data-parallel training watches.
  std::vector<int32_t> loopIndex(g.numKernels());
  for (int32_t id = 0, next = 0; id < g.numKernels(); ++id) {
    const SliceGroup *sg = g.sliceGroupOf(id);
    loopIndex[id] = sg && id > sg->first ? loopIndex[id - 1] : next++;
  }
  std::vector<Kernel> out;
  for (int32_t id = 0; id < g.numKernels(); ++id) {
    // Fusion decided what the kernel is (ir/Kernel.h); the verifier held a
    // parsed plan to the same rules.
    const FusedKernel &fk = g.kernels[id];
    const SliceGroup *sg = g.sliceGroupOf(id);
    Node *root = fk.root();
    // Everything it stores (a group: they all store), in graph order, for
    // dumps and the runtime's non-finite check: the last value, then the
    // others. Locals are not in memory once the group is done.
    std::vector<Node *> all;
    for (int32_t j = id; j <= (sg ? sg->last : id); ++j)
      for (auto *list : {&g.kernels[j].stored, &g.kernels[j].epilogue})
        for (Node *n : *list)
          if (n->storage.kind != Storage::Local) all.push_back(n);
    llvm::sort(all, [](const Node *a, const Node *b) { return a->id < b->id; });
    if (all.empty()) all.push_back(root);
    auto build = [&](Kernel &k, SplitPlan &plan) {
      k.name = g.name + ".k" + std::to_string(loopIndex[id]);
      k.summary = summarize(all.back(), names);
      for (size_t i = 0; i + 1 < all.size(); ++i) k.summary += ", %" + names.lookup(all[i]);
      KernelBuilder kb(m, g, k, names);
      kb.kernelId = id;
      kb.plan = &plan;
      if (sg) {
        // The kernel list's numbers (--stage=kernels' `slices 7 to 9`):
        // the loop kernels are numbered after the groups collapse, so
        // "kernels 43-47" beside profile row 39 named two other rows.
        k.summary += " (IR kernels " + std::to_string(sg->first) + "-" + std::to_string(sg->last) + " by slice)";
        buildSliceGroup(k, kb, g, *sg, opts.skipMaskedColumns);
        return;
      }
      switch (fk.kind) {
      case KernelKind::MatMul:
        if (!fk.epilogue.empty()) {
          buildMatMulEpilogue(k, kb, root, fk.epilogue);
          break;
        }
        buildMatMul(k, kb, root);
        parallelize(k, true);
        break;
      case KernelKind::ScatterAdd: buildScatterAdd(k, kb, root); break;
      case KernelKind::ColumnReduce: buildColumnReduction(k, kb, root); break;
      case KernelKind::Random: {
        Stmt s{Stmt::Fill};
        s.buffer = kb.buffer(root);
        s.dist = root->op;
        bool uni = root->is(OpKind::RandUniform);
        s.p0 = root->attrs.getFloat(uni ? AttrKey::Low : AttrKey::Mean);
        s.p1 = root->attrs.getFloat(uni ? AttrKey::High : AttrKey::Std);
        s.count = root->type.numel();
        k.body.push_back(s);
        k.work = s.count;
        break;
      }
      case KernelKind::Loop: {
        // One loop nest over the common shape stores every value.
        llvm::SmallVector<int, 4> vars;
        IndexVec idx = domainOf(k, fk.domain, vars, "i", kb.plan);
        Placer(k).nest(vars, kb.storesAt(fk.stored, idx));
        // Work includes what fused reductions loop over.
        k.work = std::max(product(fk.domain), reducedWork[id]);
        parallelize(k, false);
        break;
      }
      }
    };
    // Build, split loops where addresses divide them, build again.
    SplitPlan plan;
    for (int round = 0;; ++round) {
      Kernel k;
      plan.calls = 0;
      build(k, plan);
      if (round == 4 || !refineSplits(k, plan)) {
        for (Node *r : all) {
          k.stored.push_back(describeStored(m, r, names));
          int32_t last = lastRead(r);
          k.stored.back().lastRead = last < 0 ? -1 : loopIndex[last];
        }
        out.push_back(std::move(k));
        break;
      }
    }
    if (sg) id = sg->last;
  }

  // Outputs and updates whose value lives elsewhere are copied into place.
  auto copy = [&](Node *value, const std::string &slot, llvm::StringRef what) {
    Kernel k;
    k.name = g.name + ".copy" + std::to_string(out.size());
    k.summary = what.str();
    KernelBuilder kb(m, g, k, names);
    llvm::SmallVector<int, 4> vars;
    IndexVec idx = domainOf(k, value->type.shape, vars, "i", kb.plan);
    int dst = kb.slotBuffer(slot, value);
    Placer(k).nest(vars, {{Stmt::Store, dst, kb.linear(idx, value->type.shape), kb.valueAt(value, idx)}});
    k.work = value->type.numel();
    // The copy reads what an earlier kernel stored: that value's last
    // reader is now the copy. Data-parallel training averages a gradient
    // in place once its last reader has run, and a gradient copied into
    // another's slot (two params with one gradient, shared by CSE) was
    // averaged while the copy still read it (--overlap --bucket-kib 1: a
    // different result in each of 4 runs).
    int32_t self = int32_t(out.size());
    for (size_t i = 0; i < k.buffers.size(); ++i)
      if (int(i) != dst)
        for (Kernel &earlier : out)
          for (auto &st : earlier.stored)
            if (sameMemory(k.buffers[i], st.where)) st.lastRead = std::max(st.lastRead, self);
    out.push_back(std::move(k));
  };
  // Outputs first: an output that reads a param the step updates (a loss
  // that is the param itself) reports its value before the update, as every
  // other reader sees it (modelgen seed 199).
  for (auto &o : g.outputs) {
    std::string slot = grt::outputTensor(o.name);
    if (!storedInSlot(o.value, slot)) copy(o.value, slot, "output " + o.name);
  }
  for (auto &u : g.updates) {
    std::string slot = u.target->attrs.getString(AttrKey::Name).str();
    if (u.value != u.target && !storedInSlot(u.value, slot)) copy(u.value, slot, "update " + slot);
  }
  chooseThreads(out, opts.oneThreadSmallEntries);
  return out;
}

} // namespace gradc
