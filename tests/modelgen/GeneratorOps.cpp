//===- tests/modelgen/GeneratorOps.cpp - rules: elementwise, reduce, control ===//
#include "GeneratorImpl.h"

namespace gradc::modelgen::detail {

bool Generator::unary(Scope &s) {
  Val *v = pickFloat(s);
  if (!v) return false;
  Ex x = use(*v);
  // Prelude functions and operators; the op table's own functions have
  // a rule of their own (tableOp).
  static const std::vector<std::string> ops = {"neg", "square", "relu", "sigmoid", "gelu", "identity", "scale"};
  std::string op = oneOf(ops);
  if (op == "relu" && x.plateau) op = "gelu";
  feature(op);
  Ex r{"", x.shape, 0, 0, x.plateau, x.grad, false};
  auto call = [&](const Ex &arg) { return op + "(" + arg.text + ")"; };
  if (op == "exp") {
    Ex b = bounded(x, 5);
    r.text = call(b), r.lo = std::exp(b.lo), r.hi = std::exp(b.hi);
  } else if (op == "log" || op == "sqrt") {
    Ex p = positive(x);
    r.text = call(p);
    r.lo = op == "log" ? std::log(p.lo) : std::sqrt(p.lo);
    r.hi = op == "log" ? std::log(p.hi) : std::sqrt(p.hi);
  } else if (op == "tanh" || op == "sigmoid") {
    r.text = call(x);
    r.lo = op == "tanh" ? std::tanh(x.lo) : 1 / (1 + std::exp(-x.lo));
    r.hi = op == "tanh" ? std::tanh(x.hi) : 1 / (1 + std::exp(-x.hi));
  } else if (op == "sin" || op == "cos") {
    r.text = call(x), r.lo = -1, r.hi = 1;
  } else if (op == "neg") {
    r.text = "-" + paren(x), r.lo = -x.hi, r.hi = -x.lo;
  } else if (op == "square") {
    Ex b = bounded(x, 30);
    r.text = call(b), r.lo = 0, r.hi = b.mag() * b.mag();
  } else if (op == "relu") {
    r.text = call(x), r.lo = 0, r.hi = std::max(0.0, x.hi);
    r.plateau = true;
  } else if (op == "gelu") {
    Ex b = bounded(x, 30);
    // Half of them exact (erf), half the tanh approximation.
    r.text = chance(0.5) ? fmt::format("gelu({}, \"none\")", b.text) : call(b);
    r.lo = -0.2, r.hi = std::max(0.0, b.hi);
  } else if (op == "identity") {
    r.text = call(x), r.lo = x.lo, r.hi = x.hi, r.same = x.value();
  } else if (op == "stop_gradient") {
    r.text = call(x), r.lo = x.lo, r.hi = x.hi, r.grad = false, r.same = x.value();
  } else {
    double c = uniform(0.1, 2) * (chance(0.5) ? 1 : -1);
    r.text = fmt::format("{} * {}", paren(x), num(c));
    r.lo = std::min(x.lo * c, x.hi * c), r.hi = std::max(x.lo * c, x.hi * c);
  }
  bind(s, r);
  return true;
}

bool Generator::binary(Scope &s) {
  Val *va = pickFloat(s);
  if (!va) return false;
  Ex a = use(*va);
  static const std::vector<std::string> ops = {"+", "-", "*", "/", "//", "%"};
  std::string op = oneOf(ops);
  Ex b = partner(s, a);
  feature(op);
  auto shape = broadcast(a.shape, b.shape);
  if (!shape) return false;
  Ex r{"", *shape, 0, 0, a.plateau && b.plateau, a.grad || b.grad, false};
  if (op == "+") r.text = a.text + " + " + b.text, r.lo = a.lo + b.lo, r.hi = a.hi + b.hi;
  else if (op == "-") r.text = a.text + " - " + paren(b), r.lo = a.lo - b.hi, r.hi = a.hi - b.lo;
  else if (op == "*") {
    Ex x = bounded(a, 30), y = bounded(b, 30);
    double c[] = {x.lo * y.lo, x.lo * y.hi, x.hi * y.lo, x.hi * y.hi};
    r.text = paren(x) + " * " + paren(y), r.lo = *std::min_element(c, c + 4), r.hi = *std::max_element(c, c + 4);
  } else if (op == "/") {
    Ex d = positive(b);
    r.text = paren(a) + " / " + paren(d);
    r.lo = std::min(a.lo / d.lo, a.lo / d.hi), r.hi = std::max(a.hi / d.lo, a.hi / d.hi);
  } else if (op == "%") {
    // Jumps where a crosses a multiple of d: gradient checks skip such
    // elements as kinks (one-sided slopes agree, the central one does not).
    Ex d = positive(b);
    a = offJumps(a);
    r.text = paren(a) + " % " + paren(d);
    r.lo = 0, r.hi = d.hi;
  } else if (op == "//") {
    // Piecewise constant: no gradient flows, and its values tie.
    Ex d = positive(b);
    a = offJumps(a);
    r.text = paren(a) + " // " + paren(d);
    r.lo = std::floor(std::min(a.lo / d.lo, a.lo / d.hi)), r.hi = std::floor(std::max(a.hi / d.lo, a.hi / d.hi));
    r.plateau = true, r.grad = false;
  } else {
    r.text = fmt::format("{}({}, {})", op, a.text, b.text);
    r.lo = op == "maximum" ? std::max(a.lo, b.lo) : std::min(a.lo, b.lo);
    r.hi = op == "maximum" ? std::max(a.hi, b.hi) : std::min(a.hi, b.hi);
  }
  bind(s, r);
  return true;
}

bool Generator::tableOp(Scope &s) {
  static const std::vector<const OpInfo *> ops = tableOps();
  const OpInfo &op = *oneOf(ops);
  Val *v = pickFloat(s);
  if (!v) return false;
  std::vector<Ex> args{use(*v)};
  for (int i = 1; i < op.arity; ++i) args.push_back(partner(s, args[0]));
  Shape shape;
  for (auto &a : args) {
    auto b = broadcast(shape, a.shape);
    if (!b || numel(*b) > kMaxElements || b->size() > kMaxRank) return false;
    shape = *b;
  }
  // A kink (abs, maximum) over values with flat pieces ties almost surely.
  if (op.has(Kinked) && llvm::any_of(args, [](const Ex &a) { return a.plateau; })) return false;
  // So does a kink between one value and itself (maximum(a, a),
  // clamp(x, p, p), minimum(stop_gradient(a), a)): every element sits on
  // it, where the gradient is a convention (PyTorch's clamp gives 0 below
  // p, ours 1; both are valid subgradients), not something an oracle can
  // check. Finite differences there see a one-sided curve: for
  // v - minimum(stop_gradient(v), v), squared, its fourth-order central
  // difference is -h/12 where the true slope is 0 (seed 72534).
  for (size_t i = 0; op.has(Kinked) && i < args.size(); ++i)
    for (size_t j = i + 1; j < args.size(); ++j)
      if (args[i].value() == args[j].value()) return false;
  for (unsigned i = 0; i < args.size(); ++i) {
    switch (op.domainOf(i)) {
    case Domain::Any: break;
    case Domain::Positive:
    case Domain::NonZero: args[i] = positive(args[i]); break;
    case Domain::AboveMinusOne: {
      Ex p = positive(args[i]);
      args[i] = {paren(p) + " - 0.9", p.shape, p.lo - 0.9, p.hi - 0.9, p.plateau, p.grad, false};
      break;
    }
    }
  }
  // The same for any function that saturates (tanh, erf): its operand
  // stays where the function still moves.
  if (op.arity == 1 && op.domainOf(0) == Domain::Any) {
    double at4 = *evalScalar(op.kind, {4.0}, DType::F64), at8 = *evalScalar(op.kind, {8.0}, DType::F64);
    if (std::fabs(at8 - at4) <= 1e-3 * std::fabs(at8)) args[0] = bounded(args[0], 4);
  }
  if (op.has(Stepped) && op.arity == 1) args[0] = offJumps(args[0]);
  auto [lo, hi] = sampleBounds(op, args);
  for (double m : {8.0, 3.0, 1.0}) {
    if (std::isfinite(lo) && std::isfinite(hi) && std::max(std::fabs(lo), std::fabs(hi)) <= 1e3) break;
    for (unsigned i = 0; i < args.size(); ++i)
      if (op.domainOf(i) == Domain::Any) args[i] = bounded(args[i], m);
    std::tie(lo, hi) = sampleBounds(op, args);
  }
  if (!std::isfinite(lo) || !std::isfinite(hi) || std::max(std::fabs(lo), std::fabs(hi)) > 1e3) return false;
  feature(surfaceName(op).str());
  std::string text = surfaceName(op).str() + "(";
  bool plateau = op.has(Stepped), grad = false;
  for (size_t i = 0; i < args.size(); ++i) {
    text += (i ? ", " : "") + args[i].text;
    plateau = plateau || (args.size() == 1 && args[i].plateau);
    grad = grad || args[i].grad;
  }
  if (op.has(NoGrad) || op.has(Stepped) || op.kind == OpKind::StopGradient) grad = false;
  // stop_gradient(x) has x's value: a kink between them ties (above).
  std::string same = op.kind == OpKind::StopGradient ? args[0].value() : "";
  bind(s, {text + ")", shape, lo, hi, plateau, grad, true, same});
  return true;
}

bool Generator::zeroBase(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return x.hi > x.lo; });
  if (!v) return false;
  Ex x = bounded(use(*v), 3);
  // Cut at a point inside the range, so that some elements are exactly 0;
  // six digits, so that no value made of short fractions (a round's, a
  // floor's) sits on the cut, where relu's slope is a convention.
  double c = x.lo + (x.hi - x.lo) * uniform(0.3, 0.7);
  std::string cut = c < 0 ? "(" + num(c) + ")" : num(c);
  std::string shifted = paren(x) + (c < 0 ? " + " + num(-c) : " - " + num(c));
  Ex base{"", x.shape, 0, std::max(0.0, x.hi - c), true, x.grad, false};
  // Where the zeros fall: where x passes the cut, which at a random point
  // may be nowhere, or in the second half of the last axis, for sure (its
  // first half kept at least 0.05 away from 0, where the gradient checks
  // see no kink).
  int k = between(0, 2);
  if (k == 2 && !x.shape.empty()) {
    feature("where");
    Ex p = positive(x);
    int64_t n = x.shape.back();
    base = {fmt::format("where(arange({}) < {}, {}, 0.0)", n, n / 2, p.text), x.shape, 0, p.hi, true, p.grad, false};
  } else if (k == 1) {
    feature("where");
    base.text = fmt::format("where({} > {}, {}, 0.0)", paren(x), cut, shifted);
  } else {
    feature("relu");
    base.text = "relu(" + shifted + ")";
  }
  // The exponent: 0, 1, 2 or 3, or between 2 and 3, fixed or learnt. Not
  // below 2 unless a whole number: x^y's slope y·x^(y-1) is infinite at 0
  // for y < 1 (in PyTorch too), and for 1 < y < 2 its curvature near 0
  // outgrows what central differences can follow.
  Ex e{"", {}, 0, 0, true, false, true};
  if (k = between(0, 5); k < 4) {
    e.text = num(double(k)), e.lo = e.hi = double(k);
  } else if (k == 4) {
    double y = uniform(2, 3);
    e.text = num(y), e.lo = e.hi = y;
  } else {
    Shape shape;
    if (!x.shape.empty() && chance(0.5)) shape.push_back(x.shape.back());
    Val p = param(s, shape);
    s.pool.push_back(p);
    Ex pe = use(s.pool.back());
    e = {"2.0 + sigmoid(" + pe.text + ")", pe.shape, 2, 3, false, pe.grad, false};
  }
  feature("pow at 0");
  double top = std::max({1.0, std::pow(base.hi, e.lo), std::pow(base.hi, e.hi)});
  bind(s, {fmt::format("pow({}, {})", base.text, e.text), x.shape, e.hi == 0 ? 1.0 : 0.0, top, true, base.grad || e.grad,
           true});
  return true;
}

