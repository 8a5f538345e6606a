//===- codegen/MathLib.cpp - exp, log, tanh and friends as inline IR ------===//
//
// The f32 polynomials are the classic Cephes ones (S. L. Moshier, public
// domain), as used by many vector math libraries.
//
//===----------------------------------------------------------------------===//
#include "codegen/MathLib.h"

#include "llvm/IR/Intrinsics.h"

#include <cmath>
#include <initializer_list>
#include <optional>

namespace gradc {
namespace {

using llvm::Value;

/// The inline functions, in the float type `f` (f32 unless given): the
/// helpers serve both, and the f64 ones (exp64, tanh64) say so by name.
class InlineMath {
public:
  /// No fast-math flags: each step is the instruction written, and the
  /// polynomials' steps are explicit FMAs (llvm.fmuladd). With `contract`
  /// flags LLVM chose where to fuse in each copy of a loop, and a vector
  /// loop and its scalar remainder could round one value differently
  /// (codegen/EmitKernel.cpp's accumulate() says how that showed).
  explicit InlineMath(llvm::IRBuilder<> &b, llvm::Type *type = nullptr)
      : b(b), guard(b), f(type ? type : b.getFloatTy()), i(f->isDoubleTy() ? b.getInt64Ty() : b.getInt32Ty()) {
    b.setFastMathFlags(llvm::FastMathFlags());
  }

  /// a·b + c as one FMA wherever the target has FMA, in every copy alike.
  Value *fma(Value *x, Value *y, Value *z) { return b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {f}, {x, y, z}); }

  /// x·y + z rounded once, llvm.fma: never split into a rounded multiply
  /// and an add, which the exact reductions (fmodF32, sinCos64) rely on.
  Value *fmaExact(Value *x, Value *y, Value *z) {
    return b.CreateIntrinsic(llvm::Intrinsic::fma, {x->getType()}, {x, y, z});
  }

  Value *c(double v) { return llvm::ConstantFP::get(f, v); }
  Value *ci(int64_t v) { return llvm::ConstantInt::get(i, uint64_t(v)); }

  /// Horner's rule: ((c0·x + c1)·x + c2)..., each step one FMA.
  Value *poly(Value *x, std::initializer_list<double> coeffs) {
    Value *acc = nullptr;
    for (double k : coeffs) acc = acc ? fma(acc, x, c(k)) : c(k);
    return acc;
  }

  /// x < lo ? lo : (x > hi ? hi : x), keeping NaN as NaN.
  Value *clamp(Value *x, double lo, double hi) {
    x = b.CreateSelect(b.CreateFCmpOLT(x, c(lo)), c(lo), x);
    return b.CreateSelect(b.CreateFCmpOGT(x, c(hi)), c(hi), x);
  }

  /// exp(x) = 2^n · e^r with n = round(x / ln 2), |r| <= ln2 / 2.
  Value *exp(Value *x) {
    // From ln 2^-150, below which every result rounds to 0, to ln of the
    // largest float, above which it is inf.
    const double lo = -103.972077083991796, hi = 88.7228391116729996;
    Value *xc = clamp(x, lo, hi);
    Value *n = b.CreateUnaryIntrinsic(llvm::Intrinsic::rint, b.CreateFMul(xc, c(1.44269504088896341)));
    // r = x - n·ln2, with ln2 split in two for accuracy.
    Value *r = fma(n, c(2.12194440e-4), fma(n, c(-0.693359375), xc));
    Value *p = poly(r, {1.9875691500E-4, 1.3981999507E-3, 8.3334519073E-3, 4.1665795894E-2, 1.6666665459E-1,
                        5.0000001201E-1});
    Value *er = b.CreateFAdd(fma(b.CreateFMul(p, r), r, r), c(1.0));
    return timesPow2(x, er, n, lo, hi);
  }

  /// exp's last step, in either float type: er·2^n for x in [lo, hi], 0
  /// below, inf above, NaN for NaN. 2^n in two halves, 2^(n - n/2) ·
  /// 2^(n/2), each built from its exponent bits: n runs past the type's
  /// exponent range (f32: -150 to 128 against -126 to 127; one 2^n made
  /// 2^128 inf, so exp was inf from 88.38 where it is 2.4e38, and flushed
  /// results below 1.2e-38 to 0). The second multiply rounds a subnormal
  /// result once.
  Value *timesPow2(Value *x, Value *er, Value *n, double lo, double hi) {
    bool d = f->isDoubleTy();
    Value *ni = b.CreateFPToSI(n, i);
    Value *half = b.CreateAShr(ni, ci(1));
    auto pow2 = [&](Value *k) {
      return b.CreateBitCast(b.CreateShl(b.CreateAdd(k, ci(d ? 1023 : 127)), ci(d ? 52 : 23)), f);
    };
    Value *y = b.CreateFMul(b.CreateFMul(er, pow2(b.CreateSub(ni, half))), pow2(half));
    y = b.CreateSelect(b.CreateFCmpOLT(x, c(lo)), c(0.0), y);
    y = b.CreateSelect(b.CreateFCmpOGT(x, c(hi)), c(INFINITY), y);
    return b.CreateSelect(b.CreateFCmpUNO(x, x), x, y);
  }

