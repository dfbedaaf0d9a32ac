// Every figure script rendered on the committed reference runs and checked with matplotlib's
// text bounding boxes (tests/test_figures.py under Debian's /usr/bin/python3): no overlapping
// labels, one colour/marker pair per series, legends outside the data; the checks shown to fail
// on figures made to break them.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

TEST(Figures, EveryScriptOnTheReferenceRunsPassesTheLayoutChecks) {
  const std::string command = std::string("/usr/bin/python3 ") + FFNBENCH_SOURCE_DIR + "/tests/test_figures.py " +
                              FFNBENCH_BINARY + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
  const int status = pclose(p);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("\nOK"), std::string::npos) << output;
  // unittest's own skips, not the figure scripts' printed "<figure> skipped: <reason>" lines
  EXPECT_EQ(output.find("(skipped="), std::string::npos) << output;
}
