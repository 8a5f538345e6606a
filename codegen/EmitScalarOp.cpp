//===- codegen/EmitScalarOp.cpp - one element of an elementwise op --------===//
//
// Float arithmetic follows IEEE; max and min propagate NaN (llvm.maximum,
// as ir/Ops.def's maxNaN). The transcendental functions come from
// MathLib.cpp: inline polynomials in f32, so loops vectorise.
//
//===----------------------------------------------------------------------===//
#include "codegen/EmitScalarOp.h"

#include "codegen/MathLib.h"

#include <vector>

namespace gradc {

using loops::Type;
using llvm::Value;

namespace {

/// What a lowering line sees: the builder, the operands and their types,
/// and helpers for the cases that differ between floats and integers.
struct Lower {
  llvm::IRBuilder<> &b;
  llvm::ArrayRef<Value *> a;
  Type type, argType;

  bool fl() const { return loops::isFloat(argType); }
  bool index() const { return argType == Type::Index; }
  Value *x() const { return a[0]; }
  Value *y() const { return a[1]; }
  Value *zero() const { return llvm::Constant::getNullValue(a[0]->getType()); }

  // Integer add, sub and mul: addresses never overflow (nsw helps LLVM
  // reason about them); i32 tensor values wrap.
  Value *add() { return fl() ? b.CreateFAdd(x(), y()) : index() ? b.CreateNSWAdd(x(), y()) : b.CreateAdd(x(), y()); }
  Value *sub() { return fl() ? b.CreateFSub(x(), y()) : index() ? b.CreateNSWSub(x(), y()) : b.CreateSub(x(), y()); }
  Value *mul() { return fl() ? b.CreateFMul(x(), y()) : index() ? b.CreateNSWMul(x(), y()) : b.CreateMul(x(), y()); }

  Value *div() {
    if (index()) return b.CreateSDiv(x(), y()); // by positive constants only
    if (!fl()) return safeIntDiv();
    // Dividing by a constant (attention's 1/sqrt(d)) becomes a multiply by
    // its reciprocal: within an ulp, and a vector divide costs ~10 FMAs.
    // Only where the reciprocal is a normal number: LICM hoists 1/c out of
    // a loop without asking, so x / 1e-39 in f32 multiplied by 1/c = inf
    // (0 / 1e-39 was NaN) and x / 3e38 by a subnormal, 7 ulp off, in every
    // kernel with a loop, while InstCombine left a batch of 1 exact.
    auto *d = llvm::cast<llvm::Instruction>(b.CreateFDiv(x(), y()));
    if (reciprocalIsNormal(y())) d->setHasAllowReciprocal(true);
    return d;
  }

  /// Whether y is a constant (or a splat of one) whose reciprocal is a
  /// normal number, as InstCombine asks before it multiplies instead.
  static bool reciprocalIsNormal(Value *y) {
    auto *c = llvm::dyn_cast<llvm::Constant>(y);
    if (c && c->getType()->isVectorTy()) c = c->getSplatValue();
    auto *f = llvm::dyn_cast_or_null<llvm::ConstantFP>(c);
    if (!f) return false;
    llvm::APFloat r(f->getValueAPF().getSemantics(), 1);
    r.divide(f->getValueAPF(), llvm::APFloat::rmNearestTiesToEven);
    return r.isNormal();
  }

  /// x / y truncated, with x / 0 = 0 and INT_MIN / -1 = INT_MIN (wrapping),
  /// where the hardware would trap.
  Value *safeIntDiv() {
    auto *ty = llvm::cast<llvm::IntegerType>(x()->getType());
    Value *byZero = b.CreateICmpEQ(y(), zero());
    Value *overflow = b.CreateAnd(b.CreateICmpEQ(x(), llvm::ConstantInt::get(ty, llvm::APInt::getSignedMinValue(ty->getBitWidth()))),
                                  b.CreateICmpEQ(y(), llvm::ConstantInt::getSigned(ty, -1)));
    Value *d = b.CreateSelect(b.CreateOr(byZero, overflow), llvm::ConstantInt::get(ty, 1), y());
    Value *q = b.CreateSDiv(x(), d);
    q = b.CreateSelect(overflow, x(), q);
    return b.CreateSelect(byZero, zero(), q);
  }

