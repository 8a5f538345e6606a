//===- tools/gradc.cpp - the gradc command --------------------------------===//
//
//   gradc build MODEL.grad -o EXE     compile a model into a training executable
//   gradc dump MODEL --stage=S        print one stage of the compilation
//   gradc opt FILE.gir --passes=...   run passes on text IR and print the result
//   gradc dot MODEL --stage=S         the IR as a Graphviz graph
//   gradc stats MODEL                 op counts, FLOPs and bytes per stage
//   gradc gradcheck MODEL             symbolic gradients vs finite differences
//
// MODEL is a .grad source or a .gir text IR file. Run `gradc --help` or
// `gradc SUBCOMMAND --help` for the options.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/InitLLVM.h"

#include <csignal>
#include <pthread.h>
#include <sys/resource.h>
#include <exception>
#include <limits>
#include <new>
#include <system_error>
#include <unistd.h>
#include "llvm/Support/Signals.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/TargetParser/Host.h"
#include "runtime/core/Runtime.h"
#include "runtime/include/gradrt/abi.h"

#include <cmath>
#include <type_traits>
#include <deque>
#include <fmt/format.h>

using namespace gradc;
namespace cl = llvm::cl;

/// A mistake on the command line: "gradc: error: ...", exit 1.
[[noreturn]] static void fail(const llvm::Twine &msg) {
  llvm::WithColor::error(llvm::errs(), "gradc") << msg << "\n";
  std::exit(1);
}

/// Reads a numeric option's value, and says in words what it takes where
/// LLVM's parser says "'-1' value invalid for uint argument!".
template <class T> class NumberParser : public cl::parser<T> {
public:
  using cl::parser<T>::parser;
  bool parse(cl::Option &o, llvm::StringRef argName, llvm::StringRef arg, T &value) {
    bool ok = false;
    if constexpr (std::is_floating_point_v<T>) ok = llvm::to_float(arg, value);
    else ok = llvm::to_integer(arg, value, 0);
    if (ok) return false;
    std::string name = (argName.size() == 1 ? "-" : "--") + argName.str();
    // A whole number past the type's range (--fusion=4294967296) was told
    // it is not a whole number.
    if constexpr (!std::is_floating_point_v<T>) {
      llvm::StringRef body = arg;
      body.consume_front("+") || (!std::is_unsigned_v<T> && body.consume_front("-"));
      bool digits = !body.empty() && body.find_first_not_of("0123456789") == llvm::StringRef::npos;
      if (digits)
        fail(name + " takes a whole number up to " + llvm::Twine(std::to_string(std::numeric_limits<T>::max())) +
             ", not '" + arg + "'");
    }
    const char *what = std::is_floating_point_v<T> ? "a number"
                       : std::is_unsigned_v<T>     ? "a whole number, 0 or more"
                                                   : "a whole number";
    fail(name + " takes " + what + ", not '" + arg + "'");
  }
};
/// (LLVM's parsers of long and unsigned long are final: int64_t options are
/// long long here.)
template <class T> using NumberOpt = cl::opt<T, false, NumberParser<T>>;

static cl::OptionCategory category("gradc options");
static cl::SubCommand buildCmd("build", "Compile a model into a standalone training executable");
static cl::SubCommand dumpCmd("dump", "Print one stage of the compilation (ast, graph, grad, ..., asm)");
static cl::SubCommand optCmd("opt", "Run named passes on a .gir (or .grad) file and print the IR");
static cl::SubCommand dotCmd("dot", "Print a stage of the IR as a Graphviz graph");
static cl::SubCommand statsCmd("stats", "Op counts, parameters, FLOPs and bytes at each stage");
static cl::SubCommand gradcheckCmd("gradcheck", "Compare every symbolic gradient with finite differences, in f64");

#define ALL_SUBS cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(optCmd), cl::sub(dotCmd), cl::sub(statsCmd), cl::sub(gradcheckCmd)

// Options every subcommand shares.
static cl::opt<std::string> input(cl::Positional, cl::desc("<model.grad | module.gir>"), ALL_SUBS, cl::cat(category));
static cl::list<std::string> defines("D", cl::Prefix, cl::desc("Override a constant: -D NAME=VALUE (e.g. -D B=256)"),
                                     cl::value_desc("NAME=VALUE"), ALL_SUBS, cl::cat(category));
