//===- codegen/LoopIR.cpp - kernels as loop nests -------------------------===//
#include "codegen/LoopIR.h"

#include "codegen/SharedConstants.h"

#include "llvm/ADT/DenseMap.h"

namespace gradc::loops {

Type scalarType(DType t) {
  switch (t) {
  case DType::F32: return Type::F32;
  case DType::F64: return Type::F64;
  case DType::I32: return Type::I32;
  case DType::I1: return Type::I1;
  }
  return Type::F32;
}

llvm::StringRef typeName(Type t) {
  switch (t) {
  case Type::F32: return "f32";
  case Type::F64: return "f64";
  case Type::I32: return "i32";
  case Type::I1: return "i1";
  case Type::Index: return "index";
  }
  return "?";
}

int64_t elementBytes(Type t) { return t == Type::F64 || t == Type::Index ? 8 : t == Type::I1 ? 1 : 4; }

bool sameMemory(const Buffer &a, const Buffer &b) {
  if (a.isSlot || b.isSlot) return a.isSlot && b.isSlot && a.slot == b.slot;
  if (a.isLocal || b.isLocal) return false;
  // Stored as in memory: i1 in a byte (EmitKernel.cpp, memType).
  // The bytes [begin, end) a kernel may touch.
  auto begin = [](const Buffer &x) { return x.offset + x.first * elementBytes(x.type); };
  auto end = [](const Buffer &x) { return x.offset + x.elements * elementBytes(x.type); };
  return begin(a) < end(b) && begin(b) < end(a);
}

//===--- hash-consed construction -----------------------------------------===//

const Expr *Kernel::intern(Expr e) {
  std::string key;
  llvm::raw_string_ostream ks(key);
  ks << int(e.kind) << ',' << int(e.type) << ',' << e.var << ',' << e.buffer << ',' << int(e.op) << ',';
  ks.write_hex(llvm::bit_cast<uint64_t>(e.value));
  for (const Expr *a : e.args) ks << ",a" << a;
  for (int v : e.vars) ks << ",v" << v;
  auto it = interned.find(key);
  if (it != interned.end()) return it->second;
  e.id = int(pool->size());
  pool->push_back(std::move(e));
  interned[key] = &pool->back();
  return &pool->back();
}

const Expr *Kernel::constant(double v, Type t) {
  Expr e{Expr::Const, t};
  e.value = v;
  return intern(std::move(e));
}

const Expr *Kernel::var(int v) {
  Expr e{Expr::Var, Type::Index};
  e.var = v;
  return intern(std::move(e));
}

const Expr *Kernel::load(int buffer, const Expr *offset) {
  Expr e{Expr::Load, buffers[buffer].type};
  e.buffer = buffer;
  e.args = {offset};
  return intern(std::move(e));
}

const Expr *Kernel::op(OpKind k, Type t, llvm::ArrayRef<const Expr *> args) {
  Expr e{Expr::Op, t};
  e.op = k;
  e.args.assign(args.begin(), args.end());
  return intern(std::move(e));
}

const Expr *Kernel::reduce(OpKind k, Type t, const Expr *body, llvm::ArrayRef<int> vs) {
  Expr e{Expr::Reduce, t};
  e.op = k;
  e.args = {body};
  e.vars.assign(vs.begin(), vs.end());
  return intern(std::move(e));
}

int Kernel::newVar(llvm::StringRef name, int64_t extent) {
  vars.push_back({name.str() + std::to_string(vars.size()), extent});
  return vars.size() - 1;
}


namespace {

/// Σ coef·term + constant over index expressions.
struct Linear {
  std::vector<std::pair<const Expr *, int64_t>> terms; // by term id, no zero coefficients
  int64_t constant = 0;

