#include "sweep/gate.hpp"

#include <fmt/format.h>

#include <cmath>
#include <vector>

namespace ffnbench {

GateResult check_against_reference(const Kernel& kernel, const float* X, const float* Y,
                                   int64_t tokens, int64_t max_rows) {
  const int64_t d_in = kernel.d_in(), d_out = kernel.d_out();
  const int64_t rows = std::min(tokens, max_rows);
  std::vector<int64_t> picked(rows);
  for (int64_t i = 0; i < rows; ++i) picked[i] = rows == 1 ? 0 : i * (tokens - 1) / (rows - 1);

  std::vector<float> xs(rows * d_in), ref(rows * d_out);
  for (int64_t i = 0; i < rows; ++i)
    std::copy(X + picked[i] * d_in, X + (picked[i] + 1) * d_in, xs.begin() + i * d_in);
  kernel.reference(xs.data(), ref.data(), rows);

  double sum_sq = 0;
  for (float v : ref) sum_sq += static_cast<double>(v) * v;
  const double rms = std::sqrt(sum_sq / std::max<size_t>(ref.size(), 1)) + 1e-30;

  GateResult g;
  g.rows_checked = rows;
  g.passed = true;
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < d_out; ++j) {
      const double r = ref[i * d_out + j], y = Y[picked[i] * d_out + j];
      const double err = std::isfinite(y) ? std::abs(y - r) / (std::abs(r) + rms) : INFINITY;
      if (err > g.max_error || !std::isfinite(err)) {
        g.max_error = err;
        if (err > kernel.tolerance() || !std::isfinite(err)) {
          g.passed = false;
          g.detail = fmt::format("row {} column {}: got {}, reference {}, error {:.3g} > tolerance {:.3g}",
                                 picked[i], j, y, r, err, kernel.tolerance());
        }
      }
    }
  }
  return g;
}

}  // namespace ffnbench