static cl::opt<std::string> dtype("dtype", cl::desc("The float type 'f32' stands for: f32 (default; f64 for a model that names f64 and never f32) or f64 (for checks: its matrix products are the plain sums, several times slower)"),
                                  cl::init("f32"), cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(optCmd), cl::sub(dotCmd),
                                  cl::sub(statsCmd), cl::cat(category));
static NumberOpt<unsigned> fusion("fusion",
                                cl::desc("Fusion level: 0 = one kernel per op, 1 = fuse elementwise chains and "
                                         "reductions, 2 = also matmul epilogues, 3 = also run chains of batched "
                                         "products slice by slice, as attention (default)"),
                                cl::init(3), ALL_SUBS, cl::cat(category));
static NumberOpt<long long> sliceBlockBytes(
    "slice-block-bytes",
    cl::desc("Run a slice group whose values take more than this many bytes a slice in blocks of rows that keep "
             "them within it (default 1048576, about a core's L2)"),
    cl::init(PassOptions{}.sliceBlockBytes), ALL_SUBS, cl::cat(category));
static NumberOpt<long long> sliceBlockMinRows("slice-block-min-rows",
                                          cl::desc("The fewest rows a slice group's block may have (default 64)"),
                                          cl::init(PassOptions{}.sliceBlockMinRows), ALL_SUBS, cl::cat(category));
static NumberOpt<long long> singleSliceBlockBytes(
    "single-slice-block-bytes",
    cl::desc("Run a slice group of a single slice (one sequence and head) in row blocks, on one thread, only when "
             "its values would take more than this many bytes whole (default 268435456)"),
    cl::init(PassOptions{}.singleSliceBlockBytes), ALL_SUBS, cl::cat(category));
static cl::opt<bool> keepMaskedColumns(
    "keep-masked-columns",
    cl::desc("Compute every column of a slice group's product, even those an index-only mask (a causal one) "
             "discards; by default they are skipped (for comparisons)"),
    ALL_SUBS, cl::cat(category));
static NumberOpt<long long> shareKernelsFrom(
    "share-kernels-from",
    cl::desc("Kernels that differ only in scalar constants (the steps of an unrolled loop) share one compiled "
             "function, reading the constants from memory, when there are at least this many of them "
             "(default 4; 0 = never). The results are the same bits in every model tried"),
    cl::init(EmitOptions{}.shareKernelsFrom), ALL_SUBS, cl::cat(category));
static NumberOpt<long long> callTableFrom(
    "call-table-from",
    cl::desc("An entry of at least this many kernels hands its calls to the runtime as a table instead of making "
             "them in code, which LLVM is slow to compile (default 512; 0 = never). The results are the same bits"),
    cl::init(EmitOptions{}.callTableFrom), ALL_SUBS, cl::cat(category));
static cl::opt<bool> foldTails(
    "fold-tails",
    cl::desc("On AVX-512, vectorise a short loop whose last elements would fill most of a vector with a mask on its last pass, "
             "not a scalar remainder (default true; --fold-tails=false for comparisons). Sums over such loops "
             "add in another order"),
    cl::init(EmitOptions{}.foldTails), ALL_SUBS, cl::cat(category));
static cl::list<std::string> printAfter("print-after", cl::desc("Print the IR after this pass (repeatable)"),
                                        cl::value_desc("pass"), ALL_SUBS, cl::cat(category));
static cl::list<std::string> printBefore("print-before", cl::desc("Print the IR before this pass (repeatable)"),
                                         cl::value_desc("pass"), ALL_SUBS, cl::cat(category));
static cl::opt<bool> printAfterAll("print-after-all", cl::desc("Print the IR after every pass"), ALL_SUBS,
                                   cl::cat(category));
static cl::opt<std::string> breakGrad("break-grad-rule", cl::Hidden, cl::desc("Test hook: corrupt one op's gradient rule"),
                                      ALL_SUBS, cl::cat(category));

// build
static cl::opt<std::string> output("o", cl::desc("Output executable (default: the model file's name)"),
                                   cl::value_desc("file"), cl::Prefix, cl::sub(buildCmd), cl::cat(category));
static cl::opt<bool> emitObject("c", cl::desc("Write the object file only, without linking"), cl::sub(buildCmd),
                                cl::cat(category));