bool Generator::whereRule(Scope &s) {
  Val *va = pickFloat(s);
  if (!va) return false;
  Ex a = use(*va);
  Ex b = partner(s, a);
  static const std::vector<std::string> cmps = {"<", "<=", ">", ">=", "==", "!="};
  std::string c = oneOf(cmps);
  // Equality of random reals is almost never true either way. (Not 0: a
  // value that is zero in exact arithmetic is rounding noise, and would
  // compare differently from build to build. Not a short binary fraction
  // like 0.25 either: a stepped value, from ceil or round, is often an
  // exact small number and can hit it in one precision only. In seed
  // 101317, 0 + 0.25 * tanh(10) is 0.25 in f32 and 0.2499999990 in f64.)
  if (c == "==" || c == "!=") b = {"0.3", {}, 0.3, 0.3, true, false, true};
  feature(c);
  auto shape = broadcast(a.shape, b.shape);
  if (!shape) return false;
  // A value against another with an offset: where the two are close by
  // construction (x against sin(x) near 0), f32 and f64 round them
  // differently and the comparison flips between builds; the offset moves
  // the switch to where both agree.
  std::string rhs = b.text;
  if (b.shape.size() || !b.simple || b.text.find_first_not_of("-.0123456789()") != std::string::npos)
    if (c != "==" && c != "!=") rhs = paren(b) + " + " + num(uniform(0.2, 0.8));
  std::string cond = a.text + " " + c + " " + rhs;
  // Combined with a bool input, or with a second comparison.
  for (auto &v : s.pool) {
    bool isBool = v.ty == Ty::Bool;
    if (!(isBool || (v.ty == Ty::Float && v.name != a.text)) || !broadcast(*shape, v.shape) || !chance(isBool ? 0.5 : 0.15))
      continue;
    auto joined = broadcast(*shape, v.shape);
    if (numel(*joined) > kMaxElements || joined->size() > kMaxRank) continue;
    std::string op = chance(0.5) ? "&&" : "||";
    feature(op);
    ++v.uses;
    cond = "(" + cond + ") " + op + " " + (isBool ? v.name : "(" + v.name + " > 0)");
    shape = joined;
    break;
  }
  if (chance(0.2)) {
    feature("!");
    cond = "!(" + cond + ")";
  }
  Ex x = partner(s, {a.text, *shape, a.lo, a.hi, a.plateau, a.grad}, false);
  auto full = broadcast(*shape, x.shape);
  if (!full || numel(*full) > kMaxElements || full->size() > kMaxRank) return false;
  if (chance(0.3)) {
    feature("float");
    Ex r{fmt::format("float({}) * {}", cond, paren(x)), *full, std::min(0.0, x.lo), std::max(0.0, x.hi), true, x.grad, false};
    bind(s, r);
    return true;
  }
  feature("where");
  Ex y = chance(0.5) ? Ex{num(uniform(-1, 1)), {}, -1, 1, true, false, true} : use(*pickFloat(s));
  auto all = broadcast(*full, y.shape);
  if (!all || numel(*all) > kMaxElements || all->size() > kMaxRank) return false;
  Ex r{fmt::format("where({}, {}, {})", cond, x.text, y.text), *all, std::min(x.lo, y.lo), std::max(x.hi, y.hi), true,
       x.grad || y.grad, false};
  bind(s, r);
  return true;
}

