//===- tests/modelgen/TorchTranslator.h - a .grad model as PyTorch code ---===//
//
// The independent forward oracle: any `.grad` model, rewritten statement by
// statement as Python that runs on PyTorch. Compile-time evaluation
// (constants, loops, ifs, function calls, scopes) becomes ordinary Python;
// every builtin and prelude function is implemented in
// tests/modelgen/gradc_torch.py with PyTorch's own operations (torch.var,
// F.gelu, F.layer_norm, F.cross_entropy, ...), not with our prelude, so a
// semantic mistake that every fusion level shares shows up as a difference.
//
// Names are mangled so no .grad identifier can clash with Python: user
// names (variables, constants, functions, parameters) become u_NAME, prelude
// functions p_NAME, builtins b_NAME; operators call g_* helpers that keep
// the language's rules (integer constants that divide exactly stay
// integers, a number adopts the dtype of the tensor beside it).
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/ADT/StringRef.h"

#include <string>

namespace gradc::modelgen {

/// Translates the model in `source` (named `name` in messages). False, with
/// the reason in `errors`, when it does not parse.
bool translateToTorch(llvm::StringRef source, llvm::StringRef name, std::string &python, std::string &errors);

} // namespace gradc::modelgen
