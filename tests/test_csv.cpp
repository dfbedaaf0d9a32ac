#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "results/csv.hpp"

using namespace ffnbench;

namespace {
std::string temp_path(const char* name) {
  auto p = std::filesystem::temp_directory_path() / (std::to_string(::getpid()) + "_" + name);
  std::filesystem::remove(p);
  return p.string();
}
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST(Csv, EscapingRoundTrips) {
  std::vector<std::string> row = {"plain", "a,b", "say \"hi\"", "line\nbreak", ""};
  EXPECT_EQ(csv_line(row), "plain,\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\",\n");
  auto rows = parse_csv(csv_line(row) + csv_line({"x"}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], row);
  EXPECT_EQ(rows[1], std::vector<std::string>{"x"});
}

TEST(Csv, UnterminatedQuoteIsAnError) {
  EXPECT_THROW(parse_csv("a,\"b\n"), std::runtime_error);
}

TEST(CsvAppender, WritesHeaderOnceAndAppendsWholeRows) {
  auto path = temp_path("append.csv");
  {
    CsvAppender a(path, {"x", "y"});
    a.append({"1", "2"});
  }
  {
    CsvAppender a(path, {"x", "y"});
    a.append_rows({{"3", "4"}, {"5", "6"}});
  }
  EXPECT_EQ(slurp(path), "x,y\n1,2\n3,4\n5,6\n");
}

TEST(CsvAppender, RefusesAFileWithOtherColumns) {
  auto path = temp_path("mismatch.csv");
  { CsvAppender a(path, {"x", "y"}); }
  try {
    CsvAppender b(path, {"x", "z"});
    FAIL();
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing: [z], unexpected: [y]"), std::string::npos) << e.what();
  }
}

TEST(CsvAppender, CutsALineLeftHalfWrittenByAKill) {
  auto path = temp_path("partial.csv");
  std::ofstream(path) << "x,y\n1,2\n3,";
  {
    CsvAppender a(path, {"x", "y"});
    a.append({"5", "6"});
  }
  EXPECT_EQ(slurp(path), "x,y\n1,2\n5,6\n");
}
