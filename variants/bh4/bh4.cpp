// bh4: LookupFFN's structured projection as a variant of its own, next to the dense GEMM it
// replaces (impl=dense), so the two can be compared at the same d → outputs.
// Cost per token, as each impl runs it (a multiply-add = 2 FLOPs): copies·4·d'·b multiply-adds
// for the block products, plus add/subtracts of the Hadamard levels: copies·4·d'·log2 d' for the
// reference, copies·4·d'·log2(d'/b) for the optimized impl where it folds the levels inside a
// block into the block weights (b at least a register wide; else all levels as the reference);
// dense: d·outputs multiply-adds.
#include <fmt/format.h>
#include <omp.h>

#include <memory>
#include <optional>

#include "bh4/bh4_transform.hpp"
#include "common/blas.hpp"
#include "common/precision_error.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"

namespace ffnbench {
namespace {

std::optional<BlockGemm> block_gemm_choice(const std::string& name) {
  if (name == "microkernel") return BlockGemm::Microkernel;
  if (name == "openblas") return BlockGemm::Openblas;
  return std::nullopt;  // auto: measured
}

class Bh4Kernel final : public Kernel {
 public:
  Bh4Kernel(const Config& c, uint64_t seed)
      : d_(c.integer("d")),
        outputs_(c.integer("outputs") > 0 ? c.integer("outputs") : next_power_of_two(d_)),
        tile_(c.integer("tile")),
        impl_(c.str("impl")),
        bh4_(d_, c.integer("b"), (outputs_ + next_power_of_two(d_) - 1) / next_power_of_two(d_), seed, 21,
             block_gemm_choice(c.str("block_gemm")), parse_bh4_precision(c.str("precision"))) {
    if (impl_ == "dense") {
      dense_.resize(d_ * outputs_);
      const float a = 1.0f / std::sqrt(static_cast<float>(d_));
      fill_uniform(dense_.data(), dense_.size(), seed, 22, -a, a);
    }
    if (impl_ == "optimized") grow_scratch(omp_get_max_threads());  // so memory_regions() names it
  }

  int64_t d_in() const override { return d_; }
  int64_t d_out() const override { return outputs_; }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer*) override {
    if (impl_ == "reference") return reference(X, Y, tokens);
    if (impl_ == "dense")
      return sgemm_rowmajor(tokens, outputs_, d_, 1.0f, X, d_, dense_.data(), outputs_, false, 0.0f, Y, outputs_);
    const int64_t dp = bh4_.padded(), width = bh4_.outputs();
    const int64_t tiles = (tokens + tile_ - 1) / tile_;
    grow_scratch(omp_get_max_threads());
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; ++t) {
      float* scratch = scratch_.data() + omp_get_thread_num() * scratch_per_thread();
      float* in = scratch;                      // [tile][d']
      float* work = in + tile_ * dp;            // bh4_.work_floats(tile)
      float* out = work + bh4_.work_floats(tile_);  // [tile][copies·d']
      const int64_t t0 = t * tile_, rows = std::min(tile_, tokens - t0);
      for (int64_t r = 0; r < rows; ++r) {
        std::copy(X + (t0 + r) * d_, X + (t0 + r + 1) * d_, in + r * dp);
        std::fill(in + r * dp + d_, in + (r + 1) * dp, 0.0f);
      }
      bh4_.apply_tile(in, out, rows, work);
      for (int64_t r = 0; r < rows; ++r) std::copy(out + r * width, out + r * width + outputs_, Y + (t0 + r) * outputs_);
    }
  }

  void reference(const float* X, float* Y, int64_t tokens) const override {
    if (impl_ == "dense") {
      for (int64_t t = 0; t < tokens; ++t)
        for (int64_t o = 0; o < outputs_; ++o) {
          double s = 0;
          for (int64_t i = 0; i < d_; ++i) s += static_cast<double>(X[t * d_ + i]) * dense_[i * outputs_ + o];
          Y[t * outputs_ + o] = static_cast<float>(s);
        }
      return;
    }
    std::vector<float> in(bh4_.padded(), 0.0f), out(bh4_.outputs());
    for (int64_t t = 0; t < tokens; ++t) {
      std::copy(X + t * d_, X + (t + 1) * d_, in.begin());
      bh4_.reference(in.data(), out.data());
      std::copy(out.begin(), out.begin() + outputs_, Y + t * outputs_);
    }
  }

