//===- tests/fuzz/FuzzGrad.cpp - libFuzzer target: .grad source to graph IR ===//
//
// Runs what `gradc dump --stage=graph` runs on one input: the lexer, the
// parser (with the prelude), the syntax-tree dump, and semantic analysis.
// Every module that comes out must pass the verifier, and print as text IR
// that parses back to the same text (so a dump can be fed back to gradc).
// Diagnostics are discarded: the sanitizers and these checks are the oracles.
//
// Leading comment lines `#-D NAME=VALUE` become -D overrides and `#--f64`
// selects f64, so the fuzzer can mutate build flags as well as the source
// (they are ordinary comments to the lexer).
//
// The work budgets are a fiftieth of gradc's (20,000 steps, 4,000 nodes,
// 335,544 index elements checked at build time:
// still more than the GPT example needs). Mutating a loop's count makes
// inputs that run to the budget; at the full budget each takes 2 s under
// ASan, and a corpus of them fuzzes at a tenth of the speed. The accounting
// is the same at any size; tests/lit/diagnostics/*budget* test the real ones.
//
//===----------------------------------------------------------------------===//
#include "frontend/Frontend.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace gradc;

static SemaOptions optionsFrom(llvm::StringRef text) {
  SemaOptions opts;
  opts.maxSteps /= 50;
  opts.maxNodes /= 50;
  // onehot(arange(65536)) in a function called through ten levels of
  // doubling computed 16 million index elements, 15 s under ASan.
  opts.maxIndexElements /= 50;
  // As gradc without --dtype: a file written in f64 that fails in f32 is
  // analysed again in f64 (two runs over one tree).
  opts.floatTypeFromSource = true;
  while (text.starts_with("#-")) {
    auto [line, rest] = text.split('\n');
    if (line.consume_front("#-D ")) {
      auto [name, value] = line.split('=');
      if (!name.empty() && line.contains('=')) opts.defines.push_back({name.str(), value.str()});
    } else if (line == "#--f64") {
      opts.floatType = DType::F64;
      opts.floatTypeFromSource = false;
    }
    text = rest;
  }
  return opts;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  // gradc refuses files with NUL bytes before lexing (Frontend::loadFile).
  if (text.contains('\0')) return 0;
  Frontend fe(llvm::nulls());
  fe.loadString(text, "fuzz.grad");
  // As gradc: a source that does not parse goes no further.
  const ast::Program *p = fe.parse();
  if (!p) return 0;
  ast::dump(*p, llvm::nulls());
  std::unique_ptr<Module> m = fe.analyze(optionsFrom(text));
  if (m && !verify(*m).empty()) {
    for (auto &e : verify(*m)) llvm::errs() << e << "\n";
    std::abort();
  }
  if (m) {
    std::string printed = toString(*m), errors;
    llvm::raw_string_ostream es(errors);
    auto again = parseModule(printed, "printed.gir", es);
    if (!again || toString(*again) != printed) {
      llvm::errs() << "the module does not read back the same:\n" << errors << printed << "\n";
      std::abort();
    }
  }
  return 0;
}
