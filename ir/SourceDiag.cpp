//===- ir/SourceDiag.cpp - a message at a place in a source, caret included ===//
#include "ir/SourceDiag.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Unicode.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace gradc {

/// Puts `col` (from 1) in the "file:line:col:" that starts `text`.
static void setColumn(std::string &text, const llvm::SMDiagnostic &d, int col) {
  std::string at = (d.getFilename() + ":" + llvm::Twine(d.getLineNo()) + ":").str();
  if (!llvm::StringRef(text).starts_with(at)) return;
  size_t colEnd = text.find(':', at.size());
  if (colEnd != std::string::npos) text.replace(at.size(), colEnd - at.size(), std::to_string(col));
}

/// The code point of one well-formed UTF-8 sequence.
static unsigned codePoint(llvm::StringRef s) {
  auto c = (unsigned char)s[0];
  unsigned cp = s.size() == 1 ? c : s.size() == 2 ? c & 0x1F : s.size() == 3 ? c & 0x0F : c & 0x07;
  for (size_t i = 1; i < s.size(); ++i) cp = cp << 6 | ((unsigned char)s[i] & 0x3F);
  return cp;
}

/// How one character (a UTF-8 sequence, or a byte of none) is shown in a
/// message or a quoted source line, or "" where it is shown as it is. A
/// control character is escaped, never sent to the terminal: an ESC [2J in
/// a comment on the line of an error cleared the user's screen. So is a
/// character a terminal draws in no column, or not at all (a zero-width
/// space or joiner moved the caret one column right each; a right-to-left
/// override reordered the line as shown), and a byte that is no UTF-8 (a
/// lone 0x9b is CSI to an 8-bit terminal).
static std::string escapedCharacter(llvm::StringRef ch) {
  auto c = (unsigned char)ch[0];
  if (c < 0x80)
    return (c >= 0x20 && c < 0x7F) || c == '\t' ? "" : llvm::formatv("\\x{0:x-2}", unsigned(c)).str();
  int width = llvm::sys::unicode::columnWidthUTF8(ch);
  if (ch.size() == 1 || width == llvm::sys::unicode::ErrorInvalidUTF8) {
    std::string out;
    for (char b : ch) out += llvm::formatv("\\x{0:x-2}", unsigned((unsigned char)b)).str();
    return out;
  }
  if (width == llvm::sys::unicode::ErrorNonPrintableCharacter)
    return llvm::formatv("\\u{{{0:x-4}}", codePoint(ch)).str();
  return "";
}

/// The length of the UTF-8 sequence at s[i] (1 for a byte that starts
/// none, or one cut short).
static size_t sequenceLength(llvm::StringRef s, size_t i) {
  auto c = (unsigned char)s[i];
  size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
  for (size_t j = 1; j < len; ++j)
    if (i + j >= s.size() || ((unsigned char)s[i + j] & 0xC0) != 0x80) return j;
  return len;
}

std::string shownMessage(llvm::StringRef msg) {
  std::string out;
  for (size_t i = 0; i < msg.size();) {
    size_t len = sequenceLength(msg, i);
    llvm::StringRef ch = msg.substr(i, len);
    // A message's own line breaks and tabs stay (notes indent with them).
    std::string shown = ch == "\n" || ch == "\t" ? "" : escapedCharacter(ch);
    out += shown.empty() ? ch.str() : shown;
    i += len;
  }
  return out;
}

std::string shownValue(llvm::StringRef value) {
  std::string out;
  for (char c : shownMessage(value)) out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : std::string(1, c);
  return out;
}

