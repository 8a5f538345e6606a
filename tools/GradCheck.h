//===- tools/GradCheck.h - symbolic gradients against finite differences --===//
//
// Compiles a model in f64 with the gradient-checking entries, runs it
// in-process at a random point, and compares every parameter's gradient from
// autodiff with central finite differences of the loss, the fourth-order
// stencil:
//
//   dL/dθ_i ≈ [8(L(θ+h) - L(θ-h)) - (L(θ+2h) - L(θ-2h))] / 12h,   h = 1e-4
//
// (θ±h meaning θ moved by h along element i). Its truncation error is
// O(h⁴) ≈ 1e-16; its rounding error is about 1.5·δL/h, δL the rounding of
// one loss value: an ulp or two of |L|, so 1e-12 for a loss near 1 and 1e-11
// for a deep model's loss of 5. Relative error is |a - n| / max(|a|, |n|,
// 1e-6): gradients below 1e-6 are held to an absolute 1e-12 instead (the
// floor is an option).
//
// Where the stencil misses, the step is halved (twice at most) while the
// miss shrinks as h⁴ says it must if the symbolic gradient is right: a
// steep loss (tanh of tanh) then passes, a wrong gradient does not. What
// still misses is held absolutely to the stencil's rounding noise at its
// step, six ulps of |L| over it, where that is more than 1e-12: a GRU
// unrolled over 24 steps (tests/lit/e2e/Inputs/gru.grad) has gradients of
// 2e-6 that the stencil gives to 5e-6 relative at best. The report counts
// the elements that passed this way. A check where every gradient is zero
// fails, since it proves nothing.
//
// stop_gradient(x) means "x held fixed": the differences are taken of the
// loss with every stopped value frozen at the base point (the @capture and
// @frozen entries), which is what the symbolic gradient is the gradient of.
//
// Where the loss is not smooth (relu at 0, max with a tie, a where() whose
// condition flips within the step), no derivative exists to compare. An
// element whose check fails is examined once more with one-sided slopes:
// for a smooth loss the gap between the right and left slopes shrinks in
// proportion to the step; at a kink it does not. Such an element is
// reported as a kink and not counted as a failure. A kink inside the
// stencil's reach but off the point is another matter: the derivative
// exists, and a narrower central difference (h/10, h/100 or h/1000) that
// stays on one smooth piece measures it. Such an element is compared there,
// and counted as "near a kink".
//
//===----------------------------------------------------------------------===//
#pragma once

#include "Compiler.h"

#include <functional>

namespace grt {
class Session;
}

namespace gradc {

struct GradCheckOptions {
  double step = 1e-4;
  double tolerance = 1e-6;
  uint64_t seed = 1;
  int64_t samplesPerTensor = 24; // elements checked per parameter (all if fewer)
  /// At most this many elements in all (0: no limit): a large model then
  /// checks fewer per tensor, at least two each.
  int64_t maxElements = 0;
  double noise = 0.1;            // added to the initial values, so zeros are not special
  /// Gradients smaller than this are compared absolutely (tolerance times
  /// it): finite differences cannot resolve them better than their
  /// rounding error, which grows with the loss, not with the gradient.
  double absFloor = 1e-6;
  /// Called after each checked element with (done, total).
  std::function<void(int64_t, int64_t)> progress;
};

struct TensorCheck {
  std::string name, shape;
  int64_t checked = 0, kinks = 0;
  /// Elements whose gradient is below the stencil's rounding noise there
  /// (see GradCheck.cpp), compared absolutely against that noise.
  int64_t noisy = 0;
  /// Elements with a kink inside the stencil's reach but off the point,
  /// compared by a narrower central difference (see GradCheck.cpp).
  int64_t nearKinks = 0;
  /// Elements whose symbolic gradient is NaN or infinite (maxGrad leaves
  /// them out: a max over NaN says nothing).
  int64_t nonFinite = 0;
  double maxAbs = 0, maxRel = 0, maxGrad = 0;
  /// The first kink seen: its element and the two one-sided slopes.
  int64_t kinkElement = -1;
  double kinkLeft = 0, kinkRight = 0;
};

struct GradCheckReport {
  std::vector<TensorCheck> tensors;
  double tolerance = 0;
  bool anyNonZero = false;
  bool frozen = false;      // stop_gradient values were held fixed
  int64_t perTensor = 0;    // elements checked per tensor (fewer if it has fewer)
  double loss = 0;          // at the point checked; not finite: nothing can be compared
  bool passed() const;
  void print(llvm::raw_ostream &os) const;
};

/// Runs the check on a model compiled with --dtype=f64 and the grads entry,
/// at the point prepareSession picks.
GradCheckReport gradCheck(const GrtModel &model, const GradCheckOptions &opts);
/// The same at whatever point `s` holds (its inputs, params and hypers).
GradCheckReport gradCheck(grt::Session &s, const GradCheckOptions &opts);

/// Puts a session at a reproducible random point: inputs from the model's
/// data (or, where it has none or they give no batch, normal noise for
/// float inputs, indices within their tables, other integers in -3..3 and
/// random bools), params from their initialisers plus `noise`
/// times normal noise, hyperparameters at their defaults.
void prepareSession(grt::Session &s, uint64_t seed, double noise);

} // namespace gradc
