//===- runtime/driver/Session.h - a model's tensors and entry points ------===//
#pragma once

#include "core/Runtime.h"
#include "core/ThreadPool.h"

#include <cstring>
#include <memory>

namespace grt {

/// Owns one buffer per tensor the descriptor lists, the scratch arena, and
/// the context generated code receives; runs entry points by name.
class Session {
public:
  Session(const GrtModel &model, int threads);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  const GrtModel &model;

  struct Slot {
    const GrtTensor *tensor;
    void *data;
    int64_t numel;
    size_t bytes;
    bool borrowed = false; // lies in `gradients`, which owns it
  };
  std::vector<Slot> slots;

  /// Index of the tensor named `name`, or -1.
  int find(std::string_view name) const;
  Slot &slot(std::string_view name);
  const GrtEntry *entry(std::string_view name) const;
  bool has(std::string_view entryName) const { return entry(entryName) != nullptr; }
  void run(std::string_view entryName);

  /// Initialises every param from its initialiser and zeroes all state.
  /// Each tensor draws from its own stream (seed, name), so adding a
  /// parameter does not change how the others start.
  void initParams(uint64_t seed);
  /// Sets a scalar hyperparameter if the model has it; returns whether it does.
  bool setHyper(std::string_view name, double v);
  /// Whether hyperparameter slot i meets f32 arithmetic, so that its value
  /// must hold in f32 (gradrt/hypers.h): it is f32, or the model has an f32
  /// param. A model of f32 and f64 params keeps its hyperparameters in f64
  /// and casts them for each f32 param's update, where beta1 = 0.99999999
  /// became 1 and that param never moved, with no word.
  bool hyperInF32(int i) const;
  /// The hyperparameters the runtime sets itself: `step`, `total_steps`
  /// (learning-rate schedules, random numbers) and `seed` (random numbers
  /// inside the model, as dropout's). --hp cannot set them.
  static bool setByRuntime(const GrtTensor &t) { return t.role == GRT_HYPER && runtimeHyperName(t.name); }
  /// The names of the hyperparameters the runtime sets: step, total_steps, seed.
  static bool runtimeHyperName(const char *name) {
    return !strcmp(name, "step") || !strcmp(name, "total_steps") || !strcmp(name, "seed");
  }
  /// The other hyperparameters: what --lr and --hp set, and checkpoints keep.
  static bool isUserHyper(const GrtTensor &t) { return t.role == GRT_HYPER && !setByRuntime(t); }
  /// The values column `column` (an element of a row) of i32 input `t`
  /// may take as an index: [low, limit), from the compiler's reading of
  /// its uses (ir/IndexRanges.h); low == limit == 0 when nothing bounds it.
  struct IndexRange {
    int64_t low = 0, limit = 0;
    bool bounded() const { return low < limit; }
    bool holds(double v) const { return !bounded() || (v >= double(low) && v < double(limit)); }
  };
  static IndexRange indexRange(const GrtTensor &t, int64_t column) {
    if (t.column_ranges) return {t.column_ranges[2 * column], t.column_ranges[2 * column + 1]};
    return {t.index_low, t.index_limit};
  }
  /// Generation's keys and values ("cache.N" states of @step): zeros when
  /// `sample` starts, never saved.
  static bool isCache(const GrtTensor &t) {
    return t.role == GRT_STATE && std::string_view(t.name).starts_with(GRT_CACHE_PREFIX);
  }
  /// An input that only the `@step` entry reads (step.pos, step.IDX):
  /// `sample` sets it while generating. It is no column of a CSV, and
  /// train, eval and predict never fill it.
  static bool isStepOnlyInput(const GrtModel &m, const GrtTensor &t);
  /// Reads a scalar output ("output:loss").
  double scalar(std::string_view name);
  /// Element i of a float/int tensor as double.
  static double get(const Slot &s, int64_t i);
  static void set(Slot &s, int64_t i, double v);

  /// Every output "grad.W" of the grads entry, in one buffer (padding
  /// between them is zero): what a data-parallel run averages. Empty for a
  /// model built without data-parallel entries.
  struct Gradients {
    void *data = nullptr;
    size_t bytes = 0;
    int64_t count = 0; // elements, padding included
    int dtype = GRT_F32;
    /// Set when the params are of two float types (say which): one
    /// collective over one buffer cannot average them, so data-parallel
    /// training refuses such a model.
    std::string mixed;
  } gradients;

  GrtContext ctx;
  int threads;

private:
  std::vector<void *> pointers;
  char *arena = nullptr;
  size_t arenaSize = 0;
  std::unique_ptr<ThreadPool> pool;
};

/// Fills `s` by its initialiser spec ("zeros", "normal(0.02)", "xavier_uniform", ...).
void initTensor(Session::Slot &s, Rng &rng);

} // namespace grt
