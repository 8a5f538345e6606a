//===- tests/modelgen/Reducer.h - shrink a failing model ------------------===//
//
// Delta debugging on the text of a `.grad` model, in the manner of C-Reduce:
// while the model still fails the same way, try
//
//   - deleting a statement (a whole block for `for`, `if` and `data`);
//   - replacing the right-hand side of an assignment by one of the names
//     it reads, or by one term of a sum;
//   - shrinking an integer constant (to 1, 2, half, one less), which
//     shrinks every shape written with it;
//   - replacing the train statement by plain SGD;
//
// and repeat until nothing more can go. Candidates that no longer compile
// simply fail the test and are dropped. `# modelgen:` comments (the ranges
// of integer inputs) are kept.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <functional>
#include <string>

namespace gradc::modelgen {

/// Returns the smallest variant of `source` for which `stillFails` holds
/// (it holds for `source` itself). `log` hears of each step taken.
std::string reduceModel(const std::string &source, const std::function<bool(const std::string &)> &stillFails,
                        const std::function<void(const std::string &)> &log);

} // namespace gradc::modelgen
