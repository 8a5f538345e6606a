/*===- runtime/include/gradrt/abi.h - the one contract between gradc and its runtime ===*
 *
 * gradc compiles a model into an object file that defines one symbol,
 * `gradc_model`, a GrtModel describing the model and its entry points. The
 * runtime (libgradrt) provides main(), allocates every tensor the descriptor
 * lists, and calls the entries. Generated code calls back into the runtime
 * only through the grt_* functions declared at the end.
 *
 * This header is C so that both sides agree on layout; codegen mirrors these
 * structs field by field (codegen/EmitModule.cpp). Change both together and
 * bump GRT_ABI_VERSION.
 *===----------------------------------------------------------------------===*/
#ifndef GRADRT_ABI_H
#define GRADRT_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GRT_ABI_VERSION 9

enum GrtDType { GRT_F32 = 0, GRT_F64 = 1, GRT_I32 = 2, GRT_BOOL = 3 };

enum GrtRole {
  GRT_INPUT = 0,  /* filled by the runtime from data before each step */
  GRT_PARAM = 1,  /* trained; initialised by `init`, saved in checkpoints */
  GRT_STATE = 2,  /* optimizer state; starts at zero, saved in checkpoints */
  GRT_HYPER = 3,  /* scalar set by the runtime each step (lr, step, ...) */
  GRT_OUTPUT = 4, /* written by an entry (loss, pred, metric.accuracy, ...) */
  GRT_GRADIENT = 5, /* "grad.W", read by entry "apply": the runtime points it at
                       output "grad.W" of entry "grads" (averaged over processes) */
};

typedef struct GrtTensor {
  const char *name;      /* "w", "h.0.attn.wq", "w.adam_m", "output:loss" */
  int32_t role;          /* GrtRole */
  int32_t dtype;         /* GrtDType */
  int32_t rank;
  int32_t index_low;     /* i32 inputs used as indices: values lie in [index_low, */
  int32_t index_limit;   /* index_limit); both 0: unbounded. Labels 1..K used as
                            onehot(y - 1, K) have [1, K + 1) */
  const int64_t *dims;
  const char *init;      /* params and state: "zeros", "normal(0.02)", ... */
  double default_value;  /* hyperparameters: the value written in the source */
  const int32_t *column_ranges; /* i32 inputs whose columns (the elements of one
                                   row, a CSV's x[0], x[1], ...) index tables of
                                   different sizes: two per column, its low and
                                   limit as above (0, 0 for an unbounded one;
                                   index_low and index_limit are then 0);
                                   null otherwise */
} GrtTensor;

typedef struct GrtContext GrtContext; /* the runtime's, opaque to generated code */

/* An entry point reads and writes tensors through `slots` (one data pointer
 * per GrtTensor, in descriptor order) and uses `arena` as scratch memory of
 * arena_bytes bytes, 64-byte aligned. */
typedef void (*GrtEntryFn)(void *const *slots, char *arena, GrtContext *ctx);

/* A value that a kernel stores, for `train --check-finite`: once kernel
 * `kernel` has run, its `count` elements should be finite. Data-parallel
 * training averages a gradient once it is stored and no longer read. */
typedef struct GrtStored {
  const char *what; /* the IR value and its source: "%h2 = tanh : f32[128,32] at mlp.grad:12:7" */
  int32_t kernel;
  int32_t tensor;   /* index into GrtModel.tensors, or -1: in the arena */
  int64_t offset;   /* in the arena: its byte offset */
  int64_t count;    /* elements */
  int32_t dtype;    /* GrtDType */
  int32_t last_read; /* the last kernel that reads it (through views), or -1 */
} GrtStored;

typedef struct GrtEntry {
  const char *name; /* "train", "eval", "predict", "grads", "apply", "data" */
  GrtEntryFn fn;
  int64_t arena_bytes;
  int32_t num_kernels;
  int32_t products;  /* GrtProducts bits: the dtypes of the grt_gemm_* calls its
                        kernels make (a product with a side of 4 or less is a
                        loop and calls none); `info` and --precision bf16 read it */
  const char *inputs;  /* comma-separated names of the inputs it reads */
  const char *outputs; /* comma-separated names of the outputs it writes */
  const char *const *kernel_names; /* num_kernels one-line summaries, for --profile */
  const GrtStored *stored;          /* what each kernel stores, in kernel order */
  int64_t num_stored;
} GrtEntry;

/* ---- names both sides agree on ------------------------------------------ */