std::string Generator::axesText(size_t rank, std::vector<int64_t> &axes) {
  axes.clear();
  if (rank == 0 || chance(0.15)) {
    for (size_t i = 0; i < rank; ++i) axes.push_back(int64_t(i));
    return "";
  }
  for (size_t i = 0; i < rank; ++i)
    if (chance(0.4)) axes.push_back(int64_t(i));
  if (axes.empty()) axes.push_back(between(0, int(rank) - 1));
  auto spell = [&](int64_t a) { return chance(0.3) ? std::to_string(a - int64_t(rank)) : std::to_string(a); };
  if (axes.size() == 1 && chance(0.6)) return spell(axes[0]);
  std::string t = "[";
  for (size_t i = 0; i < axes.size(); ++i) t += (i ? ", " : "") + spell(axes[i]);
  return t + "]";
}

bool Generator::reduce(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return !x.shape.empty(); });
  if (!v) return false;
  Ex x = use(*v);
  static const std::vector<std::string> ops = {"sum", "max", "mean", "variance"};
  std::string op = oneOf(ops);
  if (op == "max" && x.plateau) op = "sum";
  feature(op);
  std::vector<int64_t> axes;
  std::string ax = axesText(x.shape.size(), axes);
  if (op == "max" && chance(0.3)) {
    // x where it is its row's maximum, else 0 (argmax pooling, a one-hot of
    // the argmax): the mask holds a 1 in each row only if the x compared
    // has the very bits of the x that was maximised, wherever fusion
    // recomputes it. The fusion oracles see a lost 1 as a jump of x.
    // Half of them mask a softmax's numerator, exp(x·c - max(x·c)): its
    // product feeds both the max and the subtraction, so a build that
    // fused the multiply into the subtraction in one loop and not in the
    // other lost rows (1 in 7 in f32).
    feature("argmax mask");
    std::string axes = ", " + (ax.empty() ? std::string("none") : ax) + ", true";
    Ex y = x;
    if (chance(0.5)) {
      std::string xc = fmt::format("{} * {}", paren(x), num(uniform(0.5, 2)));
      y = {fmt::format("exp({} - max({}{}))", xc, xc, axes), x.shape, 0, 1, false, x.grad, false};
    }
    bind(s, {fmt::format("{} * float({} == max({}{}))", paren(y), paren(y), y.text, axes), y.shape, std::min(0.0, y.lo),
             std::max(0.0, y.hi), false, y.grad, false});
    return true;
  }
  bool keep = chance(0.4);
  if (keep) feature("keepdims");
  int64_t n = 1;
  Shape out;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), int64_t(i)) != axes.end();
    if (reduced) n *= x.shape[i];
    if (!reduced) out.push_back(x.shape[i]);
    else if (keep) out.push_back(1);
  }
  std::string args = x.text;
  if (!ax.empty() || keep) args += ", " + (ax.empty() ? std::string("none") : ax);
  if (keep) args += chance(0.5) ? ", true" : ", keepdims = true";
  Ex r{op + "(" + args + ")", out, x.lo, x.hi, false, x.grad, true};
  if (op == "sum") r.lo = x.lo * double(n), r.hi = x.hi * double(n);
  if (op == "sum" && x.lo > 0) r.lo = x.lo;
  if (op == "sum" && x.hi < 0) r.hi = x.hi;
  if (op == "sum") r.lo = std::min(r.lo, r.hi), r.hi = std::max(r.lo, r.hi);
  if (op == "variance") r.lo = 0, r.hi = (x.hi - x.lo) * (x.hi - x.lo) / 4 + 1e-9;
  bind(s, r);
  return true;
}

