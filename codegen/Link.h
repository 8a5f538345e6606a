//===- codegen/Link.h - object + runtime = executable ---------------------===//
#pragma once

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <string>

namespace gradc {

/// Where libgradrt.a is: $GRADC_RUNTIME, or beside the gradc binary (build
/// tree or install tree).
/// The path of the running gradc executable.
std::string gradcExecutable();

llvm::Expected<std::string> findRuntimeLibrary();

/// Links `objects` with the runtime into the executable `output`, using the
/// system C++ compiler driver (c++) as the linker.
llvm::Error linkExecutable(llvm::ArrayRef<std::string> objects, llvm::StringRef output);

} // namespace gradc
