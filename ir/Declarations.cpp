//===- ir/Declarations.cpp - what a model may declare, whichever file says it =//
#include "ir/Declarations.h"

#include "runtime/include/gradrt/abi.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"

#include <cfloat>
#include <cmath>
#include <cstdio>

namespace gradc {

std::string nameProblem(llvm::StringRef name) {
  auto isPart = [](char c) { return llvm::isAlnum(c) || c == '_'; };
  llvm::SmallVector<llvm::StringRef, 4> parts;
  name.split(parts, '.');
  if (llvm::all_of(parts, [&](llvm::StringRef p) { return !p.empty() && llvm::all_of(p, isPart); })) return "";
  return quotedName(name) + " is not a name a model can give: names are letters, digits and '_', in parts joined by '.'";
}

std::string quotedName(llvm::StringRef name) {
  std::string out = "\"";
  for (unsigned char c : name) {
    if (c == '\n') out += "\\n";
    else if (c == '"' || c == '\\') out += std::string("\\") + char(c);
    else if (c < 0x20 || c >= 0x7f) out += "\\x" + llvm::utohexstr(c, /*LowerCase=*/true, /*Width=*/2);
    else out += char(c);
  }
  return out + "\"";
}

//===--- initialisers -------------------------------------------------------===//

namespace {
/// The initialisers that take arguments, as runtime/driver/Session.cpp
/// reads them; the others are words.
struct InitForm {
  llvm::StringRef name;
  unsigned args;
};
const InitForm kInitForms[] = {{"normal", 1}, {"uniform", 2}, {"constant", 1}};

const char *kInitList = "zeros, ones, normal(std), uniform(low, high), constant(value), xavier_uniform, "
                        "xavier_normal, he_uniform or he_normal";
} // namespace

llvm::ArrayRef<llvm::StringRef> initialiserWords() {
  static const llvm::StringRef words[] = {"zeros", "ones", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal"};
  return words;
}

std::string initArgsProblem(llvm::StringRef kind, llvm::ArrayRef<double> args, DType dtype) {
  // A NaN or infinite weight makes the first loss NaN.
  for (double a : args)
    if (!std::isfinite(a)) return kind.str() + "'s arguments must be finite numbers";
  // constant(1e39) of an f32 param: inf weights, and a loss of inf at step
  // 1 that the run blamed on logs and data.
  if (dtype == DType::F32)
    for (double a : args)
      if (std::fabs(a) > double(FLT_MAX))
        return kind.str() + "'s argument " + attrValueStr(a) +
               " does not fit in f32 (largest 3.4028235e38): the weights would be infinite";
  if (kind == "normal" && args.size() == 1 && args[0] <= 0) return "std must be positive";
  if (kind == "uniform" && args.size() == 2 && args[0] >= args[1]) return "uniform needs low < high";
  return "";
}

std::string initProblem(llvm::StringRef spec, DType dtype) {
  if (llvm::is_contained(initialiserWords(), spec)) return "";
  auto [name, rest] = spec.split('(');
  const InitForm *form = llvm::find_if(kInitForms, [&](const InitForm &f) { return f.name == name; });
  std::string unknown = "unknown initialiser " + quotedName(spec) + "; expected " + kInitList;
  if (form == std::end(kInitForms) || !rest.consume_back(")")) return unknown;
  llvm::SmallVector<llvm::StringRef, 2> texts;
  if (!rest.trim().empty()) rest.split(texts, ',');
  if (texts.size() != form->args)
    return "initialiser " + quotedName(spec) + " takes " + std::to_string(form->args) + " argument" +
           (form->args == 1 ? "" : "s");
  std::vector<double> args;
  for (llvm::StringRef t : texts) {
    double v;
    if (t.trim().getAsDouble(v)) return "initialiser " + quotedName(spec) + ": '" + t.trim().str() + "' is not a number";
    args.push_back(v);
  }
  if (std::string p = initArgsProblem(form->name, args, dtype); !p.empty())
    return "initialiser " + quotedName(spec) + ": " + p;
  return "";
}

//===--- names the executable gives its own tensors -------------------------===//

std::string reservedNameClash(llvm::StringRef name, const OptimizerInfo *opt, const llvm::StringSet<> &runtimeValues) {
  if (name == "step" || name == "total_steps") return "the training step's counter '" + name.str() + "'";
  if (opt)
    if (const OptimizerArg *a = findArg(*opt, name); a && a->strDefault.empty())
      return opt->name.str() + "'s hyperparameter '" + name.str() + "'";
  if (name == "seed" && runtimeValues.count(name)) return "the random seed dropout reads";
  if (name == "training" && runtimeValues.count(name)) return "dropout's switch between training and evaluation";
  if (runtimeValues.count(name)) return "the value '" + name.str() + "' the runtime sets";
  return "";
}

std::string gradientNameClash(llvm::StringRef name, llvm::function_ref<bool(llvm::StringRef)> isParam) {
  // Data-parallel training's @apply reads the gradient of param w as the
  // tensor grad.w: a param or input `grad.w` (a scope named grad) beside
  // a param `w` would share its slot (an internal error after the
  // optimizer pass).
  if (llvm::StringRef owner = name; owner.consume_front(GRT_GRAD_PREFIX) && isParam(owner))
    return "the gradient of parameter '" + owner.str() + "', which data-parallel training keeps as '" + name.str() + "'";
  return "";
}

std::string paramNameClash(llvm::StringRef name, const OptimizerInfo *opt, const llvm::StringSet<> &runtimeValues,
                           llvm::function_ref<bool(llvm::StringRef)> isParam) {
  if (std::string c = reservedNameClash(name, opt, runtimeValues); !c.empty()) return c;
  if (std::string c = gradientNameClash(name, isParam); !c.empty()) return c;
  // Checkpoints are safetensors files, whose header keeps this key for
  // itself: a tensor of that name saved, and then never loaded again.
  if (name == "__metadata__") return "the checkpoint header's own entry '__metadata__'";
  if (!opt) return "";
  // The state the optimizer pass (passes/OptimizerLowering.cpp) keeps per
  // parameter p: p.momentum for sgd, p.adam_m and p.adam_v for the others.
  llvm::SmallVector<llvm::StringRef, 2> states;
  if (opt->name == "sgd") states = {"momentum"};
  else states = {"adam_m", "adam_v"};
  auto [owner, suffix] = name.rsplit('.');
  if (!suffix.empty() && llvm::is_contained(states, suffix) && isParam(owner))
    return opt->name.str() + "'s state of parameter '" + owner.str() + "'";
  return "";
}

//===--- the module's declarations -------------------------------------------===//

namespace {

class DeclarationChecker {
public:
  explicit DeclarationChecker(const Module &m) : m(m), opt(findOptimizer(m.train.optimizer)) {}

  std::vector<Problem> run() {
    for (auto &g : m.graphs)
      for (auto &n : g->nodes) {
        if (n->is(OpKind::Param)) params.insert(name(n.get()));
        if (n->is(OpKind::Hyper)) runtimeValues.insert(name(n.get()));
      }
    for (auto &g : m.graphs) leaves(*g);
    if (problems.empty()) dataTable();
    return std::move(problems);
  }

private:
  static llvm::StringRef name(const Node *n) { return n->attrs.getString(AttrKey::Name); }
  /// A problem at node n, or at output or update number `output` or
  /// `update` of g, or else at g.
  void report(const Graph &g, const Node *n, int output, const std::string &msg, int update = -1) {
    problems.push_back({"graph @" + g.name + ": " + msg, &g, n, output, update});
  }

  void leaves(const Graph &g) {
    for (auto &np : g.nodes) {
      const Node *n = np.get();
      if (!isRuntimeLeaf(n)) continue;
      if (std::string p = nameProblem(name(n)); !p.empty()) {
        report(g, n, -1, n->info().mnemonic.str() + " " + p);
        continue;
      }
      std::string what = n->info().mnemonic.str() + " " + quotedName(name(n));
      // Autodiff and the optimizer treat every param as a float; an i1
      // param stopped gradc with an internal error, an i32 one never trained.
      if (n->is(OpKind::Param) && !isFloat(n->type.dtype))
        report(g, n, -1, what + " is " + str(n->type) + ": a parameter must be a float tensor");
      if (n->attrs.has(AttrKey::Init))
        if (std::string p = initProblem(n->attrs.getString(AttrKey::Init), n->type.dtype); !p.empty())
          report(g, n, -1, what + ": " + p);
      // Only @apply reads gradients: data-parallel training's runtime points
      // them at @grads' outputs. Elsewhere nothing fills them.
      if (n->is(OpKind::Gradient) && g.name != GRT_ENTRY_APPLY)
        report(g, n, -1, what + " is read by @" + g.name + ", but only @" GRT_ENTRY_APPLY " reads gradients");
      std::string clash;
      auto isParam = [&](llvm::StringRef p) { return params.contains(p); };
      if (n->is(OpKind::Input)) {
        clash = reservedNameClash(name(n), opt, runtimeValues);
        if (clash.empty()) clash = gradientNameClash(name(n), isParam);
      }
      if (n->is(OpKind::Param))
        clash = paramNameClash(name(n), opt, runtimeValues, isParam);
      if (!clash.empty()) report(g, n, -1, what + " clashes with " + clash + "; rename it");
    }
    for (auto &o : g.outputs)
      if (std::string p = nameProblem(o.name); !p.empty()) report(g, nullptr, int(&o - g.outputs.data()), "output " + p);
  }

  /// A table's rows come from @data: each input the entries read gets the
  /// @data output of its name, of its type with `rows` rows in place of
  /// its batch. The runtime copies them by those sizes; a mismatch read
  /// past the end of a buffer.
  void dataTable() {
    const Graph *data = m.graph("data");
    if (m.data.kind != DataSpec::Table) {
      if (data && m.data.kind == DataSpec::None)
        report(*data, nullptr, -1, "a data graph needs the module's 'data table {rows = N}' line");
      return;
    }
    if (!data) {
      problems.push_back({"the module's data table needs a graph @data that generates its rows"});
      return;
    }
    for (auto &n : data->nodes)
      if (isRuntimeLeaf(n.get()))
        report(*data, n.get(), -1,
               "reads " + n->info().mnemonic.str() + " " + quotedName(name(n.get())) +
                   ", but a data table is generated from constants and random numbers alone");
    if (!data->updates.empty()) report(*data, nullptr, -1, "it updates a tensor, but a data table only generates data", 0);
    llvm::StringSet<> seen;
    for (auto &g : m.graphs) {
      // @step's inputs are the token it is given, not table rows.
      if (g.get() == data || g->name == GRT_ENTRY_STEP) continue;
      // An input nothing reads is dead code, dropped with its data: the
      // data block need not make it (sema warns that it is ignored).
      llvm::DenseSet<const Node *> read = g->liveNodes();
      for (const Node *in : g->leaves(OpKind::Input)) {
        if (!read.count(in)) continue;
        if (!seen.insert(name(in)).second) continue;
        std::string what = "input '" + name(in).str() + "'";
        if (in->type.rank() == 0) {
          report(*g, in, -1, what + " is " + str(in->type) + ", a scalar, but a data table gives each input one row per example");
          continue;
        }
        TensorType want = in->type;
        want.shape[0] = m.data.rows;
        auto out = llvm::find_if(data->outputs, [&](const GraphOutput &o) { return o.name == name(in); });
        if (out == data->outputs.end())
          report(*data, nullptr, -1, "it has no output \"" + name(in).str() + "\": data for " + what + " must be " + str(want));
        else if (out->value->type != want)
          report(*data, nullptr, int(out - data->outputs.begin()),
                 "data for " + what + " must be " + str(want) + ", but it is " + str(out->value->type));
      }
    }
  }

  const Module &m;
  const OptimizerInfo *opt;
  llvm::StringSet<> params, runtimeValues;
  std::vector<Problem> problems;
};

} // namespace

std::vector<Problem> declarationProblems(const Module &m) { return DeclarationChecker(m).run(); }

} // namespace gradc