static cl::opt<bool> timePhases("time", cl::desc("Print how long each phase of the build took"), cl::sub(buildCmd),
                                cl::cat(category));
static NumberOpt<unsigned> jobs("j", cl::desc("Optimise and make machine code on N threads, one part of the model each "
                                            "(default, or 0: the cores available, at most 8; N at most 64; the model "
                                            "trains the same for any N)"),
                               cl::value_desc("N"), cl::init(0), cl::Prefix, cl::sub(buildCmd), cl::cat(category));
static cl::opt<bool> gradsEntry("grads-entry", cl::desc("Also compile the @grads entry (loss and every gradient)"),
                                cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(optCmd), cl::cat(category));
static cl::opt<bool> dataParallel("data-parallel",
                                  cl::desc("Also compile the @grads and @apply entries, with which `mpirun -np N ./model "
                                           "train` trains on N processes"),
                                  cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(optCmd), cl::cat(category));

static cl::opt<bool> stepEntry("step-entry",
                               cl::desc("Derive the @step entry of a text model (the logits at one new position, with "
                                        "attention's keys and values cached, which `sample` uses) or say why it cannot "
                                        "be; without this flag a text model gets @step when it can"),
                               cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(optCmd), cl::cat(category));
static cl::opt<bool> noStepEntry("no-step-entry", cl::desc("Leave @step out of a text model"), cl::sub(buildCmd),
                                 cl::sub(dumpCmd), cl::sub(optCmd), cl::cat(category));
static NumberOpt<long long> stepBatch("step-batch",
                                  cl::desc("How many sequences @step generates at once (default 1; at most the model's "
                                           "batch): `sample` uses @step for at most this many rows"),
                                  cl::init(1), cl::sub(buildCmd), cl::sub(dumpCmd), cl::sub(optCmd), cl::cat(category));

// dump, dot: the stages are the pipeline's (addStageNames() adds them).
/// --stage's values are the pipeline's stages; an unknown one got LLVM's
/// "Cannot find option named 'foo'!", without the list.
class StageParser : public cl::parser<const Step *> {
public:
  using cl::parser<const Step *>::parser;
  bool parse(cl::Option &, llvm::StringRef, llvm::StringRef arg, const Step *&value) {
    std::string names;
    for (auto &v : Values) {
      if (v.Name == arg) {
        value = v.V.getValue();
        return false;
      }
      names += (names.empty() ? "" : ", ") + v.Name.str();
    }
    fail("--stage takes one of " + names + "; not '" + arg + "'");
  }
};
static cl::opt<const Step *, false, StageParser>
    stage("stage", cl::desc("The stage to print (default: graph for dump, optim for dot)"), cl::init(&stepOf(Step::Sema)), cl::sub(dumpCmd), cl::sub(dotCmd),
          cl::cat(category));

static cl::opt<std::string> onlyGraph("graph", cl::desc("Draw only this graph (e.g. model, train)"),
                                      cl::value_desc("name"), cl::sub(dotCmd), cl::cat(category));

// opt
static cl::list<std::string> passes("passes", cl::CommaSeparated, cl::desc("Passes to run, in order (see --list-passes)"),
                                    cl::value_desc("a,b,c"), cl::sub(optCmd), cl::cat(category));
static cl::opt<bool> listPasses("list-passes", cl::desc("List every pass and exit"), cl::sub(optCmd), cl::cat(category));

// gradcheck
static NumberOpt<double> tolerance("tolerance", cl::desc("Largest relative error that passes (default 1e-6)"),
                                 cl::init(1e-6), cl::sub(gradcheckCmd), cl::cat(category));
static NumberOpt<unsigned> seed("seed", cl::desc("Seed for the random point and batch (default 1)"), cl::init(1),
                              cl::sub(gradcheckCmd), cl::cat(category));
static NumberOpt<unsigned> samples("samples", cl::desc("Elements checked per parameter (default 24; all if fewer)"),
                                 cl::init(24), cl::sub(gradcheckCmd), cl::cat(category));
static NumberOpt<unsigned> maxElements("max-elements",
                                     cl::desc("Elements checked in all, at most (default 600; 0: no limit): a large "
                                              "model checks fewer per tensor, at least 2"),
                                     cl::init(600), cl::sub(gradcheckCmd), cl::cat(category));

