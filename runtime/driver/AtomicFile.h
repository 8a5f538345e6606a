//===- runtime/driver/AtomicFile.h - files written whole or not at all ----===//
//
// Everything an executable writes for later (checkpoints, tokenizers, the
// token cache, pictures) goes to PATH.tmp-PID first and is renamed over
// PATH once complete and synced: a reader never sees half a file, and a
// write that fails (a full disk, Ctrl-C, kill -9) leaves the previous file
// as it was. A leftover PATH.tmp-PID names the process that wrote it, so a
// later save can tell a dead writer's file from a live one's.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace grt {

/// PATH.tmp-PID: where a write to PATH by process `pid` goes first.
std::string temporaryName(const std::string &path, long pid);
/// ... by this process.
std::string temporaryName(const std::string &path);

/// Removes PATH.tmp-PID files whose process is gone: what a write killed
/// mid-way (kill -9, power loss) left behind. A live process's file, or
/// another name, is never touched; each removal is said in a note. For
/// the files one process writes (checkpoints, tokenizers): a process
/// on another machine sharing the directory would look dead here.
void removeStaleTemporaries(const std::string &path);

/// write() all of `data` to `fd`, retrying on short or interrupted writes.
bool writeAll(int fd, const void *data, size_t n);

/// Writes PATH through its temporary: `body` writes the contents to the
/// descriptor (with writeAll; false on failure), then the file is synced and
/// renamed over PATH. Returns "" on success, else why it failed (strerror),
/// with the temporary removed and PATH unchanged.
std::string writeAtomically(const std::string &path, const std::function<bool(int fd)> &body);
/// The same for contents already in memory.
std::string writeAtomically(const std::string &path, std::string_view contents);

/// PATH with the symbolic links at its end followed, link by link (a
/// dangling one included), at most as many as the kernel follows (40);
/// "" with errno set for a loop or a link that cannot be read.
std::string followLinks(const std::string &path);

/// Claims PATH for this process's writes until it exits: an advisory lock
/// (flock) on PATH.lock beside the file PATH leads to (through links),
/// which holds the PID and is removed at exit (the kernel drops the lock of
/// a process that dies, so one left by kill -9 claims nothing). Two runs
/// saving to one checkpoint each renamed its saves over the other's, and
/// both said "saved". Returns "" once claimed, or why not, as a message
/// naming the option WHAT ("--save"): another run holds it, or PATH.lock
/// is a link or a file that is not a lock (never truncated or removed).
/// Where no lock file can be made (a read-only directory), it claims
/// nothing and returns "": the save itself then says what is wrong.
std::string claimForWriting(const std::string &path, const std::string &what);
/// Gives up this process's claims now, once its last write is done: under
/// mpirun a process that stopped may be killed before it exits (the first
/// to exit non-zero ends the job), and its PATH.lock was left behind.
void releaseClaims();

} // namespace grt
