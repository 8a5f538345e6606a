//===- runtime/driver/Cluster.h - the processes of a data-parallel run ----===//
//
// `mpirun -np N ./model train` starts N copies of the executable. Each one
// joins the run here: it loads Open MPI's libmpi.so.40 at run time (dlopen),
// learns its rank, and from then on exchanges gradients and small values
// with the others. Without mpirun (or with one process) nothing is loaded
// and the executable runs exactly as it always did.
//
// Why dlopen rather than linking libmpi: one executable then works on a
// machine without MPI, and gradc needs no MPI headers or wrappers to link
// it. The cost is that only Open MPI's ABI is supported (its handles, such
// as MPI_COMM_WORLD, are the addresses of ompi_mpi_* globals), which is what
// Debian's openmpi-bin provides and has been stable since Open MPI 3.0.
//
// Collectives are ours, on MPI_Sendrecv, so their arithmetic is fixed: the
// gradient average is a ring reduce-scatter whose sums run in a fixed rank
// order, then a ring all-gather that copies each finished chunk bit for bit.
// Every process thus holds the same bits, and a run repeats exactly.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <csignal>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace grt {

class Cluster {
public:
  /// The run this process belongs to. The first call joins it: under
  /// mpirun with more than one process it initialises MPI, and on ranks
  /// other than 0 it silences standard output and error (errors still
  /// print, tagged "rank R:").
  static Cluster &get();
  /// Whether mpirun started this process as one of several (before any
  /// joining): a process that then ends without joining leaves the others
  /// waiting for it, and mpirun with them.
  static bool launchedAsMany();

  int rank = 0;
  int size = 1;
  /// Processes of the run on this machine (for the default thread count).
  int localSize = 1;
  bool parallel() const { return size > 1; }
  bool leader() const { return rank == 0; }

  /// Replaces `n` elements of `dtype` (GRT_F32 or GRT_F64) at `data` by
  /// their mean over the processes; every process gets the same bits.
  void average(void *data, int64_t n, int dtype);
  /// Every process's values (the same count on each), in rank order, on
  /// every process.
  std::vector<double> gather(const std::vector<double> &mine);
  /// The sum of one value per process, added in rank order.
  double sum(double x);
  /// Every process's string, in rank order, on every process.
  std::vector<std::string> gather(const std::string &mine);
  /// Whether a thread other than the main one may exchange messages (MPI
  /// gave MPI_THREAD_SERIALIZED): what overlapping needs.
  bool threadsMayExchange = false;
  /// The calling thread waits for messages sleeping between polls, not
  /// spinning (a communication thread that shares a core with compute).
  void pollGently();
  /// Ends MPI cleanly; call once on the way out of a successful run.
  void finish();
  /// Seconds spent in average() so far (train --profile).
  double exchangeSeconds = 0;
  /// Set by a signal handler: a wait for the other processes that sees it
  /// set gives up with a message (mpirun stops the survivors of a run one
  /// of whose processes died with SIGTERM).
  volatile std::sig_atomic_t *stopRequested = nullptr;
  /// What that message says of the checkpoint (train keeps it up to date:
  /// the file and the step it holds).
  std::string checkpointNote = "the last checkpoint saved is intact";

private:
  Cluster() = default;
  void join();
  void exchange(const void *send, int sendBytes, int to, void *recv, int recvBytes, int from);
  void passRight(const char *sbuf, int64_t sBytes, char *rbuf, int64_t rBytes, int64_t pieces);
  void ringAllGather(char *base, int owned, int64_t maxChunkBytes,
                     const std::function<std::pair<int64_t, int64_t>(int)> &chunk);
  std::vector<char> scratch; // average(): the partial sums arriving from the left
};

} // namespace grt
