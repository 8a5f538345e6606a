//===- tests/modelgen/GeneratorLayers.cpp - rules: layers and shapes -------===//
#include "GeneratorImpl.h"

namespace gradc::modelgen::detail {

bool Generator::matmul(Scope &s) {
  Val *va = pickFloat(s, [](const Val &x) { return x.shape.size() >= 2; });
  if (!va) return false;
  Ex a = bounded(use(*va), 10);
  int64_t k = a.shape.back();
  auto batchOk = [&](const Val &x) {
    Shape ba(a.shape.begin(), a.shape.end() - 2), bb(x.shape.begin(), x.shape.end() - 2);
    return broadcast(ba, bb).has_value();
  };
  // The right operand: a value with k rows, a value with k columns read
  // transposed, or a new [k, n] parameter.
  Val *vb = nullptr;
  bool transposed = false;
  int kind = between(0, 5);
  if (kind <= 1)
    vb = pickFloat(s, [&](const Val &x) { return x.shape.size() >= 2 && x.shape[x.shape.size() - 2] == k && batchOk(x); });
  if (kind == 2) {
    vb = pickFloat(s, [&](const Val &x) { return x.shape.size() >= 2 && x.shape.back() == k && batchOk(x); });
    transposed = vb != nullptr;
  }
  Ex b;
  if (vb) {
    b = use(*vb);
  } else {
    auto [n, name] = dim();
    Val p = param(s, {k, n});
    s.pool.push_back(p);
    b = use(s.pool.back());
  }
  b = bounded(b, 10);
  std::string bText = transposed ? "transpose(" + b.text + ")" : paren(b);
  if (transposed) {
    std::swap(b.shape[b.shape.size() - 1], b.shape[b.shape.size() - 2]);
    feature("transpose");
    feature("@ transpose");
  }
  Shape ba(a.shape.begin(), a.shape.end() - 2), bb(b.shape.begin(), b.shape.end() - 2);
  auto batchShape = broadcast(ba, bb);
  if (!batchShape) return false;
  Shape out = *batchShape;
  out.push_back(a.shape[a.shape.size() - 2]);
  out.push_back(b.shape.back());
  if (numel(out) > kMaxElements || out.size() > kMaxRank) return false;
  if (!batchShape->empty()) feature("batched @");
  if (k == 1) feature("@ K=1");
  if (out.back() == 1) feature("@ N=1");
  if (out[out.size() - 2] == 1) feature("@ M=1");
  feature("@");
  double m = double(k) * a.mag() * b.mag();
  bind(s, {paren(a) + " @ " + bText, out, -m, m, false, a.grad || b.grad, false});
  return true;
}

/// Attention over the rows of a batched value x [..., T, C]: scores
/// (x·Wq)·(x·Wk)ᵀ [..., T, T], causally masked half the time, a softmax
/// over each row, then ·(x·Wv). Slice fusion runs the chain slice by slice
/// and, in half the models (Oracles.cpp), in blocks of rows; its backward
/// chain has the products that sum over the rows (dV = Pᵀ·dY).
bool Generator::attention(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return x.shape.size() >= 3 && x.shape[x.shape.size() - 2] >= 2; });
  if (!v) return false;
  Ex x0 = bounded(use(*v), 3);
  size_t rank = x0.shape.size();
  int64_t t = x0.shape[rank - 2], c = x0.shape.back();
  Shape scores(x0.shape.begin(), x0.shape.end() - 1);
  scores.push_back(t);
  if (numel(scores) > kMaxElements) return false;
  Ex x = use(bind(s, x0));
  auto weight = [&](int64_t n) {
    s.pool.push_back(param(s, {c, n}));
    return use(s.pool.back());
  };
  auto [d, dName] = dim();
  auto [dv, dvName] = dim();
  Ex wq = weight(d), wk = weight(d), wv = weight(dv);
  Shape out(x.shape.begin(), x.shape.end() - 1);
  out.push_back(dv);
  if (numel(out) > kMaxElements) return false;
  // |score| <= d·(c·|x|·|W|)², brought within ±6 so the softmax is not one-hot.
  double qm = double(c) * x.mag() * wq.mag(), km = double(c) * x.mag() * wk.mag(), sm = double(d) * qm * km;
  std::string sc = fmt::format("({} @ {}) @ transpose({} @ {})", x.text, wq.text, x.text, wk.text);
  if (sm > 6) sc = fmt::format("{} * {}", sc, num(6 / sm));
  feature("attention");
  if (chance(0.5)) {
    // A mask of row i against column j, each keeping the diagonal, so no
    // row is all masked: causal, the reverse, a causal sliding window, a
    // band. Row blocks skip the columns it masks (codegen/MaskedColumns.cpp).
    std::string n = std::to_string(t), w = std::to_string(between(1, int(std::max<int64_t>(t / 2, 1))));
    std::string i = fmt::format("reshape(arange({}), [{}, 1])", n, n), j = fmt::format("reshape(arange({}), [1, {}])", n, n);
    std::string mask;
    switch (between(0, 3)) {
    case 0: mask = fmt::format("{} >= {}", i, j); feature("causal attention"); break;
    case 1: mask = fmt::format("{} <= {}", i, j); feature("anti-causal attention"); break;
    case 2: mask = fmt::format("{} >= {} && {} - {} < {}", i, j, i, j, w); feature("sliding-window attention"); break;
    default: mask = fmt::format("{} - {} < {} && {} - {} < {}", i, j, w, j, i, w); feature("banded attention"); break;
    }
    sc = fmt::format("where({}, {}, -1e9)", mask, sc);
  }
  double m = double(c) * x.mag() * wv.mag();
  bind(s, {fmt::format("softmax({}) @ ({} @ {})", sc, x.text, wv.text), out, -m, m, false, true, false});
  return true;
}