/* An entry's output NAME is written to the tensor "output:NAME". */
#define GRT_OUTPUT_PREFIX "output:"
/* Output names with a meaning: "grad.W" is the gradient of param W (the
 * @grads entry, and the backward graph before the optimizer consumes it);
 * "metric.M" is a metric `eval` reports. */
#define GRT_GRAD_PREFIX "grad."
#define GRT_METRIC_PREFIX "metric."

/* Gradient checking a model with stop_gradient: entry "capture" writes
 * outputs "capture.K" (the values stop_gradient stops, at the current
 * point), which the checker copies into state tensors "frozen.K"; entry
 * "frozen" then computes the output "frozen_loss" with them held fixed.
 * Entry "grads" writes the loss and every "grad.W". */
#define GRT_ENTRY_GRADS "grads"
/* Data-parallel training runs "grads", averages every "grad.W" across the
 * processes, then runs "apply": the optimizer update alone, reading the
 * GRT_GRADIENT tensors. "train" is the two fused, for one process. */
#define GRT_ENTRY_APPLY "apply"
/* Gradient checking a model that uses training() (dropout): "train_loss"
 * is the loss as @train computes it, where "eval" turns dropout off. */
#define GRT_ENTRY_TRAIN_LOSS "train_loss"
#define GRT_ENTRY_CAPTURE "capture"
#define GRT_ENTRY_FROZEN "frozen"
#define GRT_CAPTURE_PREFIX "capture."
#define GRT_FROZEN_PREFIX "frozen."
#define GRT_FROZEN_LOSS "frozen_loss"
/* Generation one token at a time (gradc --step-entry): entry "step" reads
 * input "step.IDX" (the context input IDX as [B, 1], one token per row) at
 * the position in the scalar i32 input "step.pos", and writes the output
 * "step.logits", the logits at that position. Attention's keys and values
 * live in state tensors "cache.N", which hold zeros before a generation
 * starts and are not parameters. */
#define GRT_ENTRY_STEP "step"
#define GRT_STEP_PREFIX "step."
#define GRT_STEP_POS "step.pos"
#define GRT_CACHE_PREFIX "cache."

/* GrtEntry.products: which packed matrix products an entry calls. bf16
 * (--precision bf16) replaces exactly the GRT_PRODUCTS_F32 ones. */
enum GrtProducts { GRT_PRODUCTS_F32 = 1, GRT_PRODUCTS_F64 = 2 };

enum GrtDataKind { GRT_DATA_NONE = 0, GRT_DATA_TABLE = 1, GRT_DATA_TEXT = 2 };

typedef struct GrtModel {
  uint32_t abi_version;
  int32_t num_tensors;
  const char *name;
  const char *source;        /* the .grad file it was compiled from */
  const char *optimizer;     /* "adamw(lr = 0.001, ...)", for `info` */
  const GrtTensor *tensors;
  const GrtEntry *entries;
  int32_t num_entries;
  int32_t data_kind;         /* GrtDataKind */
  int64_t data_rows;         /* GRT_DATA_TABLE: rows the "data" entry generates */
  const char *text_corpus;   /* GRT_DATA_TEXT: default corpus path */
  const char *text_input;    /* GRT_DATA_TEXT: input that gets the context */
  const char *text_target;   /* GRT_DATA_TEXT: input that gets the next tokens */
  const char *constants;     /* the source's constants as built (-D applied), one
                                NAME=VALUE a line: "T=16\nB=4\n"; "" for .gir.
                                Checkpoints record them (driver/Checkpoint.cpp) */
} GrtModel;

/* ---- runtime functions generated code calls ---------------------------- */

/* Runs body(data, begin, end) over [0, n) split across the context's
 * threads; returns when all parts are done. */
typedef void (*GrtParallelBody)(void *data, int64_t begin, int64_t end);
void grt_parallel_for(GrtContext *ctx, int64_t n, GrtParallelBody body, void *data);

/* Independent loops run as one parallel loop (codegen/LoopGroups.cpp):
 * loop i runs body(data, begin, end) over [0, n), each iteration about
 * `weight` elements of work. The threads split the loops' concatenated
 * work, so each takes a contiguous share of it; the loops must touch no
 * memory another of them writes. */
typedef struct GrtLoop {
  int64_t n;
  int64_t weight;
  GrtParallelBody body;
  void *data;
} GrtLoop;
void grt_parallel_loops(GrtContext *ctx, int32_t count, const GrtLoop *loops);

/* The calling thread's scratch, at least `bytes` bytes, 64-byte aligned:
 * where a slice group keeps one slice's intermediates. It stays the
 * thread's until its next call (a kernel calls it once, at its start, and
 * kernels do not nest). */
void *grt_thread_scratch(int64_t bytes);

