//===- runtime/driver/Csv.cpp - reading CSV files of numbers --------------===//
#include "driver/Csv.h"

#include "core/Runtime.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <new>
#include <sys/stat.h>

namespace grt {

/// The longest line read: a row of a thousand long numbers is some 30 KiB.
static constexpr size_t kMaxLineBytes = size_t(64) << 20;

int CsvTable::column(const std::string &name) const {
  auto it = index.find(name);
  return it == index.end() ? -1 : it->second;
}

const std::vector<double> &CsvTable::numbers(int c) const {
  if (!notNumbers[size_t(c)].empty()) fail("{}", notNumbers[size_t(c)]);
  return columns[size_t(c)];
}

static std::string trim(const std::string &s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

/// The fields of one line, split at commas outside double quotes (as a
/// spreadsheet writes "1,5" or a name with a comma). A quoted field loses
/// its quotes, and "" inside it is one quote. A quote opens a field only
/// at its start, and only spaces may follow the one that closes it: 1"2"
/// lost its quotes and read as 12. Returns "" or what is wrong.
static std::string fields(const std::string &line, std::vector<std::string> &out) {
  out.clear();
  std::string field, raw; // raw: the field as written, for the message
  bool quoted = false, closed = false;
  auto misplaced = [&] {
    return "a quote in the middle of the field '" + shown(trim(raw)) +
           "...'; a field that holds a quote is quoted whole, with the quote doubled, as \"1\"\"2\"";
  };
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      raw += c;
      if (c != '"') field += c;
      else if (i + 1 < line.size() && line[i + 1] == '"') field += '"', raw += '"', ++i;
      else quoted = false, closed = true;
    } else if (c == ',') {
      out.push_back(trim(field));
      field.clear(), raw.clear();
      closed = false;
    } else if (c == '"') {
      raw += c;
      if (closed || !trim(field).empty()) return misplaced();
      quoted = true;
    } else {
      raw += c;
      if (closed && c != ' ' && c != '\t') return misplaced();
      field += c;
    }
  }
  if (quoted) return "a quoted field is not closed on its line";
  out.push_back(trim(field));
  return "";
}

std::string dataFileName(const std::string &path) { return path == "/dev/stdin" ? "standard input" : path; }

void checkDataFile(const std::string &path, const struct stat &st, const char *kind) {
  bool stdinput = path == "/dev/stdin";
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    fail("cannot read {}{}: {}", kind, stdinput ? "standard input (--data -)" : path,
         !stdinput              ? "not a regular file"
         : S_ISDIR(st.st_mode) ? "it is a directory, not a file or a pipe"
                               : "it is a device (/dev/null, a terminal), not a file or a pipe");
  if (S_ISFIFO(st.st_mode) && !stdinput)
    std::fprintf(stderr, "note: %s is %s pipe: reading waits until something writes to it\n", path.c_str(),
                 path.rfind("/dev/fd/", 0) == 0 || path.rfind("/proc/self/fd/", 0) == 0 ? "an anonymous" : "a named");
}

