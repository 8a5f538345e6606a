//===- frontend/SemaImpl.h - internals of semantic analysis ---------------===//
//
// Sema is an interpreter that runs at compile time. Its values are either
// compile-time things (numbers, strings, lists, functions, initialisers) or
// tensors, which are nodes of the graph being built. An Error value stands
// for something that already failed and was reported; operations on it yield
// Error silently, so one mistake gives one message.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "frontend/NearMiss.h"
#include "frontend/Sema.h"
#include "ir/Builder.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringMap.h"

namespace gradc {

enum class Builtin : uint8_t;

struct Value {
  enum Kind { Error, None, Int, Float, Bool, Str, List, Tensor, Func, Init };
  Kind kind = Error;
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::string s; // Str; Init: canonical spec such as "normal(0.02)"
  /// List: shared, so copying a value is cheap however large and nested
  /// its list is (lists are never changed after they are made).
  std::shared_ptr<const std::vector<Value>> list;
  /// List: how deep lists nest in it (1: no list among its items). Bounded
  /// where lists are written (kMaxListDepth): 250,000 nested lists, made by
  /// `l = [l]` in two loops, overflowed the stack as they were freed.
  uint32_t depth = 0;
  Node *node = nullptr;
  /// Func: the function. None: the function whose call ended without a
  /// 'return' and so gave this none (named in messages), if any.
  const ast::FnDecl *fn = nullptr;
  Builtin builtin{};
  bool isBuiltin = false;
  OpKind op{};      // an elementwise op of ir/Ops.def called as a function
  bool isOp = false;
  llvm::SMRange range; // where it was written, for diagnostics
  /// Inside prelude code: where the user wrote this value, when it was an
  /// argument of the user's passed on unchanged (mean(h, axis = 5): the 5
  /// that sum(x, axis) reads in mean). Errors about it are said there.
  llvm::SMRange origin;

  static Value error() { return Value(); }
  static Value none(llvm::SMRange r = {}) { return make(None, r); }
  static Value integer(int64_t v, llvm::SMRange r = {}) { auto x = make(Int, r); x.i = v; return x; }
  static Value number(double v, llvm::SMRange r = {}) { auto x = make(Float, r); x.f = v; return x; }
  static Value boolean(bool v, llvm::SMRange r = {}) { auto x = make(Bool, r); x.b = v; return x; }
  static Value string(std::string v, llvm::SMRange r = {}) { auto x = make(Str, r); x.s = std::move(v); return x; }
  static Value tensor(Node *n, llvm::SMRange r = {}) { auto x = make(Tensor, r); x.node = n; return x; }
  static Value init(std::string spec, llvm::SMRange r = {}) { auto x = make(Init, r); x.s = std::move(spec); return x; }
  static Value makeList(std::vector<Value> items, llvm::SMRange r = {}) {
    auto x = make(List, r);
    for (const Value &item : items) x.depth = std::max(x.depth, item.depth);
    ++x.depth;
    x.list = std::make_shared<const std::vector<Value>>(std::move(items));
    return x;
  }
  static Value make(Kind k, llvm::SMRange r) {
    Value v;
    v.kind = k;
    v.range = r;
    return v;
  }

  bool isError() const { return kind == Error; }
  bool isNumber() const { return kind == Int || kind == Float; }
  /// The items of a List.
  const std::vector<Value> &items() const { return *list; }
  double asDouble() const { return kind == Int ? double(i) : f; }
  Value at(llvm::SMRange r) const {
    Value v = *this;
    v.range = r;
    return v;
  }
};

/// A short description for messages: "f32[32,1]", "integer 3", "a list".
std::string describe(const Value &v);
/// A value as the source would write it (64, "a b", [2, 3], f32[4,1] for a
/// tensor where `tensors`), or "" when it has none or would pass the bounds
/// (SemaValues.cpp).
std::string sourceText(const Value &v, bool tensors, size_t maxItems = SIZE_MAX, size_t maxChars = 1 << 20);
/// Calls `f` with every statement of `b` and of the loops and branches in
/// it, in order, and the name each binds there and where (an assignment,
/// an input, a param, an output with a value; "" for the others).
void forEachBinding(const ast::Block &b, llvm::function_ref<void(const ast::Stmt &, llvm::StringRef, llvm::SMLoc)> f);
/// A tensor type as the source language writes it: bool, not the IR's i1.
std::string srcType(const TensorType &t);

/// The arguments of one call, bound to the callee's parameter names.
struct BoundArgs {
  std::vector<Value> values; // one per parameter; None when not given
  std::vector<bool> given;
  const ast::CallExpr *call = nullptr;
  const Value &operator[](size_t i) const { return values[i]; }
  bool has(size_t i) const { return given[i]; }
};

class SemaImpl {
public:
  SemaImpl(DiagEngine &diag, const SemaOptions &opts)
      : diag(diag), opts(opts), indexElementsLeft(opts.maxIndexElements) {}

