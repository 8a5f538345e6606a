//===- passes/RowMeanCheck.cpp - is the loss a mean over the batch's rows? -===//
//
// Data-parallel training (--data-parallel) gives each of N processes B of
// the global batch's N·B rows and averages their gradients. That equals
// one process with the global batch only when the loss is a mean over rows
// (plus terms that do not read the data, such as weight decay):
//
//   mean:  (1/N) Σ_p (1/B) Σ_{r in p} f(r)  =  (1/NB) Σ_r f(r)       equal
//   sum:   (1/N) Σ_p Σ_{r in p} f(r)        =  (1/N)  Σ_r f(r)       N× too small
//
// A sum over rows trains with 1/N of the gradient, silently; so it is an
// error under --data-parallel. A loss that mixes rows otherwise (a maximum
// over rows, a function of a batch mean such as batch normalisation or
// log(mean(x))) is computed on each process's own rows: training works
// but differs from one process, and the pass warns.
//
// How: the rows are axis 0 of every input, B long. Each value of @model
// gets a label, in node order:
//
//   Inv    does not read the inputs (params, constants, hypers)
//   Row    computed row by row: along `axis`, index = (o·B + r)·inner + j
//          for row r (a reshape [B, T, C] -> [B·T, C] gives inner = T),
//          with the constant factor it was last scaled by (x / B, say)
//   Agg    linear in a sum over rows of per-row terms: `sum` until it is
//          divided by the number of elements summed or by a whole multiple
//          of B (sum(e²) / (2·B) is a mean too), before or after the sum;
//          scaled, added and reshaped freely after that, except by a whole
//          multiple of B again: mean(e²) * B, or mean(e² * B), is a sum
//          over rows written as a mean (the same rule read backwards)
//   Mixed  anything else, with the node that made it so
//
// A metric that is not a mean over rows gets a warning, with or without
// --data-parallel: validation and eval average it over batches.
//
// The loss must be Inv or an Agg that is a mean. Terms added to the loss
// that read no parameter (sum(y) * 0.5, a constant of the data) are left
// out: they have no gradient, so however they mix rows, training on N
// processes is the same. Nothing is changed.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Support/WithColor.h"

#include <cmath>

namespace gradc {
namespace {

struct Label {
  enum Kind : uint8_t { Inv, Row, Agg, Mixed } kind = Inv;
  int axis = -1;        // Row: the axis holding the rows
  int64_t inner = 1;    // Row: elements of that axis per row step
  double scale = 1;     // Row: the constant factor it was last scaled by
  bool sum = false;     // Agg: still a sum over rows (not yet divided)
  int64_t count = 1;    // Agg: elements added up, rows included
  const Node *at = nullptr; // Agg: the sum over rows; Mixed: the culprit
  std::string why;      // Mixed: what the culprit does
  const Node *byB = nullptr; // Agg: the op that scaled it by a multiple of B
  double byBFactor = 0;      // ... and that factor
  bool pendingB = false;     // Agg: ... before the sum, for a divisor to cancel

  static Label row(int axis, int64_t inner, double scale = 1) { return {Row, axis, inner, scale}; }
  static Label mixed(const Node *n, std::string why) {
    Label l;
    l.kind = Mixed, l.at = n, l.why = std::move(why);
    return l;
  }
  bool sameRows(const Label &o) const { return axis == o.axis && inner == o.inner; }
};

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

std::string numberText(double v) {
  if (v == std::round(v) && std::fabs(v) < 1e15) return std::to_string(int64_t(v));
  return std::to_string(v);
}

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
  RowMean(int64_t B) : B(B) {}

  Label visit(const Node *n) {
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
    case OpKind::Pad:
      if (in.shape[l.axis] == out.shape[l.axis]) return l;
      return Label::mixed(n, "keeps only some of the rows");
    case OpKind::Concat:
      if (n->attrs.getInt(AttrKey::Axis) == l.axis && ops.size() > 1)
        return Label::mixed(n, "joins rows along the row axis");
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
    if (px == -1 || py == -1) return Label::mixed(n, "contracts over the rows");
    if (px >= 0 && py >= 0 && (px != py || !x.sameRows(y))) return Label::mixed(n, "pairs every row with every other row");
    return px >= 0 ? Label::row(px, x.inner) : Label::row(py, y.inner);
  }
};

/// The terms the loss adds up (through +, -, negation, casts and
/// reshapes), leaving out those that read no parameter: their gradient is
/// zero. A term whose label is fine needs no further look.
void gradientTerms(const Node *n, const llvm::DenseSet<const Node *> &readsParams, std::vector<const Node *> &out) {
  if (!readsParams.count(n)) return;
  if (n->is(OpKind::Add) || n->is(OpKind::Sub)) {
    for (const Node *o : n->operands) gradientTerms(o, readsParams, out);
    return;
  }
  if ((n->is(OpKind::Neg) || n->is(OpKind::Cast) || n->is(OpKind::Reshape)) && n->operand(0)->type.numel() == 1) {
    gradientTerms(n->operand(0), readsParams, out);
    return;
  }
  out.push_back(n);
}

/// "file:line:col: " of a node, or nothing.
std::string where(const Module &m, const Node *n) { return n->loc.known() ? m.locStr(n->loc) + ": " : std::string(); }

std::string sourceWithCaret(const Module &m, const Node *n) {
  if (!n->loc.known()) return "";
  llvm::StringRef line = m.sourceLine(n->loc);
  if (line.empty()) return "";
  return "\n  " + line.str() + "\n  " + std::string(n->loc.col > 0 ? n->loc.col - 1 : 0, ' ') + "^";
}

} // namespace

