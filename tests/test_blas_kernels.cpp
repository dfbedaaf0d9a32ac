// OpenBLAS's kernel choice: a generic fallback on a CPU with AVX2/AVX-512 is overridden (and the
// program really runs with the override), a proper choice and the user's own are left alone.
#include <gtest/gtest.h>

#include <string>

#include "machine/blas_kernels.hpp"
#include "support_run_folders.hpp"

using ffnbench::openblas_core_override;
using ffnbench::testing::run_cli;

TEST(BlasKernels, AGenericFallbackGetsTheNewestKernelsTheCpuRuns) {
  EXPECT_EQ(openblas_core_override("Prescott", true, true, true), "Cooperlake");
  EXPECT_EQ(openblas_core_override("Prescott", false, true, true), "SkylakeX");
  EXPECT_EQ(openblas_core_override("Core2", false, false, true), "Haswell");
  EXPECT_EQ(openblas_core_override("Prescott", false, false, false), "");  // nothing better to run
}

TEST(BlasKernels, ARecognisedCpuKeepsOpenBlasChoice) {
  EXPECT_EQ(openblas_core_override("SkylakeX", true, true, true), "");
  EXPECT_EQ(openblas_core_override("Cooperlake", true, true, true), "");
  EXPECT_EQ(openblas_core_override("Zen", false, false, true), "");
}

TEST(BlasKernels, TheProgramNeverTimesGenericKernelsOnAnAvx2Cpu) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "this CPU has no AVX2: the generic kernels are its best";
  const std::string info = run_cli("info", "env -u OPENBLAS_CORETYPE").output;
  const auto at = info.find(", core ");
  ASSERT_NE(at, std::string::npos) << info;
  const std::string core = info.substr(at + 7, info.find(')', at) - at - 7);
  for (const char* generic : {"Prescott", "Core2", "Nehalem"}) EXPECT_NE(core, generic) << info;
}

TEST(BlasKernels, TheUsersCoreTypeIsRespected) {
  const std::string info = run_cli("info", "env OPENBLAS_CORETYPE=Haswell").output;
  EXPECT_NE(info.find(", core Haswell)"), std::string::npos) << info;
  EXPECT_EQ(info.find("set by ffnbench"), std::string::npos) << info;
}
