// CSV files whose rows are appended whole and flushed: an interrupted run leaves a valid file.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace ffnbench {

std::string csv_escape(const std::string& field);
std::string csv_line(const std::vector<std::string>& fields);  // with trailing '\n'
// Splits CSV text into rows of fields (RFC 4180 quoting). Throws std::runtime_error naming the
// line on a malformed row (unterminated quote).
std::vector<std::vector<std::string>> parse_csv(const std::string& text);
std::vector<std::vector<std::string>> read_csv_file(const std::string& path);

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
