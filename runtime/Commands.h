//===- runtime/Commands.h - the subcommands of a model executable ---------===//
#pragma once

#include "Args.h"
#include "Data.h"
#include "Session.h"

namespace grt {

int cmdTrain(const GrtModel &m, int argc, char **argv);
int cmdEval(const GrtModel &m, int argc, char **argv);
int cmdPredict(const GrtModel &m, int argc, char **argv);
int cmdInfo(const GrtModel &m, int argc, char **argv);
int cmdSample(const GrtModel &m, int argc, char **argv);

/// Shared option handling.
int threadsOption(const Args &a);
DataOptions dataOptions(const Args &a);
/// Sets every hyperparameter to its default, then applies --lr and --hp.
void applyHypers(Session &s, const Args &a);
/// "1.2k", "3.4M".
std::string humanCount(double x);
std::string humanBytes(double x);

/// Mean loss and metrics over the validation (or all) batches, via `eval`.
struct EvalResult {
  double loss = 0;
  std::vector<std::pair<std::string, double>> metrics;
  int64_t batches = 0;
};
EvalResult evaluate(Session &s, Dataset &d, bool allRows);

} // namespace grt