bool Generator::linear(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return x.shape.size() >= 2; });
  if (!v) return false;
  Ex x = bounded(use(*v), 10);
  auto [n, name] = dim();
  Shape out = x.shape;
  out.back() = n;
  if (numel(out) > kMaxElements) return false;
  std::string scope = fresh("fc");
  std::string extra;
  if (chance(0.3)) extra += ", init = " + oneOf(std::vector<std::string>{"he_normal", "normal(0.3)", "xavier_normal"});
  bool bias = !chance(0.25);
  if (!bias) extra += ", use_bias = false";
  feature("linear");
  double m = double(x.shape.back()) * x.mag() * 2 + 1;
  bind(s, {fmt::format("{}.linear({}, {}{})", scope, x.text, name, extra), out, -m, m, false, true, true});
  // Its weight read back by name, as a value later ops may use (an L2
  // penalty, weights tied to another layer): f32[in, n] where the scope
  // was declared, relative to the same function.
  if (chance(0.15)) {
    feature("param read");
    bind(s, {scope + ".weight", Shape{x.shape.back(), n}, -8, 8, false, true, true});
  }
  return true;
}

bool Generator::dropoutRule(Scope &s) {
  Val *v = pickFloat(s);
  if (!v) return false;
  Ex x = use(*v);
  double p = oneOf(std::vector<double>{0.1, 0.25, 0.5});
  double k = 1 / (1 - p);
  feature("dropout");
  bind(s, {fmt::format("dropout({}, {})", x.text, num(p)), x.shape, std::min(0.0, x.lo * k), std::max(0.0, x.hi * k),
           x.plateau, x.grad, false});
  return true;
}

bool Generator::layerNorm(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return !x.shape.empty() && x.shape.back() >= 2 && !x.plateau; });
  if (!v) return false;
  Ex x = use(*v);
  std::string scope = fresh("ln");
  std::string eps = chance(0.3) ? ", eps = 1e-3" : "";
  feature("layer_norm");
  double m = std::sqrt(double(x.shape.back())) * 1.6 + 0.6;
  bind(s, {fmt::format("{}.layer_norm({}{})", scope, x.text, eps), x.shape, -m, m, false, true, true});
  return true;
}

bool Generator::softmax(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return !x.shape.empty(); });
  if (!v) return false;
  Ex x = use(*v);
  bool log = chance(0.5);
  std::string op = log ? "log_softmax" : "softmax";
  feature(op);
  int64_t rank = int64_t(x.shape.size()), axis = between(0, int(rank) - 1);
  std::string ax = axis == rank - 1 && chance(0.5) ? "" : ", " + std::to_string(chance(0.5) ? axis : axis - rank);
  double width = x.hi - x.lo + std::log(double(x.shape[axis])) + 1;
  // Over an axis of size 1 the result is the constant 1 (0 for log_softmax),
  // to rounding: a plateau without a gradient. Marked so, layer_norm never
  // normalises it, which would blow its rounding noise up by 1/sqrt(eps)
  // into what finite differences see (seed 83150).
  bool constant = x.shape[size_t(axis)] == 1;
  bind(s, {fmt::format("{}({}{})", op, x.text, ax), x.shape, log ? -width : 0.0, log ? 0.0 : 1.0, constant,
           x.grad && !constant, true});
  return true;
}

