//===- frontend/AST.h - syntax tree of the .grad language -----------------===//
//
// The parser builds this tree; semantic analysis (Sema) walks it to build the
// graph IR. Nodes own their children through unique_ptr and remember their
// source range for diagnostics.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Casting.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace gradc::ast {

//===--- expressions ------------------------------------------------------===//

struct Expr {
  enum Kind { Number, String, Bool, None, Name, Unary, Binary, Call, Index, Member, List };
  explicit Expr(Kind k, llvm::SMRange r) : kind(k), range(r) {}
  virtual ~Expr() = default;
  Kind kind;
  llvm::SMRange range;
  /// Nodes on the longest path down to a leaf. Everything that walks the
  /// tree recurses, so the parser refuses trees taller than its limit.
  unsigned height = 1;
  llvm::SMLoc loc() const { return range.Start; }
  /// Makes `height` one more than the tallest of `children` (nulls skipped).
  void above(std::initializer_list<const Expr *> children) {
    for (const Expr *c : children)
      if (c) height = std::max(height, c->height + 1);
  }
};
using ExprPtr = std::unique_ptr<Expr>;

struct NumberExpr : Expr {
  NumberExpr(llvm::SMRange r, double v) : Expr(Number, r), value(v), isInt(false) {}
  NumberExpr(llvm::SMRange r, int64_t v) : Expr(Number, r), value(double(v)), intValue(v), isInt(true) {}
  double value;
  int64_t intValue = 0; // exact, where isInt: compile-time integers are 64-bit
  bool isInt;
  static bool classof(const Expr *e) { return e->kind == Number; }
};

struct StringExpr : Expr {
  StringExpr(llvm::SMRange r, std::string v) : Expr(String, r), value(std::move(v)) {}
  std::string value;
  static bool classof(const Expr *e) { return e->kind == String; }
};

struct BoolExpr : Expr {
  BoolExpr(llvm::SMRange r, bool v) : Expr(Bool, r), value(v) {}
  bool value;
  static bool classof(const Expr *e) { return e->kind == Bool; }
};

struct NoneExpr : Expr {
  explicit NoneExpr(llvm::SMRange r) : Expr(None, r) {}
  static bool classof(const Expr *e) { return e->kind == None; }
};

struct NameExpr : Expr {
  NameExpr(llvm::SMRange r, std::string n) : Expr(Name, r), name(std::move(n)) {}
  std::string name;
  static bool classof(const Expr *e) { return e->kind == Name; }
};

/// `-x` or `!x`; `op` is the operator's spelling.
struct UnaryExpr : Expr {
  UnaryExpr(llvm::SMRange r, llvm::StringRef op, llvm::SMLoc opLoc, ExprPtr x)
      : Expr(Unary, r), op(op.str()), opLoc(opLoc), operand(std::move(x)) {
    above({operand.get()});
  }
  std::string op;
  llvm::SMLoc opLoc;
  ExprPtr operand;
  static bool classof(const Expr *e) { return e->kind == Unary; }
};

/// `a OP b`; `opLoc` points at the operator, where errors put their caret.
struct BinaryExpr : Expr {
  BinaryExpr(llvm::SMRange r, llvm::StringRef op, llvm::SMLoc opLoc, ExprPtr a, ExprPtr b)
      : Expr(Binary, r), op(op.str()), opLoc(opLoc), lhs(std::move(a)), rhs(std::move(b)) {
    above({lhs.get(), rhs.get()});
  }
  std::string op;
  llvm::SMLoc opLoc;
  ExprPtr lhs, rhs;
  static bool classof(const Expr *e) { return e->kind == Binary; }
};

struct Arg {
  std::string name; // empty for positional arguments
  llvm::SMLoc nameLoc;
  ExprPtr value;
};

/// `f(args)`, or a scoped call `scope.f(args)` whose parameters are named
/// under `scope` (e.g. `h[i].block(x)` names them "h.<i>.*").
struct CallExpr : Expr {
  CallExpr(llvm::SMRange r, std::string callee, llvm::SMLoc calleeLoc, ExprPtr scope, std::vector<Arg> args)
      : Expr(Call, r), callee(std::move(callee)), calleeLoc(calleeLoc), scope(std::move(scope)),
        args(std::move(args)) {
    above({this->scope.get()});
    for (auto &a : this->args) above({a.value.get()});
  }
  std::string callee;
  llvm::SMLoc calleeLoc;
  ExprPtr scope; // null for a plain call
  std::vector<Arg> args;
  static bool classof(const Expr *e) { return e->kind == Call; }
};

