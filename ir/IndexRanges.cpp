//===- ir/IndexRanges.cpp - the values an i32 input may take as an index -===//
#include "ir/IndexRanges.h"

#include "ir/ConstantElements.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <map>
#include <set>

namespace gradc {

void IndexRange::intersect(const IndexRange &o) {
  if (!o.bounded()) return;
  if (!bounded() || o.low > low) low = o.low, lowUse = o.lowUse;
  if (!bounded() || o.limit < limit) limit = o.limit, limitUse = o.limitUse;
}

namespace {

/// The size of the table `u` indexes with `v`: gather's and scatter_add's
/// rows, onehot's classes; 0 when `u` does not use `v` as indices.
int64_t tableSize(const Node *u, const Node *v) {
  if (u->is(OpKind::Gather) && u->operand(1) == v) return u->operand(0)->type.shape[0];
  if (u->is(OpKind::ScatterAdd) && u->operand(0) == v) return u->type.shape[0];
  if (u->is(OpKind::OneHot)) return u->type.shape.back();
  return 0;
}

/// An index v = x + shift into a table of `size` rows holds x to
/// [-shift, size - shift); nullopt when that leaves i32, the input's own
/// type, whose arithmetic wraps there (y - 2147483647 takes 2147483647).
std::optional<IndexRange> rangeOf(const Node *use, int64_t size, double shift) {
  double low = -shift, limit = double(size) - shift;
  if (low < double(INT32_MIN) || limit > double(INT32_MAX) + 1) return std::nullopt;
  return IndexRange{int64_t(low), int64_t(limit), use, use};
}

/// The constant that addition or subtraction `n` adds to operand `from`
/// (negated by the caller for a subtraction: `sign`), or null when `n` is
/// no such shift: `y - 1`, `1 + y`, `y + arange(n)`, but not `1 - y`.
const Node *shiftOperand(const Node *n, const Node *from, double &sign) {
  bool add = n->is(OpKind::Add), sub = n->is(OpKind::Sub) && n->operand(0) == from;
  if ((!add && !sub) || n->operand(0) == n->operand(1)) return nullptr;
  const Node *other = n->operand(0) == from ? n->operand(1) : n->operand(0);
  if (other->type.numel() != n->type.numel()) return nullptr;
  sign = sub ? -1.0 : 1.0;
  return other;
}

/// The value of every element of `n` when it is one constant, seen
/// through broadcasts and reshapes (the IR spells `y - 1` as y minus a
/// constant of y's shape).
std::optional<double> uniformConstant(const Node *n) {
  while (n->is(OpKind::Broadcast) || n->is(OpKind::Reshape)) n = n->operand(0);
  if (n->is(OpKind::Const)) return n->attrs.getFloat(AttrKey::Value);
  return std::nullopt;
}

} // namespace

std::vector<IndexRange> indexRanges(const Graph &g, const UserLists &users, const Node *input) {
  // The elements followed one by one, over all values reached (each with
  // its shifts beside it): as many as before shifts were followed.
  constexpr int64_t kMaxTracked = int64_t(1) << 22;
  int64_t rows = input->type.rank() > 0 ? input->type.shape[0] : 1;
  int64_t columns = rows > 0 ? input->type.numel() / rows : 1;
  std::vector<IndexRange> ranges(size_t(std::max<int64_t>(columns, 1)));
  // Columns a use shifts past i32, where arithmetic wraps: not checked.
  std::vector<bool> unchecked(ranges.size(), false);
  // Per value reached: each element's input element number + 1 (0: not
  // from the input), and what has been added to it since.
  struct Trail {
    std::vector<double> origin, shift;
  };
  std::map<const Node *, Trail> trail;
  int64_t tracked = input->type.numel();
  bool whole = tracked > kMaxTracked;
  // Past the budget nothing is followed element by element: the trails
  // of a [134217728] input took 2 GB and 15 s to build and go unused.
  Trail &start = trail[input];
  if (!whole) {
    start.origin.resize(size_t(input->type.numel()));
    for (size_t i = 0; i < start.origin.size(); ++i) start.origin[i] = double(i + 1);
    start.shift.assign(start.origin.size(), 0.0);
  }
  // Nodes are in topological order, so a value's trail is complete before
  // its users are reached.
  for (auto &np : g.nodes) {
    const Node *n = np.get();
    if (whole) break;
    if (n == input || !llvm::any_of(n->operands, [&](Node *o) { return trail.count(o); })) continue;
    bool shifts = n->is(OpKind::Add) || n->is(OpKind::Sub);
    if ((isLayoutOp(n) || shifts) && (tracked += n->type.numel()) > kMaxTracked) {
      whole = true;
      break;
    }
    if (isLayoutOp(n)) {
      // Operands not from the input hold zeros: no element, no shift.
      std::vector<std::vector<double>> zeros;
      zeros.reserve(n->operands.size());
      llvm::SmallVector<const std::vector<double> *, 3> origins, shifted;
      for (Node *o : n->operands) {
        if (auto it = trail.find(o); it != trail.end()) {
          origins.push_back(&it->second.origin);
          shifted.push_back(&it->second.shift);
        } else {
          zeros.emplace_back(size_t(o->type.numel()), 0.0);
          origins.push_back(&zeros.back());
          shifted.push_back(&zeros.back());
        }
      }
      trail[n] = {layoutElements(n, origins), layoutElements(n, shifted)};
      continue;
    }
    if (shifts) {
      const Node *from = trail.count(n->operand(0)) ? n->operand(0) : n->operand(1);
      double sign = 1;
      const Node *other = shiftOperand(n, from, sign);
      // One number (y - 1) costs nothing to read; other constants
      // (y + arange(n)) are computed, up to the budget's own size.
      std::optional<double> one = other ? uniformConstant(other) : std::nullopt;
      std::optional<std::vector<double>> c;
      if (other && !one) c = constantElements(other, kMaxTracked);
      if (one || c) {
        Trail t = trail[from];
        for (size_t i = 0; i < t.shift.size(); ++i) t.shift[i] += sign * (one ? *one : (*c)[i]);
        trail[n] = std::move(t);
        continue;
      }
    }
    for (const Node *o : n->operands)
      if (auto it = trail.find(o); it != trail.end())
        if (int64_t size = tableSize(n, o); size > 0)
          for (size_t i = 0; i < it->second.origin.size(); ++i)
            if (double e = it->second.origin[i]; e > 0) {
              size_t column = size_t((int64_t(e) - 1) % columns);
              if (auto use = rangeOf(n, size, it->second.shift[i])) ranges[column].intersect(*use);
              else unchecked[column] = true;
            }
  }
  // A shift past i32 leaves its column unchecked: wrapping arithmetic may
  // bring any value into the table.
  for (size_t c = 0; c < ranges.size(); ++c)
    if (unchecked[c]) ranges[c] = IndexRange{};
  if (!whole) return ranges;
  // Too large to follow element by element: which column reaches which
  // use is not known, so one range serves all columns, and only when every
  // use gives the same one (a narrower one would refuse another column's
  // valid values: ids[:, 0] - 10 into 5 users, ids[:, 1] into 5 items).
  // Each value is followed with one shift for all its elements; a
  // constant that is not one number ends the trail.
  std::optional<IndexRange> all;
  bool agree = true;
  std::vector<std::pair<const Node *, double>> work{{input, 0.0}};
  std::set<std::pair<const Node *, double>> seen{{input, 0.0}};
  constexpr size_t kMaxSeen = 4096;
  while (!work.empty() && seen.size() < kMaxSeen && agree) {
    auto [v, shift] = work.back();
    work.pop_back();
    for (const Node *u : users[v->id]) {
      if (int64_t size = tableSize(u, v); size > 0) {
        std::optional<IndexRange> r = rangeOf(u, size, shift);
        agree = r && (!all || (all->low == r->low && all->limit == r->limit));
        if (!agree) break;
        if (!all) all = r;
      }
      double next = shift;
      if (!isLayoutOp(u)) {
        double sign = 1;
        const Node *other = shiftOperand(u, v, sign);
        std::optional<double> c = other ? uniformConstant(other) : std::nullopt;
        if (!c) continue;
        next += sign * *c;
      }
      if (seen.insert({u, next}).second) work.push_back({u, next});
    }
  }
  if (!agree || seen.size() >= kMaxSeen || !all) return std::vector<IndexRange>(ranges.size());
  return std::vector<IndexRange>(ranges.size(), *all);
}

} // namespace gradc
