//===- runtime/driver/Cluster.cpp - the processes of a data-parallel run --===//
#include "driver/Cluster.h"

#include "core/Runtime.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

namespace grt {

namespace {

// The little of MPI we use, as Open MPI's libmpi.so.40 defines it: handles
// are pointers (MPI_COMM_WORLD is &ompi_mpi_comm_world), statuses may be
// ignored with a null pointer.
using Handle = void *;
constexpr int kMpiSuccess = 0;
constexpr int kThreadSerialized = 2; // one thread at a time calls MPI

struct Mpi {
  int (*Init_thread)(int *, char ***, int, int *);
  int (*Comm_rank)(Handle, int *);
  int (*Comm_size)(Handle, int *);
  int (*Isend)(const void *, int, Handle, int, int, Handle, Handle *);
  int (*Irecv)(void *, int, Handle, int, int, Handle, Handle *);
  int (*Testall)(int, Handle *, int *, void *);
  int (*Finalize)();
  Handle world, byte;
};
Mpi mpi;

/// Under Open MPI's mpirun, the size of the run from its environment (0:
/// not launched by it).
int launchedSize(const char *var) {
  const char *v = std::getenv(var);
  return v ? std::atoi(v) : 0;
}

/// Loads libmpi.so.40 and every symbol we use; exits with a clear message
/// when it cannot.
void loadMpi() {
  void *lib = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
  if (!lib)
    fail("this process was started by mpirun for a run of {} processes, but Open MPI's library cannot be loaded ({}); "
         "install openmpi-bin (./setup.sh does), or run without mpirun",
         launchedSize("OMPI_COMM_WORLD_SIZE"), dlerror());
  auto sym = [&](const char *name) {
    void *p = dlsym(lib, name);
    if (!p) fail("libmpi.so.40 has no symbol {}: data-parallel runs need Open MPI 3 or later", name);
    return p;
  };
  mpi.Init_thread = reinterpret_cast<decltype(mpi.Init_thread)>(sym("MPI_Init_thread"));
  mpi.Comm_rank = reinterpret_cast<decltype(mpi.Comm_rank)>(sym("MPI_Comm_rank"));
  mpi.Comm_size = reinterpret_cast<decltype(mpi.Comm_size)>(sym("MPI_Comm_size"));
  mpi.Isend = reinterpret_cast<decltype(mpi.Isend)>(sym("MPI_Isend"));
  mpi.Irecv = reinterpret_cast<decltype(mpi.Irecv)>(sym("MPI_Irecv"));
  mpi.Testall = reinterpret_cast<decltype(mpi.Testall)>(sym("MPI_Testall"));
  mpi.Finalize = reinterpret_cast<decltype(mpi.Finalize)>(sym("MPI_Finalize"));
  mpi.world = sym("ompi_mpi_comm_world");
  mpi.byte = sym("ompi_mpi_byte");
}

/// Whether this thread sleeps between polls (Cluster::pollGently).
thread_local bool gentle = false;

/// Messages are split in pieces of at most this many bytes (MPI counts are
/// int).
constexpr int64_t kPiece = int64_t(1) << 30;

template <typename T> void addInto(T *own, const T *partial, int64_t n) {
  // partial + own: the chunk's sum so far, in rank order, plus this rank's.
  for (int64_t i = 0; i < n; ++i) own[i] = partial[i] + own[i];
}

template <typename T> void divide(T *x, int64_t n, int by) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] / T(by);
}

} // namespace

bool Cluster::launchedAsMany() { return launchedSize("OMPI_COMM_WORLD_SIZE") > 1; }

Cluster &Cluster::get() {
  static Cluster *c = [] {
    auto *c = new Cluster();
    c->join();
    return c;
  }();
  return *c;
}