bool Generator::reshape(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return numel(x.shape) > 1; });
  if (!v) return false;
  Ex x = use(*v);
  int64_t n = numel(x.shape);
  // Split n into 1 to 4 factors.
  Shape out;
  int64_t rest = n;
  int parts = between(1, 4);
  for (int i = 1; i < parts && rest > 1; ++i) {
    std::vector<int64_t> divisors;
    for (int64_t d = 1; d <= rest; ++d)
      if (rest % d == 0) divisors.push_back(d);
    int64_t d = oneOf(divisors);
    out.push_back(d);
    rest /= d;
  }
  out.push_back(rest);
  std::shuffle(out.begin(), out.end(), rng);
  std::vector<int64_t> written = out;
  if (chance(0.4)) written[between(0, int(out.size()) - 1)] = -1;
  feature("reshape");
  bind(s, {fmt::format("reshape({}, {})", x.text, list(written)), out, x.lo, x.hi, x.plateau, x.grad, true});
  return true;
}

bool Generator::transpose(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return x.shape.size() >= 2; });
  if (!v) return false;
  Ex x = use(*v);
  size_t r = x.shape.size();
  feature("transpose");
  if (chance(0.5)) {
    Shape out = x.shape;
    std::swap(out[r - 1], out[r - 2]);
    bind(s, {fmt::format("transpose({})", x.text), out, x.lo, x.hi, x.plateau, x.grad, true});
    return true;
  }
  std::vector<int64_t> perm(r);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  Shape out;
  std::vector<int64_t> written;
  for (int64_t p : perm) {
    out.push_back(x.shape[p]);
    written.push_back(chance(0.2) ? p - int64_t(r) : p);
  }
  bind(s, {fmt::format("transpose({}, {})", x.text, list(written)), out, x.lo, x.hi, x.plateau, x.grad, true});
  return true;
}

bool Generator::concat(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return !x.shape.empty(); });
  if (!v) return false;
  Ex x = use(*v);
  size_t r = x.shape.size();
  int64_t axis = between(0, int(r) - 1);
  std::vector<Ex> parts{x};
  int more = between(1, 2);
  for (int i = 0; i < more; ++i) {
    Val *w = pickFloat(s, [&](const Val &y) {
      if (y.shape.size() != r || y.name == x.text) return false;
      for (size_t d = 0; d < r; ++d)
        if (int64_t(d) != axis && y.shape[d] != x.shape[d]) return false;
      return true;
    });
    if (w && chance(0.7)) parts.push_back(use(*w));
    else parts.push_back({"tanh(" + x.text + ")", x.shape, -1, 1, x.plateau, x.grad, true});
  }
  Shape out = x.shape;
  out[axis] = 0;
  double lo = INFINITY, hi = -INFINITY;
  bool plateau = false, grad = false;
  std::string items;
  for (auto &p : parts) {
    out[axis] += p.shape[axis];
    lo = std::min(lo, p.lo), hi = std::max(hi, p.hi);
    plateau |= p.plateau, grad |= p.grad;
    items += (items.empty() ? "" : ", ") + p.text;
  }
  if (numel(out) > kMaxElements) return false;
  feature("concat");
  std::string ax = axis == 0 && chance(0.5) ? "" : ", " + std::to_string(chance(0.3) ? axis - int64_t(r) : axis);
  bind(s, {fmt::format("concat([{}]{})", items, ax), out, lo, hi, plateau, grad, true});
  return true;
}

std::string Generator::sliceAlong(const std::string &x, size_t axis, int64_t lo, int64_t hi, int64_t n) {
  std::string items;
  for (size_t d = 0; d < axis; ++d) items += ":, ";
  std::string a = lo == 0 && chance(0.5) ? "" : std::to_string(chance(0.2) ? lo - n : lo);
  std::string b = hi == n && chance(0.5) ? "" : std::to_string(chance(0.2) && hi < n ? hi - n : hi);
  return fmt::format("{}[{}{}:{}]", x, items, a, b);
}

