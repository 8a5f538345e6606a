//===- codegen/Jit.h - run a compiled model inside this process -----------===//
//
// The same LLVM module `gradc build` writes to an object file can instead be
// compiled into memory, so gradient checks and tests run the real generated
// code without a linker. The caller supplies the runtime's symbols
// (grt_symbols from gradrt/abi.h); libm comes from the process.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"

#include "runtime/include/gradrt/abi.h"

namespace llvm::orc {
class LLJIT;
}

namespace gradc {

class JitModel {
public:
  ~JitModel();
  /// Compiles an optimised module; `runtime` lists the functions generated
  /// code calls (terminated by a null name).
  static llvm::Expected<std::unique_ptr<JitModel>> create(std::unique_ptr<llvm::Module> m,
                                                          std::unique_ptr<llvm::LLVMContext> ctx,
                                                          const GrtSymbol *runtime);
  /// The address of a symbol the module defines (e.g. "gradc_model").
  llvm::Expected<void *> lookup(llvm::StringRef name);

private:
  JitModel() = default;
  std::unique_ptr<llvm::orc::LLJIT> jit;
};

} // namespace gradc
