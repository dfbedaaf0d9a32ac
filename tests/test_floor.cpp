// plots/ffndataset.py's floor: the fastest gemm_floor point among each precision's floor impls
// (fp32: the fastest of the OpenBLAS, BLIS and oneDNN pairs), checked by tests/test_floor.py (unittest, hand-picked
// times) under Debian's /usr/bin/python3.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

TEST(DenseFloor, PythonSuiteOnAFabricatedPointsTable) {
  const std::string command = "/usr/bin/python3 " + std::string(FFNBENCH_SOURCE_DIR) + "/tests/test_floor.py 2>&1";
  FILE* p = popen(command.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
  const int status = pclose(p);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("\nOK"), std::string::npos) << output;
}
