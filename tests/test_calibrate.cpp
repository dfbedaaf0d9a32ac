// `ffnbench calibrate`: working-set planning from cache lists, a run on a tiny budget, the JSON
// schema, likwid-bench output parsing, and the command's bad-input messages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "calibrate/caches.hpp"
#include "calibrate/calibrate.hpp"
#include "calibrate/kernels.hpp"
#include "calibrate/likwid_bench.hpp"
#include "core/params.hpp"

namespace ffnbench {
namespace {

CacheInfo cache(int level, const std::string& type, int64_t bytes, int shared_cpus) {
  return {level, type, bytes, 16, 64, shared_cpus};
}

// This VM: L1d 48 KiB, L2 2 MiB per core, a 480 MiB L3 shared by both CPUs.
std::vector<CacheInfo> this_vm() {
  return {cache(1, "Data", 48 << 10, 1), cache(1, "Instruction", 64 << 10, 1), cache(2, "Unified", 2 << 20, 1),
          cache(3, "Unified", 480ll << 20, 2)};
}

constexpr int64_t blocks(int64_t bytes) { return bytes / 1536 * 1536; }  // triad: 3 × 512-byte blocks

TEST(Calibrate, WorkingSetsFollowTheCachesAndCapDram) {
  std::vector<std::string> notes;
  const auto plan = plan_levels(this_vm(), 1, 2, 1ll << 30, notes);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].level, "L1");
  EXPECT_EQ(plan[0].bytes, 24576);  // ½ L1d
  EXPECT_EQ(plan[1].level, "L2");
  EXPECT_EQ(plan[1].bytes, blocks(((48 << 10) + (2 << 20)) / 2));  // ½ (L1d + L2)
  EXPECT_EQ(plan[2].level, "L3");
  EXPECT_EQ(plan[2].bytes, blocks(16 << 20));  // 8 × L2 (½ L3 would be 240 MiB)
  EXPECT_EQ(plan[3].level, "DRAM");
  EXPECT_EQ(plan[3].bytes, blocks(1ll << 30));  // capped: 4 × 480 MiB would be 1.9 GiB
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0],
            "DRAM working set capped at 1.0 GiB, below 4 × LLC (1.9 GiB): the reported LLC (480.0 MiB) may be "
            "a VM artefact; if it is real, the DRAM figures include LLC hits");

  const auto two = plan_levels(this_vm(), 2, 2, 1ll << 30, notes);
  EXPECT_EQ(two[0].bytes, 2 * 24576);  // per-core levels scale with threads
  EXPECT_EQ(two[0].bytes_per_thread, 24576);
  EXPECT_EQ(two[3].bytes_per_thread, blocks(1ll << 29));  // the DRAM total is split between threads
  EXPECT_EQ(notes.size(), 1u);  // the same note is not repeated
}

TEST(Calibrate, CacheSharesFollowOneThreadPerCoreFirst) {
  // A Zen 4 CCD: 8 cores × 2 SMT threads, 32 KiB L1d and 1 MiB L2 per core, 32 MiB L3 for all 16.
  const std::vector<CacheInfo> zen4{cache(1, "Data", 32 << 10, 2), cache(2, "Unified", 1 << 20, 2),
                                    cache(3, "Unified", 32 << 20, 16)};
  std::vector<std::string> notes;
  const auto eight = plan_levels(zen4, 8, 16, 1ll << 30, notes);  // one thread per core
  ASSERT_EQ(eight.size(), 4u);
  EXPECT_EQ(eight[1].bytes_per_thread, blocks(((32 << 10) + (1 << 20)) / 2));  // a whole L2 each
  EXPECT_EQ(eight[2].bytes_per_thread, blocks(2 << 20));  // ½ of a 4 MiB share of the L3
  EXPECT_EQ(eight[3].bytes, 8 * blocks((256ll << 20) / 8));  // 4 × 32 MiB is below the 256 MiB floor
  const auto sixteen = plan_levels(zen4, 16, 16, 1ll << 30, notes);  // SMT siblings share an L2
  EXPECT_EQ(sixteen[1].bytes_per_thread, blocks(((32 << 10) + (512 << 10)) / 2));
  EXPECT_TRUE(notes.empty());

  // A client chip whose 4 MiB L3 is no bigger than the four 2 MiB L2s: no L3 level.
  const std::vector<CacheInfo> client{cache(1, "Data", 48 << 10, 1), cache(2, "Unified", 2 << 20, 1),
                                      cache(3, "Unified", 4 << 20, 4)};
  const auto four = plan_levels(client, 4, 4, 1ll << 30, notes);
  ASSERT_EQ(four.size(), 3u);
  EXPECT_EQ(four[2].level, "DRAM");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].rfind("L3 skipped at 4 threads", 0), 0u) << notes[0];
}

