//===- codegen/EmitKernel.cpp - loop IR to LLVM IR -------------------------===//
//
// A mechanical translation: loops become counted loops over i64, lets become
// SSA values, accumulators become allocas (SROA turns them into phis).
// Three things help LLVM's loop vectoriser:
//   - every buffer access carries scoped no-alias metadata (each buffer is
//     its own scope), so loads and stores need no runtime overlap checks;
//   - float accumulations allow reassociation, so sums vectorise;
//   - the transcendental functions are inline arithmetic (MathLib.cpp).
// Each elementwise op is lowered by its line in EmitScalarOp.cpp.
// Float arithmetic is otherwise exactly as written: no `contract` flag
// anywhere, an FMA only where one is written (llvm.fmuladd: a sum's
// product-and-add, the math functions' steps), so a value computed twice,
// in two kernels, two loops of one, or a vector loop and its remainder,
// has the same bits every time: `p == max(p, 1, true)` holds at the
// maximum even when fusion recomputes p. The one liberty: division by a
// constant whose reciprocal is a normal number becomes multiplication by
// that reciprocal, wherever it appears.
//
//===----------------------------------------------------------------------===//
#include "codegen/EmitKernel.h"

#include "codegen/EmitScalarOp.h"
#include "codegen/SharedConstants.h"
#include "runtime/include/gradrt/abi.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/MDBuilder.h"

#include <cmath>
#include <limits>

namespace gradc {

using namespace loops;
using llvm::Value;

namespace {

class KernelEmitter {
public:
  /// Emits `body` (the kernel's, or a GEMM's epilogue) as function `name`.
  KernelEmitter(llvm::Module &m, const Kernel &k, llvm::StringRef name, const std::vector<Stmt> &body,
                llvm::ArrayRef<ShapeConstant> constants, unsigned tailLanes)
      : m(m), ctx(m.getContext()), b(ctx), k(k), name(name), body(body), constants(constants), tailLanes(tailLanes) {}

  llvm::Function *run() {
    // void k(args, begin, end): args = {buffer pointers..., ctx}.
    auto *ptr = b.getPtrTy();
    auto *fty = llvm::FunctionType::get(b.getVoidTy(), {ptr, b.getInt64Ty(), b.getInt64Ty()}, false);
    fn = llvm::Function::Create(fty, llvm::Function::InternalLinkage, name, m);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    fn->addFnAttr(llvm::Attribute::NoInline);
    Value *args = fn->getArg(0);
    args->setName("args");
    begin = fn->getArg(1);
    end = fn->getArg(2);
    begin->setName("begin");
    end->setName("end");
    entry = llvm::BasicBlock::Create(ctx, "entry", fn);
    b.SetInsertPoint(entry);
    auto field = [&](size_t i, const llvm::Twine &fieldName) {
      auto *l = b.CreateAlignedLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, args, i), llvm::Align(8), fieldName);
      l->setMetadata(llvm::LLVMContext::MD_invariant_load, llvm::MDNode::get(ctx, {}));
      return l;
    };
    // Local buffers are slices in this call's scratch (a slice group's
    // intermediates): each thread has its own, from the runtime rather than
    // the stack, where up to 1 MiB overflowed a thread under `ulimit -s
    // 512`. Epilogues have no locals (slice groups hold no epilogues), and
    // must not ask: they run inside the kernel's call.
    Value *scratch = nullptr;
    if (k.scratchBytes > 0 && &body == &k.body) {
      auto *sty = llvm::FunctionType::get(ptr, {b.getInt64Ty()}, false);
      auto *call = b.CreateCall(m.getOrInsertFunction("grt_thread_scratch", sty), {b.getInt64(k.scratchBytes)}, "scratch");
      call->addRetAttr(llvm::Attribute::NoAlias);
      call->addRetAttr(llvm::Attribute::getWithAlignment(ctx, llvm::Align(64)));
      scratch = call;
    }
    for (size_t i = 0; i < k.buffers.size(); ++i)
      bases.push_back(k.buffers[i].isLocal ? b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), scratch, k.buffers[i].offset)
                                           : static_cast<Value *>(field(i, "b" + llvm::Twine(i))));
    rtctx = field(k.buffers.size(), "ctx");
    if (!constants.empty()) loadConstants(field(k.buffers.size() + 1, "constants"));

    makeAliasScopes();
    ivs.assign(k.vars.size(), nullptr);
    for (auto &s : body) stmt(s);
    b.CreateRetVoid();
    return fn;
  }