/// Makes every stage of the pipeline a value of --stage, described by the
/// steps that lead to it from the stage before.
static void addStageNames() {
  static std::deque<std::string> help; // the parser keeps StringRefs
  std::vector<llvm::StringRef> steps;
  for (const Step &s : pipeline()) {
    steps.push_back(s.name);
    if (s.stage.empty()) continue;
    help.push_back(steps.size() == 1 ? "after " + s.name.str() + ": " + s.summary.str()
                                     : "after " + llvm::join(steps, ", "));
    stage.getParser().addLiteralOption(s.stage, &s, help.back());
    steps.clear();
  }
}

/// `gradc opt --list-passes`: the whole pipeline, in order.
static void listPipeline() {
  auto &os = llvm::outs();
  os << "The pipeline, in order: `--passes` runs the middle end's passes, `--stage=NAME` prints a stage.\n\n";
  os << fmt::format("  {:<17} {:<9} {:<9} {}\n", "step", "stage", "part", "what it does");
  for (const Step &s : pipeline()) {
    llvm::StringRef part = s.kind == Step::Pass ? "passes" : s.makesModule() || s.kind == Step::Parse ? "frontend" : "codegen";
    os << fmt::format("  {:<17} {:<9} {:<9} {}\n", s.name.str(), s.stage.str(), part.str(), s.summary.str());
  }
}

static CompileOptions compileOptions() {
  CompileOptions o;
  o.input = input;
  for (auto &d : defines) {
    auto [name, value] = llvm::StringRef(d).split('=');
    // -D "H = 4", as a shell passes it: the name was 'H ' ("no constant
    // 'H '"). The value is trimmed where it is read.
    name = name.trim();
    if (name.empty() || !llvm::StringRef(d).contains('=')) fail("-D takes NAME=VALUE, not '" + d + "'");
    // Which of two values would win is not obvious from the command line.
    for (auto &[n, v] : o.sema.defines)
      if (n == name && v != value) fail("-D " + n + " is given twice, as " + v + " and " + value.str() + ": give it once");
    o.sema.defines.push_back({name.str(), value.str()});
  }
  if (dtype == "f64") o.sema.floatType = DType::F64;
  else if (dtype != "f32") fail("--dtype takes f32 or f64, not '" + dtype + "'");
  // Without --dtype, a model written all in f64 computes in f64 (Sema.h).
  o.sema.floatTypeFromSource = dtype.getNumOccurrences() == 0;
  if (fusion > 3) fail("--fusion takes 0, 1, 2 or 3, not " + std::to_string(fusion));
  o.passes.fusionLevel = fusion;
  if (sliceBlockBytes < 1 || sliceBlockMinRows < 1 || singleSliceBlockBytes < 0)
    fail("--slice-block-bytes and --slice-block-min-rows take 1 or more, --single-slice-block-bytes 0 or more");
  o.passes.sliceBlockBytes = sliceBlockBytes;
  o.passes.sliceBlockMinRows = sliceBlockMinRows;
  o.passes.singleSliceBlockBytes = singleSliceBlockBytes;
  o.schedule.skipMaskedColumns = !keepMaskedColumns;
  if (shareKernelsFrom < 0) fail("--share-kernels-from takes 0 (never) or more");
  o.emit.shareKernelsFrom = size_t(shareKernelsFrom);
  if (callTableFrom < 0) fail("--call-table-from takes 0 (never) or more");
  o.emit.callTableFrom = size_t(callTableFrom);
  o.emit.foldTails = foldTails;
  // The hook corrupts the rule of the op it names; a misspelt name broke
  // nothing, and gradcheck passing then looked like a missed bug.
  if (!breakGrad.empty() && !parseOpKind(breakGrad))
    fail("--break-grad-rule takes an op's IR name (tanh, matmul, exp, ...), not '" + breakGrad + "'");
  o.passes.breakGradRule = breakGrad;
  o.passes.gradsEntry = gradsEntry;
  o.passes.dataParallel = dataParallel;
  o.passes.lossMustBeRowMean = dataParallel;
  if (stepEntry && noStepEntry) fail("--step-entry and --no-step-entry contradict each other");
  if (stepBatch.getNumOccurrences() && noStepEntry)
    fail("--step-batch sets how many sequences @step generates, and --no-step-entry leaves @step out; give one");
  using StepMode = PassOptions::StepEntry;
  o.passes.stepEntry = stepEntry ? StepMode::On : noStepEntry ? StepMode::Off : StepMode::Auto;
  o.passes.stepBatch = stepBatch;
  // --passes= and --passes=dce,,cse name an empty pass: "unknown pass ''".
  for (auto [flag, list] : {std::pair{"--passes", &passes}, {"--print-after", &printAfter}, {"--print-before", &printBefore}})
    for (auto &p : *list)
      if (p.empty())
        fail(std::string(flag) + " names an empty pass (nothing before or between its commas); " +
             "gradc opt --list-passes shows the passes");
  for (auto *list : {&printAfter, &printBefore})
    for (auto &p : *list)
      if (!findPass(p)) {
        // parse, sema and the codegen steps are listed too, but make no module
        // to print before or after: their results are stages.
        const Step *step = findStep(p);
        if (step && !step->stage.empty())
          fail("'" + p + "' is a step, not a pass: its result is --stage=" + step->stage.str() +
               " (gradc opt --list-passes shows which steps are passes)");
        fail("no pass named '" + p + "' (gradc opt --list-passes shows them)");
      }
  o.printAfter.assign(printAfter.begin(), printAfter.end());
  o.printBefore.assign(printBefore.begin(), printBefore.end());
  o.printAfterAll = printAfterAll;
  return o;
}