  std::unique_ptr<Module> run(const ast::Program &user, const ast::Program &prelude);

  // --- diagnostics ---------------------------------------------------------
  Value error(llvm::SMLoc loc, const llvm::Twine &msg, llvm::ArrayRef<llvm::SMRange> ranges = {},
              llvm::ArrayRef<DiagEngine::Note> notes = {});
  void note(llvm::SMLoc loc, const llvm::Twine &msg) { diag.note(loc, msg); }
  void warnUntrained(const Node *loss, llvm::SMLoc lossLoc);
  llvm::SMLoc paramSite(const std::string &param);
  void checkUnreadInputs(llvm::SMLoc lossLoc);
  void checkTextModel(const Node *context, llvm::SMLoc contextLoc, const Node *target, llvm::SMLoc targetLoc);

  // --- expressions (SemaExpr.cpp) -------------------------------------------
  /// Evaluates `e`, counting it against the budget and the nesting limit.
  Value eval(const ast::Expr &e);
  Value evalNode(const ast::Expr &e);
  Value evalBinary(const ast::BinaryExpr &e);
  Value evalUnary(const ast::UnaryExpr &e);
  Value evalCall(const ast::CallExpr &e);
  /// x.sum(1).mean() as mean(sum(x, 1)), for messages.
  std::string functionForm(const ast::Expr &e);
  Value evalIndex(const ast::IndexExpr &e);
  Value evalMember(const ast::MemberExpr &e);
  void skipFailedBranches(const ast::IfStmt &i);
  Value callFunction(const ast::FnDecl &fn, const ast::CallExpr &call, const std::string &scope);
  bool bindArgs(llvm::ArrayRef<std::string> params, size_t required, const ast::CallExpr &call,
                llvm::StringRef calleeName, BoundArgs &out);
  std::string scopeName(const ast::Expr &scope, bool &ok);

  /// Apply a binary tensor op with NumPy broadcasting; `what` names the
  /// operator in messages ("'+'", "maximum").
  Value arith(OpKind op, Value a, Value b, llvm::SMLoc opLoc, llvm::StringRef what);
  /// Broadcast tensors and numbers to their common shape (NumPy rules), for
  /// an elementwise op; numbers become constants of `dtype`.
  bool broadcastValues(llvm::ArrayRef<Value> vals, DType dtype, llvm::SMLoc opLoc, llvm::StringRef what,
                       llvm::SmallVectorImpl<Node *> &out);
  Value matmul(Value a, Value b, llvm::SMLoc opLoc);
  /// The note for f32 meeting f64 inside the prelude: it computes in the
  /// model's float type.
  std::string preludeFloatNote() const;
  /// For two float dtypes that differ: how to convert one side.
  std::string floatConversionNote(DType a, DType b) const;
  /// Compile-time arithmetic on numbers and booleans.
  std::optional<bool> sameConstant(const Value &a, const Value &b);
  Value foldConstant(llvm::StringRef op, const Value &a, const Value &b, llvm::SMLoc opLoc);

