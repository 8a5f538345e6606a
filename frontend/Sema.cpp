//===- frontend/Sema.cpp - statements, declarations and the program -----===//
#include "frontend/Lexer.h"
#include "frontend/Parser.h"
#include "frontend/SemaImpl.h"
#include "ir/Declarations.h"
#include "ir/SourceDiag.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <cstdint>

namespace gradc {

using namespace ast;
using llvm::cast;


Value SemaImpl::error(llvm::SMLoc loc, const llvm::Twine &msg, llvm::ArrayRef<llvm::SMRange> ranges,
                      llvm::ArrayRef<DiagEngine::Note> notes) {
  if (llvm::SMRange arg = argumentAt(loc, ranges); arg.isValid())
    diag.errorAtArgument(arg, loc, msg, notes);
  else
    diag.error(loc, msg, ranges, notes);
  return Value::error();
}

llvm::SMRange SemaImpl::argumentAt(llvm::SMLoc loc, llvm::ArrayRef<llvm::SMRange> ranges) const {
  if (!diag.inPrelude(loc)) return {};
  // The user's argument a range is exactly a read of, if any.
  auto argument = [&](llvm::SMRange r) -> llvm::SMRange {
    auto it = preludeReads.find(r.Start.getPointer());
    if (it != preludeReads.end() && it->second.first == r.End) return it->second.second;
    return {};
  };
  for (llvm::SMRange r : ranges)
    if (llvm::SMRange a = argument(r); r.Start == loc && a.isValid()) return a;
  // An operator between the user's argument and something of the prelude's
  // own (gelu's `approximate == "none"` on gelu(h, 0); softmax's default
  // axis on a scalar), or between one argument and itself (square's `x * x`
  // on square("a")), is the argument's mistake. Between two arguments
  // (mse's `pred - y`) it could be either's, and stays at the operator.
  llvm::SMRange only;
  int arguments = 0;
  for (llvm::SMRange r : ranges)
    if (llvm::SMRange a = argument(r); a.isValid() && (a.Start != only.Start || a.End != only.End)) only = a, ++arguments;
  return ranges.size() >= 2 && arguments == 1 ? only : llvm::SMRange();
}

std::pair<llvm::SMLoc, std::string> SemaImpl::userCall(llvm::SMLoc loc) const {
  if (!diag.inPrelude(loc)) return {loc, ""};
  // The innermost call written in the user's code, and the prelude
  // function it calls.
  for (size_t i = diag.calls.size(); i-- > 0;)
    if (!diag.inPrelude(diag.calls[i].loc)) return {diag.calls[i].loc, diag.calls[i].callee};
  return {loc, ""};
}

bool SemaImpl::spend(llvm::SMLoc loc, int64_t n) {
  if (stopped) return false;
  if ((steps += n) > opts.maxSteps)
    overBudget(loc, llvm::Twine(opts.maxSteps) + " steps (expressions evaluated, statements run, list items copied)");
  else if (graph && int64_t(graph->nodes.size()) > opts.maxNodes)
    overBudget(loc, llvm::Twine(opts.maxNodes) + " graph nodes", true);
  return !stopped;
}

void SemaImpl::overBudget(llvm::SMLoc loc, const llvm::Twine &budget, bool nodes) {
  stopped = true;
  // `outs = outs + [h]` copies outs each time: a loop collecting 2000
  // items copies 2 million, and "2000 iterations" against a budget of a
  // million steps said nothing of why.
  llvm::SmallVector<DiagEngine::Note, 1> notes;
  // The note goes to the join that copied most: the budget may run out
  // anywhere, a prelude function's line included.
  if (listCopySteps * 2 > steps)
    notes.push_back({biggestJoin.isValid() ? biggestJoin : loc,
                     ("joining lists copies them, a step per item: " + llvm::Twine(listCopySteps) +
                      " of the steps went to copies (outs = outs + [h] copies outs every time, so collecting n "
                      "items takes about n*n/2)")
                         .str()});
  // A loop above made most of the nodes and the budget ran out at an
  // innocent `s = r - 1` after it, which the error alone blamed.
  if (nodes && biggestStmt.isValid() && biggestStmt != loc && biggestStmtNodes * 2 > opts.maxNodes)
    notes.push_back({biggestStmt, "this statement made " + std::to_string(biggestStmtNodes) + " of them"});
  if (loops.empty()) {
    error(loc, "analysis goes over the compile-time budget of " + budget + " here", {}, notes);
    return;
  }
  // Blame the outermost loop being unrolled, with the calls around it.
  const ActiveLoop &outer = loops.front();
  std::string counts;
  for (auto &l : loops) counts += (counts.empty() ? "" : " x ") + std::to_string(l.iterations);
  std::vector<DiagEngine::CallSite> inner(diag.calls.begin() + outer.calls, diag.calls.end());
  diag.calls.resize(outer.calls);
  error(outer.stmt->loc(), "unrolling this loop (" + counts + " iterations" + (loops.size() > 1 ? " with the loops inside it" : "") +
                               ") goes over the compile-time budget of " + budget, {}, notes);
  diag.calls.insert(diag.calls.end(), inner.begin(), inner.end());
}

bool SemaImpl::isUserLoc(llvm::SMLoc loc) const {
  return loc.isValid() && diag.sourceMgr().FindBufferContainingLoc(loc) == userBuffer;
}

void SemaImpl::setLoc(llvm::SMLoc loc) {
  if (Location l = irLocation(loc); l.known()) b().loc = l;
}

Location SemaImpl::irLocation(llvm::SMLoc loc) {
  if (!isUserLoc(loc)) loc = callSite;
  if (!loc.isValid()) return {};
  auto &sm = diag.sourceMgr();
  auto [line, col] = sm.getLineAndColumn(loc, userBuffer);
  uint32_t file = module->fileId(sm.getMemoryBuffer(userBuffer)->getBufferIdentifier());
  Location at{file, line, col};
  auto key = std::make_pair(file, line);
  if (!module->sourceLines.count(key)) {
    const char *p = loc.getPointer() - (col - 1);
    const char *end = sm.getMemoryBuffer(userBuffer)->getBufferEnd();
    const char *e = p;
    while (e < end && *e != '\n' && *e != '\r') ++e;
    // With its indentation, which the column counts (a caret placed by
    // the column under the trimmed line sat that much to the right).
    llvm::StringRef text = llvm::StringRef(p, e - p).rtrim();
    // Keep the statement, not its trailing comment.
    size_t hash = text.find('#');
    if (hash != llvm::StringRef::npos && text.find('"') == llvm::StringRef::npos) text = text.take_front(hash).rtrim();
    module->sourceLines[key] = text.str();
  }
  return at;
}


/// An 'if' whose condition failed runs neither branch. What either branch
/// would define is then defined as an error value, so the uses that follow
/// raise nothing more ("model has no loss", "unknown name") after the one
/// error that says what is wrong.
void SemaImpl::skipFailedBranches(const IfStmt &i) {
  auto skip = [&](const Stmt &st, llvm::StringRef name, llvm::SMLoc) {
    if (llvm::isa<InputStmt>(st)) declarationFailed = true, ++failedInputs;
    else if (!frame().vars.count(name)) frame().vars[name] = Value::error();
  };
  forEachBinding(i.then, skip);
  forEachBinding(i.otherwise, skip);
}

bool SemaImpl::assignable(const std::string &name, llvm::SMLoc loc) {
  if (frames.size() == 1 && (inputs.count(name) || params.count(name))) {
    error(loc, "cannot assign to " + std::string(inputs.count(name) ? "input" : "parameter") + " '" + name + "'");
    return false;
  }
  return true;
}

void SemaImpl::bind(const std::string &name, Value v, llvm::SMLoc loc) {
  if (!v.isError() && !assignable(name, loc)) return;
  // `w = rand_normal(...)` in a data block made a local that shadowed the
  // param w, silently: it reads as setting w's starting values, which it
  // did not (a data block cannot read w either). A loop variable named w
  // there reads as no such thing, and stays fine.
  if (!v.isError() && frame().inData && diag.calls.empty() && params.count(name)) {
    error(loc, "'" + name + "' is a parameter of the model, which a data block cannot set: a parameter starts from "
               "its initialiser (param " + name + ": TYPE = INIT) and training changes it; give this value another name");
    frame().vars[name] = Value::error(); // its reads below are this mistake, said
    return;
  }
  if (v.kind == Value::Tensor && v.node->name.empty() && isUserLoc(loc)) v.node->name = name;
  if (frames.size() == 1) firstAssigned.try_emplace(name, loc);
  frame().vars[name] = std::move(v);
}

//===--- types ------------------------------------------------------------===//

bool SemaImpl::evalType(const TypeExpr &t, TensorType &out) {
  auto dt = parseDType(t.dtype);
  if (!dt) {
    error(t.dtypeRange.Start, "unknown dtype '" + t.dtype + "'; expected f32, f64, i32 or bool", {t.dtypeRange});
    return false;
  }
  out.dtype = *dt == DType::F32 ? opts.floatType : *dt;
  out.shape.clear();
  bool ok = true;
  for (auto &d : t.dims) {
    Value v = eval(*d);
    if (v.isError()) {
      ok = false;
      continue;
    }
    if (v.kind != Value::Int || v.i < 1) {
      error(d->loc(), "a dimension must be a positive integer, but this is " + describe(v), {d->range});
      ok = false;
      continue;
    }
    out.shape.push_back(v.i);
  }
  return ok && checkSize(out.shape, out.dtype, t.range.Start, "tensor type", {t.range});
}

//===--- statements -------------------------------------------------------===//

SemaImpl::Flow SemaImpl::execBlock(const Block &b) {
  if (b.empty()) return Flow::Next;
  if (!enter(b.front()->loc())) return Flow::Return;
  auto leave = llvm::make_scope_exit([&] { --evalDepth; });
  bool body = frames.size() == 1 && diag.calls.empty() && loops.empty();
  for (auto &s : b) {
    if (diag.tooMany() || !spend(s->loc())) return Flow::Return;
    int64_t before = graph ? int64_t(graph->nodes.size()) : 0;
    if (execStmt(*s) == Flow::Return) return Flow::Return;
    if (int64_t made = graph ? int64_t(graph->nodes.size()) - before : 0; body && made > biggestStmtNodes)
      biggestStmt = s->loc(), biggestStmtNodes = made;
  }
  return Flow::Next;
}

SemaImpl::Flow SemaImpl::execStmt(const Stmt &s) {
  bool inModelBody = frames.size() == 1 && !frame().inData;
  auto modelOnly = [&](llvm::StringRef what) {
    if (inModelBody) return true;
    error(s.loc(), what + " belongs in the model body, not in a function or data block");
    return false;
  };
  switch (s.kind) {
  case Stmt::Assign: {
    auto &a = cast<AssignStmt>(s);
    bind(a.name, eval(*a.value), a.nameLoc);
    return Flow::Next;
  }
  case Stmt::Const: {
    auto &c = cast<ConstStmt>(s);
    Value v = eval(*c.value);
    if (v.kind == Value::Tensor) {
      error(c.value->loc(), "a constant must be known at compile time, but this is a tensor", {c.value->range});
      v = Value::error();
    }
    bind(c.name, v, c.nameLoc);
    return Flow::Next;
  }
  case Stmt::Input:
    if (modelOnly("an input")) declareInput(cast<InputStmt>(s));
    return Flow::Next;
  case Stmt::Param:
    if (frame().inData) {
      // fc.linear(x, 4) in a data block: at the user's call, not at the
      // prelude's `param` line.
      if (auto [at, fn] = userCall(s.loc()); !fn.empty()) {
        error(at, fn + " declares parameters, and a data block cannot have any; it is for the model");
        diag.claimPreludeCall();
      } else
        error(s.loc(), "a data block cannot declare parameters");
      // Its uses are this mistake, not unknown names.
      bind(cast<ParamStmt>(s).name, Value::error(), cast<ParamStmt>(s).nameLoc);
    } else
      declareParam(cast<ParamStmt>(s));
    return Flow::Next;
  case Stmt::Return: {
    if (frames.size() == 1) {
      error(s.loc(), "'return' outside a function");
      return Flow::Next;
    }
    // A bare 'return' leaves the call's value none, and didReturn unset,
    // so that messages about that none name the function.
    if (auto *value = cast<ReturnStmt>(s).value.get()) {
      frame().returned = eval(*value);
      frame().didReturn = true;
    }
    return Flow::Return;
  }
  case Stmt::For: {
    auto &f = cast<ForStmt>(s);
    Value lo = eval(*f.lo), hi = eval(*f.hi);
    if (lo.isError() || hi.isError()) return Flow::Next;
    if (lo.kind != Value::Int || hi.kind != Value::Int) {
      error(f.lo->loc(), "a loop range needs integers, got " + describe(lo) + " .. " + describe(hi),
            {llvm::SMRange(f.lo->range.Start, f.hi->range.End)});
      return Flow::Next;
    }
    int64_t count;
    if (llvm::SubOverflow(hi.i, lo.i, count) || count > 100000) {
      error(f.lo->loc(), "a loop from " + llvm::Twine(lo.i) + " to " + llvm::Twine(hi.i) +
                             " is too long to unroll (at most 100000 iterations)");
      return Flow::Next;
    }
    // The loop assigns its variable on every pass, as `x = i` would.
    if (!assignable(f.var, f.varLoc)) {
      note(f.varLoc, "a loop variable is assigned on every pass; give it a name of its own");
      return Flow::Next;
    }
    loops.push_back({&f, std::max<int64_t>(count, 0), diag.calls.size()});
    diag.loops.push_back({f.loc(), f.var, lo.i, diag.calls.size()});
    auto leave = llvm::make_scope_exit([&] {
      loops.pop_back();
      diag.loops.pop_back();
    });
    for (int64_t i = lo.i; i < hi.i; ++i) {
      if (!spend(f.loc())) return Flow::Return;
      frame().vars[f.var] = Value::integer(i);
      diag.loops.back().value = i;
      if (execBlock(f.body) == Flow::Return) return Flow::Return;
    }
    return Flow::Next;
  }
  case Stmt::If: {
    auto &i = cast<IfStmt>(s);
    Value c = eval(*i.cond);
    // A bool tensor (training(), x > 0) is known only when the step runs.
    if (!c.isError() && c.kind != Value::Bool)
      error(i.cond->loc(), "'if' needs a compile-time true or false, got " + describe(c), {i.cond->range},
            c.kind == Value::Tensor ? llvm::SmallVector<DiagEngine::Note, 1>{{i.cond->loc(), "a value chosen while the "
                                      "model runs is where(cond, a, b): where(training(), a, b) for training()"}}
                                    : llvm::SmallVector<DiagEngine::Note, 1>{});
    if (c.isError() || c.kind != Value::Bool) {
      skipFailedBranches(i);
      return Flow::Next;
    }
    forEachBinding(c.b ? i.otherwise : i.then,
                   [&](const Stmt &, llvm::StringRef bound, llvm::SMLoc at) { frame().untaken.try_emplace(bound, at); });
    return execBlock(c.b ? i.then : i.otherwise);
  }
  case Stmt::Train:
    if (modelOnly("'train'")) {
      if (trainStmt) {
        error(s.loc(), "the model already has a 'train' statement");
        note(trainStmt->loc(), "the first one is here");
      } else {
        trainStmt = &cast<TrainStmt>(s);
      }
    }
    return Flow::Next;
  case Stmt::Output: {
    auto &o = cast<OutputStmt>(s);
    if (!modelOnly("'output'")) return Flow::Next;
    if (o.value) {
      Value v = eval(*o.value);
      bind(o.name, v, o.nameLoc);
      // Only a value that was bound: `output x = ...` of an input is
      // refused by bind, and a warning that x "is assigned again" after it
      // was noise beside that error.
      auto now = frame().vars.find(o.name);
      if (!v.isError() && now != frame().vars.end() && now->second.kind == v.kind &&
          (v.kind == Value::Tensor ? now->second.node == v.node : now->second.range.Start == v.range.Start))
        outputBound[o.name] = v;
    }
    outputs.push_back({o.name, Value::make(Value::None, o.range)});
    return Flow::Next;
  }
  case Stmt::Metric: {
    auto &m = cast<MetricStmt>(s);
    if (!modelOnly("'metric'")) return Flow::Next;
    Value v = eval(*m.value);
    if (v.isError()) return Flow::Next;
    if (v.kind != Value::Tensor || !v.node->type.isScalar() || !isFloat(v.node->type.dtype)) {
      error(m.value->loc(), "a metric must be a float scalar, but this is " + describe(v), {m.value->range});
      if (v.kind == Value::Tensor && v.node->type.isScalar())
        note(m.value->loc(), "convert it, for example with float(...)");
      else
        note(m.value->loc(), "reduce it, for example with mean(...)");
      return Flow::Next;
    }
    for (auto &[name, _] : metrics)
      if (name == m.name) {
        error(m.nameLoc, "metric '" + m.name + "' is defined twice");
        return Flow::Next;
      }
    // eval and the progress lines report the loss under that name already.
    if (m.name == "loss") {
      error(m.nameLoc, "a metric cannot be named 'loss': the loss is reported already; give it another name");
      return Flow::Next;
    }
    // train's progress lines print the validation loss as `val`, and the
    // metrics after it: `val 3.08  val -0.82` cannot be read.
    if (m.name == "val") {
      error(m.nameLoc, "a metric cannot be named 'val': train's progress lines report the validation loss as 'val'; "
                       "give it another name");
      return Flow::Next;
    }
    // The progress lines begin `step 40/100`: `step 0.75` after it read as
    // another count.
    if (m.name == "step") {
      error(m.nameLoc, "a metric cannot be named 'step': train's progress lines begin with the step; give it another "
                       "name");
      return Flow::Next;
    }
    metrics.push_back({m.name, v});
    metricLocs[m.name] = m.nameLoc; // finishModel checks it against the params
    return Flow::Next;
  }
  case Stmt::Data:
    if (modelOnly("'data'")) {
      if (dataStmt) {
        error(s.loc(), "the model already has a 'data' statement");
        note(dataStmt->loc(), "the first one is here");
      } else {
        dataStmt = &cast<DataStmt>(s);
      }
    }
    return Flow::Next;
  }
  return Flow::Next;
}

void SemaImpl::alreadyDefined(const std::string &name, llvm::SMLoc loc) {
  // Where the first came from: an input's or param's declaration, else the
  // value assigned to it.
  llvm::SMLoc first = inputLocs.lookup(name);
  if (auto it = paramOrigins.find(name); !first.isValid() && it != paramOrigins.end()) first = it->second.decl;
  if (!first.isValid()) first = firstAssigned.lookup(name);
  llvm::SmallVector<DiagEngine::Note, 1> notes;
  if (first.isValid()) notes.push_back({first, "the first '" + name + "' is here"});
  error(loc, "'" + name + "' is already defined", {}, notes);
}

void SemaImpl::declareInput(const InputStmt &s) {
  TensorType t;
  // A declaration that fails still names something: the uses of the name
  // raise nothing more (not "unknown name 'x'", nor "no inputs").
  auto failed = [&] {
    if (!frame().vars.count(s.name)) frame().vars[s.name] = Value::error();
    declarationFailed = true;
    ++failedInputs;
  };
  if (!evalType(s.type, t)) return failed();
  if (inputs.count(s.name) || params.count(s.name) || frame().vars.count(s.name)) {
    alreadyDefined(s.name, s.nameLoc);
    return;
  }
  if (t.rank() == 0) {
    error(s.type.range.Start, "an input needs a batch dimension first, e.g. f32[B, 1]", {s.type.range});
    return failed();
  }
  setLoc(s.nameLoc);
  Node *n = b().leaf(OpKind::Input, s.name, t);
  inputs[s.name] = n;
  inputLocs[s.name] = s.nameLoc;
  frame().vars[s.name] = Value::tensor(n, llvm::SMRange(s.nameLoc, s.nameLoc));
}

/// What `param w: T = INIT` takes (SemaBuiltins.cpp makes them).
static constexpr const char *kInitialisers = "zeros, ones, constant(value), normal(std), uniform(low, high), "
                                             "xavier_uniform, xavier_normal, he_uniform and he_normal";
static constexpr llvm::StringLiteral kInitialiserNames[] = {"zeros",         "ones",          "constant",
                                                            "normal",        "uniform",       "xavier_uniform",
                                                            "xavier_normal", "he_uniform",    "he_normal"};
static constexpr std::pair<const char *, const char *> kInitialiserAliases[] = {
    {"randn", "normal(std)"},        {"rand", "uniform(low, high)"},    {"kaiming_normal", "he_normal"},
    {"kaiming_uniform", "he_uniform"}, {"glorot_normal", "xavier_normal"}, {"glorot_uniform", "xavier_uniform"},
    {"full", "constant(value)"},     {"fill", "constant(value)"},       {"zero", "zeros"},
    {"one", "ones"}};

void SemaImpl::declareParam(const ParamStmt &s) {
  TensorType t;
  auto failed = [&] {
    if (!frame().vars.count(s.name)) frame().vars[s.name] = Value::error();
    declarationFailed = true;
  };
  if (!evalType(s.type, t)) return failed();
  if (!isFloat(t.dtype)) {
    error(s.type.dtypeRange.Start, "a parameter must be a float tensor, not " + srcType(t), {s.type.range});
    return failed();
  }
  std::string full;
  for (auto &sc : scopes) full += sc + ".";
  full += s.name;
  // A default is computed again at every call that takes it: its params
  // were "defined twice" at the second such call, with a note about loops.
  if (!defaultsInProgress.empty()) {
    auto &[fn, param] = defaultsInProgress.front();
    error(s.nameLoc, "parameter '" + full + "' is declared while computing the default of '" + param + "' of '" +
                         fn->name + "', which every call that takes the default computes again; declare it in the "
                         "function's body, or pass the value as an argument");
    return failed();
  }
  if (auto it = params.find(full); it != params.end()) {
    // Carry on with the first one where it has this type, so the code after
    // it raises nothing more.
    Node *first = it->second;
    frame().vars[s.name] = first->type == t ? Value::tensor(first, llvm::SMRange(s.nameLoc, s.nameLoc)) : Value::error();
    // The mistake is where the two declarations' call chains part: the
    // call there needs a scope of its own (the outermost call when they
    // part at once; a call inside a function when that function calls the
    // same thing twice). Report once per such place.
    const ParamOrigin &firstAt = paramOrigins[full];
    size_t k = 0;
    while (k < firstAt.calls.size() && k < diag.calls.size() && firstAt.calls[k].loc == diag.calls[k].loc) ++k;
    llvm::SMLoc here = k < diag.calls.size() ? diag.calls[k].loc : s.nameLoc;
    llvm::SMLoc there = k < firstAt.calls.size() ? firstAt.calls[k].loc : firstAt.decl;
    if (!reportedDuplicates.insert(here.getPointer()).second) return;
    error(s.nameLoc, "parameter '" + full + "' is defined twice");
    if (there.isValid() && there != here) note(there, "the first '" + full + "' comes from here");
    if (there == here)
      note(here, "a loop runs this declaration on every pass; for a parameter per pass, declare it in a function "
                 "and call that through an indexed scope, e.g. blocks[i].layer(x)");
    else if (k < diag.calls.size()) {
      llvm::StringRef callee = diag.calls[k].callee;
      auto [scope, fn] = callee.rsplit('.');
      if (fn.empty()) std::swap(scope, fn);
      // fc.linear twice: fc1 and fc2; an indexed scope (blocks.0) or none: layer1 and layer2.
      bool plain = !scope.empty() && !scope.contains('.');
      std::string a = plain ? scope.str() + "1" : "layer1", b = plain ? scope.str() + "2" : "layer2";
      note(here, "give each call its own scope so its parameters get distinct names, e.g. " + a + "." + fn + "(...) and " +
                     b + "." + fn + "(...)");
      // A Siamese model means the two calls to share them: a second scope
      // is the opposite, and the note said nothing else.
      note(here, "to share one set of parameters between the calls instead, make one call on the inputs joined "
                 "along the rows, " + callee + "(concat([a, b], 0)), and slice its halves apart; or declare the params "
                 "in the model and pass them as arguments");
    }
    return;
  }
  if (frames.size() == 1 && (inputs.count(s.name) || frame().vars.count(s.name))) {
    alreadyDefined(s.name, s.nameLoc);
    return;
  }
  // A function called without a scope declares its params under their
  // bare names: `layer_norm(x + bias)` beside `input bias` made a param
  // 'bias' too, and the IR verifier stopped the build with an internal
  // error. (An input declared after the call is refused at the input.)
  if (inputs.count(full)) {
    llvm::SmallVector<DiagEngine::Note, 2> notes{{inputLocs.lookup(full), "the input '" + full + "' is here"}};
    if (!diag.calls.empty())
      notes.push_back({diag.calls.front().loc, "call '" + diag.calls.front().callee +
                                                   "' through a scope so its parameters get names of their own, "
                                                   "e.g. " + diag.calls.front().callee + "1." +
                                                   diag.calls.front().callee + "(...)"});
    error(s.nameLoc, "parameter '" + full + "' has the name of an input", {}, notes);
    return failed();
  }
  std::string init = "zeros";
  if (s.init) {
    // `= randn`, `= kaiming_normal(...)`: another framework's initialiser
    // was "unknown name 'randn'", with no word of what there is.
    llvm::StringRef initName;
    if (auto *n = llvm::dyn_cast<NameExpr>(s.init.get())) initName = n->name;
    if (auto *c = llvm::dyn_cast<CallExpr>(s.init.get()); c && !c->scope) initName = c->callee;
    if (!initName.empty() && !frame().vars.count(initName) && !knownName(initName)) {
      NearMiss near(initName);
      for (llvm::StringRef i : kInitialiserNames) near.consider(i);
      std::string hint = near.hint();
      // Other frameworks' names for the same ones.
      for (auto [theirs, ours] : kInitialiserAliases)
        if (initName.lower() == theirs) hint = std::string("that is ") + ours + " here";
      llvm::SmallVector<DiagEngine::Note, 1> notes;
      if (!hint.empty()) notes.push_back({s.init->loc(), hint});
      error(s.init->loc(), "unknown initialiser '" + initName + "'; there are " + kInitialisers, {s.init->range}, notes);
      return failed();
    }
    // A user function named like an initialiser (fn constant) is what the
    // name means here, and `= constant(0.5)` was refused as no
    // initialiser, with no word of why.
    if (auto f = functions.find(initName); !initName.empty() && f != functions.end() &&
                                           llvm::is_contained(kInitialiserNames, initName)) {
      error(s.init->loc(), "'" + initName + "' is your function here, which hides the initialiser of that name; give "
                           "the function another name", {s.init->range}, {{f->second->nameLoc, "the function is here"}});
      return failed();
    }
    Value v = eval(*s.init);
    if (v.isError()) return failed();
    if (v.kind != Value::Init) {
      error(s.init->loc(), std::string("expected an initialiser (") + kInitialisers + "), got " + describe(v),
            {s.init->range});
      return failed();
    }
    init = v.s;
    // Its arguments against the param's own dtype (f32 or f64).
    if (std::string p = initProblem(init, t.dtype); !p.empty()) {
      error(s.init->loc(), p, {s.init->range});
      return failed();
    }
  }
  setLoc(s.nameLoc);
  Attrs extra;
  extra.set(AttrKey::Init, init);
  Node *n = b().leaf(OpKind::Param, full, t, std::move(extra));
  params[full] = n;
  paramOrigins[full] = {diag.calls, s.nameLoc};
  frame().vars[s.name] = Value::tensor(n, llvm::SMRange(s.nameLoc, s.nameLoc));
}

//===--- the program ------------------------------------------------------===//

/// Whether `v` is a tensor or a list with one inside, at any depth. Lists
/// share their items, so each is looked at once (and without recursion:
/// constants can nest lists as deep as there are constants).
static bool holdsTensor(const Value &v) {
  llvm::SmallVector<const Value *, 8> work{&v};
  llvm::SmallPtrSet<const void *, 8> seen;
  while (!work.empty()) {
    const Value *x = work.pop_back_val();
    if (x->kind == Value::Tensor) return true;
    if (x->kind == Value::List && seen.insert(x->list.get()).second)
      for (const Value &item : x->items()) work.push_back(&item);
  }
  return false;
}


std::unique_ptr<Module> SemaImpl::run(const Program &user, const Program &prelude) {
  module = std::make_unique<Module>();
  auto &sm = diag.sourceMgr();
  userBuffer = sm.getMainFileID();

  // Names every program sees: initialisers and pi.
  for (llvm::StringRef init : initialiserWords())
    globals[init] = Value::init(init.str());
  globals["pi"] = Value::number(M_PI);

  for (auto &f : prelude.fns) {
    // A builtin is found after functions, so a prelude function of the
    // same name would silently replace it everywhere.
    if (findBuiltin(f->name) || findOpBuiltin(f->name))
      error(f->nameLoc, "the prelude defines '" + f->name + "', which is a builtin; the builtin would never be called");
    functions[f->name] = f.get();
  }
  preludeFunctions = functions;
  preludeGlobals = globals;
  // A parameter named twice: the last one silently won. The function is
  // kept, so a call is no unknown name, and its calls give an invalid value
  // that raises nothing more (its body ran with the wrong argument bound,
  // and a prelude error about that followed).
  for (const Program *p : {&prelude, &user})
    for (auto &f : p->fns)
      for (auto q = f->params.begin(); q != f->params.end(); ++q)
        if (auto first = std::find_if(f->params.begin(), q, [&](const FnParam &o) { return o.name == q->name; }); first != q) {
          error(q->loc, "parameter '" + q->name + "' is declared twice");
          note(first->loc, "the first '" + q->name + "' is here");
          brokenFns.insert(f.get());
        }
  llvm::StringMap<const FnDecl *> userFns;
  for (auto &f : user.fns) {
    if (auto it = userFns.find(f->name); it != userFns.end()) {
      error(f->nameLoc, "function '" + f->name + "' is defined twice");
      note(it->second->nameLoc, "the first definition is here");
      continue;
    }
    userFns[f->name] = f.get();
    functions[f->name] = f.get(); // user functions may shadow the prelude's
  }

  // Constants, in order; -D overrides replace the written value. They are
  // evaluated before the model's graph exists, but builtins such as arange
  // still make tensors: those go to a scratch graph, dropped afterwards, and
  // a constant that holds one is an error (it would point into that graph).
  std::map<std::string, std::string> defines(opts.defines.begin(), opts.defines.end());
  Graph scratch("constants");
  graph = &scratch;
  builder = std::make_unique<Builder>(scratch);
  auto sourceLines = module->sourceLines; // no node will quote these
  frames.emplace_back();
  llvm::StringMap<llvm::SMLoc> constLocs;
  bool badDefine = false; // a -D value that is no value
  constStmts = user.consts;
  for (auto &c : user.consts) {
    constIndex = &c - user.consts.data();
    if (auto it = constLocs.find(c->name); it != constLocs.end()) {
      error(c->nameLoc, "constant '" + c->name + "' is defined twice");
      note(it->second, "the first definition is here");
      continue;
    }
    constLocs[c->name] = c->nameLoc;
    // The constant won over a function of its name, in either order, and
    // the function could never be called.
    if (auto f = userFns.find(c->name); f != userFns.end()) {
      error(c->nameLoc, "constant '" + c->name + "' has the name of a function; give one of them another name");
      note(f->second->nameLoc, "the function '" + c->name + "' is here");
    }
    Value v;
    if (auto it = defines.find(c->name); it != defines.end()) {
      llvm::StringRef text = llvm::StringRef(it->second).trim();
      Lexer lex(text, [](llvm::SMLoc, const llvm::Twine &) {});
      Token first = lex.next();
      bool word = first.is(Tok::Ident) && lex.next().is(Tok::Eof);
      auto later = std::find_if(user.consts.begin(), user.consts.end(), [&](auto &k) { return k->name == text; });
      if (text.empty()) {
        // Usually a shell variable that expanded to nothing (-D L=$LAYERS).
        diag.error("-D " + c->name + "=: no value after '='; an empty string is written -D " + c->name + "='\"\"'");
        v = Value::error();
      } else if (llvm::isa<StringExpr>(c->value.get()) && !text.starts_with("\"")) {
        // The constant is written as a string, so text not in quotes is
        // one: -D mode=max is "max", not the builtin max, and -D
        // corpus=../a b.txt a path.
        v = Value::string(text.str());
      } else if (word && text == c->name) {
        diag.error("-D " + c->name + "=" + text + ": '" + text + "' refers to itself; a -D value can use only the "
                   "constants above it");
        v = Value::error();
      } else if (word && !knownName(text) && later != user.consts.end()) {
        // -D N=B with B defined below N would silently be the string "B".
        diag.error("-D " + c->name + "=" + text + ": '" + text + "' is a constant defined after '" + c->name +
                   "'; a -D value can use only the constants above it");
        v = Value::error();
      } else {
        v = parseDefine(it->second, c->name);
        // A word nothing defines is a string (-D mode=fast), but not where
        // the source makes the constant a function (const act = relu):
        // -D act=relux said "'act' is the string \"relux\", not a
        // function" far away, at a use, with no suggestion.
        auto *src = llvm::dyn_cast<NameExpr>(c->value.get());
        if (word && v.kind == Value::Str && src && knownName(src->name) && lookup(src->name, {}).kind == Value::Func) {
          NearMiss near(text);
          for (auto &g : globals)
            if (g.second.kind == Value::Func) near.consider(g.first());
          for (auto &f : functions) near.consider(f.first());
          considerBuiltins(near);
          std::string hint = near.hint();
          diag.error("-D " + c->name + "=" + text + ": '" + text + "' is no function, and '" + c->name +
                     "' is the function " + src->name + " in the source" + (hint.empty() ? "" : "; " + hint));
          v = Value::error();
        }
      }
      // Bounded as a string in the source is (a 120 KB one was quoted whole
      // by every message about it), with room for the longest path: -D
      // corpus=PATH is how a path usually comes.
      if (v.kind == Value::Str && v.s.size() > kMaxDefineStringBytes) {
        diag.error("-D " + c->name + ": a string may hold at most " + llvm::Twine(kMaxDefineStringBytes) +
                   " bytes (a path's longest), and this one has " + llvm::Twine(v.s.size()));
        v = Value::error();
      }
      defines.erase(it);
      badDefine |= v.isError();
    } else {
      v = eval(*c->value);
    }
    if (holdsTensor(v)) {
      error(c->value->loc(), "a constant must be known at compile time, but this holds a tensor", {c->value->range});
      v = Value::error();
    }
    globals[c->name] = v;
    // As the source would write it, for the executable's list of constants
    // (a function has no text to compare).
    if (std::string text = sourceText(v, /*tensors=*/false); !text.empty()) module->constants.emplace_back(c->name, text);
  }
  constStmts = {};
  frames.pop_back();
  builder.reset();
  graph = nullptr;
  constantIndexRanges.clear(); // the scratch graph's nodes go with it
  module->sourceLines = std::move(sourceLines);
  // A -D value as messages quote it: a 100 KB one came out in full, twice,
  // before the error's point.
  auto quoted = [](llvm::StringRef text) {
    if (text.size() <= 80) return shownValue(text);
    return shownValue(text.take_front(60)) + "... (" + std::to_string(text.size()) + " characters)";
  };
  for (auto &[name, text] : defines) {
    std::string known;
    for (auto &c : user.consts) known += (known.empty() ? "" : ", ") + c->name;
    diag.error("-D " + name + "=" + quoted(text) + ": the model has no constant '" + name + "'" +
               (known.empty() ? std::string() : " (its constants: " + known + ")"));
  }

  if (user.models.empty()) {
    diag.error(sm.getMemoryBuffer(userBuffer)->getBufferIdentifier() + ": no model found; declare one with model NAME { ... }");
    return nullptr;
  }
  // A -D value that is no value leaves its constant invalid, and the model
  // would only report what follows from that (a loop over 0..L that never
  // ran, then a parameter it should have declared).
  if (badDefine) return nullptr;
  for (size_t i = 1; i < user.models.size(); ++i) error(user.models[i]->nameLoc, "only one model per file");
  execModel(*user.models.front());
  if (diag.hasErrors()) {
    // An error at a constant's use shows the source's name, not that -D
    // gave its value (-D B=-4 said only "the integer -4" at f32[B, 1]).
    std::string given;
    for (auto &[name, text] : opts.defines) given += (given.empty() ? "" : ", ") + name + "=" + quoted(text);
    if (!given.empty()) diag.remark("constants given with -D: " + given);
    return nullptr;
  }
  return std::move(module);
}

/// Whether `source` names the type f64 and never f32 (as identifiers: a
/// type, a conversion; comments and strings do not count).
static bool namesOnlyF64(llvm::StringRef source) {
  bool f32 = false, f64 = false;
  Lexer lex(source, [](llvm::SMLoc, const llvm::Twine &) {});
  for (Token t = lex.next(); t.kind != Tok::Eof; t = lex.next()) {
    if (t.kind != Tok::Ident) continue;
    f32 |= t.text == "f32";
    f64 |= t.text == "f64";
  }
  return f64 && !f32;
}

std::unique_ptr<Module> buildModule(const Program &user, const Program &prelude, DiagEngine &diag,
                                    const SemaOptions &opts) {
  // A file written in f64 (it names f64, never f32) that does not build in
  // f32 is built in f64: a model declared all in f64 could not call
  // cross_entropy, linear or dropout, whose onehot and params are in the
  // float type. One that builds in f32 stays f32, as before: its params,
  // speed and checkpoints are what they were. The f32 reading is tried
  // quietly; its warnings are said when it is kept.
  auto &sm = diag.sourceMgr();
  if (opts.floatTypeFromSource && opts.floatType == DType::F32 &&
      namesOnlyF64(sm.getMemoryBuffer(sm.getMainFileID())->getBuffer())) {
    std::string said;
    llvm::raw_string_ostream quiet(said);
    DiagEngine trial(sm, quiet);
    if (auto m = SemaImpl(trial, opts).run(user, prelude)) {
      diag.replay(said);
      return m;
    }
    SemaOptions f64 = opts;
    f64.floatType = DType::F64;
    return SemaImpl(diag, f64).run(user, prelude);
  }
  SemaImpl sema(diag, opts);
  return sema.run(user, prelude);
}

} // namespace gradc