bool Generator::stencil(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) {
    return std::any_of(x.shape.begin(), x.shape.end(), [](int64_t n) { return n >= 2; });
  });
  if (!v) return false;
  Ex x = use(*v);
  size_t r = x.shape.size();
  std::vector<size_t> axes;
  for (size_t d = 0; d < r; ++d)
    if (x.shape[d] >= 2) axes.push_back(d);
  size_t a = oneOf(axes);
  int64_t n = x.shape[a];
  std::string ax = std::to_string(chance(0.3) ? int64_t(a) - int64_t(r) : int64_t(a));
  int layers = chance(0.5) ? 1 : between(2, 4);
  std::string h = fresh("v");
  feature("stencil");
  if (a == 0) feature("stencil on axis 0");
  auto loop = [&](const std::string &body) {
    if (layers == 1) return emit(s, fmt::format("{} = {}", h, body));
    feature("for");
    emit(s, fmt::format("for i in 0..{} {{", layers));
    emit(s, fmt::format("  {} = {}", h, body));
    emit(s, "}");
  };

  if (chance(0.35)) {
    // A roll by k: element j reads j + k, wrapping round. Rolls of rolls
    // once doubled their index expressions at each layer.
    int64_t k = between(1, int(n) - 1);
    feature("roll");
    emit(s, fmt::format("{} = {}", h, x.text));
    loop(fmt::format("concat([{}, {}], {})", sliceAlong(h, a, k, n, n), sliceAlong(h, a, 0, k, n), ax));
    s.pool.push_back({h, Ty::Float, x.shape, x.lo, x.hi, x.plateau, x.grad});
    return true;
  }
  if (chance(0.15)) {
    // A concat of 9 to 12 parts, which passes/SplitWideConcats.cpp makes a
    // tree whose lower levels fusion stores: single slices of x along the
    // axis, and x scaled, in turn.
    int parts = between(9, 12);
    Shape out = x.shape;
    out[a] = 0;
    std::string items;
    double m = x.mag();
    for (int i = 0; i < parts; ++i) {
      std::string part;
      if (i % 2 == 0) {
        int64_t k = between(0, int(n) - 1);
        part = sliceAlong(x.text, a, k, k + 1, n);
        out[a] += 1;
      } else {
        double c = uniform(-1, 1);
        part = fmt::format("{} * {}", c < 0 ? "(" + num(c) + ")" : num(c), x.text);
        out[a] += n;
      }
      items += (items.empty() ? "" : ", ") + part;
    }
    if (numel(out) > kMaxElements) return false;
    feature("wide concat");
    bind(s, {fmt::format("concat([{}], {})", items, ax), out, -m, m, true, x.grad, true});
    return true;
  }
  if (chance(0.15)) {
    // A forward difference: one element shorter along the axis.
    feature("difference");
    Shape out = x.shape;
    --out[a];
    bind(s, {fmt::format("{} - {}", sliceAlong(x.text, a, 1, n, n), sliceAlong(x.text, a, 0, n - 1, n)), out,
             x.lo - x.hi, x.hi - x.lo, x.plateau, x.grad, false});
    return true;
  }

  // h = tanh(c0·h + c1·next(h) + c2·prev(h)), next and prev padded at the
  // ends with the edge element or with zeros. Each c is a number or a
  // param broadcast along the axis ([n, 1, ..]), shared by the layers.
  Ex in = bounded(x, 1.0);
  bool zeros = chance(0.4);
  feature(zeros ? "zero padding" : "edge padding");
  Shape edge = x.shape;
  edge[a] = 1;
  std::string pad = fmt::format("full({}, 0.0)", list(edge));
  std::string next = zeros ? fmt::format("concat([{}, {}], {})", sliceAlong(h, a, 1, n, n), pad, ax)
                           : fmt::format("concat([{}, {}], {})", sliceAlong(h, a, 1, n, n), sliceAlong(h, a, n - 1, n, n), ax);
  std::string prev = zeros ? fmt::format("concat([{}, {}], {})", pad, sliceAlong(h, a, 0, n - 1, n), ax)
                           : fmt::format("concat([{}, {}], {})", sliceAlong(h, a, 0, 1, n), sliceAlong(h, a, 0, n - 1, n), ax);
  bool grad = in.grad, plateau = in.plateau;
  double total = 0;
  std::string sum;
  for (const std::string &term : {h, next, prev}) {
    std::string c;
    double m;
    if (chance(0.5)) {
      double k = uniform(-1, 1);
      c = k < 0 ? "(" + num(k) + ")" : num(k);
      m = std::fabs(k);
    } else {
      Shape ps{n};
      ps.insert(ps.end(), r - 1 - a, 1);
      Val p = param(s, ps);
      s.pool.push_back(p);
      Ex pe = use(s.pool.back());
      c = pe.text, m = pe.mag(), grad = true, plateau = true; // zeros init: ties
    }
    total += m;
    sum += (sum.empty() ? "" : " + ") + c + " * " + term;
  }
  // tanh's argument within ±3 (see bounded()): h is within 1 at each layer.
  if (total > 3) sum = fmt::format("{} * ({})", num(3 / total), sum);
  emit(s, fmt::format("{} = {}", h, in.text));
  loop(fmt::format("tanh({})", sum));
  s.pool.push_back({h, Ty::Float, x.shape, -1, 1, plateau, grad});
  return true;
}

