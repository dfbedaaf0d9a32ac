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
  const auto allowed_mismatches =
      static_cast<int64_t>(kernel.max_mismatched_row_fraction() * static_cast<double>(rows));
  std::string first_failure;
  for (int64_t i = 0; i < rows; ++i) {
    double row_error = 0;
    int64_t worst_col = 0;
    for (int64_t j = 0; j < d_out; ++j) {
      const double r = ref[i * d_out + j], y = Y[picked[i] * d_out + j];
      const double err = std::isfinite(y) ? std::abs(y - r) / (std::abs(r) + rms) : INFINITY;
      if (!(err <= row_error)) {
        row_error = err;
        worst_col = j;
      }
    }
    if (std::isfinite(row_error)) g.max_error = std::max(g.max_error, row_error);
    if (row_error <= kernel.tolerance()) continue;
    ++g.mismatched_rows;
    if (first_failure.empty())
      first_failure = fmt::format("row {} column {}: got {}, reference {}, error {:.3g} > tolerance {:.3g}",
                                  picked[i], worst_col, Y[picked[i] * d_out + worst_col],
                                  ref[i * d_out + worst_col], row_error, kernel.tolerance());
    if (!std::isfinite(row_error)) g.mismatched_rows = rows + 1;  // NaN/inf is never a branch choice
  }
  g.passed = g.mismatched_rows <= allowed_mismatches;
  if (!g.passed) {
    g.detail = first_failure;
    if (g.mismatched_rows > 1) g.detail += fmt::format(" ({} of {} rows off)", std::min(g.mismatched_rows, rows), rows);
  }
  return g;
}

}  // namespace ffnbench