bool Generator::index(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return !x.shape.empty(); });
  if (!v) return false;
  Ex x = use(*v);
  size_t items = size_t(between(1, int(x.shape.size())));
  Shape out;
  std::string text;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    int64_t n = x.shape[d];
    if (d >= items) {
      out.push_back(n);
      continue;
    }
    std::string item;
    if (chance(0.4)) {
      int64_t i = between(0, int(n) - 1);
      item = std::to_string(chance(0.3) ? i - n : i);
    } else {
      int64_t lo = between(0, int(n) - 1), hi = between(int(lo) + 1, int(n));
      std::string a = lo == 0 && chance(0.5) ? "" : std::to_string(lo);
      std::string b = hi == n && chance(0.5) ? "" : std::to_string(chance(0.2) && hi < n ? hi - n : hi);
      item = a + ":" + b;
      out.push_back(hi - lo);
    }
    text += (text.empty() ? "" : ", ") + item;
  }
  feature(out.size() < x.shape.size() ? "index" : "slice");
  bind(s, {fmt::format("{}[{}]", x.text, text), out, x.lo, x.hi, x.plateau, x.grad, true});
  return true;
}

bool Generator::sizes(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return !x.shape.empty(); });
  if (!v) return false;
  Ex x = use(*v);
  switch (between(0, 2)) {
  case 0: {
    feature("numel");
    int64_t n = numel(x.shape);
    bind(s, {fmt::format("{} / numel({})", paren(x), x.text), x.shape, x.lo / double(n), x.hi / double(n), x.plateau,
             x.grad, false});
    return true;
  }
  case 1: {
    feature("dim");
    int64_t a = between(0, int(x.shape.size()) - 1);
    double d = double(x.shape[a]);
    bind(s, {fmt::format("{} * dim({}, {})", paren(x), x.text, a), x.shape, x.lo * d, x.hi * d, x.plateau, x.grad, false});
    return true;
  }
  default: {
    feature("full");
    feature("shape");
    double c = uniform(-1, 1);
    bind(s, {fmt::format("{} + full(shape({}), {})", x.text, x.text, num(c)), x.shape, x.lo + c, x.hi + c, x.plateau,
             x.grad, false});
    return true;
  }
  }
}

