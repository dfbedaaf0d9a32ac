#include "sweep/pytorch_gate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "common/aligned.hpp"
#include "common/safetensors.hpp"

namespace ffnbench {

double pytorch_tolerance(const Kernel& kernel) { return kernel.tolerance() + 1e-4; }
double pytorch_epsilon(const Kernel& kernel) { return 4.0 * kernel.decision_epsilon(); }

std::string PytorchCheck::detail() const {
  if (!reference.passed) return fmt::format("the C++ reference vs PyTorch ({}): {}", activations, reference.detail);
  if (!optimized.passed) return fmt::format("the optimized kernel vs PyTorch ({}): {}", activations, optimized.detail);
  return "";
}

std::string pytorch_activations_for(const std::string& weights_path) {
  if (weights_path.empty()) return "";
  const auto file = std::filesystem::path(weights_path).parent_path() / "activations.safetensors";
  std::error_code ec;
  return std::filesystem::is_regular_file(file, ec) ? file.string() : "";
}

PytorchCheck check_against_pytorch(Kernel& kernel, const std::string& activations, int64_t max_batch) {
  const SafetensorsFile file = SafetensorsFile::open(activations, "activations");
  const TensorInfo* x_info = file.find("x");
  const TensorInfo* y_info = file.find("y");
  const int64_t n = x_info->shape[0], d_in = kernel.d_in(), d_out = kernel.d_out();
  std::vector<float> x(static_cast<size_t>(n * d_in)), y(static_cast<size_t>(n * d_out));
  file.read_f32(*x_info, x.data());
  file.read_f32(*y_info, y.data());

  PytorchCheck check;
  check.activations = activations;
  check.tolerance = pytorch_tolerance(kernel);
  check.epsilon = pytorch_epsilon(kernel);

  // The optimized kernel on every row, in batches it was built for (inputs and outputs aligned).
  const int64_t batch = std::max<int64_t>(std::min(max_batch, n), 1);
  AlignedVector<float> xb(static_cast<size_t>(batch * d_in)), yb(static_cast<size_t>(batch * d_out));
  std::vector<float> out(static_cast<size_t>(n * d_out));
  for (int64_t r0 = 0; r0 < n; r0 += batch) {
    const int64_t rows = std::min(batch, n - r0);
    std::copy(x.begin() + r0 * d_in, x.begin() + (r0 + rows) * d_in, xb.begin());
    kernel.forward(xb.data(), yb.data(), rows, nullptr);
    std::copy(yb.begin(), yb.begin() + rows * d_out, out.begin() + r0 * d_out);
  }
  check.optimized = compare_rows(kernel, x.data(), y.data(), out.data(), n, check.tolerance, check.epsilon);

  // The reference on rows spread over the file.
  const int64_t rows = std::min(n, kReferenceRows);
  std::vector<int64_t> picked(rows);
  for (int64_t i = 0; i < rows; ++i) picked[i] = rows == 1 ? 0 : i * (n - 1) / (rows - 1);
  std::vector<float> xs(rows * d_in), ys(rows * d_out), ref(rows * d_out);
  for (int64_t i = 0; i < rows; ++i) {
    std::copy(x.begin() + picked[i] * d_in, x.begin() + (picked[i] + 1) * d_in, xs.begin() + i * d_in);
    std::copy(y.begin() + picked[i] * d_out, y.begin() + (picked[i] + 1) * d_out, ys.begin() + i * d_out);
  }
  kernel.reference(xs.data(), ref.data(), rows);
  check.reference = compare_rows(kernel, xs.data(), ys.data(), ref.data(), rows, check.tolerance, check.epsilon, picked);
  return check;
}

}  // namespace ffnbench
