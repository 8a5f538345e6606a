//===- runtime/driver/DataParallel.cpp - what `train` adds for many processes ===//
#include "driver/DataParallel.h"

#include "core/Runtime.h"

#include <fmt/format.h>

#include <cstdlib>
#include <vector>

namespace grt {

/// The model's i32 `seed` leaf (random numbers inside the model: dropout).
/// Each process of a data-parallel run draws its own masks for its own
/// rows; process 0 of N uses the seed of a single-process run.
double randomSeedWord(uint64_t seed, int rank) {
  // The high half is mixed before it joins the low one: folded as it was
  // (lo ^ hi), seeds 0, 2^32 + 1 and 2^33 + 2 drew the same dropout masks
  // and noise. A seed below 2^32 keeps its word (murmur3's finaliser maps
  // 0 to 0), so runs that fit there draw what they drew.
  uint32_t hi = uint32_t(seed >> 32);
  hi ^= hi >> 16, hi *= 0x85ebca6bu, hi ^= hi >> 13, hi *= 0xc2b2ae35u, hi ^= hi >> 16;
  uint32_t w = uint32_t(seed) ^ hi ^ (uint32_t(rank) * 0x9E3779B9u);
  return double(int32_t(w));
}


/// The model's build and its values as a definition line states them: the
/// tensors' names, roles and shapes, hashed; the hyperparameters by name
/// (--lr 0.002 on one process was only a hash that differed); and the bytes
/// of its params and optimizer state, hashed.
static std::string modelLines(Session &s) {
  std::string shapes, values, hypers;
  for (auto &sl : s.slots) {
    shapes += fmt::format("{} {} {};", sl.tensor->name, sl.tensor->role, shapeStr(*sl.tensor));
    if (sl.tensor->role == GRT_PARAM || sl.tensor->role == GRT_STATE)
      values.append(static_cast<const char *>(sl.data), sl.bytes);
    // The shortest text that reads back as the same value of its type:
    // equal exactly when the values are.
    if (Session::isUserHyper(*sl.tensor)) {
      double v = Session::get(sl, 0);
      hypers += fmt::format("{}{} {}", hypers.empty() ? "" : ", ", sl.tensor->name,
                            sl.tensor->dtype == GRT_F32 ? fmt::format("{}", float(v)) : fmt::format("{}", v));
    }
  }
  // The build's constants by name (-D B=2 on one, B=4 on another), so
  // that a mismatch says which; the hashes catch any other difference.
  std::string constants;
  for (std::string_view text = s.model.constants ? s.model.constants : ""; !text.empty();) {
    std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    if (!line.empty()) constants += (constants.empty() ? "" : ", ") + shown(line, 200);
  }
  // What it computes: each entry's kernels and stored values as the
  // compiler described them (op, SSA name, type), the source locations
  // left out (one model built from two paths is one model). Two builds of
  // the same tensors with another loss or activation (an L1 loss against
  // an L2 one) averaged their gradients, silently.
  std::string code;
  for (int32_t e = 0; e < s.model.num_entries; ++e) {
    const GrtEntry &en = s.model.entries[e];
    code += fmt::format("{} {} {};", en.name, en.num_kernels, en.arena_bytes);
    auto described = [&](const char *what) {
      std::string_view w = what ? what : "";
      code += w.substr(0, w.find(" at "));
      code += ';';
    };
    for (int32_t k = 0; en.kernel_names && k < en.num_kernels; ++k) described(en.kernel_names[k]);
    for (int64_t i = 0; en.stored && i < en.num_stored; ++i) described(en.stored[i].what);
  }
  return fmt::format("the build's constants: {}\nthe model: {} (tensors fnv {:016x})\nwhat the model computes "
                     "(its kernels): fnv {:016x}\nthe hyperparameters (--lr, --hp, or the checkpoint's): {}\nthe "
                     "parameters and optimizer state: fnv {:016x}\n",
                     constants.empty() ? "none" : constants, s.model.name, hashName(shapes), hashName(code),
                     hypers.empty() ? "none" : hypers, hashName(values));
}

/// What must be the same on every process of a data-parallel run, one
/// "what: value" line each: a process that differs (another build of the
/// model, another seed, other data) would train something else silently.
std::string runDefinition(Session &s, const Dataset &data, const DataOptions &dopts, int64_t start, int64_t steps,
                          int64_t stopAt) {
  return modelLines(s) + fmt::format("the seed: {}\nthe steps: from {} to {} of {}\nthe data: {}\nthe validation "
                                     "fraction: {}\n",
                                     dopts.seed, start, stopAt, steps, data.identity(), dopts.valFraction);
}

/// The same for `eval`, whose processes each take a share of the batches
/// and add up their losses: another checkpoint or other data on one of
/// them gave a loss of neither, silently.
std::string evalDefinition(Session &s, const Dataset &data, const DataOptions &dopts) {
  return modelLines(s) + fmt::format("the seed: {}\nthe data: {}\nthe validation batches: {}\n", dopts.seed,
                                     data.identity(), data.numValBatches());
}

/// Stops with a message naming what differs between the processes.
void checkSameRun(Cluster &c, const std::string &mine, const char *purpose) {
  std::vector<std::string> all = c.gather(mine);
  std::string diffs;
  auto lines = [](const std::string &text) {
    std::vector<std::string> out;
    for (size_t at = 0, nl; at < text.size(); at = nl + 1) {
      nl = text.find('\n', at);
      if (nl == std::string::npos) nl = text.size();
      out.push_back(text.substr(at, nl - at));
    }
    return out;
  };
  std::vector<std::string> first = lines(all[0]);
  for (int r = 1; r < c.size; ++r) {
    std::vector<std::string> other = lines(all[size_t(r)]);
    for (size_t i = 0; i < first.size() && i < other.size(); ++i)
      if (first[i] != other[i])
        diffs += fmt::format("\n  rank {}: {}\n  rank 0: {}", r, other[i], first[i]);
  }
  if (diffs.empty()) return;
  if (!c.leader()) std::exit(1); // rank 0 says it, once
  fail("the processes of this data-parallel run differ, so they would not {}:{}", purpose, diffs);
}

double globalLoss(Cluster &c, double mine, bool &stopping) {
  std::vector<double> all = c.gather(std::vector<double>{mine, stopping ? 1.0 : 0.0});
  double loss = 0;
  for (int r = 0; r < c.size; ++r) {
    loss += all[size_t(2 * r)];
    stopping = stopping || all[size_t(2 * r + 1)] != 0;
  }
  return loss / double(c.size);
}

} // namespace grt
