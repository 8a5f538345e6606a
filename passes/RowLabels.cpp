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

/// Where a factor `c` that is a multiple of B scales a mean over `count`
/// elements, B of them rows: the elements per row m when c is m itself and
/// m is not B, so that c may as well be the row's own count (T ·
/// cross_entropy(logits [B, T]) with T = 2·B is a mean over rows of
/// per-sequence sums); else 0. Any other multiple of B stays a sum over
/// rows written as a mean: B itself (mean(e²) · B over e [B, 4] is 2·m as
/// well), and B·m (the sum of all).
int64_t perRowReading(double c, int64_t count, int64_t B) {
  int64_t m = count % B == 0 ? count / B : 0;
  return m > 1 && m != B && near(c, double(m)) ? m : 0;
}

/// Does dividing a sum of `count` elements over B rows by `d` make a mean
/// over rows (up to a constant factor)? d is the count, or B, 2·B, ...
bool meanDivisor(double d, int64_t count, int64_t B) {
  if (near(d, double(count))) return true;
  return multipleOf(d, B);
}

const char *const kPositional = "gives each row a term by its position in the batch (a param or constant with B "
                                "rows: they follow batch positions, not the data, which training reshuffles)";

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
    if (!anyData) {
      varying[n] = varyingAxes(n);
      return {};
    }
    if (n->has(OpTrait::Elementwise)) return elementwise(n, ops);
    if (n->has(OpTrait::Layout)) return layout(n, ops);
    if (n->has(OpTrait::Reduction)) return reduce(n, ops[0]);
    if (n->is(OpKind::MatMul)) return matmul(n, ops[0], ops[1]);
    if (n->is(OpKind::Gather)) {
      if (ops[0].kind == Label::Inv && ops[1].kind == Label::Row) return ops[1]; // rows of idx stay
      if (ops[0].kind == Label::Agg && ops[1].kind == Label::Inv) return ops[0];
      // A table computed from the batch (a sequence's states flattened to
      // [B·T, E], read at b·T + len - 1): nothing keeps each row to its
      // own entries, though a mask would.
      if (ops[0].kind == Label::Row)
        return Label::mixed(n, "looks up rows of a value computed from the batch, so a row may read any other's; to "
                               "pick from each row's own values, multiply them by a onehot() of the position and sum, "
                               "which stays row by row");
      return Label::mixed(n, "looks up rows by indices computed across rows");
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

  /// Of a value that reads no input, the axes along which it may differ
  /// (bit k for axis k; every axis of more than 64). A param of B rows
  /// added to each row, or arange(B), gives each row of the batch its own
  /// term by its position in the batch, which the reshuffle changes every
  /// epoch: the loss is then no mean of per-row terms.
  using Axes = uint64_t;
  llvm::DenseMap<const Node *, Axes> varying;

  static Axes allAxes(const TensorType &t) {
    Axes m = 0;
    for (unsigned k = 0; k < t.rank() && k < 64; ++k)
      if (t.shape[k] != 1) m |= Axes(1) << k;
    return t.rank() > 64 ? ~Axes(0) : m;
  }

  /// Whether a value that reads no input differs along axis `axis`.
  bool variesAlong(const Node *n, int axis) const { return varying.lookup(n) >> axis & 1; }

  Axes varyingAxes(const Node *n) const {
    const TensorType &out = n->type;
    if (out.rank() > 64) return ~Axes(0);
    auto of = [&](unsigned i) { return varying.lookup(n->operand(i)); };
    switch (n->op) {
    case OpKind::Const:
    case OpKind::Hyper:
    // Random numbers (hash of the element's index: dropout's mask) differ
    // from row to row as noise does, not as a term per batch position.
    case OpKind::Hash:
    case OpKind::RandUniform:
    case OpKind::RandNormal:
      return 0;
    case OpKind::Iota:
      return Axes(1) << n->attrs.getInt(AttrKey::Axis);
    case OpKind::Broadcast: {
      const TensorType &in = n->operand(0)->type;
      Axes m = 0, from = of(0);
      unsigned lead = out.rank() - in.rank();
      for (unsigned k = 0; k < in.rank() && k < 64; ++k)
        if ((from >> k & 1) && in.shape[k] != 1) m |= Axes(1) << (k + lead);
      return m;
    }
    case OpKind::Transpose: {
      auto perm = n->attrs.getInts(AttrKey::Perm);
      Axes m = 0, from = of(0);
      for (unsigned k = 0; k < perm.size(); ++k)
        if (from >> perm[k] & 1) m |= Axes(1) << k;
      return m;
    }
    case OpKind::Reshape: {
      // Dims of size 1 added or dropped: the others keep their bits. Dims
      // merged or split (reshape(arange(B * T), [B, T]) % T, position ids)
      // are not followed: unknown, and not warned of.
      const TensorType &in = n->operand(0)->type;
      Axes from = of(0);
      if (!from) return 0;
      std::vector<unsigned> a, b;
      for (unsigned k = 0; k < in.rank(); ++k)
        if (in.shape[k] != 1) a.push_back(k);
      for (unsigned k = 0; k < out.rank(); ++k)
        if (out.shape[k] != 1) b.push_back(k);
      bool same = a.size() == b.size();
      for (size_t i = 0; same && i < a.size(); ++i) same = in.shape[a[i]] == out.shape[b[i]];
      if (!same) return 0;
      Axes m = 0;
      for (size_t i = 0; i < a.size(); ++i)
        if (from >> a[i] & 1) m |= Axes(1) << b[i];
      return m;
    }
    case OpKind::MatMul: {
      // [..., M, K] @ [..., K, N]: rows as a's rows, columns as b's; a
      // zero start state (full([B, H], 0) @ wh) differs by column only.
      unsigned r = out.rank();
      if (r < 2 || n->operand(0)->type.rank() != r || n->operand(1)->type.rank() != r) return 0;
      bool ta = n->attrs.getBool(AttrKey::TransposeA), tb = n->attrs.getBool(AttrKey::TransposeB);
      Axes a = of(0), b = of(1), batch = (Axes(1) << (r - 2)) - 1;
      Axes m = (a | b) & batch;
      if (a >> (ta ? r - 1 : r - 2) & 1) m |= Axes(1) << (r - 2);
      if (b >> (tb ? r - 2 : r - 1) & 1) m |= Axes(1) << (r - 1);
      return m & allAxes(out);
    }
    case OpKind::Slice:
      return of(0);
    case OpKind::Pad: {
      Axes m = of(0);
      for (unsigned k = 0; k < out.rank(); ++k)
        if (out.shape[k] != n->operand(0)->type.shape[k]) m |= Axes(1) << k;
      return m;
    }
    case OpKind::Concat: {
      Axes m = Axes(1) << n->attrs.getInt(AttrKey::Axis);
      for (unsigned i = 0; i < n->operands.size(); ++i) m |= of(i);
      return m & allAxes(out);
    }
    default:
      break;
    }
    if (n->has(OpTrait::Elementwise)) {
      Axes m = 0;
      for (unsigned i = 0; i < n->operands.size(); ++i) m |= of(i);
      return m;
    }
    if (n->has(OpTrait::Reduction)) return of(0) & allAxes(out);
    if (n->is(OpKind::Gather) || n->is(OpKind::OneHot)) {
      // [idx..., row...]: along the indices' axes as the indices differ
      // (a start-of-sequence row, gather(emb, full([B, 1], 0)), does not);
      // along a looked-up row's axes, as rows do.
      const TensorType &idx = n->operand(n->is(OpKind::Gather) ? 1 : 0)->type;
      Axes m = of(n->is(OpKind::Gather) ? 1 : 0) & ((Axes(1) << idx.rank()) - 1);
      for (unsigned k = idx.rank(); k < out.rank(); ++k) m |= Axes(1) << k;
      return m & allAxes(out);
    }
    // Params and state differ anywhere; what no rule above follows is
    // unknown, and not warned of: a warning about a model that is right
    // would also drop its outputs from predict.
    if (n->is(OpKind::Param) || n->is(OpKind::State)) return allAxes(out);
    return 0;
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
    // A term by batch position (an Inv operand that differs along the row
    // axis; where the axis holds several positions per row, [B·T, C], it
    // may differ by position t alone, and is not checked), or a row that
    // carries one: added, subtracted or scaled it stays a row with that
    // term, which a mean over rows averages to a constant; any other op
    // makes each row's value depend on where the row sits in the batch.
    const Node *positional = nullptr;
    for (const Label &l : ops)
      if (l.kind == Label::Row && l.positional) positional = l.positional;
    bool adds = false;
    if (row && row->inner == 1)
      for (unsigned i = 0; i < ops.size(); ++i)
        adds = adds || (ops[i].kind == Label::Inv && variesAlong(n->operand(i), row->axis));
    // Only added is such a term averaged out: x * d with d [B, 1] weighs
    // each row by its position.
    if (adds && !n->is(OpKind::Add) && !n->is(OpKind::Sub)) return Label::mixed(n, kPositional);
    if (positional) {
      bool linear = n->is(OpKind::Add) || n->is(OpKind::Sub) || n->is(OpKind::Neg) || n->is(OpKind::Cast) ||
                    n->is(OpKind::StopGradient);
      if ((n->is(OpKind::Mul) || n->is(OpKind::Div)) && llvm::count_if(ops, [](const Label &l) { return l.kind == Label::Row; }) == 1)
        linear = n->is(OpKind::Mul) || ops[1].kind == Label::Inv; // x * c, c * x, x / c
      if (!linear) return Label::mixed(positional, kPositional);
    }
    if (adds && !positional) positional = n;
    if (row) {
      // A row scaled by a constant keeps its factor, for the sum that may
      // follow: sum(e² / B) is a mean. Anything else forgets it.
      Label out = Label::row(row->axis, row->inner);
      out.positional = positional;
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
    l.perRow = 0;
  }
  /// A mean scaled by k·B is a sum over rows again.
  void timesB(Label &l, const Node *n, double factor) const {
    l.sum = true;
    l.byB = n;
    l.byBFactor = factor;
    l.perRow = perRowReading(factor, l.count, B);
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
      return l.moved(l.axis + int(out.rank() - in.rank()), l.inner);
    case OpKind::Transpose: {
      auto perm = n->attrs.getInts(AttrKey::Perm);
      for (unsigned i = 0; i < perm.size(); ++i)
        if (perm[i] == l.axis) return l.moved(int(i), l.inner);
      break;
    }
    case OpKind::Reshape: {
      // The rows are a block of B at stride S of the flat index.
      int64_t S = l.inner * product(llvm::ArrayRef<int64_t>(in.shape).drop_front(l.axis + 1));
      for (unsigned k = 0; k < out.rank(); ++k) {
        int64_t after = product(llvm::ArrayRef<int64_t>(out.shape).drop_front(k + 1));
        if (S % after == 0 && out.shape[k] % ((S / after) * B) == 0) return l.moved(int(k), S / after);
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
        Label joined = Label::row(l.axis, l.inner, sameScale ? l.scale : 1);
        for (const Label &o : ops)
          if (o.positional) joined.positional = o.positional;
        return joined;
      }
      for (const Label &o : ops)
        if (o.kind == Label::Row && !o.sameRows(l)) return Label::mixed(n, "pairs rows with other rows");
      // concat([x, b], 1) with b [B, H]: each row gets b's row by its
      // place, carried as a term added would be.
      if (!l.positional && l.inner == 1)
        for (size_t k = 0; k < ops.size(); ++k)
          if (ops[k].kind == Label::Inv && variesAlong(n->operand(k), l.axis)) {
            Label joined = l;
            joined.positional = n;
            return joined;
          }
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
    if (out.sum && multipleOf(l.scale, B))
      out.byB = n, out.byBFactor = l.scale, out.pendingB = true, out.perRow = perRowReading(l.scale, count, B);
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
    // xᵀ·e pairs each row's term by position with the row's x.
    if ((px == -1 || py == -1) && (x.positional || y.positional))
      return Label::mixed(x.positional ? x.positional : y.positional, kPositional);
    if (px == -1 && py == -1 && x.inner == y.inner) { // the same rows, on the contracted axes
      int64_t count = n->operand(0)->type.shape[size_t(x.axis)];
      double scale = x.scale * y.scale;
      Label out;
      out.kind = Label::Agg, out.count = count, out.at = n;
      out.sum = !(scale != 0 && meanDivisor(1 / scale, count, B));
      if (out.sum && multipleOf(scale, B))
        out.byB = n, out.byBFactor = scale, out.pendingB = true, out.perRow = perRowReading(scale, count, B);
      return out;
    }
    if (px == -1 || py == -1) return Label::mixed(n, "contracts over the rows");
    if (px >= 0 && py >= 0 && (px != py || !x.sameRows(y))) return Label::mixed(n, "pairs every row with every other row");
    // x @ w is linear in x: a term by batch position in x's rows stays one.
    if (px >= 0 && py >= 0 && (x.positional || y.positional))
      return Label::mixed(x.positional ? x.positional : y.positional, kPositional);
    Label out = px >= 0 ? Label::row(px, x.inner) : Label::row(py, y.inner);
    out.positional = px >= 0 ? x.positional : y.positional;
    return out;
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