  void addTerm(const Expr *t, int64_t c) {
    auto it = llvm::lower_bound(terms, t->id, [](auto &p, int id) { return p.first->id < id; });
    if (it != terms.end() && it->first == t) {
      it->second += c;
      if (it->second == 0) terms.erase(it);
    } else if (c != 0) {
      terms.insert(it, {t, c});
    }
  }
  void addScaled(const Linear &o, int64_t c) {
    for (auto &[t, k] : o.terms) addTerm(t, k * c);
    constant += o.constant * c;
  }
};

Linear linearize(const Expr *e) {
  Linear l;
  if (e->kind == Expr::Const) {
    l.constant = int64_t(e->value);
  } else if (e->kind == Expr::Op && e->type == Type::Index && e->op == OpKind::Add) {
    l = linearize(e->args[0]);
    l.addScaled(linearize(e->args[1]), 1);
  } else if (e->kind == Expr::Op && e->type == Type::Index && e->op == OpKind::Sub) {
    l = linearize(e->args[0]);
    l.addScaled(linearize(e->args[1]), -1);
  } else if (e->kind == Expr::Op && e->type == Type::Index && e->op == OpKind::Mul && e->args[1]->kind == Expr::Const) {
    l.addScaled(linearize(e->args[0]), int64_t(e->args[1]->value));
  } else {
    l.addTerm(e, 1);
  }
  return l;
}

} // namespace

std::vector<std::pair<const Expr *, int64_t>> linearTerms(const Expr *e) { return linearize(e).terms; }
int64_t linearConstant(const Expr *e) { return linearize(e).constant; }

bool usesVar(const Expr *e, int v, llvm::DenseMap<const Expr *, bool> &memo) {
  if (e->kind == Expr::Var) return e->var == v;
  if (auto it = memo.find(e); it != memo.end()) return it->second;
  bool r = llvm::any_of(e->args, [&](const Expr *a) { return usesVar(a, v, memo); });
  memo[e] = r;
  return r;
}

/// Builds Σ coef·term + constant: terms in id order, then the constant.
static const Expr *build(Kernel &k, const Linear &l) {
  const Expr *sum = nullptr;
  auto plus = [&](const Expr *x) { sum = sum ? k.op(OpKind::Add, Type::Index, {sum, x}) : x; };
  for (auto &[t, c] : l.terms) plus(c == 1 ? t : k.op(OpKind::Mul, Type::Index, {t, k.index(c)}));
  if (l.constant != 0 || !sum) plus(k.index(l.constant));
  return sum;
}

const Expr *Kernel::add(const Expr *a, const Expr *b) {
  Linear l = linearize(a);
  l.addScaled(linearize(b), 1);
  return build(*this, l);
}

const Expr *Kernel::mul(const Expr *a, int64_t c) {
  Linear l;
  l.addScaled(linearize(a), c);
  return build(*this, l);
}

std::optional<std::pair<int64_t, int64_t>> Kernel::range(const Expr *e) const {
  using R = std::optional<std::pair<int64_t, int64_t>>;
  if (e->type != Type::Index) return std::nullopt;
  switch (e->kind) {
  case Expr::Const: return std::make_pair(int64_t(e->value), int64_t(e->value));
  case Expr::Var: return std::make_pair(int64_t(0), vars[e->var].extent - 1);
  case Expr::Op: {
    // Every index op with a known range is binary.
    if (e->args.size() != 2) return std::nullopt;
    R ra = range(e->args[0]), rb = range(e->args[1]);
    if (!ra || !rb) return std::nullopt;
    auto [alo, ahi] = *ra;
    auto [blo, bhi] = *rb;
    switch (e->op) {
    case OpKind::Add: return std::make_pair(alo + blo, ahi + bhi);
    case OpKind::Sub: return std::make_pair(alo - bhi, ahi - blo);
    case OpKind::Mul: {
      int64_t p[] = {alo * blo, alo * bhi, ahi * blo, ahi * bhi};
      return std::make_pair(*std::min_element(p, p + 4), *std::max_element(p, p + 4));
    }
    case OpKind::Div:
      if (alo < 0 || blo != bhi || blo <= 0) return std::nullopt;
      return std::make_pair(alo / blo, ahi / blo);
    case OpKind::Min: return std::make_pair(std::min(alo, blo), std::min(ahi, bhi));
    case OpKind::Max: return std::make_pair(std::max(alo, blo), std::max(ahi, bhi));
    default: return std::nullopt;
    }
  }
  default: return std::nullopt;
  }
}

namespace {
/// a = q·Σ(multiples) + rest, where rest's range lies within one multiple of
/// q: then a / q and a % q are exact without dividing. `whole` gets Σ plus
/// that multiple's index; `part` the rest less it.
bool splitByMultiple(Kernel &k, const Expr *a, int64_t q, const Expr *&whole, const Expr *&part) {
  Linear l = linearize(a), multiples, rest;
  for (auto &[t, c] : l.terms) {
    if (c % q == 0) multiples.addTerm(t, c / q);
    else rest.addTerm(t, c);
  }
  rest.constant = l.constant;
  auto rm = k.range(build(k, multiples)), rr = k.range(build(k, rest));
  if (!rm || !rr || rm->first < 0 || rr->first < 0 || rr->first / q != rr->second / q) return false;
  int64_t z = rr->first / q;
  multiples.constant += z;
  rest.constant -= z * q;
  whole = build(k, multiples);
  part = build(k, rest);
  return true;
}
} // namespace

const Expr *Kernel::divConst(const Expr *a, int64_t c) {
  if (c == 1) return a;
  if (a->kind == Expr::Const) return index(int64_t(a->value) / c);
  const Expr *whole, *part;
  if (splitByMultiple(*this, a, c, whole, part)) return whole;
  return op(OpKind::Div, Type::Index, {a, index(c)});
}

const Expr *Kernel::remConst(const Expr *a, int64_t c) {
  if (c == 1) return index(0);
  if (a->kind == Expr::Const) return index(int64_t(a->value) % c);
  const Expr *whole, *part;
  if (splitByMultiple(*this, a, c, whole, part)) return part;
  return add(a, mul(divConst(a, c), -c));
}

const Expr *Kernel::clamp(const Expr *a, int64_t lo, int64_t hi) {
  if (a->kind == Expr::Const) return index(std::min(std::max(int64_t(a->value), lo), hi));
  // A clamp whose answer is known is that answer. A concat's one-column
  // part reads clamp(j - start, 0, 0): left as min(max(...)), each roll
  // of a roll (concat([h[:, 1:H], h[:, 0:1]], 1), L times) read its
  // operand at twice as many index expressions, 2^L in all (an explorer's
  // 16 rolls took 30 s and 1.3 GB).
  if (lo == hi) return index(lo);
  if (auto r = range(a)) {
    if (r->first >= lo && r->second <= hi) return a;
    if (r->second <= lo) return index(lo);
    if (r->first >= hi) return index(hi);
  }
  return op(OpKind::Min, Type::Index, {op(OpKind::Max, Type::Index, {a, index(lo)}), index(hi)});
}

//===--- printing -----------------------------------------------------------===//

namespace {

class KernelPrinter {
public:
  KernelPrinter(const Kernel &k, llvm::raw_ostream &os, bool canonical, std::vector<ShapeConstant> *constants = nullptr)
      : k(k), os(os), canonical(canonical || constants), constants(constants) {
    if (constants) shareable = shareableConstants(k);
  }

