// The quality loop end to end on the test subset (scripts/quality.sh with training/configs/tiny.ini
// and tests/quality_tiny.ini): every family trained on Fashion-MNIST, exported, swept at its
// trained shape on its activations with the cross-framework gate, the quality columns filled,
// the claims and figures drawn; a second training run finds every model cached. The whole loop
// (training from nothing, export, sweep, figures) must take at most 2 minutes (issue 13).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "results/csv.hpp"

namespace fs = std::filesystem;

namespace {

constexpr double kLoopBudgetSeconds = 120.0;  // the test subset's budget, end to end

int shell(const std::string& cmd, std::string& output) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) output.append(buf, n);
  const int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(QualityLoop, TrainsExportsSweepsAndStatesEachSpeedupWithItsAccuracy) {
  const auto t0 = std::chrono::steady_clock::now();  // the whole tiny loop, from an empty models folder
  const fs::path source = FFNBENCH_SOURCE_DIR;
  if (!fs::exists(source / "training" / "train.py")) GTEST_SKIP() << "no training/ in this checkout";
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const fs::path root = fs::temp_directory_path() / ("ffnbench_quality_" + std::to_string(::getpid()));
  fs::remove_all(root);
  const fs::path models = root / "models", results = root / "results";
  const std::string cmd = "cd " + source.string() + " && FFNBENCH_SKIP_SETUP=1 FFNBENCH_CALIBRATE_BUDGET=0.2 bash scripts/quality.sh "
                          "--training training/configs/tiny.ini --experiment tests/quality_tiny.ini --models " +
                          models.string() + " --output " + results.string();
  std::string out;
  ASSERT_EQ(shell(cmd, out), 0) << out;
  // scripts/quality.sh is the loop: train every model (none cached: the models folder is new),
  // export, sweep trained and random weights, draw the claims and figures.
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("quality loop on the test subset: %.1f s (budget %.0f s)\n", seconds, kLoopBudgetSeconds);
  EXPECT_LT(seconds, kLoopBudgetSeconds) << "the quality loop's test subset must take at most 2 minutes\n" << out;

  fs::path run;
  for (const auto& e : fs::recursive_directory_iterator(results))
    if (e.path().filename() == "points.csv") run = e.path().parent_path();
  ASSERT_FALSE(run.empty()) << out;
  const auto table = ffnbench::read_csv_file((run / "points.csv").string());
  auto col = [&](size_t r, const std::string& name) {
    return table[r][std::find(table[0].begin(), table[0].end(), name) - table[0].begin()];
  };
  int trained = 0;
  for (size_t r = 1; r < table.size(); ++r) {
    SCOPED_TRACE(col(r, "point_id"));
    EXPECT_EQ(col(r, "status"), "ok") << col(r, "status_reason");
    if (col(r, "p_weights").empty()) {
      EXPECT_EQ(col(r, "quality_value"), "") << "random weights have no quality";
      continue;
    }
    ++trained;
    const double acc = std::stod(col(r, "quality_value")), dense = std::stod(col(r, "quality_dense"));
    EXPECT_GT(acc, 0.3) << "trained on 2000 images for 2 epochs: well above chance (0.1)";
    EXPECT_LE(acc, 1.0);
    EXPECT_GT(dense, 0.3);
    EXPECT_EQ(col(r, "quality_dataset"), "fashion-mnist");
    EXPECT_EQ(col(r, "fidelity_rows_checked"), "64") << "every exported activation row compared with PyTorch";
    EXPECT_LT(std::stod(col(r, "fidelity_rel_error")), 1e-3);
    EXPECT_LT(std::stod(col(r, "fidelity_reference_error")), 1e-3);
  }
  EXPECT_EQ(trained, 2 * 15) << "15 trained configurations at 2 token counts";

  const std::string claims = slurp(run / "figures" / "claims.md");
  EXPECT_NE(claims.find("### Speed at a known quality (trained weights)"), std::string::npos) << claims;
  EXPECT_NE(claims.find("accuracy points ("), std::string::npos) << claims;
  for (const char* fig : {"quality_accuracy_vs_latency_T1.png", "quality_accuracy_vs_flops_T1.png",
                          "quality_expert_load.png", "quality_leaf_histogram.png", "quality_random_vs_trained.png"})
    EXPECT_TRUE(fs::exists(run / "figures" / fig)) << fig;

  // A second training run of the same configuration finds every model and trains none.
  std::map<std::string, fs::file_time_type> before;
  for (const auto& e : fs::directory_iterator(models))
    if (fs::exists(e.path() / "meta.json")) before[e.path().string()] = fs::last_write_time(e.path() / "meta.json");
  std::string again;
  ASSERT_EQ(shell("cd " + source.string() + " && /usr/bin/python3 -m training.train training/configs/tiny.ini --out " +
                      models.string(), again),
            0)
      << again;
  for (const auto& [dir, time] : before) EXPECT_EQ(fs::last_write_time(fs::path(dir) / "meta.json"), time) << dir;
  fs::remove_all(root);
  // The test as a whole (the loop, its checks and the cached rerun) within the same budget.
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("quality loop test in all: %.1f s\n", total);
  EXPECT_LT(total, kLoopBudgetSeconds) << "the loop took " << seconds << " s, the cached rerun and checks the rest";
}

}  // namespace