Val *Generator::intInput(Scope &s) {
  for (auto &v : s.pool)
    if (v.ty == Ty::Int) return &v;
  return nullptr;
}

bool Generator::gather(Scope &s) {
  Val *idx = intInput(s);
  if (!idx && !s.inFunction && chance(0.3)) {
    // arange(n) indexes the first n rows of any table.
    auto [n, name] = dim();
    Shape tshape{std::max<int64_t>(n, 2)};
    auto [e, ename] = dim();
    tshape.push_back(e);
    Val p = param(s, tshape);
    s.pool.push_back(p);
    Ex t = use(s.pool.back());
    feature("gather");
    feature("arange");
    bind(s, {fmt::format("gather({}, arange({}))", t.text, n), {n, e}, t.lo, t.hi, false, true, true});
    return true;
  }
  if (!idx) return false;
  ++idx->uses;
  // The table: a new parameter, or a value with V rows.
  Val *table = pickFloat(s, [&](const Val &x) { return !x.shape.empty() && x.shape[0] == vocab && x.shape.size() <= 2; });
  Ex t;
  if (table && chance(0.4)) t = use(*table);
  else {
    auto [e, name] = dim();
    Val p = param(s, {vocab, e});
    s.pool.push_back(p);
    t = use(s.pool.back());
  }
  Shape out = idx->shape;
  out.insert(out.end(), t.shape.begin() + 1, t.shape.end());
  if (numel(out) > kMaxElements || out.size() > kMaxRank) return false;
  feature("gather");
  bind(s, {fmt::format("gather({}, {})", t.text, indexText(*idx)), out, t.lo, t.hi, t.plateau, t.grad, true});
  return true;
}

bool Generator::onehot(Scope &s) {
  Val *idx = intInput(s);
  if (!idx) return false;
  ++idx->uses;
  Shape out = idx->shape;
  out.push_back(vocab);
  feature("onehot");
  std::string oh = fmt::format("onehot({}, V)", indexText(*idx));
  if (chance(0.4)) {
    // A product with the one-hot matrix (passes/OneHotProducts.cpp makes
    // it a lookup): the rows of a [V, E] param, or, over a rank-1 index
    // [n], the rows of an [n, E] value added up by index (a graph
    // network's sum into its nodes).
    feature("onehot @");
    if (chance(0.5)) {
      // Indices of more axes flattened: [n] of them, one row each.
      int64_t n = numel(idx->shape);
      std::string flat = idx->shape.size() == 1 ? oh
                                                : fmt::format("onehot(reshape({}, [{}]), V)", indexText(*idx), n);
      Val *rows = pickFloat(s, [&](const Val &x) { return x.shape.size() == 2 && x.shape[0] == n; });
      if (!rows || chance(0.3)) {
        Val p = param(s, {n, dim().first});
        s.pool.push_back(p);
        rows = &s.pool.back();
      }
      Ex x = use(*rows);
      bind(s, {fmt::format("transpose({}) @ {}", flat, x.text), {vocab, x.shape[1]}, std::min(0.0, double(n) * x.lo),
               std::max(0.0, double(n) * x.hi), x.plateau, x.grad, true});
      return true;
    }
    auto [e, name] = dim();
    Val p = param(s, {vocab, e});
    s.pool.push_back(p);
    Ex t = use(s.pool.back());
    out.back() = e;
    if (numel(out) > kMaxElements) return false;
    bind(s, {fmt::format("{} @ {}", oh, t.text), out, t.lo, t.hi, t.plateau, t.grad, true});
    return true;
  }
  bind(s, {oh, out, 0, 1, true, false, true});
  return true;
}

} // namespace gradc::modelgen::detail
