//===- runtime/driver/Main.cpp - main() of every model executable ---------===//
#include "driver/Cluster.h"
#include "driver/Commands.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <cstring>
#include <iterator>

extern "C" const GrtModel gradc_model;

namespace grt {

/// The help of one command ("train", ...), or of all of them ("").
static void usage(const GrtModel &m, const char *argv0, const std::string &only = "") {
  std::string dataHelp = m.data_kind == GRT_DATA_TEXT
                             ? fmt::format("any file read as bytes, or every text file in a\n                    directory (default: {}; -: standard input)", m.text_corpus)
                             : m.data_kind == GRT_DATA_TABLE ? "a CSV whose header names the inputs (default: the model's own generated data;\n                    -: standard input)"
                                                             : "a CSV whose header names the inputs (-: standard input)";
  struct Section {
    const char *cmd;
    std::string text;
  };
  const Section sections[] = {
      {"train", fmt::format(R"(options of train (train the model and report its loss):
  --steps N         train until step N (default 1000)
  --lr X            learning rate, overriding the model's
  --hp NAME=X       set any hyperparameter, e.g. --hp beta2=0.95 (repeatable)
  --seed S          seed for initialisation and batch order (default 0; when
                    resuming, the checkpoint's)
  --data FILE       training data: {0}
  --val-frac F      fraction of table rows held out for validation (default 0.1)
  --tokenizer TOK   text: train on BPE tokens (a `tokenizer train` file whose
                    size is the model's vocab) instead of bytes; the encoded
                    corpus is cached beside it, and the checkpoint remembers TOK
  --val-batches N   text: the progress lines' validation estimate uses N fixed
                    random batches (default 8); the final figure always covers
                    the whole validation split, in windows of the context T
                    that do not overlap (all but its last (n-1) mod T
                    targets, which fill no window)
  --save CKPT       write a checkpoint (safetensors) at the end, or when
                    stopped by Ctrl-C, SIGTERM or SIGHUP
  --save-every N    ... and every N steps
  --load CKPT       continue from a checkpoint: weights, optimizer state, step,
                    data position, seed, --steps, --val-frac and hyperparameters
                    (flags given again override them, with a note; a note
                    names a hyperparameter that differs from the model's
                    compiled value; a checkpoint of another optimizer
                    gives none, and the model's own values apply)
  --resume CKPT     the same as --load
  --stop-after N    stop at step N; a later --resume continues to --steps
  --log-every N     print progress every N steps (default: --steps / 20, so
                    about 20 lines over the whole run; a resumed run keeps
                    the checkpoint's unless --steps changes); a line's loss
                    is the mean over the steps since the line before (those
                    before a resume included), the final loss that of the
                    last step
  --eval-every N    validate every N steps (default: with each progress line;
                    a resumed run keeps the checkpoint's unless --steps
                    changes); a line shows the validation loss and metrics
                    only at a step that validated
  --threads N       worker threads (default and at most: the cores available,
                    shared among the processes of a data-parallel run).
                    Without it, train times steps on all of them against
                    steps on one now and then, and keeps the faster (small
                    models often run faster on one); results are the same
  --precision P     f32 (default) or bf16: f32 matrix products (those with
                    no side under 5) round their operands to bf16 and
                    sum in f32, about 1.5-2x faster on
                    CPUs with AVX-512 BF16 (an error elsewhere); weights,
                    gradients and the optimizer stay f32. The loss differs
                    from f32 in the third or fourth digit
  --overlap         data-parallel: average gradients in 1 MiB buckets while
                    the backward pass runs (the default when the processes
                    span machines; on one, the averaging competes with it)
  --no-overlap      ... or after the backward pass (the default on one machine)
  --bucket-kib N    data-parallel, with overlap: buckets of N KiB (default 1024)
  --partial-load    load a checkpoint that lacks some of the model's tensors
                    or has others, or has hyperparameters the model lacks
                    (each is listed, and ignored); otherwise an error. From
                    another model's checkpoint, or a safetensors file of
                    weights no gradc executable wrote (PyTorch's), only the
                    tensors both have carry over: the run starts at step 0,
                    with this model's own settings and optimizer state
  --plot DIR        write pictures: DIR/loss.svg (train and validation loss) and
                    DIR/fit.svg (the learned function, for 1-D and 2-D inputs)
  --quiet           print only the final summary
  --profile         after training, list the kernels that took the most time
                    (each one's share of a step, and what it computes; on
                    several threads, how long the caller waited in each for
                    the other threads to finish their chunks)
  --profile-top N   ... the N slowest of them (default 25; 0: every kernel)
  --check-finite    debug a loss that becomes NaN or infinite: check every value
                    each kernel stores and stop at the first non-finite one,
                    naming its IR value and source line (slow; values fused
                    into a kernel are not stored: gradc build --fusion=0 stores all)
Text models report validation loss in nats per token and in bits per byte.
Under `mpirun -np N` (a model built with gradc build --data-parallel), N
processes train on shares of each global batch of N times the model's batch,
averaging their gradients; rank 0 prints and saves. Resume on any number.
)",
                            dataHelp)},
      {"eval", fmt::format(R"(options of eval (loss and metrics of trained parameters on a dataset):
  --load CKPT       the parameters: a checkpoint, or any safetensors file of
                    the weights (PyTorch's; no optimizer state needed)
                    (default: freshly initialised, with a note)
  --data FILE       {0}; every row (or, for text, the whole validation split
                    in windows of the context T that do not overlap: all
                    but its last (n-1) mod T targets, which fill no window)
  --tokenizer TOK   text: the BPE tokenizer the model was trained with
                    (default: the one --load's checkpoint names)
  --quick           text: the quick estimate of --val-batches random batches
  --val-batches N   with --quick: how many (default 8)
  --seed S          seed of the model's own random numbers (rand_*; default:
                    the checkpoint's seed, else 0): batch i draws as step i
                    of training would (dropout is off; the batches are fixed)
  --threads N       worker threads (default: the cores available)
  --precision P     f32 (default) or bf16 matrix products (see train --help)
  --partial-load    load a checkpoint that lacks some tensors or has others
)",
                           dataHelp)},
      {"predict", R"(options of predict (run the model on the rows of a CSV file, print its outputs as CSV):
  --load CKPT       the parameters: a checkpoint, or any safetensors file of
                    the weights (PyTorch's; no optimizer state needed)
  --data FILE.csv   a column per input, named as in `info` (-: standard input)
  --seed S          seed of the model's own random numbers (rand_*; default:
                    the checkpoint's seed, else 0): the rows' batch i (rows
                    iB to iB+B-1) draws as step i of training would, so
                    every batch draws fresh numbers, the same ones on any
                    number of threads
  --threads N       worker threads (default: the cores available)
  --precision P     f32 (default) or bf16 matrix products (see train --help)
  --partial-load    load a checkpoint that lacks some tensors or has others
It prints the columns it read, then one per output element (`p`, or `p[0]`,
`p[1]`, ...); an output named like an input is `output:NAME`, as in `info`.
It prints the outputs with a row per input row: gradc build notes each one it
left out (a param, a sum over the batch, a value whose rows mix) and why.
)"},
      {"sample", R"(options of sample (text models: write text a token at a time, a byte or a tokenizer's token):
  --load CKPT       the parameters (also --resume): a checkpoint, or any
                    safetensors file of the weights
  --prompt TEXT     the text to continue (default: a newline)
  --tokens N        how many tokens to write (default 200): bytes, or the
                    tokenizer's tokens
  --temperature T   sharpen (<1) or flatten (>1) the distribution (default 1;
                    0 picks the likeliest token)
  --top-k K         sample among the K likeliest tokens only (default 0: all);
                    exactly K: of equal logits, the lower ids come first
  --seed S          seed for the sampling (default 0), and for the model's
                    own random numbers (rand_*: default, the checkpoint's
                    seed), which draw as at step 0 for the whole sample
  --tokenizer TOK   the BPE tokenizer the model was trained with (default:
                    the one --load's checkpoint names): the prompt is
                    encoded, and each token printed as its bytes
  --samples N       N independent continuations at once, one per row of the
                    model's batch (default 1; at most the batch); the first is
                    the one a single sample gives (with @step, they go
                    --step-batch at a time, one group after another)
                    (--prompt given several times: one row per prompt)
  --no-cache        recompute the whole context for every token, even when
                    the model has the @step entry (gradc build --step-entry),
                    which computes only the new position, keys and values
                    cached, for up to --step-batch rows (default 1); when
                    the context is full, @step's window slides by half of it
  --check-cache     compare @step with recomputation at every position and
                    fail if they differ by more than 1e-5 of the logits'
                    scale (0.05 under --precision bf16)
  --threads N       worker threads (default: the cores available)
  --precision P     f32 (default) or bf16 matrix products (see train --help)
  --partial-load    load a checkpoint that lacks some tensors or has others
)"},
      {"tokenizer", R"(tokenizer: byte-level BPE, the same in every model executable
  tokenizer train --vocab N --data FILE -o TOK
                    learn N - 256 merges from FILE's bytes (-: standard
                    input; a directory: its text files, as train --data
                    reads it) and write them to TOK (a text file of
                    merges, base64 bytes)
      --no-presplit learn merges across the pre-split chunks (words,
                    numbers, spaces) too; text models encode with the
                    pre-split, so such merges never occur in training
      --quiet       no progress lines
  tokenizer encode --tokenizer TOK [--no-presplit] < bytes > ids
                    standard input as token ids, on one line separated
                    by spaces
  tokenizer decode --tokenizer TOK < ids > bytes
                    token ids (separated by spaces or newlines) back to
                    their bytes
  tokenizer bench --data FILE [--vocab N] [--runs R] [--no-presplit]
                    time training a vocabulary of N (default 1256),
                    encoding and decoding, median of R runs (default 3)
)"},
      {"info", R"(info: the model's tensors (with the index range of integer inputs), entry points,
optimizer, default data and parameter count; no options. Inputs name the
columns of a CSV given as --data; those shown as `step` are set by sample
for @step.
)"},
  };
  for (auto &sec : sections)
    if (sec.cmd == only) {
      fmt::print("usage: {} {} {}[OPTIONS]\n\n{}", argv0, only, only == "tokenizer" ? "SUBCOMMAND " : "", sec.text);
      return;
    }
  fmt::print(R"(usage: {0} COMMAND [OPTIONS]     ({0} COMMAND --help: that command's options)

{1}: a model compiled by gradc from {2}.

commands:
  train     train the model and report its loss
  eval      loss and metrics of trained parameters on a dataset
  predict   run the model on the rows of a CSV file and print its outputs
  sample    (text models) write text: --prompt TEXT --tokens N --temperature T --top-k K
  info      the model's tensors, entry points, optimizer and data
  tokenizer byte-level BPE: train --vocab N --data FILE -o TOK [--no-presplit],
            encode --tokenizer TOK < bytes, decode --tokenizer TOK < ids
  --version the model's name and source, and the runtime ABI it was built for

)",
             argv0, m.name, m.source);
  for (auto &sec : sections) fmt::print("{}\n", sec.text);
  fmt::print("Hyperparameters of this model: see `{} info`.\n", argv0);
}

/// The commands, for the check that COMMAND --help names one.
static const char *const kCommands[] = {"train", "eval", "predict", "sample", "info", "tokenizer", "help"};

[[noreturn]] static void unknownCommand(const std::string &cmd, const char *argv0) {
  fail("unknown command '{}'; commands are train, eval, predict, sample, info, tokenizer (see {} --help)", cmd, argv0);
}

static int runCommand(const GrtModel &m, const std::string &cmd, int argc, char **argv) {
  if (cmd == "train") return cmdTrain(m, argc, argv);
  if (cmd == "eval") return cmdEval(m, argc, argv);
  if (cmd == "predict") return cmdPredict(m, argc, argv);
  if (cmd == "info") return cmdInfo(m, argc, argv);
  if (cmd == "sample") return cmdSample(m, argc, argv);
  if (cmd == "tokenizer") return cmdTokenizer(m, argc, argv);
  unknownCommand(cmd, argv[0]);
}

/// Output that could not be written (a full disk, /dev/full, a closed
/// pipe) is an error, reported after the command's work is done and saved.
static int checkStdout(int rc) {
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return rc;
  int err = errno;
  std::fprintf(stderr, "error: cannot write to standard output: %s\n", std::strerror(err ? err : EIO));
  return rc ? rc : 1;
}

} // namespace grt

int main(int argc, char **argv) {
  using namespace grt;
  reopenClosedStdFds();
  // A save past a file-size limit should fail with a message (and leave the
  // old checkpoint), not kill the process with SIGXFSZ.
  std::signal(SIGXFSZ, SIG_IGN);
  const GrtModel &m = gradc_model;
  std::string cmd = argc < 2 ? "" : argv[1];
  // fmt::print throws when a write fails (stdout full or closed); that, or
  // memory running out, ends with one line like any other error.
  try {
    if (argc < 2) {
      usage(m, argv[0]);
      return checkStdout(1);
    }
    // Where --help (or -h) is: argc when nowhere.
    int helpAt = int(std::find_if(argv + 1, argv + argc, [](const char *s) { return !strcmp(s, "--help") || !strcmp(s, "-h"); }) - argv);
    // Under mpirun, a process that prints help or its version and ends
    // never joins the run, and the others waited for it (mpirun too, until
    // killed): it fails instead, and mpirun ends the run.
    if ((cmd == "--version" || cmd == "help" || helpAt < argc) && Cluster::launchedAsMany())
      fail("{} under mpirun: help and --version run in one process; run them without mpirun",
           helpAt == argc ? cmd : helpAt == 1 ? argv[1] : cmd + " --help");
    // COMMAND --help: that command's options (tokenizer's subcommands
    // share one section); --help or help alone: all.
    auto known = [](const std::string &c) { return std::find(std::begin(kCommands), std::end(kCommands), c) != std::end(kCommands); };
    if (helpAt < argc) {
      // --help COMMAND reads as help COMMAND; --version --help as --help.
      std::string what = helpAt > 1 ? cmd : argc > 2 ? argv[2] : "";
      if (what.starts_with("-")) what = ""; // --version --help, --help -h
      if (!what.empty() && !known(what)) unknownCommand(what, argv[0]);
      usage(m, argv[0], what);
      return checkStdout(0);
    }
    if (cmd == "--version") {
      if (argc > 2) fail("--version takes nothing more; '{}' is extra", shown(argv[2]));
      // What a bug report needs; `info` says the rest.
      fmt::print("{}: model {}{}{}, compiled by gradc for runtime ABI {}\n", argv[0], m.name, *m.source ? " from " : "",
                 m.source, m.abi_version);
      return checkStdout(0);
    }
    if (cmd == "help") {
      std::string what = argc > 2 ? argv[2] : "";
      if (!what.empty() && !known(what)) unknownCommand(what, argv[0]);
      usage(m, argv[0], what);
      return checkStdout(0);
    }
    // Under mpirun, join the run first: ranks other than 0 go quiet.
    Cluster &cluster = Cluster::get();
    // Every process runs the same command, or none runs: `train : predict`
    // left train waiting in its first exchange for a process that had
    // finished.
    if (cluster.parallel()) {
      std::vector<std::string> cmds = cluster.gather(cmd);
      if (std::any_of(cmds.begin(), cmds.end(), [&](const std::string &c) { return c != cmds[0]; })) {
        std::string list;
        for (size_t r = 0; r < cmds.size(); ++r) list += fmt::format("{}rank {} {}", r ? ", " : "", r, shown(cmds[r]));
        fail("the processes of this run run different commands ({}); give every process the same one", list);
      }
    }
    int rc = checkStdout(runCommand(m, cmd, argc, argv));
    cluster.finish();
    return rc;
  } catch (const std::bad_alloc &) {
    // Where the sizes are known (the tensors, a corpus, a CSV's rows) they
    // are checked first and named; this is what no check foresaw.
    fail("out of memory ({})", memoryText());
  } catch (const std::filesystem::filesystem_error &e) {
    if (std::ferror(stdout)) return checkStdout(1);
    fail("{}", e.what());
  } catch (const std::system_error &e) {
    // A thread that could not start (EAGAIN under ulimit -v or -u) said
    // only "Resource temporarily unavailable".
    if (std::ferror(stdout)) return checkStdout(1);
    fail("{} (a thread or another system resource could not be had: the limits on this process's memory or "
         "threads, ulimit -v or -u, or the machine's; --threads 1 needs fewer)",
         e.what());
  } catch (const std::exception &e) {
    if (std::ferror(stdout)) return checkStdout(1);
    fail("{}", e.what());
  }
}
