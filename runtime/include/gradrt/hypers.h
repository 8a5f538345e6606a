//===- runtime/include/gradrt/hypers.h - the values a hyperparameter takes ===//
//
// One rule for the optimizer's hyperparameters, wherever a value is given:
// the train statement (frontend/Sema.cpp), and --lr, --hp and a resumed
// checkpoint (runtime/driver). Outside it training does not descend: a
// negative rate climbs, beta1 = 1 never forgets the first gradient (and
// divides by 1 - 1ᵗ = 0), beta2 > 1 grows v without bound.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cmath>
#include <cstring>

namespace grt {

/// Why `value` is not one `name` takes ("must be ..."), or nullptr when it
/// is. f32 says whether the hyperparameter is stored as f32. Names it does
/// not know are held only to be finite.
inline const char *hyperRangeError(const char *name, double value, bool f32) {
  if (!std::isfinite(value)) return "must be a finite number";
  if (f32 && std::fabs(value) > 3.4028234663852886e38) return "must fit in f32 (at most 3.4e38 in magnitude)";
  for (const char *unit : {"beta1", "beta2", "momentum"})
    if (!std::strcmp(name, unit)) return value >= 0 && value < 1 ? nullptr : "must be at least 0 and less than 1";
  for (const char *nonNegative : {"lr", "min_lr", "eps", "weight_decay", "clip", "warmup"})
    if (!std::strcmp(name, nonNegative)) return value >= 0 ? nullptr : "must not be negative";
  return nullptr;
}

} // namespace grt