  /// x // y, rounded toward minus infinity as ir/Ops.h's floorDiv: for
  /// integers the truncated quotient less one where the remainder's sign
  /// differs from y's (x // 0 = 0, as x / 0).
  Value *floorDiv() {
    if (!fl()) {
      Value *q = safeIntDiv(), *r = b.CreateSub(x(), b.CreateMul(q, y()));
      Value *fix = b.CreateAnd(b.CreateAnd(b.CreateICmpNE(r, zero()), b.CreateICmpNE(y(), zero())),
                               b.CreateXor(b.CreateICmpSLT(r, zero()), b.CreateICmpSLT(y(), zero())));
      return b.CreateSelect(fix, b.CreateSub(q, one()), q);
    }
    Value *m = mathFmod(b, x(), y()), *d = b.CreateFDiv(b.CreateFSub(x(), m), y());
    Value *fix = b.CreateAnd(b.CreateFCmpONE(m, zero()), b.CreateXor(b.CreateFCmpOLT(y(), zero()), b.CreateFCmpOLT(m, zero())));
    d = b.CreateSelect(fix, b.CreateFSub(d, one()), d);
    Value *f = b.CreateUnaryIntrinsic(llvm::Intrinsic::floor, d);
    f = b.CreateSelect(b.CreateFCmpOGT(b.CreateFSub(d, f), llvm::ConstantFP::get(d->getType(), 0.5)), b.CreateFAdd(f, one()), f);
    Value *signedZero = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, zero(), b.CreateFDiv(x(), y()));
    f = b.CreateSelect(b.CreateFCmpOEQ(d, zero()), signedZero, f);
    return b.CreateSelect(b.CreateFCmpOEQ(y(), zero()), b.CreateFDiv(x(), y()), f);
  }

  /// x % y with the sign of y, as ir/Ops.h's floorMod; x % 0 = 0 for
  /// integers (and INT_MIN % -1 = 0), where the hardware would trap.
  Value *floorMod() {
    Value *r;
    if (fl()) {
      r = mathFmod(b, x(), y());
    } else {
      auto *ty = llvm::cast<llvm::IntegerType>(x()->getType());
      Value *trap = b.CreateOr(b.CreateICmpEQ(y(), zero()), b.CreateICmpEQ(y(), llvm::ConstantInt::getSigned(ty, -1)));
      r = b.CreateSRem(x(), b.CreateSelect(trap, one(), y())); // x % -1 is 0 too
    }
    Value *fix = fl() ? b.CreateAnd(b.CreateFCmpONE(r, zero()), b.CreateXor(b.CreateFCmpOLT(y(), zero()), b.CreateFCmpOLT(r, zero())))
                      : b.CreateAnd(b.CreateICmpNE(r, zero()), b.CreateXor(b.CreateICmpSLT(y(), zero()), b.CreateICmpSLT(r, zero())));
    return b.CreateSelect(fix, fl() ? b.CreateFAdd(r, y()) : b.CreateAdd(r, y()), r);
  }

  /// murmur3_32 of key x with seed y, on i32 words (ir/Ops.h's murmurMix).
  Value *hash() {
    auto c = [&](uint32_t v) { return b.getInt32(v); };
    auto rotl = [&](Value *v, unsigned r) { return b.CreateIntrinsic(llvm::Intrinsic::fshl, {v->getType()}, {v, v, c(r)}); };
    Value *k = b.CreateMul(rotl(b.CreateMul(x(), c(0xCC9E2D51u)), 15), c(0x1B873593u));
    Value *h = b.CreateAdd(b.CreateMul(rotl(b.CreateXor(y(), k), 13), c(5)), c(0xE6546B64u));
    h = b.CreateXor(h, c(4));
    h = b.CreateMul(b.CreateXor(h, b.CreateLShr(h, 16)), c(0x85EBCA6Bu));
    h = b.CreateMul(b.CreateXor(h, b.CreateLShr(h, 13)), c(0xC2B2AE35u));
    return b.CreateXor(h, b.CreateLShr(h, 16));
  }

  Value *compare(llvm::CmpInst::Predicate floatPred, llvm::CmpInst::Predicate intPred) {
    return fl() ? b.CreateFCmp(floatPred, x(), y()) : b.CreateICmp(intPred, x(), y());
  }

  Value *minmax(llvm::Intrinsic::ID floatOp, llvm::Intrinsic::ID intOp) {
    return b.CreateBinaryIntrinsic(fl() ? floatOp : intOp, x(), y());
  }

