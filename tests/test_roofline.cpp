// Each stage against its roofline (harness/sweep/roofline.hpp): which level holds a working set,
// which resource bounds a stage, and the fraction of that bound a measured time reaches; and
// that every variant's stages state the traffic the figure needs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/params.hpp"
#include "core/registry.hpp"
#include "support_kernels.hpp"
#include "sweep/roofline.hpp"

using namespace ffnbench;

namespace {

// A made-up machine: 100 GFLOP/s and L1 400, L2 200, DRAM 20 GB/s at 1 thread; L3 exists but
// was not calibrated at 1 thread; nothing at 2 threads but the peak.
Ceilings test_ceilings() {
  Ceilings c;
  c.caches = {{1, "Data", 48 << 10, 12, 64, 1},
              {1, "Instruction", 32 << 10, 8, 64, 1},
              {2, "Unified", 1 << 20, 8, 64, 1},
              {3, "Unified", 32 << 20, 16, 64, 2}};
  c.peak_flops = {{"avx2", 1, 50, "fma"}, {"avx512", 1, 100, "fma"}, {"avx512", 2, 200, "fma"}};
  c.bandwidth = {{"L1", "load", "avx512", 1, 24 << 10, 24 << 10, 400},
                 {"L2", "load", "avx512", 1, 512 << 10, 512 << 10, 200},
                 {"L2", "triad", "avx512", 1, 512 << 10, 512 << 10, 999},  // only load counts
                 {"DRAM", "load", "avx512", 1, 1 << 30, 1 << 30, 20}};
  return c;
}

}  // namespace

TEST(Roofline, WorkingSetLivesInTheSmallestDataCacheHoldingIt) {
  const auto caches = test_ceilings().caches;
  EXPECT_EQ(working_set_level(caches, 40 << 10), "L1");  // the 32 KiB instruction cache is not data
  EXPECT_EQ(working_set_level(caches, 48 << 10), "L1");
  EXPECT_EQ(working_set_level(caches, (48 << 10) + 1), "L2");
  EXPECT_EQ(working_set_level(caches, 8 << 20), "L3");
  EXPECT_EQ(working_set_level(caches, 64 << 20), "DRAM");
  EXPECT_EQ(working_set_level({}, 1), "DRAM");  // no caches known
}

TEST(Roofline, TheLargestOfTheThreeBoundsNamesTheStagesCeiling) {
  const Ceilings c = test_ceilings();
  // 1 GFLOP at 100 GFLOP/s = 10 ms; 1 GB from L2 at 200 GB/s = 5 ms; 0.1 GB streamed at 20 GB/s = 5 ms.
  StageBound b = stage_bound(c, 1, {1e9, 1e9, 1e8, 512 << 10}, 0.020);
  EXPECT_EQ(b.level, "L2");
  EXPECT_EQ(b.bound, "compute");
  EXPECT_DOUBLE_EQ(b.bound_s, 0.010);
  EXPECT_DOUBLE_EQ(b.fraction, 0.5);
  EXPECT_EQ(b.note, "");
  // 3 GB from L2 = 15 ms beats compute.
  b = stage_bound(c, 1, {1e9, 3e9, 1e8, 512 << 10}, 0.030);
  EXPECT_EQ(b.bound, "L2");
  EXPECT_DOUBLE_EQ(b.fraction, 0.5);
  // 0.4 GB streamed = 20 ms: DRAM.
  b = stage_bound(c, 1, {1e9, 1e9, 4e8, 10 << 10}, 0.025);
  EXPECT_EQ(b.level, "L1");
  EXPECT_EQ(b.bound, "DRAM");
  EXPECT_DOUBLE_EQ(b.fraction, 0.8);
}

TEST(Roofline, AnUncalibratedLevelFallsBackToTheNextSlowerOneAndSaysSo) {
  // 8 MiB lives in L3, which has no 1-thread bandwidth here: DRAM's 20 GB/s bounds 1 GB at 50 ms.
  const StageBound b = stage_bound(test_ceilings(), 1, {1e6, 1e9, 0, 8 << 20}, 0.1);
  EXPECT_EQ(b.level, "L3");
  EXPECT_EQ(b.bound, "DRAM");
  EXPECT_DOUBLE_EQ(b.fraction, 0.5);
  EXPECT_EQ(b.note, "L3 not calibrated at 1 threads: DRAM bandwidth used");
}

TEST(Roofline, MissingCeilingsLeaveTheBoundEmptyWithTheReason) {
  const Ceilings c = test_ceilings();
  StageBound b = stage_bound(c, 2, {1e9, 1e9, 0, 10 << 10}, 0.1);  // no 2-thread bandwidths
  EXPECT_EQ(b.bound, "");
  EXPECT_EQ(b.note, "ceilings.json lacks L1 bandwidth at 2 threads");
  b = stage_bound(c, 4, {1e9, 0, 0, 0}, 0.1);
  EXPECT_EQ(b.note, "ceilings.json lacks peak at 4 threads");
  b = stage_bound(c, 1, {0, 0, 0, 0}, 0.1);
  EXPECT_EQ(b.note, "no cost model for this stage");
  b = stage_bound(c, 1, {1e9, 0, 0, 0}, 0);
  EXPECT_EQ(b.note, "no measured time");
}