  void run() {
    if (canonical) {
      os << "parallel " << k.parallelExtent << " scratch " << k.scratchBytes << "\n";
      for (auto &b : k.buffers) {
        os << "buffer " << typeName(b.type);
        if (b.isLocal) os << " local+" << b.offset;
        os << "\n";
      }
    } else {
      os << "kernel " << k.name << "  " << k.summary << "\n";
      if (k.scratchBytes) os << "  scratch " << k.scratchBytes << " bytes per call\n";
      for (size_t i = 0; i < k.buffers.size(); ++i) {
        auto &b = k.buffers[i];
        os << "  buffer " << b.name << ": " << typeName(b.type) << "[" << b.elements << "] ";
        if (b.isSlot) os << "slot \"" << b.slot << "\"";
        else if (b.isLocal) os << "local+" << b.offset << (b.isBlock ? " (one block of rows)" : " (one slice)");
        else os << "arena+" << b.offset;
        if (b.first) os << " from element " << b.first;
        os << "\n";
      }
    }
    for (auto &s : k.body) stmt(s, 1);
  }

  std::string bufName(int i) const { return canonical ? "b" + std::to_string(i) : k.buffers[i].name; }

private:
  std::string ref(const Expr *e) {
    switch (e->kind) {
    case Expr::Const: {
      if (constants && shareable.contains(e)) return placeholder(e);
      if (e->type == Type::Index || e->type == Type::I32) return std::to_string(int64_t(e->value));
      return attrValueStr(e->value);
    }
    case Expr::Var: return k.vars[e->var].name;
    default: {
      auto it = names.find(e);
      if (it != names.end()) return it->second;
      // Index arithmetic is printed inline: it is what addresses look like.
      if (e->kind == Expr::Op && e->type == Type::Index) {
        if (e->args.size() == 1) return std::string(mnemonic(e->op)) + "(" + ref(e->args[0]) + ")";
        if (e->args.size() == 3)
          return std::string(mnemonic(e->op)) + "(" + ref(e->args[0]) + ", " + stripParens(ref(e->args[1])) + ", " +
                 stripParens(ref(e->args[2])) + ")";
        // a + b*-c reads better as a - b*c.
        const Expr *rhs = e->args[1];
        if (e->op == OpKind::Add && rhs->kind == Expr::Op && rhs->op == OpKind::Mul && rhs->args[1]->kind == Expr::Const &&
            rhs->args[1]->value < 0)
          return "(" + ref(e->args[0]) + " - " + ref(rhs->args[0]) + "*" + std::to_string(int64_t(-rhs->args[1]->value)) + ")";
        if (e->op == OpKind::Add && rhs->kind == Expr::Const && rhs->value < 0)
          return "(" + ref(e->args[0]) + " - " + std::to_string(int64_t(-rhs->value)) + ")";
        const char *sym = e->op == OpKind::Add ? " + " : e->op == OpKind::Mul ? "*" : e->op == OpKind::Div ? " / " : nullptr;
        if (sym) return "(" + ref(e->args[0]) + sym + ref(e->args[1]) + ")";
        return std::string(mnemonic(e->op)) + "(" + ref(e->args[0]) + ", " + ref(e->args[1]) + ")";
      }
      return "?";
    }
    }
  }
  // A value computed again in another loop (hash-consed, so the same
  // expression) gets a new name there.
  std::string define(const Expr *e) {
    std::string n = "t" + std::to_string(defined++);
    names[e] = n;
    return n;
  }
  int defined = 0;
  /// `$n` for the n-th distinct constant, in order of first appearance.
  std::string placeholder(const Expr *e) {
    auto [it, fresh] = constantIndex.try_emplace(e, int(constants->size()));
    if (fresh) constants->push_back({e});
    return "$" + std::to_string(it->second) + ":" + typeName(e->type).str();
  }
  static std::string stripParens(std::string s) {
    if (s.size() > 1 && s.front() == '(' && s.back() == ')') return s.substr(1, s.size() - 2);
    return s;
  }