void Cluster::join() {
  int launched = launchedSize("OMPI_COMM_WORLD_SIZE");
  if (launched <= 1) return;
  loadMpi();
  int provided = 0;
  if (mpi.Init_thread(nullptr, nullptr, kThreadSerialized, &provided) != kMpiSuccess)
    fail("MPI_Init_thread failed: the processes of this run could not connect");
  threadsMayExchange = provided >= kThreadSerialized;
  mpi.Comm_rank(mpi.world, &rank);
  mpi.Comm_size(mpi.world, &size);
  localSize = std::max(1, launchedSize("OMPI_COMM_WORLD_LOCAL_SIZE"));
  if (rank != 0) {
    // One voice: rank 0 prints progress and notes. Errors still print,
    // tagged with the rank, on the original standard error.
    FILE *err = fdopen(dup(2), "w");
    setvbuf(err, nullptr, _IONBF, 0);
    setErrorOutput(err, fmt::format("rank {}: ", rank));
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    close(null);
  }
}

void Cluster::finish() {
  if (parallel()) mpi.Finalize();
}

void Cluster::exchange(const void *send, int sendBytes, int to, void *recv, int recvBytes, int from) {
  Handle req[2];
  mpi.Irecv(recv, recvBytes, mpi.byte, from, 0, mpi.world, &req[1]);
  mpi.Isend(send, sendBytes, mpi.byte, to, 0, mpi.world, &req[0]);
  // Poll rather than block, so that a stop signal (mpirun sends SIGTERM
  // when another process of the run dies) ends the wait with a message. A
  // signal that reached every process (Ctrl-C) gives the others half a
  // second to finish the step, so that all stop after it and save; a dead
  // one never comes. (mpirun kills what still runs a second after its
  // SIGTERM: odls_base_sigkill_timeout.)
  using Clock = std::chrono::steady_clock;
  Clock::time_point stopSeen{};
  for (long spins = 0;; ++spins) {
    int done = 0;
    mpi.Testall(2, req, &done, nullptr);
    if (done) return;
    if (stopRequested && *stopRequested) {
      if (stopSeen == Clock::time_point{}) stopSeen = Clock::now();
      else if (Clock::now() - stopSeen > std::chrono::milliseconds(500))
        fail("stopped while waiting for the other processes of the run: one of them ended or was stopped (mpirun "
             "stops the others when one ends); {}",
             checkpointNote);
    }
    if (gentle) {
      struct timespec pause = {0, 20000};
      nanosleep(&pause, nullptr);
    } else if (spins > 1000) {
      sched_yield();
    }
  }
}

void Cluster::pollGently() { gentle = true; }

/// One ring round: sBytes at sbuf go to the right neighbour while rBytes
/// arrive from the left into rbuf, in `pieces` messages each (MPI counts
/// are ints). Both ends of a message must agree on `pieces`, so callers
/// derive it from the largest chunk, which every process knows.
void Cluster::passRight(const char *sbuf, int64_t sBytes, char *rbuf, int64_t rBytes, int64_t pieces) {
  int right = (rank + 1) % size, left = (rank + size - 1) % size;
  for (int64_t p = 0; p < pieces; ++p) {
    int64_t so = std::min(sBytes, p * kPiece), ro = std::min(rBytes, p * kPiece);
    exchange(sbuf + so, int(std::min(sBytes - so, kPiece)), right, rbuf + ro, int(std::min(rBytes - ro, kPiece)), left);
  }
}

/// The ring all-gather every collective here ends with. `base` holds
/// `size` chunks, chunk c at bytes chunk(c) = {offset, length}; this
/// process starts with chunk `owned` complete. In round k it passes chunk
/// owned-k to the right and receives chunk owned-k-1 from the left, so
/// after size-1 rounds every process holds every chunk, bit for bit.
void Cluster::ringAllGather(char *base, int owned, int64_t maxChunkBytes,
                            const std::function<std::pair<int64_t, int64_t>(int)> &chunk) {
  const int64_t pieces = std::max<int64_t>(1, (maxChunkBytes + kPiece - 1) / kPiece);
  for (int k = 0; k < size - 1; ++k) {
    auto [so, sb] = chunk(((owned - k) % size + size) % size);
    auto [ro, rb] = chunk(((owned - k - 1) % size + size) % size);
    passRight(base + so, sb, base + ro, rb, pieces);
  }
}

