// The error a reduced-precision kernel (bf16, int8) makes against the fp32 math on the original
// weights, as points.csv reports it (extras: rel_rms_error_vs_fp32).
#pragma once

#include <cstdint>
#include <functional>

namespace ffnbench {

// ‖Y − Y_fp32‖ / ‖Y_fp32‖ over `rows` rows spread over the batch (the first and the last
// included), Y_fp32 of a row computed by fp32_row(x [d_in], y [d_out]); 0 when Y_fp32 is all zero.
double relative_rms_error_vs_fp32(const float* X, int64_t d_in, const float* Y, int64_t d_out, int64_t tokens,
                                  int64_t rows, const std::function<void(const float*, float*)>& fp32_row);

}  // namespace ffnbench
