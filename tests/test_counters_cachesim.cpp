// The cachesim backend: geometry validation, callgrind output parsing, and real valgrind runs of
// kernels whose misses are known (a stream far larger than LL misses once per 64 B line; a
// buffer that fits does not).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/params.hpp"
#include "counters/backend.hpp"
#include "counters/cachesim.hpp"
#include "results/csv.hpp"
#include "support_run_folders.hpp"

namespace ffnbench {
namespace {

double value_of(const std::vector<CounterValue>& values, const std::string& event) {
  auto it = std::find_if(values.begin(), values.end(), [&](const auto& v) { return v.event == event; });
  if (it == values.end()) throw std::runtime_error("no value for " + event);
  return it->value;
}

std::string config_error_text(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no ConfigError";
}

TEST(CountersCachesim, ParsesSizesWithBinarySuffixes) {
  const CacheLevel l = parse_cache_level("cachesim_ll", "60M,15,64");
  EXPECT_EQ(l.size_bytes, 60ll << 20);
  EXPECT_EQ(l.assoc, 15);
  EXPECT_EQ(l.line_bytes, 64);
  EXPECT_EQ(parse_cache_level("cachesim_d1", "48KiB,12,64").size_bytes, 48 * 1024);
  EXPECT_EQ(parse_cache_level("cachesim_d1", "32768,8,64").size_bytes, 32768);
}

TEST(CountersCachesim, RejectsGeometriesValgrindCannotSimulate) {
  EXPECT_EQ(config_error_text([] { parse_cache_level("cachesim_ll", "1000000,16,64"); }),
            "invalid value '1000000,16,64' for 'cachesim_ll': the number of sets, size / (assoc · line) "
            "= 1000000 / 1024, must be a power of two");
  EXPECT_EQ(config_error_text([] { parse_cache_level("cachesim_ll", "1M,12,64"); }),
            "invalid value '1048576,12,64' for 'cachesim_ll': the number of sets, size / (assoc · line) "
            "= 1048576 / 768, must be a power of two");
  EXPECT_EQ(config_error_text([] { parse_cache_level("cachesim_d1", "32K,8,48"); }),
            "invalid value '32768,8,48' for 'cachesim_d1': the line size (48 B) must be a power of two, "
            "at least 16");
  EXPECT_EQ(config_error_text([] { parse_cache_level("cachesim_d1", "1000,1,64"); }),
            "invalid value '1000,1,64' for 'cachesim_d1': the size must be a multiple of the line size "
            "(64 B) and larger");
  EXPECT_EQ(config_error_text([] { parse_cache_level("cachesim_d1", "32K,8"); }),
            "invalid value '32K,8' for 'cachesim_d1': size,assoc,line with size in bytes or K/M/G "
            "(e.g. 48K,12,64)");
  EXPECT_EQ(config_error_text([] { parse_cache_level("cachesim_d1", "32Q,8,64"); }),
            "invalid value '32Q,8,64' for 'cachesim_d1': size,assoc,line with size in bytes or K/M/G "
            "(e.g. 48K,12,64)");
  EXPECT_EQ(config_error_text([] { cache_geometry_preset("pentium4"); }),
            "invalid value 'pentium4' for 'cachesim_cpu': one of: native, intel-spr, amd-zen4, "
            "graviton3, apple-m1");
}

TEST(CountersCachesim, EveryPresetIsAGeometryValgrindAccepts) {
  for (const auto& name : cache_geometry_presets()) {
    const CacheGeometry g = cache_geometry_preset(name);
    EXPECT_NO_THROW(validate_cache_level("d1", g.d1)) << name;
    EXPECT_NO_THROW(validate_cache_level("ll", g.ll)) << name;
    EXPECT_NO_THROW(validate_cache_level("i1", g.i1)) << name;
    EXPECT_GT(g.ll.size_bytes, g.d1.size_bytes) << name;
  }
  const CacheGeometry spr = cache_geometry_preset("intel-spr");
  EXPECT_EQ(valgrind_cache_options(spr),
            (std::vector<std::string>{"--I1=32768,8,64", "--D1=49152,12,64", "--LL=62914560,15,64"}));
}

TEST(CountersCachesim, NativeGeometryComesFromSysfsWithPowerOfTwoSets) {
  const CacheGeometry g = native_cache_geometry();
  std::ifstream l1("/sys/devices/system/cpu/cpu0/cache/index0/size");
  if (!l1) GTEST_SKIP() << "no /sys/devices/system/cpu/cpu0/cache on this machine";
  EXPECT_EQ(g.name, "native");
  EXPECT_NO_THROW(validate_cache_level("d1", g.d1));
  EXPECT_NO_THROW(validate_cache_level("ll", g.ll));
  // This VM reports a 480 MiB 16-way L3 (491520 sets): simulated as 30-way, as valgrind does.
  if (g.ll.size_bytes == 491520ll * 1024) {
    EXPECT_EQ(g.ll.assoc, 30);
  }
}

TEST(CountersCachesim, OverridesMakeACustomGeometry) {
  const CacheGeometry g = resolve_cache_geometry("amd-zen4", "", "1M,16,64");
  EXPECT_EQ(g.name, "custom");
  EXPECT_EQ(g.d1.size_bytes, 32 * 1024);
  EXPECT_EQ(g.ll.size_bytes, 1 << 20);
  EXPECT_EQ(resolve_cache_geometry("amd-zen4", "", "").name, "amd-zen4");
}

TEST(CountersCachesim, ParsesCallgrindTotalsAndDerivesPerCallValues) {
  const std::string out =
      "# callgrind format\nversion: 1\npositions: line\n"
      "events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw\n"
      "summary: 1 2 3\n"
      "fn=main\n5 100 20\n"
      "totals: 9500021 500002 10 4 250001 6 4 250000\n";
  const auto totals = parse_callgrind_totals(out);
  EXPECT_EQ(totals.at("Ir"), 9500021);
  EXPECT_EQ(totals.at("D1mw"), 6);
  EXPECT_EQ(totals.at("DLmr"), 250000);
  EXPECT_EQ(totals.at("DLmw"), 0);  // trailing zero omitted by callgrind
  const auto values = cachesim_values(totals, 2);
  EXPECT_DOUBLE_EQ(value_of(values, "Ir"), 9500021 / 2.0);
  EXPECT_DOUBLE_EQ(value_of(values, "D1_refs"), (500002 + 10) / 2.0);
  EXPECT_DOUBLE_EQ(value_of(values, "D1_misses"), (250001 + 6) / 2.0);
  EXPECT_DOUBLE_EQ(value_of(values, "LL_refs"), (250001 + 6) / 2.0);
  EXPECT_DOUBLE_EQ(value_of(values, "LL_misses"), 250000 / 2.0);
  for (const auto& v : values) EXPECT_EQ(v.source, Source::Sim) << v.event;
  EXPECT_THROW(parse_callgrind_totals("version: 1\n"), std::runtime_error);
}

TEST(CountersCachesim, BackendIsOptInAndChecksEventNames) {
  auto backend = make_counter_backend("cachesim");
  EXPECT_NO_THROW(backend->configure({"LL_misses", "D1mr"}, 1));
  try {
    backend->configure({"PAPI_L3_TCM"}, 1);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.value(), "PAPI_L3_TCM");
  }
}

// A stand-alone streaming kernel built for valgrind (no AVX-512): touches `bytes` outside the
// instrumented region, then reads it once to warm the simulated caches and `passes` more times
// counted (the bracket of cachesim_kernel_region, written with the raw client requests).
class CachesimRuns : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!make_counter_backend("cachesim")->probe().available) return;
    // Per process: suites of two checkouts may run at once on one machine.
    const std::filesystem::path dir = ::testing::TempDir();
    const std::string name = "ffnbench_stream_" + std::to_string(::getpid());
    const std::filesystem::path src = dir / (name + ".cpp");
    program_ = (dir / name).string();
    std::ofstream(src) << R"(
