//===- tests/fuzz/FuzzGir.cpp - libFuzzer target: the .gir text IR parser --===//
//
// Parses one input as text IR (parseModule verifies what it builds). A module
// that parses must print and parse back to the same text, as the README
// promises for every stage: print(parse(print(m))) == print(m).
//
//===----------------------------------------------------------------------===//
#include "ir/Parser.h"
#include "ir/Printer.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace gradc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  std::unique_ptr<Module> m = parseModule(text, "fuzz.gir", llvm::nulls());
  if (!m) return 0;
  std::string printed = toString(*m);
  std::string errors;
  llvm::raw_string_ostream es(errors);
  std::unique_ptr<Module> again = parseModule(printed, "printed.gir", es);
  if (!again || toString(*again) != printed) {
    llvm::errs() << "the printed module does not read back the same:\n" << errors << printed << "\n";
    if (again) llvm::errs() << "--- printed again:\n" << toString(*again) << "\n";
    std::abort();
  }
  return 0;
}
