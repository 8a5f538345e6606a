//===- codegen/LoopIR.h - kernels as loop nests ---------------------------===//
//
// The last IR before LLVM. A kernel is a tree of loops over scalar
// statements, as a person would write it in C:
//
//   kernel train.k3  pred = add(matmul, broadcast(b))     f32[32,1]
//     for i0 in 0..32
//       t0 = load arena[0 + i0]
//       t1 = load b[0]
//       t2 = add t0, t1
//       store output:pred[i0] = t2
//
// Expressions are pure and hash-consed, so equal subexpressions are one
// object and computed once. A Reduce expression is a value computed by a
// loop of its own (a sum or max over its variables); scheduling places every
// expression in the outermost loop where all its inputs are known, which
// hoists loop-invariant work and turns a reduction into an accumulator loop.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Graph.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/raw_ostream.h"

#include <deque>
#include <map>
#include <memory>
#include <optional>

namespace gradc::loops {

/// Scalar types of the loop IR: the tensor dtypes plus Index, a 64-bit
/// integer for addresses and loop counters.
enum class Type : uint8_t { F32, F64, I32, I1, Index };
Type scalarType(DType t);
llvm::StringRef typeName(Type t);
inline bool isFloat(Type t) { return t == Type::F32 || t == Type::F64; }

struct Expr {
  enum Kind : uint8_t { Const, Var, Load, Op, Reduce };
  Kind kind;
  Type type;
  double value = 0;   // Const
  int var = -1;       // Var: loop variable
  int buffer = -1;    // Load: buffer id; args[0] is the element offset
  OpKind op = OpKind::Add; // Op: the elementwise op; Reduce: ReduceSum/ReduceMax
  llvm::SmallVector<const Expr *, 3> args; // Op operands; Reduce: args[0] is the body
  llvm::SmallVector<int, 2> vars;          // Reduce: the variables it loops over
  int id = 0; // creation order, for a deterministic order of sum terms
};

struct LoopVar {
  std::string name;
  int64_t extent;
};

/// Memory a kernel reads or writes: a runtime tensor or part of the arena.
struct Buffer {
  std::string name;      // for dumps
  Type type;
  bool isSlot;           // runtime tensor (by name) or the arena
  std::string slot;      // slot name ("w", "output:loss")
  int64_t offset = 0;    // arena byte offset; local: byte offset in the scratch
  int64_t elements = 0;
  /// One slice of a value in the kernel's per-call scratch (a slice group's,
  /// Storage::Local): its loads and stores index the slice, not the tensor.
  bool isLocal = false;
  /// A local holding one block of rows of its slice (ir/Graph.h, rowBlock).
  bool isBlock = false;
  /// The kernel's base pointer is this many elements into the memory, at
  /// the first element it touches (RebaseBuffers.cpp); addresses count
  /// from there.
  int64_t first = 0;
};

/// Whether two buffers of kernels of one entry may share memory: the same
/// slot, or overlapping arena bytes (the arena is reused, so two values
/// may take the same bytes at different times). Locals are per call.
bool sameMemory(const Buffer &a, const Buffer &b);
/// Bytes of one element in memory (i1 is a byte: EmitKernel.cpp, memType).
int64_t elementBytes(Type t);

struct Stmt {
  enum Kind : uint8_t {
    Loop,       // for var in 0..extent: body
    Let,        // compute `expr` (an Op or Load) here
    AccInit,    // start the accumulator of Reduce `expr`
    Accum,      // fold `value` into the accumulator of Reduce `expr`
    Store,      // buffer[offset] = value
    AccStore,   // buffer[offset] op= value (scatter-add, column reductions)
    Gemm,       // C = op(A) @ op(B) on strided matrices, via the runtime;
                // then `body` (the epilogue) on each block of C's rows the
                // runtime finishes, its parallel row loop over that block
    Fill,       // buffer[0..count) = random draws, via the runtime
  };
  Kind kind;
  int var = -1;
  bool parallel = false; // Loop: its iterations are split across threads
  // Loop: when set, the loop runs var over [lower, upper) (run-time index
  // values within 0..extent) instead of 0..extent, and may be empty
  // (codegen/MaskedColumns.cpp).
  const Expr *lower = nullptr, *upper = nullptr;
  std::vector<Stmt> body;
  const Expr *expr = nullptr;
  const Expr *value = nullptr;
  int buffer = -1;
  const Expr *offset = nullptr;

  // Gemm: C[m,n] (+)= sum_k A[m,k] B[k,n], with each operand a buffer plus an
  // element offset and leading dimension; `trans*` means stored transposed.
  struct Matrix {
    int buffer = -1;
    const Expr *offset = nullptr;
    int64_t ld = 0;
    bool trans = false;
  };
  Matrix a, b, c;
  int64_t m = 0, n = 0, k = 0;
  const Expr *accumulate = nullptr; // when set and nonzero at run time: C += A·B
  // When set: only C's columns [colBegin, colEnd) are computed (run-time
  // index values; `n` is the most), the others being read by no one
  // (codegen/MaskedColumns.cpp). The offsets of B and C already include
  // colBegin; the runtime is called with n = colEnd - colBegin.
  const Expr *colBegin = nullptr, *colEnd = nullptr;
  // When set: the sum runs over k in [kBegin, kEnd) only (`k` is the most),
  // A's other columns being zero; A's and B's offsets include kBegin.
  const Expr *kBegin = nullptr, *kEnd = nullptr;
  // When set: only C's rows [rowBegin, rowEnd) are computed (`m` is the
  // most), the others being added zeros; A's and C's offsets include
  // rowBegin; the runtime is called with m = rowEnd - rowBegin.
  const Expr *rowBegin = nullptr, *rowEnd = nullptr;
  bool singleThreaded = false; // inside a parallel loop: no threads of its own
  bool oneThread = false;      // in an entry that runs on one thread (profiled)

