//===- passes/RowLabels.cpp - how each value relates to the batch's rows --===//
#include "passes/RowLabels.h"

#include <cmath>
#include <optional>

namespace gradc {
namespace {

/// The value of a splat constant, looking through layout and casts.
std::optional<double> constValue(const Node *n) {
  while (n->is(OpKind::Broadcast) || n->is(OpKind::Reshape) || n->is(OpKind::Cast)) n = n->operand(0);
  if (!n->is(OpKind::Const)) return std::nullopt;
  return n->attrs.getFloat(AttrKey::Value);
}

/// For a product x * c or c * x where c does not read the data: c's value,
/// if it is a constant.
std::optional<double> constFactor(const Node *mul, llvm::ArrayRef<Label> ops) {
  return constValue(mul->operand(ops[0].kind == Label::Inv ? 0 : 1));
}

// Within 0.1%: `sum(x) * 0.0833` is meant as a mean over 12 elements.
bool near(double a, double b) { return std::fabs(a - b) <= 1e-3 * std::fabs(b); }

/// Is d a whole multiple k·B of the batch's B rows (k ≥ 1)?
bool multipleOf(double d, int64_t B) {
  double k = d / double(B);
  return k >= 1 - 1e-3 && near(k, std::round(k));
}

/// Does dividing a sum of `count` elements over B rows by `d` make a mean
/// over rows (up to a constant factor)? d is the count, or B, 2·B, ...
bool meanDivisor(double d, int64_t count, int64_t B) {
  if (near(d, double(count))) return true;
  return multipleOf(d, B);
}

class RowMean {
public:
  RowMean(int64_t B, std::optional<bool> training) : B(B), training(training) {}

  Label visit(const Node *n) {
    // where(training(), a, b) in an entry whose training() is known: the
    // branch it takes. A batch norm written so mixes rows in @train only;
    // in @eval and @predict each row stands alone.
    if (n->is(OpKind::Select) && training)
      if (std::optional<bool> c = knownCondition(n->operand(0))) return labels.lookup(n->operand(*c ? 1 : 2));
    // Copies: the caller inserts into `labels` after this returns.
    llvm::SmallVector<Label, 3> ops;
    for (const Node *o : n->operands) ops.push_back(labels.lookup(o));
    for (const Label &l : ops)
      if (l.kind == Label::Mixed) return l;
    bool anyData = llvm::any_of(ops, [](const Label &l) { return l.kind != Label::Inv; });
    if (n->is(OpKind::Input)) return n->type.rank() >= 1 ? Label::row(0, 1) : Label{};
    if (!anyData) return {};
    if (n->has(OpTrait::Elementwise)) return elementwise(n, ops);
    if (n->has(OpTrait::Layout)) return layout(n, ops);
    if (n->has(OpTrait::Reduction)) return reduce(n, ops[0]);
    if (n->is(OpKind::MatMul)) return matmul(n, ops[0], ops[1]);
    if (n->is(OpKind::Gather)) {
      if (ops[0].kind == Label::Inv && ops[1].kind == Label::Row) return ops[1]; // rows of idx stay
      if (ops[0].kind == Label::Agg && ops[1].kind == Label::Inv) return ops[0];
      return Label::mixed(n, "looks up rows, or by indices computed across rows");
    }
    if (n->is(OpKind::OneHot) && ops[0].kind == Label::Row) return ops[0];
    return Label::mixed(n, "adds up values across rows");
  }

  llvm::DenseMap<const Node *, Label> labels;

private:
  int64_t B;
  std::optional<bool> training;

  /// A condition known in this entry: training(), or a constant, through
  /// broadcasts and reshapes.
  std::optional<bool> knownCondition(const Node *c) const {
    while (c->is(OpKind::Broadcast) || c->is(OpKind::Reshape)) c = c->operand(0);
    if (c->is(OpKind::Hyper) && c->attrs.getString(AttrKey::Name) == kTrainingLeaf) return training;
    if (c->is(OpKind::Const)) return c->attrs.getFloat(AttrKey::Value) != 0;
    return std::nullopt;
  }

