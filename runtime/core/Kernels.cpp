//===- runtime/core/Kernels.cpp - the functions generated code calls ------===//
//
// Random fills, the parallel-for and groups of parallel loops, per-thread
// scratch, the end-of-kernel hook, a long entry's table of calls, and the
// table of symbols an in-process JIT resolves. The matrix multiply has a
// file of its own (Gemm.cpp).
//
//===----------------------------------------------------------------------===//
#include "core/FiniteCheck.h"
#include "core/Profile.h"
#include "core/Runtime.h"
#include "core/ThreadPool.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

extern "C" {

void grt_fill_uniform_f32(GrtContext *ctx, float *out, int64_t n, double low, double high) {
  // A draw just below `high` rounds up to it in f32, which the range
  // [low, high) leaves out: such draws take the float just below it.
  float top = float(high), below = std::nextafter(top, -INFINITY);
  bool clamp = top > float(low);
  for (int64_t i = 0; i < n; ++i) {
    float v = float(low + (high - low) * ctx->rng.uniform());
    out[i] = clamp && v >= top ? below : v;
  }
}
void grt_fill_uniform_f64(GrtContext *ctx, double *out, int64_t n, double low, double high) {
  for (int64_t i = 0; i < n; ++i) out[i] = low + (high - low) * ctx->rng.uniform();
}
void grt_fill_normal_f32(GrtContext *ctx, float *out, int64_t n, double mean, double std) {
  for (int64_t i = 0; i < n; ++i) out[i] = float(mean + std * ctx->rng.normal());
}
void grt_fill_normal_f64(GrtContext *ctx, double *out, int64_t n, double mean, double std) {
  for (int64_t i = 0; i < n; ++i) out[i] = mean + std * ctx->rng.normal();
}

void grt_parallel_for(GrtContext *ctx, int64_t n, GrtParallelBody body, void *data) {
  if (ctx->pool) ctx->pool->run(n, body, data);
  else body(data, 0, n);
}

void grt_parallel_loops(GrtContext *ctx, int32_t count, const GrtLoop *loops) {
  if (!ctx->pool) {
    for (int32_t i = 0; i < count; ++i) loops[i].body(loops[i].data, 0, loops[i].n);
    return;
  }
  // Loop i covers work [start[i], start[i + 1]) of the whole; its iteration
  // j starts at start[i] + j·weight, and runs in the part holding that.
  struct Group {
    const GrtLoop *loops;
    int32_t count;
    std::vector<int64_t> start;
  };
  thread_local Group g;
  g.loops = loops;
  g.count = count;
  g.start.assign(size_t(count) + 1, 0);
  for (int32_t i = 0; i < count; ++i) g.start[i + 1] = g.start[i] + loops[i].n * loops[i].weight;
  auto part = [](void *data, int64_t begin, int64_t end) {
    const Group &g = *static_cast<const Group *>(data);
    // The first loop that ends after `begin`.
    int32_t i = int32_t(std::upper_bound(g.start.begin() + 1, g.start.end(), begin) - (g.start.begin() + 1));
    for (; i < g.count && g.start[i] < end; ++i) {
      const GrtLoop &l = g.loops[i];
      auto iteration = [&](int64_t at) { // first iteration starting at or after `at`
        return at <= g.start[i] ? 0 : std::min(l.n, (at - g.start[i] + l.weight - 1) / l.weight);
      };
      int64_t first = iteration(begin), last = iteration(end);
      if (first < last) l.body(l.data, first, last);
    }
  };
  ctx->pool->run(g.start[count], part, &g);
}

void *grt_thread_scratch(int64_t bytes) {
  // Grown to the largest request and kept for the thread's life: a step
  // asks for the same sizes every time.
  struct Scratch {
    void *data = nullptr;
    int64_t size = 0;
    ~Scratch() { grt::freeBuffer(data, size_t(size)); }
  };
  thread_local Scratch s;
  if (bytes > s.size) {
    grt::freeBuffer(s.data, size_t(s.size));
    s.data = nullptr;
    s.data = grt::allocateBuffer(size_t(bytes));
    s.size = bytes;
  }
  return s.data;
}

/// Generated entries call this after each kernel: the profiler charges the
/// kernel's time, the non-finite check scans what it stored; with neither
/// it returns at once.
void grt_kernel_end(GrtContext *ctx, int32_t kernel) {
  if (ctx->profile) ctx->profile->kernelEnd(kernel);
  if (ctx->finite) ctx->finite->kernelEnd(kernel);
  if (ctx->kernelHook) ctx->kernelHook(ctx->kernelHookData, kernel);
}

void grt_run_calls(GrtContext *ctx, void *const *slots, char *arena, int32_t first, int32_t count,
                   const GrtCall *calls, const GrtCallArg *args) {
  // One group's argument arrays and loops at a time: a kernel reads its
  // arguments while it runs, so they stay put until the group is done.
  std::vector<void *> values;
  std::vector<GrtLoop> loops;
  const GrtCallArg *arg = args;
  for (int32_t i = 0; i < count;) {
    int32_t end = i + 1;
    while (end < count && calls[end].joins_previous) ++end;
    size_t total = 0;
    for (int32_t j = i; j < end; ++j) total += size_t(calls[j].num_args);
    values.resize(total);
    loops.clear();
    void **at = values.data();
    for (int32_t j = i; j < end; ++j) {
      const GrtCall &c = calls[j];
      void **own = at;
      for (int32_t a = 0; a < c.num_args; ++a, ++arg)
        switch (arg->kind) {
        case GRT_ARG_ARENA: *at++ = arena + arg->offset; break;
        case GRT_ARG_SLOT: *at++ = static_cast<char *>(slots[arg->slot]) + arg->offset; break;
        case GRT_ARG_CONTEXT: *at++ = ctx; break;
        default: *at++ = const_cast<void *>(arg->address); break;
        }
      if (end - i > 1) loops.push_back({c.extent > 0 ? c.extent : 1, c.weight, c.body, own});
      else if (c.extent > 0) grt_parallel_for(ctx, c.extent, c.body, own);
      else c.body(own, 0, 1);
    }
    if (end - i > 1) grt_parallel_loops(ctx, int32_t(loops.size()), loops.data());
    for (int32_t j = i; j < end; ++j) grt_kernel_end(ctx, first + j);
    i = end;
  }
}

const GrtSymbol grt_symbols[] = {
    {"grt_gemm_f32", (void *)&grt_gemm_f32},
    {"grt_gemm_f64", (void *)&grt_gemm_f64},
    {"grt_fill_uniform_f32", (void *)&grt_fill_uniform_f32},
    {"grt_fill_uniform_f64", (void *)&grt_fill_uniform_f64},
    {"grt_fill_normal_f32", (void *)&grt_fill_normal_f32},
    {"grt_fill_normal_f64", (void *)&grt_fill_normal_f64},
    {"grt_parallel_for", (void *)&grt_parallel_for},
    {"grt_parallel_loops", (void *)&grt_parallel_loops},
    {"grt_kernel_end", (void *)&grt_kernel_end},
    {"grt_run_calls", (void *)&grt_run_calls},
    {"grt_thread_scratch", (void *)&grt_thread_scratch},
    {nullptr, nullptr},
};

} // extern "C"