TEST(Calibrate, MachinesWithoutL3MeasureL1L2AndDram) {
  const std::vector<CacheInfo> m1{cache(1, "Data", 128 << 10, 1), cache(2, "Unified", 12 << 20, 4)};
  std::vector<std::string> notes;
  const auto plan = plan_levels(m1, 1, 4, 1ll << 30, notes);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[2].level, "DRAM");
  EXPECT_EQ(plan[2].bytes, blocks(256ll << 20));
}

TEST(Calibrate, TooManyThreadsIsAConfigError) {
  try {
    pick_cpus(100000);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "threads");
    EXPECT_EQ(e.value(), "100000");
  }
  const auto cpus = pick_cpus(1);
  ASSERT_EQ(cpus.size(), 1u);
}

TEST(Calibrate, TinyBudgetRunFillsEveryCeilingAndRoundTripsThroughJson) {
  CalibrateOptions options;
  options.threads = {1};
  options.budget_s = 0.3;
  options.dram_cap_bytes = 8 << 20;  // keeps the test fast; not a DRAM set, and it says so
  std::vector<std::string> lines;
  const Ceilings c = run_calibration(options, [&](const std::string& l) { lines.push_back(l); });

  EXPECT_EQ(c.peak_flops.size(), supported_isas().size());
  for (const auto& p : c.peak_flops) EXPECT_GT(p.gflops, 0) << p.isa;
  ASSERT_GE(c.bandwidth.size(), 6u);  // L1, L2, (L3,) DRAM × load, triad
  for (const auto& b : c.bandwidth) {
    EXPECT_GT(b.gbs, 0) << b.level << " " << b.kernel;
    EXPECT_EQ(b.threads, 1);
  }
  EXPECT_EQ(lines.size(), c.peak_flops.size() + c.bandwidth.size());
  ASSERT_TRUE(c.peak_gflops(1));
  EXPECT_FALSE(c.peak_gflops(7));
  // L1 loads run an order of magnitude faster than an 8 MiB stream on any CPU of the last decade.
  EXPECT_GT(*c.bandwidth_gbs("L1", 1), *c.bandwidth_gbs("DRAM", 1));
  EXPECT_EQ(c.bandwidth_gbs("DRAM", 1, "triad").has_value(), true);

  const nlohmann::json j = to_json(c);
  EXPECT_EQ(j["schema"], "ffnbench.ceilings/1");
  EXPECT_TRUE(j["bandwidth"][0].contains("bytes_per_thread"));
  const Ceilings back = ceilings_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.bandwidth.size(), c.bandwidth.size());
  EXPECT_EQ(back.peak_flops.size(), c.peak_flops.size());
  EXPECT_DOUBLE_EQ(*back.bandwidth_gbs("L1", 1), *c.bandwidth_gbs("L1", 1));
  EXPECT_EQ(back.notes, c.notes);
  EXPECT_THROW(ceilings_from_json(nlohmann::json{{"schema", "other"}}), std::runtime_error);
  EXPECT_THROW(ceilings_from_json(nlohmann::json{{"schema", "ffnbench.ceilings/1"}}), std::runtime_error);
}