/// One entry of `x[...]`: an index `i`, or a slice `a:b` with either end
/// optional.
struct IndexItem {
  bool isSlice = false;
  ExprPtr start, stop; // for an index, `start` is the index
  llvm::SMRange range;
};

struct IndexExpr : Expr {
  IndexExpr(llvm::SMRange r, ExprPtr base, std::vector<IndexItem> items)
      : Expr(Index, r), base(std::move(base)), items(std::move(items)) {
    above({this->base.get()});
    for (auto &it : this->items) above({it.start.get(), it.stop.get()});
  }
  ExprPtr base;
  std::vector<IndexItem> items;
  static bool classof(const Expr *e) { return e->kind == Index; }
};

/// `a.b`: only meaningful as part of a call scope (`a.b.f(x)`).
struct MemberExpr : Expr {
  MemberExpr(llvm::SMRange r, ExprPtr base, std::string member)
      : Expr(Member, r), base(std::move(base)), member(std::move(member)) {
    above({this->base.get()});
  }
  ExprPtr base;
  std::string member;
  static bool classof(const Expr *e) { return e->kind == Member; }
};

/// `[a, b, c]`: shapes, axes, permutations, lists of tensors.
struct ListExpr : Expr {
  ListExpr(llvm::SMRange r, std::vector<ExprPtr> items) : Expr(List, r), items(std::move(items)) {
    for (auto &i : this->items) above({i.get()});
  }
  std::vector<ExprPtr> items;
  static bool classof(const Expr *e) { return e->kind == List; }
};

//===--- statements -------------------------------------------------------===//

/// `f32[B, 1]`.
struct TypeExpr {
  std::string dtype;
  llvm::SMRange dtypeRange;
  std::vector<ExprPtr> dims;
  llvm::SMRange range;
};

struct Stmt {
  enum Kind { Assign, Input, Param, Const, Return, For, If, Train, Output, Metric, Data };
  explicit Stmt(Kind k, llvm::SMRange r) : kind(k), range(r) {}
  virtual ~Stmt() = default;
  Kind kind;
  llvm::SMRange range;
  llvm::SMLoc loc() const { return range.Start; }
};
using StmtPtr = std::unique_ptr<Stmt>;
using Block = std::vector<StmtPtr>;

struct AssignStmt : Stmt {
  AssignStmt(llvm::SMRange r, std::string n, llvm::SMLoc nameLoc, ExprPtr v)
      : Stmt(Assign, r), name(std::move(n)), nameLoc(nameLoc), value(std::move(v)) {}
  std::string name;
  llvm::SMLoc nameLoc;
  ExprPtr value;
  static bool classof(const Stmt *s) { return s->kind == Assign; }
};

struct InputStmt : Stmt {
  InputStmt(llvm::SMRange r, std::string n, llvm::SMLoc nameLoc, TypeExpr t)
      : Stmt(Input, r), name(std::move(n)), nameLoc(nameLoc), type(std::move(t)) {}
  std::string name;
  llvm::SMLoc nameLoc;
  TypeExpr type;
  static bool classof(const Stmt *s) { return s->kind == Input; }
};

/// `param w: f32[a, b] = init`; `init` is a name (`zeros`) or a call
/// (`normal(0.02)`), or null for the default (zeros).
struct ParamStmt : Stmt {
  ParamStmt(llvm::SMRange r, std::string n, llvm::SMLoc nameLoc, TypeExpr t, ExprPtr init)
      : Stmt(Param, r), name(std::move(n)), nameLoc(nameLoc), type(std::move(t)), init(std::move(init)) {}
  std::string name;
  llvm::SMLoc nameLoc;
  TypeExpr type;
  ExprPtr init;
  static bool classof(const Stmt *s) { return s->kind == Param; }
};

struct ConstStmt : Stmt {
  ConstStmt(llvm::SMRange r, std::string n, llvm::SMLoc nameLoc, ExprPtr v)
      : Stmt(Const, r), name(std::move(n)), nameLoc(nameLoc), value(std::move(v)) {}
  std::string name;
  llvm::SMLoc nameLoc;
  ExprPtr value;
  static bool classof(const Stmt *s) { return s->kind == Const; }
};

