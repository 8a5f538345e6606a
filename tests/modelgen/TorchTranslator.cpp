//===- tests/modelgen/TorchTranslator.cpp - a .grad model as PyTorch code -===//
#include "TorchTranslator.h"

#include "frontend/Frontend.h"
#include "frontend/Parser.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MemoryBuffer.h"

#include <fmt/format.h>

#include <cmath>
#include <map>

namespace gradc::modelgen {

using namespace ast;
using llvm::cast;

namespace {

class Translator {
public:
  Translator(const Program &user, const Program &prelude) : user(user) {
    for (auto &f : prelude.fns) preludeFns.insert(f->name);
    for (auto &f : user.fns) userGlobals.insert(f->name);
    for (auto &c : user.consts) userGlobals.insert(c->name);
  }

  std::string run() {
    out += "# The model, translated to PyTorch by tests/modelgen (TorchTranslator.cpp).\n";
    out += "from gradc_torch import *\n\n";
    // Functions first: a constant may name or call one. Their defaults are
    // evaluated at each call, as the language does (see fn()).
    for (auto &f : user.fns) fn(*f);
    for (auto &c : user.consts) line(0) << "u_" << c->name << " = " << expr(*c->value) << "\n";
    for (auto &m : user.models) model(*m);
    return out;
  }

private:
  struct Line {
    std::string &out;
    template <typename T> Line &operator<<(const T &x) {
      out += fmt::format("{}", x);
      return *this;
    }
  };
  Line line(int depth) {
    out.append(4 * size_t(depth), ' ');
    return Line{out};
  }

  //===--- names --------------------------------------------------------------===//

  /// Names bound anywhere in a body (Python makes them local to the whole
  /// function; the language binds them from the statement on).
  void collectLocals(const Block &b) {
    for (auto &s : b) {
      switch (s->kind) {
      case Stmt::Assign: locals.insert(cast<AssignStmt>(*s).name); break;
      case Stmt::Output:
        if (cast<OutputStmt>(*s).value) locals.insert(cast<OutputStmt>(*s).name);
        break;
      case Stmt::Const: locals.insert(cast<ConstStmt>(*s).name); break;
      case Stmt::Input: locals.insert(cast<InputStmt>(*s).name); break;
      case Stmt::Param: locals.insert(cast<ParamStmt>(*s).name); break;
      case Stmt::For: {
        auto &f = cast<ForStmt>(*s);
        locals.insert(f.var);
        collectLocals(f.body);
        break;
      }
      case Stmt::If: {
        auto &i = cast<IfStmt>(*s);
        collectLocals(i.then);
        collectLocals(i.otherwise);
        break;
      }
      default: break;
      }
    }
  }

  std::string name(llvm::StringRef n) const {
    if (locals.count(n) || userGlobals.count(n)) return "u_" + n.str();
    if (preludeFns.count(n)) return "p_" + n.str();
    return "b_" + n.str();
  }

  //===--- declarations ----------------------------------------------------------===//

  void fn(const FnDecl &f) {
    locals.clear();
    for (auto &p : f.params) locals.insert(p.name);
    collectLocals(f.body);
    line(0) << "def u_" << f.name << "(";
    for (size_t i = 0; i < f.params.size(); ++i)
      out += (i ? ", " : "") + ("u_" + f.params[i].name) + (f.params[i].defaultValue ? "=DEFAULT" : "");
    out += "):\n";
    for (auto &p : f.params) {
      if (!p.defaultValue) continue;
      // Defaults see globals only.
      llvm::StringSet<> saved = std::move(locals);
      locals.clear();
      std::string v = expr(*p.defaultValue);
      locals = std::move(saved);
      line(1) << "if u_" << p.name << " is DEFAULT: u_" << p.name << " = " << v << "\n";
    }
    block(f.body, 1);
    line(1) << "return None\n\n";
  }

