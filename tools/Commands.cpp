//===- tools/Commands.cpp - what each gradc subcommand does ---------------===//
#include "Commands.h"

#include "BuildProgress.h"
#include "ir/SourceDiag.h"

#include "codegen/Link.h"
#include "codegen/Target.h"
#include "ir/Dot.h"
#include "ir/Printer.h"
#include "ir/Stats.h"
#include "runtime/core/Runtime.h"

#include "llvm/BinaryFormat/Magic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <memory>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <thread>
#include <unistd.h>

namespace gradc {

/// Whether the ELF shared object at `path` is a position-independent
/// executable (DT_FLAGS_1 has DF_1_PIE, as the linker marks ours), not a
/// shared library: both are ELF shared objects. (Naming an interpreter
/// is not enough: libc.so.6 names one, being runnable.) Read by hand for
/// 64-bit little-endian ELF; another ELF counts as an executable.
static bool isPieExecutable(const std::string &path) {
  std::unique_ptr<FILE, int (*)(FILE *)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) return false;
  auto word = [](const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = v << 8 | p[i];
    return v;
  };
  auto readAt = [&](uint64_t at, unsigned char *out, size_t n) {
    return at <= uint64_t(LONG_MAX) && std::fseek(f.get(), long(at), SEEK_SET) == 0 && std::fread(out, 1, n, f.get()) == n;
  };
  unsigned char h[64], ph[56], dyn[16];
  if (!readAt(0, h, 64) || h[4] != 2 || h[5] != 1) return true; // not ELF64 LE: not judged
  uint64_t phoff = word(h + 32, 8), entsize = word(h + 54, 2), count = word(h + 56, 2);
  for (uint64_t i = 0; entsize >= 56 && i < count && readAt(phoff + i * entsize, ph, 56); ++i) {
    if (word(ph, 4) != 2) continue; // PT_DYNAMIC: its entries are (tag, value) pairs
    uint64_t off = word(ph + 8, 8), size = word(ph + 32, 8);
    for (uint64_t d = 0; d + 16 <= size && d < (uint64_t(1) << 20) && readAt(off + d, dyn, 16); d += 16) {
      uint64_t tag = word(dyn, 8);
      if (tag == 0) break;                                                       // DT_NULL
      if (tag == 0x6ffffffb && (word(dyn + 8, 8) & 0x08000000)) return true; // DT_FLAGS_1, DF_1_PIE
    }
    break;
  }
  return false;
}

/// A stage a text IR module is past cannot be shown from it: dump printed
/// the module as it is, under the earlier stage's name, with exit 0, and
/// dot drew it. Says so and returns true.
static bool pastStage(Compiler &c, const CompileOptions &o, const Step &stage) {
  const Step *at = c.isTextIR() ? findStep(c.module->after) : nullptr;
  if (!at || !stage.makesModule() || &stage >= at) return false;
  llvm::WithColor::error(llvm::errs(), "gradc") << o.input << " is after \"" << at->name << "\"; the earlier stage '"
                                                << stage.stage << "' cannot be shown from it\n";
  return true;
}