llvm::Error runRowMeanCheck(Module &m, const PassOptions &opts) {
  auto it = llvm::find_if(m.graphs, [](auto &g) { return g->name == "model"; });
  if (it == m.graphs.end()) return llvm::Error::success();
  Graph &g = **it;
  std::vector<const GraphOutput *> metrics;
  for (const GraphOutput &o : g.outputs)
    if (llvm::StringRef(o.name).starts_with("metric.")) metrics.push_back(&o);
  if (!opts.lossMustBeRowMean && metrics.empty()) return llvm::Error::success();
  Node *loss = g.output("loss");
  auto inputs = g.leaves(OpKind::Input);
  if (!loss || inputs.empty() || inputs[0]->type.rank() == 0) return llvm::Error::success();
  int64_t B = inputs[0]->type.shape[0];
  for (Node *in : inputs)
    if (in->type.rank() == 0 || in->type.shape[0] != B) return llvm::Error::success(); // rows unclear
  if (B == 1) return llvm::Error::success(); // a sum over one row is its mean

  RowMean rm(B);
  llvm::DenseSet<const Node *> readsParams;
  for (auto &n : g.nodes) {
    Label l = rm.visit(n.get());
    rm.labels[n.get()] = std::move(l);
    if (n->is(OpKind::Param) || llvm::any_of(n->operands, [&](const Node *o) { return readsParams.count(o); }))
      readsParams.insert(n.get());
  }
  // Validation and eval average a metric over batches, weighted by their
  // rows: its value over the split only when it is a mean of per-row values.
  for (const GraphOutput *o : metrics) {
    const Label &ml = rm.labels[o->value];
    if (ml.kind == Label::Inv || ml.kind == Label::Row || (ml.kind == Label::Agg && !ml.sum)) continue;
    std::string why = ml.kind == Label::Agg ? "sums over rows" : "'" + ml.at->info().mnemonic.str() + "' " + ml.why;
    llvm::WithColor::warning(llvm::errs() << where(m, ml.at))
        << "metric '" << llvm::StringRef(o->name).drop_front(7) << "' is not a mean of per-row values (" << why
        << "): validation and eval report the mean of its value on each batch, not its value over the whole split"
        << sourceWithCaret(m, ml.at) << "\n";
  }
  if (!opts.lossMustBeRowMean) return llvm::Error::success();

  // The loss's label, unless a term with no gradient is what spoils it:
  // then the first term that matters and is not a mean over rows, if any.
  Label l = rm.labels[loss];
  if (l.kind == Label::Mixed || (l.kind == Label::Agg && l.sum)) {
    std::vector<const Node *> terms;
    gradientTerms(loss, readsParams, terms);
    l = {};
    for (const Node *t : terms) {
      const Label &tl = rm.labels[t];
      if (tl.kind == Label::Agg && tl.sum) {
        l = tl;
        break;
      }
      if (tl.kind == Label::Mixed && l.kind != Label::Mixed) l = tl;
    }
  }
  if (l.kind == Label::Agg && l.sum && l.byB && !l.pendingB) {
    std::string msg = ("the loss is a sum over the batch's " + llvm::Twine(B) + " rows written as a mean: it scales a " +
                       "mean over them by " + numberText(l.byBFactor) + ", a multiple of the batch size. " +
                       "--data-parallel averages the processes' gradients, so training would take 1/N of the " +
                       "gradient on N processes. Drop the factor, or make it one that does not grow with the batch" +
                       sourceWithCaret(m, l.byB))
                          .str();
    if (!l.byB->loc.known()) return passError(msg);
    return llvm::make_error<LocatedError>(m.locStr(l.byB->loc), msg);
  }
  if (l.kind == Label::Agg && l.sum) {
    std::string msg = ("the loss sums over the batch's " + llvm::Twine(B) + " rows (" + str(l.at->operand(0)->type) +
                       " -> " + str(l.at->type) +
                       "), but --data-parallel averages the processes' gradients, so training would take 1/N of "
                       "the gradient on N processes. Divide the sum by the number of rows (" +
                       llvm::Twine(B) + "), or use mean()" + sourceWithCaret(m, l.at))
                          .str();
    if (!l.at->loc.known()) return passError(msg);
    return llvm::make_error<LocatedError>(m.locStr(l.at->loc), msg);
  }
  if (l.kind == Label::Mixed)
    llvm::WithColor::warning(llvm::errs() << where(m, l.at))
        << "the loss is not a mean of per-row terms: '" << l.at->info().mnemonic << "' "
        << l.why << " (" << str(l.at->type) << "). With --data-parallel each process computes it on its own "
        << "rows, so training differs from one process with the global batch" << sourceWithCaret(m, l.at) << "\n";
  return llvm::Error::success();
}

} // namespace gradc
