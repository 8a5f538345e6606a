//===- tools/gradc.cpp - the gradc command --------------------------------===//
//
//   gradc build FILE.grad -o EXE     compile a model into a training executable
//   gradc dump FILE.grad --stage=S   print one stage of the compilation
//
// Run `gradc --help` or `gradc SUBCOMMAND --help` for the options.
//
//===----------------------------------------------------------------------===//
#include "Compiler.h"
#include "GradCheck.h"

#include "codegen/Link.h"
#include "ir/Printer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

#include <chrono>

using namespace gradc;
namespace cl = llvm::cl;

static cl::OptionCategory category("gradc options");
static cl::SubCommand buildCmd("build", "Compile a model into a standalone training executable");
static cl::SubCommand dumpCmd("dump", "Print one stage of the compilation (ast, graph, grad, ..., asm)");
static cl::SubCommand gradcheckCmd("gradcheck", "Compare every symbolic gradient with finite differences, in f64");

// Options every subcommand shares.
static cl::opt<std::string> input(cl::Positional, cl::desc("<model.grad>"), cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(gradcheckCmd),
                                  cl::cat(category));
static cl::list<std::string> defines("D", cl::Prefix, cl::desc("Override a constant: -D NAME=VALUE (e.g. -D B=256)"),
                                     cl::value_desc("NAME=VALUE"), cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(gradcheckCmd), cl::cat(category));
static cl::opt<std::string> dtype("dtype", cl::desc("The float type 'f32' stands for: f32 (default) or f64"),
                                  cl::init("f32"), cl::sub(buildCmd), cl::sub(dumpCmd), cl::cat(category));
static cl::opt<unsigned> fusion("fusion", cl::desc("Fusion level: 0 = one kernel per op, 1 = fuse (default)"),
                                cl::init(1), cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(gradcheckCmd), cl::cat(category));
static cl::list<std::string> printAfter("print-after", cl::desc("Print the IR after this pass (repeatable)"),
                                        cl::value_desc("pass"), cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(gradcheckCmd), cl::cat(category));
static cl::list<std::string> printBefore("print-before", cl::desc("Print the IR before this pass (repeatable)"),
                                         cl::value_desc("pass"), cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(gradcheckCmd), cl::cat(category));
static cl::opt<bool> printAfterAll("print-after-all", cl::desc("Print the IR after every pass"), cl::sub(buildCmd),
                                   cl::sub(dumpCmd), cl::cat(category));
static cl::opt<std::string> breakGrad("break-grad-rule", cl::Hidden, cl::desc("Test hook: corrupt one op's gradient rule"),
                                      cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(gradcheckCmd), cl::cat(category));

// build
static cl::opt<std::string> output("o", cl::desc("Output executable (default: the model file's name)"),
                                   cl::value_desc("file"), cl::sub(buildCmd), cl::cat(category));
static cl::opt<bool> emitObject("c", cl::desc("Write the object file only, without linking"), cl::sub(buildCmd),
                                cl::cat(category));
static cl::opt<bool> gradsEntry("grads-entry", cl::desc("Also compile the @grads entry (loss and every gradient)"),
                                cl::sub(buildCmd), cl::cat(category));

// gradcheck
static cl::opt<double> tolerance("tolerance", cl::desc("Largest relative error that passes (default 1e-6)"),
                                 cl::init(1e-6), cl::sub(gradcheckCmd), cl::cat(category));
static cl::opt<unsigned> seed("seed", cl::desc("Seed for the random point and batch (default 1)"), cl::init(1),
                              cl::sub(gradcheckCmd), cl::cat(category));
static cl::opt<unsigned> samples("samples", cl::desc("Elements checked per parameter (default 24; all if fewer)"),
                                 cl::init(24), cl::sub(gradcheckCmd), cl::cat(category));

// dump
enum class Stage { Ast, Graph, Grad, Optim, Entries, Opt, Kernels, Loops, LLVMRaw, LLVM, Asm };
static cl::opt<Stage> stage(
    "stage", cl::desc("The stage to print"), cl::init(Stage::Graph),
    cl::values(clEnumValN(Stage::Ast, "ast", "the syntax tree"),
               clEnumValN(Stage::Graph, "graph", "the forward graph IR, after semantic analysis"),
               clEnumValN(Stage::Grad, "grad", "after autodiff: forward and backward graph"),
               clEnumValN(Stage::Optim, "optim", "after the optimizer update is appended"),
               clEnumValN(Stage::Entries, "entries", "split into @train, @eval, @predict"),
               clEnumValN(Stage::Opt, "opt", "after folding, simplification, CSE and DCE"),
               clEnumValN(Stage::Kernels, "kernels", "after fusion and memory planning"),
               clEnumValN(Stage::Loops, "loops", "each kernel as a loop nest"),
               clEnumValN(Stage::LLVMRaw, "llvm-raw", "LLVM IR before LLVM's optimiser"),
               clEnumValN(Stage::LLVM, "llvm", "LLVM IR after LLVM's optimiser"),
               clEnumValN(Stage::Asm, "asm", "assembly for this machine")),
    cl::sub(dumpCmd), cl::cat(category));

static CompileOptions compileOptions() {
  CompileOptions o;
  o.input = input;
  for (auto &d : defines) {
    auto [name, value] = llvm::StringRef(d).split('=');
    if (name.empty() || value.empty() && !llvm::StringRef(d).contains('=')) {
      llvm::WithColor::error(llvm::errs(), "gradc") << "-D takes NAME=VALUE, not '" << d << "'\n";
      std::exit(1);
    }
    o.sema.defines.push_back({name.str(), value.str()});
  }
  if (dtype == "f64") o.sema.floatType = DType::F64;
  else if (dtype != "f32") {
    llvm::WithColor::error(llvm::errs(), "gradc") << "--dtype takes f32 or f64, not '" << dtype << "'\n";
    std::exit(1);
  }
  o.passes.fusionLevel = fusion;
  o.passes.breakGradRule = breakGrad;
  o.passes.gradsEntry = gradsEntry;
  o.printAfter.assign(printAfter.begin(), printAfter.end());
  o.printBefore.assign(printBefore.begin(), printBefore.end());
  o.printAfterAll = printAfterAll;
  return o;
}

