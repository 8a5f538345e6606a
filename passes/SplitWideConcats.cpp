//===- passes/SplitWideConcats.cpp - concats of many parts as a tree ------===//
//
// A loop that reads a concat at its own index does not know, until run
// time, which part an element comes from: codegen loads every part and
// selects among them (codegen/Schedule.cpp). That is cheap for the two or
// three parts of a roll or a skip connection, and quadratic for many: a
// concat of 1024 [16, 4] tensors, summed along its axis, cost 1024 loads
// and selects an element, took 16 s to build and 99.8% of the step.
//
// So a concat of more than kMaxInlineConcatParts parts (ir/Kernel.h)
// becomes a tree of concats of at most that many, in order:
//
//   %c = concat %p0, ..., %p1023 {axis = 1} : f32[16,4096]
// becomes
//   %a0 = concat %p0, ..., %p7 {axis = 1} : f32[16,32]       128 of these
//   %b0 = concat %a0, ..., %a7 {axis = 1} : f32[16,256]      16
//   %d0 = concat %b0, ..., %b7 {axis = 1} : f32[16,2048]     2
//   %c  = concat %d0, %d1 {axis = 1} : f32[16,4096]
//
// and fusion stores every level below the top (passes/Fusion.cpp: a concat
// another concat reads, together holding more parts than inline reads
// take). Each element is then copied once per level with a choice among at
// most 8 parts, and a reader takes the top inline: n·8·log₈(parts) work
// for n elements, not n·parts, and kernels of bounded size. The values are
// copies, so results are bit for bit those of the flat concat.
//
//===----------------------------------------------------------------------===//
#include "passes/Pass.h"

#include "ir/Kernel.h"
#include "passes/Rewrite.h"

namespace gradc {
namespace {

Node *rewrite(Builder &b, Node *n) {
  if (!n->is(OpKind::Concat) || n->operands.size() <= kMaxInlineConcatParts) return nullptr;
  auto axis = n->attrs.getInt(AttrKey::Axis);
  std::vector<Node *> level(n->operands.begin(), n->operands.end());
  while (level.size() > kMaxInlineConcatParts) {
    std::vector<Node *> next;
    for (size_t i = 0; i < level.size(); i += kMaxInlineConcatParts) {
      llvm::ArrayRef<Node *> chunk = llvm::ArrayRef<Node *>(level).slice(i, std::min(kMaxInlineConcatParts, level.size() - i));
      if (chunk.size() == 1) {
        next.push_back(chunk.front());
        continue;
      }
      next.push_back(b.concat(chunk, axis));
    }
    level = std::move(next);
  }
  return b.concat(level, axis);
}

} // namespace

llvm::Error runSplitWideConcats(Module &m, const PassOptions &) {
  for (auto &g : m.graphs) rewriteNodes(*g, rewrite);
  return llvm::Error::success();
}

} // namespace gradc
