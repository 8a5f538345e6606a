//===- passes/ConcatPadSums.cpp - sums of many pads as concats ------------===//
//
// The gradient of a slice is a pad: zeros around the slice's gradient. A
// value read through many slices (a weight's columns w[:, i:i+1] in a
// loop, a sequence cut into steps) gets its gradient as a sum of as many
// pads, which autodiff accumulates as a chain of adds:
//
//   %g1 = pad %d0 {offsets = [0, 0]} : f32[1024,1024]     d0: f32[1024,1]
//   %g2 = pad %d1 {offsets = [0, 1]} : f32[1024,1024]
//   %s1 = add %g1, %g2 : f32[1024,1024]
//   ...                                                   1024 pads
//
// Fused into one loop, every element of the sum tests every pad's bounds:
// n·pads work for n elements. 1024 column slices of a [1024, 1024] weight
// cost 140 ms of a 148 ms step, in four such kernels.
//
// Pads whose regions do not overlap are a concat of their pieces with
// zeros between. So this pass flattens a chain of adds (each read only by
// the next), and where it holds more than kMaxInlineConcatParts pads
// (ir/Kernel.h) it rebuilds their sum as:
//
//   - along one axis, a concat of the bands (runs of regions that overlap
//     one another) with zero constants for the gaps; each band is built
//     the same way, on the band's extent, down to a single pad. The axis
//     is the one whose bands cover the least of it, then the one with the
//     most bands;
//   - where the regions overlap on every axis (sliding windows
//     w[:, i:i+3]), a sum of groups whose regions do not overlap along one
//     axis, as few as that axis allows (greedy interval colouring), each
//     built as above: three groups for windows of three.
//
//   %c = concat %d0, %d1, ..., %d1023 {axis = 1} : f32[1024,1024]
//
// Pads of the same region add their pieces first. split-wide-concats then
// makes the concat a tree, so each element is copied once per level. The
// other terms of the chain are added first, in their order, then the pads'
// sum. Where no two pads overlap, each element of the pads' sum is one
// pad's element plus exact zeros; with at most one other term the values
// are then those of the chain of adds. Where pads overlap, or other terms
// come between pads, terms add in another order. Sums of at most
// kMaxInlineConcatParts pads stay as they are: a loop tests that few
// bounds cheaply.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "ir/Kernel.h"
#include "passes/AddChains.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <queue>

namespace gradc {
namespace {

/// One pad's operand and where it lies in the region being built.
struct Piece {
  Node *src;
  std::vector<int64_t> off;
  int64_t lo(size_t a) const { return off[a]; }
  int64_t hi(size_t a) const { return off[a] + src->type.shape[a]; }
};

/// A run of pieces (indices into a list) whose extents along one axis
/// overlap one another, and that extent.
struct Band {
  std::vector<size_t> members;
  int64_t lo, hi;
};

/// The bands along axis `a`: pieces sorted by their start, a new band where
/// a piece starts at or after the end of all before it.
std::vector<Band> bandsAlong(llvm::ArrayRef<Piece> ps, size_t a) {
  std::vector<size_t> order(ps.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return ps[x].lo(a) < ps[y].lo(a); });
  std::vector<Band> bands;
  for (size_t i : order) {
    if (bands.empty() || ps[i].lo(a) >= bands.back().hi)
      bands.push_back({{}, ps[i].lo(a), ps[i].hi(a)});
    bands.back().members.push_back(i);
    bands.back().hi = std::max(bands.back().hi, ps[i].hi(a));
  }
  return bands;
}

/// Groups of pieces whose extents along `a` do not overlap, as few as
/// possible: each piece, by its start, joins the group that ended first,
/// if that group ended by the piece's start.
std::vector<std::vector<size_t>> coloursAlong(llvm::ArrayRef<Piece> ps, size_t a) {
  std::vector<size_t> order(ps.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return ps[x].lo(a) < ps[y].lo(a); });
  using End = std::pair<int64_t, size_t>; // (end of the group's last piece, group)
  std::priority_queue<End, std::vector<End>, std::greater<End>> ends;
  std::vector<std::vector<size_t>> groups;
  for (size_t i : order) {
    size_t gi;
    if (!ends.empty() && ends.top().first <= ps[i].lo(a)) {
      gi = ends.top().second;
      ends.pop();
    } else {
      gi = groups.size();
      groups.emplace_back();
    }
    groups[gi].push_back(i);
    ends.push({ps[i].hi(a), gi});
  }
  return groups;
}

class PadSumBuilder {
public:
  explicit PadSumBuilder(Builder &b) : b(b) {}