/// A compiler bug ends with a short message, not LLVM's stack dump.
static void internalError(void *, const char *reason, bool) {
  // --help or --version into a full disk or a closed pipe: LLVM's stream
  // reports the lost output as it is destroyed at exit.
  if (llvm::StringRef why(reason); why.consume_front("IO failure on output stream")) {
    why.consume_front(": ");
    llvm::errs() << "gradc: error: cannot write to standard output: " << why << "\n";
    std::_Exit(1);
  }
  llvm::errs() << "gradc: " << reason << "\n"
               << "gradc: this is a bug in gradc; please report it with the model file\n";
  std::exit(70);
}

/// Memory that cannot be had (a ulimit -v, a full machine) ends the build
/// with one line: LLVM's own handler printed "LLVM ERROR: out of memory"
/// and a stack dump, as for a bug. Temporary files go, as on a signal.
[[noreturn]] static void outOfMemory() {
  const char msg[] = "gradc: error: out of memory (the limit on this process's memory, ulimit -v, or the machine's); "
                     "a smaller model, or -j 1, needs less\n";
  (void)!::write(2, msg, sizeof msg - 1);
  llvm::sys::RunInterruptHandlers();
  ::_exit(1);
}

static void badAlloc(void *, const char *, bool) { outOfMemory(); }

/// An exception nothing caught: out of memory, or a thread that could not
/// start, said in one line; anything else is a bug.
[[noreturn]] static void uncaught() {
  try {
    if (auto e = std::current_exception()) std::rethrow_exception(e);
  } catch (const std::bad_alloc &) {
    outOfMemory();
  } catch (const std::system_error &e) {
    llvm::errs() << "gradc: error: " << e.what()
                 << " (the limits on this process's memory or threads, ulimit -v or -u, or the machine's)\n";
    llvm::sys::RunInterruptHandlers();
    ::_exit(1);
  } catch (...) {
  }
  internalError(nullptr, "an exception nothing caught", false);
  ::_exit(70);
}

/// Output that could not be written (a full disk, /dev/full) is the
/// user's error, reported once: left to LLVM it was a fatal "IO failure on
/// output stream", which the handler above calls a bug in gradc.
static int finishOutput(int rc) {
  // A --print-after pass that never ran printed nothing, silently (dump
  // --stage=graph stops before dce; opt runs only --passes).
  for (auto [flag, list] : {std::pair{"--print-after", &printAfter}, {"--print-before", &printBefore}})
    for (auto &p : *list)
      if (rc == 0 && !Compiler::passesRun().count(p))
        llvm::WithColor::warning(llvm::errs(), "gradc")
            << flag << " " << p << ": the pass did not run, so nothing was printed for it"
            << (optCmd ? " (gradc opt runs only --passes)" : " (it is not between the input's stage and the output's)") << "\n";
  // Standard error that cannot be written (2>/dev/full) loses the notes,
  // not the result: a build that wrote its executable exited 1, LLVM's
  // stream reporting the failed write as it closed.
  llvm::errs().clear_error();
  llvm::outs().flush();
  if (!llvm::outs().has_error()) return rc;
  std::error_code ec = llvm::outs().error();
  llvm::outs().clear_error();
  llvm::WithColor::error(llvm::errs(), "gradc") << "cannot write to standard output: " << ec.message() << "\n";
  return rc ? rc : 1;
}

