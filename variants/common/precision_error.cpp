#include "common/precision_error.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ffnbench {

double relative_rms_error_vs_fp32(const float* X, int64_t d_in, const float* Y, int64_t d_out, int64_t tokens,
                                  int64_t rows, const std::function<void(const float*, float*)>& fp32_row) {
  rows = std::min(rows, tokens);
  std::vector<float> y(d_out);
  double err = 0, ref = 0;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t t = rows == 1 ? 0 : i * (tokens - 1) / (rows - 1);
    fp32_row(X + t * d_in, y.data());
    for (int64_t k = 0; k < d_out; ++k) {
      const double e = double(Y[t * d_out + k]) - y[k];
      err += e * e;
      ref += double(y[k]) * y[k];
    }
  }
  return ref > 0 ? std::sqrt(err / ref) : 0.0;
}

}  // namespace ffnbench
