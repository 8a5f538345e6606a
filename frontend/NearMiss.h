//===- frontend/NearMiss.h - "did you mean" for names not found -*- C++ -*-===//
#pragma once

#include "llvm/ADT/StringRef.h"

#include <algorithm>
#include <string>

namespace gradc {

/// The candidate nearest to a name not found, for "did you mean": one that
/// differs only in case, or by at most 1 edit (for a name of up to 4
/// characters; 2 beyond) that is fewer than half of either name's length,
/// so a short name is not offered an unrelated one (`B` gets no `f`, `mx`
/// no `x`). Two neighbours swapped count as one edit: `perd` was offered no
/// `pred`, nor `modle` `model` (two edits each by Levenshtein's count).
class NearMiss {
public:
  explicit NearMiss(llvm::StringRef name) : name(name) {}
  void consider(llvm::StringRef cand) {
    if (cand == name || cand.empty()) return;
    unsigned d;
    if (cand.equals_insensitive(name)) {
      d = 0;
    } else {
      unsigned most = name.size() <= 4 ? 1 : 2;
      d = swapped(cand) ? 1 : llvm::StringRef(name).edit_distance(cand, /*AllowReplacements=*/true, most + 1);
      if (d > most || 2 * d >= std::min(name.size(), cand.size())) return;
    }
    if (d < bestDist) bestDist = d, best = cand.str();
  }
  /// "did you mean 'x'?", or "" when no candidate was near enough.
  std::string hint() const { return best.empty() ? "" : "did you mean '" + best + "'?"; }

private:
  /// Whether cand is the name with two neighbouring characters swapped.
  bool swapped(llvm::StringRef cand) const {
    if (cand.size() != name.size()) return false;
    size_t i = 0;
    while (i < name.size() && name[i] == cand[i]) ++i;
    return i + 1 < name.size() && name[i] == cand[i + 1] && name[i + 1] == cand[i] &&
           llvm::StringRef(name).drop_front(i + 2) == cand.drop_front(i + 2);
  }

  std::string name;
  std::string best;
  unsigned bestDist = ~0u;
};

} // namespace gradc
