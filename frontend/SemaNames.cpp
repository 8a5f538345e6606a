//===- frontend/SemaNames.cpp - where names resolve, and unknown ones ----===//
//
// A name is a local of the running function or model body, else a
// constant, function or builtin (the prelude's own names for prelude
// code). A name found nowhere is said with why where it can be told (a
// constant used above its definition, a model value read in a data block,
// a name bound only in a branch not taken) and else the nearest name.
//
//===----------------------------------------------------------------------===//
#include "frontend/SemaImpl.h"

namespace gradc {

using namespace ast;
using llvm::cast;

Value SemaImpl::lookup(llvm::StringRef name, llvm::SMRange r) {
  auto &vars = frame().vars;
  if (auto it = vars.find(name); it != vars.end()) {
    Value v = it->second.at(r);
    if (!diag.inPrelude(r.Start)) {
      v.origin = {};
      return v;
    }
    // A value whose range is the user's was just passed from the user's
    // code (a stale origin from an earlier call must not win); otherwise
    // it keeps the origin it came with, through the prelude's own calls.
    const Value &stored = it->second;
    if (stored.range.isValid() && !diag.inPrelude(stored.range.Start)) v.origin = stored.range;
    preludeReads[r.Start.getPointer()] = {r.End, v.origin};
    return v;
  }
  // Prelude code sees only the prelude's names: a user's function or
  // constant named `exp` or `mean` must not change what the prelude's
  // softmax or layer_norm compute (it did, silently, or failed inside them).
  bool inPrelude = r.Start.isValid() && !isUserLoc(r.Start) &&
                   !llvm::is_contained(defineBuffers, diag.sourceMgr().FindBufferContainingLoc(r.Start));
  auto &names = inPrelude ? preludeGlobals : globals;
  auto &fns = inPrelude ? preludeFunctions : functions;
  if (auto it = names.find(name); it != names.end()) return it->second.at(r);
  if (auto it = fns.find(name); it != fns.end()) {
    Value v = Value::make(Value::Func, r);
    v.fn = it->second;
    return v;
  }
  if (auto bi = findBuiltin(name)) {
    Value v = Value::make(Value::Func, r);
    v.builtin = *bi;
    v.isBuiltin = true;
    return v;
  }
  if (auto k = findOpBuiltin(name)) {
    Value v = Value::make(Value::Func, r);
    v.op = *k;
    v.isOp = true;
    return v;
  }
  // A default naming a parameter: defaults are computed where the function
  // is defined, before the call binds any parameter.
  if (defaultOf && llvm::any_of(defaultOf->params, [&](const auto &p) { return p.name == name; })) {
    error(r.Start,
          "the default of '" + defaultParam + "' cannot read '" + name + "': defaults are computed where '" +
              defaultOf->name + "' is defined, before its parameters have values",
          {r});
    note(r.Start, "give '" + defaultParam + "' the default none and set it in the body: if " + defaultParam +
                      " == none { " + defaultParam + " = ... }");
    return Value::error();
  }
  unknownName(name, r);
  return Value::error();
}

void forEachBinding(const Block &b, llvm::function_ref<void(const Stmt &, llvm::StringRef, llvm::SMLoc)> f) {
  for (auto &st : b) {
    if (auto *a = llvm::dyn_cast<AssignStmt>(st.get())) f(*st, a->name, a->nameLoc);
    else if (auto *o = llvm::dyn_cast<OutputStmt>(st.get()); o && o->value) f(*st, o->name, o->nameLoc);
    else if (auto *p = llvm::dyn_cast<ParamStmt>(st.get())) f(*st, p->name, p->nameLoc);
    else if (auto *i = llvm::dyn_cast<InputStmt>(st.get())) f(*st, i->name, i->nameLoc);
    else if (auto *l = llvm::dyn_cast<ForStmt>(st.get())) forEachBinding(l->body, f);
    else if (auto *c = llvm::dyn_cast<IfStmt>(st.get())) forEachBinding(c->then, f), forEachBinding(c->otherwise, f);
  }
}

void SemaImpl::unknownName(llvm::StringRef name, llvm::SMRange r) {
  // A constant may read only those above it: one below (or itself) is not
  // unknown, it is early.
  if (!constStmts.empty() && isUserLoc(r.Start)) {
    const ConstStmt &current = *constStmts[constIndex];
    if (name == current.name) {
      error(r.Start, "'" + name + "' refers to itself; a constant may use only the constants above it", {r});
      return;
    }
    for (size_t i = constIndex + 1; i < constStmts.size(); ++i)
      if (constStmts[i]->name == name) {
        unsigned line = diag.sourceMgr().getLineAndColumn(constStmts[i]->nameLoc).first;
        error(r.Start,
              "'" + name + "' is a constant defined after '" + current.name + "' (line " + llvm::Twine(line) +
                  "); a constant may use only the constants above it",
              {r});
        return;
      }
  }
  // A function sees its arguments, the constants and the functions: a
  // model value it read was an unknown name, with a near miss offered
  // ("did you mean 'shape'?" for the model's scale).
  if (!diag.calls.empty() && frames.size() > 1 && frames.front().vars.count(name)) {
    std::string what = inputs.count(name.str()) ? "an input" : params.count(name.str()) ? "a parameter" : "a value";
    error(r.Start,
          "'" + name + "' is " + what + " of the model, which a function cannot read: a function sees its arguments, "
                                        "the constants and the functions; pass " + name + " as an argument",
          {r});
    return;
  }
  // A data block runs before training, apart from the model's values.
  if (frame().inData && frames.front().vars.count(name)) {
    const char *from = "; it generates the inputs' rows from constants, functions, random numbers and its own values";
    if (inputs.count(name.str()))
      error(r.Start, "'" + name + "' is an input that this data block has not defined yet: assign " + name +
                         " = ... before reading it", {r});
    else if (params.count(name.str()))
      error(r.Start, "'" + name + "' is a parameter of the model, which a data block cannot read" + llvm::Twine(from), {r});
    else
      error(r.Start, "'" + name + "' is a value of the model, which a data block cannot read" + llvm::Twine(from), {r});
    return;
  }
  // A name bound only in a branch this build does not take.
  if (auto u = frame().untaken.find(name); u != frame().untaken.end()) {
    unsigned line = diag.sourceMgr().getLineAndColumn(u->second).first;
    error(r.Start, "unknown name '" + name + "'", {r},
          {{u->second, "'" + name.str() + "' is defined here (line " + std::to_string(line) +
                           "), in a branch of an 'if' that this build does not take: its condition is decided when "
                           "the model is built, and only the branch taken defines names"}});
    return;
  }
  // A value used above the statement that defines it, in the model or in
  // the function being read: statements run in order, and it said only
  // "unknown name".
  const Block *body = model && frames.size() == 1 && diag.calls.empty() ? &model->body : nullptr;
  const char *where = "a model's";
  if (!body)
    for (auto &kv : functions)
      if (const FnDecl *fn = kv.second; fn->range.Start.getPointer() <= r.Start.getPointer() &&
                                        r.Start.getPointer() < fn->range.End.getPointer())
        body = &fn->body, where = "a function's";
  if (body) {
    llvm::SMLoc later;
    forEachBinding(*body, [&](const Stmt &, llvm::StringRef bound, llvm::SMLoc at) {
      if (!later.isValid() && bound == name && at.getPointer() > r.Start.getPointer()) later = at;
    });
    if (later.isValid()) {
      unsigned line = diag.sourceMgr().getLineAndColumn(later).first;
      error(r.Start,
            "'" + name + "' is used before it is defined (at line " + llvm::Twine(line) + "); " + where +
                " statements run in order, so define it above its first use",
            {r}, {{later, "'" + name.str() + "' is defined here"}});
      return;
    }
  }
  // Other frameworks' names, which a near miss answered wrongly (min: "did
  // you mean 'sin'?", elu: "'relu'?") or not at all (clip, matmul).
  static constexpr std::pair<llvm::StringLiteral, llvm::StringLiteral> kAliases[] = {
      {"min", "the smaller of two values is minimum(a, b); the smallest over axes is -max(-x, axis)"},
      {"amin", "the smallest over axes is -max(-x, axis)"},
      {"amax", "the largest over axes is max(x, axis)"},
      {"clip", "that is clamp(x, low, high) here"},
      {"matmul", "a matrix product is written a @ b"},
      {"mm", "a matrix product is written a @ b"},
      {"bmm", "a matrix product is written a @ b (batched over leading axes)"},
      {"dot", "a product is written a @ b, or sum(a * b, axis)"},
      {"cat", "that is concat([a, b], axis) here"},
      {"concatenate", "that is concat([a, b], axis) here"},
      {"stack", "reshape each to add an axis of size 1, then concat([a, b], axis)"},
      {"permute", "that is transpose(x, perm) here"},
      {"view", "that is reshape(x, shape) here"},
      {"flatten", "reshape(x, [dim(x, 0), -1]) keeps the first axis and flattens the rest"},
      {"squeeze", "reshape(x, shape) drops or adds axes of size 1"},
      {"unsqueeze", "reshape(x, shape) drops or adds axes of size 1"},
      {"int", "that is i32(x) here"},
      {"long", "that is i32(x) here"},
      {"double", "that is f64(x) here"},
      {"and", "'and' is written &&"},
      {"or", "'or' is written ||"},
      {"not", "'not' is written !"},
      {"log10", "log(x) / log(10.0)"},
      {"log2", "log(x) / log(2.0)"},
      {"exp2", "pow(2.0, x)"},
      {"elu", "where(x > 0, x, expm1(x))"},
      {"leaky_relu", "where(x > 0, x, 0.01 * x)"},
      {"softplus", "log1p(exp(x)), or for large x, maximum(x, 0) + log1p(exp(-abs(x)))"},
      {"silu", "x * sigmoid(x)"},
      {"swish", "x * sigmoid(x)"},
      {"tanhshrink", "x - tanh(x)"},
      {"sinh", "(exp(x) - exp(-x)) / 2"},
      {"cosh", "(exp(x) + exp(-x)) / 2"},
      {"randn", "that is rand_normal(shape) here"},
      {"rand", "that is rand_uniform(shape) here"},
      {"zeros_like", "full(shape(x), 0.0)"},
      {"ones_like", "full(shape(x), 1.0)"},
      {"argmax", "there is none (it has no gradient); for accuracy, compare max(x, axis, true) == x"},
      {"inf", "there is no infinity literal, and constants are finite: a mask's fill is a large number such as "
              "-1e9, which a softmax turns into 0 as it would -inf"},
      {"nan", "there is no NaN literal, and constants are finite"},
      // Python's spellings of the constants.
      {"True", "that is true here"},
      {"False", "that is false here"},
      {"None", "that is none here (and a new axis of size 1 is added with reshape(x, shape))"},
  };
  for (auto &[theirs, ours] : kAliases)
    if (name == theirs) {
      error(r.Start, "unknown name '" + name + "'", {r}, {{r.Start, ours.str()}});
      return;
    }
  // Suggest a near miss among what is visible here.
  NearMiss near(name);
  for (auto &kv : frame().vars) near.consider(kv.first());
  for (auto &kv : globals) near.consider(kv.first());
  for (auto &kv : functions) near.consider(kv.first());
  considerBuiltins(near);
  std::string hint = near.hint();
  // `x  // a comment`: '//' divides here, and took the comment's first
  // word for a name.
  if (r.Start.isValid()) {
    const char *first = diag.bufferStart(r.Start), *before = r.Start.getPointer();
    while (before > first && (before[-1] == ' ' || before[-1] == '\t')) --before;
    if (before - first >= 2 && before[-1] == '/' && before[-2] == '/')
      hint = "comments start with '#'; '//' divides, rounding down";
  }
  llvm::SmallVector<DiagEngine::Note, 1> notes;
  if (!hint.empty()) notes.push_back({r.Start, hint});
  error(r.Start, "unknown name '" + name + "'", {r}, notes);
}

bool SemaImpl::knownName(llvm::StringRef name) {
  return globals.count(name) || functions.count(name) || findBuiltin(name) || findOpBuiltin(name);
}


} // namespace gradc
