//===- frontend/NearMiss.h - "did you mean" for names not found -*- C++ -*-===//
#pragma once

#include "llvm/ADT/StringRef.h"

#include <algorithm>
#include <string>
#include <vector>

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
    // A name this long is no typo of a short one, and a long one's
    // distance would cost its length squared on every pass of a loop (a
    // 1,000-character name in a 100,000-pass loop ran past 90 s).
    if (cand == name || cand.empty() || name.size() > kLongest) return;
    unsigned d;
    if (cand.equals_insensitive(name)) {
      d = 0;
    } else {
      unsigned most = name.size() <= 4 ? 1 : 2;
      d = swapped(cand) ? 1 : distanceWithin(name, cand, most);
      if (d > most || 2 * d >= std::min(name.size(), cand.size())) return;
    }
    if (d < bestDist) bestDist = d, best = cand.str();
  }
  /// The edit distance (insertions, deletions, replacements) from a
  /// to b when at most `most`, else most + 1: the band of the table
  /// within `most` of its diagonal, O(length · most).
  static unsigned distanceWithin(llvm::StringRef a, llvm::StringRef b, unsigned most) {
    size_t n = a.size(), m = b.size(), k = most;
    const unsigned far = most + 1;
    if ((n > m ? n - m : m - n) > k) return far;
    // Two rows of the table; entries outside a row's band stay `far` (the
    // band's right end only grows, and its left neighbour is reset).
    std::vector<unsigned> prev(m + 1, far), cur(m + 1, far);
    for (size_t j = 0; j <= std::min(m, k); ++j) prev[j] = unsigned(j);
    for (size_t i = 1; i <= n; ++i) {
      size_t lo = i > k ? i - k : 0, hi = std::min(m, i + k);
      unsigned best = far;
      if (lo == 0) cur[0] = best = unsigned(std::min<size_t>(i, far));
      else cur[lo - 1] = far;
      for (size_t j = std::max<size_t>(lo, 1); j <= hi; ++j) {
        unsigned v = std::min({prev[j - 1] + (a[i - 1] == b[j - 1] ? 0u : 1u), prev[j] + 1, cur[j - 1] + 1});
        cur[j] = std::min(v, far);
        best = std::min(best, cur[j]);
      }
      if (best > most) return far;
      std::swap(prev, cur);
    }
    return prev[m];
  }

  /// "did you mean 'x'?", or "" when no candidate was near enough.
  std::string hint() const { return best.empty() ? "" : "did you mean '" + best + "'?"; }

private:
  static constexpr size_t kLongest = 256;

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
