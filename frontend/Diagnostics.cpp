//===- frontend/Diagnostics.cpp - reporting mistakes in .grad files -------===//
#include "frontend/Diagnostics.h"

#include "ir/SourceDiag.h"

#include <set>
#include <tuple>

namespace gradc {

void DiagEngine::error(llvm::SMLoc loc, const llvm::Twine &msg, llvm::ArrayRef<llvm::SMRange> ranges,
                       llvm::ArrayRef<Note> notes) {
  std::string text = msg.str();
  if (admit(loc, text)) print(loc, text, ranges, notes);
}

void DiagEngine::errorAtArgument(llvm::SMRange arg, llvm::SMLoc use, const llvm::Twine &msg,
                                 llvm::ArrayRef<Note> notes, llvm::StringRef how) {
  std::string text = msg.str();
  // Said at the argument, it is the argument's line's mistake: in a
  // function of the user's called twice it is said once, as one written
  // there directly is.
  std::string at = text + "@arg" + std::to_string(uintptr_t(arg.Start.getPointer()));
  if (said.count(at)) {
    lastDropped = true;
    return;
  }
  if (!admit(use, text)) return;
  said.insert(at);
  std::vector<Note> all;
  all.push_back({use, "'" + (calls.empty() ? std::string("the prelude") : calls.back().callee) + "' " + how.str()});
  all.insert(all.end(), notes.begin(), notes.end());
  print(arg.Start, text, {arg}, all);
}

std::string DiagEngine::preludeCallKey() const {
  size_t userCalls = calls.size();
  while (userCalls > 0 && inPrelude(calls[userCalls - 1].loc)) --userCalls;
  if (userCalls == 0) return "";
  std::string call = "prelude";
  for (size_t i = 0; i < userCalls; ++i) call += "<" + std::to_string(uintptr_t(calls[i].loc.getPointer()));
  return call;
}

void DiagEngine::claimPreludeCall() {
  if (std::string call = preludeCallKey(); !call.empty()) said.insert(call);
}

void DiagEngine::sayStopping() {
  if (saidStopping) return;
  saidStopping = true;
  os << "gradc: too many errors; stopping here\n";
}

bool DiagEngine::admit(llvm::SMLoc loc, const std::string &msg) {
  // A loop evaluates its body once per pass: the same mistake, at the same
  // place through the same calls, is said once (with its notes).
  std::string place = "@" + std::to_string(uintptr_t(loc.getPointer()));
  for (auto &c : calls) place += "<" + std::to_string(uintptr_t(c.loc.getPointer()));
  if (!said.insert(msg + place).second) {
    lastDropped = true;
    return false;
  }
  // Inside a function of the user's, the same message at the same place is
  // said once, whatever the calls that led there: a body that reads the
  // model's w said so once per call, identically. (The prelude's errors
  // are told apart by call below: each names a mistake in its call.)
  if (!calls.empty() && !inPrelude(loc) && !said.insert(msg + "@" + std::to_string(uintptr_t(loc.getPointer()))).second) {
    lastDropped = true;
    return false;
  }
  // Inside a loop, a place (with its calls) is said once whatever the
  // message: a slice i:i+3 out of range reads differently at each pass.
  if (!loops.empty()) {
    if (!said.insert("loop" + place).second) {
      lastDropped = true;
      return false;
    }
  }
  // A mistake passed into a prelude function trips each of its lines that
  // reads the bad argument (mean's sum, then its numel, both on axis -3):
  // inside the prelude, only the first error of each call from the user's
  // code is said. The calls after the last one written in a user's file are
  // the prelude's own.
  if (inPrelude(loc)) {
    std::string call = preludeCallKey();
    if (!call.empty() && !said.insert(call).second) {
      lastDropped = true;
      return false;
    }
  }
  ++errors;
  lastDropped = errors > kMaxErrors;
  if (errors == kMaxErrors + 1) sayStopping();
  return !lastDropped;
}

void DiagEngine::print(llvm::SMLoc loc, const std::string &msg, llvm::ArrayRef<llvm::SMRange> ranges,
                       llvm::ArrayRef<Note> notes) {
  printMessage(sm, os, loc, llvm::SourceMgr::DK_Error, msg, ranges);
  for (auto &n : notes) printMessage(sm, os, n.loc, llvm::SourceMgr::DK_Note, n.msg);
  // The pass of each loop of the user's it happened in (the prelude's loops
  // are its own business), among the calls, innermost first: a loop two
  // calls further out was said before both calls, as if it were inside.
  auto sayLoop = [&](size_t i) {
    printMessage(sm, os, loops[i].loc, llvm::SourceMgr::DK_Note,
                 "in the pass of this loop with " + loops[i].var + " = " + std::to_string(loops[i].value) +
                     (i + 1 == loops.size() ? " (a mistake here is said for its first pass only)" : ""));
  };
  auto loopsAt = [&](size_t depth) {
    for (size_t i = loops.size(); i-- > 0;)
      if (loops[i].depth == depth && !inPrelude(loops[i].loc)) sayLoop(i);
  };
  // Innermost first. A run of the same call (a recursion through one line)
  // is said once with its count: `return f(x, n - 1)` was said once per
  // level, identically. Levels join a run when the loops they stand in
  // are the same too (a recursion inside a loop's pass). A deep chain of
  // others shows its two ends.
  struct Run {
    size_t outer, inner; // calls[outer..inner], each the same call
  };
  // The user's loops a level's call stands in (depth: calls.size() there).
  auto loopsOf = [&](size_t depth) {
    std::vector<std::tuple<const char *, std::string, int64_t>> in;
    for (const LoopPass &l : loops)
      if (l.depth == depth && !inPrelude(l.loc)) in.emplace_back(l.loc.getPointer(), l.var, l.value);
    return in;
  };
  std::vector<Run> runs;
  for (size_t i = calls.size(); i-- > 0;) {
    if (!runs.empty()) {
      Run &r = runs.back();
      if (calls[i].loc == calls[r.outer].loc && calls[i].callee == calls[r.outer].callee &&
          loopsOf(i + 1) == loopsOf(r.outer + 1)) {
        r.outer = i;
        continue;
      }
    }
    runs.push_back({i, i});
  }
  for (size_t k = 0; k < runs.size(); ++k) {
    loopsAt(runs[k].inner + 1);
    if (runs.size() > 2 * kChainEnds && k == kChainEnds) {
      size_t last = runs.size() - kChainEnds; // the first of the outer ends shown
      size_t skipped = runs[k].inner - runs[last - 1].outer + 1;
      llvm::SMDiagnostic("", llvm::SourceMgr::DK_Note, "(" + std::to_string(skipped) + " more calls in between are not shown)")
          .print(nullptr, os);
      // The loops among the calls not shown are, each pass once (the
      // innermost one says that a mistake is reported for its first pass
      // only; a recursion through a loop repeated the same pass 56 times).
      std::set<std::tuple<const char *, std::string, int64_t>> shown;
      for (size_t d = runs[k].inner; d > runs[last - 1].outer; --d)
        for (size_t i = loops.size(); i-- > 0;)
          if (const LoopPass &l = loops[i]; l.depth == d && !inPrelude(l.loc) &&
                                            shown.emplace(l.loc.getPointer(), l.var, l.value).second)
            sayLoop(i);
      k = last - 1;
      continue;
    }
    size_t times = runs[k].inner - runs[k].outer + 1;
    const CallSite &c = calls[runs[k].inner];
    printMessage(sm, os, c.loc, llvm::SourceMgr::DK_Note,
                 "in call to '" + c.callee + "' from here" +
                     (times > 1 ? " (" + std::to_string(times) + " calls deep: a recursion)" : std::string()));
    for (const Note &n : c.notes) printMessage(sm, os, n.loc, llvm::SourceMgr::DK_Note, n.msg);
  }
  loopsAt(0);
}

const char *DiagEngine::bufferStart(llvm::SMLoc loc) const {
  unsigned id = sm.FindBufferContainingLoc(loc);
  return id ? sm.getMemoryBuffer(id)->getBufferStart() : loc.getPointer();
}

bool DiagEngine::inPrelude(llvm::SMLoc loc) const {
  unsigned id = loc.isValid() ? sm.FindBufferContainingLoc(loc) : 0;
  return id != 0 && sm.getMemoryBuffer(id)->getBufferIdentifier() == "<prelude>";
}

void DiagEngine::warning(llvm::SMLoc loc, const llvm::Twine &msg) {
  printMessage(sm, os, loc, llvm::SourceMgr::DK_Warning, msg);
}

void DiagEngine::note(llvm::SMLoc loc, const llvm::Twine &msg) {
  if (lastDropped) return;
  printMessage(sm, os, loc, llvm::SourceMgr::DK_Note, msg);
}

void DiagEngine::remark(const llvm::Twine &msg) { os << "gradc: note: " << shownMessage(msg.str()) << "\n"; }

void DiagEngine::error(const llvm::Twine &msg) {
  ++errors;
  os << "gradc: error: " << shownMessage(msg.str()) << "\n";
}

} // namespace gradc