  Cost cost(int64_t tokens) const override {
    Cost c;
    const double n = static_cast<double>(tokens);
    if (impl_ == "dense") {
      c.flops = 2.0 * n * d_ * outputs_;
      c.weight_bytes = 4.0 * d_ * outputs_;
    } else {
      const double hadamard =
          impl_ == "reference" ? bh4_.reference_hadamard_flops_per_token() : bh4_.hadamard_flops_per_token();
      c.flops = n * (bh4_.block_flops_per_token() + hadamard);
      c.weight_bytes = bh4_.weight_bytes();
    }
    c.activation_bytes = 4.0 * n * (d_ + outputs_);
    c.working_set_bytes = c.weight_bytes + 4.0 * 3 * tile_ * bh4_.outputs();
    return c;
  }

  // Everything a call reads besides X: the block weights of the path that runs (folded for the
  // optimized impl where it folds) and the per-thread tiles, or the dense matrix. (OpenBLAS's
  // packing buffers are written before they are read within a call.)
  std::vector<MemoryRegion> memory_regions() const override {
    if (impl_ == "dense") return {{dense_.data(), dense_.size() * sizeof(float)}};
    std::vector<MemoryRegion> r = {bh4_.weights_region(impl_ == "optimized")};
    if (!scratch_.empty()) r.push_back({scratch_.data(), scratch_.size() * sizeof(float)});
    return r;
  }

  // Four rounds of float block products and Hadamard sums (|entries| up to √d' growth) vs a
  // double-accumulated reference. bf16: the reference repeats the kernel's arithmetic to the bit
  // (Bh4Transform::reference), so the same bound holds with room to spare.
  double tolerance() const override { return 1e-4; }

  std::string needs_isa() const override {
    return bh4_.precision() == Bh4Precision::Bf16 && impl_ == "optimized"
               ? "AVX512-BF16 (BH4's bf16 block products; valgrind 3.19 decodes no AVX-512)"
               : "";
  }

  // bf16: the error against the fp32 transform (extras: rel_rms_error_vs_fp32).
  std::map<std::string, std::string> output_statistics(const float* X, const float* Y, int64_t tokens) const override {
    if (bh4_.precision() == Bh4Precision::Fp32 || impl_ == "dense") return {};
    std::vector<float> in(bh4_.padded(), 0.0f), out(bh4_.outputs());
    const double error = relative_rms_error_vs_fp32(X, d_, Y, outputs_, tokens, 16, [&](const float* x, float* y) {
      std::copy(x, x + d_, in.begin());
      bh4_.reference_fp32(in.data(), out.data());
      std::copy(out.begin(), out.begin() + outputs_, y);
    });
    return {{"rel_rms_error_vs_fp32", fmt::format("{:.4g}", error)}};
  }

  std::map<std::string, std::string> extras() const override {
    return {{"fwht_path", to_string(bh4_.fwht_path())},
            {"block_gemm", bh4_.block_gemm_name()},
            {"copies", std::to_string(bh4_.copies())}, {"d_padded", std::to_string(bh4_.padded())},
            {"hadamard_fold", bh4_.folds_block_hadamard() ? "yes" : "no"}};
  }

 private:
  int64_t scratch_per_thread() const { return tile_ * (bh4_.padded() + bh4_.outputs()) + bh4_.work_floats(tile_); }
  void grow_scratch(int threads) {
    const size_t need = static_cast<size_t>(threads) * scratch_per_thread();
    if (scratch_.size() < need) scratch_.resize(need);
  }

