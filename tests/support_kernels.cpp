#include "support_kernels.hpp"

#include <algorithm>
#include <cmath>

#include "common/aligned.hpp"
#include "common/random.hpp"

namespace ffnbench::test_support {

std::unique_ptr<Kernel> build_kernel(const std::string& variant, const std::map<std::string, std::string>& given,
                                     int64_t max_tokens, uint64_t seed) {
  const Variant& v = Registry::instance().get(variant);
  return v.build(resolve_variant_config(v, given, variant + "."), seed, max_tokens);
}

std::string validation_error(const std::string& variant, const std::map<std::string, std::string>& given) {
  try {
    resolve_variant_config(Registry::instance().get(variant), given, variant + ".");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

ErrorCheck compare_with(const float* Y, const std::vector<double>& R) {
  ErrorCheck c;
  for (double r : R) c.rms += r * r;
  c.rms = std::sqrt(c.rms / static_cast<double>(R.size()));
  for (size_t i = 0; i < R.size(); ++i) c.max_error = std::max(c.max_error, std::abs(Y[i] - R[i]) / (std::abs(R[i]) + c.rms));
  return c;
}

GateResult check_all_rows(Kernel& kernel, int64_t tokens, uint64_t input_seed) {
  AlignedVector<float> X(tokens * kernel.d_in()), Y(tokens * kernel.d_out());
  fill_uniform(X.data(), X.size(), input_seed, 3, -1.0f, 1.0f);
  kernel.forward(X.data(), Y.data(), tokens, nullptr);
  return check_against_reference(kernel, X.data(), Y.data(), tokens, tokens);
}

}  // namespace ffnbench::test_support