  Label elementwise(const Node *n, llvm::ArrayRef<Label> ops) {
    const Label *row = nullptr, *agg = nullptr;
    for (const Label &l : ops) {
      if (l.kind == Label::Row) {
        if (row && !row->sameRows(l)) return Label::mixed(n, "pairs rows with other rows");
        row = &l;
      }
      if (l.kind == Label::Agg) agg = &l;
    }
    if (row && agg) return Label::mixed(n, "combines each row with a sum or mean over rows");
    if (row) {
      // A row scaled by a constant keeps its factor, for the sum that may
      // follow: sum(e² / B) is a mean. Anything else forgets it.
      Label out = Label::row(row->axis, row->inner);
      bool unary = n->is(OpKind::Neg) || n->is(OpKind::Cast) || n->is(OpKind::StopGradient);
      if (unary) out.scale = row->scale;
      // Operands are Row or Inv here, not both Inv.
      if (n->is(OpKind::Mul) && (ops[0].kind == Label::Inv || ops[1].kind == Label::Inv))
        if (auto c = constFactor(n, ops)) out.scale = row->scale * *c;
      if (n->is(OpKind::Div) && ops[1].kind == Label::Inv)
        if (auto c = constValue(n->operand(1)); c && *c != 0) out.scale = row->scale / *c;
      return out;
    }
    // Only Agg and Inv operands: linear combinations keep an Agg.
    Label out = *agg;
    for (const Label &l : ops)
      if (l.kind == Label::Agg && l.sum && !out.sum) out.sum = true, out.at = l.at, out.count = l.count;
    auto aggOperands = llvm::count_if(ops, [](const Label &l) { return l.kind == Label::Agg; });
    switch (n->op) {
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Neg:
    case OpKind::Cast:
    case OpKind::StopGradient:
      return out;
    case OpKind::Select:
      if (ops[0].kind == Label::Inv) return out;
      break;
    case OpKind::Mul:
      if (aggOperands == 1) {
        if (auto c = constFactor(n, ops); c && *c != 0) {
          if (out.sum && meanDivisor(1 / *c, out.count, B)) makeMean(out);
          else if (!out.sum && multipleOf(*c, B)) timesB(out, n, *c);
        }
        return out;
      }
      break;
    case OpKind::Div:
      if (ops[0].kind == Label::Agg && ops[1].kind == Label::Inv) {
        if (auto c = constValue(n->operand(1)); c && out.sum && meanDivisor(*c, out.count, B)) makeMean(out);
        return out;
      }
      break;
    default:
      break;
    }
    return Label::mixed(n, "is not linear, and its operand is a sum or mean over rows");
  }

  /// A sum divided into a mean, unless the division only cancels a
  /// multiple of B that scaled it: (B · Σ e²) / count still sums the rows.
  static void makeMean(Label &l) {
    if (l.pendingB) {
      l.pendingB = false;
      return;
    }
    l.sum = false;
    l.byB = nullptr;
  }
  /// A mean scaled by k·B is a sum over rows again.
  static void timesB(Label &l, const Node *n, double factor) {
    l.sum = true;
    l.byB = n;
    l.byBFactor = factor;
  }

  Label layout(const Node *n, llvm::ArrayRef<Label> ops) {
    const TensorType &in = n->operand(0)->type, &out = n->type;
    auto kindIs = [](Label::Kind k) { return [k](const Label &l) { return l.kind == k; }; };
    if (llvm::any_of(ops, kindIs(Label::Agg))) {
      if (llvm::any_of(ops, kindIs(Label::Row))) return Label::mixed(n, "joins each row with a sum or mean over rows");
      return *llvm::find_if(ops, kindIs(Label::Agg));
    }
    // Concat's first operand may be Inv; every other layout op has one operand.
    const Label &l = *llvm::find_if(ops, kindIs(Label::Row));
    switch (n->op) {
    case OpKind::Broadcast:
      return Label::row(l.axis + int(out.rank() - in.rank()), l.inner, l.scale);
    case OpKind::Transpose: {
      auto perm = n->attrs.getInts(AttrKey::Perm);
      for (unsigned i = 0; i < perm.size(); ++i)
        if (perm[i] == l.axis) return Label::row(int(i), l.inner, l.scale);
      break;
    }
    case OpKind::Reshape: {
      // The rows are a block of B at stride S of the flat index.
      int64_t S = l.inner * product(llvm::ArrayRef<int64_t>(in.shape).drop_front(l.axis + 1));
      for (unsigned k = 0; k < out.rank(); ++k) {
        int64_t after = product(llvm::ArrayRef<int64_t>(out.shape).drop_front(k + 1));
        if (S % after == 0 && out.shape[k] % ((S / after) * B) == 0) return Label::row(int(k), S / after, l.scale);
      }
      return Label::mixed(n, "reshapes the rows apart");
    }
    case OpKind::Slice:
    case OpKind::Pad: {
      if (in.shape[l.axis] == out.shape[l.axis]) return l;
      // Whole blocks of B rows (eab[B:2*B] of a concat of two batches,
      // below) keep them: row r of the block is row r.
      int64_t block = l.inner * B;
      if (n->is(OpKind::Slice) && n->attrs.getInts(AttrKey::Offsets)[l.axis] % block == 0 &&
          out.shape[l.axis] % block == 0)
        return l;
      return Label::mixed(n, "keeps only some of the rows");
    }
    case OpKind::Concat:
      if (n->attrs.getInt(AttrKey::Axis) == l.axis && ops.size() > 1) {
        // Batches one after another (concat([a, b], 0) of two [B, D]
        // inputs, to run one encoder on both) are blocks of B rows: row r
        // of each block is row r, which the label's o counts. (This was
        // "joins rows", and the loss and outputs of a Siamese model were
        // taken to mix rows.) Anything else along the row axis mixes them.
        bool sameScale = true;
        for (size_t k = 0; k < ops.size(); ++k) {
          if (ops[k].kind != Label::Row || !ops[k].sameRows(l) ||
              n->operand(k)->type.shape[l.axis] % (l.inner * B) != 0)
            return Label::mixed(n, "joins rows along the row axis");
          sameScale = sameScale && ops[k].scale == l.scale;
        }
        return Label::row(l.axis, l.inner, sameScale ? l.scale : 1);
      }
      for (const Label &o : ops)
        if (o.kind == Label::Row && !o.sameRows(l)) return Label::mixed(n, "pairs rows with other rows");
      return l;
    default:
      break;
    }
    return Label::mixed(n, "moves rows");
  }

