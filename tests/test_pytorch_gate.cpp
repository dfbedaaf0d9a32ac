// The cross-framework gate on every family: exports written by the training modules themselves
// (tests/export_fixture.py: random weights loaded into training/families' nn.Modules, whose
// export() writes block.safetensors and whose eval forward gives y for inputs x, cross-checked
// there against training/FORMAT.md's formulas written out independently), loaded through
// `weights`, and our scalar reference and every optimized impl checked against y; a y that is off
// fails the gate naming the side and the row; a sweep of the exports fills the quality and
// fidelity columns.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/safetensors.hpp"
#include "results/csv.hpp"
#include "support_kernels.hpp"
#include "sweep/pytorch_gate.hpp"

namespace fs = std::filesystem;
using namespace ffnbench;

namespace {

struct Family {
  std::string model, variant;
  std::map<std::string, std::string> params;
  std::vector<std::string> impls;  // values of impl (or, for lookup_ffn, of order)
  std::string impl_key = "impl";
};

const std::vector<Family>& families() {
  static const std::vector<Family> f = {
      {"dense", "gemm_ffn", {{"d", "16"}, {"d_ff", "48"}, {"layernorm", "true"}}, {"openblas", "onednn", "naive"}},
      {"lookup_bh4", "lookup_ffn", {{"d", "16"}, {"h", "8"}, {"tau", "4"}, {"b", "4"}, {"projection", "bh4"}},
       {"table_major", "token_major", "tiled"}, "order"},
      {"lookup_dense", "lookup_ffn", {{"d", "16"}, {"h", "8"}, {"tau", "4"}, {"projection", "dense"}},
       {"table_major", "tiled"}, "order"},
      {"fff_ufb", "fff", {{"d", "16"}, {"depth", "3"}, {"trees", "2"}},
       {"per_token", "level_batched", "masked_matrix", "fastff"}},
      {"fff_leaf", "fff", {{"d", "16"}, {"depth", "3"}, {"trees", "2"}, {"leaf_width", "5"}},
       {"per_token", "level_batched", "masked_matrix", "fastff"}},
      {"moe", "moe", {{"d", "16"}, {"experts", "4"}, {"top_k", "2"}, {"d_e", "12"}}, {"grouped", "per_token"}},
      {"soft_lookup", "soft_lookup", {{"d", "16"}, {"B", "24"}, {"temperature", "0.5"}}, {"blas", "reference"}},
  };
  return f;
}

class PytorchGate : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    exports = fs::temp_directory_path() / ("ffnbench_pt_" + std::to_string(::getpid()));
    fs::remove_all(exports);
    // The fixture's message (e.g. a training module disagreeing with FORMAT.md's formulas) is shown on failure.
    const fs::path log = fs::temp_directory_path() / ("ffnbench_pt_" + std::to_string(::getpid()) + ".log");
    const std::string cmd = "/usr/bin/python3 " + std::string(FFNBENCH_SOURCE_DIR) + "/tests/export_fixture.py " +
                            exports.string() + " > " + log.string() + " 2>&1";
    const int status = std::system(cmd.c_str());
    std::ifstream in(log);
    const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    fs::remove(log);
    ASSERT_EQ(status, 0) << cmd << "\n" << output;
  }
  static void TearDownTestSuite() { fs::remove_all(exports); }
  static std::string weights(const std::string& model) { return (exports / model / "block.safetensors").string(); }
  static fs::path exports;
};
fs::path PytorchGate::exports;

TEST_F(PytorchGate, EveryFamilyAndImplMatchesPyTorchsOutputs) {
  for (const Family& f : families()) {
    for (const std::string& impl : f.impls) {
      auto given = f.params;
      given[f.impl_key] = impl;
      given["weights"] = weights(f.model);
      auto kernel = test_support::build_kernel(f.variant, given, 32);
      const std::string acts = pytorch_activations_for(given["weights"]);
      ASSERT_EQ(acts, (exports / f.model / "activations.safetensors").string());
      const PytorchCheck c = check_against_pytorch(*kernel, acts, 32);
      EXPECT_TRUE(c.passed()) << f.model << " " << impl << ": " << c.detail();
      EXPECT_EQ(c.optimized.rows_checked, 96);
      EXPECT_EQ(c.reference.rows_checked, 96);
      // fp32 against fp32: far inside the stated tolerance (kernel tolerance + 1e-4).
      EXPECT_LT(c.reference.max_kept_error, 2e-5) << f.model << " " << impl;
      EXPECT_LT(c.optimized.max_kept_error, 1e-4) << f.model << " " << impl;
      EXPECT_DOUBLE_EQ(c.tolerance, kernel->tolerance() + 1e-4);
    }
  }
}