  /// log's ends, in either float type: log(0) = -inf, log(negative or
  /// NaN) = NaN, log(inf) = inf; r elsewhere.
  Value *logEnds(Value *x, Value *r) {
    r = b.CreateSelect(b.CreateFCmpOEQ(x, c(INFINITY)), x, r);
    r = b.CreateSelect(b.CreateFCmpOEQ(x, c(0.0)), c(-INFINITY), r);
    return b.CreateSelect(b.CreateFCmpULT(x, c(0.0)), c(NAN), r);
  }

  /// log(x) = e·ln2 + log(m), with x = m·2^e and m in [√½, √2).
  Value *log(Value *x) {
    // A subnormal x has no exponent bits to read: scaled by 2^23 it is
    // normal (log(1e-40) was -88.02 for -92.10).
    Value *sub = b.CreateFCmpOLT(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x), c(1.17549435e-38));
    Value *bits = b.CreateBitCast(b.CreateSelect(sub, b.CreateFMul(x, c(8388608.0)), x), i);
    Value *e = b.CreateSub(b.CreateLShr(bits, ci(23)), b.CreateSelect(sub, ci(126 + 23), ci(126)));
    Value *m = b.CreateBitCast(b.CreateOr(b.CreateAnd(bits, ci(0x807fffff)), ci(0x3f000000)), f); // [0.5, 1)
    Value *small = b.CreateFCmpOLT(m, c(0.707106781186547524));
    e = b.CreateSub(e, b.CreateZExt(small, i));
    m = b.CreateSelect(small, b.CreateFAdd(m, m), m);
    m = b.CreateFSub(m, c(1.0));
    Value *ef = b.CreateSIToFP(e, f);
    Value *z = b.CreateFMul(m, m);
    Value *p = poly(m, {7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
                        -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1});
    Value *y = b.CreateFMul(b.CreateFMul(p, m), z);
    y = fma(ef, c(-2.12194440e-4), y);
    y = fma(z, c(-0.5), y);
    return logEnds(x, fma(ef, c(0.693359375), b.CreateFAdd(m, y)));
  }