/// `gradc check m.grad` or `gradc m.grad`: LLVM said "Unknown subcommand"
/// and then "Unknown command line argument" for the file as well. One line
/// instead, naming the subcommands and the likely one.
static void refuseUnknownSubcommand(int argc, char **argv) {
  if (argc < 2 || llvm::StringRef(argv[1]).starts_with("-")) return;
  llvm::StringRef word = argv[1];
  for (cl::SubCommand *s : cl::getRegisteredSubcommands())
    if (s->getName() == word) return;
  // In the order of gradc --help; "check" is near gradcheck by its end.
  std::string names, nearest;
  unsigned best = 3; // at most two edits away: "buidl", "dupm"
  for (llvm::StringRef name : {"build", "dump", "opt", "dot", "stats", "gradcheck"}) {
    names += (names.empty() ? "" : ", ") + name.str();
    unsigned d = name.ends_with(word) && word.size() >= 4 ? 1 : word.edit_distance(name);
    if (d < best) best = d, nearest = name.str();
  }
  std::string hint = word.ends_with(".grad") || word.ends_with(".gir")
                         ? "; the subcommand comes first: gradc build " + word.str() + " -o EXE"
                     : !nearest.empty() ? "; did you mean '" + nearest + "'?"
                                        : "";
  fail("unknown subcommand '" + word + "' (the subcommands are " + names + ")" + hint);
}

/// An option of another subcommand (`gradc dump --passes=dce`): LLVM's
/// nearest-name guess offered "--fusion=dce". Says whose option it is.
static void refuseOtherSubcommandsOptions(int argc, char **argv) {
  if (argc < 2) return;
  cl::SubCommand *sub = nullptr;
  for (cl::SubCommand *s : cl::getRegisteredSubcommands())
    if (s->getName() == llvm::StringRef(argv[1])) sub = s;
  if (!sub) return;
  auto &mine = cl::getRegisteredOptions(*sub);
  for (int i = 2; i < argc; ++i) {
    llvm::StringRef arg = argv[i];
    if (arg == "--") break;
    if (!arg.consume_front("-")) continue;
    arg.consume_front("-");
    llvm::StringRef name = arg.split('=').first;
    // An option that takes a value, last and without one: LLVM said
    // "gradc: for the -o option: requires a value!" on its own stream.
    if (auto it = mine.find(name); it != mine.end() && i + 1 == argc && !arg.contains('=') &&
                                   it->second->getValueExpectedFlag() == cl::ValueRequired) {
      llvm::WithColor::error(llvm::errs(), "gradc") << (name.size() == 1 ? "-" : "--") << name
                                                   << " needs a value (gradc " << sub->getName()
                                                   << " --help lists the options)\n";
      std::exit(1);
    }
    if (name.empty() || mine.count(name)) continue;
    std::string owners;
    for (cl::SubCommand *s : cl::getRegisteredSubcommands())
      if (s != sub && !s->getName().empty() && cl::getRegisteredOptions(*s).count(name))
        owners += (owners.empty() ? "`gradc " : ", `gradc ") + s->getName().str() + "`";
    if (owners.empty()) continue;
    llvm::WithColor::error(llvm::errs(), "gradc") << (name.size() == 1 ? "-" : "--") << name << " is an option of " << owners << ", not of `gradc "
                                                 << sub->getName() << "` (gradc " << sub->getName()
                                                 << " --help lists its options)\n";
    std::exit(1);
  }
}

