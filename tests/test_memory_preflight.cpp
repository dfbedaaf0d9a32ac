// The memory pre-flight: each variant's memory model against what a real build and call hold,
// and the sweep's refusal of a point that cannot fit, before anything is allocated for it.
#include <gtest/gtest.h>
#include <malloc.h>
#include <omp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/aligned.hpp"
#include "common/memory.hpp"
#include "core/registry.hpp"
#include "sweep/experiment.hpp"
#include "sweep/grid.hpp"
#include "sweep/memory_preflight.hpp"

namespace fs = std::filesystem;
using namespace ffnbench;

namespace {

double resident_bytes() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

// The peak resident set since reset_peak_resident() (VmHWM), in bytes; 0 if unreadable.
double peak_resident_bytes() {
  std::ifstream in("/proc/self/status");
  std::string key;
  double kib = 0;
  while (in >> key) {
    if (key == "VmHWM:" && in >> kib) return kib * 1024;
    in.ignore(1 << 20, '\n');
  }
  return 0;
}
// Linux >= 4.0: writing 5 to clear_refs sets the peak to the current resident set.
bool reset_peak_resident() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// Sets FFNBENCH_AVAILABLE_MEMORY_MIB for one test.
struct FakeAvailableMemory {
  explicit FakeAvailableMemory(const char* mib) { ::setenv("FFNBENCH_AVAILABLE_MEMORY_MIB", mib, 1); }
  ~FakeAvailableMemory() { ::unsetenv("FFNBENCH_AVAILABLE_MEMORY_MIB"); }
};

std::string write_ini(const std::string& text) {
  const fs::path path = fs::temp_directory_path() /
                        ("ffnbench_preflight_" + std::to_string(::getpid()) + "_" +
                         ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".ini");
  std::ofstream(path) << text;
  return path.string();
}

struct Case {
  const char* variant;
  std::map<std::string, std::string> params;
  int64_t tokens;
};

}  // namespace

// Built and called once, a kernel's peak resident set is about what its model says: never much more (the
// pre-flight would let through a point that cannot fit) and not far less (it would refuse points
// that fit). Every case holds tens of MiB, so the allocator's and libraries' own few MiB are noise.
TEST(MemoryModel, EachVariantsModelMatchesWhatABuildAndACallHold) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "under AddressSanitizer the resident set is not the program's (shadow memory, the quarantine of "
                  "freed blocks); the release suite checks the models";
