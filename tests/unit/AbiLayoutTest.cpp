//===- tests/unit/AbiLayoutTest.cpp - the emitter's structs match abi.h ---===//
//
// The descriptor a compiled model exports is built as LLVM constants of
// struct types that mirror runtime/include/gradrt/abi.h. A field added on
// one side only would shift every field after it; here each LLVM field's
// offset, on the host's data layout, must equal offsetof of the C field,
// and each struct's size its sizeof.
//
//===----------------------------------------------------------------------===//
#include "codegen/EmitModule.h"
#include "codegen/Target.h"

#include "runtime/include/gradrt/abi.h"

#include "llvm/IR/DataLayout.h"
#include "llvm/Target/TargetMachine.h"

#include <gtest/gtest.h>

#include <cstddef>

using namespace gradc;

/// tests/unit/AbiFromC.c, compiled as C99.
extern "C" const char *abi_loss_tensor_from_c(void);

namespace {

void expectLayout(llvm::StructType *t, const llvm::DataLayout &dl, std::initializer_list<size_t> offsets, size_t size) {
  const llvm::StructLayout *sl = dl.getStructLayout(t);
  ASSERT_EQ(t->getNumElements(), offsets.size()) << t->getName().str() << " has a different number of fields";
  unsigned i = 0;
  for (size_t off : offsets) {
    EXPECT_EQ(sl->getElementOffset(i), off) << t->getName().str() << " field " << i;
    ++i;
  }
  EXPECT_EQ(sl->getSizeInBytes(), size) << t->getName().str();
}

TEST(AbiLayout, DescriptorStructsMatchTheHeader) {
  auto tm = createHostTargetMachine();
  ASSERT_TRUE(bool(tm)) << llvm::toString(tm.takeError());
  llvm::DataLayout dl = (*tm)->createDataLayout();
  llvm::LLVMContext ctx;
  AbiTypes t = abiTypes(ctx);
  expectLayout(t.tensor, dl,
               {offsetof(GrtTensor, name), offsetof(GrtTensor, role), offsetof(GrtTensor, dtype), offsetof(GrtTensor, rank),
                offsetof(GrtTensor, index_low), offsetof(GrtTensor, index_limit), offsetof(GrtTensor, dims), offsetof(GrtTensor, init),
                offsetof(GrtTensor, default_value), offsetof(GrtTensor, column_ranges)},
               sizeof(GrtTensor));
  expectLayout(t.stored, dl,
               {offsetof(GrtStored, what), offsetof(GrtStored, kernel), offsetof(GrtStored, tensor), offsetof(GrtStored, offset),
                offsetof(GrtStored, count), offsetof(GrtStored, dtype), offsetof(GrtStored, last_read)},
               sizeof(GrtStored));
  expectLayout(t.entry, dl,
               {offsetof(GrtEntry, name), offsetof(GrtEntry, fn), offsetof(GrtEntry, arena_bytes),
                offsetof(GrtEntry, num_kernels), offsetof(GrtEntry, products), offsetof(GrtEntry, inputs),
                offsetof(GrtEntry, outputs), offsetof(GrtEntry, kernel_names), offsetof(GrtEntry, stored),
                offsetof(GrtEntry, num_stored)},
               sizeof(GrtEntry));
  expectLayout(t.model, dl,
               {offsetof(GrtModel, abi_version), offsetof(GrtModel, num_tensors), offsetof(GrtModel, name),
                offsetof(GrtModel, source), offsetof(GrtModel, optimizer), offsetof(GrtModel, tensors),
                offsetof(GrtModel, entries), offsetof(GrtModel, num_entries), offsetof(GrtModel, data_kind),
                offsetof(GrtModel, data_rows), offsetof(GrtModel, text_corpus), offsetof(GrtModel, text_input),
                offsetof(GrtModel, text_target), offsetof(GrtModel, constants)},
               sizeof(GrtModel));
  expectLayout(t.call, dl,
               {offsetof(GrtCall, body), offsetof(GrtCall, extent), offsetof(GrtCall, weight),
                offsetof(GrtCall, joins_previous), offsetof(GrtCall, num_args)},
               sizeof(GrtCall));
  expectLayout(t.callArg, dl,
               {offsetof(GrtCallArg, kind), offsetof(GrtCallArg, slot), offsetof(GrtCallArg, offset),
                offsetof(GrtCallArg, address)},
               sizeof(GrtCallArg));
}

// The names are shared too: C spells them with the macros, C++ with the
// helpers.
TEST(AbiNames, CAndCppAgree) {
  EXPECT_EQ(std::string(abi_loss_tensor_from_c()), grt::outputTensor("loss"));
  EXPECT_EQ(grt::gradName("w"), GRT_GRAD_PREFIX "w");
  EXPECT_EQ(grt::withoutPrefix("metric.acc", GRT_METRIC_PREFIX), "acc");
  EXPECT_EQ(grt::withoutPrefix("loss", GRT_METRIC_PREFIX), "loss");
}

} // namespace