private:
  llvm::Type *llvmType(Type t) {
    switch (t) {
    case Type::F32: return b.getFloatTy();
    case Type::F64: return b.getDoubleTy();
    case Type::I32: return b.getInt32Ty();
    case Type::I1: return b.getInt1Ty();
    case Type::Index: return b.getInt64Ty();
    }
    return nullptr;
  }
  /// In memory, booleans are bytes.
  llvm::Type *memType(Type t) { return t == Type::I1 ? b.getInt8Ty() : llvmType(t); }

  void makeAliasScopes() {
    llvm::MDBuilder md(ctx);
    llvm::MDNode *domain = md.createAnonymousAliasScopeDomain(name);
    for (size_t i = 0; i < k.buffers.size(); ++i) scopes.push_back(md.createAnonymousAliasScope(domain, "b" + std::to_string(i)));
    for (size_t i = 0; i < k.buffers.size(); ++i) {
      llvm::SmallVector<llvm::Metadata *, 8> others;
      for (size_t j = 0; j < k.buffers.size(); ++j)
        if (j != i) others.push_back(scopes[j]);
      scopeLists.push_back(llvm::MDNode::get(ctx, {scopes[i]}));
      noaliasLists.push_back(llvm::MDNode::get(ctx, others));
    }
  }
  void tagAccess(llvm::Instruction *inst, int buffer) {
    inst->setMetadata(llvm::LLVMContext::MD_alias_scope, scopeLists[buffer]);
    inst->setMetadata(llvm::LLVMContext::MD_noalias, noaliasLists[buffer]);
  }

  Value *address(int buffer, const Expr *offset) {
    return b.CreateInBoundsGEP(memType(k.buffers[buffer].type), bases[buffer], value(offset));
  }

  Value *load(int buffer, const Expr *offset) {
    Type t = k.buffers[buffer].type;
    auto *l = b.CreateLoad(memType(t), address(buffer, offset));
    tagAccess(l, buffer);
    return t == Type::I1 ? b.CreateTrunc(l, b.getInt1Ty()) : static_cast<Value *>(l);
  }

  void store(int buffer, const Expr *offset, Value *v) {
    if (k.buffers[buffer].type == Type::I1) v = b.CreateZExt(v, b.getInt8Ty());
    tagAccess(b.CreateStore(v, address(buffer, offset)), buffer);
  }

  /// A shared kernel's constants, read once on entry (the struct never
  /// changes while the program runs).
  void loadConstants(Value *base) {
    llvm::StructType *ty = constantsType(ctx, constants);
    unsigned field = 0;
    auto read = [&](const llvm::Twine &n) {
      auto *l = b.CreateLoad(ty->getElementType(field), b.CreateStructGEP(ty, base, field), n);
      l->setMetadata(llvm::LLVMContext::MD_invariant_load, llvm::MDNode::get(ctx, {}));
      ++field;
      return l;
    };
    for (size_t i = 0; i < constants.size(); ++i) {
      Value *v = read("c" + llvm::Twine(i));
      Value *r = constants[i].divisor ? read("c" + llvm::Twine(i) + ".reciprocal") : nullptr;
      shared[constants[i].expr] = {v, r};
    }
  }

  //===--- expressions ------------------------------------------------------===//

  Value *value(const Expr *e) {
    switch (e->kind) {
    case Expr::Const: {
      if (auto it = shared.find(e); it != shared.end()) return it->second.first;
      llvm::Type *t = llvmType(e->type);
      if (isFloat(e->type)) return llvm::ConstantFP::get(t, e->value);
      return llvm::ConstantInt::get(t, int64_t(e->value), true);
    }
    case Expr::Var: return ivs[e->var];
    default: break;
    }
    if (auto it = vals.find(e); it != vals.end()) return it->second;
    // Index arithmetic is not placed; compute it where it is needed.
    if (e->kind == Expr::Op && e->type == Type::Index) return compute(e);
    llvm::report_fatal_error("internal error: loop IR value used before it is computed");
  }

  Value *compute(const Expr *e) {
    if (e->kind == Expr::Load) return load(e->buffer, e->args[0]);
    // A shared divisor's reciprocal is a normal number, and LLVM makes a
    // division by such a constant a multiplication by it (SharedConstants.cpp).
    if (e->op == OpKind::Div && isFloat(e->type))
      if (auto it = shared.find(e->args[1]); it != shared.end()) return b.CreateFMul(value(e->args[0]), it->second.second);
    llvm::SmallVector<Value *, 3> a;
    for (const Expr *x : e->args) a.push_back(value(x));
    return emitScalarOp(b, e->op, e->type, e->args.empty() ? e->type : e->args[0]->type, a);
  }

  //===--- statements -------------------------------------------------------===//

  llvm::AllocaInst *accumulator(const Expr *r) {
    auto it = accs.find(r);
    if (it != accs.end()) return it->second;
    llvm::IRBuilder<> eb(entry, entry->begin());
    return accs[r] = eb.CreateAlloca(llvmType(r->type), nullptr, "acc");
  }

  Value *reduceInit(const Expr *r) {
    llvm::Type *t = llvmType(r->type);
    if (r->op == OpKind::ReduceSum) return isFloat(r->type) ? llvm::ConstantFP::get(t, 0.0) : llvm::ConstantInt::get(t, 0);
    return isFloat(r->type) ? llvm::ConstantFP::getInfinity(t, true)
                            : llvm::ConstantInt::get(t, std::numeric_limits<int32_t>::min(), true);
  }

  /// acc + v for a float sum. Only here does a product fuse into the add
  /// as one FMA (a dot product's `acc += a*b`), and explicitly: an
  /// llvm.fmuladd, which the backend makes an FMA in every copy of the
  /// loop. With `contract` flags it chose per copy: a row in the scalar
  /// remainder after an 8-lane vector loop got a plain multiply and add,
  /// the rows in vectors FMAs, and the same row's x @ w differed in its
  /// last bit by its place in the batch. Elsewhere float arithmetic is
  /// exactly as written, so a value recomputed in two places has the same
  /// bits in both.
  Value *accumulate(Value *acc, Value *v, bool reassoc) {
    llvm::FastMathFlags fmf;
    if (reassoc) fmf.setAllowReassoc();
    Value *sum;
    if (auto *mul = llvm::dyn_cast<llvm::BinaryOperator>(v); mul && mul->getOpcode() == llvm::Instruction::FMul)
      sum = b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {v->getType()}, {mul->getOperand(0), mul->getOperand(1), acc});
    else
      sum = b.CreateFAdd(acc, v);
    llvm::cast<llvm::Instruction>(sum)->setFastMathFlags(fmf);
    return sum;
  }

  Value *combine(const Expr *r, Value *acc, Value *v) {
    bool fl = isFloat(r->type);
    if (r->op == OpKind::ReduceSum) {
      if (!fl) return b.CreateAdd(acc, v);
      // Reassociation lets the vectoriser keep one partial sum per lane.
      return accumulate(acc, v, /*reassoc=*/true);
    }
    // llvm.maximum propagates NaN (a NaN row stays visible downstream) and,
    // unlike maxnum, LLVM vectorises it as a reduction.
    return fl ? b.CreateBinaryIntrinsic(llvm::Intrinsic::maximum, acc, v)
              : b.CreateBinaryIntrinsic(llvm::Intrinsic::smax, acc, v);
  }

  void loop(const Stmt &s) {
    // Rotated form (extents are >= 1): body, then increment and test. A
    // parallel loop runs [begin, end) and may be empty.
    // So may a loop over run-time bounds (lower, upper).
    Value *first = s.parallel ? begin : s.lower ? value(s.lower) : b.getInt64(0);
    Value *limit = s.parallel ? end : s.upper ? value(s.upper) : b.getInt64(k.vars[s.var].extent);
    llvm::BasicBlock *pre = b.GetInsertBlock();
    llvm::BasicBlock *body = llvm::BasicBlock::Create(ctx, k.vars[s.var].name, fn);
    llvm::BasicBlock *exit = llvm::BasicBlock::Create(ctx, k.vars[s.var].name + ".end", fn);
    if (s.parallel || s.lower) b.CreateCondBr(b.CreateICmpSLT(first, limit), body, exit);
    else b.CreateBr(body);
    b.SetInsertPoint(body);
    llvm::PHINode *iv = b.CreatePHI(b.getInt64Ty(), 2, k.vars[s.var].name);
    iv->addIncoming(first, pre);
    Value *saved = ivs[s.var];
    prefetchForWrite(s, iv, limit);
    ivs[s.var] = iv;
    bool jam = accumulatesRows(s), outerJam = inJam;
    inJam = jam;
    for (auto &c : s.body) stmt(c);
    inJam = outerJam;
    ivs[s.var] = saved;
    Value *next = b.CreateNUWAdd(iv, b.getInt64(1));
    llvm::BasicBlock *latch = b.GetInsertBlock();
    iv->addIncoming(next, latch);
    exit->moveAfter(latch);
    auto *br = b.CreateCondBr(b.CreateICmpULT(next, limit), body, exit);
    // Loop metadata: a distinct self-reference, and the promise that the
    // loop terminates (it is counted).
    llvm::SmallVector<llvm::Metadata *, 3> md{nullptr, llvm::MDNode::get(ctx, llvm::MDString::get(ctx, "llvm.loop.mustprogress"))};
    // An innermost loop long enough for vector registers is not unrolled
    // before the vectoriser sees it: fully unrolled, its enclosing loop
    // would be vectorised instead, with a gather per access (rows of a
    // softmax, say). The vectoriser interleaves it as it sees fit. A short
    // one whose tail is folded (below) is not unrolled either.
    bool innermost = llvm::none_of(s.body, [](const Stmt &c) { return c.kind == Stmt::Loop; });
    bool fold = innermost && !s.parallel && !s.lower && !s.upper && !inJam && foldsTail(k.vars[s.var].extent);
    if ((innermost && k.vars[s.var].extent >= 16 && !s.parallel) || fold)
      md.push_back(llvm::MDNode::get(ctx, llvm::MDString::get(ctx, "llvm.loop.unroll.disable")));
    if (fold)
      md.push_back(llvm::MDNode::get(ctx, {llvm::MDString::get(ctx, "llvm.loop.vectorize.predicate.enable"),
                                           llvm::ConstantAsMetadata::get(b.getTrue())}));
    if (jam) jamRows(md);
    auto *loopId = llvm::MDNode::getDistinct(ctx, md);
    loopId->replaceOperandWith(0, loopId);
    br->setMetadata(llvm::LLVMContext::MD_loop, loopId);
    b.SetInsertPoint(exit);
  }

  /// Whether an innermost loop of `extent` iterations is vectorised with a
  /// mask on its last pass (LLVM's tail folding) instead of leaving the
  /// elements past the last whole vector to a vector loop of half width
  /// and scalar code: when that remainder is most of a vector and the loop
  /// short. A head size of 31 (attention's softmax rows of T = 63 and its
  /// [63, 31] products in a slice group) took 2.5 times as long as 32, and
  /// now about as long. Loops of 5 to 15 were unrolled into scalar code,
  /// and are one masked pass now. Longer loops, short remainders and loops
  /// of 4 or fewer stay as they were: there the masked loop, which LLVM does
  /// not interleave, was up to a third slower. (2M elements in rows of N,
  /// softmax and tanh, one thread, AVX-512, step time: N = 8 26.5 -> 11.3
  /// ms, 15 28.4 -> 8.7, 31 28.8 -> 11.8, 47 12.4 -> 8.3, 127 9.2 -> 7.2;
  /// but 4 17.0 -> 19.8, 17 13.0 -> 18.3, 100 6.7 -> 7.4, 1023 6.6 -> 8.7.)
  /// Not the short column loop of a row loop that is unrolled and jammed.
  /// Only with AVX-512, whose masks cost what a plain load or store does:
  /// AVX2's masked stores are microcoded on some AMD cores, and no AVX2
  /// machine was at hand to measure on.
  bool foldsTail(int64_t extent) const {
    int64_t lanes = tailLanes;
    if (lanes < 16 || extent < 5) return false;
    return extent < 16 || (extent < 12 * lanes && 3 * (extent % lanes) > 2 * lanes);
  }

  /// Whether `s` is a loop over rows that adds each row into a short output
  /// row (a column sum: for r { lets; for c { out[c] += x[r, c] } }, at most
  /// kJamColumns columns), in whole blocks of kJamRows rows, on one thread.
  /// A longer row hides the wait for the store behind its own columns: the
  /// GPT's 128-column sums ran about 1 µs slower each jammed.
  bool accumulatesRows(const Stmt &s) const {
    if (s.parallel || s.lower || s.upper || k.vars[s.var].extent % kJamRows != 0 || s.body.empty()) return false;
    const Stmt &inner = s.body.back();
    auto is = [](Stmt::Kind kind) { return [kind](const Stmt &c) { return c.kind == kind; }; };
    if (inner.kind != Stmt::Loop || inner.parallel || inner.lower || inner.upper || k.vars[inner.var].extent > kJamColumns ||
        !llvm::all_of(llvm::ArrayRef<Stmt>(s.body).drop_back(), is(Stmt::Let)) || llvm::any_of(inner.body, is(Stmt::Loop)))
      return false;
    // Every row adds into the same output row: no accumulator's address
    // moves with r (else the rows go to different outputs, and there is no
    // chain to shorten).
    bool accumulates = false;
    llvm::DenseMap<const Expr *, bool> memo;
    for (const Stmt &c : inner.body)
      if (c.kind == Stmt::AccStore) {
        if (usesVar(c.offset, s.var, memo)) return false;
        accumulates = true;
      }
    return accumulates;
  }

  /// Row by row, each out[c] += x[r, c] waits for the store of the row
  /// before (about 10 cycles a row on AMD EPYC family 26; mlp64's [256,64]
  /// bias gradients took 1.1 µs each, 0.6-0.8 jammed). Unrolled by 8 and
  /// jammed into the column loop, each vector of out is loaded once per 8
  /// rows and the adds chain in registers, in the same order: the same
  /// bits. LLVM leaves unroll-and-jam out of its default pipeline; Target.cpp
  /// adds it, and it transforms only loops that ask. The loops it makes ask
  /// for nothing more.
  void jamRows(llvm::SmallVectorImpl<llvm::Metadata *> &md) {
    auto attr = [&](const char *name) { return llvm::MDNode::get(ctx, llvm::MDString::get(ctx, name)); };
    md.push_back(llvm::MDNode::get(ctx, {llvm::MDString::get(ctx, "llvm.loop.unroll_and_jam.count"),
                                         llvm::ConstantAsMetadata::get(b.getInt32(kJamRows))}));
    for (const char *after : {"llvm.loop.unroll_and_jam.followup_outer", "llvm.loop.unroll_and_jam.followup_remainder_outer"})
      md.push_back(llvm::MDNode::get(ctx, {llvm::MDString::get(ctx, after), attr("llvm.loop.mustprogress"),
                                           attr("llvm.loop.unroll_and_jam.disable")}));
  }
  static constexpr int kJamRows = 8;
  static constexpr int64_t kJamColumns = 64;

  /// An update writes a parameter in place, and both threads read that
  /// parameter in the step's products (each packs all of B), so its lines
  /// sit in both cores' caches: each store then waits for the other core to
  /// drop the line, one line at a time (a 64 KB update took 81 µs instead of
  /// 35 in a two-thread microbenchmark). Asking for the lines of a row a
  /// kilobyte ahead with write intent (PREFETCHW) overlaps those waits. For
  /// each store into a runtime slot in the loop nested in `outer` (a row of
  /// the update), the row that many rows ahead is prefetched, one request
  /// per 64-byte line, before this row runs; rows past the end of this
  /// thread's range are left to the thread that owns them.
  void prefetchForWrite(const Stmt &outer, Value *iv, Value *limit) {
    for (const Stmt &inner : outer.body) {
      if (inner.kind != Stmt::Loop) continue;
      if (llvm::any_of(inner.body, [](const Stmt &c) { return c.kind == Stmt::Loop; })) continue;
      for (const Stmt &st : inner.body) {
        if (st.kind != Stmt::Store || !k.buffers[st.buffer].isSlot || k.buffers[st.buffer].type == Type::I1 ||
            !indexOnly(st.offset))
          continue;
        int64_t bytes = k.buffers[st.buffer].type == Type::F64 ? 8 : 4, row = k.vars[inner.var].extent;
        int64_t ahead = std::max<int64_t>(1, (1024 + row * bytes - 1) / (row * bytes)), perLine = 64 / bytes;
        if (row < perLine) continue;
        Value *next = b.CreateNUWAdd(iv, b.getInt64(ahead));
        llvm::BasicBlock *pre = b.GetInsertBlock();
        llvm::BasicBlock *body = llvm::BasicBlock::Create(ctx, "prefetchw", fn);
        llvm::BasicBlock *exit = llvm::BasicBlock::Create(ctx, "prefetchw.end", fn);
        b.CreateCondBr(b.CreateICmpULT(next, limit), body, exit);
        b.SetInsertPoint(body);
        llvm::PHINode *j = b.CreatePHI(b.getInt64Ty(), 2, "line");
        j->addIncoming(b.getInt64(0), pre);
        Value *savedOuter = ivs[outer.var], *savedInner = ivs[inner.var];
        ivs[outer.var] = next;
        ivs[inner.var] = j;
        Value *addr = address(st.buffer, st.offset);
        ivs[outer.var] = savedOuter;
        ivs[inner.var] = savedInner;
        b.CreateIntrinsic(llvm::Intrinsic::prefetch, {addr->getType()},
                          {addr, b.getInt32(1), b.getInt32(3), b.getInt32(1)}); // write, keep, data
        Value *jn = b.CreateNUWAdd(j, b.getInt64(perLine));
        j->addIncoming(jn, b.GetInsertBlock());
        b.CreateCondBr(b.CreateICmpULT(jn, b.getInt64(row)), body, exit);
        b.SetInsertPoint(exit);
      }
    }
  }

  /// Whether `e` is index arithmetic on loop variables alone (no load), so
  /// it can be evaluated for another row.
  static bool indexOnly(const Expr *e) {
    if (e->kind == Expr::Const || e->kind == Expr::Var) return true;
    return e->kind == Expr::Op && e->type == Type::Index && llvm::all_of(e->args, indexOnly);
  }

  void gemm(const Stmt &s) {
    bool f64 = k.buffers[s.c.buffer].type == Type::F64;
    llvm::Type *i32 = b.getInt32Ty(), *i64 = b.getInt64Ty(), *ptr = b.getPtrTy();
    auto *fty =
        llvm::FunctionType::get(b.getVoidTy(), {ptr, i32, i32, i64, i64, i64, ptr, i64, ptr, i64, ptr, i64, i32, ptr, ptr}, false);
    auto callee = m.getOrInsertFunction(f64 ? "grt_gemm_f64" : "grt_gemm_f32", fty);
    Value *gctx = s.singleThreaded ? static_cast<Value *>(llvm::ConstantPointerNull::get(b.getPtrTy())) : rtctx;
    // The epilogue is a function of its own, called back with row ranges;
    // it reads the same argument array as this kernel.
    Value *epi = llvm::ConstantPointerNull::get(b.getPtrTy()), *epiArgs = epi;
    if (!s.body.empty()) {
      epi = KernelEmitter(m, k, name + ".epilogue", s.body, constants, tailLanes).run();
      epiArgs = fn->getArg(0);
    }
    Value *flags = b.getInt32(s.oneThread ? GRT_GEMM_ONE_THREAD : 0);
    if (s.accumulate) {
      Value *blk = value(s.accumulate);
      Value *add = b.CreateICmpNE(blk, llvm::ConstantInt::get(blk->getType(), 0));
      flags = b.CreateOr(flags, b.CreateSelect(add, b.getInt32(GRT_GEMM_ACCUMULATE), b.getInt32(0)));
    }
    Value *n = b.getInt64(s.n);
    if (s.colBegin) n = b.CreateSub(value(s.colEnd), value(s.colBegin)); // a narrowed product's columns
    Value *mm = b.getInt64(s.m);
    if (s.rowBegin) mm = b.CreateSub(value(s.rowEnd), value(s.rowBegin)); // its rows
    Value *kk = b.getInt64(s.k);
    if (s.kBegin) kk = b.CreateSub(value(s.kEnd), value(s.kBegin)); // and its sum
    b.CreateCall(callee, {gctx, b.getInt32(s.a.trans), b.getInt32(s.b.trans), mm, n,
                          kk, address(s.a.buffer, s.a.offset), b.getInt64(s.a.ld),
                          address(s.b.buffer, s.b.offset), b.getInt64(s.b.ld), address(s.c.buffer, s.c.offset),
                          b.getInt64(s.c.ld), flags, epi, epiArgs});
  }

  void fill(const Stmt &s) {
    bool f64 = k.buffers[s.buffer].type == Type::F64;
    std::string name = std::string("grt_fill_") + (s.dist == OpKind::RandUniform ? "uniform" : "normal") + (f64 ? "_f64" : "_f32");
    auto *ptr = b.getPtrTy();
    auto *fty = llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr, b.getInt64Ty(), b.getDoubleTy(), b.getDoubleTy()}, false);
    b.CreateCall(m.getOrInsertFunction(name, fty),
                 {rtctx, bases[s.buffer], b.getInt64(s.count), llvm::ConstantFP::get(b.getDoubleTy(), s.p0),
                  llvm::ConstantFP::get(b.getDoubleTy(), s.p1)});
  }

  void stmt(const Stmt &s) {
    switch (s.kind) {
    case Stmt::Loop: loop(s); break;
    case Stmt::Let:
      if (s.expr->kind == Expr::Reduce)
        vals[s.expr] = b.CreateLoad(llvmType(s.expr->type), accumulator(s.expr));
      else
        vals[s.expr] = compute(s.expr);
      break;
    case Stmt::AccInit: b.CreateStore(reduceInit(s.expr), accumulator(s.expr)); break;
    case Stmt::Accum: {
      llvm::AllocaInst *acc = accumulator(s.expr);
      Value *cur = b.CreateLoad(llvmType(s.expr->type), acc);
      b.CreateStore(combine(s.expr, cur, value(s.value)), acc);
      break;
    }
    case Stmt::Store: store(s.buffer, s.offset, value(s.value)); break;
    case Stmt::AccStore: {
      Value *old = load(s.buffer, s.offset);
      Value *v = value(s.value);
      bool fl = old->getType()->isFloatingPointTy();
      // Column maxima propagate NaN like row maxima (combine() above).
      Value *r = s.accOp == OpKind::ReduceMax
                     ? (fl ? b.CreateBinaryIntrinsic(llvm::Intrinsic::maximum, old, v) : b.CreateBinaryIntrinsic(llvm::Intrinsic::smax, old, v))
                     : (fl ? accumulate(old, v, /*reassoc=*/false) : b.CreateAdd(old, v));
      store(s.buffer, s.offset, r);
      break;
    }
    case Stmt::Gemm: gemm(s); break;
    case Stmt::Fill: fill(s); break;
    }
  }

  llvm::Module &m;
  llvm::LLVMContext &ctx;
  llvm::IRBuilder<> b;
  const Kernel &k;
  std::string name;
  const std::vector<Stmt> &body;
  llvm::ArrayRef<ShapeConstant> constants;
  /// Each shared constant's value and (a float's) reciprocal, as loaded.
  llvm::DenseMap<const Expr *, std::pair<Value *, Value *>> shared;
  llvm::Function *fn = nullptr;
  llvm::BasicBlock *entry = nullptr;
  Value *rtctx = nullptr, *begin = nullptr, *end = nullptr;
  std::vector<Value *> bases, ivs;
  std::vector<llvm::MDNode *> scopes, scopeLists, noaliasLists;
  llvm::DenseMap<const Expr *, Value *> vals;
  llvm::DenseMap<const Expr *, llvm::AllocaInst *> accs;
  unsigned tailLanes;
  bool inJam = false; // emitting the body of a row loop that is unrolled and jammed
};

} // namespace