TEST_F(PytorchGate, OutputsThatAreOffFailNamingTheSideAndTheRow) {
  // soft_lookup's export with PyTorch's y of row 7 changed: both sides disagree there.
  const fs::path copy = exports / "soft_lookup_off";
  fs::create_directories(copy);
  fs::copy_file(exports / "soft_lookup" / "block.safetensors", copy / "block.safetensors", fs::copy_options::overwrite_existing);
  const SafetensorsFile acts = SafetensorsFile::open((exports / "soft_lookup" / "activations.safetensors").string(), "a");
  std::vector<float> x = acts.read_f32("x"), y = acts.read_f32("y");
  y[7 * 16 + 3] += 1.0f;
  write_safetensors((copy / "activations.safetensors").string(), {{"x", {96, 16}, x.data()}, {"y", {96, 16}, y.data()}});
  auto kernel = test_support::build_kernel(
      "soft_lookup", {{"d", "16"}, {"B", "24"}, {"temperature", "0.5"}, {"weights", (copy / "block.safetensors").string()}}, 32);
  const PytorchCheck c = check_against_pytorch(*kernel, (copy / "activations.safetensors").string(), 32);
  EXPECT_FALSE(c.passed());
  EXPECT_EQ(c.optimized.mismatched_rows, 1);
  EXPECT_EQ(c.optimized.forgiven_rows, 0) << "soft_lookup does not route: nothing is forgiven";
  EXPECT_EQ(c.detail().rfind("the C++ reference vs PyTorch (" + (copy / "activations.safetensors").string() + "): row 7 column 3", 0), 0u)
      << c.detail();
}

TEST_F(PytorchGate, ASweepOfTheExportsFillsQualityAndFidelity) {
  const fs::path root = exports / "sweep";
  fs::create_directories(root);
  std::ofstream ini(root / "x.ini");
  ini << "name = pt\ntokens = 32\nthreads = 1\nrepetitions = 1\nwarmup_s = 0\nmin_time_s = 0.001\ninput_pool_mib = 4\n"
         "counters = none\noutput = " << (root / "results").string() << "\n";
  for (const Family& f : families()) {
    ini << "\n[" << f.variant << ":" << f.model << "]\n";
    for (const auto& [k, v] : f.params) ini << k << " = " << v << "\n";
    ini << "weights = " << weights(f.model) << "\ninputs = " << (exports / f.model / "activations.safetensors").string() << "\n";
  }
  ini.close();
  FILE* p = popen((std::string(FFNBENCH_BINARY) + " sweep " + (root / "x.ini").string() + " 2>&1").c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ASSERT_EQ(WEXITSTATUS(pclose(p)), 0) << out;
  fs::path csv;
  for (const auto& e : fs::recursive_directory_iterator(root / "results"))
    if (e.path().filename() == "points.csv") csv = e.path();
  const auto table = read_csv_file(csv.string());
  ASSERT_EQ(table.size(), families().size() + 1);
  auto col = [&](size_t r, const std::string& name) {
    return table[r][std::find(table[0].begin(), table[0].end(), name) - table[0].begin()];
  };
  for (size_t r = 1; r < table.size(); ++r) {
    SCOPED_TRACE(col(r, "block"));
    EXPECT_EQ(col(r, "status"), "ok") << col(r, "status_reason");
    EXPECT_EQ(col(r, "quality_metric"), "test_accuracy");
    EXPECT_EQ(col(r, "quality_dataset"), "fixture");
    EXPECT_EQ(col(r, "quality_dense"), "0.5");
    EXPECT_FALSE(col(r, "quality_value").empty());
    EXPECT_EQ(col(r, "fidelity_rows_checked"), "96");
    EXPECT_LT(std::stod(col(r, "fidelity_rel_error")), 1e-4);
    EXPECT_LT(std::stod(col(r, "fidelity_reference_error")), 2e-5);
    EXPECT_EQ(col(r, "input_batches"), "3") << "96 rows of activations in batches of 32";
  }
  // Routing statistics of each family in extras.
  auto extras_of = [&](const std::string& block) {
    for (size_t r = 1; r < table.size(); ++r)
      if (col(r, "block") == block) return col(r, "extras");
    return std::string();
  };
  EXPECT_NE(extras_of("moe:moe").find("expert_entropy_bits="), std::string::npos);
  EXPECT_NE(extras_of("fff:fff_ufb").find("leaf_entropy_bits="), std::string::npos);
  EXPECT_NE(extras_of("fff:fff_leaf").find("top_leaf_share="), std::string::npos);
  EXPECT_NE(extras_of("lookup_ffn:lookup_bh4").find("code_entropy_bits_mean="), std::string::npos);
  EXPECT_NE(extras_of("lookup_ffn:lookup_dense").find("distinct_rows_mean="), std::string::npos);
}

}  // namespace
