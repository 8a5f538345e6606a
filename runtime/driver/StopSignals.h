//===- runtime/driver/StopSignals.h - Ctrl-C, SIGTERM, SIGHUP in train ---===//
//
// The first SIGINT, SIGTERM or SIGHUP asks `train` to stop after the step in
// progress and save; the handler records it and says so at once. A second
// one quits at once, unsaved, and says what the checkpoint file holds then
// (the last --save-every save, or nothing), since the steps since are lost.
// During a save too: the old checkpoint stays whole, since a save writes a
// new file and renames it over the old one; that new file, the lock file
// and an empty --plot directory are removed as the process quits.
// Both lines are written from the handler, so only with async-signal-safe
// calls (write, stat), from text prepared here beforehand.
//
//===----------------------------------------------------------------------===//
#pragma once

#include <csignal>
#include <cstdint>
#include <string>

namespace grt {

/// The signal (SIGINT, SIGTERM) that asked training to stop, or 0.
extern volatile std::sig_atomic_t stopSignal;

/// Until the first step, a SIGINT, SIGTERM or SIGHUP quits at once,
/// removing what removeOnQuit names, and says so.
void quitOnStopSignals(bool speaks);
/// Installs the handler for SIGINT, SIGTERM and SIGHUP (each left ignored
/// where the process started with it ignored: nohup, a script's background
/// job). Only a process that `speaks` (rank 0 of a data-parallel run)
/// writes the two lines.
void catchStopSignals(bool speaks);
/// The line the first signal writes, saying what happens next: a string
/// literal (the handler may read it at any time).
void setStopMessage(const char *message);
/// What --save holds, for the line of a second signal: the file (empty: no
/// --save), the step this run last saved there (-1: none yet), and whether
/// that was the run's final save (then nothing is lost by quitting).
void setSavedCheckpoint(const std::string &path, int64_t step, bool final);
/// A save of `step` to `path` begins; setSavedCheckpoint ends it. A second
/// signal meanwhile names the step the file holds as it looks (the new
/// one once renamed into place), or both when the rename may yet land.
/// A step of -1: the save failed.
void setSavingCheckpoint(const std::string &path, int64_t step);

/// What a second signal removes as it quits the process at once (at exit
/// the code that made them does): a save's temporary file, a lock file of
/// ours (only while the name still leads to the file `fd` locked), or a
/// directory this run made (only while it is empty: --plot before the
/// first picture). Returns a slot for forgetOnQuit, or -1 when all
/// kQuitSlots are taken or the path is too long (then it stays, as before).
/// Called from the main thread, which writes every file the run makes.
enum class QuitRemoval { File, Lock, EmptyDir };
constexpr int kQuitSlots = 8;
int removeOnQuit(const std::string &path, QuitRemoval how, int fd = -1);
/// The file is renamed, removed or released: the slot is free again.
void forgetOnQuit(int slot);

} // namespace grt