#include <cstdio>
#include <cstdlib>
#include <valgrind/callgrind.h>
int main(int argc, char** argv) {
  const size_t n = std::strtoull(argv[1], nullptr, 10) / sizeof(float);
  const int passes = std::atoi(argv[2]);
  float* a = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
  for (size_t i = 0; i < n; ++i) a[i] = static_cast<float>(i & 7);
  float sum = 0;
  CALLGRIND_START_INSTRUMENTATION;
  for (size_t i = 0; i < n; ++i) sum += a[i];
  CALLGRIND_ZERO_STATS;
  for (int p = 0; p < passes; ++p)
    for (size_t i = 0; i < n; ++i) sum += a[i];
  CALLGRIND_STOP_INSTRUMENTATION;
  std::printf("%f\n", sum);
  std::free(a);
}
)";
    const std::string cmd = "c++ -O2 -march=x86-64-v2 -o " + program_ + " " + src.string();
    built_ = std::system(cmd.c_str()) == 0;
  }
  void SetUp() override {
    if (!make_counter_backend("cachesim")->probe().available) GTEST_SKIP() << "valgrind is not installed";
    ASSERT_TRUE(built_) << "could not compile the streaming kernel with c++";
  }

  // 1 MiB 16-way LL, 32 KiB 8-way D1, 64 B lines: small caches keep the runs to a second.
  static CacheGeometry small_caches() { return resolve_cache_geometry("amd-zen4", "32K,8,64", "1M,16,64"); }

  static std::vector<CounterValue> run(size_t bytes, int passes, const CacheGeometry& g) {
    return cachesim_measure({program_, std::to_string(bytes), std::to_string(passes)}, g, passes);
  }

  static void TearDownTestSuite() {
    if (program_.empty()) return;
    std::filesystem::remove(program_);
    std::filesystem::remove(program_ + ".cpp");
  }
  static inline std::string program_;
  static inline bool built_ = false;
};