#endif
  // Every block of 1 MiB or more its own mapping, returned when freed: the resident set then
  // tracks what is held (glibc would otherwise raise the threshold and reuse freed heap).
  ASSERT_EQ(mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
  const std::vector<Case> cases = {
      {"gemm_ffn", {{"d", "1024"}, {"d_ff", "4096"}, {"impl", "openblas"}, {"layernorm", "true"}}, 4096},
      {"gemm_ffn", {{"d", "1024"}, {"d_ff", "4096"}, {"impl", "onednn"}, {"layernorm", "true"}}, 4096},
      {"gemm_ffn", {{"d", "1024"}, {"d_ff", "4096"}, {"impl", "onednn"}, {"precision", "bf16"}}, 4096},
      {"gemm_ffn", {{"d", "1024"}, {"d_ff", "4096"}, {"impl", "onednn"}, {"precision", "int8"}}, 4096},
      {"gemm_ffn", {{"d", "1024"}, {"d_ff", "4096"}, {"impl", "blis"}, {"layernorm", "true"}}, 4096},
      {"gemm_ffn", {{"d", "1024"}, {"d_ff", "4096"}, {"impl", "libtorch"}, {"layernorm", "true"}}, 4096},
      {"gemm_ffn", {{"d", "1024"}, {"d_ff", "4096"}, {"impl", "libtorch"}, {"precision", "bf16"}}, 4096},
      {"gemm_floor", {{"d", "1024"}, {"d_ff", "4096"}, {"impl", "openblas"}}, 4096},
      {"gemm_floor", {{"d", "1024"}, {"d_ff", "4096"}, {"impl", "blis"}}, 4096},
      {"gemm_floor", {{"d", "1024"}, {"d_ff", "4096"}, {"impl", "onednn"}}, 4096},
      {"lookup_ffn", {{"d", "512"}, {"h", "64"}, {"tau", "8"}, {"order", "tiled"}, {"table_precision", "bf16"}}, 8192},
      {"lookup_ffn", {{"d", "512"}, {"h", "64"}, {"tau", "8"}, {"projection", "dense"}, {"table_precision", "int8"}}, 8192},
      {"bh4", {{"d", "1024"}, {"outputs", "4096"}, {"b", "64"}}, 8192},
      {"fff", {{"d", "768"}, {"depth", "12"}, {"impl", "fastff"}}, 1024},
      {"moe", {{"d", "512"}, {"experts", "8"}, {"d_e", "2048"}}, 8192},
      {"soft_lookup", {{"d", "512"}, {"B", "4096"}}, 8192},
      {"moe", {{"d", "512"}, {"experts", "8"}, {"d_e", "2048"}, {"impl", "onednn"}}, 8192},
      {"moe", {{"d", "512"}, {"experts", "8"}, {"d_e", "2048"}, {"impl", "onednn"}, {"precision", "bf16"}}, 8192},
      {"moe", {{"d", "512"}, {"experts", "8"}, {"d_e", "2048"}, {"impl", "onednn"}, {"precision", "int8"}}, 8192},
      {"soft_lookup", {{"d", "512"}, {"B", "4096"}, {"impl", "onednn"}}, 8192},
      {"soft_lookup", {{"d", "512"}, {"B", "4096"}, {"impl", "onednn"}, {"precision", "bf16"}}, 8192},
      {"soft_lookup", {{"d", "512"}, {"B", "4096"}, {"impl", "onednn"}, {"precision", "int8"}}, 8192},
  };
  for (const auto& c : cases) {
    const Variant& variant = Registry::instance().get(c.variant);
    Config config;
    try {
      config = resolve_variant_config(variant, c.params, "");
    } catch (const ConfigError& e) {  // e.g. impl = libtorch in a build without it
      std::printf("not in this build: %s\n", e.what());
      continue;
    }
    const double model = variant.memory_bytes(config, c.tokens, omp_get_max_threads());
    std::string label = c.variant;
    for (const auto& [k, v] : c.params) label += " " + k + "=" + v;
    ASSERT_GT(model, 32.0 * (1 << 20)) << label << ": a case too small to tell the model from noise";
    AlignedVector<float> x(static_cast<size_t>(c.tokens * config.integer("d")), 0.5f);
    const double before = resident_bytes();
    ASSERT_TRUE(reset_peak_resident()) << "cannot reset the peak resident set (/proc/self/clear_refs)";
    {
      auto kernel = variant.build(config, 7, c.tokens);
      AlignedVector<float> y(static_cast<size_t>(c.tokens * kernel->d_out()));
      kernel->forward(x.data(), y.data(), c.tokens, nullptr);
      // The peak, not what is left: a build's transient copies and a library's per-call
      // buffers (libtorch's intermediates) count while they live.
      const double held = peak_resident_bytes() - before;
      std::printf("%s: model %.1f MiB, held %.1f MiB\n", label.c_str(), model / (1 << 20), held / (1 << 20));
      EXPECT_LE(held, 1.1 * model + 8.0 * (1 << 20)) << label << ": model " << model / (1 << 20) << " MiB, held "
                                                      << held / (1 << 20) << " MiB";
      EXPECT_GE(held, 0.7 * model) << label << ": model " << model / (1 << 20) << " MiB, held " << held / (1 << 20)
                                   << " MiB";
    }
  }
}