bool Generator::conversions(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return !x.shape.empty() && x.mag() <= 100; });
  if (!v) return false;
  Ex x = use(*v);
  switch (between(0, 4)) {
  case 0: {
    // Truncated toward zero: stepped, no gradient, and tied values.
    feature("i32");
    int k = between(2, 4);
    x = offJumps(x);
    bind(s, {fmt::format("float(i32({} * {}))", paren(x), k), x.shape, std::trunc(x.lo * k), std::trunc(x.hi * k), true,
             false, false});
    return true;
  }
  case 1: {
    // Through f64 and back: the casts' gradients, in an f32 model only (in
    // an f64 one, f32(...) would round, and the f64 oracles would see it).
    if (fty != "f32") return false;
    feature("f64 round trip");
    double c = uniform(0.5, 1.5);
    bind(s, {fmt::format("f32(f64({}) * {})", x.text, num(c)), x.shape, x.lo * c, x.hi * c, x.plateau, x.grad, false,
             ""});
    return true;
  }
  case 2: {
    // The rank, counted at compile time.
    feature("len");
    double r = double(x.shape.size());
    bind(s, {fmt::format("{} * float(len(shape({})))", paren(x), x.text), x.shape, x.lo * r, x.hi * r, x.plateau, x.grad,
             false});
    return true;
  }
  case 3: {
    // One value when training, another in eval and predict.
    feature("training");
    bind(s, {fmt::format("where(training(), {}, {} * 0.5)", x.text, paren(x)), x.shape, std::min(x.lo, x.lo * 0.5),
             std::max(x.hi, x.hi * 0.5), x.plateau, x.grad, true});
    return true;
  }
  default: {
    // A pseudo-random offset per element, keyed by the truncated value:
    // stepped, so no max or abs over the sum.
    feature("hash");
    int m = between(3, 7);
    bind(s, {fmt::format("{} + float(hash(i32({} * 2), {}) % {}) * 0.1", paren(x), x.text, between(0, 99), m), x.shape,
             x.lo, x.hi + 0.1 * (m - 1), true, x.grad, false});
    return true;
  }
  }
}

