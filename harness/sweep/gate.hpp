// The correctness gate: optimized output vs the scalar reference, before anything is timed and
// again on one timed call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/variant.hpp"

namespace ffnbench {

struct GateResult {
  bool passed = false;
  double max_error = 0;         // max over checked elements of |y - ref| / (|ref| + rms(ref))
  int64_t rows_checked = 0;
  int64_t mismatched_rows = 0;  // rows beyond the tolerance
  int64_t forgiven_rows = 0;    // of those, rows whose reference sits within ε of a decision threshold
  double max_kept_error = 0;    // max_error over the rows not forgiven (the fidelity of the rest)
  std::string detail;           // on failure: where and by how much, and why it was not forgiven
};

// Compares rows of `Y` (the kernel's output for all `tokens` rows of `X`) with the reference
// computed on up to `max_rows` rows spread over the batch (first and last included, and the
// last row of every tile or group a kernel may split the batch into is reached by the spread
// plus the final row). A row beyond the tolerance is forgiven only when the reference's
// decision margin on it (Kernel::decision_margins) is within Kernel::decision_epsilon();
// any other mismatch, and any non-finite value, fails the point.
GateResult check_against_reference(const Kernel& kernel, const float* X, const float* Y,
                                   int64_t tokens, int64_t max_rows = 16);

// The comparison itself: `rows` rows of Y against `expected` (both [rows][d_out]) for the inputs
// X [rows][d_in], elementwise |y - e| / (|e| + rms(expected)) <= tolerance; a row beyond it is
// forgiven only when the kernel's reference decision margin on its X row is <= epsilon.
// `labels` name the rows in the detail (their index in the caller's batch; empty: 0..rows-1).
GateResult compare_rows(const Kernel& kernel, const float* X, const float* expected, const float* Y, int64_t rows,
                        double tolerance, double epsilon, const std::vector<int64_t>& labels = {});

// Adds `b`'s counts to `a` (the first call's check and a timed call's check, one verdict).
GateResult combine(const GateResult& a, const GateResult& b);

}  // namespace ffnbench
