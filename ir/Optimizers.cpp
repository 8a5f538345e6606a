//===- ir/Optimizers.cpp - the optimizers a train statement can name ------===//
#include "ir/Optimizers.h"

#include "ir/Graph.h"

namespace gradc {

static const llvm::StringRef kDecays[] = {"none", "cosine"};

// Every optimizer shares the clipping and learning-rate schedule arguments.
#define SCHEDULE_ARGS                                                                              \
  {"clip", 0, "", {}, "clip gradients to this global L2 norm (0: off)"},                           \
      {"warmup", 0, "", {}, "steps of linear learning-rate warmup"},                               \
      {"decay", 0, "none", kDecays, "learning-rate decay after warmup: none or cosine"},           \
      {"min_lr", 0, "", {}, "learning rate at the end of the decay"}

static const OptimizerArg kSgdArgs[] = {
    {"lr", 0.01, "", {}, "learning rate"},
    {"momentum", 0, "", {}, "heavy-ball momentum (0: plain SGD)"},
    SCHEDULE_ARGS,
};
static const OptimizerArg kAdamArgs[] = {
    {"lr", 1e-3, "", {}, "learning rate"},
    {"beta1", 0.9, "", {}, "decay of the first-moment estimate"},
    {"beta2", 0.999, "", {}, "decay of the second-moment estimate"},
    {"eps", 1e-8, "", {}, "added to the denominator (positive)"},
    SCHEDULE_ARGS,
};
static const OptimizerArg kAdamWArgs[] = {
    {"lr", 1e-3, "", {}, "learning rate"},
    {"beta1", 0.9, "", {}, "decay of the first-moment estimate"},
    {"beta2", 0.999, "", {}, "decay of the second-moment estimate"},
    {"eps", 1e-8, "", {}, "added to the denominator (positive)"},
    {"weight_decay", 0.01, "", {}, "decoupled weight decay, applied to params of rank >= 2 only"},
    SCHEDULE_ARGS,
};
#undef SCHEDULE_ARGS

static const OptimizerInfo kOptimizers[] = {
    {"sgd", "stochastic gradient descent, optionally with momentum", kSgdArgs},
    {"adam", "Adam (Kingma & Ba, 2015)", kAdamArgs},
    {"adamw", "Adam with decoupled weight decay (Loshchilov & Hutter, 2019)", kAdamWArgs},
};

llvm::ArrayRef<OptimizerInfo> optimizers() { return kOptimizers; }

const OptimizerInfo *findOptimizer(llvm::StringRef name) {
  for (auto &o : kOptimizers)
    if (o.name == name) return &o;
  return nullptr;
}

const OptimizerArg *findArg(const OptimizerInfo &opt, llvm::StringRef name) {
  for (auto &a : opt.args)
    if (a.name == name) return &a;
  return nullptr;
}

static std::string joined(auto &&items, auto name) {
  std::string out;
  for (auto &x : items) out += (out.empty() ? "" : ", ") + name(x).str();
  return out;
}

std::string optimizerNames() { return joined(optimizers(), [](auto &o) { return o.name; }); }
std::string argumentNames(const OptimizerInfo &opt) { return joined(opt.args, [](auto &a) { return a.name; }); }
std::string choiceNames(const OptimizerArg &arg) { return joined(arg.choices, [](auto &c) { return c; }); }

double trainArg(const TrainSpec &t, llvm::StringRef arg) {
  for (auto &[k, v] : t.args)
    if (k == arg && std::holds_alternative<double>(v)) return std::get<double>(v);
  const OptimizerInfo *opt = findOptimizer(t.optimizer);
  const OptimizerArg *a = opt ? findArg(*opt, arg) : nullptr;
  return a ? a->numDefault : 0;
}

std::string trainStrArg(const TrainSpec &t, llvm::StringRef arg) {
  for (auto &[k, v] : t.args)
    if (k == arg && std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  const OptimizerInfo *opt = findOptimizer(t.optimizer);
  const OptimizerArg *a = opt ? findArg(*opt, arg) : nullptr;
  return a ? a->strDefault.str() : "";
}

bool compilesHyper(const TrainSpec &t, llvm::StringRef arg) {
  bool cosine = trainStrArg(t, "decay") == "cosine";
  if (arg == "momentum" || arg == "clip") return trainArg(t, arg) > 0;
  if (arg == "warmup") return trainArg(t, arg) > 0 || cosine;
  if (arg == "min_lr") return cosine;
  return true;
}

} // namespace gradc
