//===- codegen/Target.cpp - LLVM optimisation and machine code for the host ===//
#include "codegen/Target.h"

#include "codegen/MaxReductions.h"

#include "llvm/Analysis/CGSCCPassManager.h"
#include "llvm/Analysis/LoopAnalysisManager.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/DiagnosticHandler.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/PassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Transforms/Scalar/LoopUnrollAndJamPass.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/Transforms/Utils/SplitModule.h"

#include <system_error>
#include <thread>

namespace gradc {

static std::string hostFeatures() {
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  std::string out;
  for (auto &f : features) out += (out.empty() ? "" : ",") + std::string(f.second ? "+" : "-") + f.first().str();
  return out;
}

unsigned hostFloatLanes() {
  static const unsigned lanes = [] {
    llvm::StringMap<bool> f = llvm::sys::getHostCPUFeatures();
    return f.lookup("avx512f") ? 16u : f.lookup("avx") ? 8u : 4u;
  }();
  return lanes;
}

/// LLVM's loop strength reduction was a third of the machine-code time of
/// a GPT build: LLVM unrolls a kernel's short outer loops (a reduction over
/// 12 rows becomes 12 loops), and LSR searches each loop's address
/// formulas. It bought nothing we could measure: our loops index
/// base + i*stride, which x86 addressing modes take as they are. The GPT and
/// the MLP step the same with and without it (within the noise of a shared
/// machine), and the GPT trains bit for bit the same (integer address
/// arithmetic only). `--disable-lsr=false` brings it back.
static void disableLoopStrengthReduction() {
  auto &opts = llvm::cl::getRegisteredOptions();
  auto it = opts.find("disable-lsr");
  if (it != opts.end() && it->second->getNumOccurrences() == 0) it->second->addOccurrence(0, "disable-lsr", "true");
}

llvm::Expected<std::unique_ptr<llvm::TargetMachine>> createHostTargetMachine() {
  static bool initialised = [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
    disableLoopStrengthReduction();
    return true;
  }();
  (void)initialised;
  std::string triple = llvm::sys::getProcessTriple();
  std::string err;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target) return llvm::createStringError(llvm::inconvertibleErrorCode(), "no LLVM target for %s: %s", triple.c_str(), err.c_str());
  llvm::TargetOptions opts;
  auto *tm = target->createTargetMachine(triple, llvm::sys::getHostCPUName(), hostFeatures(), opts, llvm::Reloc::PIC_,
                                         std::nullopt, llvm::CodeGenOptLevel::Aggressive);
  if (!tm) return llvm::createStringError(llvm::inconvertibleErrorCode(), "cannot create a target machine for %s", triple.c_str());
  return std::unique_ptr<llvm::TargetMachine>(tm);
}

llvm::Error prepareModule(llvm::Module &m, llvm::TargetMachine &tm) {
  std::string msg;
  llvm::raw_string_ostream os(msg);
  if (llvm::verifyModule(m, &os))
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "internal error: invalid LLVM IR:\n%s", msg.c_str());
  m.setTargetTriple(tm.getTargetTriple().str());
  m.setDataLayout(tm.createDataLayout());
  bool avx512 = tm.getTargetFeatureString().contains("+avx512f");
  for (llvm::Function &f : m) {
    if (f.isDeclaration()) continue;
    f.addFnAttr("target-cpu", tm.getTargetCPU());
    f.addFnAttr("target-features", tm.getTargetFeatureString());
    // LLVM prefers 256-bit vectors on AVX-512 CPUs by default, to avoid
    // frequency drops on old Intel parts; our kernels are throughput-bound
    // loops where the wider vectors win.
    if (avx512) f.addFnAttr("prefer-vector-width", "512");
  }
  return llvm::Error::success();
}

namespace {
/// Our loop metadata asks for transformations LLVM may find illegal in a
/// given nest (unroll-and-jam of a column sum's rows: codegen/EmitKernel.cpp).
/// It then warns "loop not unroll-and-jammed", which tells a user nothing
/// they can act on; those warnings are dropped while the pipeline runs, and
/// every other diagnostic goes to the handler the context had.
struct DropMissedTransforms : llvm::DiagnosticHandler {
  std::unique_ptr<llvm::DiagnosticHandler> next;
  explicit DropMissedTransforms(std::unique_ptr<llvm::DiagnosticHandler> next) : next(std::move(next)) {}
  bool handleDiagnostics(const llvm::DiagnosticInfo &d) override {
    return d.getKind() == llvm::DK_OptimizationFailure || (next && next->handleDiagnostics(d));
  }
};
/// LLVM's unroll-and-jam, run only on functions with a loop whose metadata
/// asks for it (a handful of kernels in a model): the others are not even
/// looked at.
struct JamLoopsThatAsk : llvm::PassInfoMixin<JamLoopsThatAsk> {
  llvm::PreservedAnalyses run(llvm::Function &f, llvm::FunctionAnalysisManager &fam) {
    if (!llvm::any_of(f, asksForJam)) return llvm::PreservedAnalyses::all();
    return llvm::createFunctionToLoopPassAdaptor(llvm::LoopUnrollAndJamPass(3)).run(f, fam);
  }
  static bool asksForJam(const llvm::BasicBlock &bb) {
    const llvm::MDNode *loop = bb.getTerminator() ? bb.getTerminator()->getMetadata(llvm::LLVMContext::MD_loop) : nullptr;
    if (!loop) return false;
    for (const llvm::MDOperand &op : llvm::drop_begin(loop->operands()))
      if (auto *attr = llvm::dyn_cast<llvm::MDNode>(op.get()); attr && attr->getNumOperands() > 0)
        if (auto *name = llvm::dyn_cast<llvm::MDString>(attr->getOperand(0)); name && name->getString() == "llvm.loop.unroll_and_jam.count")
          return true;
    return false;
  }
  static bool isRequired() { return false; }
};
} // namespace

