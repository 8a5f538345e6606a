//===- frontend/ASTDump.cpp - the --stage=ast dump ------------------------===//
//
// One node per line, children indented:
//
//   model linreg
//     input x: f32[B, 1]
//     assign pred
//       binary +
//         binary @
//           name x
//           name w
//         name b
//
//===----------------------------------------------------------------------===//
#include "frontend/AST.h"
#include "ir/Ops.h"

namespace gradc::ast {
namespace {

class Dumper {
public:
  explicit Dumper(llvm::raw_ostream &os) : os(os) {}

  void program(const Program &p) {
    for (auto &c : p.consts) stmt(*c, 0);
    for (auto &f : p.fns) {
      line(0) << "fn " << f->name << "(";
      for (size_t i = 0; i < f->params.size(); ++i) os << (i ? ", " : "") << f->params[i].name;
      os << ")\n";
      for (auto &prm : f->params)
        if (prm.defaultValue) {
          line(1) << "default " << prm.name << "\n";
          expr(*prm.defaultValue, 2);
        }
      block(f->body, 1);
    }
    for (auto &m : p.models) {
      line(0) << "model " << m->name << "\n";
      block(m->body, 1);
    }
  }

private:
  llvm::raw_ostream &line(int depth) { return os.indent(2 * depth); }

  void type(const TypeExpr &t, int depth) {
    line(depth) << "type " << t.dtype << " rank " << t.dims.size() << "\n";
    for (auto &d : t.dims) expr(*d, depth + 1);
  }

  void args(const std::vector<Arg> &as, int depth) {
    for (auto &a : as) {
      if (!a.name.empty()) {
        line(depth) << "kwarg " << a.name << "\n";
        expr(*a.value, depth + 1);
      } else {
        expr(*a.value, depth);
      }
    }
  }

  void block(const Block &b, int depth) {
    for (auto &s : b) stmt(*s, depth);
  }

  void stmt(const Stmt &s, int depth) {
    using llvm::cast;
    switch (s.kind) {
    case Stmt::Assign: {
      auto &a = cast<AssignStmt>(s);
      line(depth) << "assign " << a.name << "\n";
      expr(*a.value, depth + 1);
      break;
    }
    case Stmt::Input: {
      auto &i = cast<InputStmt>(s);
      line(depth) << "input " << i.name << "\n";
      type(i.type, depth + 1);
      break;
    }
    case Stmt::Param: {
      auto &p = cast<ParamStmt>(s);
      line(depth) << "param " << p.name << "\n";
      type(p.type, depth + 1);
      if (p.init) {
        line(depth + 1) << "init\n";
        expr(*p.init, depth + 2);
      }
      break;
    }
    case Stmt::Const: {
      auto &c = cast<ConstStmt>(s);
      line(depth) << "const " << c.name << "\n";
      expr(*c.value, depth + 1);
      break;
    }
    case Stmt::Return:
      line(depth) << "return\n";
      if (auto *value = cast<ReturnStmt>(s).value.get()) expr(*value, depth + 1);
      break;
    case Stmt::For: {
      auto &f = cast<ForStmt>(s);
      line(depth) << "for " << f.var << "\n";
      expr(*f.lo, depth + 1);
      expr(*f.hi, depth + 1);
      block(f.body, depth + 1);
      break;
    }
    case Stmt::If: {
      auto &i = cast<IfStmt>(s);
      line(depth) << "if\n";
      expr(*i.cond, depth + 1);
      line(depth) << "then\n";
      block(i.then, depth + 1);
      if (!i.otherwise.empty()) {
        line(depth) << "else\n";
        block(i.otherwise, depth + 1);
      }
      break;
    }
    case Stmt::Train: {
      auto &t = cast<TrainStmt>(s);
      line(depth) << "train " << t.optimizer << "\n";
      args(t.args, depth + 1);
      break;
    }
    case Stmt::Output: {
      auto &o = cast<OutputStmt>(s);
      line(depth) << "output " << o.name << "\n";
      if (o.value) expr(*o.value, depth + 1);
      break;
    }
    case Stmt::Metric: {
      auto &m = cast<MetricStmt>(s);
      line(depth) << "metric " << m.name << "\n";
      expr(*m.value, depth + 1);
      break;
    }
    case Stmt::Data: {
      auto &d = cast<DataStmt>(s);
      line(depth) << "data " << d.kindName << "\n";
      args(d.args, depth + 1);
      block(d.body, depth + 1);
      break;
    }
    }
  }

  void expr(const Expr &e, int depth) {
    using llvm::cast;
    switch (e.kind) {
    case Expr::Number: {
      auto &n = cast<NumberExpr>(e);
      if (n.isInt)
        line(depth) << "int " << n.intValue << "\n";
      else
        line(depth) << "number " << attrValueStr(n.value) << "\n";
      break;
    }
    case Expr::String: line(depth) << "string \"" << cast<StringExpr>(e).value << "\"\n"; break;
    case Expr::Bool: line(depth) << "bool " << (cast<BoolExpr>(e).value ? "true" : "false") << "\n"; break;
    case Expr::None: line(depth) << "none\n"; break;
    case Expr::Name: line(depth) << "name " << cast<NameExpr>(e).name << "\n"; break;
    case Expr::Unary: {
      auto &u = cast<UnaryExpr>(e);
      line(depth) << "unary " << u.op << "\n";
      expr(*u.operand, depth + 1);
      break;
    }
    case Expr::Binary: {
      auto &b = cast<BinaryExpr>(e);
      line(depth) << "binary " << b.op << "\n";
      expr(*b.lhs, depth + 1);
      expr(*b.rhs, depth + 1);
      break;
    }
    case Expr::Call: {
      auto &c = cast<CallExpr>(e);
      line(depth) << "call " << c.callee << "\n";
      if (c.scope) {
        line(depth + 1) << "scope\n";
        expr(*c.scope, depth + 2);
      }
      args(c.args, depth + 1);
      break;
    }
    case Expr::Index: {
      auto &ix = cast<IndexExpr>(e);
      line(depth) << "index\n";
      expr(*ix.base, depth + 1);
      for (auto &it : ix.items) {
        line(depth + 1) << (it.isSlice ? "slice" : "at") << "\n";
        if (it.start) expr(*it.start, depth + 2);
        if (it.stop) expr(*it.stop, depth + 2);
      }
      break;
    }
    case Expr::Member: {
      auto &m = cast<MemberExpr>(e);
      line(depth) << "member " << m.member << "\n";
      expr(*m.base, depth + 1);
      break;
    }
    case Expr::List: {
      line(depth) << "list\n";
      for (auto &i : cast<ListExpr>(e).items) expr(*i, depth + 1);
      break;
    }
    }
  }

  llvm::raw_ostream &os;
};

} // namespace

void dump(const Program &p, llvm::raw_ostream &os) { Dumper(os).program(p); }

} // namespace gradc::ast
