#include <gtest/gtest.h>

#include "core/params.hpp"

using namespace ffnbench;

TEST(Params, IntegerRangeMessageNamesKeyValueAndRange) {
  auto spec = ParamSpec::integer("tau", 8, 1, 16, "bits per table");
  try {
    spec.check("17", "lookup_ffn.");
    FAIL() << "17 is outside 1..16";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "lookup_ffn.tau");
    EXPECT_EQ(e.value(), "17");
    EXPECT_STREQ(e.what(), "invalid value '17' for 'lookup_ffn.tau': must be an integer in [1, 16]");
  }
}

TEST(Params, NonNumericAndPowerOfTwoAreRejected) {
  auto spec = ParamSpec::integer("b", 64, 1, 4096, "block").pow2();
  EXPECT_THROW(spec.check("sixty"), ConfigError);
  EXPECT_THROW(spec.check("48"), ConfigError);
  EXPECT_THROW(spec.check("64.0"), ConfigError);
  EXPECT_NO_THROW(spec.check("64"));
}

TEST(Params, ChoiceListsAllowedNames) {
  auto spec = ParamSpec::choice("impl", "openblas", {"openblas", "onednn", "naive"}, "");
  try {
    spec.check("mkl");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.allowed(), "must be one of: openblas, onednn, naive");
  }
}

TEST(Params, ResolveFillsDefaultsAndRejectsUnknownKeys) {
  std::vector<ParamSpec> specs = {ParamSpec::integer("d", 512, 1, 65536, ""),
                                  ParamSpec::real("temperature", 1.0, 1e-6, 1e6, "")};
  Config c = resolve(specs, {{"d", "768"}});
  EXPECT_EQ(c.integer("d"), 768);
  EXPECT_DOUBLE_EQ(c.real("temperature"), 1.0);
  EXPECT_THROW(resolve(specs, {{"dd", "1"}}, "gemm_ffn."), ConfigError);
  try {
    resolve(specs, {{"dd", "1"}}, "gemm_ffn.");
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "gemm_ffn.dd");
    EXPECT_NE(std::string(e.what()).find("known: d, temperature"), std::string::npos);
  }
}

TEST(Params, RealRejectsNonFinite) {
  auto spec = ParamSpec::real("temperature", 1.0, 1e-6, 1e6, "");
  EXPECT_THROW(spec.check("nan"), ConfigError);
  EXPECT_THROW(spec.check("0"), ConfigError);
  EXPECT_NO_THROW(spec.check("0.5"));
}
