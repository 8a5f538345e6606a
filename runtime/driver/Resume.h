//===- runtime/driver/Resume.h - what `train --resume` reads back ---------===//
//
// `train --resume CKPT` goes on with the run that saved CKPT. The
// checkpoint's metadata says where that run was (its step, the data
// position, the progress line it had open), how it was set up (its
// --steps, --log-every, --eval-every, seed, precision, validation
// fraction, processes and global batch, hyperparameters) and what it had
// drawn (its loss curve). This reads and checks each: a hand-edited or
// damaged field gets one line naming it. Train.cpp decides what the flags
// given now change of it, and says so.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "driver/Args.h"
#include "driver/Checkpoint.h"
#include "driver/Plots.h"

#include <optional>
#include <vector>

namespace grt {

/// The most steps a run may have: the model's step counters are i32.
constexpr int64_t kMaxSteps = INT32_MAX;

/// The run a checkpoint of this model saved. Fields that checkpoints from
/// before they were stored lack are 0, -1, empty or nullopt, as noted.
struct SavedRun {
  int64_t step = 0;       ///< the steps it had trained
  int64_t totalSteps = -1; ///< its --steps
  int64_t logEvery = 0;   ///< its --log-every (0: not stored)
  int64_t evalEvery = 0;  ///< its --eval-every (0: not stored)
  /// The progress line it had open: its steps and the sum of their losses.
  int64_t windowSteps = 0;
  double windowLoss = 0;
  bool hasHistory = false; ///< whether it kept its loss curve
  History history;         ///< up to `step`
  uint64_t seed = 0;
  std::string precision;         ///< "f32" or "bf16" ("": not stored)
  std::optional<double> valFrac; ///< its --val-frac, in [0, 1)
  std::optional<int> valBatches; ///< its --val-batches (text), from 1 to 100000
  int64_t world = 1;             ///< its processes
  int64_t globalBatch = -1;      ///< rows or tokens a step over all of them (-1: not stored)
  std::string data;              ///< its data position (Dataset::saveState)
  std::string dataId;            ///< what it trained on (Dataset::identity; "": not stored)
  std::string dataPath;          ///< the file it was read from ("": the model's own data, or not stored)
};

/// Reads and checks what `meta`, checkpoint `from` of model `m`, says of
/// the run that saved it.
SavedRun readSavedRun(const Metadata &meta, const std::string &from, const GrtModel &m);

/// The optimizer a model trains with, for checkpoints: "adamw" of
/// "adamw(lr = 0.001, ...)".
std::string optimizerName(const GrtModel &m);

/// What rows or tokens the data position and batch count ("rows", "tokens").
const char *positionUnit(const GrtModel &m);

/// Sets the hyperparameters the checkpoint's run trained with, where the
/// flags do not set them, and adds to `overrides` what differs from the model
/// or the checkpoint (see Resume.cpp).
void restoreHypers(Session &s, const Args &a, const Metadata &meta, const std::string &from,
                   std::vector<std::string> &overrides);

} // namespace grt
