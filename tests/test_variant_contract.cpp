// What every registered variant promises the harness, checked for every impl and precision at
// the variant's defaults: repeated calls give identical
// outputs, and cold mode's regions cover at least the weight bytes the cost model says a call reads.
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <omp.h>

#include <cstring>

#include "common/aligned.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "support_kernels.hpp"

using namespace ffnbench;

namespace {

constexpr int64_t kTokens = 19;  // odd: a ragged tail for every tiled or grouped impl

struct Built {
  std::string label;
  std::unique_ptr<Kernel> kernel;
};

// One kernel per (impl, precision) every variant offers; combinations the variant refuses on this
// machine (bf16 without AVX512-BF16, say) are printed, not silently dropped.
std::vector<Built> every_variant_impl_and_precision() {
  std::vector<Built> out;
  for (const Variant* v : Registry::instance().all()) {
    if (v->name().rfind("test_", 0) == 0) continue;  // the test binary's own variants break rules on purpose
    std::vector<std::string> impls{""}, precisions{""};
    for (const auto& spec : v->params()) {
      if (spec.name == "impl") impls = spec.choices;
      if (spec.name == "precision") precisions = spec.choices;
    }
    for (const auto& impl : impls)
      for (const auto& precision : precisions) {
        std::map<std::string, std::string> given;
        if (!impl.empty()) given["impl"] = impl;
        if (!precision.empty()) given["precision"] = precision;
        const std::string label = fmt::format("{} impl={} precision={}", v->name(), impl, precision);
        try {
          out.push_back({label, test_support::build_kernel(v->name(), given, kTokens)});
        } catch (const ConfigError& e) {
          std::printf("[ note ] %s not built here: %s\n", label.c_str(), e.what());
        }
      }
  }
  return out;
}

AlignedVector<float> inputs(int64_t d_in, uint64_t seed) {
  AlignedVector<float> X(kTokens * d_in);
  fill_uniform(X.data(), X.size(), seed, 11, -1.0f, 1.0f);
  return X;
}

}  // namespace

TEST(VariantContract, RepeatedForwardCallsGiveIdenticalOutputs) {
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (auto& [label, k] : every_variant_impl_and_precision()) {
      const auto X1 = inputs(k->d_in(), 1), X2 = inputs(k->d_in(), 2);
      const size_t n = kTokens * k->d_out();
      AlignedVector<float> first(n), again(n), other(n), back(n);
      k->forward(X1.data(), first.data(), kTokens, nullptr);
      k->forward(X1.data(), again.data(), kTokens, nullptr);
      k->forward(X2.data(), other.data(), kTokens, nullptr);
      k->forward(X1.data(), back.data(), kTokens, nullptr);
      EXPECT_EQ(std::memcmp(first.data(), again.data(), n * sizeof(float)), 0) << label << " T=" << threads << ": a second call on the same input differs";
      EXPECT_EQ(std::memcmp(first.data(), back.data(), n * sizeof(float)), 0) << label << " T=" << threads << ": a call after another input differs from the first";
      EXPECT_NE(std::memcmp(first.data(), other.data(), n * sizeof(float)), 0) << label << ": two inputs give one output";
    }
  }
}

TEST(VariantContract, ColdModeRegionsCoverTheWeightsACallReads) {
  omp_set_num_threads(2);
  for (auto& [label, k] : every_variant_impl_and_precision()) {
    AlignedVector<float> X = inputs(k->d_in(), 1), Y(kTokens * k->d_out());
    k->forward(X.data(), Y.data(), kTokens, nullptr);  // scratch sized by a first call
    double covered = 0;
    for (const auto& r : k->memory_regions()) {
      EXPECT_NE(r.data, nullptr) << label;
      covered += static_cast<double>(r.bytes);
    }
    const double weights = k->cost(kTokens).weight_bytes;
    EXPECT_GE(covered, weights) << label << ": memory_regions cover " << covered << " bytes, the model reads "
                                << weights << " bytes of weights";
  }
}
