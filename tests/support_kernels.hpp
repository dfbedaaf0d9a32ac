// Helpers the variant tests share: build a kernel from parameters, read a validation message,
// run a kernel on random inputs against its own reference.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.hpp"
#include "sweep/gate.hpp"

namespace ffnbench::test_support {

std::unique_ptr<Kernel> build_kernel(const std::string& variant, const std::map<std::string, std::string>& given,
                                     int64_t max_tokens, uint64_t seed = 5);

// The ConfigError message resolving `given` raises, or "no error".
std::string validation_error(const std::string& variant, const std::map<std::string, std::string>& given);

// The gate's error measure over every element of Y against R (a reference computed in double):
// the largest |y − r| / (|r| + rms(R)), and rms(R).
struct ErrorCheck {
  double max_error = 0, rms = 0;
};
ErrorCheck compare_with(const float* Y, const std::vector<double>& R);

// forward() on `tokens` rows of uniform [-1, 1) inputs, every row checked against reference().
GateResult check_all_rows(Kernel& kernel, int64_t tokens, uint64_t input_seed = 3);

}  // namespace ffnbench::test_support
