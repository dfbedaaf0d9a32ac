// plots/claims.py: paired-in-time speedup CIs, Mann-Whitney p-values and verdicts, checked by
// tests/test_claims.py (unittest, hand-worked answers) under Debian's /usr/bin/python3.
#include <gtest/gtest.h>

#include <string>

#include "support_run_folders.hpp"

TEST(Claims, PythonSuiteOnAFabricatedDataset) {
  const std::string script = std::string(FFNBENCH_SOURCE_DIR) + "/tests/test_claims.py";
  const std::string command = "/usr/bin/python3 " + script + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
  const int status = pclose(p);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("\nOK"), std::string::npos) << output;
}