TEST(MemoryPreflight, APointThatCannotFitIsInvalidSayingWhatItNeedsAndWhatIsAvailable) {
  FakeAvailableMemory fake("512");
  Experiment x = load_experiment(write_ini("tokens = 64\nthreads = 1\n[gemm_ffn]\nd = 512,4096\nd_ff = 2048,65536\n"), {});
  std::vector<Point> points = expand_grid(x);
  ASSERT_EQ(points.size(), 4u);
  preflight_memory(points, 1 << 20);
  for (const auto& p : points) {
    // 4096 · 65536 fp32 twice is 2 GiB of weights; the others need at most ~300 MiB.
    const bool big = p.config.integer("d") == 4096 && p.config.integer("d_ff") == 65536;
    ASSERT_EQ(p.invalid.has_value(), big) << p.point_id;
    if (!big) continue;
    EXPECT_EQ(p.invalid->key(), "memory");
    const std::string need = format_bytes(point_memory_bytes(p, 1 << 20));
    EXPECT_EQ(std::string(p.invalid->what()),
              "invalid value '" + need + "' for 'memory': this point needs " + need +
                  " (its weights, scratch, output and input pool, as its variant's memory model counts them), "
                  "512.0 MiB available (FFNBENCH_AVAILABLE_MEMORY_MIB); ffnbench refuses a point above 90% of it "
                  "before allocating anything");
  }
}

TEST(MemoryPreflight, TheInputPoolCountsAndUnknownMemoryChecksNothing) {
  Experiment x = load_experiment(write_ini("tokens = 64\nthreads = 1\n[gemm_ffn]\nd = 512\nd_ff = 2048\n"), {});
  const std::vector<Point> points = expand_grid(x);
  const double small_pool = point_memory_bytes(points[0], 1 << 20), big_pool = point_memory_bytes(points[0], 1 << 30);
  // A fresh pool holds 2·LLC of inputs plus two batches.
  EXPECT_NEAR(big_pool - small_pool, 2.0 * ((1 << 30) - (1 << 20)), 4.0 * 512);
  FakeAvailableMemory none("0");
  std::vector<Point> copy = points;
  preflight_memory(copy, 1 << 30);
  EXPECT_FALSE(copy[0].invalid.has_value()) << "0: unknown, nothing refused";
}

TEST(MemoryPreflight, AFakedAvailableMemoryMustBeAWholeNumber) {
  FakeAvailableMemory fake("lots");
  try {
    available_memory_bytes();
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "invalid value 'lots' for 'FFNBENCH_AVAILABLE_MEMORY_MIB': must be a whole number of MiB >= 0");
  }
}

// A cgroup tree on disk: the tightest limit of the process's cgroup and its ancestors counts,
// "max" (v2) and v1's near-2^63 "unlimited" are no limit.
TEST(MemoryPreflight, CgroupRoomIsTheTightestLimitOfTheCgroupAndItsAncestors) {
  const fs::path root = fs::temp_directory_path() / ("ffnbench_cgroup_" + std::to_string(::getpid()));
  fs::remove_all(root);
  auto put = [&](const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text << "\n";
  };
  put(root / "sys/a/memory.max", "1073741824");  // 1 GiB, 256 MiB used: 768 MiB left
  put(root / "sys/a/memory.current", "268435456");
  put(root / "sys/a/b/memory.max", "max");
  put(root / "sys/a/b/memory.current", "268435456");
  put(root / "self_v2", "0::/a/b");
  auto room = cgroup_memory_room((root / "self_v2").string(), (root / "sys").string());
  ASSERT_TRUE(room.has_value());
  EXPECT_EQ(room->bytes, int64_t{768} << 20);
  EXPECT_EQ(room->where, (root / "sys/a/memory.max").string());

  put(root / "sys/a/b/memory.max", "536870912");  // the child's own 512 MiB limit is tighter
  room = cgroup_memory_room((root / "self_v2").string(), (root / "sys").string());
  ASSERT_TRUE(room.has_value());
  EXPECT_EQ(room->bytes, int64_t{256} << 20);

  put(root / "sys/memory/x/memory.limit_in_bytes", "9223372036854771712");  // v1: unlimited
  put(root / "sys/memory/x/memory.usage_in_bytes", "1000");
  put(root / "self_v1", "4:memory:/x");
  EXPECT_FALSE(cgroup_memory_room((root / "self_v1").string(), (root / "sys").string()).has_value());
  put(root / "sys/memory/x/memory.limit_in_bytes", "2147483648");
  room = cgroup_memory_room((root / "self_v1").string(), (root / "sys").string());
  ASSERT_TRUE(room.has_value());
  EXPECT_EQ(room->bytes, 2147483648 - 1000);
  EXPECT_FALSE(cgroup_memory_room((root / "missing").string(), (root / "sys").string()).has_value());
  fs::remove_all(root);
}