  void stmt(const Stmt &s, int depth) {
    auto line = [&]() -> llvm::raw_ostream & { return os.indent(2 * depth); };
    switch (s.kind) {
    case Stmt::Loop:
      if (s.lower)
        line() << "for " << k.vars[s.var].name << " in [" << stripParens(ref(s.lower)) << ", " << stripParens(ref(s.upper))
               << ") of 0.." << k.vars[s.var].extent << "\n";
      else
        line() << (s.parallel ? "parallel for " : "for ") << k.vars[s.var].name << " in 0.." << k.vars[s.var].extent << "\n";
      for (auto &b : s.body) stmt(b, depth + 1);
      break;
    case Stmt::Let: {
      const Expr *e = s.expr;
      if (e->kind == Expr::Load) {
        std::string off = stripParens(ref(e->args[0]));
        line() << define(e) << " = load " << bufName(e->buffer) << "[" << off << "]\n";
      } else if (e->kind == Expr::Reduce) {
        line() << define(e) << " = " << accName(e) << "\n";
      } else {
        std::string args;
        for (const Expr *a : e->args) args += (args.empty() ? " " : ", ") + stripParens(ref(a));
        // A shared divisor is read with its reciprocal.
        if (constants && e->op == OpKind::Div && isFloat(e->type))
          if (auto it = constantIndex.find(e->args[1]); it != constantIndex.end()) (*constants)[it->second].divisor = true;
        line() << define(e) << " = " << mnemonic(e->op) << args << " : " << typeName(e->type) << "\n";
      }
      break;
    }
    case Stmt::AccInit:
      line() << accName(s.expr) << " = " << (s.expr->op == OpKind::ReduceMax ? "-inf" : "0") << "\n";
      break;
    case Stmt::Accum:
      line() << accName(s.expr) << (s.expr->op == OpKind::ReduceMax ? " max= " : " += ") << ref(s.value) << "\n";
      break;
    case Stmt::Store:
    case Stmt::AccStore:
      line() << "store " << bufName(s.buffer) << "[" << stripParens(ref(s.offset)) << "]"
             << (s.kind == Stmt::Store ? " = " : s.accOp == OpKind::ReduceMax ? " max= " : " += ") << ref(s.value) << "\n";
      break;
    case Stmt::Gemm: {
      auto mat = [&](const Stmt::Matrix &x) {
        return bufName(x.buffer) + "[" + stripParens(ref(x.offset)) + "]" + (x.trans ? "ᵀ" : "") + " ld " +
               std::to_string(x.ld);
      };
      // `C = A @ B, += when blk > 0`: a product summing a group's row blocks
      // (`, +=` alone in the last, shorter block, which always adds).
      std::string acc;
      if (s.accumulate && s.accumulate->kind == Expr::Const) acc = s.accumulate->value != 0 ? ", +=" : "";
      else if (s.accumulate) acc = ", += when " + ref(s.accumulate) + " > 0";
      // `on columns [lo, hi)`: a product narrowed to the columns its readers use.
      std::string cols;
      if (s.colBegin) cols = " on columns [" + stripParens(ref(s.colBegin)) + ", " + stripParens(ref(s.colEnd)) + ")";
      if (s.rowBegin) cols += " on rows [" + stripParens(ref(s.rowBegin)) + ", " + stripParens(ref(s.rowEnd)) + ")";
      if (s.kBegin) cols += " summing [" + stripParens(ref(s.kBegin)) + ", " + stripParens(ref(s.kEnd)) + ")";
      line() << "gemm " << s.m << "x" << s.n << "x" << s.k << cols << ": " << mat(s.c) << " = " << mat(s.a) << " @ " << mat(s.b)
             << acc << (s.singleThreaded || s.oneThread ? "  (one thread)" : "") << (s.body.empty() ? "" : ", then on each block of rows it finishes:")
             << "\n";
      for (auto &b : s.body) stmt(b, depth + 1);
      break;
    }
    case Stmt::Fill:
      line() << "fill " << bufName(s.buffer) << "[0.." << s.count << "] with "
             << (s.dist == OpKind::RandUniform ? "uniform(" : "normal(") << s.p0 << ", " << s.p1 << ")\n";
      break;
    }
  }
  std::string accName(const Expr *r) {
    auto it = accs.find(r);
    if (it != accs.end()) return it->second;
    return accs[r] = "acc" + std::to_string(accs.size());
  }

  const Kernel &k;
  llvm::raw_ostream &os;
  bool canonical;
  std::vector<ShapeConstant> *constants;
  llvm::DenseSet<const Expr *> shareable; // printShape: those written $n
  llvm::DenseMap<const Expr *, std::string> names, accs;
  llvm::DenseMap<const Expr *, int> constantIndex;
};

} // namespace

void print(const Kernel &k, llvm::raw_ostream &os, bool canonical) { KernelPrinter(k, os, canonical).run(); }

std::vector<ShapeConstant> printShape(const Kernel &k, llvm::raw_ostream &os) {
  std::vector<ShapeConstant> constants;
  KernelPrinter(k, os, /*canonical=*/true, &constants).run();
  return constants;
}

} // namespace gradc::loops