  /// tanh as one rational function, x·P(x²)/Q(x²) (degrees 13/6), on x
  /// clamped to ±7.905 where tanh rounds to ±1 in float (the minimax fit of
  /// Eigen's fast tanh): a dozen FMAs and one divide instead of an exp and a
  /// divide. Within 4 ulp (tests/unit/MathLibTest.cpp measures it).
  Value *tanh(Value *x) {
    Value *xc = clamp(x, -7.90531110763549805, 7.90531110763549805);
    Value *z = b.CreateFMul(xc, xc);
    Value *p = poly(z, {-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
                        1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03});
    Value *q = poly(z, {1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03});
    Value *y = b.CreateFDiv(b.CreateFMul(xc, p), q);
    // Near 0, where relative error shows, Cephes' odd polynomial (0.5 ulp).
    Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
    Value *x2 = b.CreateFMul(x, x);
    Value *s = poly(x2, {-5.70498872745E-3, 2.06390887954E-2, -5.37397155531E-2, 1.33314422036E-1, -3.33332819422E-1});
    Value *nearZero = fma(b.CreateFMul(s, x2), x, x);
    y = b.CreateSelect(b.CreateFCmpOLT(ax, c(0.625)), nearZero, y);
    y = b.CreateSelect(b.CreateFCmpOGT(ax, c(9.0)), b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, c(1.0), x), y);
    return b.CreateSelect(b.CreateFCmpUNO(x, x), x, y);
  }

  /// erf: for |x| < 0.5 its Taylor series, x·Σ (-1)ⁿ x²ⁿ / (n!(2n+1)) · 2/√π
  /// to n = 6 (relative error below 1e-10); beyond, 1 - erfc(|x|) with the
  /// Chebyshev fit of erfc in Numerical Recipes (Press et al., §6.2: t·exp(-x²
  /// + P(t)), t = 1/(1 + |x|/2), fractional error below 1.2e-7), sign
  /// restored. At |x| > 4 erf is ±1 in float.
  Value *erf(Value *x) {
    Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
    Value *x2 = b.CreateFMul(x, x);
    const double k = 1.1283791670955126; // 2/√π
    Value *series = b.CreateFMul(x, poly(x2, {k / (720 * 13), -k / (120 * 11), k / (24 * 9), -k / (6 * 7), k / (2 * 5),
                                              -k / 3, k}));
    Value *z = clamp(ax, 0, 4);
    Value *t = b.CreateFDiv(c(1.0), fma(z, c(0.5), c(1.0)));
    Value *p = poly(t, {0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196,
                        1.00002368, -1.26551223});
    Value *erfc = b.CreateFMul(t, exp(fma(z, b.CreateFNeg(z), p)));
    Value *far = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, b.CreateFSub(c(1.0), erfc), x);
    Value *y = b.CreateSelect(b.CreateFCmpOLT(ax, c(0.5)), series, far);
    return b.CreateSelect(b.CreateFCmpUNO(x, x), x, y);
  }

  /// log(1 + x) without losing x to the rounding of 1 + x: with u = 1 + x,
  /// log(u)·x/(u - 1) (Goldberg, "What every computer scientist should know
  /// about floating-point arithmetic", theorem 4), and x itself where u
  /// rounds to 1.
  Value *log1p(Value *x) {
    Value *u = b.CreateFAdd(c(1.0), x);
    Value *um1 = b.CreateFSub(u, c(1.0));
    // x/(u - 1) is about 1: log(u)·x would overflow for x near the
    // largest float.
    Value *y = b.CreateFMul(logOfType(u), b.CreateFDiv(x, um1));
    y = b.CreateSelect(b.CreateFCmpOEQ(u, c(1.0)), x, y);
    // log(inf) is inf; x/(u-1) would make it NaN.
    return b.CreateSelect(b.CreateFCmpOEQ(x, c(INFINITY)), x, y);
  }

  /// exp(x) - 1 near 0 too: with u = exp(x), (u - 1)·x/log(u) (Kahan's
  /// trick), x where u rounds to 1, and -1 or u itself at the ends.
  Value *expm1(Value *x) {
    Value *u = expOfType(x);
    Value *um1 = b.CreateFSub(u, c(1.0));
    // x/log(u) is about 1: (u - 1)·x overflowed from x = 84.2, where
    // exp(x) is 4e36.
    Value *y = b.CreateFMul(um1, b.CreateFDiv(x, logOfType(u)));
    y = b.CreateSelect(b.CreateFCmpOEQ(u, c(1.0)), x, y);
    y = b.CreateSelect(b.CreateFCmpOEQ(um1, c(-1.0)), c(-1.0), y);
    return b.CreateSelect(b.CreateFCmpOEQ(u, c(INFINITY)), u, y);
  }

  /// sin(x), or cos(x) with `cosine`: Cephes' sinf and cosf polynomials
  /// on r = |x| - q·π/2 in [-π/4, π/4], r computed in f64 with π/4 in
  /// three parts (26, 23 and 53 bits), so q·part is exact and r keeps its
  /// digits while q < 2^26: within 2 ulp of libm for |x| below 5e7
  /// (tests/unit/MathLibTest.cpp). Beyond, where floats are 4 or more
  /// apart, r is off by about 2^-53·|x|, and past 3.5e15, where they are
  /// 2^28 apart, sin is 0 and cos 1. libm's sinf was one call per lane;
  /// this is straight-line arithmetic the loops vectorise.
  Value *sinCos(Value *x, bool cosine) {
    llvm::Type *d = b.getDoubleTy(), *i64 = b.getInt64Ty();
    auto cd = [&](double v) { return llvm::ConstantFP::get(d, v); };
    Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, b.CreateFPExt(x, d));
    // The octant, rounded up to even (Cephes' j): 2q, q the quadrant.
    Value *jd = b.CreateUnaryIntrinsic(llvm::Intrinsic::floor, b.CreateFMul(ax, cd(1.2732395447351628)));
    // Past 2^52 octants (inf and NaN too, so fptosi stays defined) r is
    // taken as 0: r = |x| - 2^52·π/4 overflowed the polynomials to inf
    // from |x| = 3.5e15 (a reviewer's find).
    Value *huge = b.CreateFCmpUGT(jd, cd(0x1p52));
    jd = b.CreateSelect(huge, cd(0x1p52), jd);
    Value *j = b.CreateFPToSI(jd, i64);
    auto c64 = [&](int v) { return llvm::ConstantInt::get(i64, v); };
    Value *odd = b.CreateAnd(j, c64(1));
    j = b.CreateAdd(j, odd);
    jd = b.CreateFAdd(jd, b.CreateSIToFP(odd, d));
    Value *r = b.CreateFSub(ax, b.CreateFMul(jd, cd(0.7853981703519821)));
    r = b.CreateFSub(r, b.CreateFMul(jd, cd(-6.954533837699728e-09)));
    r = b.CreateFSub(r, b.CreateFMul(jd, cd(3.061616997868383e-17)));
    r = b.CreateSelect(huge, cd(0.0), r);
    Value *rf = b.CreateFPTrunc(r, f);
    Value *z = b.CreateFMul(rf, rf);
    Value *sinR = fma(b.CreateFMul(poly(z, {-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1}), z), rf, rf);
    Value *cosR = b.CreateFAdd(
        fma(z, c(-0.5), b.CreateFMul(poly(z, {2.443315711809948E-005, -1.388731625493765E-003, 4.166664568298827E-002}),
                                     b.CreateFMul(z, z))),
        c(1.0));
    // Quadrant q = j/2 mod 4: sin is sin r, cos r, -sin r, -cos r; cos is
    // cos r, -sin r, -cos r, sin r. sin is odd, cos even.
    Value *q = b.CreateTrunc(b.CreateAnd(b.CreateLShr(j, c64(1)), c64(3)), i);
    if (cosine) q = b.CreateAnd(b.CreateAdd(q, ci(1)), ci(3)); // cos x = sin(x + π/2), for |x|
    Value *y = b.CreateSelect(b.CreateICmpEQ(b.CreateAnd(q, ci(1)), ci(1)), cosR, sinR);
    Value *negate = b.CreateICmpUGE(q, ci(2));
    if (!cosine) negate = b.CreateXor(negate, b.CreateICmpSLT(b.CreateBitCast(x, i), ci(0))); // -0 too
    y = b.CreateSelect(negate, b.CreateFNeg(y), y);
    // sin and cos of ±inf and NaN are NaN.
    return b.CreateSelect(b.CreateFCmpOLT(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x), c(INFINITY)), y, c(NAN));
  }

  /// fmod(x, y) of floats, exactly libm's fmodf (the remainder of x by y
  /// with x's sign is always a float, so there is no rounding to match),
  /// as straight-line f64 arithmetic: fmodf was one libm call per lane.
  /// |x| is reduced by |y|·2^(50j) for j = 5 down to 0, which covers the
  /// 2^277 span from the smallest to the largest float. In stage j the
  /// remainder r is below 2^50 of the divisor ys (the stage before left it
  /// below ys·2^50), so the quotient estimate q = trunc(r · (1/ys)) is an
  /// integer below 2^51, off by at most one either way; r - q·ys is then
  /// exact in one FMA (it is a multiple of ys's last bit, below 2·ys), and
  /// one add or subtract of ys (exact too) brings it into [0, ys).
  Value *fmodF32(Value *x, Value *y) {
    llvm::Type *d = b.getDoubleTy();
    auto cd = [&](double v) { return llvm::ConstantFP::get(d, v); };
    auto fabs = [&](Value *v) { return b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, v); };
    Value *ax = fabs(b.CreateFPExt(x, d)), *ay = fabs(b.CreateFPExt(y, d));
    Value *rcp = b.CreateFDiv(cd(1.0), ay); // exact powers of 2 scale it per stage
    Value *r = ax;
    for (int j = 5; j >= 0; --j) {
      Value *ys = j ? b.CreateFMul(ay, cd(std::ldexp(1.0, 50 * j))) : ay;
      Value *inv = j ? b.CreateFMul(rcp, cd(std::ldexp(1.0, -50 * j))) : rcp;
      Value *q = b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, b.CreateFMul(r, inv));
      r = fmaExact(b.CreateFNeg(q), ys, r);
      r = b.CreateSelect(b.CreateFCmpOLT(r, cd(0.0)), b.CreateFAdd(r, ys), r);
      r = b.CreateSelect(b.CreateFCmpOGE(r, ys), b.CreateFSub(r, ys), r);
    }
    // y = 0 and x = ±inf give NaN through the arithmetic (∞·0, ∞ - ∞), the
    // CPU's default NaN, kept as it is; a NaN operand gives itself (x's if
    // both are), through x + y: libm's NaNs, sign and all, where |x| and |y|
    // lost the sign. y = ±inf gives x, where q·ys was 0·∞.
    Value *rf = b.CreateFPTrunc(r, f);
    Value *m = b.CreateSelect(b.CreateFCmpUNO(rf, rf), rf, b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, rf, x));
    m = b.CreateSelect(b.CreateFCmpUNO(x, y), b.CreateFAdd(x, y), m);
    Value *xFinite = b.CreateFCmpOLT(fabs(x), c(INFINITY));
    return b.CreateSelect(b.CreateAnd(xFinite, b.CreateFCmpOEQ(fabs(y), c(INFINITY))), x, m);
  }

  /// f64 sin(x), or cos(x) with `cosine`: Cephes' sin.c polynomials on r =
  /// |x| - q·π/2 in [-π/4, π/4], q the nearest quadrant. π/2 is split into
  /// three doubles (53 bits each) and r reduced by one FMA per part: the
  /// first step is exact (|x| and q·P1 are multiples of 2^-53 and their
  /// difference is below 1), and the other two round once each, relative
  /// to r. Past 2^30 quadrants |x|·2/π is no longer within a quarter
  /// quadrant (2/π's own rounding, times q), so q is corrected by the
  /// quadrant the first reduction lands in and r reduced again. Within 2
  /// ulp of libm for |x| up to 3.5e15 (tests/unit/MathLibTest.cpp); past
  /// that, where doubles are 0.5 or more apart, sin is 0 and cos 1, as
  /// sinCos has it in f32. libm's sin was one call per element, which kept
  /// an f64 loop scalar.
  Value *sinCos64(Value *x, bool cosine) {
    Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
    // inf and NaN too, so that fptosi stays defined.
    Value *huge = b.CreateFCmpUGT(ax, c(0x1p51 * 1.5707963267948966));
    Value *a = b.CreateSelect(huge, c(0.0), ax);
    auto reduce = [&](Value *q, int parts) {
      Value *nq = b.CreateFNeg(q), *r = a;
      for (double part : {0x1.921fb54442d18p+0, 0x1.1a62633145c07p-54, -0x1.f1976b7ed8fbcp-110})
        if (parts-- > 0) r = fmaExact(nq, c(part), r);
      return r;
    };
    auto nearest = [&](Value *v) {
      return b.CreateUnaryIntrinsic(llvm::Intrinsic::rint, b.CreateFMul(v, c(0.63661977236758134)));
    };
    Value *q0 = nearest(a);
    Value *qd = b.CreateFAdd(q0, nearest(reduce(q0, 2)));
    Value *r = reduce(qd, 3);
    Value *z = b.CreateFMul(r, r);
    Value *sinR = fma(b.CreateFMul(z, r),
                      poly(z, {1.58962301576546568060E-10, -2.50507477628578072866E-8, 2.75573136213857245213E-6,
                               -1.98412698295895385996E-4, 8.33333333332211858878E-3, -1.66666666666666307295E-1}),
                      r);
    Value *cosR = fma(b.CreateFMul(z, z),
                      poly(z, {-1.13585365213876817300E-11, 2.08757008419747316778E-9, -2.75573141792967388112E-7,
                               2.48015872888517045348E-5, -1.38888888888730564116E-3, 4.16666666666665929218E-2}),
                      fma(z, c(-0.5), c(1.0)));
    // The quadrant's choice and sign, as sinCos.
    Value *q = b.CreateAnd(b.CreateFPToSI(qd, i), ci(3));
    if (cosine) q = b.CreateAnd(b.CreateAdd(q, ci(1)), ci(3));
    Value *y = b.CreateSelect(b.CreateICmpEQ(b.CreateAnd(q, ci(1)), ci(1)), cosR, sinR);
    Value *negate = b.CreateICmpUGE(q, ci(2));
    if (!cosine) negate = b.CreateXor(negate, b.CreateICmpSLT(b.CreateBitCast(x, i), ci(0)));
    y = b.CreateSelect(negate, b.CreateFNeg(y), y);
    return b.CreateSelect(b.CreateFCmpOLT(ax, c(INFINITY)), y, c(NAN));
  }

  /// f64 erf in three pieces, each a rational fit: below 0.84375, fdlibm's
  /// x + x·P(x²)/Q(x²); up to 1.25, fdlibm's erx + P(s)/Q(s) with s = |x| -
  /// 1; beyond, 1 - erfc(|x|) with Cephes' erfc(t) = exp(-t²)·P(t)/Q(t)
  /// (ndtr.c), t clamped to 6, past which erfc(t) < 2e-17 and erf rounds to
  /// ±1. exp(-t²) takes t² rounded, a relative error of t²·2^-53 in erfc,
  /// which 1 - erfc shrinks below half an ulp of erf. Within 2 ulp of libm
  /// (Cephes' own x·T(x²)/U(x²) below 1 was 3 ulp off). libm's erf was one
  /// call per element, which kept an f64 loop scalar (1.5x PyTorch's step).
  Value *erf64(Value *x) {
    Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
    Value *x2 = b.CreateFMul(x, x);
    Value *small = b.CreateFDiv(poly(x2, {-2.37630166566501626084e-05, -5.77027029648944159157e-03,
                                          -2.84817495755985104766e-02, -3.25042107247001499370e-01,
                                          1.28379167095512558561e-01}),
                                poly(x2, {-3.96022827877536812320e-06, 1.32494738004321644526e-04,
                                          5.08130628187576562776e-03, 6.50222499887672944485e-02,
                                          3.97917223959155352819e-01, 1.0}));
    Value *nearZero = fma(x, small, x);
    Value *s = b.CreateFSub(ax, c(1.0));
    Value *mid = b.CreateFDiv(
        poly(s, {-2.16637559486879084300e-03, 3.54783043256182359371e-02, -1.10894694282396677476e-01,
                 3.18346619901161753674e-01, -3.72207876035701323847e-01, 4.14856118683748331666e-01,
                 -2.36211856075265944077e-03}),
        poly(s, {1.19844998467991074170e-02, 1.36370839120290507362e-02, 1.26171219808761642112e-01,
                 7.18286544141962662868e-02, 5.40397917702171048937e-01, 1.06420880400844228286e-01, 1.0}));
    Value *nearOne = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, b.CreateFAdd(c(8.45062911510467529297e-01), mid), x);
    Value *t = clamp(ax, 1.25, 6);
    Value *pq = b.CreateFDiv(
        poly(t, {2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
                 4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
                 9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2}),
        poly(t, {1.0, 1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
                 9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
                 1.65666309194161350182E3, 5.57535340817727675546E2}));
    Value *erfc = b.CreateFMul(exp64(b.CreateFNeg(b.CreateFMul(t, t))), pq);
    Value *far = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, b.CreateFSub(c(1.0), erfc), x);
    Value *y = b.CreateSelect(b.CreateFCmpOLT(ax, c(1.25)), nearOne, far);
    y = b.CreateSelect(b.CreateFCmpOLT(ax, c(0.84375)), nearZero, y);
    return b.CreateSelect(b.CreateFCmpUNO(x, x), x, y);
  }

  /// pow(x, y) of floats, computed in f64 and rounded once: where libm's
  /// powf was one call per lane. A constant exponent that is a whole or a
  /// half number k/2 up to 8 (3.0, 0.5 in 3.0's backward, -1.5) is a chain
  /// of f64 products of x, or of √x: x^k of a float stays within f64's
  /// range, and a few roundings of 2^-53 leave the float result correctly
  /// rounded but for near-ties. Any other is exp(y·log|x|) in f64, whose
  /// error, about |y·log|x||·2^-52 relative, stays below 2^-45 wherever the
  /// result is a normal float. Then C's rules for signs and special values:
  /// an odd whole y keeps x's sign (-0 and -inf too); a finite x < 0 to a y
  /// that is not whole is NaN; pow(x, 0), pow(1, y) and pow(-1, ±inf) are
  /// 1, NaN operands included. tests/unit/MathLibTest.cpp checks sweeps and
  /// every pair of special values against libm.
  Value *powF32(Value *x, Value *y) {
    llvm::Type *d = b.getDoubleTy();
    InlineMath m(b, d);
    auto cd = [&](double v) { return llvm::ConstantFP::get(d, v); };
    auto fabs = [&](Value *v) { return b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, v); };
    Value *xd = b.CreateFPExt(x, d), *yd = b.CreateFPExt(y, d);
    if (std::optional<int> twice = smallHalfConstant(y)) {
      if (*twice == 0) return c(1.0);
      // A half power is a power of √x, with √ of -0 and -inf taken as of
      // their magnitudes: pow(-0, 0.5) is +0 and pow(-inf, 0.5) +inf, where
      // sqrt gives -0 and NaN.
      Value *base = xd;
      int k = *twice / 2;
      if (*twice % 2) {
        Value *zeroOrNegInf = b.CreateOr(b.CreateFCmpOEQ(xd, cd(0.0)), b.CreateFCmpOEQ(xd, cd(-INFINITY)));
        base = b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, b.CreateSelect(zeroOrNegInf, fabs(xd), xd));
        k = *twice;
      }
      Value *p = nullptr, *sq = base; // base^|k| by squaring
      for (unsigned e = unsigned(std::abs(k)); e; e >>= 1, sq = e ? b.CreateFMul(sq, sq) : sq)
        if (e & 1) p = p ? b.CreateFMul(p, sq) : sq;
      return b.CreateFPTrunc(k < 0 ? b.CreateFDiv(cd(1.0), p) : p, f);
    }
    Value *ax = fabs(xd);
    Value *p = m.expForPow(b.CreateFMul(yd, m.logForPow(ax)));
    auto trunc = [&](Value *v) { return b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, v); };
    Value *whole = b.CreateFCmpOEQ(trunc(yd), yd); // ±inf too
    Value *half = b.CreateFMul(yd, cd(0.5));
    Value *odd = b.CreateAnd(whole, b.CreateFCmpUNE(trunc(half), half));
    Value *signX = b.CreateICmpSLT(b.CreateBitCast(x, i), ci(0));
    p = b.CreateSelect(b.CreateAnd(signX, odd), b.CreateFNeg(p), p);
    Value *negFinite = b.CreateAnd(b.CreateFCmpOLT(xd, cd(0.0)), b.CreateFCmpOLT(ax, cd(INFINITY)));
    p = b.CreateSelect(b.CreateAnd(negFinite, b.CreateNot(whole)), cd(NAN), p);
    Value *one = b.CreateOr(b.CreateFCmpOEQ(yd, cd(0.0)), b.CreateFCmpOEQ(xd, cd(1.0)));
    one = b.CreateOr(one, b.CreateAnd(b.CreateFCmpOEQ(xd, cd(-1.0)), b.CreateFCmpOEQ(fabs(yd), cd(INFINITY))));
    return b.CreateFPTrunc(b.CreateSelect(one, cd(1.0), p), f);
  }

  /// log(a) in f64 for powF32, to about 2^-50 relative, for a = |x| of a
  /// float (so never subnormal in f64): e·ln2 + 2·atanh(t) with t = (m - 1)
  /// / (m + 1) for a = m·2^e, m in [√½, √2), |t| <= 0.172, the series to
  /// t^19. One divide where log64 takes two; ±0, inf and NaN as log's.
  Value *logForPow(Value *a) {
    Value *bits = b.CreateBitCast(a, i);
    Value *e = b.CreateSub(b.CreateLShr(bits, ci(52)), ci(1023));
    Value *m = b.CreateBitCast(
        b.CreateOr(b.CreateAnd(bits, ci(0x000fffffffffffffLL)), ci(0x3ff0000000000000LL)), f); // [1, 2)
    Value *big = b.CreateFCmpOGT(m, c(1.4142135623730951));
    m = b.CreateSelect(big, b.CreateFMul(m, c(0.5)), m);
    e = b.CreateAdd(e, b.CreateZExt(big, i));
    Value *t = b.CreateFDiv(b.CreateFSub(m, c(1.0)), b.CreateFAdd(m, c(1.0)));
    Value *t2 = b.CreateFMul(t, t);
    Value *s = poly(t2, {2.0 / 19, 2.0 / 17, 2.0 / 15, 2.0 / 13, 2.0 / 11, 2.0 / 9, 2.0 / 7, 2.0 / 5, 2.0 / 3});
    Value *logM = fma(b.CreateFMul(t, t2), s, b.CreateFAdd(t, t));
    Value *ef = b.CreateSIToFP(e, f);
    // ln2 in two parts, the first with trailing zeros so e·part is exact.
    Value *y = fma(ef, c(0x1.62e42fefa3800p-1), fma(ef, c(0x1.ef35793c76730p-45), logM));
    return logEnds(a, y);
  }

  /// exp(v) in f64 for powF32, to about 2^-47 relative over the span that
  /// rounds to a nonzero finite float: 2^n · e^r, |r| <= ln2/2, e^r by its
  /// Taylor series to r^11, no divide; v is clamped to ±200, where the
  /// float result is 0 or inf, so that 2^n is one double.
  Value *expForPow(Value *v) {
    Value *nan = b.CreateFCmpUNO(v, v);
    Value *vc = b.CreateSelect(nan, c(0.0), clamp(v, -200, 200));
    Value *n = b.CreateUnaryIntrinsic(llvm::Intrinsic::rint, b.CreateFMul(vc, c(1.4426950408889634)));
    Value *r = fma(n, c(-0x1.ef35793c76730p-45), fma(n, c(-0x1.62e42fefa3800p-1), vc));
    Value *er = poly(r, {1.0 / 39916800, 1.0 / 3628800, 1.0 / 362880, 1.0 / 40320, 1.0 / 5040, 1.0 / 720, 1.0 / 120,
                         1.0 / 24, 1.0 / 6, 0.5, 1.0, 1.0});
    Value *pow2 = b.CreateBitCast(b.CreateShl(b.CreateAdd(b.CreateFPToSI(n, i), ci(1023)), ci(52)), f);
    return b.CreateSelect(nan, v, b.CreateFMul(er, pow2));
  }

  /// Twice a constant (or splat) exponent y, when that is a whole number
  /// and |y| <= 8.
  static std::optional<int> smallHalfConstant(Value *v) {
    auto *k = llvm::dyn_cast<llvm::Constant>(v);
    if (k && k->getType()->isVectorTy()) k = k->getSplatValue();
    auto *fp = llvm::dyn_cast_or_null<llvm::ConstantFP>(k);
    if (!fp) return std::nullopt;
    double twice = 2 * fp->getValueAPF().convertToDouble();
    if (!(std::fabs(twice) <= 16) || twice != std::trunc(twice)) return std::nullopt;
    return int(twice);
  }

  /// exp and log in this class's float type: log1p and expm1 serve both.
  Value *expOfType(Value *x) { return f->isDoubleTy() ? exp64(x) : exp(x); }
  Value *logOfType(Value *x) { return f->isDoubleTy() ? log64(x) : log(x); }

  /// f64 exp(x) = 2^n · e^r, n = round(x / ln 2), with Cephes' Padé form
  /// e^r = 1 + 2·r·P(r²) / (Q(r²) - r·P(r²)) (within 1 ulp there), 2^n
  /// built in two halves as exp's: n runs from -1075 to 1024.
  Value *exp64(Value *x) {
    const double lo = -745.13321910194122, hi = 709.782712893383996843;
    Value *xc = clamp(x, lo, hi);
    Value *n = b.CreateUnaryIntrinsic(llvm::Intrinsic::rint, b.CreateFMul(xc, c(1.4426950408889634073599)));
    Value *r = fma(n, c(-1.42860682030941723212E-6), fma(n, c(-6.93145751953125E-1), xc));
    Value *rr = b.CreateFMul(r, r);
    Value *px =
        b.CreateFMul(r, poly(rr, {1.26177193074810590878E-4, 3.02994407707441961300E-2, 9.99999999999999999910E-1}));
    Value *q = poly(rr, {3.00198505138664455042E-6, 2.52448340349684104192E-3, 2.27265548208155028766E-1,
                         2.00000000000000000009E0});
    Value *er = fma(c(2.0), b.CreateFDiv(px, b.CreateFSub(q, px)), c(1.0));
    return timesPow2(x, er, n, lo, hi);
  }

  /// f64 log(x) = e·ln2 + log(m), x = m·2^e with m in [√½, √2): Cephes'
  /// two forms, both computed and one selected, as Cephes branches: a
  /// rational function of m - 1 where |e| <= 2, and one of z = (m - 1) /
  /// (m + 1) elsewhere.
  Value *log64(Value *x) {
    // A subnormal x is scaled by 2^52 to have exponent bits.
    Value *sub = b.CreateFCmpOLT(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x), c(0x1p-1022));
    Value *bits = b.CreateBitCast(b.CreateSelect(sub, b.CreateFMul(x, c(0x1p52)), x), i);
    Value *e = b.CreateSub(b.CreateAnd(b.CreateLShr(bits, ci(52)), ci(0x7ff)), b.CreateSelect(sub, ci(1022 + 52), ci(1022)));
    Value *m = b.CreateBitCast(
        b.CreateOr(b.CreateAnd(bits, llvm::ConstantInt::get(i, 0x800fffffffffffffULL)), ci(0x3fe0000000000000LL)), f);
    Value *small = b.CreateFCmpOLT(m, c(0.70710678118654752440));
    e = b.CreateSub(e, b.CreateZExt(small, i));
    Value *ef = b.CreateSIToFP(e, f);
    // Near 1 (|e| <= 2): t = m - 1 (2m - 1 below √½), log(1 + t) = t - t²/2 + t³·P(t)/Q(t).
    Value *t = b.CreateSelect(small, b.CreateFSub(b.CreateFAdd(m, m), c(1.0)), b.CreateFSub(m, c(1.0)));
    Value *t2 = b.CreateFMul(t, t);
    Value *pq = b.CreateFDiv(poly(t, {1.01875663804580931796E-4, 4.97494994976747001425E-1, 4.70579119878881725854E0,
                                      1.44989225341610930846E1, 1.79368678507819816313E1, 7.70838733755885391666E0}),
                             poly(t, {1.0, 1.12873587189167450590E1, 4.52279145837532221105E1, 8.29875266912776603211E1,
                                      7.11544750618563894466E1, 2.31251620126765340583E1}));
    Value *y = b.CreateFMul(t, b.CreateFMul(t2, pq));
    y = fma(ef, c(-2.121944400546905827679e-4), y);
    y = fma(t2, c(-0.5), y);
    Value *nearOne = fma(ef, c(0.693359375), b.CreateFAdd(t, y));
    // Elsewhere: z = (m - 1) / (m + 1), written as Cephes does to keep digits.
    Value *num = b.CreateSelect(small, b.CreateFSub(m, c(0.5)), b.CreateFSub(b.CreateFSub(m, c(0.5)), c(0.5)));
    Value *den = b.CreateSelect(small, fma(num, c(0.5), c(0.5)), fma(m, c(0.5), c(0.5)));
    Value *z = b.CreateFDiv(num, den);
    Value *z2 = b.CreateFMul(z, z);
    Value *rs = b.CreateFDiv(poly(z2, {-7.89580278884799154124E-1, 1.63866645699558079767E1, -6.41409952958715622951E1}),
                             poly(z2, {1.0, -3.56722798256324312549E1, 3.12093766372244180303E2, -7.69691943550460008604E2}));
    Value *w = b.CreateFMul(z, b.CreateFMul(z2, rs));
    w = fma(ef, c(-2.121944400546905827679e-4), w);
    Value *far = fma(ef, c(0.693359375), b.CreateFAdd(w, z));
    Value *nearE = b.CreateAnd(b.CreateICmpSGE(e, ci(-2)), b.CreateICmpSLE(e, ci(2)));
    return logEnds(x, b.CreateSelect(nearE, nearOne, far));
  }

  /// f64 tanh: Cephes' x + x³·P(x²)/Q(x²) below 0.625, else
  /// 1 - 2/(e^2|x| + 1) with its sign; ±1 past 22, where tanh rounds to it.
  Value *tanh64(Value *x) {
    Value *ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
    Value *x2 = b.CreateFMul(x, x);
    Value *p = poly(x2, {-9.64399179425052238628E-1, -9.92877231001918586564E1, -1.61468768441708447952E3});
    Value *q = poly(x2, {1.0, 1.12811678491632931402E2, 2.23548839060100448583E3, 4.84406305325125486048E3});
    Value *nearZero = fma(b.CreateFMul(x, x2), b.CreateFDiv(p, q), x);
    Value *e = exp64(b.CreateFMul(clamp(ax, 0, 22), c(2.0)));
    Value *far = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign,
                                        b.CreateFSub(c(1.0), b.CreateFDiv(c(2.0), b.CreateFAdd(e, c(1.0)))), x);
    Value *y = b.CreateSelect(b.CreateFCmpOLT(ax, c(0.625)), nearZero, far);
    y = b.CreateSelect(b.CreateFCmpOGT(ax, c(22.0)), b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, c(1.0), x), y);
    return b.CreateSelect(b.CreateFCmpUNO(x, x), x, y);
  }

