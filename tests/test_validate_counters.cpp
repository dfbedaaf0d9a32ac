// `ffnbench validate-counters`: the comparison logic on fabricated counts, and the command on
// this machine (where a PMU exists it validates; where none does it says so and exits 0).
#include <gtest/gtest.h>

#include <cmath>

#include "counters/validate.hpp"
#include "machine/machine_info.hpp"
#include "support_run_folders.hpp"

using namespace ffnbench;

TEST(ValidateCounters, RatiosAndBounds) {
  EXPECT_DOUBLE_EQ(count_ratio(105, 100), 1.05);
  EXPECT_TRUE(std::isnan(count_ratio(1, 0)));
  EXPECT_TRUE(std::isnan(count_ratio(NAN, 100)));
  EXPECT_TRUE(within_tolerance(1.05, kFlopTolerance));   // at the bound passes
  EXPECT_TRUE(within_tolerance(0.95, kFlopTolerance));
  EXPECT_FALSE(within_tolerance(1.0501, kFlopTolerance));
  EXPECT_FALSE(within_tolerance(NAN, 1.0));
  EXPECT_DOUBLE_EQ(tolerance_of(CountedQuantity::Flops), 0.05);
  EXPECT_DOUBLE_EQ(tolerance_of(CountedQuantity::LlcMisses), 0.15);
  EXPECT_DOUBLE_EQ(tolerance_of(CountedQuantity::MemBytes), 0.15);
  EXPECT_DOUBLE_EQ(sgemm_flops(1024, 512, 256), 2.0 * 1024 * 512 * 256);
  EXPECT_DOUBLE_EQ(stream_llc_misses(64.0 * 1000, 64), 1000.0);
}

TEST(ValidateCounters, FlopsOffByMoreThanFivePercentFailTrafficAllowsFifteen) {
  // A 6% FLOP shortfall fails; 12% more LLC misses than lines read passes; 20% fewer bytes fails.
  const auto fma = compare_count("papi", "fma", "PAPI_SP_OPS", CountedQuantity::Flops, 1e9, 1.01e9);
  const auto gemm = compare_count("papi", "sgemm", "PAPI_SP_OPS", CountedQuantity::Flops, 2e9, 1.88e9);
  const auto llc = compare_count("papi", "stream_read", "PAPI_L3_TCM", CountedQuantity::LlcMisses, 1e7, 1.12e7);
  const auto mem = compare_count("likwid", "stream_read", "CAS_COUNT_RD", CountedQuantity::MemBytes, 6.4e8, 5.12e8);
  EXPECT_TRUE(fma.pass);
  EXPECT_DOUBLE_EQ(fma.ratio, 1.01);
  EXPECT_FALSE(gemm.pass);
  EXPECT_DOUBLE_EQ(gemm.ratio, 0.94);
  EXPECT_TRUE(llc.pass);
  EXPECT_FALSE(mem.pass);
  EXPECT_NEAR(mem.ratio, 0.8, 1e-12);
  EXPECT_EQ(validation_exit_status({}), 0);
  EXPECT_EQ(validation_exit_status({fma, llc}), 0);
  EXPECT_EQ(validation_exit_status({fma, gemm, llc}), 1);
  EXPECT_EQ(validation_exit_status({mem}), 1);
  // Nothing counted (the event was absent) is a failure, not a pass.
  const auto none = compare_count("papi", "fma", "", CountedQuantity::Flops, 1e9, NAN);
  EXPECT_FALSE(none.pass);
  EXPECT_EQ(validation_exit_status({none}), 1);

  const std::string table = format_checks({fma, gemm, none});
  EXPECT_NE(table.find("ratio"), std::string::npos) << table;
  EXPECT_NE(table.find("1.0100"), std::string::npos) << table;
  EXPECT_NE(table.find("0.9400"), std::string::npos) << table;
  EXPECT_NE(table.find("FAIL"), std::string::npos) << table;
  EXPECT_NE(table.find("n/a"), std::string::npos) << table;
  EXPECT_NE(table.find("PAPI_SP_OPS"), std::string::npos) << table;
}

TEST(ValidateCounters, NoPmuIsDecidedByWhatTheBackendsCount) {
  BackendCapability likwid{"likwid", false, "cannot access MSRs: /dev/cpu/0/msr: No such file", false, false, false, {}};
  BackendCapability papi{"papi", true, "no PMU: hardware presets unavailable", false, false, false,
                         {"flops: PAPI preset PAPI_SP_OPS is not available here"}};
  BackendCapability perf{"perf", true, "kernel software events through perf_event_open; no hardware events",
                         false, false, false, {"flops: the perf backend counts the kernel's software events only"}};
  EXPECT_FALSE(any_hardware_counting({likwid, papi, perf}));
  const std::string msg = no_pmu_message({likwid, papi, perf}, "perf_event_open(instructions) failed: ENOENT");
  EXPECT_EQ(msg.rfind("no hardware PMU", 0), 0u) << msg;
  EXPECT_NE(msg.find("  likwid: unavailable: cannot access MSRs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("  papi: no PMU: hardware presets unavailable (flops: PAPI preset PAPI_SP_OPS"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("  perf: kernel software events"), std::string::npos) << msg;
  EXPECT_NE(msg.find("  hardware events: perf_event_open(instructions) failed"), std::string::npos) << msg;

  BackendCapability papi_hw = papi;
  papi_hw.llc = true;  // counts cache misses but not FLOPs (e.g. AMD without a SP preset): still a PMU
  EXPECT_TRUE(any_hardware_counting({likwid, papi_hw, perf}));
  BackendCapability unavailable_but_flagged = likwid;
  unavailable_but_flagged.flops = true;  // an unavailable backend never counts
  EXPECT_FALSE(any_hardware_counting({unavailable_but_flagged}));
}

TEST(ValidateCounters, CommandOnThisMachine) {
  const auto r = ffnbench::testing::run_cli("validate-counters");
  if (pmu_status().hardware_counters && r.output.find("no hardware PMU") == std::string::npos) {
    // A machine with a PMU: the table is printed and the status says whether every count agrees.
    EXPECT_NE(r.output.find("ratio"), std::string::npos) << r.output;
    EXPECT_TRUE(r.status == 0 || r.status == 1) << r.output;
    return;
  }
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("no hardware PMU: no counter backend counts FLOPs, LLC misses or memory traffic here"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("  papi: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("  likwid: "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("ratio"), std::string::npos) << "no number where nothing counts:\n" << r.output;
  EXPECT_NE(r.output.find("cachesim: not run"), std::string::npos) << r.output;
}

TEST(ValidateCounters, CachesimChildRunsOutsideValgrindToo) {
  // The streaming read valgrind runs; outside valgrind the client requests are no-ops.
  const auto r = ffnbench::testing::run_cli("validate-counters --cachesim-child 1024");
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(ValidateCounters, BadOptionsExitTwo) {
  EXPECT_EQ(ffnbench::testing::run_cli("validate-counters --buffer-cap 12").status, 2);
  EXPECT_EQ(ffnbench::testing::run_cli("validate-counters --gemm 3").status, 2);
  EXPECT_EQ(ffnbench::testing::run_cli("validate-counters --no-such").status, 2);
  EXPECT_EQ(ffnbench::testing::run_cli("validate-counters --cachesim-child 100").status, 2);
}
