// Activation functions shared by the dense-FFN-shaped variants (scalar reference forms).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace ffnbench {

enum class Activation { GeluErf, GeluTanh, Relu, None };

inline const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"gelu_erf", "gelu_tanh", "relu", "none"};
  return names;
}

inline Activation parse_activation(const std::string& name) {
  if (name == "gelu_erf" || name == "gelu") return Activation::GeluErf;
  if (name == "gelu_tanh") return Activation::GeluTanh;
  if (name == "relu") return Activation::Relu;
  return Activation::None;
}

inline float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

inline float gelu_tanh(float x) {
  const float k = 0.79788456080286536f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + std::tanh(k * (x + 0.044715f * x * x * x)));
}

inline float activate(Activation a, float x) {
  switch (a) {
    case Activation::GeluErf: return gelu_erf(x);
    case Activation::GeluTanh: return gelu_tanh(x);
    case Activation::Relu: return x > 0.0f ? x : 0.0f;
    case Activation::None: return x;
  }
  return x;
}

}  // namespace ffnbench

namespace ffnbench {
// x[i] = act(x[i] + bias[i % width]) over rows of `width`, parallel over rows (bias may be null).
void bias_activation_rows(float* x, int64_t rows, int64_t width, const float* bias, Activation a);
// The same on the calling thread only (for use inside a parallel region).
void bias_activation_rows_serial(float* x, int64_t rows, int64_t width, const float* bias, Activation a);
}  // namespace ffnbench