  // --- builtins (SemaBuiltins.cpp) -----------------------------------------
  std::optional<Builtin> findBuiltin(llvm::StringRef name) const;
  /// Offers every builtin's name, elementwise ops included, to `near`.
  void considerBuiltins(NearMiss &near) const;
  /// The elementwise op a builtin name calls (its row in ir/Ops.def).
  std::optional<OpKind> findOpBuiltin(llvm::StringRef name) const;
  Value callBuiltin(Builtin b, const ast::CallExpr &call);
  /// A call of an elementwise op: numbers fold by the op's scalar
  /// semantics, tensors broadcast, and the op's type rule checks them.
  Value callOp(OpKind k, const ast::CallExpr &call);
  Value applyBuiltin(Builtin b, const BoundArgs &args, const ast::CallExpr &call);
  Node *randomBits(llvm::ArrayRef<int64_t> shape);
  /// A random tensor's size fits randomBits' i32 element index (else said).
  bool checkRandomSize(llvm::ArrayRef<int64_t> shape, llvm::SMLoc loc, const llvm::Twine &what,
                       llvm::ArrayRef<llvm::SMRange> ranges);
  Node *uniformFromBits(Node *bits);
  /// Normalise an axis or list of axes against a rank; empty `out` with
  /// `all` set means every axis. `tensor` is the range of the value whose
  /// rank it is: an axis of the prelude's own out of range for a user's
  /// argument (softmax of a scalar) is said at the argument.
  bool axesArg(const Value &v, unsigned rank, std::vector<int64_t> &out, llvm::SMLoc loc, llvm::SMRange tensor = {});
  bool intArg(const Value &v, int64_t &out, llvm::SMLoc loc, llvm::StringRef what);
  bool shapeArg(const Value &v, Dims &out, llvm::SMLoc loc);
  /// Reports a tensor of `shape` that would be too large (ir/Types.h,
  /// kMaxElements) as "what: f32[...] is too large: ..."; true when it fits.
  bool checkSize(llvm::ArrayRef<int64_t> shape, DType dt, llvm::SMLoc loc, const llvm::Twine &what,
                 llvm::ArrayRef<llvm::SMRange> ranges = {});
  /// v's node, or null after "WHAT must be EXPECTED, got ..." (a
  /// conversion says "a number or a tensor": it converts numbers too).
  Node *tensorArg(const Value &v, llvm::SMLoc loc, llvm::StringRef what, llvm::StringRef expected = "a tensor");
  /// Indices known at compile time (arange(4) * 2 - 1, i32(full(...)))
  /// must lie in 0..limit-1: the generated code clamps an index, so one out
  /// of range would silently read the nearest row. Reports the lowest
  /// value below 0, else the highest (`entries` names what is indexed:
  /// "index 5 is out of range for 5 rows (0..4)"); false when one is out
  /// of range.
  bool checkConstantIndices(const Value &v, int64_t limit, llvm::StringRef entries);
  Value reduce(OpKind op, const Value &x, const Value &axis, bool keepdims, llvm::SMLoc loc);

  // --- statements (Sema.cpp) -----------------------------------------------
  enum class Flow { Next, Return };
  Flow execBlock(const ast::Block &b);
  Flow execStmt(const ast::Stmt &s);
  void execModel(const ast::ModelDecl &m);
  void declareInput(const ast::InputStmt &s);
  void declareParam(const ast::ParamStmt &s);
  /// "'x' is already defined", with a note at the first 'x'.
  void alreadyDefined(const std::string &name, llvm::SMLoc loc);
  bool evalType(const ast::TypeExpr &t, TensorType &out);
  void recordTrain(const ast::TrainStmt &s);
  void checkReservedNames();
  void recordData(const ast::DataStmt &s);
  void buildTableData(const ast::DataStmt &s);
  void finishModel(const ast::ModelDecl &m);
  void bind(const std::string &name, Value v, llvm::SMLoc loc);
  /// Whether `name` may be assigned here (not an input or param of the
  /// model body); reports at `loc` when not.
  bool assignable(const std::string &name, llvm::SMLoc loc);

