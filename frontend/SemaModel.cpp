//===- frontend/SemaModel.cpp - the model block: train, data, the loss ----===//
//
// What a `model` block declares beyond its statements: the optimizer
// (recordTrain), the data (a generated table or a text corpus), the names
// the training step reserves, and the checks on the finished model (its
// loss, params the loss does not reach).
//
//===----------------------------------------------------------------------===//
#include "frontend/SemaImpl.h"

#include "ir/Declarations.h"
#include "ir/Optimizers.h"
#include "ir/SourceDiag.h"
#include "runtime/include/gradrt/abi.h"
#include "runtime/include/gradrt/hypers.h"

#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

namespace gradc {

using namespace ast;
using llvm::cast;

//===--- the model --------------------------------------------------------===//

void SemaImpl::execModel(const ModelDecl &m) {
  model = &m;
  module->name = m.name;
  graph = &module->addGraph("model");
  builder = std::make_unique<Builder>(*graph);
  frames.emplace_back();
  execBlock(m.body);
  // After a budget ran out, what is missing is only what was not reached.
  if (!stopped) finishModel(m);
  frames.pop_back();
}

void SemaImpl::recordTrain(const TrainStmt &s) {
  const OptimizerInfo *opt = findOptimizer(s.optimizer);
  if (!opt) {
    error(s.optimizerLoc, "unknown optimizer '" + s.optimizer + "'; available: " + optimizerNames());
    return;
  }
  TrainSpec &spec = module->train;
  spec.optimizer = opt->name.str();
  std::vector<Value> given(opt->args.size());
  for (auto &a : s.args) {
    if (a.name.empty()) {
      error(a.value->loc(), "write optimizer arguments by name, e.g. lr = 0.1", {a.value->range});
      continue;
    }
    const OptimizerArg *arg = findArg(*opt, a.name);
    if (!arg) {
      error(a.nameLoc, "'" + s.optimizer + "' has no argument '" + a.name + "'; it takes " + argumentNames(*opt));
      continue;
    }
    // A bare name such as `decay = cosine` reads as the string "cosine".
    Value v;
    if (auto *n = llvm::dyn_cast<NameExpr>(a.value.get()); n && !arg->strDefault.empty())
      v = Value::string(n->name, n->range);
    else
      v = eval(*a.value);
    if (v.isError()) continue;
    bool wantString = !arg->strDefault.empty();
    // The choice "none" may be written as the language's none as well.
    if (wantString && v.kind == Value::None && llvm::is_contained(arg->choices, "none")) v = Value::string("none", v.range);
    if (wantString) {
      if (v.kind != Value::Str || !llvm::is_contained(arg->choices, v.s)) {
        error(a.value->loc(), "'" + a.name + "' must be one of " + choiceNames(*arg) + ", got " + describe(v),
              {a.value->range});
        continue;
      }
    } else if (!v.isNumber()) {
      error(a.value->loc(), "'" + a.name + "' must be a number, got " + describe(v), {a.value->range});
      continue;
    } else if (const char *why = grt::hyperRangeError(a.name.c_str(), v.asDouble(), opts.floatType == DType::F32)) {
      error(a.value->loc(), "'" + a.name + "' " + why + ", not " + describe(v), {a.value->range});
      continue;
    }
    if (size_t i = arg - opt->args.begin(); given[i].isNumber() || given[i].kind == Value::Str) {
      error(a.nameLoc, "'" + a.name + "' is given twice");
      continue;
    }
    given[arg - opt->args.begin()] = v;
  }
  // Cosine decay goes from lr to min_lr; above lr, the rate climbs as
  // training goes on. Legal (the same check warns in the executable, for
  // --hp), and almost never meant.
  auto valueOf = [&](llvm::StringRef name) -> const Value * {
    const OptimizerArg *arg = findArg(*opt, name);
    return arg ? &given[arg - opt->args.begin()] : nullptr;
  };
  const Value *decay = valueOf("decay"), *minLr = valueOf("min_lr"), *lr = valueOf("lr");
  if (decay && decay->kind == Value::Str && decay->s == "cosine" && minLr && minLr->isNumber() && lr) {
    double rate = lr->isNumber() ? lr->asDouble() : findArg(*opt, "lr")->numDefault;
    if (minLr->asDouble() > rate)
      diag.warning(minLr->range.Start, "min_lr = " + attrValueStr(minLr->asDouble()) + " is above lr = " + attrValueStr(rate) +
                                           (lr->isNumber() ? "" : " (the default)") +
                                           ", so the cosine decay raises the learning rate instead of lowering it");
  }
  // Legal, and surely not meant: min_lr is where cosine decay ends, and a
  // rate of 0 trains nothing. (Both built without a word.)
  bool cosine = decay && decay->kind == Value::Str && decay->s == "cosine";
  if (minLr && minLr->isNumber() && decay && !cosine)
    diag.warning(minLr->range.Start, "min_lr is where decay = cosine ends, and this model has no decay: the rate stays "
                                     "at lr (add decay = cosine to the train statement, or leave min_lr out)");
  // (Under cosine decay to a min_lr above 0 the rate climbs from 0 to it.)
  bool climbs = cosine && minLr && minLr->isNumber() && minLr->asDouble() > 0;
  if (lr && lr->isNumber() && lr->asDouble() == 0 && !climbs)
    diag.warning(lr->range.Start, "lr = 0: every update is zero, so training changes no param");
  for (size_t i = 0; i < opt->args.size(); ++i) {
    const OptimizerArg &arg = opt->args[i];
    if (!arg.strDefault.empty())
      spec.args.push_back({arg.name.str(), given[i].kind == Value::Str ? given[i].s : arg.strDefault.str()});
    else
      spec.args.push_back({arg.name.str(), given[i].isNumber() ? given[i].asDouble() : arg.numDefault});
  }
  auto [line, col] = diag.sourceMgr().getLineAndColumn(s.loc(), userBuffer);
  spec.loc = Location{module->fileId(diag.sourceMgr().getMemoryBuffer(userBuffer)->getBufferIdentifier()), line, col};
}

/// The executable has tensors of its own, named: one per hyperparameter
/// of the optimizer (lr, beta1, ...), the step counters, each param p's
/// optimizer state (p.adam_m and p.adam_v, or p.momentum), and the values
/// the runtime sets that the graphs read already (dropout's seed and its
/// training switch). A param or input of the same name would share that
/// slot, so it is refused here, at its declaration.
void SemaImpl::checkReservedNames() {
  const OptimizerInfo *opt = findOptimizer(module->train.optimizer);
  std::string o = opt ? opt->name.str() : "";
  llvm::StringSet<> runtimeValues;
  for (auto &g : module->graphs)
    for (Node *h : g->leaves(OpKind::Hyper)) runtimeValues.insert(h->attrs.getString(AttrKey::Name));
  auto isParam = [&](llvm::StringRef p) { return params.count(p.str()) > 0; };
  for (auto &[name, n] : inputs) {
    std::string c = reservedNameClash(name, opt, runtimeValues);
    if (c.empty()) c = gradientNameClash(name, isParam);
    if (!c.empty()) error(inputLocs.lookup(name), "input '" + name + "' clashes with " + c + "; rename it");
  }
  for (auto &[name, n] : params) {
    std::string c = paramNameClash(name, opt, runtimeValues, isParam);
    if (c.empty()) continue;
    // At the user's call when a prelude function declared it
    // (`grad.linear(h, 2)` makes grad.weight inside the prelude's linear).
    const ParamOrigin &at = paramOrigins[name];
    if (at.calls.empty() || !diag.inPrelude(at.decl)) {
      // At the declaration, with the calls that made it (the scope that
      // made the name is given at the call: `w.layer(x)`).
      auto outside = std::exchange(diag.calls, at.calls);
      error(at.decl, "parameter '" + name + "' clashes with " + c + "; rename it");
      diag.calls = std::move(outside);
    } else
      error(at.calls[0].loc, "parameter '" + name + "' (made by " + at.calls.back().callee + ") clashes with " + c +
                                 "; rename it or the scope it is made in");
  }
  // The training step's own outputs (passes/OptimizerLowering.cpp and
  // Autodiff.cpp) share the namespace of the model's: the same name twice
  // made the IR invalid after the optimizer pass.
  bool clips = false;
  for (auto &[name, v] : module->train.args)
    if (name == "clip" && std::holds_alternative<double>(v)) clips = std::get<double>(v) > 0;
  bool stops = llvm::any_of(graph->nodes, [](auto &n) { return n->is(OpKind::StopGradient); });
  for (auto &[name, placeholder] : outputs) {
    // An output that failed (it names no value) has its error already.
    if (!graph->output(name)) continue;
    std::string c;
    if (opt && name == "lr") c = "the learning rate " + o + " reports as output 'lr'";
    else if (opt && clips && name == "grad_norm") c = "the gradient norm " + o + "'s clipping reports as output 'grad_norm'";
    else if (stops && name == GRT_FROZEN_LOSS)
      c = "the loss that gradient checking computes with stop_gradient's values held, output '" GRT_FROZEN_LOSS "'";
    if (!c.empty()) error(placeholder.range.Start, "output '" + name + "' clashes with " + c + "; rename it");
  }
}

void SemaImpl::buildTableData(const DataStmt &s) {
  int64_t rows = 0;
  const ast::Arg *rowsArg = nullptr;
  for (auto &a : s.args) {
    if (a.name != "rows") {
      error(a.value->loc(), "a table data block takes one argument, rows = N", {a.value->range});
      return;
    }
    // (rows = 8, rows = 16) kept the last, silently.
    if (rowsArg) {
      error(a.nameLoc, "'rows' is given twice", {}, {{rowsArg->nameLoc, "the first 'rows' is here"}});
      return;
    }
    Value v = eval(*a.value);
    if (v.isError()) return;
    if (v.kind != Value::Int || v.i < 2) {
      error(a.value->loc(), "rows must be an integer of at least 2, got " + describe(v), {a.value->range});
      return;
    }
    rows = v.i;
    rowsArg = &a;
  }
  if (rows == 0) {
    error(s.kindLoc, "a table data block needs its size: data table(rows = N) { ... }");
    return;
  }
  // `train` trains on whole batches and keeps at least one for training
  // (runtime/driver/Data.cpp, split): on a table smaller than one batch,
  // train without --data stops. A warning, not an error: the executable
  // still trains on a --data file, and eval and predict read the table.
  // Inputs share the batch, their first dimension.
  if (!inputs.empty()) {
    const auto &[first, in] = inputs.front();
    int64_t batch = in->type.rank() > 0 ? in->type.shape[0] : 1;
    if (rows < batch)
      diag.warning(rowsArg->value->loc(),
                   "the table has " + llvm::Twine(rows) + " rows, fewer than one batch of " + llvm::Twine(batch) +
                       " (the first dimension of input '" + first + "', " + srcType(in->type) +
                       "): training takes whole batches, so `train` needs --data with at least " + llvm::Twine(batch) +
                       " rows");
  }
  // The model graph is whole here (recordData comes last): an input that
  // nothing reads, beside inputs that are read, is left out of the
  // executable with its data (checkUnreadInputs warns of it), so its rows
  // need not be generated.
  llvm::DenseSet<const Node *> read = graph->liveNodes();
  bool someRead = llvm::any_of(inputs, [&](auto &in) { return read.count(in.second); });
  // The generator is a graph of its own, built like the model.
  Graph *saved = graph;
  auto savedBuilder = std::move(builder);
  graph = &module->addGraph("data");
  builder = std::make_unique<Builder>(*graph);
  Frame f;
  f.inData = true;
  frames.push_back(std::move(f));
  execBlock(s.body);
  for (auto &[name, in] : inputs) {
    auto it = frame().vars.find(name);
    TensorType want = in->type;
    want.shape[0] = rows;
    if (it == frame().vars.end()) {
      if (someRead && !read.count(in)) continue;
      error(s.kindLoc, "the data block does not define input '" + name + "' (" + srcType(want) + ")");
      continue;
    }
    Value v = it->second;
    if (v.isError()) continue;
    if (v.kind != Value::Tensor || v.node->type != want) {
      llvm::SmallVector<DiagEngine::Note, 1> notes;
      // The right shape in another type (rand_normal makes f32): say how
      // to convert it.
      llvm::SMLoc at = v.range.Start.isValid() ? v.range.Start : s.kindLoc;
      if (v.kind == Value::Tensor && v.node->type.shape == want.shape)
        notes.push_back({at, want.dtype == DType::I1 ? std::string("make it with a comparison, as x > 0")
                                                        : "convert it: " + dtypeName(want.dtype).str() + "(...)"});
      error(at, "data for input '" + name + "' must be " + srcType(want) + ", but it is " + describe(v), {v.range}, notes);
      continue;
    }
    graph->outputs.push_back({name, v.node});
  }
  std::sort(graph->outputs.begin(), graph->outputs.end(), [](auto &a, auto &b) { return a.name < b.name; });
  frames.pop_back();
  graph->removeDeadNodes();
  constantIndexRanges.clear();
  graph = saved;
  builder = std::move(savedBuilder);
  module->data.kind = DataSpec::Table;
  module->data.rows = rows;
}

void SemaImpl::recordData(const DataStmt &s) {
  if (s.kindName == "table") {
    buildTableData(s);
    return;
  }
  if (s.kindName != "text") {
    error(s.kindLoc, "unknown data kind '" + s.kindName + "'; expected 'table' or 'text'");
    return;
  }
  if (!s.body.empty()) error(s.body.front()->loc(), "a text data statement has no body");
  DataSpec &d = module->data;
  d.kind = DataSpec::Text;
  d.corpus = "/usr/share/games/fortunes";
  llvm::SMLoc inputLoc, targetLoc;
  for (auto &a : s.args) {
    auto *n = llvm::dyn_cast<NameExpr>(a.value.get());
    if (a.name == "input" || a.name == "target") {
      if (!n) {
        error(a.value->loc(), "'" + a.name + "' names one of the model's inputs", {a.value->range});
        continue;
      }
      (a.name == "input" ? d.textInput : d.textTarget) = n->name;
      (a.name == "input" ? inputLoc : targetLoc) = n->loc();
    } else if (a.name == "corpus") {
      Value v = eval(*a.value);
      if (v.kind != Value::Str) {
        error(a.value->loc(), "'corpus' is a path in quotes", {a.value->range});
        continue;
      }
      // The run failed then with "cannot read corpus : No such file".
      if (v.s.empty()) {
        error(a.value->loc(), "'corpus' is an empty path; name a text file (train --data PATH can replace it when the "
                              "executable runs)",
              {a.value->range});
        continue;
      }
      d.corpus = v.s;
      // The executable reads the corpus when it runs, from the path as
      // written (relative to its working directory then): only the path is
      // compiled in. A path that is not there now is most likely wrong.
      if (opts.forExecutable && !v.s.empty() && !llvm::sys::fs::exists(v.s))
        diag.warning(a.value->loc(),
                     "the corpus '" + shownValue(v.s) + "' does not exist" +
                         (llvm::sys::path::is_relative(v.s) ? " relative to this directory" : "") +
                         "; the executable reads it when it runs (a relative path from its working directory "
                         "then), or the file its --data names");
    } else {
      // At the keyword, and naming it: the caret was on its value.
      bool named = !a.name.empty() && a.nameLoc.isValid();
      error(named ? a.nameLoc : a.value->loc(),
            (named ? "text data has no '" + a.name + "'; it takes " : std::string("text data takes ")) +
                "input = NAME, target = NAME and corpus = \"PATH\"" +
                (a.name == "vocab" || a.name == "tokenizer"
                     ? " (the vocabulary is the model's table size; a BPE tokenizer is given to the executable: "
                       "train --tokenizer FILE)"
                     : ""),
            {a.value->range});
    }
  }
  auto check = [&](const std::string &name, llvm::SMLoc loc, llvm::StringRef role) -> Node * {
    if (name.empty()) {
      error(s.kindLoc, "text data needs " + role + " = NAME, naming an i32[B, T] input");
      return nullptr;
    }
    auto it = inputs.find(name);
    if (it == inputs.end()) {
      // A declaration in error (input idx: i32[B, T] with -D T=0) has said so.
      auto v = frame().vars.find(name);
      if (v == frame().vars.end() || !v->second.isError()) error(loc, "'" + name + "' is not an input of the model");
      return nullptr;
    }
    Node *n = it->second;
    if (n->type.dtype != DType::I32 || n->type.rank() != 2) {
      error(loc, "text data fills i32[B, T] inputs, but '" + name + "' is " + srcType(n->type));
      return nullptr;
    }
    return n;
  };
  Node *in = check(d.textInput, inputLoc, "input"), *tg = check(d.textTarget, targetLoc, "target");
  // One input as both: the corpus filled it twice, the other input (the
  // one the loss read) never, and the loss sat at ln V.
  if (in && in == tg) {
    std::string other;
    for (auto &[name, node] : inputs)
      if (node != in) other = name;
    error(targetLoc, "input and target both name '" + d.textInput + "': the target is the other input, the next "
                         "tokens" + (other.empty() ? std::string() : " (here '" + other + "')"));
    return;
  }
  if (in && tg && in->type != tg->type)
    error(targetLoc, "input and target must have one shape: " + srcType(in->type) + " and " + srcType(tg->type));
  if (inputs.size() + failedInputs != 2)
    error(s.kindLoc, "a text model has exactly two inputs (context and targets)");
  if (in && tg && opts.forExecutable && !diag.hasErrors()) checkTextModel(in, inputLoc, tg, targetLoc);
}

/// What the executable's text commands take for granted, checked where the
/// model says it: the corpus fills the context and target inputs, so both
/// must be read (one nothing reads is dropped with the dead code, and the
/// executable failed at run time: "the model's text inputs are missing from
/// its descriptor"); and `sample` reads `output logits` at (row, position,
/// id), so it must be [B, T, V] for the context's [B, T] (a [B, V] of the
/// last position read past the tensor, and crashed).
void SemaImpl::checkTextModel(const Node *context, llvm::SMLoc contextLoc, const Node *target, llvm::SMLoc targetLoc) {
  llvm::DenseSet<const Node *> read = graph->liveNodes();
  if (!read.count(context))
    error(contextLoc, "the text input '" + context->name +
                          "' is never read: the loss, outputs and metrics do not depend on it, so the executable "
                          "could not feed it the context; compute the logits from it, e.g. gather(emb, " +
                          context->name + ")");
  if (!read.count(target))
    error(targetLoc, "the text target '" + target->name +
                         "' is never read: the loss does not depend on it, so training would never see the next "
                         "tokens; compute the loss from it, e.g. cross_entropy(logits, " +
                         target->name + ")");
  auto out = llvm::find_if(outputs, [](auto &o) { return o.first == "logits"; });
  const Node *logits = graph->output("logits");
  // It trains and evaluates without one; only sample needs it, and said
  // so at run time alone.
  if (out == outputs.end() && opts.forExecutable)
    diag.note(contextLoc, "this text model has no 'output logits' ([B, T, V], a score for every id at each position), "
                          "so its executable trains and evaluates but cannot `sample`");
  if (out == outputs.end() || !logits) return;
  // The logits are scores for the next tokens, computed from the context:
  // data text(input = tgt, target = idx) of a model whose logits read idx
  // built, and trained it to predict each previous token (the corpus fills
  // `input` with a window and `target` with the same window one later).
  // Logits that read the target see the answers, and sample, which feeds
  // the context alone, cannot run them.
  llvm::DenseSet<const Node *> fromLogits;
  llvm::SmallVector<const Node *, 64> work{logits};
  while (!work.empty())
    if (const Node *n = work.pop_back_val(); fromLogits.insert(n).second)
      for (const Node *op : n->operands) work.push_back(op);
  if (fromLogits.count(target) || !fromLogits.count(context)) {
    bool swapped = fromLogits.count(target) && !fromLogits.count(context);
    error(out->second.range.Start,
          std::string("'output logits' ") +
              (fromLogits.count(context) ? "reads" : "does not read") + " the context '" + context->name + "' and " +
              (fromLogits.count(target) ? "reads" : "does not read") + " the target '" + target->name +
              "'; the logits score the next tokens from the context alone (the corpus fills input = " +
              context->name + " with a window of tokens and target = " + target->name + " with the next ones)",
          {out->second.range});
    note(swapped ? contextLoc : out->second.range.Start,
         swapped ? "input and target are swapped here: write input = " + target->name + ", target = " + context->name
                 : std::string("compute the logits from the context, and read the target only in the loss"));
    return;
  }
  const TensorType &c = context->type, &l = logits->type;
  if (l.rank() == 3 && l.shape[0] == c.shape[0] && l.shape[1] == c.shape[1]) return;
  error(out->second.range.Start,
        "'output logits' of a text model must be [B, T, V] = [" + std::to_string(c.shape[0]) + ", " +
            std::to_string(c.shape[1]) + ", V], a score for every id at each position of the context '" +
            context->name + "' (" + srcType(c) + "), but it is " + srcType(l) + "; sample reads it that way",
        {out->second.range});
  if (auto v = frame().vars.find("logits"); v != frame().vars.end() && v->second.range.Start.isValid())
    note(v->second.range.Start, "'logits' is computed here");
}

/// Whether a gradient reaching `n` flows on to its operands. Not through
/// stop_gradient, nor ops whose derivative is zero wherever it exists
/// (ir/Ops.def: NoGrad for comparisons and logic, Stepped for floor, sign,
/// //, ...), nor any value that is not a float: an integer or bool has no
/// gradient, so i32(s * 3) cuts s off as floor(s) does.
static bool passesGradient(const Node *n) {
  return isFloat(n->type.dtype) && !n->is(OpKind::StopGradient) && !n->has(NoGrad) && !n->has(Stepped);
}

/// Warns about params the loss does not reach through differentiable ops
/// (passesGradient): their gradient is always zero, so training never
/// changes them, but for adamw's weight decay (which shrinks those of rank
/// 2 or more toward 0). Legal, and almost never meant. A param the loss
/// reads only through such ops (stop_gradient, i32(), a comparison) is told
/// apart from one it never reads: "does not depend" was untrue of it. One
/// that nothing reads (no loss, output or metric) is dead code, left out
/// of the executable, its `info` and its checkpoints: the warning says so,
/// where it said only that training never changed it.
void SemaImpl::warnUntrained(const Node *loss, llvm::SMLoc lossLoc) {
  auto reached = [&](bool onlyGradient) {
    llvm::DenseSet<const Node *> seen;
    llvm::SmallVector<const Node *, 64> work{loss};
    while (!work.empty()) {
      const Node *n = work.pop_back_val();
      if (!seen.insert(n).second || (onlyGradient && !passesGradient(n))) continue;
      // A product with the constant 0 passes no gradient to its other
      // factor (`loss = ... * 0`: every gradient folds to 0, silently).
      auto zero = [](const Node *c) { return c->is(OpKind::Const) && c->attrs.getFloat(AttrKey::Value) == 0; };
      if (onlyGradient && n->is(OpKind::Mul) && (zero(n->operand(0)) || zero(n->operand(1)))) continue;
      for (const Node *op : n->operands) work.push_back(op);
    }
    return seen;
  };
  llvm::DenseSet<const Node *> trained = reached(true), read = reached(false), kept = graph->liveNodes();
  std::vector<std::string> unread, cut, dropped;
  for (auto &[name, n] : params)
    if (!trained.count(n)) (read.count(n) ? cut : kept.count(n) ? unread : dropped).push_back(name);
  if (unread.empty() && cut.empty() && dropped.empty()) return;
  // Weight decay changes a param whatever its gradient: toward 0.
  auto decayed = [&](const std::string &name) {
    return decaysWeights(module->train.optimizer, params.find(name)->second->type.rank());
  };
  if (unread.size() + cut.size() + dropped.size() == params.size()) {
    llvm::SMLoc at = lossLoc.isValid() ? lossLoc : paramSite(params.begin()->first);
    std::string nothing = llvm::any_of(params, [&](auto &p) { return decayed(p.first) && kept.count(p.second); })
                              ? "only adamw's weight decay changes them, toward 0"
                              : "training changes nothing";
    diag.warning(at, cut.empty() ? "the loss does not depend on any param, so every gradient is 0 and " + nothing
                                 : "no gradient reaches any param from the loss (it reads them only through stop_gradient, "
                                   "comparisons, rounding, integer conversions or a product with 0, if at all), so every "
                                   "gradient is 0 and " +
                                       nothing);
    return;
  }
  auto listed = [](const std::vector<std::string> &names) {
    std::string s = names.size() > 1 ? "s " : " ";
    for (size_t i = 0; i < names.size() && i < 4; ++i) s += (i ? ", '" : "'") + names[i] + "'";
    if (names.size() > 4) s += " and " + std::to_string(names.size() - 4) + " more";
    return s;
  };
  auto never = [&](const std::vector<std::string> &names, bool decay) {
    size_t n = names.size();
    return std::string(", so ") + (n > 1 ? "their gradients are" : "its gradient is") + " always 0 and training " +
           (decay ? "only shrinks " : "never changes ") + (n > 1 ? "them" : "it") +
           (decay ? " toward 0, by adamw's weight decay" : "");
  };
  if (!dropped.empty())
    diag.warning(paramSite(dropped[0]), "nothing reads param" + listed(dropped) +
                                            " (not the loss, an output or a metric), so the executable leaves " +
                                            (dropped.size() > 1 ? "them" : "it") +
                                            " out: its info and checkpoints do not hold " +
                                            (dropped.size() > 1 ? "them" : "it"));
  for (bool decay : {false, true}) {
    std::vector<std::string> u, c;
    llvm::copy_if(unread, std::back_inserter(u), [&](auto &name) { return decayed(name) == decay; });
    llvm::copy_if(cut, std::back_inserter(c), [&](auto &name) { return decayed(name) == decay; });
    if (!u.empty()) diag.warning(paramSite(u[0]), "the loss does not depend on param" + listed(u) + never(u, decay));
    if (!c.empty())
      diag.warning(paramSite(c[0]), "the loss reads param" + listed(c) +
                                        " only through ops that pass no gradient (stop_gradient, comparisons, "
                                        "rounding, integer conversions)" + never(c, decay));
  }
}

/// Where to warn about a param: its declaration, or the outermost call
/// when a function declared it (the user's line, not the prelude's).
llvm::SMLoc SemaImpl::paramSite(const std::string &param) {
  const ParamOrigin &at = paramOrigins[param];
  return at.calls.empty() ? at.decl : at.calls[0].loc;
}

/// Inputs that nothing the executable computes reads (the loss, the
/// outputs, the metrics) are dropped from it with the rest of the dead
/// code. With none left, the executable has no input to take its batch
/// from and stopped at its first step ("error: the model has no inputs"),
/// so building one is refused here (a dump or gradient check is fine).
void SemaImpl::checkUnreadInputs(llvm::SMLoc lossLoc) {
  if (inputs.empty() || !opts.forExecutable) return;
  llvm::DenseSet<const Node *> seen = graph->liveNodes();
  if (llvm::any_of(inputs, [&](auto &in) { return seen.count(in.second); })) {
    // Some are read: one that is not is left out, as an unread param is
    // (which is warned of), and its data is ignored. A text model's says
    // so as an error of its own (checkTextModel).
    if (module->data.kind == DataSpec::Text) return;
    for (auto &[name, n] : inputs)
      if (!seen.count(n))
        diag.warning(inputLocs.lookup(name), "nothing reads input '" + name +
                                                 "' (not the loss, an output or a metric), so the executable leaves it "
                                                 "out and ignores its data");
    return;
  }
  std::string names;
  for (auto &[name, n] : inputs) names += (names.empty() ? "'" : ", '") + name + "'";
  error(inputLocs.lookup(inputs.front().first),
        "the model reads none of its inputs (" + names +
            "): the loss, outputs and metrics do not depend on them, so the executable has no data to train on");
  if (lossLoc.isValid()) note(lossLoc, "compute the loss from the inputs, e.g. loss = mean(square(x @ w - y))");
}

void SemaImpl::finishModel(const ModelDecl &m) {
  // train prints the metrics by name, then the learned parameters by name:
  // a metric `w` beside a param `w` reads as two values of one thing.
  // Checked here, when every param is declared, before or after the metric.
  for (auto &[name, v] : metrics)
    if (params.count(name))
      error(metricLocs.lookup(name), "a metric cannot have the name of parameter '" + name +
                                          "': train reports both by name; give the metric another name");
  auto &vars = frame().vars;
  auto loss = vars.find("loss");
  if (loss == vars.end()) {
    error(m.nameLoc, "model '" + m.name + "' has no loss");
    note(m.nameLoc, "assign the value to minimise to 'loss', e.g. loss = mean(square(pred - y))");
  } else if (!loss->second.isError()) {
    Value &v = loss->second;
    if (v.kind != Value::Tensor || !v.node->type.isScalar() || !isFloat(v.node->type.dtype)) {
      error(v.range.Start, "the loss must be a float scalar, but it is " + describe(v), {v.range});
      note(v.range.Start, "reduce it to one number, for example with mean(...)");
    } else if (v.node->op == OpKind::Param || v.node->op == OpKind::Input) {
      // `param loss: f32[]` (or `loss = b` of a scalar param) built, and
      // training pushed that one number down without bound while nothing
      // read the rest of the model: a loss is computed, not declared.
      bool param = v.node->op == OpKind::Param;
      std::string name = v.node->attrs.getString(AttrKey::Name).str();
      error(v.range.Start, std::string("the loss is ") + (param ? "param" : "input") + " '" + name +
                               "' itself, which " +
                               (param ? "training would only push down, without bound, learning nothing"
                                      : "no param can change") +
                               "; compute it from the model's inputs and params", {v.range});
      note(v.range.Start, "for example loss = mean(square(pred - y))" +
                              std::string(name == "loss" ? ", with the " + std::string(param ? "param" : "input") +
                                                               " given another name"
                                                         : ""));
    } else {
      graph->outputs.push_back({"loss", v.node});
    }
  }
  llvm::StringMap<llvm::SMLoc> outputAt; // the first output statement of each name
  for (auto &[name, placeholder] : outputs) {
    if (name == "loss") {
      error(placeholder.range.Start, "the loss is always an output of the model; 'output loss' is not needed");
      continue;
    }
    auto it = vars.find(name);
    if (it == vars.end()) {
      NearMiss near(name);
      for (auto &kv : vars) near.consider(kv.first());
      llvm::SmallVector<DiagEngine::Note, 1> notes;
      if (std::string hint = near.hint(); !hint.empty()) notes.push_back({placeholder.range.Start, hint});
      error(placeholder.range.Start, "'output " + name + "' names no value of the model", {}, notes);
      continue;
    }
    Value value = it->second;
    // `output p = EXPR` exports EXPR. A later `p = 3` was blamed on the
    // output line ("'p' is the integer 3"), and `p = mean(p)` changed the
    // output in silence.
    if (auto b = outputBound.find(name); b != outputBound.end()) {
      bool same = value.kind == b->second.kind &&
                  (value.kind == Value::Tensor ? value.node == b->second.node : value.range.Start == b->second.range.Start);
      if (!same && !value.isError() && value.range.Start.isValid()) {
        diag.warning(value.range.Start, "'" + name + "' is assigned again after its 'output " + name +
                                            " = ...'; the output stays the value given there");
        note(placeholder.range.Start, "the output is declared here");
      }
      value = b->second;
    }
    if (value.isError()) continue;
    if (value.kind != Value::Tensor) {
      error(placeholder.range.Start, "an output must be a tensor, but '" + name + "' is " + describe(value));
      continue;
    }
    if (graph->output(name)) {
      error(placeholder.range.Start, "'" + name + "' is output twice");
      llvm::SMLoc first = outputAt.lookup(name);
      if (first == placeholder.range.Start)
        note(first, "a loop runs this line on every pass; write 'output " + name + "' once, after the loop");
      else if (first.isValid())
        note(first, "the first 'output " + name + "' is here");
      continue;
    }
    outputAt[name] = placeholder.range.Start;
    // The data block's generator outputs each input's rows under the
    // input's name: [rows, ...], where this output would be [B, ...].
    if (dataStmt && inputs.count(name)) {
      error(placeholder.range.Start, "'output " + name + "' names an input, whose rows the data block generates under "
                                     "the same name; output a value computed from it instead");
      continue;
    }
    graph->outputs.push_back({name, value.node, irLocation(placeholder.range.Start)});
  }
  for (auto &[name, v] : metrics) graph->outputs.push_back({GRT_METRIC_PREFIX + name, v.node});

  if (!trainStmt)
    error(m.nameLoc, "model '" + m.name + "' has no 'train' statement; add one such as train sgd(lr = 0.1)");
  else
    recordTrain(*trainStmt);
  // After another error these say nothing true: a failed declaration, or a
  // call not made because its argument was in error, leaves them empty.
  if (params.empty() && !diag.hasErrors()) error(m.nameLoc, "model '" + m.name + "' has no parameters to train");
  if (const Node *l = graph->output("loss"); l && !params.empty() && !diag.hasErrors())
    warnUntrained(l, loss->second.range.Start);
  if (!diag.hasErrors()) checkUnreadInputs(loss->second.range.Start);

  // Shapes are static, so the batch size is the first dimension every input shares.
  Node *first = nullptr;
  for (auto &[name, n] : inputs) {
    if (!first) first = n;
    else if (n->type.shape[0] != first->type.shape[0]) {
      llvm::SMLoc at = inputLocs.lookup(name), firstAt = inputLocs.lookup(first->name);
      error(at.isValid() ? at : m.nameLoc, "inputs must share their first (batch) dimension: '" + first->name + "' is " +
                                               srcType(first->type) + " but '" + name + "' is " + srcType(n->type));
      if (firstAt.isValid()) note(firstAt, "'" + first->name + "' is declared here");
    }
  }
  if (inputs.empty() && !declarationFailed) error(m.nameLoc, "model '" + m.name + "' has no inputs");
  if (dataStmt) recordData(*dataStmt);
  checkReservedNames();
}

} // namespace gradc