static void printShown(const llvm::SourceMgr &sm, llvm::raw_ostream &os, const llvm::SMDiagnostic &d,
                       llvm::SourceMgr::DiagKind kind) {
  llvm::StringRef line = d.getLineContents();
  // Printable ASCII and tabs: LLVM's own printing is right.
  auto plainAscii = [](char ch) {
    auto c = (unsigned char)ch;
    return (c >= 0x20 && c < 0x7F) || c == '\t';
  };
  if (d.getColumnNo() < 0 || llvm::all_of(line, plainAscii)) {
    d.print(nullptr, os);
    return;
  }
  // A terminal shows a character in its display width: 2 columns for an
  // East Asian wide one (日), 0 for a combining mark. column[i]: the
  // display column where the character of byte i starts; character[i]: its
  // number on the line, for file:line:col. LLVM then places the caret on a
  // copy of the line with one '?' per column, and the line itself is
  // printed in its place, its tabs expanded to the same stops of 8 that
  // LLVM uses for an ASCII line (a terminal would expand a raw tab by its
  // own count, off by every wide character before it).
  std::vector<unsigned> column(line.size() + 1), character(line.size() + 1);
  std::string plain, expanded;
  unsigned chars = 0;
  for (size_t i = 0; i < line.size();) {
    auto c = (unsigned char)line[i];
    // Only continuation bytes (10xxxxxx) belong to it: a stray lead byte
    // is one character of its own.
    size_t len = sequenceLength(line, i);
    for (size_t j = 0; j < len; ++j) column[i + j] = unsigned(plain.size()), character[i + j] = chars;
    if (c == '\t') {
      size_t n = 8 - plain.size() % 8;
      plain.append(n, ' ');
      expanded.append(n, ' ');
    } else if (plainAscii(char(c))) {
      plain += char(c);
      expanded += char(c);
    } else if (std::string shown = escapedCharacter(line.substr(i, len)); !shown.empty()) {
      plain.append(shown.size(), '?');
      expanded += shown;
    } else {
      int width = llvm::sys::unicode::columnWidthUTF8(line.substr(i, len));
      plain.append(size_t(width < 0 ? 1 : width), '?');
      expanded += line.substr(i, len);
    }
    ++chars;
    i += len;
  }
  column[line.size()] = unsigned(plain.size());
  character[line.size()] = chars;
  auto clampByte = [&](int byte) { return size_t(std::clamp(byte, 0, int(line.size()))); };
  std::vector<std::pair<unsigned, unsigned>> spans;
  for (auto [b, e] : d.getRanges()) spans.push_back({column[clampByte(int(b))], column[clampByte(int(e))]});
  llvm::SMDiagnostic shown(sm, d.getLoc(), d.getFilename(), d.getLineNo(), int(column[clampByte(d.getColumnNo())]), kind,
                           d.getMessage(), plain, spans);
  std::string text;
  llvm::raw_string_ostream out(text);
  shown.print(nullptr, out, /*ShowColors=*/false);
  // file:line:col counts characters; only the caret goes by display width.
  setColumn(text, d, int(character[clampByte(d.getColumnNo())]) + 1);
  // The message, then the line with '?' (replaced by the real one), then
  // the caret.
  size_t first = text.find('\n'), second = first == std::string::npos ? first : text.find('\n', first + 1);
  if (second == std::string::npos) {
    os << text;
    return;
  }
  os << llvm::StringRef(text).take_front(first + 1) << expanded << llvm::StringRef(text).drop_front(second);
}

/// A name of more than 160 characters in a message, cut to its ends: an
/// unknown name 100,000 characters long made a message line of 100,050
/// (the source line below it is cut already).
static std::string shortenedNames(std::string msg) {
  constexpr size_t kLong = 160, kHead = 60, kTail = 20;
  auto nameChar = [](char c) { return std::isalnum((unsigned char)c) || c == '_' || c == '.'; };
  std::string out;
  for (size_t i = 0; i < msg.size();) {
    size_t j = i;
    while (j < msg.size() && nameChar(msg[j])) ++j;
    // Names start with a letter or _: a 171-digit number stays whole.
    if (j - i > kLong && !std::isdigit((unsigned char)msg[i]))
      out += msg.substr(i, kHead) + "..." + msg.substr(j - kTail, kTail) + " (" + std::to_string(j - i) + " characters)";
    else
      out += msg.substr(i, j - i);
    if (j < msg.size()) out += msg[j];
    i = j + 1;
  }
  return out;
}

void printMessage(const llvm::SourceMgr &sm, llvm::raw_ostream &os, llvm::SMLoc loc, llvm::SourceMgr::DiagKind kind,
                  const llvm::Twine &msg, llvm::ArrayRef<llvm::SMRange> ranges) {
  llvm::SMDiagnostic d = sm.GetMessage(loc, kind, shownMessage(shortenedNames(msg.str())), ranges);
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
    // The caret goes by the window; file:line:col keeps the line's column,
    // in characters as on a short line (it gave the byte column here).
    std::string text;
    llvm::raw_string_ostream out(text);
    printShown(sm, out, cut, kind);
    llvm::StringRef before = full.take_front(size_t(d.getColumnNo()));
    setColumn(text, d, int(llvm::count_if(before, [](char c) { return ((unsigned char)c & 0xC0) != 0x80; })) + 1);
    os << text;
    return;
  }
  printShown(sm, os, d, kind);
}


} // namespace gradc
