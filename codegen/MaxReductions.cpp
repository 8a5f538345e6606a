//===- codegen/MaxReductions.cpp - a row maximum's last step, shorter -----===//
//
// A row maximum (max(x, axis); the softmax's stabiliser) is a loop folding
// llvm.maximum, which propagates NaN and orders -0 below +0
// (codegen/EmitKernel.cpp). The loop vectoriser keeps one maximum per
// lane and ends the row with llvm.vector.reduce.fmaximum over the lanes,
// which LLVM 19 lowers for x86 as halving steps, the last three scalar and
// through a general register (vmovd, sets, kmovd, two blends, vmaxss, a
// NaN fix-up: 48 instructions for 16 lanes). In the GPT's attention, whose
// rows are 64 long, that tail took 44% of the forward softmax's time
// (perf annotate of the kernel).
//
// Each such reduction of a vector v ([n x f32] or [n x f64]) becomes
//
//   key(x) = bits(x) ^ ((bits(x) >>s (w-1)) & 0x7f..f)   an integer ordered as
//                                                         x is, with -0 < +0
//   max    = key⁻¹(vector.reduce.smax(key(v)))            key is its own inverse
//   result = v has a NaN lane ? its first NaN lane : max
//
// The integer maximum reduces in a shuffle tree (vpmaxsd), and the NaN test
// is one compare and a mask: 17 instructions for 16 lanes. For every input
// the result is what llvm.maximum would give: negative values map to
// keys below -1 in reverse order of magnitude, -0 to -1, +0 to 0 and
// positive values above it; a NaN lane, whichever it is, makes the result
// a NaN of the input (llvm.maximum promises only "a NaN").
//
//===----------------------------------------------------------------------===//
#include "codegen/MaxReductions.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/IntrinsicInst.h"

namespace gradc {

namespace {

/// The value key(x), or key⁻¹(k): the same bit operation.
llvm::Value *flipNegatives(llvm::IRBuilder<> &b, llvm::Value *bits, unsigned width) {
  llvm::Value *sign = b.CreateAShr(bits, width - 1);
  llvm::Value *magnitude = llvm::ConstantInt::get(bits->getType(), llvm::APInt::getSignedMaxValue(width));
  return b.CreateXor(bits, b.CreateAnd(sign, magnitude));
}

void rewrite(llvm::IntrinsicInst *call) {
  llvm::IRBuilder<> b(call);
  llvm::Value *v = call->getArgOperand(0);
  auto *vt = llvm::cast<llvm::FixedVectorType>(v->getType());
  unsigned lanes = vt->getNumElements(), width = vt->getScalarSizeInBits();
  llvm::Type *elt = vt->getElementType(), *intElt = b.getIntNTy(width);
  // The largest value as the largest key.
  llvm::Value *keys = flipNegatives(b, b.CreateBitCast(v, llvm::FixedVectorType::get(intElt, lanes)), width);
  llvm::Value *maxKey = b.CreateIntMaxReduce(keys, /*IsSigned=*/true);
  llvm::Value *max = b.CreateBitCast(flipNegatives(b, maxKey, width), elt);
  // A NaN lane: the first one, as a NaN of the input.
  llvm::Value *nanMask = b.CreateBitCast(b.CreateFCmpUNO(v, v), b.getIntNTy(lanes));
  llvm::Value *anyNaN = b.CreateICmpNE(nanMask, llvm::ConstantInt::get(nanMask->getType(), 0));
  llvm::Value *first = b.CreateBinaryIntrinsic(llvm::Intrinsic::cttz, nanMask, b.getFalse());
  first = b.CreateBinaryIntrinsic(llvm::Intrinsic::umin, first, llvm::ConstantInt::get(nanMask->getType(), lanes - 1));
  llvm::Value *nan = b.CreateExtractElement(v, b.CreateZExtOrTrunc(first, b.getInt32Ty()));
  llvm::Value *result = b.CreateSelect(anyNaN, nan, max);
  result->takeName(call);
  call->replaceAllUsesWith(result);
  call->eraseFromParent();
}

} // namespace

llvm::PreservedAnalyses MaxReductionsPass::run(llvm::Function &f, llvm::FunctionAnalysisManager &) {
  std::vector<llvm::IntrinsicInst *> calls;
  for (llvm::Instruction &i : llvm::instructions(f))
    if (auto *c = llvm::dyn_cast<llvm::IntrinsicInst>(&i))
      if (c->getIntrinsicID() == llvm::Intrinsic::vector_reduce_fmaximum &&
          llvm::isa<llvm::FixedVectorType>(c->getArgOperand(0)->getType()) &&
          (c->getType()->isFloatTy() || c->getType()->isDoubleTy()))
        calls.push_back(c);
  for (llvm::IntrinsicInst *c : calls) rewrite(c);
  return calls.empty() ? llvm::PreservedAnalyses::all() : llvm::PreservedAnalyses::none();
}

} // namespace gradc