/// LLVM's -O3 pipeline over a prepared module.
static void runO3(llvm::Module &m, llvm::TargetMachine &tm) {
  llvm::LLVMContext &ctx = m.getContext();
  ctx.setDiagnosticHandler(std::make_unique<DropMissedTransforms>(ctx.getDiagnosticHandler()));
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = true;
  // LLVM 19's SLP vectorizer miscompiles some fully unrolled kernels: it
  // builds shuffles with poison lanes where loaded values belong
  // (llvm/llvm-project#117170, fixed after 19). modelgen's PyTorch oracle
  // found it on a broadcast maximum of [2,1,3] and [2,5,1]
  // (tests/lit/e2e/slp_miscompile.test). Our kernels are loops, which the
  // loop vectoriser handles; straight-line SLP code only ever came from
  // tiny kernels unrolled whole.
  pto.SLPVectorization = false;
  llvm::PassBuilder pb(&tm, pto);
  // After the loop vectoriser, which makes the reductions it rewrites.
  pb.registerOptimizerLastEPCallback([](llvm::ModulePassManager &mpm, llvm::OptimizationLevel) {
    mpm.addPass(llvm::createModuleToFunctionPassAdaptor(MaxReductionsPass()));
  });
  // Unroll-and-jam is off in LLVM's default pipeline; only loops whose
  // metadata asks for it are transformed (column sums: EmitKernel.cpp).
  pb.registerVectorizerStartEPCallback([](llvm::FunctionPassManager &fpm, llvm::OptimizationLevel) {
    fpm.addPass(JamLoopsThatAsk());
  });
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(m, mam);
  auto filter = ctx.getDiagnosticHandler();
  ctx.setDiagnosticHandler(std::move(static_cast<DropMissedTransforms &>(*filter).next));
}

llvm::Error optimizeModule(llvm::Module &m, llvm::TargetMachine &tm) {
  if (auto err = prepareModule(m, tm)) return err;
  runO3(m, tm);
  return llvm::Error::success();
}

llvm::Error emitMachineCode(llvm::Module &m, llvm::TargetMachine &tm, llvm::raw_pwrite_stream &out, bool assembly) {
  llvm::legacy::PassManager pm;
  auto kind = assembly ? llvm::CodeGenFileType::AssemblyFile : llvm::CodeGenFileType::ObjectFile;
  if (tm.addPassesToEmitFile(pm, out, nullptr, kind))
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "the target cannot emit this file type");
  pm.run(m);
  return llvm::Error::success();
}

llvm::Expected<std::vector<llvm::SmallVector<char, 0>>> emitObjects(llvm::Module &m, llvm::TargetMachine &tm,
                                                                     unsigned parts) {
  std::vector<llvm::SmallVector<char, 0>> objects;
  if (auto err = prepareModule(m, tm)) return err;
  if (parts <= 1) {
    runO3(m, tm);
    objects.emplace_back();
    llvm::raw_svector_ostream os(objects.back());
    if (auto err = emitMachineCode(m, tm, os, false)) return err;
    return objects;
  }
  // Split (round robin: parts of about equal size), then carry each part
  // across as bitcode: an LLVM context serves one thread at a time.
  std::vector<llvm::SmallVector<char, 0>> bitcode;
  llvm::SplitModule(
      m, parts,
      [&](std::unique_ptr<llvm::Module> part) {
        bitcode.emplace_back();
        llvm::raw_svector_ostream os(bitcode.back());
        llvm::WriteBitcodeToFile(*part, os);
      },
      /*PreserveLocals=*/false, /*RoundRobin=*/true);
  objects.resize(bitcode.size());
  std::vector<std::string> errors(bitcode.size());
  std::vector<std::thread> threads;
  auto emitPart = [&](size_t i) {
    llvm::LLVMContext ctx;
    auto part = llvm::parseBitcodeFile(llvm::MemoryBufferRef(llvm::StringRef(bitcode[i].data(), bitcode[i].size()), "part"), ctx);
    auto partTm = part ? createHostTargetMachine() : llvm::Expected<std::unique_ptr<llvm::TargetMachine>>(part.takeError());
    llvm::Error err = partTm ? llvm::Error::success() : partTm.takeError();
    if (!err) {
      runO3(**part, **partTm);
      llvm::raw_svector_ostream os(objects[i]);
      err = emitMachineCode(**part, **partTm, os, false);
    }
    if (err) errors[i] = llvm::toString(std::move(err));
  };
  // Under a limit on memory or threads (ulimit -v, -u) a thread may not
  // start: that part is made on this one instead.
  for (size_t i = 0; i < bitcode.size(); ++i) {
    try {
      threads.emplace_back(emitPart, i);
    } catch (const std::system_error &) {
      emitPart(i);
    }
  }
  for (auto &t : threads) t.join();
  for (auto &e : errors)
    if (!e.empty()) return llvm::createStringError(llvm::inconvertibleErrorCode(), "%s", e.c_str());
  return objects;
}

} // namespace gradc
