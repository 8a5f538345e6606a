//===- ir/Declarations.h - what a model may declare, whichever file says it =//
//
// A model's inputs, parameters and outputs become named runtime tensors,
// so their names and initialisers obey one set of rules whether a .grad
// source or a hand-written .gir file declares them. The frontend applies
// them at each declaration (frontend/SemaModel.cpp, SemaBuiltins.cpp); the
// verifier applies the same functions to every module, so text IR breaks
// them with an error at its line rather than an internal error, a runtime
// failure or a model that silently trains on garbage.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Optimizers.h"
#include "ir/Verifier.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringSet.h"

#include <string>

namespace gradc {

/// Why `name` cannot name a tensor or an output, or "" when it can. Names
/// are what .grad gives: identifiers (letters, digits, '_'), joined by '.'
/// for scopes ("blocks.0.attn.wq"). Anything else reached the runtime's
/// one-line messages and CSV column names ("x[0]") as something no file
/// could match, or as several lines.
std::string nameProblem(llvm::StringRef name);

/// `name` in double quotes, with control bytes and quotes escaped, for a
/// message that quotes a name it refuses.
std::string quotedName(llvm::StringRef name);

/// Why initialiser arguments `args` of `kind` ("normal", "uniform",
/// "constant") are out of range ("std must be positive"), or "". For a
/// param of `dtype` f32, they must also fit in f32.
std::string initArgsProblem(llvm::StringRef kind, llvm::ArrayRef<double> args, DType dtype = DType::F64);
/// The initialisers written as a bare word (zeros, ones, xavier_uniform, ...):
/// the names .grad source sees, and the specs a .gir may give as they are.
llvm::ArrayRef<llvm::StringRef> initialiserWords();

/// Why `spec`, a parameter's initialiser as the runtime reads it ("zeros",
/// "normal(0.02)", "uniform(-0.1, 0.1)"), is not one, or "".
std::string initProblem(llvm::StringRef spec, DType dtype = DType::F64);

/// What the executable of a model trained by `opt` (null: none) already
/// calls `name`, as "sgd's hyperparameter 'lr'", or "" when nothing: the
/// step counters, the optimizer's numeric hyperparameters, and the values
/// `runtimeValues` (the names of the graphs' hyper leaves, such as
/// dropout's seed) that the runtime sets. An input or a parameter of that
/// name would share the runtime's slot.
std::string reservedNameClash(llvm::StringRef name, const OptimizerInfo *opt, const llvm::StringSet<> &runtimeValues);

/// What a parameter or input `name` would share with the gradient of a
/// parameter (`grad.w` beside `w`), or "": `isParam` says which names are
/// parameters.
std::string gradientNameClash(llvm::StringRef name, llvm::function_ref<bool(llvm::StringRef)> isParam);

/// The same as reservedNameClash for a parameter, which may also not take
/// the name of the optimizer's state or the gradient of another parameter
/// (`w.adam_m` or `grad.w` beside `w`): `isParam` says which names are
/// parameters.
std::string paramNameClash(llvm::StringRef name, const OptimizerInfo *opt, const llvm::StringSet<> &runtimeValues,
                           llvm::function_ref<bool(llvm::StringRef)> isParam);

/// Every way the module's declarations break the rules above, and the
/// rules a data table follows (each input the data graph's output of the
/// input's type with `rows` rows, generated from nothing the runtime
/// feeds): the verifier's share (ir/Verifier.cpp) that is about the model
/// rather than the IR.
std::vector<Problem> declarationProblems(const Module &m);

} // namespace gradc
