// A results CSV read whole and checked row by row, for tools that read runs back (merge, report).
#pragma once

#include <string>
#include <vector>

namespace ffnbench {

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // every row has header.size() fields
  std::vector<size_t> lines;                   // line (1-based) where each row starts

  // Index of `name` in the header; throws ConfigError(path, name, ...) when absent.
  size_t column(const std::string& name) const;
};

// Reads `path` with parse_csv. A corrupt file is bad input: ConfigError naming "<path>:<line>"
// for a row with another field count than the header, an unterminated quote, or a last line
// cut short (no end of line: the run was interrupted while writing it). Blank lines are skipped.
CsvTable load_csv_table(const std::string& path);

// The line in which each row of parse_csv(text) starts (quoted fields may span lines).
std::vector<size_t> csv_row_lines(const std::vector<std::vector<std::string>>& rows);

}  // namespace ffnbench
