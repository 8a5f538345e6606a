//===- runtime/driver/DataParallel.h - what `train` adds for many processes ===//
//
// Data-parallel training (mpirun -np N ./model train ...) runs the step as
// @grads, an average of the gradients (GradientBuckets, Cluster), then
// @apply. Around that loop `train` needs a little more, gathered here:
// checking at start-up that the processes run one and the same training,
// the loss of the global batch, and each process's own random stream for
// dropout. docs/data-parallel.md describes the whole design.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "driver/Cluster.h"
#include "driver/Data.h"
#include "driver/Session.h"

#include <cstdint>
#include <string>

namespace grt {

/// What must be the same on every process of a data-parallel run, one
/// "what: value" line each.
std::string runDefinition(Session &s, const Dataset &data, const DataOptions &dopts, int64_t start, int64_t steps,
                          int64_t stopAt);
/// ... and of `eval` on N processes.
std::string evalDefinition(Session &s, const Dataset &data, const DataOptions &dopts);
/// Stops with a message naming what differs between the processes, which
/// then would not achieve `purpose` ("train one model").
void checkSameRun(Cluster &c, const std::string &mine, const char *purpose = "train one model");
/// The step's loss over the global batch: the processes' losses averaged
/// in rank order. `stopping` becomes true on every process when it is true
/// on any (all stop after the same step, and save one checkpoint).
double globalLoss(Cluster &c, double mine, bool &stopping);
/// The value of the model's i32 `seed` leaf on process `rank`.
double randomSeedWord(uint64_t seed, int rank);

} // namespace grt
