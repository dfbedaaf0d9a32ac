// The dense baselines beside OpenBLAS and oneDNN: BLIS (gemm_ffn and gemm_floor, fp32) and
// libtorch (gemm_ffn, fp32 and bf16). Their numerics against the independent implementation sit
// in test_gemm_ffn.cpp with every other impl; here: gemm_floor through BLIS against its reference
// at odd widths, which library really ran, the thread count libtorch runs on, and bad input.
#include <gtest/gtest.h>
#include <omp.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "common/aligned.hpp"
#include "common/random.hpp"
#include "gemm_ffn/libtorch_ffn.hpp"
#include "results/csv.hpp"
#include "support_kernels.hpp"
#include "support_run_folders.hpp"

using namespace ffnbench;

namespace {

AlignedVector<float> random_input(int64_t n, uint64_t seed) {
  AlignedVector<float> X(n);
  fill_uniform(X.data(), X.size(), seed, 9, -1.0f, 1.0f);
  return X;
}

std::vector<float> run(Kernel& k, const AlignedVector<float>& X, int64_t tokens) {
  AlignedVector<float> Y(tokens * k.d_out());
  k.forward(X.data(), Y.data(), tokens, nullptr);
  return std::vector<float>(Y.begin(), Y.end());
}

}  // namespace

// The bare pair through BLIS against the scalar reference at odd shapes (BLIS's edge cases in m,
// n and k), 1 and 2 threads, and against the OpenBLAS pair on the same weights.
TEST(GemmFloorBlis, MatchesTheReferenceAndTheOpenblasPairAtOddWidths) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (auto [d, f] : {std::pair{19, 45}, std::pair{37, 101}, std::pair{1, 3}, std::pair{64, 200}})
      for (int64_t tokens : {1, 7, 301}) {
        const std::map<std::string, std::string> given = {{"d", std::to_string(d)}, {"d_ff", std::to_string(f)}};
        auto blis = test_support::build_kernel("gemm_floor", {{"impl", "blis"}, {"d", given.at("d")}, {"d_ff", given.at("d_ff")}},
                                               tokens);
        const std::string where = "d=" + std::to_string(d) + " d_ff=" + std::to_string(f) + " N=" + std::to_string(tokens) +
                                  " T=" + std::to_string(threads);
        GateResult g = test_support::check_all_rows(*blis, tokens);
        EXPECT_TRUE(g.passed) << where << ": " << g.detail;
        auto openblas = test_support::build_kernel("gemm_floor", given, tokens);
        const auto X = random_input(tokens * d, 4);
        const auto a = run(*blis, X, tokens), b = run(*openblas, X, tokens);
        double worst = 0, scale = 0;
        for (size_t i = 0; i < a.size(); ++i) {
          worst = std::max(worst, double(std::abs(a[i] - b[i])));
          scale = std::max(scale, double(std::abs(b[i])));
        }
        EXPECT_LE(worst, 1e-5 * (1 + scale)) << where;
      }
  }
}

// extras name the file the gemm entry point was resolved in: BLIS's own library for blis, and for
// openblas the OpenBLAS that cblas_sgemm binds to (BLIS, loaded RTLD_LOCAL, never takes it over).
TEST(DenseLibraries, ExtrasNameTheLibraryThatRan) {
  for (const char* variant : {"gemm_ffn", "gemm_floor"}) {
    auto blis = test_support::build_kernel(variant, {{"impl", "blis"}, {"d", "16"}, {"d_ff", "32"}}, 4);
    auto openblas = test_support::build_kernel(variant, {{"impl", "openblas"}, {"d", "16"}, {"d_ff", "32"}}, 4);
    const auto X = random_input(4 * 16, 1);
    run(*blis, X, 4);
    run(*openblas, X, 4);
    const auto e = blis->extras(), o = openblas->extras();
    EXPECT_NE(e.at("blas_library").find("blis"), std::string::npos) << variant << ": " << e.at("blas_library");
    EXPECT_TRUE(std::regex_match(e.at("blis_version"), std::regex(R"(\d+\.\d+(\.\d+)?.*)"))) << e.at("blis_version");
    // The kernel set BLIS chose: one of its x86-64 sub-configurations, or its portable fallback.
    EXPECT_TRUE(std::regex_match(e.at("blis_arch"), std::regex("zen[0-9]?|skx|knl|haswell|sandybridge|penryn|excavator|"
                                                               "steamroller|piledriver|bulldozer|generic")))
        << e.at("blis_arch");
    EXPECT_NE(o.at("blas_library").find("openblas"), std::string::npos) << variant << ": " << o.at("blas_library");
    EXPECT_EQ(o.count("blis_version"), 0u);
  }
}

