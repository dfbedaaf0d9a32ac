#include "merge/csv_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/params.hpp"
#include "results/csv.hpp"

namespace ffnbench {

size_t CsvTable::column(const std::string& name) const {
  auto it = std::find(header.begin(), header.end(), name);
  if (it == header.end())
    throw ConfigError(path, name, fmt::format("is not a column of this file (columns: {})", fmt::join(header, ", ")));
  return static_cast<size_t>(it - header.begin());
}

std::vector<size_t> csv_row_lines(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> lines;
  size_t line = 1;
  for (const auto& row : rows) {
    lines.push_back(line);
    line += 1;
    for (const auto& field : row) line += static_cast<size_t>(std::count(field.begin(), field.end(), '\n'));
  }
  return lines;
}

namespace {

std::string excerpt(const std::vector<std::string>& row) {
  std::string text = csv_line(row);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text.size() > 60 ? text.substr(0, 57) + "..." : text;
}

}  // namespace

CsvTable load_csv_table(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path, "", "cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();

  std::vector<std::vector<std::string>> rows;
  try {
    rows = parse_csv(text);
  } catch (const CsvParseError& e) {
    throw ConfigError(fmt::format("{}:{}", path, e.line), "\"",
                      "a quote opened on this line is never closed (a corrupt row; fix or delete it)");
  }
  CsvTable table;
  table.path = path;
  if (rows.empty()) throw ConfigError(path, "", "is empty: a results CSV starts with its header line");
  std::vector<size_t> lines = csv_row_lines(rows);
  table.header = rows.front();
  const bool cut_short = !text.empty() && text.back() != '\n';
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    if (row.size() == 1 && row[0].empty()) continue;  // blank line
    const std::string where = fmt::format("{}:{}", path, lines[r]);
    if (cut_short && r + 1 == rows.size())
      throw ConfigError(where, excerpt(row),
                        "the last line has no end of line: the run was interrupted while writing it "
                        "(delete that line, or finish the run with `ffnbench sweep --resume`)");
    if (row.size() != table.header.size())
      throw ConfigError(where, excerpt(row),
                        fmt::format("a row must have {} fields like the header; this one has {} "
                                    "(a corrupt row; fix or delete it)",
                                    table.header.size(), row.size()));
    table.rows.push_back(row);
    table.lines.push_back(lines[r]);
  }
  return table;
}

}  // namespace ffnbench
