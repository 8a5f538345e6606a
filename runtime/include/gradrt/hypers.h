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

/// The least magnitude f32 rounds to infinity: FLT_MAX plus half its ulp,
/// 2^128 - 2^103 (exactly that far rounds to even, the infinity). Anything
/// below rounds to a finite f32, FLT_MAX at most (3.4028235e38, FLT_MAX as
/// it prints, included). A CSV cell and a hyperparameter share the bound.
constexpr double kF32Overflow = 0x1p128 - 0x1p103;

/// Why `value` is not one `name` takes ("must be ..."), or nullptr when it
/// is. f32 says whether the hyperparameter is stored as f32. Names it does
/// not know are held only to be finite.
inline const char *hyperRangeError(const char *name, double value, bool f32) {
  if (!std::isfinite(value)) return "must be a finite number";
  if (f32 && std::fabs(value) >= kF32Overflow) return "must fit in f32 (below 3.40282357e+38 in magnitude)";
  // lr = 1e-50 is 0 in f32: training ran and learned nothing, silently
  // (a subnormal may be flushed to 0 as well).
  if (f32 && value != 0 && std::fabs(value) < 1.17549435e-38 && std::strcmp(name, "eps"))
    return "must be 0 or at least 1.2e-38 in magnitude in f32 (smaller ones round to 0)";
  // Below 1 in the type it is stored in: 1 - 1e-11 is 1 in f32, where
  // Adam's bias correction 1 - βᵗ is then 0/0 (NaN at the first step).
  for (const char *unit : {"beta1", "beta2", "momentum"})
    if (!std::strcmp(name, unit)) {
      if (!(value >= 0 && value < 1)) return "must be at least 0 and less than 1";
      return f32 && float(value) >= 1.0f ? "must be less than 1 in f32 (0.99999994 at most; this rounds to 1)" : nullptr;
    }
  // Adam divides by √v + ε, and v is 0 wherever a gradient has been 0 (a
  // param the loss does not read, an embedding row no batch has held): with
  // ε = 0 such an element becomes NaN, silently.
  if (!std::strcmp(name, "eps")) {
    if (!(value > 0)) return "must be positive";
    // 1e-50 is 0 in f32 (and a subnormal may be flushed to 0).
    return f32 && float(value) < 1.17549435e-38f ? "must be at least 1.2e-38 in f32 (smaller ones round to 0)" : nullptr;
  }
  // A count of steps: the ramp of warmup = 2.5 was compiled and ran with
  // a fractional end.
  if (!std::strcmp(name, "warmup") && value >= 0 && value != std::floor(value)) return "must be a whole number of steps";
  for (const char *nonNegative : {"lr", "min_lr", "weight_decay", "clip", "warmup"})
    if (!std::strcmp(name, nonNegative)) return value >= 0 ? nullptr : "must not be negative";
  return nullptr;
}

} // namespace grt