private:
  llvm::IRBuilder<> &b;
  llvm::IRBuilderBase::FastMathFlagGuard guard; // restores the caller's flags
  llvm::Type *f, *i;
};

} // namespace

Value *mathExp(llvm::IRBuilder<> &b, Value *x) {
  return x->getType()->isFloatTy() ? InlineMath(b).exp(x) : InlineMath(b, x->getType()).exp64(x);
}
Value *mathLog(llvm::IRBuilder<> &b, Value *x) {
  return x->getType()->isFloatTy() ? InlineMath(b).log(x) : InlineMath(b, x->getType()).log64(x);
}
Value *mathTanh(llvm::IRBuilder<> &b, Value *x) {
  return x->getType()->isFloatTy() ? InlineMath(b).tanh(x) : InlineMath(b, x->getType()).tanh64(x);
}
Value *mathErf(llvm::IRBuilder<> &b, Value *x) {
  return x->getType()->isFloatTy() ? InlineMath(b).erf(x) : InlineMath(b, x->getType()).erf64(x);
}
Value *mathLog1p(llvm::IRBuilder<> &b, Value *x) {
  return InlineMath(b, x->getType()).log1p(x);
}
Value *mathSin(llvm::IRBuilder<> &b, Value *x) {
  return x->getType()->isFloatTy() ? InlineMath(b).sinCos(x, false) : InlineMath(b, x->getType()).sinCos64(x, false);
}
Value *mathCos(llvm::IRBuilder<> &b, Value *x) {
  return x->getType()->isFloatTy() ? InlineMath(b).sinCos(x, true) : InlineMath(b, x->getType()).sinCos64(x, true);
}
Value *mathExpm1(llvm::IRBuilder<> &b, Value *x) {
  return InlineMath(b, x->getType()).expm1(x);
}
Value *mathPow(llvm::IRBuilder<> &b, Value *x, Value *y) {
  return x->getType()->isFloatTy() ? InlineMath(b).powF32(x, y) : b.CreateBinaryIntrinsic(llvm::Intrinsic::pow, x, y);
}
Value *mathFmod(llvm::IRBuilder<> &b, Value *x, Value *y) {
  return x->getType()->isFloatTy() ? InlineMath(b).fmodF32(x, y) : b.CreateFRem(x, y);
}

} // namespace gradc