  void model(const ModelDecl &m) {
    locals.clear();
    collectLocals(m.body);
    line(0) << "def model():\n";
    block(m.body, 1);
    // Outputs name values by their final binding.
    for (auto &o : outputs) line(1) << "G.output(" << quote(o) << ", u_" << o << ")\n";
    outputs.clear();
    line(1) << "return u_loss\n";
  }

  //===--- statements --------------------------------------------------------------===//

  void block(const Block &b, int depth) {
    size_t before = out.size();
    for (auto &s : b) stmt(*s, depth);
    if (out.size() == before) line(depth) << "pass\n";
  }

  std::string type(const TypeExpr &t) {
    std::string dims = "[";
    for (size_t i = 0; i < t.dims.size(); ++i) dims += (i ? ", " : "") + expr(*t.dims[i]);
    return fmt::format("{}, {}", dims + "]", quote(t.dtype));
  }

  void stmt(const Stmt &s, int depth) {
    switch (s.kind) {
    case Stmt::Assign: {
      auto &a = cast<AssignStmt>(s);
      line(depth) << "u_" << a.name << " = " << expr(*a.value) << "\n";
      break;
    }
    case Stmt::Const: {
      auto &c = cast<ConstStmt>(s);
      line(depth) << "u_" << c.name << " = " << expr(*c.value) << "\n";
      break;
    }
    case Stmt::Input: {
      auto &i = cast<InputStmt>(s);
      line(depth) << "u_" << i.name << " = G.input(" << quote(i.name) << ", " << type(i.type) << ")\n";
      break;
    }
    case Stmt::Param: {
      auto &p = cast<ParamStmt>(s);
      line(depth) << "u_" << p.name << " = G.param(" << quote(p.name) << ", " << type(p.type) << ")\n";
      break;
    }
    case Stmt::Return: line(depth) << "return " << expr(*cast<ReturnStmt>(s).value) << "\n"; break;
    case Stmt::For: {
      auto &f = cast<ForStmt>(s);
      line(depth) << "for u_" << f.var << " in g_range(" << expr(*f.lo) << ", " << expr(*f.hi) << "):\n";
      block(f.body, depth + 1);
      break;
    }
    case Stmt::If: {
      auto &i = cast<IfStmt>(s);
      line(depth) << "if g_truth(" << expr(*i.cond) << "):\n";
      block(i.then, depth + 1);
      if (!i.otherwise.empty()) {
        line(depth) << "else:\n";
        block(i.otherwise, depth + 1);
      }
      break;
    }
    case Stmt::Output: {
      auto &o = cast<OutputStmt>(s);
      if (o.value) line(depth) << "u_" << o.name << " = " << expr(*o.value) << "\n";
      outputs.push_back(o.name);
      break;
    }
    case Stmt::Metric: {
      auto &m = cast<MetricStmt>(s);
      line(depth) << "G.metric(" << quote(m.name) << ", " << expr(*m.value) << ")\n";
      break;
    }
    // How the model trains and where its data comes from are not part of
    // the function it computes.
    case Stmt::Train:
    case Stmt::Data: break;
    }
  }

  //===--- expressions --------------------------------------------------------------===//

  static std::string quote(llvm::StringRef s) {
    std::string q = "'";
    for (char c : s) {
      if (c == '\\' || c == '\'') q += '\\';
      if (c == '\n') {
        q += "\\n";
        continue;
      }
      q += c;
    }
    return q + "'";
  }

  static std::string number(const NumberExpr &n) {
    if (n.isInt) return fmt::format("{}", int64_t(n.value));
    if (std::isinf(n.value)) return n.value > 0 ? "math.inf" : "-math.inf";
    std::string s = fmt::format("{:.17g}", n.value);
    if (s.find_first_of(".en") == std::string::npos) s += ".0";
    return s;
  }

  std::string args(const std::vector<Arg> &as) {
    std::string s;
    for (auto &a : as) {
      if (!s.empty()) s += ", ";
      if (!a.name.empty()) s += "u_" + a.name + "=";
      s += expr(*a.value);
    }
    return s;
  }