  int64_t d_, outputs_, tile_;
  std::string impl_;
  Bh4Transform bh4_;
  AlignedVector<float> dense_, scratch_;
};

class Bh4Variant final : public Variant {
 public:
  std::string name() const override { return "bh4"; }
  std::string doc() const override {
    return "BH4 projection (4 rounds of b×b block-diagonal + Walsh-Hadamard, stacked copies) vs the dense GEMM it replaces";
  }
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::integer("d", 512, 1, 65536, "input width (zero-padded to d' = next power of two)"),
            ParamSpec::integer("b", 64, 1, 65536, "block size of the block-diagonal rounds (power of two, divides d')").pow2(),
            ParamSpec::integer("outputs", 0, 0, 1 << 22, "output width (0: d'); copies = ceil(outputs / d')"),
            ParamSpec::integer("tile", 64, 1, 1 << 16, "tokens per tile (optimized impl)"),
            ParamSpec::choice("block_gemm", "auto", {"auto", "microkernel", "openblas"},
                              "block products: AVX-512 micro-kernel, OpenBLAS per block, or auto (the faster, timed when built)"),
            ParamSpec::choice("precision", "fp32", {"fp32", "bf16"},
                              "block products in fp32, or in bf16 (AVX512-BF16 dot products, fp32 accumulation; weights and each round's input rounded to bf16)"),
            ParamSpec::choice("impl", "optimized", {"optimized", "reference", "dense"},
                              "optimized: tiled block GEMMs + vector FWHT; reference: scalar; dense: the GEMM d → outputs")};
  }
  void validate(const Config& c) const override {
    const int64_t dp = next_power_of_two(c.integer("d"));
    if (c.integer("b") > dp)
      throw ConfigError("b", c.str("b"), fmt::format("must divide d' = {} (the padded width of d = {})", dp, c.str("d")));
    if (c.str("precision") == "bf16") {
      if (c.str("impl") == "dense")
        throw ConfigError("precision", "bf16", "impl=dense is the fp32 GEMM d → outputs; bf16 needs impl=optimized or reference");
      if (!bf16_microkernel_supports(c.integer("b")))
        throw ConfigError("precision", "bf16",
                          fmt::format("needs AVX512-BF16 and b a multiple of 16 (this CPU {} AVX512-BF16; b = {}); use fp32",
                                      __builtin_cpu_supports("avx512bf16") ? "has" : "has no", c.str("b")));
    }
    if (c.str("block_gemm") == "microkernel" && !microkernel_supports(c.integer("b")))
      throw ConfigError("block_gemm", "microkernel",
                        fmt::format("needs AVX-512 and b a multiple of 16 (this CPU {} AVX-512; b = {}); use auto or openblas",
                                    __builtin_cpu_supports("avx512f") ? "has" : "has no", c.str("b")));
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t) const override {
    return std::make_unique<Bh4Kernel>(c, seed);
  }
  // The blocks (and their H_b-folded copy), the dense matrix of impl = dense, the optimized
  // impl's per-thread tiles, and Y.
  double memory_bytes(const Config& c, int64_t tokens, int threads) const override {
    const double dp = double(next_power_of_two(c.integer("d")));
    const double outputs = c.integer("outputs") > 0 ? double(c.integer("outputs")) : dp;
    const double copies = std::ceil(outputs / dp), blocks = copies * Bh4Transform::kRounds * dp * double(c.integer("b"));
    const bool bf16 = c.str("precision") == "bf16";
    double bytes = (bf16 ? 2 * 4 + 2 : 2 * 4) * blocks + 4 * double(tokens) * outputs;
    if (c.str("impl") == "dense") bytes += 4 * double(c.integer("d")) * outputs;
    if (c.str("impl") == "optimized")
      bytes += 4 * double(threads) * double(c.integer("tile")) * ((bf16 ? 2.5 : 2) * dp + copies * dp);
    return bytes;
  }
};

FFNBENCH_REGISTER_VARIANT(Bh4Variant);

}  // namespace
}  // namespace ffnbench