CsvTable readCsv(const std::string &file, const std::function<void(const CsvTable &)> &onHeader) {
  // A device (/dev/zero, /dev/urandom) is one endless line.
  struct stat st;
  if (stat(file.c_str(), &st) == 0) checkDataFile(file, st, "");
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot read {}: {}", dataFileName(file), std::strerror(errno));
  // What messages call it: --data - is standard input, not /dev/stdin.
  const std::string path = dataFileName(file);
  CsvTable t;
  t.path = path;
  std::string line;
  int64_t lineNo = 0;
  bool headerSeen = false; // onHeader has run
  // One line into `line`: lines end in LF, CRLF, or CR alone (old Mac text,
  // which read as one long line with "a header but no data rows"). A NUL
  // byte ends the reading at once, and so does a line past 64 MiB:
  // std::getline read a file with no newline whole first (4 GiB of zeros
  // took 8 GiB of memory and never answered).
  auto nextLine = [&] {
    line.clear();
    std::streambuf *sb = in.rdbuf();
    for (int c; (c = sb->sbumpc()) != std::char_traits<char>::eof();) {
      if (c == '\n') return true;
      if (c == '\r') {
        if (sb->sgetc() == '\n') sb->sbumpc();
        return true;
      }
      if (c == 0) fail("{}:{}: not a text file (it contains NUL bytes)", path, lineNo + 1);
      try {
        line.push_back(char(c));
      } catch (const std::bad_alloc &) {
        fail("cannot read {} after line {}: out of memory for its next line (a line longer than the memory this "
             "process may use)",
             path, lineNo);
      }
      if (line.size() > kMaxLineBytes)
        fail("{}:{}: a line longer than {} MiB; a CSV file has a row per line", path, lineNo + 1,
             kMaxLineBytes >> 20);
    }
    return !line.empty();
  };
  while (nextLine()) {
    ++lineNo;
    // A spreadsheet's UTF-8 byte-order mark is not part of the first name.
    if (lineNo == 1 && line.rfind("\xEF\xBB\xBF", 0) == 0) line.erase(0, 3);
    if (trim(line).empty()) continue;
    if (line.find('\0') != std::string::npos) fail("{}:{}: not a text file (it contains NUL bytes)", path, lineNo);
    for (unsigned char c : line)
      if ((c < 0x20 && c != '\t') || c == 0x7f)
        fail("{}:{}: not a text file (it contains the control byte 0x{:02x})", path, lineNo, int(c));
    std::vector<std::string> fs;
    if (std::string why = fields(line, fs); !why.empty()) fail("{}:{}: {}", path, lineNo, why);
    if (t.header.empty()) {
      if (fs.size() == 1 && fs[0].find_first_of("\t;") != std::string::npos)
        fail("{}:{}: the header is one column '{}'; separate the columns with commas, not {}", path, lineNo,
             shown(fs[0]), fs[0].find('\t') != std::string::npos ? "tabs" : "semicolons");
      t.header = fs;
      for (size_t i = 0; i < fs.size(); ++i) {
        if (fs[i].empty()) fail("{}:{}: column {} of the header has no name", path, lineNo, i + 1);
        auto [at, fresh] = t.index.emplace(fs[i], int(i));
        if (!fresh) fail("{}:{}: columns {} and {} of the header are both named '{}'", path, lineNo, at->second + 1, i + 1, shown(fs[i]));
      }
      t.columns.resize(fs.size());
      t.notNumbers.resize(fs.size());
      t.notNumberHeld.resize(fs.size());
      t.truths.resize(fs.size());
      t.underflows.resize(fs.size());
      continue;
    }
    // The header's names are checked once the first row is known to be
    // text: a binary file is "not a text file", not "missing column 'x'".
    if (onHeader && !headerSeen) onHeader(t);
    headerSeen = true;
    if (fs.size() != t.header.size())
      fail("{}:{}: expected {} fields like the header, found {}", path, lineNo, t.header.size(), fs.size());
    for (size_t c = 0; c < fs.size(); ++c) {
      const std::string &f = fs[c];
      char *end = nullptr;
      errno = 0;
      double v = f.empty() ? NAN : std::strtod(f.c_str(), &end);
      bool truth = false;
      if (f.size() == 4 || f.size() == 5) {
        std::string lower = f;
        for (char &ch : lower) ch = char(std::tolower((unsigned char)ch));
        if (lower == "true" || lower == "false") {
          v = lower == "true";
          truth = true;
          if (t.truths[c].empty())
            t.truths[c] = fmt::format("{}:{}: column '{}' holds '{}'", path, lineNo, shown(t.header[c]), shown(f));
        }
      }
      // Underflow (1e-400, ERANGE) is a number, read as 0 or a subnormal;
      // overflow (1e400) is ±HUGE_VAL, not finite. A float input takes the
      // 0; an integer or bool one must not (1e-400 is no integer).
      if (!truth && v == 0 && errno == ERANGE && t.underflows[c].empty())
        t.underflows[c] = fmt::format("{}:{}: column '{}' holds '{}'", path, lineNo, shown(t.header[c]), shown(f));
      // Decimal only: strtod also reads hexadecimal (0x10 as 16, 0x1p3 as
      // 8), which no spreadsheet writes and the language itself refuses.
      bool decimal = f.find_first_not_of("0123456789+-.eE \t") == std::string::npos;
      if (!truth && (f.empty() || *end || !decimal || !std::isfinite(v))) {
        if (t.notNumbers[c].empty()) {
          // "1,000" (quoted, as spreadsheets write a thousands separator),
          // or "1,5" (a decimal comma): groups of three after each comma
          // are the one, anything else the other.
          std::string hint;
          if (f.find(',') != std::string::npos && f.find_first_not_of("0123456789,.+-") == std::string::npos) {
            bool thousands = true;
            for (size_t at = f.find(','); at != std::string::npos; at = f.find(',', at + 1)) {
              size_t stop = std::min(f.size(), f.find_first_not_of("0123456789", at + 1));
              thousands = thousands && stop - at - 1 == 3;
            }
            hint = thousands ? " (write numbers without thousands separators)" : " (the decimal separator is '.')";
          }
          t.notNumbers[c] = fmt::format("{}:{}: column '{}': '{}' is not a {}{}", path, lineNo, shown(t.header[c]), shown(f),
                                        !f.empty() && !*end && std::isfinite(v) ? "decimal number" : "finite number", hint);
          t.notNumberHeld[c] = fmt::format("{}:{}: column '{}' holds '{}'", path, lineNo, shown(t.header[c]), shown(f));
        }
        v = NAN;
      }
      t.columns[c].push_back(v);
    }
    t.lines.push_back(lineNo);
    ++t.rows;
  }
  if (t.header.empty()) fail("{} is empty", path);
  if (t.rows == 0) fail("{} has a header but no data rows", path);
  return t;
}

} // namespace grt
