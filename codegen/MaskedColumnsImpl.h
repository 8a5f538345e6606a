//===- codegen/MaskedColumnsImpl.h - what the masked-column rules share ---===//
//
// Internal to codegen/Masked*.cpp: the analysis of reads and masks
// (MaskedColumns.cpp) and the three rules that use it, each in a file of
// its own: products of a local that is zero outside the mask
// (MaskedZeros.cpp), the softmax's loops (MaskedLoops.cpp) and a product a
// row sum reads in every column (MaskedRowSums.cpp). The overview is in
// MaskedColumns.cpp.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "codegen/LoopIR.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"

#include <array>
#include <optional>
#include <utility>
#include <vector>

namespace gradc::masked {

using namespace loops;

//===--- conditions and reads (MaskedColumns.cpp) ---------------------------===//

/// Whether `e` is the constant c.
bool isConst(const Expr *e, int64_t c);
/// Whether `e` is a condition on loop variables alone: no load, no reduction.
bool indexOnlyCondition(const Expr *e);
/// Every expression a statement holds (null where it has none).
std::array<const Expr *, 15> exprsOf(const Stmt &s);

/// One read of the product's local: the loop variable giving its column,
/// and the index-only condition under which its value is used.
struct Read {
  int column;
  const Expr *guard;
};

/// Collects the reads of `buffer` reachable from the statements in `stmts`.
/// False when some read has no usable guard or no column variable.
class ReadFinder {
public:
  ReadFinder(const Kernel &k, int buffer, int64_t n) : k(k), buffer(buffer), n(n) {}
  std::vector<Read> reads;
  bool ok = true;
  // A statement, and a reduction (its value, wherever used), whose reads
  // the caller accounts for.
  const Stmt *skip = nullptr;
  const Expr *skipReduce = nullptr;

  void stmt(const Stmt &s) {
    if (&s == skip) return;
    // From the values that leave the statements: stored, folded into an
    // accumulator, or addressing a product. A Let only computes part of
    // one of those early (placement hoists it), so it is met there.
    if (s.kind != Stmt::Let && s.kind != Stmt::AccInit)
      for (const Expr *e : exprsOf(s))
        if (e) walk(e, nullptr);
    // Written again, or read whole by another product: keep every column.
    if ((s.kind == Stmt::Store || s.kind == Stmt::AccStore || s.kind == Stmt::Fill) && s.buffer == buffer) fail();
    if (s.kind == Stmt::Gemm && (s.a.buffer == buffer || s.b.buffer == buffer || s.c.buffer == buffer)) fail();
    for (const Stmt &c : s.body) stmt(c);
  }

private:
  const Kernel &k;
  int buffer;
  int64_t n;
  llvm::DenseSet<std::pair<const Expr *, const Expr *>> seen;

  void fail() { ok = false; }

  void walk(const Expr *e, const Expr *guard) {
    if (e == skipReduce || !seen.insert({e, guard}).second) return;
    if (e->kind == Expr::Load && e->buffer == buffer) {
      std::optional<int> column = columnVar(e->args[0]);
      if (!guard || !column) fail();
      else reads.push_back({*column, guard});
    }
    if (e->kind == Expr::Op && e->op == OpKind::Select) {
      const Expr *cond = e->args[0];
      walk(cond, guard);
      // The innermost condition: an outer one may be on other variables
      // (a row's sum of masked terms, selected by a condition on the row).
      walk(e->args[1], indexOnlyCondition(cond) ? cond : guard);
      walk(e->args[2], guard);
      return;
    }
    for (const Expr *a : e->args) walk(a, guard);
  }