  // --- state ---------------------------------------------------------------
  /// Local variables of one function activation (or the model body).
  struct Frame {
    llvm::StringMap<Value> vars;
    Value returned = Value::none();
    bool didReturn = false; // a 'return' ran (else the call's value is none)
    bool inData = false; // random builtins allowed
    /// Names bound only in a branch of an `if` not taken, where: said
    /// with "unknown name" (it was a bare one).
    llvm::StringMap<llvm::SMLoc> untaken;
  };
  Value lookup(llvm::StringRef name, llvm::SMRange r);
  /// Each name read in prelude code, by where it was read (the range's
  /// start), with its end and the value's origin (see Value::origin):
  /// the latest read at each place, so an error at one's range can be said
  /// at the user's argument.
  llvm::DenseMap<const char *, std::pair<llvm::SMLoc, llvm::SMRange>> preludeReads;
  /// The user's argument an error at `loc` with `ranges` in prelude code is
  /// about, if its range is exactly a read of one; else an invalid range.
  llvm::SMRange argumentAt(llvm::SMLoc loc, llvm::ArrayRef<llvm::SMRange> ranges) const;
  /// For a place in the prelude: the innermost call in the user's code that
  /// led there, and the function it calls ("" and `loc` itself elsewhere).
  std::pair<llvm::SMLoc, std::string> userCall(llvm::SMLoc loc) const;
  /// Whether `name` is a constant, a function or a builtin.
  bool knownName(llvm::StringRef name);
  /// The value of `-D NAME=TEXT` (SemaDefines.cpp).
  Value parseDefine(llvm::StringRef text, llvm::StringRef name);
  /// A note for a scoped call whose scope is a tensor's name (x.mean()).
  llvm::SmallVector<DiagEngine::Note, 1> valueScopeNote(const ast::CallExpr &call);
  /// Reports `name`, found nowhere at `r`, saying why where it can (a
  /// constant used above its definition, a model value in a data block)
  /// and otherwise offering the nearest visible name.
  void unknownName(llvm::StringRef name, llvm::SMRange r);
  /// The file's constants while they are evaluated, in order, and the
  /// index of the one being evaluated: a name among the later ones is one
  /// used above its definition.
  llvm::ArrayRef<std::unique_ptr<ast::ConstStmt>> constStmts;
  size_t constIndex = 0;
  /// "the number 3.5e+38 does not fit in f32 ..." when `v`, a number that
  /// becomes an f32 constant, would be infinite there; "" when it fits.
  static std::string f32RangeProblem(const Value &v);
  /// "; is 'f' recursive? ..." for a chain of calls past the depth limit.
  std::string recursionHint(llvm::StringRef calling) const;
  Frame &frame() { return frames.back(); }
  bool isUserLoc(llvm::SMLoc loc) const;
  /// The buffers holding -D values: their names are looked up as the
  /// user's, not the prelude's.
  std::vector<unsigned> defineBuffers;
  /// Point the builder at `loc` (or, inside prelude code, at the user's call).
  void setLoc(llvm::SMLoc loc);
  /// loc in the IR's terms, its source line recorded for dumps and carets
  /// (a prelude location becomes the user's call site).
  Location irLocation(llvm::SMLoc loc);
  Builder &b() { return *builder; }

  DiagEngine &diag;
  const SemaOptions &opts;
  std::unique_ptr<Module> module;
  Graph *graph = nullptr;
  std::unique_ptr<Builder> builder;
  unsigned userBuffer = 0;
  unsigned randomStreams = 0; // call sites of rand_uniform/rand_normal in the model

  llvm::StringMap<Value> globals;                  // constants, functions, initialisers
  llvm::DenseSet<const ast::FnDecl *> brokenFns;   // declared wrongly (said); calls give an invalid value
  llvm::StringMap<const ast::FnDecl *> functions;  // user and prelude functions
  // What prelude code sees (lookup): its own functions, pi and initialisers.
  llvm::StringMap<const ast::FnDecl *> preludeFunctions;
  bool declarationFailed = false; // an input or param declaration was in error
  int failedInputs = 0;            // input declarations in error (they name no input)
  llvm::StringMap<Value> preludeGlobals;
  std::vector<Frame> frames;
  std::vector<std::string> scopes;                 // parameter name prefix: {"h", "0", "attn"}
  llvm::SMLoc callSite;                            // user location while inside prelude code
  const ast::FnDecl *defaultOf = nullptr;          // the function whose default is being computed
  std::string defaultParam;                        // ... and the parameter it is the default of
  /// The defaults being computed, outermost first, kept through the calls
  /// they make (defaultOf is cleared in a callee's body): a param declared
  /// there is declared again at every call that takes the default, and a
  /// default that needs itself never ends.
  std::vector<std::pair<const ast::FnDecl *, std::string>> defaultsInProgress;
  /// Where each param was declared: the calls that led there, outermost
  /// first, and the declaration.
  struct ParamOrigin {
    std::vector<DiagEngine::CallSite> calls;
    llvm::SMLoc decl;
  };
  llvm::StringMap<ParamOrigin> paramOrigins;
  /// The origins (outermost calls, or declarations) whose duplicate
  /// parameters were reported: one error per mistake, however many
  /// parameters or loop iterations repeat it.
  llvm::DenseSet<const char *> reportedDuplicates;
  /// The smallest and largest element of each index tensor checked so far
  /// (none when not known at compile time): a loop gathering with one
  /// constant index computes its elements once. Cleared when a graph's
  /// nodes are freed, which would leave stale keys.
  llvm::DenseMap<const Node *, std::optional<std::pair<int64_t, int64_t>>> constantIndexRanges;
  /// Most elements computed to learn one index tensor's values.
  static constexpr int64_t kMaxIndexElements = 1 << 20;
  /// Elements left to compute for index checks in the whole program: a
  /// loop of 100000 passes over onehot(arange(65536) % 4, 4) made a new
  /// index tensor each pass and took minutes (found by fuzz_grad). Past
  /// it, indices go unchecked at build time (the generated code clamps).
  int64_t indexElementsLeft; // SemaOptions::maxIndexElements at the start

