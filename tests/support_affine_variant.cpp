#include "support_affine_variant.hpp"

namespace ffnbench::testing {
namespace {

class AffineKernel final : public Kernel {
 public:
  AffineKernel(int64_t d, float scale, bool broken) : d_(d), scale_(scale), broken_(broken) {}
  int64_t d_in() const override { return d_; }
  int64_t d_out() const override { return d_; }
  void forward(const float* X, float* Y, int64_t tokens, StageTimer* stages) override {
    StageTimer::Scope s(stages, 0);
    for (int64_t i = 0; i < tokens * d_; ++i) Y[i] = (scale_ * X[i] + 1.0f) * (broken_ ? 1.01f : 1.0f);
  }
  void reference(const float* X, float* Y, int64_t tokens) const override {
    for (int64_t i = 0; i < tokens * d_; ++i) Y[i] = scale_ * X[i] + 1.0f;
  }
  Cost cost(int64_t tokens) const override {
    Cost c;
    c.flops = 2.0 * tokens * d_;
    c.activation_bytes = 8.0 * tokens * d_;
    c.stage_flops = {c.flops};
    return c;
  }
  std::vector<std::string> stage_names() const override { return {"affine"}; }

 private:
  int64_t d_;
  float scale_;
  bool broken_;
};

}  // namespace

std::unique_ptr<Kernel> AffineVariant::build(const Config& c, uint64_t, int64_t) const {
  return std::make_unique<AffineKernel>(c.integer("d"), static_cast<float>(c.real("scale")),
                                        c.str("impl") == "broken");
}

FFNBENCH_REGISTER_VARIANT(AffineVariant);

}  // namespace ffnbench::testing
