// A test-only variant (registered in the test binary, not in ffnbench): Y = scale·X + 1.
// It lets the harness tests exercise grids, cross-checks and the gate without a real kernel.
#pragma once

#include "core/registry.hpp"

namespace ffnbench::testing {

class AffineVariant final : public Variant {
 public:
  std::string name() const override { return "test_affine"; }
  std::string doc() const override { return "test only: Y = scale*X + 1"; }
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::integer("d", 8, 1, 4096, "width"),
            ParamSpec::real("scale", 2.0, -100, 100, "multiplier"),
            ParamSpec::choice("impl", "good", {"good", "broken", "late_broken"},
                              "broken is off by 1%; late_broken too, after its first call")};
  }
  void validate(const Config& c) const override {
    if (c.str("impl") == "good" && c.integer("d") % 2 != 0)
      throw ConfigError("d", c.str("d"), "must be even with impl=good");
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t, int64_t) const override;
};

}  // namespace ffnbench::testing