bool Generator::ifRule(Scope &s) {
  Val *v = pickFloat(s);
  if (!v) return false;
  Ex x = use(*v);
  auto &c = consts[between(0, int(consts.size()) - 1)];
  int64_t threshold = between(1, 4);
  feature("if");
  std::string name = fresh("v");
  emit(s, fmt::format("if {} > {} {{", c.first, threshold));
  emit(s, fmt::format("  {} = tanh({})", name, x.text));
  emit(s, "} else {");
  emit(s, fmt::format("  {} = {} * 0.5", name, paren(x)));
  emit(s, "}");
  s.pool.push_back({name, Ty::Float, x.shape, std::min(-1.0, x.lo * 0.5), std::max(1.0, x.hi * 0.5), x.plateau, x.grad});
  return true;
}

bool Generator::sumLoop(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return x.shape.size() >= 2 && x.shape[0] >= 2; });
  if (!v) return false;
  Ex x = use(*v);
  std::string acc = fresh("v");
  feature("for");
  emit(s, fmt::format("{} = {}[0]", acc, x.text));
  emit(s, fmt::format("for i in 1..dim({}, 0) {{", x.text));
  emit(s, fmt::format("  {} = {} + {}[i]", acc, acc, x.text));
  emit(s, "}");
  Shape out(x.shape.begin() + 1, x.shape.end());
  double n = double(x.shape[0]);
  s.pool.push_back({acc, Ty::Float, out, x.lo * n, x.hi * n, x.plateau, x.grad});
  return true;
}

