#include "common/activation.hpp"

#include "common/fast_math.hpp"

namespace ffnbench {

namespace {

// One row: x = act(x + bias). The activation is a template parameter so each loop is a plain
// `omp simd` loop the compiler vectorizes (no switch inside).
template <Activation A>
inline float activated(float v) {
  if constexpr (A == Activation::GeluErf) return 0.5f * v * (1.0f + fast_erf(v * 0.70710678118654752f));
  else if constexpr (A == Activation::GeluTanh)
    return 0.5f * v * (1.0f + fast_tanh(0.79788456080286536f * (v + 0.044715f * v * v * v)));
  else if constexpr (A == Activation::Relu) return v > 0.0f ? v : 0.0f;
  else return v;
}

// One row: x = act(x + bias). The activation is a template parameter and the bias test sits
// outside the loops, so each loop is a plain `omp simd` loop the compiler vectorizes.
template <Activation A>
void row_epilogue(float* row, int64_t width, const float* bias) {
  if (bias != nullptr) {
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) row[j] = activated<A>(row[j] + bias[j]);
  } else {
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) row[j] = activated<A>(row[j]);
  }
}

template <Activation A>
void rows_epilogue(float* x, int64_t rows, int64_t width, const float* bias, bool parallel) {
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t r = 0; r < rows; ++r) row_epilogue<A>(x + r * width, width, bias);
}

void dispatch(float* x, int64_t rows, int64_t width, const float* bias, Activation a, bool parallel) {
  switch (a) {
    case Activation::GeluErf: return rows_epilogue<Activation::GeluErf>(x, rows, width, bias, parallel);
    case Activation::GeluTanh: return rows_epilogue<Activation::GeluTanh>(x, rows, width, bias, parallel);
    case Activation::Relu: return rows_epilogue<Activation::Relu>(x, rows, width, bias, parallel);
    case Activation::None: return rows_epilogue<Activation::None>(x, rows, width, bias, parallel);
  }
}

}  // namespace

void bias_activation_rows(float* x, int64_t rows, int64_t width, const float* bias, Activation a) {
  dispatch(x, rows, width, bias, a, true);
}

void bias_activation_rows_serial(float* x, int64_t rows, int64_t width, const float* bias, Activation a) {
  dispatch(x, rows, width, bias, a, false);
}

}  // namespace ffnbench