/* C[m,n] (+)= sum_k op(A)[m,k] op(B)[k,n]; op transposes when trans_* is set.
 * Leading dimensions are in elements. flags: GRT_GEMM_ACCUMULATE adds to C
 * instead of overwriting it; GRT_GEMM_ONE_THREAD runs on the calling thread
 * only (an entry too small to share; train --profile still counts it). A
 * null ctx also runs on the calling thread only, uncounted: a product inside
 * a parallel loop, on whichever thread runs that part. epilogue, when not
 * null, is called as epilogue(epilogue_data, r0, r1) once rows [r0, r1) of C
 * are final, on the thread that finished them; together the calls cover
 * every row exactly once. */
enum GrtGemmFlags { GRT_GEMM_ACCUMULATE = 1, GRT_GEMM_ONE_THREAD = 2 };
void grt_gemm_f32(GrtContext *ctx, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n, int64_t k,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc,
                  int32_t flags, GrtParallelBody epilogue, void *epilogue_data);
void grt_gemm_f64(GrtContext *ctx, int32_t trans_a, int32_t trans_b, int64_t m, int64_t n, int64_t k,
                  const double *a, int64_t lda, const double *b, int64_t ldb, double *c, int64_t ldc,
                  int32_t flags, GrtParallelBody epilogue, void *epilogue_data);

/* Random fills from the context's generator (data generation). */
void grt_fill_uniform_f32(GrtContext *ctx, float *out, int64_t n, double low, double high);
void grt_fill_uniform_f64(GrtContext *ctx, double *out, int64_t n, double low, double high);
void grt_fill_normal_f32(GrtContext *ctx, float *out, int64_t n, double mean, double std);
void grt_fill_normal_f64(GrtContext *ctx, double *out, int64_t n, double mean, double std);

/* Called after kernel number `kernel` of the running entry finishes; the
 * runtime times kernels with it when asked to (train --profile). */
void grt_kernel_end(GrtContext *ctx, int32_t kernel);

/* A long entry (an unrolled loop's thousands of kernels) hands its calls to
 * the runtime as a table, rather than making each call in code: LLVM took
 * 14 of a build's 19 s to make machine code for 40,000 calls. Each call
 * runs kernel body `body` on an argument array built from its GrtCallArgs;
 * calls that join the one before run in one grt_parallel_loops with it, as
 * in code, and grt_kernel_end follows each call or group. */
enum GrtCallArgKind {
  GRT_ARG_ARENA = 0,   /* arena + offset */
  GRT_ARG_SLOT = 1,    /* slots[slot] + offset */
  GRT_ARG_ADDRESS = 2, /* `address` itself: a kernel's constants, or null */
  GRT_ARG_CONTEXT = 3, /* the GrtContext */
};
typedef struct GrtCallArg {
  int32_t kind; /* GrtCallArgKind */
  int32_t slot;
  int64_t offset; /* bytes */
  const void *address;
} GrtCallArg;
typedef struct GrtCall {
  GrtParallelBody body;
  int64_t extent;          /* > 0: grt_parallel_for over [0, extent); 0: body(args, 0, 1) */
  int64_t weight;          /* in a group: each iteration's work (GrtLoop) */
  int32_t joins_previous;  /* runs in one grt_parallel_loops with the call before */
  int32_t num_args;        /* its GrtCallArgs follow the previous call's */
} GrtCall;
/* Runs calls [0, count) in order; call i is the entry's kernel first + i. */
void grt_run_calls(GrtContext *ctx, void *const *slots, char *arena, int32_t first, int32_t count,
                   const GrtCall *calls, const GrtCallArg *args);

/* Name/address pairs of the functions above, for an in-process JIT. */
typedef struct GrtSymbol {
  const char *name;
  void *address;
} GrtSymbol;
extern const GrtSymbol grt_symbols[];

#ifdef __cplusplus
}

#include <string>
#include <string_view>

/* C++ helpers for the names above, for both sides. */
namespace grt {

/* The tensor an entry's output `output` is written to: "output:NAME". */
inline std::string outputTensor(std::string_view output) { return std::string(GRT_OUTPUT_PREFIX).append(output); }

/* The output holding the gradient of param `param`: "grad.NAME". */
inline std::string gradName(std::string_view param) { return std::string(GRT_GRAD_PREFIX).append(param); }

/* `name` without `prefix`, or all of it when it does not start with it. */
inline std::string_view withoutPrefix(std::string_view name, std::string_view prefix) {
  return name.starts_with(prefix) ? name.substr(prefix.size()) : name;
}

} /* namespace grt */
#endif
#endif
