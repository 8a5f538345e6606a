//===- runtime/driver/Checkpoint.h - saving and restoring training --------===//
//
// Checkpoints are safetensors files (an 8-byte little-endian header size, a
// JSON header, then raw tensor bytes), so other tools can read the weights.
// They hold every param and optimizer state tensor, and in the header's
// __metadata__ the step, the RNG and data position, and the run's settings,
// so that a resumed run continues exactly where the saved one stopped.
//
// Writes are atomic: a temporary file in the same directory, fsync, rename,
// fsync of the directory. A crash or full disk mid-save leaves the previous
// checkpoint untouched.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "driver/Session.h"

#include <map>

namespace grt {

using Metadata = std::map<std::string, std::string>;

void saveCheckpoint(const std::string &path, Session &s, const Metadata &meta);
/// Loads params and state into `s` after checking every tensor's name, dtype
/// and shape against the model; exits with a one-line message on any problem.
Metadata loadCheckpoint(const std::string &path, Session &s);

} // namespace grt
