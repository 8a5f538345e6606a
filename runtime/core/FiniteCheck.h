//===- runtime/core/FiniteCheck.h - the first non-finite value (--check-finite) ===// ===//
//
// A debug mode for a loss that turns into NaN or infinity: after each
// kernel, every float value the kernel stored is scanned (the descriptor
// lists them: GrtStored), and the first non-finite element found is kept
// with the IR value that holds it and its source line. Training then stops
// after the step and names it, instead of only naming the step.
//
// Only stored values are seen: a value fused into the kernel that uses it
// lives in registers. `gradc build --fusion=0` stores every value.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "core/Runtime.h"

#include <optional>
#include <string>

namespace grt {

class FiniteCheck {
public:
  explicit FiniteCheck(const GrtModel &m) : model(m) {}
  /// Entry `entry` is about to run on these tensors and this arena.
  void begin(int entry, void *const *slots, const char *arena);
  void kernelEnd(int kernel);

  struct Finding {
    std::string entry, what;
    int kernel;
    int64_t element, count;
    double value;
  };
  /// The first non-finite value seen since the check began, if any.
  const std::optional<Finding> &first() const { return found; }
  /// "%h2 = log : f32[32,1] at m.grad:12:7 (kernel 3 of 'train'): element 5 of 32 is -inf"
  static std::string describe(const Finding &f);

private:
  const GrtModel &model;
  int current = -1;
  int64_t next = 0; // the entry's first GrtStored not yet checked
  void *const *slots = nullptr;
  const char *arena = nullptr;
  std::optional<Finding> found;
};

} // namespace grt
