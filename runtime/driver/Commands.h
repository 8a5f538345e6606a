//===- runtime/driver/Commands.h - the subcommands of a model executable --===//
#pragma once

#include "driver/Args.h"
#include "driver/Checkpoint.h"
#include "driver/Data.h"
#include "driver/Session.h"

#include <csignal>
#include <filesystem>

namespace grt {

int cmdTrain(const GrtModel &m, int argc, char **argv);
int cmdEval(const GrtModel &m, int argc, char **argv);
int cmdPredict(const GrtModel &m, int argc, char **argv);
int cmdInfo(const GrtModel &m, int argc, char **argv);
int cmdSample(const GrtModel &m, int argc, char **argv);
/// Byte-level BPE: train, encode, decode, bench (TokenizerCmd.cpp).
int cmdTokenizer(const GrtModel &m, int argc, char **argv);

/// Shared option handling.
int threadsOption(const Args &a);
/// --precision f32|bf16: what the model's f32 matrix products compute in
/// (core/Gemm.h). bf16 on a CPU without AVX-512 BF16 is an error.
std::string precisionOption(const Args &a, const GrtModel &m);
/// Sets what matrix products compute in, "f32" or "bf16" (`from` names
/// where the value came from, for messages): precisionOption's work, also
/// for a precision a checkpoint names.
void setPrecision(const std::string &p, const GrtModel &m, const char *from);
/// The GrtProducts bits of all the model's entries: which packed matrix
/// products (f32, f64) its kernels call, and so which GEMMs serve them.
int32_t modelProducts(const GrtModel &m);
/// The value the model's train statement gave argument `name`, as `info`
/// prints it ("0.0", "cosine"); "" when the optimizer has no such argument.
std::string optimizerArgument(std::string_view optimizer, std::string_view name);
/// --data's path: `-` is standard input (/dev/stdin), for every command
/// that reads data.
std::string dataPath(const Args &a);
DataOptions dataOptions(const Args &a);
/// Sets every hyperparameter to its default, then applies --lr and --hp.
void applyHypers(Session &s, const Args &a);
/// The seed of the random numbers inside the model (rand_*) for eval,
/// predict and sample: --seed, else the seed of the run that saved
/// checkpoint `from` (its metadata `meta`: empty without --load, and
/// without a seed when another tool wrote it), else 0.
uint64_t modelSeed(const Args &a, const Metadata &meta, const std::string &from);
/// Sets the model's `seed` and `step` (rand_* draws hash(seed, step, call
/// site, element)) for batch `batch` of eval, a validation or predict: it
/// draws as step `batch` of a one-process run with `seed` does, so each
/// batch draws fresh numbers, the same on any number of threads or
/// processes. A model without rand_* reads neither.
void seedBatch(Session &s, uint64_t seed, int64_t batch);
/// Fails when `out`, a file the command writes (named by `outWhat`, e.g.
/// "--save"), is the same file as `in`, one it reads (`inWhat`): the
/// corpus or tokenizer would be replaced by the output.
void refuseOverwritingInput(const std::string &out, const char *outWhat, const std::string &in, const char *inWhat);
/// The same for a corpus: `corpus` is --data, or with `isDefault` the
/// model's compiled-in corpus (read when --data is not given). A directory
/// corpus reads every file in it, so `out` may not be in it at all (it
/// would replace one of them, or join the text), nor be one of its files
/// under another name (a hard link). With `directory`, `out` is a directory
/// the command writes in (--plot): it may not be in the corpus directory.
void refuseOverwritingCorpus(const std::string &out, const char *outWhat, const std::string &corpus, bool isDefault,
                             bool directory = false);
/// Fails when `out` is this program's own executable (--save linreg, the
/// ".ckpt" forgotten).
void refuseOverwritingProgram(const std::string &out, const char *outWhat);
/// Whether paths `a` and `b` name the same place, whether or not a file is
/// there yet (symbolic links, "." and ".." resolved).
bool samePlace(const std::string &a, const std::string &b);
/// `p` made absolute, then symbolic links, "." and ".." resolved as far as
/// the path exists.
std::filesystem::path canonicalPath(const std::string &p, std::error_code &ec);
/// "1.2k", "3.4M".
std::string humanCount(double x);
std::string humanBytes(double x);

/// Loss and metrics over the validation rows (every row, for `eval`), via
/// the `eval` entry: each batch's value weighted by the distinct rows it
/// stands for. For a loss or metric that is a mean of per-row terms this is
/// exactly the mean over the rows, however many there are and in any order;
/// for a sum over rows, exactly B times that mean (what a batch of B rows
/// reports on average). Anything that mixes rows (a batch statistic, a max
/// over the batch) is only approximated.
struct EvalResult {
  double loss = 0;
  std::vector<std::pair<std::string, double>> metrics;
  int64_t batches = 0; // calls of the entry
};
/// Batch i draws the model's random numbers as seedBatch(s, seed, i) says;
/// the model's `seed` and `step` are as before when it returns. A non-zero
/// `*stop` (a signal's) ends it early, after the batch in progress: the
/// result is then partial. `notes`: the progress notes a long split gets
/// (off under train --quiet).
EvalResult evaluate(Session &s, Dataset &d, uint64_t seed, const volatile std::sig_atomic_t *stop = nullptr,
                    bool notes = true);
/// " (2.6931 bits/byte)" for text data: nats per token / ln 2 / bytes per
/// token, so byte-level and BPE models compare; "" for tables.
std::string bitsPerByte(const Dataset &d, double loss);

} // namespace grt