struct ReturnStmt : Stmt {
  ReturnStmt(llvm::SMRange r, ExprPtr v) : Stmt(Return, r), value(std::move(v)) {}
  ExprPtr value; // null for a bare 'return'
  static bool classof(const Stmt *s) { return s->kind == Return; }
};

/// `for i in lo..hi { ... }`, unrolled at compile time.
struct ForStmt : Stmt {
  ForStmt(llvm::SMRange r, std::string var, llvm::SMLoc varLoc, ExprPtr lo, ExprPtr hi, Block body)
      : Stmt(For, r), var(std::move(var)), varLoc(varLoc), lo(std::move(lo)), hi(std::move(hi)), body(std::move(body)) {}
  std::string var;
  llvm::SMLoc varLoc;
  ExprPtr lo, hi;
  Block body;
  static bool classof(const Stmt *s) { return s->kind == For; }
};

/// `if cond { ... } else { ... }` on a compile-time condition.
struct IfStmt : Stmt {
  IfStmt(llvm::SMRange r, ExprPtr cond, Block then, Block otherwise)
      : Stmt(If, r), cond(std::move(cond)), then(std::move(then)), otherwise(std::move(otherwise)) {}
  ExprPtr cond;
  Block then, otherwise;
  static bool classof(const Stmt *s) { return s->kind == If; }
};

/// `train adamw(lr = 1e-3, weight_decay = 0.1)`.
struct TrainStmt : Stmt {
  TrainStmt(llvm::SMRange r, std::string opt, llvm::SMLoc optLoc, std::vector<Arg> args)
      : Stmt(Train, r), optimizer(std::move(opt)), optimizerLoc(optLoc), args(std::move(args)) {}
  std::string optimizer;
  llvm::SMLoc optimizerLoc;
  std::vector<Arg> args;
  static bool classof(const Stmt *s) { return s->kind == Train; }
};

/// `output pred`: a value `predict` computes.
struct OutputStmt : Stmt {
  OutputStmt(llvm::SMRange r, std::string n, llvm::SMLoc nameLoc, ExprPtr v = nullptr)
      : Stmt(Output, r), name(std::move(n)), nameLoc(nameLoc), value(std::move(v)) {}
  std::string name;
  llvm::SMLoc nameLoc;
  ExprPtr value; ///< `output probs = softmax(h)`: assigns, then outputs (null for `output probs`)
  static bool classof(const Stmt *s) { return s->kind == Output; }
};

/// `metric accuracy = expr`: a scalar `eval` reports.
struct MetricStmt : Stmt {
  MetricStmt(llvm::SMRange r, std::string n, llvm::SMLoc nameLoc, ExprPtr v)
      : Stmt(Metric, r), name(std::move(n)), nameLoc(nameLoc), value(std::move(v)) {}
  std::string name;
  llvm::SMLoc nameLoc;
  ExprPtr value;
  static bool classof(const Stmt *s) { return s->kind == Metric; }
};

/// `data table(rows = N) { x = ...; y = ... }` generates the default dataset;
/// `data text(input = idx, target = targets, corpus = "...")` reads text.
struct DataStmt : Stmt {
  DataStmt(llvm::SMRange r, std::string kindName, llvm::SMLoc kindLoc, std::vector<Arg> args, Block body)
      : Stmt(Data, r), kindName(std::move(kindName)), kindLoc(kindLoc), args(std::move(args)), body(std::move(body)) {}
  std::string kindName;
  llvm::SMLoc kindLoc;
  std::vector<Arg> args;
  Block body;
  static bool classof(const Stmt *s) { return s->kind == Data; }
};

//===--- declarations -----------------------------------------------------===//

struct FnParam {
  std::string name;
  llvm::SMLoc loc;
  ExprPtr defaultValue; // null: required
};

struct FnDecl {
  std::string name;
  llvm::SMLoc nameLoc;
  std::vector<FnParam> params;
  Block body;
  llvm::SMRange range;
};

struct ModelDecl {
  std::string name;
  llvm::SMLoc nameLoc;
  Block body;
  llvm::SMRange range;
};

/// One source file: its constants, functions and (at most one) model.
struct Program {
  std::vector<std::unique_ptr<ConstStmt>> consts;
  std::vector<std::unique_ptr<FnDecl>> fns;
  std::vector<std::unique_ptr<ModelDecl>> models;
};

/// The `--stage=ast` dump: an indented tree, one node per line.
void dump(const Program &p, llvm::raw_ostream &os);

} // namespace gradc::ast
