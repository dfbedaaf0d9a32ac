#include "gemm_ffn/dense_weights.hpp"

#include <cmath>
#include <vector>

#include "common/random.hpp"
#include "gemm_ffn/layer_norm.hpp"

namespace ffnbench {

// Every element is written by fill_uniform (a static OpenMP loop): no zeros are relied on.
DenseFfnWeights DenseFfnWeights::random(int64_t d, int64_t d_ff, uint64_t seed, bool with_bias) {
  DenseFfnWeights w;
  w.d = d;
  w.d_ff = d_ff;
  w.w1.resize(d * d_ff);
  w.w2.resize(d_ff * d);
  const float s1 = 1.0f / std::sqrt(static_cast<float>(d)), s2 = 1.0f / std::sqrt(static_cast<float>(d_ff));
  fill_uniform(w.w1.data(), w.w1.size(), seed, 1, -s1, s1);
  fill_uniform(w.w2.data(), w.w2.size(), seed, 3, -s2, s2);
  if (with_bias) {
    w.b1.resize(d_ff);
    w.b2.resize(d);
    fill_uniform(w.b1.data(), w.b1.size(), seed, 2, -s1, s1);
    fill_uniform(w.b2.data(), w.b2.size(), seed, 4, -s2, s2);
  }
  return w;
}

void DenseFfnWeights::add_layernorm() {
  ln_gamma.assign(d, 1.0f);
  ln_beta.assign(d, 0.0f);
}

void dense_ffn_reference(const DenseFfnWeights& w, Activation act, const float* X, float* Y, int64_t tokens) {
  std::vector<double> u(w.d), h(w.d_ff);
  for (int64_t t = 0; t < tokens; ++t) {
    const float* x = X + t * w.d;
    if (w.has_layernorm()) layer_norm_reference(x, u.data(), w.d, w.ln_gamma.data(), w.ln_beta.data());
    else
      for (int64_t i = 0; i < w.d; ++i) u[i] = x[i];
    for (int64_t j = 0; j < w.d_ff; ++j) {
      double s = w.b1.empty() ? 0.0 : w.b1[j];
      for (int64_t i = 0; i < w.d; ++i) s += u[i] * w.w1[i * w.d_ff + j];
      h[j] = activate(act, static_cast<float>(s));
    }
    for (int64_t k = 0; k < w.d; ++k) {
      double s = w.b2.empty() ? 0.0 : w.b2[k];
      for (int64_t j = 0; j < w.d_ff; ++j) s += h[j] * w.w2[j * w.d + k];
      Y[t * w.d + k] = static_cast<float>(s);
    }
  }
}

}  // namespace ffnbench