// at::set_num_threads follows the point's thread count (the harness's omp_set_num_threads), also
// when one kernel runs at several counts in turn.
TEST(GemmFfnLibtorch, RunsOnThePointsThreadCount) {
  if (!libtorch_available()) GTEST_SKIP() << "built with FFNBENCH_LIBTORCH=OFF";
  omp_set_num_threads(1);
  auto k = test_support::build_kernel("gemm_ffn", {{"impl", "libtorch"}, {"d", "16"}, {"d_ff", "32"}}, 4);
  const auto X = random_input(4 * 16, 1);
  for (int threads : {2, 1, 2}) {
    omp_set_num_threads(threads);
    run(*k, X, 4);
    EXPECT_EQ(k->extras().at("torch_threads"), std::to_string(threads));
  }
  EXPECT_TRUE(std::regex_match(k->extras().at("torch_version"), std::regex(R"(\d+\.\d+\.\d+.*)")))
      << k->extras().at("torch_version");
  // The cachesim child is not started for it: valgrind 3.19 dies on PyTorch's RDTSCP.
  EXPECT_NE(k->needs_isa().find("RDTSCP"), std::string::npos) << k->needs_isa();
  EXPECT_NE(k->needs_isa().find("valgrind 3.19 cannot decode it"), std::string::npos) << k->needs_isa();
}

// A sweep's points at 1 and 2 threads record the thread count PyTorch ran on.
TEST(GemmFfnLibtorch, SweepPointsRecordTheirThreadCount) {
  if (!libtorch_available()) GTEST_SKIP() << "built with FFNBENCH_LIBTORCH=OFF";
  const std::filesystem::path dir = ffnbench::testing::test_temp_dir("libtorch_threads");
  std::ofstream(dir / "x.ini") << "name = x\ntokens = 32\nthreads = 1,2\nrepetitions = 1\nwarmup_s = 0\ninput_pool_mib = 1\n"
                                  "min_time_s = 0.001\ncounters = none\noutput = "
                               << (dir / "out").string()
                               << "\n\n[gemm_ffn]\nimpl = libtorch\nprecision = fp32\nlayernorm = true\nd = 32\nd_ff = 64\n";
  const ffnbench::testing::CliResult r = ffnbench::testing::run_cli("sweep " + (dir / "x.ini").string());
  ASSERT_EQ(r.status, 0) << r.output;
  std::filesystem::path folder;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "out"))
    if (e.path().filename() == "points.csv") folder = e.path().parent_path();
  const auto points = read_csv_file((folder / "points.csv").string());
  ASSERT_EQ(points.size(), 3u);
  for (size_t i = 1; i < points.size(); ++i) {
    EXPECT_EQ(ffnbench::testing::column(points, i, "status"), "ok");
    const std::string threads = ffnbench::testing::column(points, i, "threads");
    EXPECT_NE(ffnbench::testing::column(points, i, "extras").find("torch_threads=" + threads), std::string::npos)
        << ffnbench::testing::column(points, i, "extras");
  }
  std::filesystem::remove_all(dir);
}

// Bad input: exit status 2, the allowed values named, no run folder.
TEST(DenseLibraries, PrecisionsTheyLackExitWithStatus2) {
  struct Case {
    std::string block, expected;
  };
  std::vector<Case> cases = {
      {"[gemm_ffn]\nimpl = blis\nprecision = int8\n", "'gemm_ffn.precision': needs impl=onednn (impl=blis has no int8)"},
      {"[gemm_ffn]\nimpl = blis\nprecision = bf16\n",
       "'gemm_ffn.precision': needs impl=onednn or impl=libtorch (impl=blis has no bf16)"},
      {"[gemm_floor]\nimpl = blis\nprecision = bf16\n", "'gemm_floor.precision': needs impl=onednn (impl=blis has no bf16)"},
  };
  if (libtorch_available())
    cases.push_back({"[gemm_ffn]\nimpl = libtorch\nprecision = int8\n",
                     "'gemm_ffn.precision': needs impl=onednn (impl=libtorch has no int8)"});
  else
    cases.push_back({"[gemm_ffn]\nimpl = libtorch\n",
                     "'gemm_ffn.impl': this build has no libtorch (configure with -DFFNBENCH_LIBTORCH=ON"});
  const std::filesystem::path dir = ffnbench::testing::test_temp_dir("dense_bad_input");
  for (const Case& c : cases) {
    std::ofstream(dir / "x.ini") << "name = x\ntokens = 32\nthreads = 1\ncounters = none\noutput = " << (dir / "out").string()
                                 << "\n\n" << c.block << "d = 32\nd_ff = 64\n";
    const ffnbench::testing::CliResult r = ffnbench::testing::run_cli("sweep " + (dir / "x.ini").string());
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  }
  std::filesystem::remove_all(dir);
}
