//===- frontend/Diagnostics.h - reporting mistakes in .grad files ---------===//
//
// Every user mistake is reported as
//
//   model.grad:9:14: error: shape mismatch in '@': f32[32,3] @ f32[2,1]
//     pred = x @ w + b
//            ~~^~~
//
// through llvm::SourceMgr, which owns the source buffers. A note may follow
// with a hint. Errors are counted so the driver exits non-zero, and capped so
// a hopeless file does not print thousands of lines.
//
// Functions are inlined, so a mistake inside one (a prelude function, say)
// happens once per call. Like a C++ compiler inside a template, each error
// raised inside a call is followed by the chain of calls that led there,
// innermost first, ending in the user's file:
//
//   <prelude>:56:9: error: shape mismatch in '@': f32[8,4] @ f32[3,3]
//   model.grad:7:11: note: in call to 'fc.linear' from here
//
// When the prelude trips over an argument the user passed as it is
// (mean(h, axis = 5) fails at sum(x, axis) inside mean), the error is said
// at that argument instead, and a note shows where the prelude used it.
//
//===----------------------------------------------------------------------===//
#pragma once

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace gradc {

class DiagEngine {
public:
  explicit DiagEngine(llvm::SourceMgr &sm, llvm::raw_ostream &os = llvm::errs()) : sm(sm), os(os) {}

  /// A note that belongs to one error (a hint such as "did you mean"):
  /// printed right after it, before the chain of calls.
  struct Note {
    llvm::SMLoc loc;
    std::string msg;
  };
  void error(llvm::SMLoc loc, const llvm::Twine &msg, llvm::ArrayRef<llvm::SMRange> ranges = {},
             llvm::ArrayRef<Note> notes = {});
  /// An error found at `use`, in a prelude function, about an argument
  /// the user wrote at `arg` and the prelude passed on unchanged: said at
  /// `arg`, with a note at `use`. Counted and deduplicated as an error at
  /// `use` would be.
  /// `how` ends the note: "'mean' uses the argument here".
  void errorAtArgument(llvm::SMRange arg, llvm::SMLoc use, const llvm::Twine &msg,
                       llvm::ArrayRef<Note> notes = {}, llvm::StringRef how = "uses the argument here");
  void note(llvm::SMLoc loc, const llvm::Twine &msg);
  /// Something legal that is almost certainly not meant; not counted.
  void warning(llvm::SMLoc loc, const llvm::Twine &msg);
  /// An error with no position in any file (a bad -D flag, a missing file).
  void error(const llvm::Twine &msg);
  /// A note with no position, after errors (not counted).
  void remark(const llvm::Twine &msg);
  /// Text another engine said (warnings of a reading that was kept).
  void replay(llvm::StringRef text) { os << text; }

  /// One call being inlined: where it was written and what it calls
  /// ("linear", or "fc.linear" with its scope).
  struct CallSite {
    llvm::SMLoc loc;
    std::string callee;
    /// Said after the call's note: `h.mean(-1, true)` that fails inside
    /// mean is told that h is a scope there, not mean's argument.
    llvm::SmallVector<Note, 1> notes = {};
  };
  /// The calls being inlined, outermost first; errors list them.
  std::vector<CallSite> calls;
  /// One pass of a loop being unrolled: its `for`, its variable and the
  /// value it has in this pass.
  struct LoopPass {
    llvm::SMLoc loc;
    std::string var;
    int64_t value;
    size_t depth; // calls.size() where the loop is: its note goes among theirs
  };
  /// The loops being unrolled, outermost first. An error inside one is said
  /// once per place, at the first pass it happens in, which a note names
  /// (a slice out of range at i = 4998 was said 30 times, each with another
  /// i:i+3 and none naming i, then "too many errors").
  std::vector<LoopPass> loops;
  /// A chain longer than twice this shows this many calls at each end.
  static constexpr size_t kChainEnds = 4;

  unsigned errorCount() const { return errors; }
  bool hasErrors() const { return errors > 0; }
  /// After this many errors further ones are dropped (and counted).
  static constexpr unsigned kMaxErrors = 30;
  bool tooMany() const { return errors >= kMaxErrors; }
  /// Says, once, that no more errors will be reported (the parser stops
  /// at kMaxErrors with no word of it, where sema said it).
  void sayStopping();
  /// After an error said at the user's call into the prelude (not in it):
  /// the call's later errors in the prelude are dropped, as after its
  /// first one there.
  void claimPreludeCall();

  llvm::SourceMgr &sourceMgr() { return sm; }
  /// Whether loc is in the prelude's source (frontend/Prelude.grad).
  bool inPrelude(llvm::SMLoc loc) const;
  /// The first character of the source buffer that holds `loc`.
  const char *bufferStart(llvm::SMLoc loc) const;

private:
  /// Whether an error at `loc` is to be said (not said before, not past
  /// the cap); counts it.
  bool admit(llvm::SMLoc loc, const std::string &msg);
  /// Prints an admitted error, its notes, and the loops and calls it is in.
  void print(llvm::SMLoc loc, const std::string &msg, llvm::ArrayRef<llvm::SMRange> ranges,
             llvm::ArrayRef<Note> notes);

  llvm::SourceMgr &sm;
  llvm::raw_ostream &os;
  unsigned errors = 0;
  bool lastDropped = false;
  llvm::StringSet<> said; // errors printed: message, place and calls
  bool saidStopping = false;
  /// What tells the user's calls into the prelude apart ("" outside one).
  std::string preludeCallKey() const;
};

} // namespace gradc
