// weights = <file.safetensors> and inputs = <activations file>: the layouts loaded as the export
// contract (training/FORMAT.md) states them, and every bad file stopping the sweep with one
// message naming the file, the tensor, what it has and what the configuration needs, exit status 2
// and no run folder.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/aligned.hpp"
#include "common/safetensors.hpp"
#include "fff/fff_kernel.hpp"
#include "results/csv.hpp"
#include "support_kernels.hpp"
#include "support_safetensors.hpp"

namespace fs = std::filesystem;
using namespace ffnbench;

namespace {

struct Result {
  int status = -1;
  std::string output;
};

Result run(const std::string& args) {
  FILE* p = popen((std::string(FFNBENCH_BINARY) + " " + args + " 2>&1").c_str(), "r");
  Result r;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::vector<float> ramp(size_t n, float scale, float offset = 0.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.7f * static_cast<float>(i) + offset);
  return v;
}

constexpr int64_t kD = 4, kFf = 8;

// A gemm_ffn block of the export format at d = 4, d_ff = 8 with a LayerNorm.
struct DenseBlock {
  std::vector<float> w1 = ramp(kFf * kD, 0.5f), b1 = ramp(kFf, 0.1f, 1), w2 = ramp(kD * kFf, 0.4f, 2),
                     b2 = ramp(kD, 0.2f, 3), gamma = ramp(kD, 0.3f, 4), beta = ramp(kD, 0.1f, 5);
  DenseBlock() {
    for (float& g : gamma) g += 1.0f;
  }
  void write(const std::string& path, bool with_b2 = true) const {
    std::vector<TensorToWrite> t = {{"ln.weight", {kD}, gamma.data()}, {"ln.bias", {kD}, beta.data()},
                                    {"w1.weight", {kFf, kD}, w1.data()}, {"w1.bias", {kFf}, b1.data()},
                                    {"w2.weight", {kD, kFf}, w2.data()}};
    if (with_b2) t.push_back({"w2.bias", {kD}, b2.data()});
    write_safetensors(path, t);
  }
};

class TrainedWeights : public ::testing::Test {
 protected:
  void SetUp() override {
    root = fs::temp_directory_path() / ("ffnbench_tw_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root / "model");
    weights = (root / "model" / "block.safetensors").string();
  }
  void TearDown() override { fs::remove_all(root); }

  // A sweep of one gemm_ffn point on `weights`; `extra` adds lines to the [gemm_ffn] section.
  Result sweep(const std::string& globals = "", const std::string& extra = "", const std::string& overrides = "") {
    const std::string ini = (root / "x.ini").string();
    std::ofstream(ini) << "name = tw\ntokens = 8\nthreads = 1\nrepetitions = 1\nwarmup_s = 0\nmin_time_s = 0.001\n"
                          "input_pool_mib = 4\ncounters = none\noutput = "
                       << (root / "results").string() << "\n" << globals
                       << "\n[gemm_ffn]\nimpl = openblas\nd = 4\nd_ff = 8\nlayernorm = true\nweights = " << weights
                       << "\n" << extra;
    return run("sweep " + ini + overrides);
  }
  // The one line a refused sweep prints, with exit 2 and nothing under results/.
  std::string refusal(const Result& r) {
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_FALSE(fs::exists(root / "results")) << "a refused sweep leaves no run folder";
    std::string line = r.output;
    while (!line.empty() && line.back() == '\n') line.pop_back();
    EXPECT_EQ(line.find('\n'), std::string::npos) << "one message: " << r.output;
    return line;
  }
  std::string prefix() const { return "ffnbench sweep: invalid value '" + weights + "' for 'gemm_ffn.weights': "; }

  fs::path root;
  std::string weights;
};

TEST(TrainedWeightsParam, EveryWholeLayerVariantDeclaresWeights) {
  // bh4 is LookupFFN's projection alone and gemm_floor the BLAS floor: no trained block of their own.
  for (const std::string name : {"gemm_ffn", "lookup_ffn", "fff", "moe", "soft_lookup", "bh4", "gemm_floor"}) {
    bool has = false;
    for (const auto& spec : Registry::instance().get(name).params())
      has = has || (spec.name == "weights" && spec.type == ParamType::Text && spec.default_value.empty());
    EXPECT_EQ(has, name != "bh4" && name != "gemm_floor") << name;
  }
}

TEST_F(TrainedWeights, GemmFfnComputesPyTorchsFormulaOnItsOutInLayout) {
  DenseBlock block;
  block.write(weights);
  auto k = test_support::build_kernel("gemm_ffn", {{"d", "4"}, {"d_ff", "8"}, {"layernorm", "true"},
                                                   {"impl", "openblas"}, {"weights", weights}},
                                      3);
  const std::vector<float> x = ramp(3 * kD, 1.5f, 0.3f);
  AlignedVector<float> xs(x.begin(), x.end()), y(3 * kD), ref(3 * kD);
  k->forward(xs.data(), y.data(), 3, nullptr);
  k->reference(xs.data(), ref.data(), 3);
  for (int64_t t = 0; t < 3; ++t) {
    // LayerNorm (biased variance, ε = 1e-5), then PyTorch's Linear: out = in·Wᵀ + b, W [out, in].
    double mean = 0, var = 0;
    for (int64_t i = 0; i < kD; ++i) mean += x[t * kD + i] / kD;
    for (int64_t i = 0; i < kD; ++i) var += (x[t * kD + i] - mean) * (x[t * kD + i] - mean) / kD;
    std::vector<double> u(kD), h(kFf);
    for (int64_t i = 0; i < kD; ++i)
      u[i] = (x[t * kD + i] - mean) / std::sqrt(var + 1e-5) * block.gamma[i] + block.beta[i];
    for (int64_t j = 0; j < kFf; ++j) {
      double s = block.b1[j];
      for (int64_t i = 0; i < kD; ++i) s += u[i] * block.w1[j * kD + i];
      h[j] = 0.5 * s * (1.0 + std::erf(s / std::sqrt(2.0)));
    }
    for (int64_t o = 0; o < kD; ++o) {
      double s = block.b2[o];
      for (int64_t j = 0; j < kFf; ++j) s += h[j] * block.w2[o * kFf + j];
      EXPECT_NEAR(ref[t * kD + o], s, 1e-5) << t << "," << o;
      EXPECT_NEAR(y[t * kD + o], s, 1e-5) << t << "," << o;
    }
  }
}

TEST_F(TrainedWeights, FffLeavesAreTransposedFromPyTorchsLayout) {
  // depth 1, one tree, leaves of width 3 at d = 4: the file's [K, L, ℓ, d] / [K, L, d_out, ℓ]
  // against build_fff_kernel's [K·L][d][ℓ] / [K·L][ℓ][d_out].
  const int64_t d = 4, leaf = 3, leaves = 2;
  const auto w_in = ramp(1 * d, 0.6f), b_in = ramp(1, 0.1f, 1);
  const auto lw1 = ramp(leaves * leaf * d, 0.5f, 2), lb1 = ramp(leaves * leaf, 0.1f, 3);
  const auto lw2 = ramp(leaves * d * leaf, 0.5f, 4), lb2 = ramp(leaves * d, 0.1f, 5);
  write_safetensors(weights, {{"w_in", {1, 1, d}, w_in.data()}, {"b_in", {1, 1}, b_in.data()},
                              {"leaf_w1", {1, leaves, leaf, d}, lw1.data()}, {"leaf_b1", {1, leaves, leaf}, lb1.data()},
                              {"leaf_w2", {1, leaves, d, leaf}, lw2.data()}, {"leaf_b2", {1, leaves, d}, lb2.data()}});
  std::map<std::string, std::string> given = {{"d", "4"}, {"depth", "1"}, {"leaf_width", "3"}, {"impl", "per_token"}};
  FffWeights w;
  w.w_in = w_in;
  w.b_in = b_in;
  w.leaf_b1 = lb1;
  w.leaf_b2 = lb2;
  w.leaf_w1.resize(lw1.size());
  w.leaf_w2.resize(lw2.size());
  for (int64_t l = 0; l < leaves; ++l)
    for (int64_t j = 0; j < leaf; ++j)
      for (int64_t i = 0; i < d; ++i) {
        w.leaf_w1[(l * d + i) * leaf + j] = lw1[(l * leaf + j) * d + i];
        w.leaf_w2[(l * leaf + j) * d + i] = lw2[(l * d + i) * leaf + j];
      }
  auto by_hand = build_fff_kernel(resolve_variant_config(Registry::instance().get("fff"), given, "fff."), w, 8);
  given["weights"] = weights;
  auto loaded = test_support::build_kernel("fff", given, 8);
  const auto x = ramp(8 * d, 1.0f, 0.9f);
  AlignedVector<float> xs(x.begin(), x.end()), a(8 * d), b(8 * d);
  by_hand->forward(xs.data(), a.data(), 8, nullptr);
  loaded->forward(xs.data(), b.data(), 8, nullptr);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << i;
  const auto stats = loaded->routing_statistics(xs.data(), 8);
  EXPECT_EQ(stats.count("leaf_entropy_bits"), 1u);
}

TEST_F(TrainedWeights, AMissingTensorIsRefusedWithItsNameAndShape) {
  DenseBlock().write(weights, /*with_b2=*/false);
  EXPECT_EQ(refusal(sweep()), prefix() + "has no tensor 'w2.bias' (it has: ln.bias, ln.weight, w1.bias, w1.weight, "
                                         "w2.weight); gemm_ffn with d = 4, d_ff = 8, layernorm = true, activation = gelu_erf needs it as F32 [4]");
}

TEST_F(TrainedWeights, AWrongShapeIsRefused) {
  DenseBlock().write(weights);
  EXPECT_EQ(refusal(sweep("", "", " --gemm_ffn.d_ff 16")),
            prefix() + "tensor 'w1.weight' is F32 [8, 4], but gemm_ffn with d = 4, d_ff = 16, layernorm = true, activation = gelu_erf needs F32 [16, 4]");
}

TEST_F(TrainedWeights, AWrongDtypeIsRefused) {
  std::string header = R"({"ln.weight":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})";
  test_support::write_raw_safetensors(weights, header, std::string(8, '\0'));
  EXPECT_EQ(refusal(sweep()), prefix() + "has no tensor 'w1.weight' (it has: ln.weight); gemm_ffn with d = 4, "
                                         "d_ff = 8, layernorm = true, activation = gelu_erf needs it as F32 [8, 4]");
  header = R"({"ln.weight":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},)"
           R"("ln.bias":{"dtype":"F32","shape":[4],"data_offsets":[8,24]},)"
           R"("w1.weight":{"dtype":"F32","shape":[8,4],"data_offsets":[24,152]},)"
           R"("w1.bias":{"dtype":"F32","shape":[8],"data_offsets":[152,184]},)"
           R"("w2.weight":{"dtype":"F32","shape":[4,8],"data_offsets":[184,312]},)"
           R"("w2.bias":{"dtype":"F32","shape":[4],"data_offsets":[312,328]}})";
  test_support::write_raw_safetensors(weights, header, std::string(328, '\0'));
  EXPECT_EQ(refusal(sweep()), prefix() + "tensor 'ln.weight' is F16 [4], but gemm_ffn with d = 4, d_ff = 8, "
                                         "layernorm = true, activation = gelu_erf needs F32 [4]");
}

TEST_F(TrainedWeights, ATruncatedFileIsRefused) {
  DenseBlock().write(weights);
  fs::resize_file(weights, fs::file_size(weights) - 4);
  const std::string r = refusal(sweep());
  EXPECT_NE(r.find(prefix() + "is truncated: tensor 'w2.bias' needs bytes [320, 336) of the data, but the file "
                               "holds only 332 bytes of data after its header"),
            std::string::npos)
      << r;
}

TEST_F(TrainedWeights, AHeaderThatLiesAboutItsSizesIsRefused) {
  // w1.bias claims [8] (32 bytes) but its offsets span 28.
  const std::string header = R"({"w1.bias":{"dtype":"F32","shape":[8],"data_offsets":[0,28]}})";
  test_support::write_raw_safetensors(weights, header, std::string(32, '\0'));
  EXPECT_EQ(refusal(sweep()), prefix() + "has a header that lies about its sizes: tensor 'w1.bias' of shape [8] and "
                                         "dtype F32 holds 32 bytes, but its data_offsets [0, 28] span 28 bytes");
}

TEST_F(TrainedWeights, ATensorTheConfigurationDoesNotUseIsRefused) {
  DenseBlock().write(weights);
  EXPECT_EQ(refusal(sweep("", "", " --gemm_ffn.layernorm false")),
            prefix() + "has tensor 'ln.bias' (F32 [4]), which gemm_ffn with d = 4, d_ff = 8, layernorm = false, activation = gelu_erf does "
                       "not use (it needs: w1.weight, w1.bias, w2.weight, w2.bias): trained with another configuration");
}

TEST_F(TrainedWeights, MetaJsonBesideTheFileMustAgreeWithTheConfiguration) {
  DenseBlock().write(weights);
  const std::string meta = (root / "model" / "meta.json").string();
  std::ofstream(meta) << R"({"family": "gemm_ffn", "params": {"d": 4, "d_ff": 16, "layernorm": true}})";
  EXPECT_EQ(refusal(sweep()), prefix() + "was trained with d_ff = 16 (" + meta + "), but the configuration has d_ff = 8");
  std::ofstream(meta) << R"({"family": "moe", "params": {}})";
  EXPECT_EQ(refusal(sweep()), prefix() + "was trained as family moe (" + meta + "), but this is a gemm_ffn block");
}

TEST_F(TrainedWeights, AnActivationsFileOfAnotherWidthIsRefused) {
  DenseBlock().write(weights);
  const auto x = ramp(10 * 6, 1.0f);
  const std::string acts = (root / "acts.safetensors").string();
  write_safetensors(acts, {{"x", {10, 6}, x.data()}});
  EXPECT_EQ(refusal(sweep("inputs = " + acts + "\n")),
            "ffnbench sweep: invalid value '" + acts + "' for 'inputs': tensor 'x' is F32 [10, 6], but the "
            "configuration needs F32 [n, 4] (n >= 1 rows of width d_in = 4)");
  write_safetensors(acts, {{"h", {10, 4}, x.data()}});
  EXPECT_EQ(refusal(sweep("", "inputs = " + acts + "\n")),
            "ffnbench sweep: invalid value '" + acts + "' for 'gemm_ffn.inputs': has no tensor 'x'; the configuration "
            "needs the block's inputs as F32 [n, 4]");
}

TEST_F(TrainedWeights, AnActivationsFileIsCycledAsTheInputsAndNamedInThePoint) {
  DenseBlock().write(weights);
  const auto x = ramp(20 * kD, 1.0f);
  const std::string acts = (root / "acts.safetensors").string();
  write_safetensors(acts, {{"x", {20, kD}, x.data()}});
  const Result r = sweep("inputs = " + acts + "\n");
  ASSERT_EQ(r.status, 0) << r.output;
  std::vector<fs::path> folders;
  for (const auto& e : fs::recursive_directory_iterator(root / "results"))
    if (e.path().filename() == "points.csv") folders.push_back(e.path());
  ASSERT_EQ(folders.size(), 1u);
  const auto table = read_csv_file(folders[0].string());
  ASSERT_EQ(table.size(), 2u);
  auto col = [&](const std::string& name) {
    return table[1][std::find(table[0].begin(), table[0].end(), name) - table[0].begin()];
  };
  EXPECT_EQ(col("status"), "ok") << col("status_reason");
  EXPECT_NE(col("point_id").find("|inputs=" + acts + "|"), std::string::npos) << "the point id names the file";
  EXPECT_EQ(col("inputs"), acts);
  EXPECT_EQ(col("input_batches"), "2") << "20 rows in batches of 8: 2 batches cycled";
  EXPECT_EQ(col("p_weights"), weights);
  EXPECT_EQ(col("quality_value"), "") << "no meta.json: no quality";
}

}  // namespace