  // --- limits ----------------------------------------------------------------
  // Work is counted against SemaOptions::maxSteps and maxNodes (Sema.h).
  static constexpr int64_t kStepsPerCall = 10;
  static constexpr unsigned kMaxCallDepth = 64;
  /// Nested evaluation (expressions, blocks and the calls among them): the
  /// parser bounds each function's nesting, this bounds their sum over a
  /// chain of calls, so analysis cannot run out of stack. 512 levels take
  /// at most about 1 MB of stack (3 MB with AddressSanitizer's frames).
  static constexpr unsigned kMaxEvalDepth = 512;
  /// Counts one more level of nesting at `loc`; false (after reporting)
  /// past kMaxEvalDepth.
  bool enter(llvm::SMLoc loc);
  /// Longest compile-time string: long enough for any path a program
  /// names, short enough that copying one is a step like any other.
  static constexpr size_t kMaxStringBytes = 1024;
  static constexpr uint32_t kMaxListDepth = 1000;
  static constexpr size_t kMaxDefineStringBytes = 4096; // PATH_MAX: -D corpus=PATH
  int64_t steps = 0;
  int64_t listCopySteps = 0; // of those, the items copied by joining lists
  llvm::DenseMap<const char *, int64_t> joinCopies; // items each '+' of lists copied
  int64_t biggestJoinItems = 0; // the most one of them copied,
  llvm::SMLoc biggestJoin;      // ... and where (the note blames it)
  unsigned evalDepth = 0;
  /// Set when a budget ran out: analysis unwinds without further messages.
  bool stopped = false;
  /// The loops being unrolled, outermost first, for the budget's message.
  struct ActiveLoop {
    const ast::ForStmt *stmt;
    int64_t iterations;
    size_t calls; // how many calls were being inlined around it
  };
  std::vector<ActiveLoop> loops;
  /// Counts `n` steps at `loc`; false (after reporting once) when a budget
  /// has run out and analysis must stop.
  bool spend(llvm::SMLoc loc, int64_t n = 1);
  void overBudget(llvm::SMLoc loc, const llvm::Twine &budget, bool nodes = false);
  /// The model-body statement that made the most graph nodes so far, and
  /// how many: the node budget's error names it when it ran out elsewhere.
  llvm::SMLoc biggestStmt;
  int64_t biggestStmtNodes = 0;

  // What the model declared.
  const ast::ModelDecl *model = nullptr;
  // In declaration order.
  llvm::MapVector<std::string, Node *, std::map<std::string, unsigned>> inputs, params;
  llvm::StringMap<llvm::SMLoc> inputLocs;
  /// Where each name of the model body (or of the constants' frame) was
  /// first assigned, for "already defined".
  llvm::StringMap<llvm::SMLoc> firstAssigned;
  std::vector<std::pair<std::string, Value>> outputs, metrics;
  llvm::StringMap<llvm::SMLoc> metricLocs; // where each metric is named
  /// What `output p = EXPR` bound p to: the output is that value, whatever
  /// p is assigned later.
  std::map<std::string, Value> outputBound;
  const ast::TrainStmt *trainStmt = nullptr;
  const ast::DataStmt *dataStmt = nullptr;
};

} // namespace gradc