void Cluster::average(void *data, int64_t n, int dtype) {
  if (size == 1) return;
  auto t0 = std::chrono::steady_clock::now();
  const int64_t eb = dtype == GRT_F64 ? 8 : 4;
  // Chunk c is elements [c·L, (c+1)·L) ∩ [0, n); the last may be short or
  // empty.
  const int64_t L = (n + size - 1) / size;
  const int64_t pieces = std::max<int64_t>(1, (L * eb + kPiece - 1) / kPiece);
  auto lo = [&](int64_t c) { return std::min(n, c * L); };
  auto bytes = [&](int64_t c) { return (std::min(n, (c + 1) * L) - lo(c)) * eb; };
  auto mod = [&](int64_t c) { return int((c % size + size) % size); };
  char *d = static_cast<char *>(data);
  // Reused from call to call: a fresh 20 MB buffer every step cost its
  // page faults each time.
  std::vector<char> &partial = scratch;
  if (partial.size() < size_t(L * eb)) partial.resize(size_t(L * eb));
  // Reduce-scatter: in round k this rank passes on chunk r-k and adds its
  // own values to chunk r-k-1, whose sum so far arrives from the left.
  // Chunk c is summed as ((g_c + g_c+1) + g_c+2) + ... and ends on rank c-1.
  for (int k = 0; k < size - 1; ++k) {
    int sc = mod(rank - k), rc = mod(rank - k - 1);
    passRight(d + lo(sc) * eb, bytes(sc), partial.data(), bytes(rc), pieces);
    if (dtype == GRT_F64) addInto(reinterpret_cast<double *>(d) + lo(rc), reinterpret_cast<double *>(partial.data()), bytes(rc) / eb);
    else addInto(reinterpret_cast<float *>(d) + lo(rc), reinterpret_cast<float *>(partial.data()), bytes(rc) / eb);
  }
  int own = mod(rank + 1);
  if (dtype == GRT_F64) divide(reinterpret_cast<double *>(d) + lo(own), bytes(own) / eb, size);
  else divide(reinterpret_cast<float *>(d) + lo(own), bytes(own) / eb, size);
  // All-gather: each finished chunk travels round the ring, copied as is.
  ringAllGather(d, own, L * eb, [&](int c) { return std::pair{lo(c) * eb, bytes(c)}; });
  exchangeSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::string> Cluster::gather(const std::string &mine) {
  if (size == 1) return {mine};
  // Lengths first, then every string padded to the longest.
  std::vector<double> lengths = gather(std::vector<double>{double(mine.size())});
  int64_t width = int64_t(*std::max_element(lengths.begin(), lengths.end()));
  std::vector<char> all(size_t(width) * size_t(size));
  std::memcpy(all.data() + width * rank, mine.data(), mine.size());
  ringAllGather(all.data(), rank, width, [&](int c) { return std::pair{width * c, width}; });
  std::vector<std::string> out;
  for (int r = 0; r < size; ++r) out.emplace_back(all.data() + width * r, size_t(lengths[size_t(r)]));
  return out;
}

std::vector<double> Cluster::gather(const std::vector<double> &mine) {
  const int64_t bytes = int64_t(mine.size() * sizeof(double));
  std::vector<double> all(mine.size() * size_t(size), 0.0);
  std::copy(mine.begin(), mine.end(), all.begin() + ptrdiff_t(mine.size() * size_t(rank)));
  ringAllGather(reinterpret_cast<char *>(all.data()), rank, bytes, [&](int c) { return std::pair{bytes * c, bytes}; });
  return all;
}

double Cluster::sum(double x) {
  double total = 0;
  for (double v : gather(std::vector<double>{x})) total += v;
  return total;
}

} // namespace grt
