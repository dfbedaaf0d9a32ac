// plots/counters_figures.py on run folders written here with the real CSV schema: which figures
// it draws from measured counters, and that it skips (and says why) what was not measured.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <string>

#include "calibrate/calibrate.hpp"
#include "results/schema.hpp"

namespace ffnbench {
namespace {

namespace fs = std::filesystem;

struct Run {
  std::string backend, source, geometry;  // counter_backend, counter_source, cachesim_cpu
  double miss_scale = 1;                  // LL misses per model byte / 64
  bool counted = true;                    // llc_misses filled
};

// Two variants × three token counts, one thread, fp32.
void write_run(const fs::path& dir, const Run& run) {
  fs::create_directories(dir);
  const auto& cols = points_core_columns();
  std::ofstream points(dir / "points.csv"), counters(dir / "counters.csv");
  points << fmt::format("{}\n", fmt::join(cols, ","));
  counters << fmt::format("{}\n", fmt::join(counters_header(), ","));
  int id = 0;
  for (const std::string variant : {"gemm_ffn", "lookup_ffn"})
    for (int tokens : {64, 256, 1024}) {
      const std::string point = fmt::format("p{}", ++id);
      const double time = 1e-4 * tokens / 64, flops = 2e6 * tokens, bytes = 8e6 + 4096.0 * tokens;
      const double misses = run.miss_scale * bytes / 64;
      std::map<std::string, std::string> row{
          {"run_id", "r"}, {"point_id", point}, {"block", variant}, {"variant", variant}, {"impl", "x"},
          {"precision", "fp32"}, {"tokens", std::to_string(tokens)}, {"threads", "1"},
          {"time_median_s", fmt::format("{}", time)}, {"flops_model", fmt::format("{}", flops)},
          {"gflops_model_per_s", fmt::format("{}", flops / time / 1e9)}, {"bytes_model", fmt::format("{}", bytes)},
          {"counter_backend", run.backend}, {"counter_source", run.source}, {"status", "ok"}};
      if (run.counted) row["llc_misses"] = fmt::format("{}", misses);
      std::string line;
      for (size_t c = 0; c < cols.size(); ++c) line += (c ? "," : "") + row[cols[c]];
      points << line << '\n';
      if (run.counted && run.source == "sim")
        counters << fmt::format("r,{},rerun,LL_misses,{},sim,0,0,0,\n", point, misses);
    }
  std::ofstream(dir / "machine.json") << R"({"cpu": {"model_name": "Test CPU", "physical_cores": 2}})";
  std::ofstream ini(dir / "experiment.ini");
  ini << "name = t\ncounters = " << run.backend << "\n";
  if (!run.geometry.empty()) ini << "[counters]\ncachesim_cpu = " << run.geometry << "\n";
  ini << "[gemm_ffn]\nd = 512\n";
}

void write_ceilings(const fs::path& file) {
  Ceilings c;
  c.peak_flops = {{"avx512", 1, 210, "fma"}, {"avx2", 1, 110, "fma"}};
  c.bandwidth = {{"L1", "load", "avx512", 1, 24576, 24576, 400}, {"DRAM", "load", "avx512", 1, 1 << 30, 1 << 30, 15}};
  std::ofstream(file) << to_json(c).dump();
}

struct Result {
  int status;
  std::string output;
};

Result plot(const std::string& args) {
  const std::string cmd = std::string("/usr/bin/python3 ") + FFNBENCH_SOURCE_DIR + "/plots/counters_figures.py " +
                          args + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  Result r{-1, ""};
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) r.output += buf;
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class CountersFigures : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "/usr/bin/python3 is not installed";
    root_ = fs::path(::testing::TempDir()) / fmt::format("ffnbench_counter_figures_{}", ::getpid());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(CountersFigures, HardwareCountsGiveRooflineMissesAndEstimatedBandwidth) {
  write_run(root_ / "hw", {"papi", "hw+sw", "", 1.0, true});
  write_ceilings(root_ / "hw" / "ceilings.json");
  const Result r = plot((root_ / "hw").string());
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* name : {"roofline_T1_fp32", "llc_misses_per_token_T1_fp32", "bandwidth_vs_ceiling_T1_fp32"}) {
    EXPECT_TRUE(fs::exists(root_ / "hw" / "figures" / (std::string(name) + ".png"))) << name << "\n" << r.output;
    EXPECT_TRUE(fs::exists(root_ / "hw" / "figures" / (std::string(name) + ".pdf"))) << name;
  }
  EXPECT_NE(r.output.find("cachesim_whatif skipped: no cachesim re-run values"), std::string::npos) << r.output;
}

TEST_F(CountersFigures, NothingMeasuredDrawsOnlyTheModelRooflineAndSaysWhy) {
  write_run(root_ / "none", {"none", "", "", 1.0, false});  // and no ceilings.json
  const Result r = plot((root_ / "none").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(root_ / "none" / "figures" / "roofline_T1_fp32.png"));
  EXPECT_FALSE(fs::exists(root_ / "none" / "figures" / "llc_misses_per_token_T1_fp32.png"));
  EXPECT_FALSE(fs::exists(root_ / "none" / "figures" / "bandwidth_vs_ceiling_T1_fp32.png"));
  EXPECT_NE(r.output.find("llc_misses_per_token skipped: no LLC misses were measured (counter_backend=none)"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bandwidth_vs_ceiling skipped"), std::string::npos) << r.output;
}

TEST_F(CountersFigures, CachesimRunsOfTwoGeometriesGiveTheWhatIfComparison) {
  write_run(root_ / "native", {"cachesim", "sim", "", 1.0, true});
  write_run(root_ / "spr", {"cachesim", "sim", "intel-spr", 0.1, true});
  const Result r = plot((root_ / "native").string() + " " + (root_ / "spr").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(root_ / "native" / "figures" / "cachesim_whatif.png")) << r.output;
  EXPECT_TRUE(fs::exists(root_ / "native" / "figures" / "llc_misses_per_token_T1_fp32.png"));
  // Simulated misses are not traffic of the timed run: no bandwidth from them.
  EXPECT_FALSE(fs::exists(root_ / "native" / "figures" / "bandwidth_vs_ceiling_T1_fp32.png"));
  EXPECT_NE(r.output.find("no hardware LLC misses"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ffnbench
