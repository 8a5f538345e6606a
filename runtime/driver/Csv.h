//===- runtime/driver/Csv.h - reading CSV files of numbers ----------------===//
#pragma once

#include <string>
#include <vector>

namespace grt {

/// A CSV file of numbers with a header row. Errors (a missing file, a ragged
/// row, a field that is not a number) end the program with a one-line
/// message naming the file and line.
struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<double>> columns; // columns[c][row]
  std::vector<int64_t> lines;               // the file's line number of each row
  int64_t rows = 0;

  /// Index of the column named `name`, or -1.
  int column(const std::string &name) const;
};

CsvTable readCsv(const std::string &path);

} // namespace grt