int dumpCommand(const CompileOptions &o, const Step &stage) {
  Compiler c(o);
  if (stage.kind == Step::Parse) {
    if (!c.frontend.loadFile(o.input)) return 1;
    // Text IR is known by its `module` line, whatever the file's name
    // (standard input, a .txt): it parsed as .grad, one error per line.
    if (c.isTextIR()) {
      llvm::WithColor::error(llvm::errs(), "gradc")
          << o.input << ": --stage=ast is the syntax tree of a .grad source; text IR has none\n";
      return 1;
    }
    const ast::Program *p = c.frontend.parse();
    if (!p) return 1;
    ast::dump(*p, llvm::outs());
    return 0;
  }
  if (!c.load() || pastStage(c, o, stage)) return 1;
  if (!c.runPipeline(stage.makesModule() ? &stage : nullptr)) return 1;
  if (stage.makesModule()) {
    print(*c.module, llvm::outs());
    return 0;
  }
  if (!c.schedule()) return 1;
  if (stage.kind == Step::Schedule) {
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
  if (stage.kind == Step::EmitLLVM) {
    c.llvmModule->print(llvm::outs(), nullptr);
    return 0;
  }
  if (!c.optimize()) return 1;
  if (stage.kind == Step::OptimizeLLVM) {
    c.llvmModule->print(llvm::outs(), nullptr);
    return 0;
  }
  return c.emit(llvm::outs(), true) ? 0 : 1;
}

int buildCommand(const CompileOptions &o, const BuildOptions &b) {
  auto t0 = std::chrono::steady_clock::now();
  auto last = t0;
  std::vector<std::pair<std::string, double>> phases;
  auto phase = [&](std::string name) {
    auto now = std::chrono::steady_clock::now();
    phases.push_back({std::move(name), std::chrono::duration<double>(now - last).count()});
    last = now;
    return true;
  };
  std::string out = b.output;
  // A model read from standard input has no name to name the output after.
  if (out.empty() && o.input == "-") {
    llvm::WithColor::error(llvm::errs(), "gradc") << "the model comes from standard input, so name the "
                                                  << (b.objectOnly ? "object file" : "executable") << " with -o\n";
    return 1;
  }
  // The default output: the model's name without its extension, beside
  // where gradc runs. `.grad` has no name to give (it said "cannot write :").
  bool defaulted = out.empty();
  if (defaulted) {
    std::string stem = llvm::sys::path::stem(o.input).str();
    if (stem.empty() || stem == "." || stem == "..") {
      llvm::WithColor::error(llvm::errs(), "gradc") << "the model file " << o.input << " gives no name for the "
                                                    << (b.objectOnly ? "object file" : "executable") << "; name it with -o\n";
      return 1;
    }
    out = stem + (b.objectOnly ? ".o" : "");
  }
  // The output must not be the model itself (a source named without an
  // extension, or -o naming it), a directory, or standard output; a name
  // that starts with '-' is passed on as ./NAME, not as an option.
  auto refuse = [&](const std::string &why) {
    llvm::WithColor::error(llvm::errs(), "gradc") << why << "\n";
    return 1;
  };
  if (out == "-") return refuse("-o -: an executable cannot go to standard output; name a file");
  if (llvm::sys::fs::is_directory(out))
    return refuse("cannot write " + out + ": it is a directory; " +
                  (defaulted ? "it is the default name (the model's, without .grad), so name the executable with -o"
                             : "name a file in it"));
  if (llvm::sys::fs::equivalent(out, o.input))
    return refuse("the output " + out + " is the model file itself; name the executable with -o");
  // Nor the compiler or the runtime it links: `gradc build m.grad -o
  // gradc`, run beside the compiler, replaced it with the model.
  std::string self = gradcExecutable();
  if (!self.empty() && llvm::sys::fs::equivalent(out, self))
    return refuse("the output " + out + " is gradc itself; name the executable with -o");
  if (auto runtime = findRuntimeLibrary(); runtime && llvm::sys::fs::equivalent(out, *runtime))
    return refuse("the output " + out + " is the runtime library the executable links; name the executable with -o");
  else if (!runtime)
    llvm::consumeError(runtime.takeError()); // reported when linking
  // A device or pipe (/dev/full made the linker repeat its write error
  // without end), or a missing directory, is refused before compiling.
  if (llvm::sys::fs::exists(out) && !llvm::sys::fs::is_regular_file(out))
    return refuse("cannot write " + out + ": it is not a regular file (a device, pipe or socket); name a file");
  // An existing file is replaced only by its like: a program (or, with -c,
  // an object file) by a build. The other runtime archives
  // (libgradrt-sanitized.a) and a data file named by mistake were replaced
  // with the executable, silently.
  if (llvm::sys::fs::is_regular_file(out)) {
    llvm::file_magic magic;
    if (std::error_code ec = llvm::identify_magic(out, magic))
      return refuse("the output " + out + " exists and cannot be read to tell what it is (" + ec.message() +
                    "); a build would replace it: name the executable with -o, or remove the file first");
    {
      // A shared library is no program: a copy of libz.so.1 named by -o
      // was replaced silently, where a static library was refused.
      bool library = magic == llvm::file_magic::elf_shared_object && !isPieExecutable(out);
      bool program = magic == llvm::file_magic::elf_executable ||
                     (magic == llvm::file_magic::elf_shared_object && !library);
      bool object = magic == llvm::file_magic::elf_relocatable;
      bool empty = magic == llvm::file_magic::unknown && llvm::sys::fs::is_regular_file(out) && [&] {
        uint64_t size = 1;
        return !llvm::sys::fs::file_size(out, size) && size == 0;
      }();
      if (!empty && !(b.objectOnly ? object : program))
        return refuse("the output " + out + " exists and is " +
                      (magic == llvm::file_magic::archive ? std::string("a static library")
                       : library                          ? std::string("a shared library")
                       : program                          ? std::string("a program")
                       : object                           ? std::string("an object file")
                                                          : std::string("not a program")) +
                      "; a build would replace it: name the " + (b.objectOnly ? "object file" : "executable") +
                      " with -o, or remove the file first");
    }
  }
  llvm::StringRef dir = llvm::sys::path::parent_path(out);
  if (!dir.empty() && !llvm::sys::fs::is_directory(dir))
    return refuse("cannot write " + out + ": " +
                  (llvm::sys::fs::exists(dir) ? dir.str() + " is not a directory" : "the directory " + dir.str() + " does not exist"));
  // Nor can an executable be linked in a directory this user may not write
  // (or a read-only file system): the linker said so in three lines,
  // naming its temporary NAME.tmp-PID.
  if (!b.objectOnly && ::access(dir.empty() ? "." : dir.str().c_str(), W_OK) != 0)
    return refuse("cannot write " + out + ": " + (dir.empty() ? std::string("the current directory") : "the directory " + dir.str()) +
                  " is not writable (" + std::strerror(errno) + ")");
  if (llvm::StringRef(out).starts_with("-")) out = "./" + out;
  Compiler c(o);
  // Past 10 s, a line every 10 s says what the build is doing.
  BuildProgress progress;
  auto doing = [&](std::string what) {
    progress.doing(std::move(what));
    return true;
  };
  c.onPass = [&](llvm::StringRef pass) { progress.doing("running the pass " + pass.str()); };
  if (!c.load() || !c.checkEntryNames() || !phase("frontend") || !c.runPipeline() || !phase("passes") ||
      !doing("making the kernels' loops") || !c.schedule() || !phase("loops") || !doing("making LLVM IR") ||
      !c.lower() || !phase("LLVM IR") || !c.createTarget())
    return 1;
  size_t kernelCount = 0;
  for (auto &e : c.loops.entries) kernelCount += e.kernels.size();
  if (b.objectOnly) {
    std::error_code ec;
    llvm::ToolOutputFile obj(out, ec, llvm::sys::fs::OF_None);
    if (ec) {
      llvm::WithColor::error(llvm::errs(), "gradc") << "cannot write " << out << ": " << ec.message() << "\n";
      return 1;
    }
    if (!doing(fmt::format("optimising {} kernels", kernelCount)) || !c.optimize() || !phase("LLVM optimisation") ||
        !doing("making machine code") || !c.emit(obj.os(), false))
      return 1;
    // A write that failed (a full disk, a file-size limit) is said, and the
    // truncated file is not kept (it was, and the stream's destructor then
    // called it a bug in gradc).
    obj.os().flush();
    if (obj.os().has_error()) {
      llvm::WithColor::error(llvm::errs(), "gradc") << "cannot write " << out << ": " << obj.os().error().message() << "\n";
      obj.os().clear_error();
      return 1;
    }
    obj.keep();
    phase("machine code");
  } else {
    // Optimisation and machine code on every core (one part of the module
    // each), linked together.
    unsigned parts = std::clamp(b.jobs ? b.jobs : std::thread::hardware_concurrency(), 1u, b.jobs ? 64u : 8u);
    doing(fmt::format("optimising and making machine code for {} kernels on {} thread{}", kernelCount, parts,
                      parts == 1 ? "" : "s"));
    auto objects = emitObjects(*c.llvmModule, *c.target, parts);
    if (!objects) {
      c.report(objects.takeError());
      return 1;
    }
    std::vector<std::string> paths;
    // Removed on Ctrl-C or SIGTERM too: an interrupted build left them in
    // the temporary directory.
    auto removeAll = [&] {
      for (auto &p : paths) {
        llvm::sys::fs::remove(p);
        llvm::sys::DontRemoveFileOnSignal(p);
      }
    };
    // The objects go to the temporary directory, not next to the output
    // (where they would land in /dev, or name a missing directory).
    for (size_t i = 0; i < objects->size(); ++i) {
      int fd = -1;
      llvm::SmallString<128> tmp;
      // Named after the output, cut short: a 100,000-byte -o name made the
      // temporary's name too long.
      std::string stem = llvm::sys::path::stem(out).take_front(64).str();
      std::error_code ec = llvm::sys::fs::createTemporaryFile("gradc-" + stem, "o", fd, tmp);
      if (ec) {
        // Which directory: a TMPDIR that does not exist said only "No such
        // file or directory".
        llvm::SmallString<128> dir;
        llvm::sys::path::system_temp_directory(/*ErasedOnReboot=*/true, dir);
        llvm::WithColor::error(llvm::errs(), "gradc")
            << "cannot create a temporary object file in " << shownValue(dir) << " (the temporary directory: $TMPDIR, else /tmp): "
            << ec.message() << "\n";
        removeAll();
        return 1;
      }
      paths.push_back(tmp.str().str());
      llvm::sys::RemoveFileOnSignal(paths.back());
      llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
      os.write((*objects)[i].data(), (*objects)[i].size());
      if (os.close(), os.has_error()) {
        llvm::WithColor::error(llvm::errs(), "gradc") << "cannot write " << paths.back() << ": " << os.error().message() << "\n";
        os.clear_error();
        removeAll();
        return 1;
      }
    }
    phase(fmt::format("LLVM optimisation + machine code ({} thread{})", objects->size(),
                      objects->size() == 1 ? "" : "s"));
    doing("linking");
    llvm::Error err = linkExecutable(paths, out);
    removeAll();
    if (err) {
      c.report(std::move(err));
      return 1;
    }
    phase("link");
  }
  progress.stop(); // a tick after "built" read as work still going on
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t arena = 0;
  for (auto &e : c.loops.entries) arena = std::max(arena, e.arenaBytes);
  llvm::errs() << fmt::format("gradc: built {} from {}: {} entry points, {} kernels, scratch arena {} bytes, in {:.2f} s\n",
                              out, o.input, c.loops.entries.size(), kernelCount, arena, secs);
  // A batch or width typed one digit too long builds fine and fails only
  // when the executable allocates: say so now.
  double memory = grt::machineMemory();
  if (memory > 0 && double(arena) > memory)
    llvm::WithColor::note(llvm::errs(), "gradc")
        << fmt::format("the scratch arena alone ({:.1f} GiB) is more than this machine's memory ({:.1f} GiB); the "
                       "executable will not run here (a smaller -D batch or width needs less)\n",
                       double(arena) / (1 << 30), memory / (1 << 30));
  if (b.timePhases)
    for (auto &[name, t] : phases) llvm::errs() << fmt::format("  {:<20} {:7.3f} s\n", name, t);
  return 0;
}

int optCommand(const CompileOptions &o, const std::vector<std::string> &passes) {
  Compiler c(o);
  if (!c.load() || !c.runPasses(passes)) return 1;
  print(*c.module, llvm::outs());
  return 0;
}

int dotCommand(const CompileOptions &o, const Step &stage, llvm::StringRef graph) {
  if (!stage.makesModule()) {
    std::string stages;
    for (const Step &s : pipeline())
      if (s.makesModule() && !s.stage.empty()) stages += (stages.empty() ? "" : ", ") + s.stage.str();
    llvm::WithColor::error(llvm::errs(), "gradc") << "dot draws IR stages: " << stages << "\n";
    return 1;
  }
  Compiler c(o);
  if (!c.load() || pastStage(c, o, stage) || !c.runPipeline(&stage)) return 1;
  // --graph=@train as the dumps write it (it said "no graph @@train").
  graph.consume_front("@");
  if (!graph.empty() && !c.module->graph(graph)) {
    std::string known;
    for (auto &g : c.module->graphs) known += (known.empty() ? "@" : ", @") + g->name;
    llvm::WithColor::error(llvm::errs(), "gradc") << "no graph @" << graph << " at this stage; it has " << known << "\n";
    return 1;
  }
  printDot(*c.module, llvm::outs(), graph);
  return 0;
}

int statsCommand(const CompileOptions &o) {
  auto &os = llvm::outs();
  Compiler c(o);
  if (!c.load()) return 1;
  os << "model " << c.module->name << " (" << o.input << ")\n\n";
  os << fmt::format("{:<8} {:<9} {:>6} {:>8} {:>10} {:>12} {:>12} {:>11} {:>12} {:>12} {:>9}\n", "stage", "graph", "nodes",
                    "kernels", "params", "FLOPs/call", "param bytes", "grad bytes", "state bytes", "activations", "arena");
  std::vector<std::pair<std::string, std::map<std::string, int>>> counts;
  auto row = [&](llvm::StringRef stage, const Module &m) {
    for (auto &g : m.graphs) {
      GraphStats s = computeStats(*g);
      os << fmt::format("{:<8} {:<9} {:>6} {:>8} {:>10} {:>12} {:>12} {:>11} {:>12} {:>12} {:>9}\n", stage.str(),
                        "@" + g->name, s.nodes, s.kernels ? std::to_string(s.kernels) : "-", s.params,
                        // The count saturates (600 products of [262144, 262144]).
                        s.flops == INT64_MAX ? std::string(">9.2e18") : std::to_string(s.flops),
                        s.paramBytes, s.gradBytes, s.stateBytes, s.activationBytes,
                        s.kernels ? std::to_string(s.arenaBytes) : "-");
      counts.push_back({stage.str() + " @" + g->name, s.opCounts});
    }
  };
  // One row per stage of the IR, from the module as loaded to kernels (a
  // .gir after dce has no graph, grad or entries stage to show).
  const Step *loadedAt = findStep(c.module->after);
  for (const Step &s : pipeline()) {
    if (!s.makesModule() || s.stage.empty()) continue;
    if (loadedAt && &s < loadedAt) continue;
    if (!c.runPipeline(&s)) return 1;
    row(s.stage, *c.module);
  }

  // Kernels at each fusion level up to the chosen one, for the same graphs;
  // text IR past fusion has only the kernels it holds.
  bool fused = loadedAt && loadedAt >= findStep("fuse");
  std::vector<std::unique_ptr<Compiler>> levels;
  for (unsigned level = 0; level < o.passes.fusionLevel && !fused; ++level) {
    CompileOptions lo = o;
    lo.passes.fusionLevel = level;
    lo.passes.quiet = true;
    // The same source again: its warnings were said by the first reading
    // (they were printed once per level).
    levels.push_back(std::make_unique<Compiler>(lo, llvm::nulls()));
    if (!levels.back()->load(c.sourceText()) || !levels.back()->runPipeline()) {
      llvm::WithColor::error(llvm::errs(), "gradc") << o.input << ": the model does not compile at fusion level " << level
                                                    << " (it does at " << o.passes.fusionLevel << ")\n";
      return 1;
    }
  }
  if (fused) {
    os << "\nkernels per entry as fused in the module (after \"" << loadedAt->name
       << "\"; other fusion levels need the IR from before 'fuse'):";
  } else {
    os << "\nkernels per entry at fusion levels 0 (one per op)";
    if (o.passes.fusionLevel >= 1) os << ", 1 (elementwise chains and reductions)";
    if (o.passes.fusionLevel >= 2) os << ", 2 (and matmul epilogues)";
    if (o.passes.fusionLevel >= 3) os << ", 3 (and batched products run slice by slice)";
    os << ":";
  }
  auto running = [](const Graph &g) { return computeStats(g).kernels; };
  for (auto &g : c.module->graphs) {
    os << "  @" << g->name << " ";
    for (auto &lc : levels)
      if (const Graph *gl = lc->module->graph(g->name)) os << running(*gl) << " -> ";
    os << running(*g);
  }
  os << "\n\nop counts:\n";
  for (auto &[where, ops] : counts) {
    os << "  " << where << ":";
    for (auto &[op, n] : ops) os << " " << op << " " << n;
    os << "\n";
  }
  return 0;
}

int gradcheckCommand(const CompileOptions &opts, const GradCheckOptions &g) {
  CompileOptions o = opts;
  // A .grad source is rebuilt with `f32` standing for f64; a .gir file is
  // checked as written, so it must be f64 already (f32 differences are all
  // rounding noise at these step sizes: every element looked like a kink).
  // A mistake in the model is reported in the types the user wrote (f32),
  // not in the f64 of the check: read it as written first. The f64 build
  // reads the same text again (standard input can be read only once), and
  // text IR is known by its `module` line, whatever the file's name.
  Compiler asWritten(opts);
  if (!asWritten.load()) return 1;
  bool gir = asWritten.isTextIR();
  // The entry gradcheck runs (@grads) is split from @model with the others:
  // said before the f64 build, whose --grads-entry (gradcheck's own) would
  // be refused on such IR as if the user had given it.
  if (gir && !asWritten.module->graph("model")) {
    llvm::WithColor::error(llvm::errs(), "gradc")
        << o.input << ": gradcheck needs a module from before split-entries, with its @model graph (dump it with "
        << "--stage=graph or --stage=grad --dtype f64)\n";
    return 1;
  }
  std::string text = asWritten.sourceText().str();
  if (!gir) o.sema.floatType = DType::F64;
  o.passes.gradsEntry = true;
  // Its warnings were said by the first reading; the f64 one is quiet, and
  // so are its passes' notes, which named the f64 types ("output 'w'
  // (f64[2,1])" of a model that says f32); `build` says them as written.
  if (!gir) o.passes.quiet = true;
  Compiler c(o, gir ? llvm::errs() : llvm::nulls());
  if (!c.load(text)) {
    if (!gir) llvm::WithColor::error(llvm::errs(), "gradc") << o.input << ": the model does not build in f64, which gradcheck needs\n";
    return 1;
  }
  if (gir) {
    // The entry gradcheck runs (@grads) is split from @model with the others.
    Graph *model = c.module->graph("model");
    if (!model) {
      llvm::WithColor::error(llvm::errs(), "gradc")
          << o.input << ": gradcheck needs a module from before split-entries, with its @model graph (dump it with "
          << "--stage=graph or --stage=grad --dtype f64)\n";
      return 1;
    }
    for (Node *p : model->leaves(OpKind::Param))
      if (p->type.dtype != DType::F64) {
        llvm::WithColor::error(llvm::errs(), "gradc")
            << o.input << ": gradcheck works in f64, but param '" << p->name << "' is " << str(p->type)
            << "; check the .grad source (rebuilt in f64), or dump the IR with --dtype f64\n";
        return 1;
      }
  }
  if (!c.runPipeline() || !c.lower() || !c.optimize()) return 1;
  const GrtModel *model = c.jit();
  if (!model) return 1;
  llvm::outs() << fmt::format("gradient check of {} in f64 at a random point (seed {}), fourth-order central differences, h = {:g}\n",
                              model->name, g.seed, g.step);
  // Progress on stderr for a check that takes a while: elements done, and
  // the time left at the rate so far.
  GradCheckOptions go = g;
  auto start = std::chrono::steady_clock::now();
  double lastShown = 0;
  go.progress = [&](int64_t done, int64_t total) {
    double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (t - lastShown < 2 && done < total) return;
    if (t < 2 && lastShown == 0) return;
    lastShown = t;
    llvm::errs() << fmt::format("gradcheck: {}/{} elements, {:.0f} s, about {:.0f} s left\n", done, total, t,
                                t / double(done) * double(total - done));
  };
  GradCheckReport r = gradCheck(*model, go);
  if (r.frozen) llvm::outs() << "stop_gradient values are held fixed at the base point while differencing\n";
  if (g.maxElements > 0 && r.perTensor < g.samplesPerTensor)
    // At least 2 per tensor: past max-elements / 2 tensors the cap is
    // exceeded, and said so (it claimed to cap a total it passed).
    llvm::outs() << fmt::format("checking {} elements per parameter tensor ({} tensors; --max-elements {} {})\n",
                                r.perTensor, r.tensors.size(), g.maxElements,
                                r.perTensor * int64_t(r.tensors.size()) > int64_t(g.maxElements)
                                    ? "caps the total, but each tensor gets at least 2"
                                    : "caps the total");
  r.print(llvm::outs());
  return r.passed() ? 0 : 1;
}

} // namespace gradc
