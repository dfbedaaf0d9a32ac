// The correctness gate: optimized output vs the scalar reference before anything is timed.
#pragma once

#include <cstdint>
#include <string>

#include "core/variant.hpp"

namespace ffnbench {

struct GateResult {
  bool passed = false;
  double max_error = 0;  // max over checked elements of |y - ref| / (|ref| + rms(ref))
  int64_t mismatched_rows = 0;  // rows beyond the tolerance (allowed: see Kernel)
  int64_t rows_checked = 0;
  std::string detail;    // on failure: where and by how much
};

// Compares rows of `Y` (the kernel's output for all `tokens` rows of `X`) with the reference
// computed on up to `max_rows` rows spread over the batch (first and last included). Every
// variant computes tokens independently, so a sample of rows checks the whole code path.
GateResult check_against_reference(const Kernel& kernel, const float* X, const float* Y,
                                   int64_t tokens, int64_t max_rows = 16);

}  // namespace ffnbench
