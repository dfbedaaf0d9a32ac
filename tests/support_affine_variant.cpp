#include "support_affine_variant.hpp"

#include <set>
#include <string>

namespace ffnbench::testing {
namespace {

class AffineKernel final : public Kernel {
 public:
  // broken: off by 1% on every call; late_broken: right on the first call only (the gate must
  // also check a timed call).
  AffineKernel(int64_t d, float scale, bool broken, bool late_broken)
      : d_(d), scale_(scale), broken_(broken), late_broken_(late_broken) {}
  int64_t d_in() const override { return d_; }
  int64_t d_out() const override { return d_; }
  void forward(const float* X, float* Y, int64_t tokens, StageTimer* stages) override {
    StageTimer::Scope s(stages, 0);
    inputs_seen_.insert(X);
    const bool off = broken_ || (late_broken_ && calls_++ > 0);
    for (int64_t i = 0; i < tokens * d_; ++i) Y[i] = (scale_ * X[i] + 1.0f) * (off ? 1.01f : 1.0f);
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
  // How many distinct input buffers the calls read (fresh inputs: one per batch of the pool).
  std::map<std::string, std::string> extras() const override {
    return {{"distinct_inputs", std::to_string(inputs_seen_.size())}};
  }

 private:
  int64_t d_;
  float scale_;
  bool broken_, late_broken_;
  int64_t calls_ = 0;
  std::set<const float*> inputs_seen_;
};

}  // namespace

std::unique_ptr<Kernel> AffineVariant::build(const Config& c, uint64_t, int64_t) const {
  return std::make_unique<AffineKernel>(c.integer("d"), static_cast<float>(c.real("scale")),
                                        c.str("impl") == "broken", c.str("impl") == "late_broken");
}

FFNBENCH_REGISTER_VARIANT(AffineVariant);

}  // namespace ffnbench::testing