  /// 1, -1, or x itself for ±0 and NaN.
  Value *sign() {
    if (!fl()) return b.CreateBinaryIntrinsic(llvm::Intrinsic::smax, b.CreateBinaryIntrinsic(llvm::Intrinsic::smin, x(), one()), b.CreateNeg(one()));
    Value *s = b.CreateSelect(b.CreateFCmpOLT(x(), zero()), llvm::ConstantFP::get(x()->getType(), -1.0), x());
    return b.CreateSelect(b.CreateFCmpOGT(x(), zero()), llvm::ConstantFP::get(x()->getType(), 1.0), s);
  }
  /// f(x) computed in double and rounded once to the operand's type.
  template <typename F> Value *inDouble(F f) {
    llvm::Type *t = x()->getType();
    if (t->isDoubleTy()) return f(x());
    return b.CreateFPTrunc(f(b.CreateFPExt(x(), b.getDoubleTy())), t);
  }
  Value *one() const { return fl() ? llvm::ConstantFP::get(a[0]->getType(), 1.0) : llvm::ConstantInt::get(a[0]->getType(), 1); }

  Value *cast() {
    llvm::Type *dt = a[0]->getType();
    llvm::IRBuilder<> &bb = b;
    Type from = argType, to = type;
    if (from == to) return x();
    llvm::Type *target = to == Type::F32 ? bb.getFloatTy() : to == Type::F64 ? bb.getDoubleTy()
                         : to == Type::I32 ? bb.getInt32Ty() : to == Type::I1 ? bb.getInt1Ty() : bb.getInt64Ty();
    if (loops::isFloat(from) && loops::isFloat(to)) return bb.CreateFPCast(x(), target);
    if (to == Type::I1) return loops::isFloat(from) ? bb.CreateFCmpUNE(x(), llvm::ConstantFP::get(dt, 0))
                                                     : bb.CreateICmpNE(x(), llvm::ConstantInt::get(dt, 0));
    if (loops::isFloat(to)) return from == Type::I1 ? bb.CreateUIToFP(x(), target) : bb.CreateSIToFP(x(), target);
    // Saturating, NaN to 0 (ir/Ops.cpp's evalScalar): plain fptosi is poison out of range.
    if (loops::isFloat(from)) return bb.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {target, dt}, {x()});
    if (from == Type::I1) return bb.CreateZExt(x(), target);
    return bb.CreateSExtOrTrunc(x(), target);
  }
};

using Lowering = Value *(*)(Lower &);
using P = llvm::CmpInst::Predicate;

