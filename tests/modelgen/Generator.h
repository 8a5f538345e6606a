//===- tests/modelgen/Generator.h - random valid .grad models -------------===//
//
// Grows a random model statement by statement, in the spirit of NNSmith
// (Liu et al., ASPLOS 2023): it keeps a pool of typed values (dtype, static
// shape, and an interval that bounds every element), and each step picks an
// operation whose constraints some values in the pool meet, or can be made
// to meet: operands that broadcast, a matmul's inner dimension, an axis
// that exists, indices inside a table. Domains are guarded with the same
// intervals (log and sqrt get a positive argument, exp a bounded one, a
// divisor stays away from zero), so the values stay finite; plateaus and
// ties (relu of a constant, max over a one-hot) are kept away from max,
// maximum and abs, whose gradients are not defined there.
//
// What a model can contain: every builtin and prelude function, operators
// with broadcasting over several axes, reductions over any set of axes with
// and without keepdims, batched and transposed matmuls (M, N or K of 1
// included), reshape, transpose, concat, indexing and slices, gather and
// onehot on integer inputs, comparisons and where, values with several
// readers, user functions with scoped parameters called directly and from
// `for` loops, `if` on constants, several outputs and metrics, data
// blocks, every optimizer with clipping and schedules, f32 and f64.
//
// The generator is deterministic in its seed. Integer inputs carry their
// range in a `# modelgen: input NAME in LO..HI` comment, which the oracles
// read to fill them.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gradc::modelgen {

struct GeneratedModel {
  std::string source;
  /// What the model uses (op and function names, statement kinds,
  /// optimizers, dtypes), for the coverage table of a campaign.
  std::map<std::string, int> features;
};

GeneratedModel generateModel(uint64_t seed);

/// Every feature a campaign should see (for the coverage report).
const std::vector<std::string> &allFeatures();

} // namespace gradc::modelgen