  /// The variable v when `offset` is v + (a multiple of n), v < n: the
  /// column of an [m, n] local stored row after row.
  std::optional<int> columnVar(const Expr *offset) const {
    if (linearConstant(offset) % n != 0) return std::nullopt;
    std::optional<int> column;
    for (auto [t, c] : linearTerms(offset)) {
      if (c % n == 0) continue;
      if (column || c != 1 || t->kind != Expr::Var || k.vars[t->var].extent > n) return std::nullopt;
      column = t->var;
    }
    return column;
  }
};

/// Whether `e` loads `buffer`.
bool loads(const Expr *e, int buffer, llvm::DenseSet<const Expr *> &seen);
/// Whether some statement outside `readers` (and not nested in one) loads
/// `buffer`.
bool loadedElsewhere(const Stmt &s, int buffer, const llvm::DenseSet<const Stmt *> &readers);
/// The columns [lo, hi) of an n-column local that `reads` may use, as index
/// expressions of the block loop's variable; nullopt when that is every
/// column.
std::optional<std::pair<const Expr *, const Expr *>> columnRange(Kernel &k, const std::vector<Read> &reads, int64_t n,
                                                                 int blockVar, bool inBlockLoop);

//===--- masks in a value (MaskedColumns.cpp) -------------------------------===//

/// The index-only select conditions in `e` that use `v`.
void maskConditions(const Expr *e, int v, llvm::DenseSet<const Expr *> &seen, llvm::SetVector<const Expr *> &out,
                    llvm::DenseMap<const Expr *, bool> &memo);
/// `e` with each select on one of `conds` replaced by its else-branch.
const Expr *elseValue(Kernel &k, const Expr *e, const llvm::SetVector<const Expr *> &conds,
                      llvm::DenseMap<const Expr *, const Expr *> &memo);

//===--- products and what goes in before them (MaskedColumns.cpp) ----------===//

/// The one Store of `buffer` in `s` and what it nests; null if none, or if
/// anything else writes it there. `count` counts every write.
const Stmt *onlyStore(const Stmt &s, int buffer, int &count);

/// Statements to insert before a product: where its check is computed.
struct Insertion {
  std::vector<Stmt> *list;
  size_t depth, at; // loops around the list; position in it
  std::vector<Stmt> stmts;
};

/// Where a product sits: the list holding it and its position, the
/// variables of the loops around it, and the row-block loop's list and
/// position when it is in that loop's body.
struct Product {
  std::vector<Stmt> *list;
  size_t at;
  bool inBlockLoop;
  std::vector<int> outer;
  std::vector<Stmt> *blockList = nullptr;
  size_t blockAt = 0;
};

/// Computes the condition `ok` just before the product at `where`; its part
/// `whole`, a check of `operand` alone, once before the row-block loop when
/// that operand is the same for every block.
void placeCheck(Kernel &k, const Product &where, int blockVar, const Stmt::Matrix &operand, const Expr *whole,
                const Expr *ok, std::vector<Insertion> &insertions);
/// Every product in `list` and below, in order.
void findProducts(std::vector<Stmt> &list, int blockVar, bool inBlockLoop, std::vector<int> &outer,
                  std::vector<Product> &out);
/// Inserts every insertion's statements: inner lists first (inserting into
/// an outer list moves the loops holding them), each from its back, so that
/// the positions recorded still hold.
void insertAll(std::vector<Insertion> &insertions);

/// One step of the path from the group to a loop: a list and a position.
struct Frame {
  std::vector<Stmt> *list;
  size_t at;
};

//===--- the rules ------------------------------------------------------------===//

/// MaskedZeros.cpp: narrows the product at `where` when an operand is a
/// local that is zero outside an index-only mask, or holds one value per
/// row there that a run-time check finds to be 0.
bool narrowZero(Kernel &k, const Product &where, int blockVar, std::vector<Insertion> &insertions);
/// MaskedLoops.cpp: narrows every innermost loop in `frames.back()`'s list
/// and below whose masked part is one value per row.
void narrowLoops(Kernel &k, std::vector<Frame> &frames, int groupVar, int blockVar, bool inBlockLoop);
/// MaskedRowSums.cpp: narrows the product at `where` when a row sum reads
/// its local in every column but its masked terms are zeros wherever the
/// local is finite, which a run-time bound shows.
bool narrowSummed(Kernel &k, Stmt &group, const Product &where, int blockVar, std::vector<Insertion> &insertions);

} // namespace gradc::masked
