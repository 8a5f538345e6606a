//===- tools/Compiler.cpp - the compilation stages, as gradc runs them ----===//
#include "Compiler.h"

#include "codegen/Target.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/SourceDiag.h"
#include "runtime/include/gradrt/abi.h"

#include "llvm/Support/WithColor.h"

namespace gradc {

void Compiler::report(llvm::Error err) {
  llvm::handleAllErrors(
      std::move(err),
      [](const LocatedError &e) {
        llvm::errs() << e.where << ": ";
        llvm::WithColor::error(llvm::errs()) << e.msg << "\n";
      },
      [](const llvm::ErrorInfoBase &e) { llvm::WithColor::error(llvm::errs(), "gradc") << e.message() << "\n"; });
}

bool Compiler::load(llvm::StringRef source) {
  if (!source.empty()) frontend.loadString(source, opts.input);
  else if (!frontend.loadFile(opts.input)) return false;
  if (isTextIR()) {
    // Text IR: parsed as written; -D and --dtype belong to .grad sources.
    if (!opts.sema.defines.empty() || opts.sema.floatType != DType::F32) {
      llvm::WithColor::error(llvm::errs(), "gradc")
          << opts.input << ": -D and --dtype apply to .grad sources; a .gir file's shapes and types are as written\n";
      return false;
    }
    auto &sm = frontend.sm;
    module = parseModule(sm, sm.getMainFileID(), frontend.diagStream(), moduleSteps());
    if (!module) return false;
    // A flag that acts at a step the module has been through would be lost
    // silently: --data-parallel on a module after check-row-mean built
    // without the row-mean check (a summed loss averaged over processes),
    // or without @grads and @apply.
    const Step *at = findStep(module->after); // steps are in pipeline order
    auto passed = [&](llvm::StringRef step) { return at && at >= findStep(step); };
    auto refuse = [&](const std::string &flag, llvm::StringRef step) {
      llvm::WithColor::error(llvm::errs(), "gradc")
          << opts.input << ": " << flag << " acts at step '" << step << "', and this module is after \"" << module->after
          << "\"; build from the .grad source, or from IR dumped before that step (--stage=graph)\n";
      return false;
    };
    if (opts.passes.dataParallel && passed("check-row-mean")) return refuse("--data-parallel", "check-row-mean");
    if (opts.passes.fusionLevel != 3 && passed("fuse")) return refuse("--fusion", "fuse");
    // These were accepted and did nothing (exit 0, the same executable).
    const PassOptions defaults;
    if (opts.passes.gradsEntry && passed("split-entries")) return refuse("--grads-entry", "split-entries");
    if (opts.passes.stepEntry != defaults.stepEntry && passed("step-entry"))
      return refuse(opts.passes.stepEntry == PassOptions::StepEntry::Off ? "--no-step-entry" : "--step-entry",
                    "step-entry");
    if (opts.passes.stepBatch != defaults.stepBatch && passed("step-entry")) return refuse("--step-batch", "step-entry");
    if (opts.passes.sliceBlockBytes != defaults.sliceBlockBytes && passed("fuse-slices"))
      return refuse("--slice-block-bytes", "fuse-slices");
    if (opts.passes.sliceBlockMinRows != defaults.sliceBlockMinRows && passed("fuse-slices"))
      return refuse("--slice-block-min-rows", "fuse-slices");
    if (opts.passes.singleSliceBlockBytes != defaults.singleSliceBlockBytes && passed("fuse-slices"))
      return refuse("--single-slice-block-bytes", "fuse-slices");
    return true;
  }
  module = frontend.analyze(opts.sema);
  if (module) module->after = stepOf(Step::Sema).name.str();
  return module != nullptr;
}

bool Compiler::runPipeline(const Step *last) {
  // Nothing runs before the module exists, so text IR of unknown stage
  // prints as it is.
  if (last && last->kind == Step::Sema) return true;
  const Step *at = findStep(module->after);
  if (!at) {
    // Only text IR without an `after` line gets here (the parser checked
    // the names): `gradc opt --passes=...` runs it, but where the pipeline
    // should resume is for the file to say.
    std::string msg = "the module does not say which passes it has been through: add a line such as "
                      "`after \"dce\"` below the module line (gradc opt --list-passes shows the pipeline)";
    auto &sm = frontend.sm;
    if (sm.getNumBuffers() == 0) {
      report(passError(msg));
      return false;
    }
    // Point at the module line: the first that is not blank or a comment.
    llvm::StringRef text = sm.getMemoryBuffer(sm.getMainFileID())->getBuffer();
    llvm::SmallVector<llvm::StringRef> lines;
    text.split(lines, '\n');
    auto moduleLine = llvm::find_if(lines, [](llvm::StringRef l) {
      return !l.trim().empty() && !l.trim().starts_with("//");
    });
    const char *at = moduleLine != lines.end() ? moduleLine->data() : text.data();
    printMessage(sm, frontend.diagStream(), llvm::SMLoc::getFromPointer(at), llvm::SourceMgr::DK_Error, msg);
    return false;
  }
  return runPasses(passesBetween(*at, last));
}

llvm::StringRef Compiler::sourceText() const {
  auto &sm = frontend.sm;
  return sm.getNumBuffers() == 0 ? llvm::StringRef() : sm.getMemoryBuffer(sm.getMainFileID())->getBuffer();
}

bool Compiler::isTextIR() const {
  llvm::StringRef name(opts.input);
  if (name.ends_with(".gir")) return true;
  if (name.ends_with(".grad")) return false;
  // From standard input, a pipe or a file named otherwise: text IR begins
  // with `module NAME` (after comments), which no .grad source does.
  llvm::StringRef text = sourceText();
  if (text.starts_with("\xEF\xBB\xBF")) text = text.drop_front(3);
  while (true) {
    text = text.ltrim();
    if (!text.starts_with("//")) break;
    text = text.drop_until([](char c) { return c == '\n'; });
  }
  return text.starts_with("module ") || text.starts_with("module\t");
}

bool Compiler::checkEntryNames() {
  if (!isTextIR()) return true; // Sema names them
  static const llvm::StringRef kBefore[] = {"model", "data"};
  static const llvm::StringRef kAfter[] = {"train",         "eval",          GRT_ENTRY_GRADS, GRT_ENTRY_APPLY,
                                           GRT_ENTRY_TRAIN_LOSS, GRT_ENTRY_CAPTURE, GRT_ENTRY_FROZEN,
                                           GRT_ENTRY_STEP, "predict",       "data"};
  const Step *at = findStep(module->after);
  if (!at) return true; // no stage: runPipeline says so
  bool split = at >= findStep("split-entries");
  llvm::ArrayRef<llvm::StringRef> known = split ? llvm::ArrayRef(kAfter) : llvm::ArrayRef(kBefore);
  auto &sm = frontend.sm;
  llvm::StringRef text = sm.getNumBuffers() ? sm.getMemoryBuffer(sm.getMainFileID())->getBuffer() : "";
  for (auto &g : module->graphs) {
    if (llvm::is_contained(known, g->name)) continue;
    std::string list;
    for (llvm::StringRef k : known) list += (list.empty() ? "@" : ", @") + k.str();
    std::string msg = "graph @" + g->name + " is not an entry point " +
                      (split ? "the executable calls" : "the pipeline reads") + " (after \"" + module->after +
                      "\" the graphs are " + list + ")";
    size_t pos = text.find("graph @" + g->name);
    if (pos == llvm::StringRef::npos) {
      llvm::WithColor::error(llvm::errs(), "gradc") << opts.input << ": " << msg << "\n";
    } else {
      printMessage(sm, frontend.diagStream(), llvm::SMLoc::getFromPointer(text.data() + pos),
                   llvm::SourceMgr::DK_Error, msg);
    }
    return false;
  }
  return true;
}

static std::set<std::string> &ranPasses() {
  static std::set<std::string> ran;
  return ran;
}
const std::set<std::string> &Compiler::passesRun() { return ranPasses(); }

bool Compiler::runPasses(llvm::ArrayRef<std::string> passes) {
  auto wants = [](const std::vector<std::string> &list, llvm::StringRef p) { return llvm::is_contained(list, p.str()); };
  PassObserver observe = [&](llvm::StringRef pass, bool after, const Module &m) {
    ranPasses().insert(pass.str());
    if (!after && onPass) onPass(pass);
    bool show = after ? (opts.printAfterAll || wants(opts.printAfter, pass)) : wants(opts.printBefore, pass);
    if (!show) return;
    llvm::outs() << "// ----- IR " << (after ? "after" : "before") << " " << pass << " -----\n";
    print(m, llvm::outs());
  };
  if (auto err = gradc::runPasses(*module, passes, opts.passes, observe)) {
    report(std::move(err));
    return false;
  }
  return true;
}

bool Compiler::schedule() {
  loops = lowerToLoops(*module, opts.schedule);
  for (auto &c : loops.rangeConflicts) report(errorAt(*module, c.at, c.msg));
  return loops.rangeConflicts.empty();
}

bool Compiler::lower() {
  if (loops.entries.empty() && !schedule()) return false;
  llvmContext = std::make_unique<llvm::LLVMContext>();
  llvmModule = emitLLVM(*module, loops, *llvmContext, opts.emit);
  return true;
}

bool Compiler::createTarget() {
  if (target) return true;
  auto tm = createHostTargetMachine();
  if (!tm) {
    report(tm.takeError());
    return false;
  }
  target = std::move(*tm);
  return true;
}

bool Compiler::optimize() {
  if (!createTarget()) return false;
  if (auto err = optimizeModule(*llvmModule, *target)) {
    report(std::move(err));
    return false;
  }
  return true;
}

bool Compiler::emit(llvm::raw_pwrite_stream &os, bool assembly) {
  if (auto err = emitMachineCode(*llvmModule, *target, os, assembly)) {
    report(std::move(err));
    return false;
  }
  return true;
}

const GrtModel *Compiler::jit() {
  if (!llvmModule || !target) return nullptr;
  auto j = JitModel::create(std::move(llvmModule), std::move(llvmContext), grt_symbols);
  if (!j) {
    report(j.takeError());
    return nullptr;
  }
  jitModel = std::move(*j);
  auto addr = jitModel->lookup("gradc_model");
  if (!addr) {
    report(addr.takeError());
    return nullptr;
  }
  return static_cast<const GrtModel *>(*addr);
}

} // namespace gradc
