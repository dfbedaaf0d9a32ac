#include "sweep/gate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace ffnbench {

GateResult compare_rows(const Kernel& kernel, const float* X, const float* expected, const float* Y, int64_t rows,
                        double tolerance, double epsilon, const std::vector<int64_t>& labels) {
  const int64_t d_out = kernel.d_out();
  auto label = [&](int64_t i) { return labels.empty() ? i : labels[i]; };
  double sum_sq = 0;
  for (int64_t i = 0; i < rows * d_out; ++i) sum_sq += static_cast<double>(expected[i]) * expected[i];
  const double rms = std::sqrt(sum_sq / static_cast<double>(std::max<int64_t>(rows * d_out, 1))) + 1e-30;
  // A quantized kernel's rounding bound, relative to the output's scale (Kernel::error_bound).
  tolerance = std::max(tolerance, kernel.error_bound() / rms);

  GateResult g;
  g.rows_checked = rows;
  std::vector<double> margins;  // computed only when some row differs
  bool margins_known = false;
  for (int64_t i = 0; i < rows; ++i) {
    double row_error = 0;
    int64_t worst_col = 0;
    for (int64_t j = 0; j < d_out; ++j) {
      const double r = expected[i * d_out + j], y = Y[i * d_out + j];
      const double err = std::isfinite(y) ? std::abs(y - r) / (std::abs(r) + rms) : INFINITY;
      if (!(err <= row_error)) {
        row_error = err;
        worst_col = j;
      }
    }
    if (std::isfinite(row_error)) g.max_error = std::max(g.max_error, row_error);
    if (row_error <= tolerance) {
      g.max_kept_error = std::max(g.max_kept_error, row_error);
      continue;
    }
    ++g.mismatched_rows;
    if (!margins_known) {
      margins = kernel.decision_margins(X, rows);
      margins_known = true;
    }
    const bool has_margin = static_cast<int64_t>(margins.size()) == rows;
    const double margin = has_margin ? margins[i] : INFINITY;
    // NaN/inf is never a branch choice; a finite row is forgiven only at a genuine tie.
    if (std::isfinite(row_error) && margin <= epsilon) {
      ++g.forgiven_rows;
      continue;
    }
    g.max_kept_error = std::max(g.max_kept_error, std::isfinite(row_error) ? row_error : INFINITY);
    if (g.detail.empty()) {
      g.detail = fmt::format("row {} column {}: got {}, reference {}, error {:.3g} > tolerance {:.3g}", label(i),
                             worst_col, Y[i * d_out + worst_col], expected[i * d_out + worst_col], row_error, tolerance);
      if (has_margin)
        g.detail += fmt::format(" (its smallest decision margin {:.3g} exceeds ε = {:.3g}: not a tie)", margin, epsilon);
    }
  }
  const int64_t failed = g.mismatched_rows - g.forgiven_rows;
  g.passed = failed == 0;
  if (!g.passed && failed > 1) g.detail += fmt::format(" ({} of {} rows off)", failed, rows);
  return g;
}

GateResult check_against_reference(const Kernel& kernel, const float* X, const float* Y,
                                   int64_t tokens, int64_t max_rows) {
  const int64_t d_in = kernel.d_in(), d_out = kernel.d_out();
  const int64_t rows = std::min(tokens, max_rows);
  std::vector<int64_t> picked(rows);
  for (int64_t i = 0; i < rows; ++i) picked[i] = rows == 1 ? 0 : i * (tokens - 1) / (rows - 1);

  std::vector<float> xs(rows * d_in), ref(rows * d_out), ys(rows * d_out);
  for (int64_t i = 0; i < rows; ++i) {
    std::copy(X + picked[i] * d_in, X + (picked[i] + 1) * d_in, xs.begin() + i * d_in);
    std::copy(Y + picked[i] * d_out, Y + (picked[i] + 1) * d_out, ys.begin() + i * d_out);
  }
  kernel.reference(xs.data(), ref.data(), rows);
  return compare_rows(kernel, xs.data(), ref.data(), ys.data(), rows, kernel.tolerance(), kernel.decision_epsilon(),
                      picked);
}

GateResult combine(const GateResult& a, const GateResult& b) {
  GateResult g;
  g.passed = a.passed && b.passed;
  g.max_error = std::max(a.max_error, b.max_error);
  g.max_kept_error = std::max(a.max_kept_error, b.max_kept_error);
  g.rows_checked = a.rows_checked + b.rows_checked;
  g.mismatched_rows = a.mismatched_rows + b.mismatched_rows;
  g.forgiven_rows = a.forgiven_rows + b.forgiven_rows;
  g.detail = !a.passed ? a.detail : b.detail;
  return g;
}

}  // namespace ffnbench