/// Says LLVM's command-line errors as gradc's own and exits 1: the first
/// line as the error, lowercased, without LLVM's '!' or "Try: 'PATH
/// --help'"; "Did you mean" and the other lines as notes.
[[noreturn]] static void reportCommandLineErrors(llvm::StringRef text) {
  llvm::SmallVector<llvm::StringRef, 4> lines;
  text.split(lines, '\n', -1, /*KeepEmpty=*/false);
  bool first = true;
  for (llvm::StringRef line : lines) {
    line = line.trim();
    line.consume_front("gradc: ");
    if (size_t tryAt = line.find(".  Try: "); tryAt != llvm::StringRef::npos) line = line.take_front(tryAt);
    if (size_t seeAt = line.find(": See: "); seeAt != llvm::StringRef::npos) line = line.take_front(seeAt);
    line.consume_back("!");
    if (line.empty()) continue;
    std::string said = line.str();
    said[0] = char(std::tolower((unsigned char)said[0]));
    bool note = !first || llvm::StringRef(said).starts_with("did you mean");
    llvm::errs() << "gradc: " << (note ? "note: " : "error: ") << said << (first && !note ? " (see gradc --help)" : "")
                 << "\n";
    first = false;
  }
  if (first) llvm::errs() << "gradc: error: the command line could not be read (see gradc --help)\n";
  std::exit(1);
}