  // AccStore: ReduceSum (+=) or ReduceMax (max=).
  OpKind accOp = OpKind::ReduceSum;

  // Fill: the distribution (RandUniform: low/high; RandNormal: mean/std).
  OpKind dist = OpKind::RandUniform;
  double p0 = 0, p1 = 0;
  int64_t count = 0;
};

struct Kernel {
  Kernel() = default;
  // Statements point into the expression pool, so a Kernel moves (cheaply,
  // without invalidating them) but is never copied.
  Kernel(Kernel &&) noexcept = default;
  Kernel &operator=(Kernel &&) noexcept = default;
  Kernel(const Kernel &) = delete;
  Kernel &operator=(const Kernel &) = delete;

  std::string name;    // "train.k3"
  std::string summary; // what graph nodes it computes
  std::vector<Buffer> buffers;
  std::vector<LoopVar> vars;
  std::vector<Stmt> body;
  /// Elements the kernel's loops cover; used to decide threading.
  int64_t work = 0;
  /// The IR values the kernel stores, for the runtime's non-finite check.
  struct Stored {
    std::string what; // "%h2 = tanh : f32[128,32] at mlp.grad:12:7"
    Buffer where;     // its slot or arena bytes (elements: its size)
    int32_t lastRead = -1; // the last kernel that reads it (through views); -1: none
  };
  std::vector<Stored> stored;
  /// Bytes of per-thread scratch (grt_thread_scratch) each call of the
  /// kernel uses for its local buffers (a slice group's intermediates, one slice at a time).
  int64_t scratchBytes = 0;
  /// Extent of the outermost loop when it runs in parallel (0: serial).
  /// The kernel is then called as k(env, begin, end) on parts of it.
  int64_t parallelExtent = 0;
  /// Runs together with the kernel before it (and that one's group) as one
  /// parallel loop over all their elements (codegen/LoopGroups.cpp).
  bool joinsPrevious = false;

  /// Hash-consed expression constructors.
  const Expr *constant(double v, Type t);
  const Expr *index(int64_t v) { return constant(double(v), Type::Index); }
  const Expr *var(int v);
  const Expr *load(int buffer, const Expr *offset);
  const Expr *op(OpKind k, Type t, llvm::ArrayRef<const Expr *> args);
  const Expr *reduce(OpKind k, Type t, const Expr *body, llvm::ArrayRef<int> vars);
  int newVar(llvm::StringRef name, int64_t extent);

  // Index arithmetic. Sums are kept as canonical linear combinations
  // (terms ordered, like terms merged, zeros dropped), so an address built
  // two ways is one expression. Division and remainder by a constant use
  // the ranges of loop variables: (64·i + j) / 64 is i when 0 <= j < 64.
  // Index values are never negative.
  const Expr *add(const Expr *a, const Expr *b);
  const Expr *mul(const Expr *a, int64_t c);
  const Expr *divConst(const Expr *a, int64_t c);
  const Expr *remConst(const Expr *a, int64_t c);
  const Expr *clamp(const Expr *a, int64_t lo, int64_t hi);
  /// The smallest and largest value of an index expression, when known.
  std::optional<std::pair<int64_t, int64_t>> range(const Expr *e) const;
  /// Every expression built so far, in creation order.
  const std::deque<Expr> &expressions() const { return *pool; }

private:
  std::unique_ptr<std::deque<Expr>> pool = std::make_unique<std::deque<Expr>>();
  std::map<std::string, const Expr *> interned;
  const Expr *intern(Expr e);
};

/// An index expression as Σ coefficient·term (+ a constant, left out).
std::vector<std::pair<const Expr *, int64_t>> linearTerms(const Expr *e);
/// The constant of that sum.
int64_t linearConstant(const Expr *e);
/// Whether `e` uses loop variable `v` (a reduction's own variables aside).
/// `memo` keeps the answer per shared subexpression (expressions are
/// interned, so a value can be reached many ways).
bool usesVar(const Expr *e, int v, llvm::DenseMap<const Expr *, bool> &memo);

/// `canonical` prints buffers by position and leaves out names: two kernels
/// with the same canonical text compute the same thing on different memory.
void print(const Kernel &k, llvm::raw_ostream &os, bool canonical = false);
/// A constant of a kernel's shape, and whether the kernel divides by it.
struct ShapeConstant {
  const Expr *expr;
  bool divisor = false;
};
/// The canonical text with each constant a kernel sharing its function may
/// read from memory (SharedConstants.h: most uses of f32, f64 and i32
/// constants) written as a placeholder `$n`: kernels with the same shape
/// differ at most in those constants (the steps of an unrolled loop, each
/// with its own time t). Returns the constants, n-th at [n].
std::vector<ShapeConstant> printShape(const Kernel &k, llvm::raw_ostream &os);

} // namespace gradc::loops
