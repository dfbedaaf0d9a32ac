#include "results/csv.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ffnbench {

std::string csv_escape(const std::string& field) {
  if (field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) line += ',';
    line += csv_escape(fields[i]);
  }
  return line + "\n";
}

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  size_t line = 1, quote_line = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') { field += '"'; ++i; }
      else if (c == '"') quoted = false;
      else { field += c; if (c == '\n') ++line; }
      continue;
    }
    if (c == '"') { quoted = true; any = true; quote_line = line; }
    else if (c == ',') { row.push_back(std::move(field)); field.clear(); any = true; }
    else if (c == '\n') {
      row.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(row));
      row.clear();
      any = false;
      ++line;
    } else if (c != '\r') { field += c; any = true; }
  }
  if (quoted)
    throw CsvParseError(fmt::format("unterminated quoted field opened at line {}", quote_line), quote_line);
  if (any) {  // a last line without '\n' is a row cut short by an interruption: keep it visible
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<std::vector<std::string>> read_csv_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_csv(ss.str());
}

std::string describe_column_difference(const std::vector<std::string>& expected,
                                       const std::vector<std::string>& have) {
  std::vector<std::string> missing, extra;
  for (const auto& h : expected)
    if (std::find(have.begin(), have.end(), h) == have.end()) missing.push_back(h);
  for (const auto& h : have)
    if (std::find(expected.begin(), expected.end(), h) == expected.end()) extra.push_back(h);
  return fmt::format("missing: [{}], unexpected: [{}]{}", fmt::join(missing, ", "), fmt::join(extra, ", "),
                     missing.empty() && extra.empty() ? ", same names in another order" : "");
}

namespace {

// A process killed inside write() can leave a last line without '\n': cut it, so the next
// appended row starts on a line of its own.
void drop_partial_last_line(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty() || text.back() == '\n') return;
  std::filesystem::resize_file(path, text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
}

}  // namespace

CsvAppender::CsvAppender(const std::string& path, const std::vector<std::string>& header)
    : path_(path), header_(header) {
  bool fresh = !std::filesystem::exists(path) || std::filesystem::file_size(path) == 0;
  if (!fresh) drop_partial_last_line(path);
  if (!fresh) {
    auto rows = read_csv_file(path);
    if (rows.empty() || rows.front() != header)
      throw std::runtime_error(fmt::format(
          "{} has other columns than this run writes ({})", path,
          describe_column_difference(header, rows.empty() ? std::vector<std::string>{} : rows.front())));
  }
  file_ = std::fopen(path.c_str(), "ab");
  if (file_ == nullptr) throw std::runtime_error("cannot open " + path + " for appending");
  if (fresh) append(header);
}

CsvAppender::~CsvAppender() {
  if (file_) std::fclose(file_);
}

void CsvAppender::append(const std::vector<std::string>& row) { append_rows({row}); }

void CsvAppender::append_rows(const std::vector<std::vector<std::string>>& rows) {
  std::string text;
  for (const auto& r : rows) text += csv_line(r);
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0)
    throw std::runtime_error("write to " + path_ + " failed");
}

}  // namespace ffnbench