  /// The scope of a call as a Python expression: names are text, indices
  /// are values ("h" "." 3 in `h[3].block(x)`).
  std::string scope(const Expr &e) {
    if (auto *n = llvm::dyn_cast<NameExpr>(&e)) return "[" + quote(n->name) + "]";
    if (auto *m = llvm::dyn_cast<MemberExpr>(&e)) return scope(*m->base) + " + [" + quote(m->member) + "]";
    if (auto *ix = llvm::dyn_cast<IndexExpr>(&e)) {
      std::string s = scope(*ix->base);
      for (auto &it : ix->items) s += " + [" + (it.start ? expr(*it.start) : std::string("None")) + "]";
      return s;
    }
    return "[G.bad_scope()]";
  }

  std::string expr(const Expr &e) {
    switch (e.kind) {
    case Expr::Number: return number(cast<NumberExpr>(e));
    case Expr::String: return quote(cast<StringExpr>(e).value);
    case Expr::Bool: return cast<BoolExpr>(e).value ? "True" : "False";
    case Expr::None: return "None";
    case Expr::Name: return name(cast<NameExpr>(e).name);
    case Expr::Unary: {
      auto &u = cast<UnaryExpr>(e);
      return (u.op == "-" ? "g_neg(" : "g_not(") + expr(*u.operand) + ")";
    }
    case Expr::Binary: {
      auto &b = cast<BinaryExpr>(e);
      static const std::map<std::string, std::string> ops = {
          {"+", "add"}, {"-", "sub"}, {"*", "mul"}, {"/", "div"}, {"%", "mod"}, {"//", "floordiv"}, {"@", "matmul"},
          {"<", "lt"},  {"<=", "le"}, {">", "gt"},  {">=", "ge"}, {"==", "eq"}, {"!=", "ne"},
          {"&&", "and"}, {"||", "or"}};
      auto it = ops.find(b.op);
      return "g_" + (it == ops.end() ? std::string("unknown") : it->second) + "(" + expr(*b.lhs) + ", " + expr(*b.rhs) + ")";
    }
    case Expr::Call: {
      auto &c = cast<CallExpr>(e);
      std::string callee = name(c.callee), a = args(c.args);
      if (!c.scope) return callee + "(" + a + ")";
      return "G.call(" + scope(*c.scope) + ", " + callee + (a.empty() ? "" : ", " + a) + ")";
    }
    case Expr::Index: {
      auto &ix = cast<IndexExpr>(e);
      std::string items;
      for (auto &it : ix.items) {
        if (!items.empty()) items += ", ";
        if (!it.isSlice) items += "(" + expr(*it.start) + ",)";
        else items += "(" + (it.start ? expr(*it.start) : "None") + ", " + (it.stop ? expr(*it.stop) : "None") + ")";
      }
      return "g_index(" + expr(*ix.base) + ", [" + items + "])";
    }
    case Expr::Member: return "G.read_param(" + scope(e) + ")";
    case Expr::List: {
      std::string s = "[";
      auto &l = cast<ListExpr>(e);
      for (size_t i = 0; i < l.items.size(); ++i) s += (i ? ", " : "") + expr(*l.items[i]);
      return s + "]";
    }
    }
    return "None";
  }

  const Program &user;
  llvm::StringSet<> preludeFns, userGlobals, locals;
  std::vector<std::string> outputs;
  std::string out;
};

} // namespace

bool translateToTorch(llvm::StringRef source, llvm::StringRef name, std::string &python, std::string &errors) {
  llvm::raw_string_ostream es(errors);
  Frontend fe(es);
  fe.loadString(source, name);
  const ast::Program *user = fe.parse();
  if (!user) return false;
  // The prelude's names, from its own parse.
  llvm::SourceMgr sm;
  DiagEngine diag(sm, es);
  unsigned id = sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBuffer(kPreludeSource, "<prelude>"), llvm::SMLoc());
  auto prelude = Parser(id, diag).parseProgram();
  python = Translator(*user, *prelude).run();
  return true;
}

} // namespace gradc::modelgen