  /// The sum of the pieces, zero elsewhere, as a tensor of `shape`.
  Node *build(llvm::ArrayRef<Piece> ps, llvm::ArrayRef<int64_t> shape, unsigned depth = 0) {
    if (ps.size() == 1) return padTo(ps.front(), shape);
    size_t rank = shape.size();
    // Deeper than this the regions nest in a way no model makes; a plain
    // sum is what the pads were before.
    if (rank == 0 || depth > 64) return sum(ps, shape);

    // Cut first along the axis whose bands cover the least of it, then
    // the one with the most bands: the gradient of w[0:1, i:i+1] for 1024
    // i is row 0 (a concat of 1024 elements) above 1023 rows of zeros, not
    // 1024 padded columns of 1024 rows each. An axis of one band that
    // covers it all does not cut.
    size_t bestAxis = rank;
    std::vector<Band> best;
    int64_t bestCovered = 0;
    for (size_t a = 0; a < rank; ++a) {
      auto bands = bandsAlong(ps, a);
      int64_t covered = 0;
      for (const Band &band : bands) covered += band.hi - band.lo;
      if (bands.size() == 1 && covered == shape[a]) continue;
      // covered / shape[a] against bestCovered / shape[bestAxis], multiplied
      // out (in 128 bits: a dim may have 2^37 elements)
      __int128 mine = bestAxis == rank ? 0 : __int128(covered) * shape[bestAxis];
      __int128 theirs = bestAxis == rank ? 0 : __int128(bestCovered) * shape[a];
      bool better = bestAxis == rank || mine < theirs || (mine == theirs && bands.size() > best.size());
      if (better) best = std::move(bands), bestAxis = a, bestCovered = covered;
    }
    if (bestAxis < rank) return concatBands(ps, shape, bestAxis, best, depth);

    // The regions overlap along every axis: split them into groups that
    // do not, along the axis that needs the fewest.
    std::vector<std::vector<size_t>> fewest;
    for (size_t a = 0; a < rank; ++a) {
      auto groups = coloursAlong(ps, a);
      if (fewest.empty() || groups.size() < fewest.size()) fewest = std::move(groups);
    }
    // Each group built, then added, in turn (the order the dumps show).
    Node *total = nullptr;
    for (auto &g : fewest) {
      std::vector<Piece> sub;
      for (size_t i : g) sub.push_back(ps[i]);
      Node *part = build(sub, shape, depth + 1);
      total = total ? b.add(total, part) : part;
    }
    return total;
  }

private:
  Builder &b;

  Node *padTo(const Piece &p, llvm::ArrayRef<int64_t> shape) {
    if (llvm::ArrayRef<int64_t>(p.src->type.shape) == shape) return p.src;
    return b.pad(p.src, p.off, shape);
  }

  Node *sum(llvm::ArrayRef<Piece> ps, llvm::ArrayRef<int64_t> shape) {
    std::vector<Node *> padded;
    for (const Piece &p : ps) padded.push_back(padTo(p, shape));
    return b.addAll(padded);
  }

  Node *zeros(Node *like, llvm::ArrayRef<int64_t> shape) { return b.constant(0.0, like->type.withShape(shape)); }

  Node *concatBands(llvm::ArrayRef<Piece> ps, llvm::ArrayRef<int64_t> shape, size_t a, llvm::ArrayRef<Band> bands,
                    unsigned depth) {
    std::vector<Node *> parts;
    std::vector<int64_t> partShape(shape.begin(), shape.end());
    int64_t pos = 0;
    for (const Band &band : bands) {
      if (band.lo > pos) {
        partShape[a] = band.lo - pos;
        parts.push_back(zeros(ps.front().src, partShape));
      }
      std::vector<Piece> sub;
      for (size_t i : band.members) {
        Piece p = ps[i];
        p.off[a] -= band.lo;
        sub.push_back(std::move(p));
      }
      partShape[a] = band.hi - band.lo;
      parts.push_back(build(sub, partShape, depth + 1));
      pos = band.hi;
    }
    if (pos < shape[a]) {
      partShape[a] = shape[a] - pos;
      parts.push_back(zeros(ps.front().src, partShape));
    }
    return parts.size() == 1 ? parts.front() : b.concat(parts, int64_t(a));
  }
};

/// The rewrite of one chain's last add, or null to keep it.
Node *rewrite(Builder &b, Node *n, const AddChains &chains) {
  if (!chains.isRoot(n)) return nullptr;
  std::vector<Piece> pads;
  std::vector<Node *> others;
  for (Node *t : chains.terms(n)) {
    if (t->is(OpKind::Pad) && t->type == n->type) {
      auto off = t->attrs.getInts(AttrKey::Offsets);
      pads.push_back({t->operand(0), std::vector<int64_t>(off.begin(), off.end())});
    } else {
      others.push_back(t);
    }
  }
  if (pads.size() <= kMaxInlineConcatParts) return nullptr;
  // Pads of one region (w[i % 4, 0] read 1024 times) add their pieces
  // first, in the chain's order: each element of the region gets the
  // terms the chain gave it, in the same order.
  std::map<std::pair<std::vector<int64_t>, std::vector<int64_t>>, size_t> byRegion;
  std::vector<Piece> merged;
  for (Piece &p : pads) {
    const Dims &shape = p.src->type.shape;
    auto key = std::pair(p.off, std::vector<int64_t>(shape.begin(), shape.end()));
    auto [it, fresh] = byRegion.try_emplace(std::move(key), merged.size());
    if (fresh) merged.push_back(std::move(p));
    else merged[it->second].src = b.add(merged[it->second].src, p.src);
  }
  others.push_back(PadSumBuilder(b).build(merged, n->type.shape));
  return b.addAll(others);
}

} // namespace

llvm::Error runConcatPadSums(Module &m, const PassOptions &) {
  rewriteAddChains(m, rewrite);
  return llvm::Error::success();
}

} // namespace gradc