/// The compiler recurses as deep as a model nests (a kernel's expression
/// tree to kMaxTreeDepth levels, parentheses, LLVM's own passes), and the
/// stack it had was the one `ulimit -s` gives: at 64 KiB, a loop of 5,000
/// `z = sin(z)` died of SIGSEGV (and once hung, LLVM's crash report
/// waiting on the allocator the overflow interrupted). So under a stack
/// limit below the usual 8 MiB the compiler runs on a thread whose stack
/// it sizes itself, and later threads (LLVM's, one per part of the module)
/// get 8 MiB. With the usual limit, or where no thread can start (ulimit
/// -u), it runs on this one as before: a thread's stack is address space
/// reserved at once, and under `ulimit -v` near a build's need that failed
/// builds that had fitted.
static int onOwnStack(int (*body)(int, char **), int argc, char **argv) {
  constexpr size_t kCompilerStack = size_t(64) << 20, kThreadStack = size_t(8) << 20;
  rlimit limit{};
  if (getrlimit(RLIMIT_STACK, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= kThreadStack)
    return body(argc, argv);
  pthread_attr_t attr;
  size_t size = 0;
  if (pthread_getattr_default_np(&attr) == 0) {
    if (pthread_attr_getstacksize(&attr, &size) == 0 && size < kThreadStack &&
        pthread_attr_setstacksize(&attr, kThreadStack) == 0)
      pthread_setattr_default_np(&attr);
    pthread_attr_destroy(&attr);
  }
  struct Call {
    int (*body)(int, char **);
    int argc;
    char **argv;
    int rc = 1;
  } call{body, argc, argv};
  pthread_t thread;
  if (pthread_attr_init(&attr) != 0) return body(argc, argv);
  bool started = pthread_attr_setstacksize(&attr, kCompilerStack) == 0 &&
                 pthread_create(&thread, &attr, [](void *p) -> void * {
                   auto *c = static_cast<Call *>(p);
                   c->rc = c->body(c->argc, c->argv);
                   return nullptr;
                 }, &call) == 0;
  pthread_attr_destroy(&attr);
  if (!started) return body(argc, argv);
  pthread_join(thread, nullptr);
  return call.rc;
}

static int compilerMain(int argc, char **argv);

int main(int argc, char **argv) {
  grt::reopenClosedStdFds();
  llvm::InitLLVM init(argc, argv);
  // Past a file-size limit (ulimit -f) a write fails (EFBIG) and is said,
  // with nothing left behind; SIGXFSZ killed gradc with LLVM's crash
  // report and stack dump. After InitLLVM, whose handlers would otherwise
  // take the signal.
  std::signal(SIGXFSZ, SIG_IGN);
  llvm::install_fatal_error_handler(internalError);
  llvm::install_bad_alloc_error_handler(badAlloc);
  std::set_terminate(uncaught);
  return onOwnStack(compilerMain, argc, argv);
}

static int compilerMain(int argc, char **argv) {
  cl::HideUnrelatedOptions(category);
  // --version printed LLVM's banner ("Debian LLVM version 19.1.7"), as if
  // gradc were LLVM. What a bug report needs: the runtime ABI the
  // executables it builds speak, the LLVM it emits with, and its target.
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "gradc, runtime ABI " << GRT_ABI_VERSION << ", built with LLVM " << LLVM_VERSION_STRING << ", emitting for "
       << llvm::sys::getDefaultTargetTriple() << " (" << llvm::sys::getHostCPUName() << ")\n";
  });
  addStageNames();
  std::string stages;
  for (const Step &s : pipeline())
    if (!s.stage.empty()) stages += (stages.empty() ? "" : ", ") + s.stage.str();
  refuseUnknownSubcommand(argc, argv);
  refuseOtherSubcommandsOptions(argc, argv);
  // LLVM's own messages ("gradc: for the -o option: requires a value!",
  // "Too many positional arguments specified!") are caught and said in
  // gradc's form: one error line, then notes.
  std::string parseErrors;
  llvm::raw_string_ostream parseErrorStream(parseErrors);
  bool parsed = cl::ParseCommandLineOptions(argc, argv,
                              "gradc: a compiler that trains neural networks from first principles.\n\n"
                              "  gradc build MODEL.grad -o EXE     compile a model into a training executable\n"
                              "  gradc dump MODEL --stage=S        print a stage (gradc opt --list-passes shows them):\n"
                              "                                    " + stages + "\n"
                              "  gradc opt FILE.gir --passes=a,b   run passes on text IR and print the result\n"
                              "  gradc dot MODEL --stage=S         the IR as a Graphviz graph (dot -Tsvg)\n"
                              "  gradc stats MODEL                 op counts, FLOPs and bytes at each stage\n"
                              "  gradc gradcheck MODEL             check every gradient against finite differences\n\n"
                              "MODEL is a .grad source or a .gir text IR file.\n",
                              &parseErrorStream);
  if (!parsed) reportCommandLineErrors(parseErrors);
  if (optCmd && listPasses) {
    listPipeline();
    return finishOutput(0);
  }
  // A flag given twice took its last value silently (-o a1 -o a2 built a2
  // alone, --dtype f64 --dtype f32 built f32), where -D and the
  // executables' flags refuse a repeat.
  for (cl::Option *opt : std::initializer_list<cl::Option *>{
           &dtype, &fusion, &sliceBlockBytes, &sliceBlockMinRows, &singleSliceBlockBytes, &breakGrad, &output, &jobs,
           &stepBatch, &stage, &onlyGraph, &tolerance, &seed, &samples, &maxElements})
    if (opt->getNumOccurrences() > 1)
      fail((opt->ArgStr.size() == 1 ? "-" : "--") + opt->ArgStr.str() + " is given " +
           std::to_string(opt->getNumOccurrences()) + " times; give it once");
  bool any = buildCmd || dumpCmd || optCmd || dotCmd || statsCmd || gradcheckCmd;
  if (!any) fail("give a subcommand: build, dump, opt, dot, stats or gradcheck (see gradc --help)");
  if (input.empty()) fail("no input file (see gradc --help)");
  CompileOptions o = compileOptions();
  if (buildCmd) {
    // An empty -o (an unset shell variable) is not "the default name".
    if (output.getNumOccurrences() && output.empty()) fail("-o needs a file name, not an empty string");
    if (jobs > 64) fail("-j " + llvm::Twine(unsigned(jobs)) + ": at most 64 threads");
    o.sema.forExecutable = true;
    return finishOutput(buildCommand(o, {output, emitObject, timePhases, jobs}));
  }
  if (dumpCmd) return finishOutput(dumpCommand(o, *stage.getValue()));
  if (optCmd) return finishOutput(optCommand(o, std::vector<std::string>(passes.begin(), passes.end())));
  if (dotCmd)
    return finishOutput(dotCommand(o, stage.getNumOccurrences() ? *stage.getValue() : *findStage("optim"), onlyGraph));
  if (statsCmd) return finishOutput(statsCommand(o));
  GradCheckOptions g;
  g.tolerance = tolerance;
  g.seed = seed;
  g.samplesPerTensor = samples;
  g.maxElements = maxElements;
  if (!(tolerance > 0) || !std::isfinite(tolerance)) fail("--tolerance must be a positive number (it is a relative error, as 1e-6)");
  // Central differences in f64 resolve a relative error of about 1e-10 at
  // best: below that every element was 'below the rounding noise', the
  // column stopped being a relative error, and 1e-30 'passed'.
  if (tolerance < 1e-10)
    fail(fmt::format("--tolerance {:g} is below what central differences in f64 can measure (about 1e-10 relative at "
                     "best); the default is 1e-6",
                     double(tolerance)));
  if (samples < 1) fail("--samples must be at least 1: with none, nothing is checked");
  return finishOutput(gradcheckCommand(o, g));
}