static int runGradCheck() {
  CompileOptions o = compileOptions();
  o.sema.floatType = DType::F64;
  o.passes.gradsEntry = true;
  Compiler c(o);
  if (!c.load() || !c.runPipeline() || !c.lower() || !c.optimize()) return 1;
  const GrtModel *model = c.jit();
  if (!model) return 1;
  GradCheckOptions g;
  g.tolerance = tolerance;
  g.seed = seed;
  g.samplesPerTensor = samples;
  llvm::outs() << "gradient check of " << model->name << " in f64 at a random point (seed " << g.seed
               << "), central differences with h = " << g.step << "\n";
  GradCheckReport r = gradCheck(*model, g);
  r.print(llvm::outs());
  return r.passed() ? 0 : 1;
}

static bool requireInput() {
  if (!input.empty()) return true;
  llvm::WithColor::error(llvm::errs(), "gradc") << "no input file; usage: gradc " << cl::SubCommand::getTopLevel().getName()
                                               << " MODEL.grad (see gradc --help)\n";
  return false;
}

static int runDump() {
  Compiler c(compileOptions());
  if (stage == Stage::Ast) {
    if (!c.frontend.loadFile(c.opts.input)) return 1;
    const ast::Program *p = c.frontend.parse();
    if (!p) return 1;
    ast::dump(*p, llvm::outs());
    return 0;
  }
  if (!c.load()) return 1;
  static const char *lastPass[] = {"", "", "autodiff", "optimizer", "split-entries", "dce", "plan-memory"};
  if (stage <= Stage::Kernels) {
    if (stage != Stage::Graph && !c.runPipeline(lastPass[int(stage.getValue())])) return 1;
    print(*c.module, llvm::outs());
    return 0;
  }
  if (!c.runPipeline() || !c.schedule()) return 1;
  if (stage == Stage::Loops) {
    for (auto &e : c.loops.entries) {
      llvm::outs() << "// ===== entry " << e.name << ": " << e.kernels.size() << " kernels, arena " << e.arenaBytes
                   << " bytes =====\n";
      for (auto &k : e.kernels) {
        loops::print(k, llvm::outs());
        llvm::outs() << "\n";
      }
    }
    return 0;
  }
  if (!c.lower()) return 1;
  if (stage == Stage::LLVMRaw) {
    c.llvmModule->print(llvm::outs(), nullptr);
    return 0;
  }
  if (!c.optimize()) return 1;
  if (stage == Stage::LLVM) {
    c.llvmModule->print(llvm::outs(), nullptr);
    return 0;
  }
  return c.emit(llvm::outs(), true) ? 0 : 1;
}

static int runBuild() {
  auto t0 = std::chrono::steady_clock::now();
  Compiler c(compileOptions());
  if (!c.load() || !c.runPipeline() || !c.lower() || !c.optimize()) return 1;
  std::string out = output;
  if (out.empty()) out = llvm::sys::path::stem(c.opts.input).str() + (emitObject ? ".o" : "");
  std::string objPath = emitObject ? out : out + ".o.tmp";
  {
    std::error_code ec;
    llvm::ToolOutputFile obj(objPath, ec, llvm::sys::fs::OF_None);
    if (ec) {
      llvm::WithColor::error(llvm::errs(), "gradc") << "cannot write " << objPath << ": " << ec.message() << "\n";
      return 1;
    }
    if (!c.emit(obj.os(), false)) return 1;
    obj.keep();
  }
  if (!emitObject) {
    llvm::Error err = linkExecutable(objPath, out);
    llvm::sys::fs::remove(objPath);
    if (err) {
      c.report(std::move(err));
      return 1;
    }
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t kernels = 0;
  int64_t arena = 0;
  for (auto &e : c.loops.entries) {
    kernels += e.kernels.size();
    arena = std::max(arena, e.arenaBytes);
  }
  llvm::errs() << "gradc: built " << out << " from " << c.opts.input << ": " << c.loops.entries.size() << " entry points, "
               << kernels << " kernels, scratch arena " << arena << " bytes, in " << llvm::format("%.2f", secs) << " s\n";
  return 0;
}

/// A compiler bug ends with a short message, not LLVM's stack dump.
static void internalError(void *, const char *reason, bool) {
  llvm::errs() << "gradc: " << reason << "\n"
               << "gradc: this is a bug in gradc; please report it with the model file\n";
  std::exit(70);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::install_fatal_error_handler(internalError);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "gradc: a compiler that trains neural networks from first principles.\n\n"
                              "  gradc build MODEL.grad -o EXE   compile a model into a training executable\n"
                              "  gradc dump MODEL.grad --stage=S print a stage: ast, graph, grad, optim, entries,\n"
                              "                                  opt, kernels, loops, llvm-raw, llvm, asm\n"
                              "  gradc gradcheck MODEL.grad      check every gradient against finite differences\n");
  if (buildCmd) return requireInput() ? runBuild() : 1;
  if (dumpCmd) return requireInput() ? runDump() : 1;
  if (gradcheckCmd) return requireInput() ? runGradCheck() : 1;
  llvm::errs() << "gradc: give a subcommand: build, dump or gradcheck (see gradc --help)\n";
  return 1;
}