/// One line per elementwise op.
const std::pair<OpKind, Lowering> kLowerings[] = {
    {OpKind::Neg, [](Lower &l) -> Value * { return l.fl() ? l.b.CreateFNeg(l.x()) : l.index() ? l.b.CreateNSWNeg(l.x()) : l.b.CreateNeg(l.x()); }},
    {OpKind::Exp, [](Lower &l) -> Value * { return mathExp(l.b, l.x()); }},
    {OpKind::Log, [](Lower &l) -> Value * { return mathLog(l.b, l.x()); }},
    {OpKind::Sqrt, [](Lower &l) -> Value * { return l.b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, l.x()); }},
    {OpKind::Tanh, [](Lower &l) -> Value * { return mathTanh(l.b, l.x()); }},
    {OpKind::Sin, [](Lower &l) -> Value * { return mathSin(l.b, l.x()); }},
    {OpKind::Cos, [](Lower &l) -> Value * { return mathCos(l.b, l.x()); }},
    {OpKind::StopGradient, [](Lower &l) -> Value * { return l.x(); }},
    {OpKind::Add, [](Lower &l) -> Value * { return l.add(); }},
    {OpKind::Sub, [](Lower &l) -> Value * { return l.sub(); }},
    {OpKind::Mul, [](Lower &l) -> Value * { return l.mul(); }},
    {OpKind::Div, [](Lower &l) -> Value * { return l.div(); }},
    {OpKind::Mod, [](Lower &l) -> Value * { return l.floorMod(); }},
    {OpKind::FloorDiv, [](Lower &l) -> Value * { return l.floorDiv(); }},
    {OpKind::Max, [](Lower &l) -> Value * { return l.minmax(llvm::Intrinsic::maximum, llvm::Intrinsic::smax); }},
    {OpKind::Min, [](Lower &l) -> Value * { return l.minmax(llvm::Intrinsic::minimum, llvm::Intrinsic::smin); }},
    {OpKind::Pow, [](Lower &l) -> Value * { return mathPow(l.b, l.x(), l.y()); }},
    {OpKind::Clamp, [](Lower &l) -> Value * { return l.b.CreateBinaryIntrinsic(l.fl() ? llvm::Intrinsic::minimum : llvm::Intrinsic::smin, l.minmax(llvm::Intrinsic::maximum, llvm::Intrinsic::smax), l.a[2]); }},
    {OpKind::Lt, [](Lower &l) -> Value * { return l.compare(P::FCMP_OLT, P::ICMP_SLT); }},
    {OpKind::Le, [](Lower &l) -> Value * { return l.compare(P::FCMP_OLE, P::ICMP_SLE); }},
    {OpKind::Gt, [](Lower &l) -> Value * { return l.compare(P::FCMP_OGT, P::ICMP_SGT); }},
    {OpKind::Ge, [](Lower &l) -> Value * { return l.compare(P::FCMP_OGE, P::ICMP_SGE); }},
    {OpKind::Eq, [](Lower &l) -> Value * { return l.compare(P::FCMP_OEQ, P::ICMP_EQ); }},
    {OpKind::Ne, [](Lower &l) -> Value * { return l.compare(P::FCMP_UNE, P::ICMP_NE); }},
    {OpKind::And, [](Lower &l) -> Value * { return l.b.CreateAnd(l.x(), l.y()); }},
    {OpKind::Or, [](Lower &l) -> Value * { return l.b.CreateOr(l.x(), l.y()); }},
    {OpKind::Not, [](Lower &l) -> Value * { return l.b.CreateNot(l.x()); }},
    {OpKind::Select, [](Lower &l) -> Value * { return l.b.CreateSelect(l.a[0], l.a[1], l.a[2]); }},
    {OpKind::Cast, [](Lower &l) -> Value * { return l.cast(); }},
    {OpKind::Hash, [](Lower &l) -> Value * { return l.hash(); }},
    {OpKind::Expm1, [](Lower &l) -> Value * { return mathExpm1(l.b, l.x()); }},
    {OpKind::Log1p, [](Lower &l) -> Value * { return mathLog1p(l.b, l.x()); }},
    // In double, then rounded once: 1/sqrt in f32 would round twice (1 ulp off).
    {OpKind::Rsqrt, [](Lower &l) -> Value * { return l.inDouble([&](Value *x) { return l.b.CreateFDiv(llvm::ConstantFP::get(x->getType(), 1.0), l.b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x)); }); }},
    {OpKind::Erf, [](Lower &l) -> Value * { return mathErf(l.b, l.x()); }},
    {OpKind::Round, [](Lower &l) -> Value * { return l.fl() ? l.b.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven, l.x()) : l.x(); }},
    {OpKind::Ceil, [](Lower &l) -> Value * { return l.fl() ? l.b.CreateUnaryIntrinsic(llvm::Intrinsic::ceil, l.x()) : l.x(); }},
    {OpKind::Floor, [](Lower &l) -> Value * { return l.fl() ? l.b.CreateUnaryIntrinsic(llvm::Intrinsic::floor, l.x()) : l.x(); }},
    {OpKind::Abs, [](Lower &l) -> Value * { return l.fl() ? l.b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, l.x()) : l.b.CreateBinaryIntrinsic(llvm::Intrinsic::abs, l.x(), l.b.getFalse()); }},
    {OpKind::Sign, [](Lower &l) -> Value * { return l.sign(); }},
};

const std::vector<Lowering> &byKind() {
  static const std::vector<Lowering> v = [] {
    std::vector<Lowering> out(kNumOps, nullptr);
    for (auto &[k, f] : kLowerings) out[unsigned(k)] = f;
    return out;
  }();
  return v;
}

} // namespace

Value *emitScalarOp(llvm::IRBuilder<> &b, OpKind k, Type type, Type argType, llvm::ArrayRef<Value *> args) {
  Lowering f = byKind()[unsigned(k)];
  if (!f) llvm::report_fatal_error(llvm::Twine("internal error: no lowering for op '") + mnemonic(k) + "'");
  Lower l{b, args, type, argType};
  return f(l);
}

bool hasScalarLowering(OpKind k) { return byKind()[unsigned(k)] != nullptr; }

} // namespace gradc
