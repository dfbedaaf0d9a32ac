// The cross-framework gate: a point with trained weights is checked, before it is timed, against
// PyTorch's own outputs for the block (the export's activations.safetensors beside the weights:
// x, the block's inputs, and y, PyTorch's outputs for them). PyTorch is an independent
// implementation of the same math (training/FORMAT.md), so this checks our reference as much as
// the optimized kernel: both are compared with y.
#pragma once

#include <cstdint>
#include <string>

#include "core/variant.hpp"
#include "sweep/gate.hpp"

namespace ffnbench {

struct PytorchCheck {
  std::string activations;  // the file compared with
  GateResult optimized;     // the kernel's forward() on every row of x vs y
  GateResult reference;     // the scalar reference on up to kReferenceRows rows of x vs y
  double tolerance = 0;     // stated below
  double epsilon = 0;
  bool passed() const { return optimized.passed && reference.passed; }
  std::string detail() const;  // on failure: which side, where, by how much
};

// Rows of x the scalar reference is run on (spread over the file, the last included).
inline constexpr int64_t kReferenceRows = 256;

// Tolerance against PyTorch: the kernel's own tolerance against the reference plus 1e-4 for
// PyTorch's fp32 (another summation order, its own erf, exp and LayerNorm; measured well below
// 1e-5 on the exported families). A routing decision PyTorch takes the other way than we do is
// forgiven at ε = 4 × the kernel's decision ε: PyTorch's rounding chains may be up to 16 times
// longer than ours (BH4's Hadamard transform as a d'-term matrix product instead of log2 d'
// butterfly levels), and rounding grows as the square root of the chain.
double pytorch_tolerance(const Kernel& kernel);
double pytorch_epsilon(const Kernel& kernel);

// The activations file of the export a weights file belongs to (its folder's
// activations.safetensors), or "" when there is none.
std::string pytorch_activations_for(const std::string& weights_path);

// Runs the check: forward() over all n rows of x in batches of at most `max_batch` tokens (the
// size the kernel was built for), the reference over kReferenceRows of them. The file must have
// passed check_activations_file for the kernel's widths.
PytorchCheck check_against_pytorch(Kernel& kernel, const std::string& activations, int64_t max_batch);

}  // namespace ffnbench
