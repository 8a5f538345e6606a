//===- runtime/driver/Csv.h - reading CSV files of numbers ----------------===//
#pragma once

#include <functional>
#include <sys/stat.h>
#include <string>
#include <unordered_map>
#include <vector>

namespace grt {

/// A CSV file of numbers with a header row. Errors (a missing file, a ragged
/// row) end the program with a one-line message naming the file and line.
/// A field that is not a number does so only when its column is read
/// (numbers()): a column no input reads may hold text, an id or a label.
/// `true` and `false` (any case) read as 1 and 0, for bool inputs; the
/// reader of another input's column refuses them (truths).
struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::unordered_map<std::string, int> index; // header name -> column: 20,000 features looked up in linear time
  std::vector<std::vector<double>> columns; // columns[c][row]
  std::vector<std::string> notNumbers;      // per column: the first field that is not a number, said
  std::vector<std::string> notNumberHeld;   // ... as "FILE:LINE: column 'c' holds 'yes'", for a bool input's wording
  std::vector<std::string> truths;          // per column: the first `true` or `false` (read as 1 or 0), said
  std::vector<std::string> underflows;      // per column: the first number too small to hold (1e-400, read as 0), said
  std::vector<int64_t> lines;               // the file's line number of each row
  int64_t rows = 0;

  /// Index of the column named `name`, or -1.
  int column(const std::string &name) const;
  /// Column c's values; ends the program if one of them is not a number.
  const std::vector<double> &numbers(int c) const;
};

/// Reads `path`; `onHeader`, when given, sees the table once its header is
/// read and its first row is known to be text, before any row is parsed,
/// so that a file with the wrong columns is told so (it may fail), not
/// that a row of it is ragged; a binary file is still "not a text file".
CsvTable readCsv(const std::string &path, const std::function<void(const CsvTable &)> &onHeader = {});

/// A data file as messages name it: "standard input" for --data - (which
/// reads /dev/stdin), else the path.
std::string dataFileName(const std::string &path);

/// For a data file `path` (st its stat): refuses a device (/dev/zero never
/// ends) as "cannot read KIND PATH" (standard input named so, for --data
/// -), and notes a named pipe, whose reading waits with no word until
/// something writes to it.
void checkDataFile(const std::string &path, const struct stat &st, const char *kind);

} // namespace grt