bool Generator::timeLoop(Scope &s) {
  Val *v = pickFloat(s, [](const Val &x) { return x.shape.size() >= 2 && x.shape.back() <= 16 && x.mag() <= 50; });
  if (!v) return false;
  Ex x = use(*v);
  int64_t d = x.shape.back();
  s.pool.push_back(param(s, {d, d}));
  std::string w = use(s.pool.back()).text, h = fresh("v");
  int steps = between(4, 7);
  double a = uniform(0.05, 0.3), b = uniform(0.1, 0.9);
  // Each step adds at most a (tanh is within 1, and every factor below
  // within 1 of it) to each element. The last two are what LLVM folds a
  // constant into (the arms of a relu's where; pow(x, 2.0) as x*x), which
  // the shared kernels must leave in the code (codegen/SharedConstants.cpp).
  std::string factor, body = fmt::format("tanh({} @ {})", h, w);
  switch (between(0, 4)) {
  case 0: factor = fmt::format("{} * sin(float(i) * {})", num(a), num(b)); break;
  case 1: factor = fmt::format("({} / (1.0 + float(i) * {}))", num(a), num(b)); break;
  case 2:
    feature("arange");
    factor = fmt::format("{} * where(arange({}) >= i % {}, 1.0, 0.5)", num(a), d, d);
    break;
  case 3:
    feature("relu");
    feature("minimum");
    factor = fmt::format("({} + float(i) * {})", num(a / 2), num(a / 2 / steps));
    body = fmt::format("minimum(relu({} @ {}), 1.0)", h, w);
    break;
  default:
    // Exponents 1, 1.25, ... 2.5: the fifth step's is 2.0.
    feature("pow");
    factor = num(a / 4);
    body = fmt::format("pow(abs(tanh({} @ {})) + 0.5, 1.0 + float(i) * 0.25)", h, w);
    break;
  }
  feature("for");
  feature("time loop");
  feature("@");
  emit(s, fmt::format("{} = {}", h, x.text));
  emit(s, fmt::format("for i in 0..{} {{", steps));
  emit(s, fmt::format("  {} = {} + {} * {}", h, h, factor, body));
  emit(s, "}");
  s.pool.push_back({h, Ty::Float, x.shape, x.lo - a * steps, x.hi + a * steps, false, true});
  return true;
}

} // namespace gradc::modelgen::detail
