//===- ir/Entries.h - what each graph of a module may do at run time ------===//
//
// Each graph of a compiled module becomes an entry point the runtime calls
// by name (@train, @eval, ...), and the runtime trusts what the pipeline
// makes: that @eval leaves the weights alone, that @train updates every
// parameter, that each hyperparameter is one number it sets. A hand-edited
// .gir module can break these promises and still be well-formed IR; it
// built, and then trained silently wrong. The IR parser checks them.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "ir/Verifier.h"

namespace gradc {

/// Every way module `m` breaks the promises above.
std::vector<Problem> entryProblems(const Module &m);

} // namespace gradc