TEST_F(CachesimRuns, StreamFarLargerThanLLMissesOncePerLine) {
  const size_t bytes = 8 << 20;  // 8× the LL
  const double lines = bytes / 64.0;
  const auto v = run(bytes, 2, small_caches());
  EXPECT_NEAR(value_of(v, "LL_misses") / lines, 1.0, 0.02);
  EXPECT_NEAR(value_of(v, "D1_misses") / lines, 1.0, 0.02);
  EXPECT_NEAR(value_of(v, "Dr") / (bytes / 4.0), 1.0, 0.02);  // one 4-byte load per float
}

TEST_F(CachesimRuns, BufferThatFitsTheLLDoesNotMissInIt) {
  const size_t bytes = 256 << 10;  // a quarter of the LL, 8× the D1
  const double lines = bytes / 64.0;
  const auto v = run(bytes, 2, small_caches());
  EXPECT_LT(value_of(v, "LL_misses"), 0.01 * lines);
  EXPECT_NEAR(value_of(v, "D1_misses") / lines, 1.0, 0.02);  // still streams through the D1
}

TEST_F(CachesimRuns, AnotherCpusCachesChangeTheAnswer) {
  // 8 MiB streams from memory with a 1 MiB LL but stays in a Sapphire Rapids' 60 MiB L3.
  const size_t bytes = 8 << 20;
  const auto spr = run(bytes, 1, cache_geometry_preset("intel-spr"));
  EXPECT_LT(value_of(spr, "LL_misses"), 0.01 * bytes / 64.0);
}

TEST_F(CachesimRuns, AProgramThatNeverInstrumentsIsAnError) {
  try {
    cachesim_measure({"/bin/true"}, small_caches(), 1);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("never switched instrumentation on"), std::string::npos) << e.what();
  }
}