// bf16 and int8 dot products do 2 and 4 times the multiply-adds of an fp32 FMA per instruction:
// the fp32 peak does not bound them, and the stage is not placed (rather than at 1.3-2.2x "its peak").
TEST(Roofline, AStageComputingInBf16OrInt8IsNotHeldToTheFp32Peak) {
  const Ceilings c = test_ceilings();
  for (const char* precision : {"bf16", "int8"}) {
    const StageBound b = stage_bound(c, 1, {1e9, 1e6, 0, 10 << 10, precision}, 0.001);
    EXPECT_EQ(b.bound, "") << precision;
    EXPECT_EQ(b.fraction, 0.0);
    EXPECT_EQ(b.note, std::string("its multiply-adds are ") + precision +
                          ": calibrate measures the fp32 FMA peak only, so no compute ceiling bounds them");
  }
  EXPECT_EQ(stage_bound(c, 1, {1e9, 1e6, 0, 10 << 10, "fp32"}, 0.1).bound, "compute");
}

TEST(Roofline, ABadCeilingsFileIsAConfigErrorNamingTheKey) {
  const auto path = std::filesystem::temp_directory_path() / "ffnbench_bad_ceilings.json";
  std::ofstream(path) << "{\"schema\": \"something else\"}";
  try {
    read_ceilings_file(path.string());
    FAIL() << "accepted a file without the ceilings schema";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "ceilings");
    EXPECT_EQ(e.value(), path.string());
  }
  std::filesystem::remove(path);
  EXPECT_THROW(read_ceilings_file("/nonexistent/ceilings.json"), ConfigError);
}

// Every stage a variant times has FLOPs, bytes, streamed bytes and a working set, so stages.csv
// can place it on the roofline.
TEST(Roofline, EveryTimedStageStatesItsTraffic) {
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> kernels = {
      {"lookup_ffn", {{"d", "64"}, {"h", "8"}, {"tau", "4"}, {"b", "16"}}},
      {"lookup_ffn", {{"d", "64"}, {"h", "8"}, {"tau", "4"}, {"projection", "dense"}, {"order", "table_major"}}},
      {"lookup_ffn", {{"d", "64"}, {"h", "8"}, {"tau", "4"}, {"b", "16"}, {"order", "token_major"}}},
      {"gemm_ffn", {{"d", "32"}, {"d_ff", "64"}, {"layernorm", "true"}}},
      {"moe", {{"d", "32"}, {"d_e", "16"}, {"experts", "4"}}},
      {"moe", {{"d", "32"}, {"d_e", "16"}, {"experts", "4"}, {"impl", "per_token"}}},
      {"soft_lookup", {{"d", "32"}, {"B", "16"}}},
      {"fff", {{"d", "32"}, {"depth", "3"}}},
      {"fff", {{"d", "32"}, {"depth", "3"}, {"impl", "masked_matrix"}}},
      {"fff", {{"d", "32"}, {"depth", "3"}, {"impl", "fastff"}}},
      {"fff", {{"d", "32"}, {"depth", "3"}, {"leaf_width", "8"}, {"impl", "per_token"}}},
  };
  for (const auto& [variant, params] : kernels) {
    const auto kernel = test_support::build_kernel(variant, params, 37);
    const Cost c = kernel->cost(37);
    const size_t stages = kernel->stage_names().size();
    SCOPED_TRACE(variant + " " + (params.count("impl") ? params.at("impl") : "default"));
    ASSERT_GT(stages, 0u);
    EXPECT_EQ(c.stage_flops.size(), stages);
    EXPECT_EQ(c.stage_bytes.size(), stages);
    EXPECT_EQ(c.stage_stream_bytes.size(), stages);
    EXPECT_EQ(c.stage_working_set_bytes.size(), stages);
    double moved = 0;
    for (size_t s = 0; s < c.stage_bytes.size(); ++s) {
      EXPECT_GE(c.stage_bytes[s], 0.0);
      EXPECT_GE(c.stage_working_set_bytes[s], 0.0);
      moved += c.stage_bytes[s] + c.stage_stream_bytes[s];
    }
    // The stages together read at least the inputs and write the outputs.
    EXPECT_GE(moved, 4.0 * 37 * (kernel->d_in() + kernel->d_out()));
  }
}

// Known answer at the paper's shape: the tiled gather reads every gathered 64-column slice per
// use (N·h·d_out·4 bytes), keeps a 32-table group's slice (32·2^τ·64·4 bytes) resident, and the
// projection streams x in.
TEST(Roofline, LookupFfnGatherTrafficAtThePaperShape) {
  const auto kernel = test_support::build_kernel("lookup_ffn", {}, 64);
  const Cost c = kernel->cost(64);
  EXPECT_DOUBLE_EQ(c.stage_bytes[2], 64.0 * 128 * 512 * 4);
  EXPECT_DOUBLE_EQ(c.stage_working_set_bytes[2], 32.0 * 256 * 64 * 4);
  EXPECT_DOUBLE_EQ(c.stage_stream_bytes[0], 64.0 * 512 * 4);
  EXPECT_DOUBLE_EQ(c.stage_stream_bytes[1], 64.0 * 128 * 8);  // codes and scores out
}
