//===- ir/SourceDiag.cpp - a message at a place in a source, caret included ===//
#include "ir/SourceDiag.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <string>
#include <vector>

namespace gradc {

static void printShown(const llvm::SourceMgr &sm, llvm::raw_ostream &os, const llvm::SMDiagnostic &d,
                       llvm::SourceMgr::DiagKind kind) {
  llvm::StringRef line = d.getLineContents();
  if (d.getColumnNo() < 0 || llvm::all_of(line, [](char c) { return (unsigned char)c < 0x80; })) {
    d.print(nullptr, os);
    return;
  }
  // column[i]: the character that byte i of the line belongs to. LLVM then
  // places the caret on a copy of the line with one '?' per character, and
  // the line itself is printed as it is.
  std::vector<unsigned> column(line.size() + 1);
  std::string plain;
  for (size_t i = 0; i < line.size();) {
    auto c = (unsigned char)line[i];
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    // Only continuation bytes (10xxxxxx) belong to it: a stray lead byte
    // is one character of its own.
    for (size_t j = 1; j < len; ++j)
      if (i + j >= line.size() || ((unsigned char)line[i + j] & 0xC0) != 0x80) len = j;
    for (size_t j = 0; j < len; ++j) column[i + j] = unsigned(plain.size());
    plain += c < 0x80 ? char(c) : '?';
    i += len;
  }
  column[line.size()] = unsigned(plain.size());
  auto at = [&](int byte) { return column[size_t(std::clamp(byte, 0, int(line.size())))]; };
  std::vector<std::pair<unsigned, unsigned>> spans;
  for (auto [b, e] : d.getRanges()) spans.push_back({at(int(b)), at(int(e))});
  llvm::SMDiagnostic shown(sm, d.getLoc(), d.getFilename(), d.getLineNo(), int(at(d.getColumnNo())), kind, d.getMessage(),
                           plain, spans);
  std::string text;
  llvm::raw_string_ostream out(text);
  shown.print(nullptr, out, /*ShowColors=*/false);
  // The message, then the line with '?' (replaced by the real one), then
  // the caret.
  size_t first = text.find('\n'), second = first == std::string::npos ? first : text.find('\n', first + 1);
  if (second == std::string::npos) {
    os << text;
    return;
  }
  os << llvm::StringRef(text).take_front(first + 1) << line << llvm::StringRef(text).drop_front(second);
}


void printMessage(const llvm::SourceMgr &sm, llvm::raw_ostream &os, llvm::SMLoc loc, llvm::SourceMgr::DiagKind kind,
                  const llvm::Twine &msg, llvm::ArrayRef<llvm::SMRange> ranges) {
  llvm::SMDiagnostic d = sm.GetMessage(loc, kind, msg, ranges);
  // A long line (a generated model, a 10 MB comment) is shown as a window
  // around the caret, "..." at each cut end: it was printed whole, once per
  // error and note.
  constexpr int kBefore = 80, kAfter = 120;
  if (llvm::StringRef full = d.getLineContents(); d.getColumnNo() >= 0 && full.size() > size_t(kBefore + kAfter + 40)) {
    auto continuation = [&](size_t i) { return i < full.size() && ((unsigned char)full[i] & 0xC0) == 0x80; };
    size_t from = size_t(std::max(0, d.getColumnNo() - kBefore)), to = std::min(full.size(), size_t(d.getColumnNo() + kAfter));
    while (from > 0 && continuation(from)) --from;
    while (to < full.size() && continuation(to)) --to;
    std::string head = from > 0 ? "..." : "", window = head + full.slice(from, to).str() + (to < full.size() ? "..." : "");
    int shift = int(head.size()) - int(from);
    std::vector<std::pair<unsigned, unsigned>> spans;
    for (auto [b, e] : d.getRanges()) {
      int nb = std::clamp(int(b) + shift, 0, int(window.size())), ne = std::clamp(int(e) + shift, 0, int(window.size()));
      if (nb < ne) spans.push_back({unsigned(nb), unsigned(ne)});
    }
    llvm::SMDiagnostic cut(sm, d.getLoc(), d.getFilename(), d.getLineNo(), d.getColumnNo() + shift, kind, d.getMessage(),
                           window, spans);
    // The caret goes by the window; file:line:col keeps the line's column.
    std::string text;
    llvm::raw_string_ostream out(text);
    printShown(sm, out, cut, kind);
    std::string at = (d.getFilename() + ":" + llvm::Twine(d.getLineNo()) + ":").str();
    if (llvm::StringRef(text).starts_with(at)) {
      size_t colEnd = text.find(':', at.size());
      if (colEnd != std::string::npos) text.replace(at.size(), colEnd - at.size(), std::to_string(d.getColumnNo() + 1));
    }
    os << text;
    return;
  }
  printShown(sm, os, d, kind);
}


} // namespace gradc