// A sweep with counters = cachesim: every point is timed first, then re-run under valgrind (in
// parallel) on one thread, points that differ only in threads sharing a re-run; the rows land
// in grid order, each with simulated counts. Needs the cachesim build (scripts/test.sh builds it).
TEST(CachesimSweep, EveryPointGetsSimulatedCountsInGridOrder) {
  try {
    cachesim_binary();
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  if (!make_counter_backend("cachesim")->probe().available) GTEST_SKIP() << "valgrind is not installed";
  const std::filesystem::path dir = testing::test_temp_dir("cachesim_sweep");
  std::ofstream(dir / "x.ini") << "name = x\ntokens = 16,64,32\nthreads = 1,2\nrepetitions = 2\nwarmup_s = 0\ninput_pool_mib = 4\n"
                                  "min_time_s = 0.001\ncounters = cachesim\nevents = llc\noutput = "
                               << (dir / "out").string() << "\n\n[gemm_ffn]\nimpl = openblas\nd = 32\nd_ff = 64\n";
  const testing::CliResult r = testing::run_cli("sweep " + (dir / "x.ini").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("cachesim: re-running 6 points (3 distinct re-runs)"), std::string::npos) << r.output;
  std::filesystem::path folder;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "out"))
    if (e.path().filename() == "points.csv") folder = e.path().parent_path();
  const auto points = read_csv_file((folder / "points.csv").string());
  ASSERT_EQ(points.size(), 7u);
  std::map<std::string, std::string> misses_at_one_thread;
  for (size_t i = 1; i < points.size(); ++i) {
    const std::string tokens = testing::column(points, i, "tokens"), threads = testing::column(points, i, "threads");
    EXPECT_EQ(tokens, std::vector<std::string>({"16", "16", "64", "64", "32", "32"})[i - 1]);
    EXPECT_EQ(testing::column(points, i, "counter_source"), "sim");
    const std::string misses = testing::column(points, i, "llc_misses");
    EXPECT_FALSE(misses.empty());
    if (threads == "1") {
      misses_at_one_thread[tokens] = misses;
      EXPECT_EQ(testing::column(points, i, "status_reason"), "");
    } else {
      EXPECT_EQ(misses, misses_at_one_thread[tokens]) << "the 2-thread point shares the 1-thread re-run";
      EXPECT_NE(testing::column(points, i, "status_reason").find("counted the call on one thread"), std::string::npos);
    }
  }
  const auto counters = read_csv_file((folder / "counters.csv").string());
  EXPECT_EQ(counters.size(), 1u + 6u * 2u);  // LL_refs and LL_misses per point
  std::filesystem::remove_all(dir);
}

// Points whose kernels need AVX-512 (oneDNN's bf16 and int8 matmuls: gemm_ffn's, MoE's experts',
// soft_lookup's) are not re-run under valgrind, which cannot execute them: their counters are
// empty and status_reason says why; the fp32 oneDNN points beside them are simulated.
TEST(CachesimSweep, KernelsThatNeedAvx512SayWhyTheyHaveNoCounts) {
  try {
    cachesim_binary();
  } catch (const std::exception& e) {
    GTEST_SKIP() << e.what();
  }
  if (!make_counter_backend("cachesim")->probe().available) GTEST_SKIP() << "valgrind is not installed";
  const std::filesystem::path dir = testing::test_temp_dir("cachesim_isa");
  std::ofstream(dir / "x.ini") << "name = x\ntokens = 16\nthreads = 1\nrepetitions = 1\nwarmup_s = 0\ninput_pool_mib = 1\n"
                                  "min_time_s = 0.001\ncounters = cachesim\nevents = llc\non_invalid = skip\noutput = "
                               << (dir / "out").string() << "\n\n[gemm_ffn]\nimpl = onednn\nprecision = fp32,bf16,int8\nd = 32\nd_ff = 64\n"
                                  "\n[moe]\nimpl = onednn\nprecision = fp32,bf16,int8\nd = 32\nexperts = 3\nd_e = 48\n"
                                  "\n[soft_lookup]\nimpl = onednn\nprecision = fp32,bf16,int8\nd = 32\nB = 40\n";
  const testing::CliResult r = testing::run_cli("sweep " + (dir / "x.ini").string());
  ASSERT_EQ(r.status, 0) << r.output;
  std::filesystem::path folder;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "out"))
    if (e.path().filename() == "points.csv") folder = e.path().parent_path();
  const auto points = read_csv_file((folder / "points.csv").string());
  int skipped = 0;
  for (size_t i = 1; i < points.size(); ++i) {
    const std::string precision = testing::column(points, i, "precision");
    const std::string reason = testing::column(points, i, "status_reason");
    if (precision == "fp32") {
      EXPECT_FALSE(testing::column(points, i, "llc_misses").empty()) << reason;
      continue;
    }
    ++skipped;
    EXPECT_EQ(testing::column(points, i, "llc_misses"), "") << precision;
    const std::string want = precision == "int8" ? "AVX-512 VNNI or AMX-INT8" : "AVX512-BF16 or AMX";
    EXPECT_NE(reason.find("cachesim counters empty: the kernel needs " + want), std::string::npos) << reason;
    EXPECT_NE(reason.find("valgrind 3.19 decodes no AVX-512"), std::string::npos) << reason;
  }
  EXPECT_GE(points.size(), 1u + 6u) << "the fp32 and int8 points of the three families at least";
  EXPECT_GE(skipped, 3) << "the int8 points (and bf16 where the CPU has AVX512-BF16)";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ffnbench
