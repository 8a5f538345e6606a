//===- runtime/driver/Checkpoint.h - saving and restoring training --------===//
//
// Checkpoints are safetensors files (an 8-byte little-endian header size, a
// JSON header, then raw tensor bytes), so other tools can read the weights.
// They hold every param and optimizer state tensor, and in the header's
// __metadata__ the step, the RNG and data position, and the run's settings,
// so that a resumed run continues exactly where the saved one stopped.
// A checksum in the metadata covers the whole file; every load checks it
// (a checkpoint saved before checksums has none, and loads unchecked).
//
// Writes are atomic: a temporary file in the same directory, fsync, rename,
// fsync of the directory. A crash or full disk mid-save leaves the previous
// checkpoint untouched.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "driver/Session.h"

#include <functional>
#include <map>

namespace grt {

using Metadata = std::map<std::string, std::string>;

/// Removes temporary files that earlier saves to `path` left when they were
/// killed mid-write (saying so), then writes atomically. Returns "" on
/// success, else why the write failed (a full disk), with the previous
/// checkpoint at `path`, if any, unchanged: the caller decides whether the
/// run goes on (a periodic save) or rescues its weights elsewhere (the last).
/// `renamed`, if given, runs as soon as the new file is in place, before
/// the directory is synced: what the run records of its save is then true
/// for a signal that comes during that sync.
std::string saveCheckpoint(const std::string &path, Session &s, const Metadata &meta,
                           const std::function<void()> &renamed = nullptr);
/// Where the last save of a run goes when `path` cannot take it: the
/// temporary directory ($TMPDIR, else /tmp), under the checkpoint's name
/// with this process's id (g.ckpt -> /tmp/g-PID.ckpt), so that two runs
/// rescued at once do not replace each other's.
std::string fallbackCheckpointPath(const std::string &path);
/// Fails now, before any work, if a checkpoint could not be saved to `path`
/// (a missing or read-only directory, a directory in its place).
void checkCheckpointPath(const std::string &path);
/// Fails now if no file descriptor is left for a save's temporary (ulimit
/// -n, once the lock holds one). Each save failed only at the end, when
/// the run's weights were lost.
void checkSaveLimits(const std::string &path, const Session &s);
/// Fails now if a checkpoint of `s` with metadata `fields` (the histories
/// at their longest) would pass the file-size limit (ulimit -f). Counting
/// the tensors alone let a run whose header took the rest train to its end
/// and lose its weights.
void checkSaveSize(const std::string &path, const Session &s, const Metadata &fields);
/// Fails when `path` is a file with something in it that is not a gradc
/// checkpoint (--save notes.txt), or is a checkpoint of a model other than
/// `modelName`: a save would replace it. An earlier checkpoint of the same
/// model, damaged or not, may be replaced.
void refuseReplacingOtherFile(const std::string &path, const std::string &modelName);
/// Loads params and state into `s` after checking every tensor's name, dtype
/// and shape against the model; exits with a one-line message on any problem.
/// The file must hold exactly the tensors the model saves, unless `partial`
/// (--partial-load): then tensors only the file has are ignored, and those
/// only the model has keep their values, each listed in a note. A parameter
/// holding NaN or infinity is refused. `weightsOnly` (eval, predict,
/// sample: no optimizer step) asks only for the parameters: optimizer state
/// the file lacks, or has of another optimizer, is no mistake there.
Metadata loadCheckpoint(const std::string &path, Session &s, bool partial = false, bool weightsOnly = false);
/// A field every gradc checkpoint has; fails, naming it, when `meta`, of
/// checkpoint `path`, lacks it.
const std::string &requiredField(const Metadata &meta, const char *key, const std::string &path);
/// The run's --seed as checkpoint `path` saved it in `meta` (0 to 2^63 - 1,
/// as --seed takes); a malformed one is refused. Fails when there is none.
uint64_t checkpointSeed(const Metadata &meta, const std::string &path);

} // namespace grt
