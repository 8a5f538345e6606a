//===- tests/modelgen/Oracles.h - differential checks of one model --------===//
//
// Runs one `.grad` model through every oracle we have, in this process:
//
//   compiles   the frontend accepts it (else the model is "rejected": for a
//              generated model that is a generator bug) and every later
//              stage succeeds: no pass error, no internal error;
//   round trip print(parse(print(m))) == print(m) after every pass;
//   resume     the kernels stage, printed and parsed back, compiles to code
//              that computes what the direct build computes, bit for bit;
//   fusion     in f64, fusion levels 0, 1 and 2 give the same loss,
//              gradients, metrics and outputs at a random point, and the
//              same losses and parameters after a few training steps
//              (1e-10 relative per element, with an absolute floor of 1e-12
//              of the tensor's largest magnitude: sums may associate
//              differently, and an element that cancels keeps the floor);
//   threads    two threads give bit-identical results to one (the README
//              promises it);
//   shared kernels  a build whose kernels share functions (those that
//              differ only in constants, codegen/EmitModule.cpp) agrees
//              with one that shares none to fusion's 1e-10, in f64 (most
//              often bit for bit; codegen/SharedConstants.cpp says when
//              not);
//   split step training by @grads then @apply (as each process of a
//              data-parallel run does) matches @train, to fusion's 1e-10;
//   gradients  symbolic gradients agree with fourth-order central
//              differences in f64 (tools/GradCheck.h: stop_gradient values
//              frozen, kinks reported and skipped);
//   f32        the f32 build at the same point is within 2e-3 of the f64
//              one, per tensor, relative to the tensor's largest magnitude;
//   torch      optionally, a case for tests/modelgen/torch_oracle.py: the
//              model translated to PyTorch (TorchTranslator.h) with the
//              point and our f64 results, compared there.
//
// A model whose f64 loss or gradients are not finite at the point is
// discarded, not counted: there is nothing to compare.
//
// Inputs are filled from `# modelgen: input NAME in LO..HI` comments in the
// source for integer inputs (default 0..1), standard normal for floats.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>

namespace gradc::modelgen {

struct OracleOptions {
  uint64_t seed = 1;   // the random point
  int trainSteps = 3;
  bool threads = true;
  bool gradients = true;
  bool f32 = true;
  bool roundTrip = true;
  /// Write a PyTorch case (NAME.py, NAME.json) into this directory.
  std::string torchDir;
  /// Check that a build from the kernels stage's text matches (one more
  /// compile).
  bool resume = true;
};

struct Verdict {
  enum Kind {
    Pass,
    Discard,       // not finite at the point: nothing to compare
    Reject,        // the frontend refused the model
    CompileError,  // a later stage failed: a compiler bug
    Mismatch,      // an oracle disagreed
    // Seen only from outside the process that ran the checks (Driver.cpp):
    InternalError, // the compiler stopped with "internal error" (exit 70)
    Crash,         // a signal ended the process
    Hang,          // it ran past the time limit
  };
  Kind kind = Pass;
  std::string oracle; // which check: "fusion", "threads", "gradients", ...
  std::string detail; // what it saw, for the log and the reducer
};

llvm::StringRef kindName(Verdict::Kind k);

/// Checks one model. A crash or an internal error ends the process: run it
/// in a child (Driver.cpp) to tell those apart.
Verdict checkModel(llvm::StringRef source, llvm::StringRef name, const OracleOptions &opts);

} // namespace gradc::modelgen