  Label reduce(const Node *n, const Label &l) {
    auto axes = n->attrs.getInts(AttrKey::Axes);
    int64_t count = 1;
    for (int64_t a : axes) count *= n->operand(0)->type.shape[a];
    if (l.kind == Label::Agg) {
      if (n->is(OpKind::ReduceMax)) return Label::mixed(n, "takes a maximum of a sum over rows");
      Label out = l;
      out.count *= count;
      return out;
    }
    if (!llvm::is_contained(axes, int64_t(l.axis))) return l;
    if (n->is(OpKind::ReduceMax)) return Label::mixed(n, "takes a maximum over rows");
    Label out;
    out.kind = Label::Agg, out.count = count, out.at = n;
    out.sum = !(l.scale != 0 && meanDivisor(1 / l.scale, count, B));
    if (out.sum && multipleOf(l.scale, B)) out.byB = n, out.byBFactor = l.scale, out.pendingB = true;
    return out;
  }

  Label matmul(const Node *n, const Label &x, const Label &y) {
    unsigned r = n->type.rank();
    bool ta = n->attrs.getBool(AttrKey::TransposeA), tb = n->attrs.getBool(AttrKey::TransposeB);
    if (x.kind == Label::Agg || y.kind == Label::Agg) {
      if (x.kind == Label::Row || y.kind == Label::Row) return Label::mixed(n, "multiplies rows by a sum over rows");
      if (x.kind == Label::Agg && y.kind == Label::Agg)
        return Label::mixed(n, "multiplies a sum or mean over rows by another");
      return x.kind == Label::Agg ? x : y;
    }
    // Where each operand's rows end up in the result; -1: contracted.
    auto place = [&](const Label &l, bool isX) -> int {
      if (l.kind != Label::Row) return -2;
      if (l.axis < int(r) - 2) return l.axis;
      bool onM = isX ? (l.axis == int(r) - 2) != ta : (l.axis == int(r) - 1) != tb;
      return onM ? (isX ? int(r) - 2 : int(r) - 1) : -1;
    };
    int px = place(x, true), py = place(y, false);
    // Both contracted over the same rows: each element is a sum over rows
    // of per-row products (transpose(e) @ e is the sum of e²), so a sum
    // over rows as reduce_sum makes one, and a mean once divided. It was
    // "contracts over the rows", a warning: under --data-parallel such a
    // loss trained with 1/N of its gradient.
    if (px == -1 && py == -1 && x.inner == y.inner) { // the same rows, on the contracted axes
      int64_t count = n->operand(0)->type.shape[size_t(x.axis)];
      double scale = x.scale * y.scale;
      Label out;
      out.kind = Label::Agg, out.count = count, out.at = n;
      out.sum = !(scale != 0 && meanDivisor(1 / scale, count, B));
      if (out.sum && multipleOf(scale, B)) out.byB = n, out.byBFactor = scale, out.pendingB = true;
      return out;
    }
    if (px == -1 || py == -1) return Label::mixed(n, "contracts over the rows");
    if (px >= 0 && py >= 0 && (px != py || !x.sameRows(y))) return Label::mixed(n, "pairs every row with every other row");
    return px >= 0 ? Label::row(px, x.inner) : Label::row(py, y.inner);
  }
};

} // namespace

llvm::DenseMap<const Node *, Label> rowLabels(const Graph &g, int64_t B, std::optional<bool> training) {
  RowMean rm(B, training);
  for (auto &n : g.nodes) {
    Label l = rm.visit(n.get());
    rm.labels[n.get()] = std::move(l);
  }
  return std::move(rm.labels);
}

} // namespace gradc