TEST(Calibrate, ParsesLikwidBenchOutput) {
  const std::string out =
      "Cycles:\t\t\t3109004498\nTime:\t\t\t1.195802e+00 sec\nNumber of Flops:\t125829120000\n"
      "MFlops/s:\t\t105225.74\nData volume (Byte):\t33554432000\nMByte/s:\t\t28060.20\n";
  const LikwidBenchResult r = parse_likwid_bench(out);
  EXPECT_DOUBLE_EQ(r.mflops_per_s, 105225.74);
  EXPECT_DOUBLE_EQ(r.mbytes_per_s, 28060.20);
  EXPECT_THROW(parse_likwid_bench("Cannot get access to MSRs\n"), std::runtime_error);
  EXPECT_EQ(likwid_bench_command("load_avx512", 24576, 1, 100), "likwid-bench -t load_avx512 -w S0:24576B:1 -i 100");
  EXPECT_EQ(likwid_bench_command("peakflops_sp_avx512_fma", 32000, 2, 0),
            "likwid-bench -t peakflops_sp_avx512_fma -w S0:32000B:2");
}

TEST(Calibrate, LikwidBenchRunsHereWithoutMsrAccess) {
  if (!likwid_bench_available()) GTEST_SKIP() << "likwid-bench is not installed (Debian package likwid)";
  const LikwidBenchResult r = run_likwid_bench(isa_supported(Isa::Avx512) ? "load_avx512" : "load_avx", 24576, 1, 100);
  EXPECT_GT(r.mbytes_per_s, 0);
  EXPECT_THROW(run_likwid_bench("no_such_kernel", 24576, 1, 10), std::runtime_error);
}

int run_ffnbench(const std::string& args, std::string& err) {
  const std::string cmd = std::string(FFNBENCH_BINARY) + " " + args + " 2>&1";
  std::FILE* p = popen(cmd.c_str(), "r");
  char buf[512];
  err.clear();
  while (std::fgets(buf, sizeof buf, p) != nullptr) err += buf;
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Calibrate, CommandWritesCeilingsJson) {
  const std::filesystem::path out = std::filesystem::path(::testing::TempDir()) / "ffnbench_calibrate";
  std::filesystem::remove_all(out);
  std::string log;
  ASSERT_EQ(run_ffnbench("calibrate --threads 1 --budget 0.2 --dram-cap 4M --out " + out.string(), log), 0) << log;
  std::ifstream in(out / "ceilings.json");
  ASSERT_TRUE(in);
  const Ceilings c = ceilings_from_json(nlohmann::json::parse(in));
  EXPECT_FALSE(c.bandwidth.empty());
  EXPECT_EQ(c.budget_s, 0.2);
}

TEST(Calibrate, CommandRejectsBadInputWithExitStatus2) {
  std::string err;
  EXPECT_EQ(run_ffnbench("calibrate --threads 0", err), 2);
  EXPECT_NE(err.find("invalid value '0' for 'threads': a comma list of thread counts in [1, "), std::string::npos) << err;
  EXPECT_EQ(run_ffnbench("calibrate --budget -1", err), 2);
  EXPECT_NE(err.find("invalid value '-1' for 'budget': seconds in [0.01, 3600]"), std::string::npos) << err;
  EXPECT_EQ(run_ffnbench("calibrate --dram-cap lots", err), 2);
  EXPECT_NE(err.find("invalid value 'lots' for 'dram-cap'"), std::string::npos) << err;
  EXPECT_EQ(run_ffnbench("calibrate --out /proc/ffnbench", err), 2);
  EXPECT_NE(err.find("invalid value '/proc/ffnbench' for 'out': a folder that can be created and written"),
            std::string::npos) << err;
  EXPECT_EQ(run_ffnbench("calibrate --no-such-option", err), 2);
}

}  // namespace
}  // namespace ffnbench