llvm::Function *emitKernel(llvm::Module &m, const Kernel &k, llvm::StringRef name, llvm::ArrayRef<ShapeConstant> constants,
                           unsigned tailLanes) {
  return KernelEmitter(m, k, name, k.body, constants, tailLanes).run();
}

namespace {
llvm::Type *scalarLlvmType(llvm::LLVMContext &ctx, Type t) {
  switch (t) {
  case Type::F32: return llvm::Type::getFloatTy(ctx);
  case Type::F64: return llvm::Type::getDoubleTy(ctx);
  case Type::I32: return llvm::Type::getInt32Ty(ctx);
  case Type::I1: return llvm::Type::getInt1Ty(ctx);
  case Type::Index: return llvm::Type::getInt64Ty(ctx);
  }
  return nullptr;
}
} // namespace

llvm::StructType *constantsType(llvm::LLVMContext &ctx, llvm::ArrayRef<ShapeConstant> constants) {
  std::vector<llvm::Type *> fields;
  for (const ShapeConstant &c : constants) {
    fields.push_back(scalarLlvmType(ctx, c.expr->type));
    if (c.divisor) fields.push_back(fields.back());
  }
  return llvm::StructType::get(ctx, fields);
}

llvm::Constant *constantsValue(llvm::StructType *ty, llvm::ArrayRef<ShapeConstant> constants) {
  std::vector<llvm::Constant *> values;
  for (const ShapeConstant &c : constants) {
    const Expr *e = c.expr;
    llvm::Type *t = ty->getElementType(unsigned(values.size()));
    if (!isFloat(e->type)) {
      values.push_back(llvm::ConstantInt::get(t, int64_t(e->value), /*isSigned=*/true));
      continue;
    }
    values.push_back(llvm::ConstantFP::get(t, e->value));
    // The reciprocal rounded in the constant's own type, as LLVM folds 1/c.
    if (c.divisor) values.push_back(llvm::ConstantFP::get(t, e->type == Type::F32 ? double(1.0f / float(e->value)) : 1.0 / e->value));
  }
  return llvm::ConstantStruct::get(ty, values);
}

} // namespace gradc
