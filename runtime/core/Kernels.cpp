//===- runtime/core/Kernels.cpp - the functions generated code calls ------===//
//
// Random fills, the parallel-for, per-thread scratch, the end-of-kernel
// hook, and the table of symbols an in-process JIT resolves. The matrix
// multiply has a file of its own (Gemm.cpp).
//
//===----------------------------------------------------------------------===//
#include "core/FiniteCheck.h"
#include "core/Profile.h"
#include "core/Runtime.h"
#include "core/ThreadPool.h"

#include <cstdlib>

extern "C" {

void grt_fill_uniform_f32(GrtContext *ctx, float *out, int64_t n, double low, double high) {
  for (int64_t i = 0; i < n; ++i) out[i] = float(low + (high - low) * ctx->rng.uniform());
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

void *grt_thread_scratch(int64_t bytes) {
  // Grown to the largest request and kept for the thread's life: a step
  // asks for the same sizes every time.
  struct Scratch {
    void *data = nullptr;
    int64_t size = 0;
    ~Scratch() { std::free(data); }
  };
  thread_local Scratch s;
  if (bytes > s.size) {
    std::free(s.data);
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

const GrtSymbol grt_symbols[] = {
    {"grt_gemm_f32", (void *)&grt_gemm_f32},
    {"grt_gemm_f64", (void *)&grt_gemm_f64},
    {"grt_fill_uniform_f32", (void *)&grt_fill_uniform_f32},
    {"grt_fill_uniform_f64", (void *)&grt_fill_uniform_f64},
    {"grt_fill_normal_f32", (void *)&grt_fill_normal_f32},
    {"grt_fill_normal_f64", (void *)&grt_fill_normal_f64},
    {"grt_parallel_for", (void *)&grt_parallel_for},
    {"grt_kernel_end", (void *)&grt_kernel_end},
    {"grt_thread_scratch", (void *)&grt_thread_scratch},
    {nullptr, nullptr},
};

} // extern "C"
