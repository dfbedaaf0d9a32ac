// Trained weights for a variant: the `weights = <file.safetensors>` parameter every variant
// declares through weights_param(), checked against the configuration (and against the
// meta.json beside the file, when there is one) in validate(), read in build(). The tensors,
// their names and PyTorch layouts are the export contract (training/FORMAT.md); layout changes
// ([out, in] Linear weights transposed, blocks transposed) happen here, at load time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/aligned.hpp"
#include "common/safetensors.hpp"
#include "core/params.hpp"

namespace ffnbench {

inline constexpr const char* kWeightsParam = "weights";

// weights: empty (the default) builds seeded random weights.
ParamSpec weights_param();

// A tensor the configuration needs: its name and F32 shape.
struct TensorNeed {
  std::string name;
  std::vector<int64_t> shape;
};

// The configuration's weights file, or nothing when `weights` is empty. Checks that the file is
// sound, that it has exactly the tensors `needs` names (each F32 of its shape; a tensor the
// configuration does not use is an error too: it was trained with another one), and that
// meta.json beside it, if present, says family = `family` and, for each of `keys` (the
// parameters the trained function depends on: "d", "d_ff", ...) it lists, the configuration's
// value. Every failure is a FileContentError naming the file, the tensor, what it has and what
// the configuration ("gemm_ffn with d = 128, d_ff = 512, ...") needs.
std::optional<SafetensorsFile> open_trained_weights(const Config& config, const std::string& family,
                                                    const std::vector<TensorNeed>& needs,
                                                    const std::vector<std::string>& keys);

// The meta.json beside a weights file ("" when there is none).
std::string meta_json_path(const std::string& weights_path);

// "name = value" for each of `keys`, joined by ", " (the text of `needed_by`).
std::string describe_params(const Config& config, const std::vector<std::string>& keys);

// A tensor's data as it is stored (row-major C order).
AlignedVector<float> load_tensor(const SafetensorsFile& file, const std::string& name);
// A tensor [..., r, c] with its last two axes swapped: [..., c, r] (PyTorch's [out, in] Linear
// weight to the kernels' row-major [in][out]).
AlignedVector<float> load_transposed(const SafetensorsFile& file, const std::string& name);

}  // namespace ffnbench
