//===- codegen/Jit.cpp - run a compiled model inside this process ---------===//
#include "codegen/Jit.h"

#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/Support/TargetSelect.h"

namespace gradc {

JitModel::~JitModel() = default;

llvm::Expected<std::unique_ptr<JitModel>> JitModel::create(std::unique_ptr<llvm::Module> m,
                                                           std::unique_ptr<llvm::LLVMContext> ctx,
                                                           const GrtSymbol *runtime) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) return jtmb.takeError();
  jtmb->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*jtmb)).create();
  if (!jit) return jit.takeError();

  auto &lib = (*jit)->getMainJITDylib();
  llvm::orc::SymbolMap syms;
  for (const GrtSymbol *s = runtime; s && s->name; ++s)
    syms[(*jit)->mangleAndIntern(s->name)] = {llvm::orc::ExecutorAddr::fromPtr(s->address), llvm::JITSymbolFlags::Exported};
  if (auto err = lib.define(llvm::orc::absoluteSymbols(std::move(syms)))) return err;
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess((*jit)->getDataLayout().getGlobalPrefix());
  if (!process) return process.takeError();
  lib.addGenerator(std::move(*process));

  if (auto err = (*jit)->addIRModule(llvm::orc::ThreadSafeModule(std::move(m), std::move(ctx)))) return err;
  std::unique_ptr<JitModel> out(new JitModel());
  out->jit = std::move(*jit);
  return out;
}

llvm::Expected<void *> JitModel::lookup(llvm::StringRef name) {
  auto addr = jit->lookup(name);
  if (!addr) return addr.takeError();
  return addr->toPtr<void *>();
}

} // namespace gradc
