// CSV files whose rows are appended whole and flushed: an interrupted run leaves a valid file.
#pragma once

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace ffnbench {

std::string csv_escape(const std::string& field);
std::string csv_line(const std::vector<std::string>& fields);  // with trailing '\n'
// A malformed CSV text: `line` (1-based) is where the bad row starts.
struct CsvParseError : std::runtime_error {
  CsvParseError(const std::string& what, size_t line) : std::runtime_error(what), line(line) {}
  size_t line;
};

// Splits CSV text into rows of fields (RFC 4180 quoting). Throws CsvParseError naming the line
// where a malformed row starts (an unterminated quote).
std::vector<std::vector<std::string>> parse_csv(const std::string& text);
std::vector<std::vector<std::string>> read_csv_file(const std::string& path);

// How a file's header `have` differs from `expected`: "missing: [a], unexpected: [b]", with
// ", same names in another order" when only the order differs.
std::string describe_column_difference(const std::vector<std::string>& expected,
                                       const std::vector<std::string>& have);

class CsvAppender {
 public:
  // Opens `path` for appending; writes `header` if the file is new or empty. If the file exists
  // with another header, throws std::runtime_error saying which columns differ.
  CsvAppender(const std::string& path, const std::vector<std::string>& header);
  ~CsvAppender();
  CsvAppender(const CsvAppender&) = delete;
  CsvAppender& operator=(const CsvAppender&) = delete;

  // One write() of the whole row, then fflush + fsync-free flush to the OS.
  void append(const std::vector<std::string>& row);
  void append_rows(const std::vector<std::vector<std::string>>& rows);  // one write for all
  const std::vector<std::string>& header() const { return header_; }

 private:
  std::FILE* file_ = nullptr;
  std::string path_;
  std::vector<std::string> header_;
};

}  // namespace ffnbench
