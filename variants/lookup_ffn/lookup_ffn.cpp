// lookup_ffn: LookupFFN inference (DESIGN.md §4; the official code's math, BACKGROUND.md):
//   u = LayerNorm(x)·γ + β padded to d';  z = 0.7·[BH4_1(u)…BH4_R(u)] + 0.3·[u…u] (first h·τ)
//   + bias (projection=dense: z = u·Wp + bp);  per table k: code_k, score_k (code_score.hpp);
//   y = Σ_k score_k · T_k[code_k] + b.
// Cost per token, as each impl runs it (a multiply-add = 2 FLOPs; cost() below):
//   projection  LayerNorm 8·d + 5 (sum d; variance 3·d; (x - mean)·(inv·γ) + β 4·d; mean,
//               variance, +eps, sqrt, 1/ 5), then BH4 (bh4_transform.hpp: 2·R·4·d'·b block
//               products + Hadamard add/subtracts: R·4·d'·log2(d'/b) where the optimized path
//               folds the in-block levels into the block weights, R·4·d'·log2 d' for the
//               reference) and the mix 4·h·τ; or dense 2·d·h·τ (+ h·τ bias adds, optimized);
//   code_score  code_score_flops (fast_exp's 20 operations per value) or, for the reference,
//               5·h·τ + h (exp as one);
//   gather      2·h·d_out, or 2·h·64·ceil(d_out/64) in the tiled order (whole 64-column blocks).
// At d=512, h=128, τ=8, b=64 (tiled, AVX-512) the optimized impl runs 701,189 FLOPs per token
// against the dense FFN's 4·512·2048 = 4,194,304: 5.98x fewer (the paper: ~6x).
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>

#include "bh4/bh4_transform.hpp"
#include "common/bf16.hpp"
#include "common/bf16_gemm.hpp"
#include "common/int8_gemm.hpp"
#include "common/quantize.hpp"
#include "common/blas.hpp"
#include "common/memory.hpp"
#include "common/precision_error.hpp"
#include "common/random.hpp"
#include "common/trained_weights.hpp"
#include "core/registry.hpp"
#include "lookup_ffn/code_score.hpp"
#include "lookup_ffn/gather.hpp"

namespace ffnbench {
namespace {

constexpr float kBh4Share = 0.7f, kResidualShare = 0.3f, kLayerNormEps = 1e-5f;
constexpr int64_t kProjectionTile = 64;  // tokens per projection tile: its four scratch tiles stay in L2

enum class ProjectionPrecision { Fp32, Bf16, Int8 };
ProjectionPrecision parse_projection_precision(const std::string& name) {
  if (name == "bf16") return ProjectionPrecision::Bf16;
  if (name == "int8") return ProjectionPrecision::Int8;
  return ProjectionPrecision::Fp32;
}

struct Shape {
  int64_t d, dp, d_out, h, tau, rows, ht;
  static Shape of(const Config& c) {
    Shape s;
    s.d = c.integer("d");
    s.dp = next_power_of_two(s.d);
    s.d_out = c.integer("d_out") > 0 ? c.integer("d_out") : s.d;
    s.h = c.integer("h");
    s.tau = c.integer("tau");
    s.rows = int64_t{1} << s.tau;
    s.ht = s.h * s.tau;
    return s;
  }
  // Tables in the given storage; int8 adds its per-row steps.
  double table_bytes(TablePrecision p) const {
    return static_cast<double>(h) * rows * (d_out * table_element_bytes(p) + (p == TablePrecision::Int8 ? 4.0 : 0.0));
  }
};

// Trained weights (training/FORMAT.md §3); `ln_affine` does not apply (γ and β are trained).
std::vector<TensorNeed> trained_tensors(const Config& c) {
  const Shape s = Shape::of(c);
  std::vector<TensorNeed> needs = {{"ln.weight", {s.d}}, {"ln.bias", {s.d}}};
  if (c.str("projection") == "dense") {
    needs.push_back({"proj.weight", {s.ht, s.d}});
  } else {
    const int64_t b = c.integer("b");
    needs.push_back({"bh4.weight", {(s.ht + s.dp - 1) / s.dp, 4, s.dp / b, b, b}});
  }
  needs.push_back({"proj.bias", {s.ht}});
  needs.push_back({"tables", {s.h, s.rows, s.d_out}});
  needs.push_back({"out.bias", {s.d_out}});
  return needs;
}

std::optional<SafetensorsFile> trained_weights(const Config& c) {
  std::vector<std::string> keys = {"d", "d_out", "h", "tau", "projection"};
  if (c.str("projection") == "bh4") keys.push_back("b");
  return open_trained_weights(c, "lookup_ffn", trained_tensors(c), keys);
}

class LookupFfnKernel final : public Kernel {
 public:
  LookupFfnKernel(const Config& c, uint64_t seed, int64_t max_tokens)
      : s_(Shape::of(c)),
        dense_projection_(c.str("projection") == "dense"),
        order_(parse_gather_order(c.str("order"))),
        tile_(c.integer("tile")),
        precision_(parse_table_precision(c.str("table_precision"))),
        projection_precision_(parse_projection_precision(c.str("projection_precision"))),
        reference_impl_(c.str("impl") == "reference") {
    std::optional<BlockGemm> block_gemm;  // auto: the faster on this CPU, timed when built
    if (c.str("block_gemm") == "microkernel") block_gemm = BlockGemm::Microkernel;
    if (c.str("block_gemm") == "openblas") block_gemm = BlockGemm::Openblas;
    const Bh4Precision projection = bf16_projection() ? Bh4Precision::Bf16 : Bh4Precision::Fp32;
    if (auto file = trained_weights(c)) load_trained(*file, c, block_gemm, projection);
    else make_random(c, seed, block_gemm, projection);
    if (dense_projection_ && bf16_projection()) {  // Wp [d][h·τ] padded to d' rows, in bf16 pairs
      AlignedVector<float> padded(s_.dp * s_.ht);
      std::copy(wp_.begin(), wp_.end(), padded.begin());
      wp_bf16_.resize(padded.size());
      pack_bf16_pairs(padded.data(), s_.dp, s_.ht, wp_bf16_.data());
    }
    if (int8_projection()) wp_int8_ = pack_s8_quads(wp_.data(), s_.d, s_.dp, s_.ht);  // a step per column
    // The gather's copy of the tables: bf16 or int8 and/or column-blocked for the tiled order;
    // fp32 row layout reads tables_ itself (also the reference's).
    const bool blocked = order_ == GatherOrder::Tiled;
    const size_t gather_size = blocked ? column_blocks(s_.d_out) * kGatherCols * s_.h * s_.rows : tables_.size();
    if (precision_ == TablePrecision::Int8) {
      AlignedVector<int8_t> rows = quantize_rows();
      if (blocked) {
        tables_int8_.resize(gather_size);
        to_column_blocks(rows.data(), tables_int8_.data(), s_.h, s_.rows, s_.d_out);
      } else {
        tables_int8_ = std::move(rows);
      }
    } else if (precision_ == TablePrecision::Bf16) {
      AlignedVector<uint16_t> rows(tables_.size());
#pragma omp parallel for schedule(static)
      for (size_t i = 0; i < tables_.size(); ++i) rows[i] = bf16_bits(tables_[i]);
      if (blocked) {
        tables_bf16_.resize(gather_size);
        to_column_blocks(rows.data(), tables_bf16_.data(), s_.h, s_.rows, s_.d_out);
      } else {
        tables_bf16_ = std::move(rows);
      }
    } else if (blocked) {
      tables_blocked_.resize(gather_size);
      to_column_blocks(tables_.data(), tables_blocked_.data(), s_.h, s_.rows, s_.d_out);
    }
    reserve(max_tokens);
  }

  // int8 tables, symmetric per row: step = max|row| / 127, q = round(v / step), so every entry is
  // within step/2 of its fp32 value (T = step · q; an all-zero row keeps step 1).
  AlignedVector<int8_t> quantize_rows() {
    const int64_t n_rows = s_.h * s_.rows;
    AlignedVector<int8_t> q(tables_.size());
    row_scales_.resize(n_rows);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n_rows; ++r) {
      const float* row = tables_.data() + r * s_.d_out;
      float max_abs = 0;
      for (int64_t j = 0; j < s_.d_out; ++j) max_abs = std::max(max_abs, std::abs(row[j]));
      const float step = max_abs > 0 ? max_abs / 127.0f : 1.0f;
      row_scales_[r] = step;
      for (int64_t j = 0; j < s_.d_out; ++j)
        q[r * s_.d_out + j] = static_cast<int8_t>(std::clamp(std::lrint(row[j] / step), -127L, 127L));
    }
    return q;
  }

  // Seeded random weights: LayerNorm's γ = 1, β = 0 unless asked for random ones (tests).
  void make_random(const Config& c, uint64_t seed, std::optional<BlockGemm> block_gemm, Bh4Precision projection) {
    gamma_.resize(s_.d);
    beta_.resize(s_.d);
    if (c.str("ln_affine") == "random") {
      fill_uniform(gamma_.data(), gamma_.size(), seed, 36, 0.5f, 1.5f);
      fill_uniform(beta_.data(), beta_.size(), seed, 37, -0.2f, 0.2f);
    } else {
      fill_parallel(gamma_.data(), gamma_.size(), 1.0f);
      zero_parallel(beta_.data(), beta_.size());
    }
    if (dense_projection_) {
      wp_.resize(s_.d * s_.ht);
      const float a = std::sqrt(3.0f / static_cast<float>(s_.d));  // z ~ unit variance
      fill_uniform(wp_.data(), wp_.size(), seed, 31, -a, a);
    } else {
      bh4_.emplace(s_.d, c.integer("b"), (s_.ht + s_.dp - 1) / s_.dp, seed, 32, block_gemm, projection);
    }
    z_bias_.resize(s_.ht);
    fill_uniform(z_bias_.data(), z_bias_.size(), seed, 33, -0.1f, 0.1f);
    tables_.resize(s_.h * s_.rows * s_.d_out);
    const float a = 1.0f / std::sqrt(static_cast<float>(s_.h));
    fill_uniform(tables_.data(), tables_.size(), seed, 34, -a, a);
    out_bias_.resize(s_.d_out);
    fill_uniform(out_bias_.data(), out_bias_.size(), seed, 35, -a, a);
  }

  // Trained weights (training/FORMAT.md §3): BH4 blocks stored [..][block][out j][in k] become
  // Bh4Transform's [..][block][k][j]; the dense projection's [h·τ, d] Linear weight becomes [d][h·τ].
  void load_trained(const SafetensorsFile& file, const Config& c, std::optional<BlockGemm> block_gemm,
                    Bh4Precision projection) {
    gamma_ = load_tensor(file, "ln.weight");
    beta_ = load_tensor(file, "ln.bias");
    if (dense_projection_) wp_ = load_transposed(file, "proj.weight");
    else
      bh4_.emplace(s_.d, c.integer("b"), (s_.ht + s_.dp - 1) / s_.dp, load_transposed(file, "bh4.weight"), block_gemm,
                   projection);
    z_bias_ = load_tensor(file, "proj.bias");
    tables_ = load_tensor(file, "tables");
    out_bias_ = load_tensor(file, "out.bias");
  }

  int64_t d_in() const override { return s_.d; }
  int64_t d_out() const override { return s_.d_out; }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer* stages) override {
    if (reference_impl_) return reference(X, Y, tokens);
    reserve(tokens);
    project_and_code(X, tokens, stages);
    StageTimer::Scope scope(stages, 2);
    const auto g0 = std::chrono::steady_clock::now();
    GatherArgs args{gather_tables(), precision_,   row_scales_.data(), s_.h, s_.rows, s_.d_out,
                    codes_.data(),   scores_.data(), out_bias_.data(),   Y,    tokens};
    gather_accumulate(args, order_, tile_);
    last_gather_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
    last_tokens_ = tokens;
  }

  void reference(const float* X, float* Y, int64_t tokens) const override {
    ReferenceScratch r(*this);
    for (int64_t t = 0; t < tokens; ++t) {
      reference_z(X + t * s_.d, r);
      code_score_reference(r.z.data(), s_.h, s_.tau, r.codes.data(), r.scores.data());
      for (int64_t o = 0; o < s_.d_out; ++o) {
        double acc = out_bias_[o];
        for (int64_t k = 0; k < s_.h; ++k)
          acc += double(r.scores[k]) * tables_[(k * s_.rows + r.codes[k]) * s_.d_out + o];
        Y[t * s_.d_out + o] = static_cast<float>(acc);
      }
    }
  }

  // Per row: the reference's smallest |z_kj| (the code bits' distance from their threshold 0)
  // relative to the rms of the row's h·τ values of z, in units of z_epsilon(). A bf16 projection
  // takes one more decision per input: rounding u_i to bf16, whose thresholds are the midpoints
  // between bf16 values. The kernel's and the reference's BH4 agree to the bit from the same bf16
  // input, but their LayerNorms differ by a few u (float vs double), so where u_i lies that close
  // to a midpoint the two may round it apart and the row then differs by one bf16 step of u_i
  // carried through four rounds. That margin is the distance to the nearest midpoint over
  // LayerNorm's error bound 8·u·(|u_i| + rms(u)); a row's margin is the smaller of the two, and
  // decision_epsilon() is then 1. An int8 projection likewise: rounding u_i/s (s = max|u|/127) to
  // an integer, whose thresholds are the half-integers (int8_rounding_margin).
  std::vector<double> decision_margins(const float* X, int64_t rows) const override {
    ReferenceScratch r(*this);
    std::vector<double> margins(rows);
    const bool low = projection_precision_ != ProjectionPrecision::Fp32;
    const double z_eps = low ? z_epsilon() : 1.0;
    for (int64_t t = 0; t < rows; ++t) {
      reference_z(X + t * s_.d, r);
      double smallest = INFINITY, sum_sq = 0;
      for (float v : r.z) {
        smallest = std::min(smallest, std::abs(double(v)));
        sum_sq += double(v) * v;
      }
      const double rms = std::sqrt(sum_sq / s_.ht);
      margins[t] = (rms > 0 ? smallest / rms : 0.0) / z_eps;
      if (bf16_projection()) margins[t] = std::min(margins[t], bf16_rounding_margin(r.u.data()));
      if (int8_projection()) margins[t] = std::min(margins[t], int8_rounding_margin(r.u.data()));
    }
    return margins;
  }

  double decision_epsilon() const override {
    return projection_precision_ != ProjectionPrecision::Fp32 ? 1.0 : z_epsilon();
  }

  // The smallest distance of v_i = u_i / s (s = max|u| / 127, the int8 projection's step) from a
  // half-integer, over its float error bound: LayerNorm's 8·u·(|u_i| + rms(u)) on u_i, the same
  // on max|u| (which moves s), carried into v (·127/max), plus the product's own rounding.
  double int8_rounding_margin(const float* u) const {
    double sum_sq = 0, max_abs = 0;
    for (int64_t i = 0; i < s_.d; ++i) {
      sum_sq += double(u[i]) * u[i];
      max_abs = std::max(max_abs, std::abs(double(u[i])));
    }
    if (max_abs == 0) return INFINITY;
    const double rms = std::sqrt(sum_sq / s_.d), ulp = 0x1.0p-24, d_max = 8.0 * ulp * (max_abs + rms);
    double smallest = INFINITY;
    for (int64_t i = 0; i < s_.d; ++i) {
      const double v = 127.0 * u[i] / max_abs;
      const double bound =
          127.0 / max_abs * (8.0 * ulp * (std::abs(double(u[i])) + rms) + std::abs(double(u[i])) / max_abs * d_max) +
          4.0 * ulp * std::abs(v);
      smallest = std::min(smallest, std::abs(v - (std::floor(v) + 0.5)) / bound);
    }
    return smallest;
  }

  // How far the optimized z may lie from the reference's, in units of the row's rms of z (a
  // code bit flips only where |z| is within that distance of 0). The chains of float roundings
  // (u = 2^-24) behind one z value: LayerNorm's sums over d; BH4's 4 rounds of a b-term block
  // product (folded weights rounded once more) and log2 d' Hadamard levels, or the dense
  // projection's d-term dot product; a few roundings of the mix and bias. For sums of
  // random-sign terms the rounding error is a random walk: about √n·u for a chain of n, at the
  // scale of the vector (its rms). ε is eight such standard deviations:
  //   ε = 8·u·√(d + 4·(b + log2 d') + 4)   (BH4),   8·u·√(2·d + 4)   (dense).
  // At the paper's size (d = 512, b = 64) ε = 227·u = 1.35e-5. Measured there: BH4's
  // |optimized - reference| / rms is 4.5·u on average and at most 36·u over 2M outputs (both
  // block GEMMs; 24·u at b = 4); over 12,000 rows at d = 128, h = 256, τ = 8, b = 16 the two
  // rows that flipped had margins of 6·u and 0.5·u against ε = 120·u, while only ~1% of rows
  // have a margin below ε. (bf16 BH4 repeats the kernel's arithmetic in the reference, so the
  // same ε holds for it once both round u alike.)
  double z_epsilon() const {
    const double u = 0x1.0p-24;
    const double projection =
        bh4_ ? 4.0 * (bh4_->block() + std::log2(static_cast<double>(s_.dp))) : static_cast<double>(s_.d);
    return 8.0 * u * std::sqrt(static_cast<double>(s_.d) + projection + 4.0);
  }

  // The smallest distance of the row's u_i (d' values, zero padding included) from a bf16
  // rounding midpoint, over LayerNorm's float error bound 8·u·(|u_i| + rms(u)).
  double bf16_rounding_margin(const float* u) const {
    double sum_sq = 0;
    for (int64_t i = 0; i < s_.d; ++i) sum_sq += double(u[i]) * u[i];
    const double rms = std::sqrt(sum_sq / s_.d), ulp = 0x1.0p-24;
    double smallest = INFINITY;
    for (int64_t i = 0; i < s_.d; ++i) {
      const double v = u[i], below = round_to_bf16(u[i]);
      // bf16 keeps 8 significant bits: its step at v is 2^(exponent of v - 7).
      const double step = v == 0.0 ? 0.0 : std::ldexp(1.0, std::ilogb(v) - 7);
      const double mid = below + (v >= below ? 0.5 : -0.5) * step;
      smallest = std::min(smallest, std::abs(v - mid) / (8.0 * ulp * (std::abs(v) + rms)));
    }
    return smallest;
  }

  Cost cost(int64_t tokens) const override {
    const double n = static_cast<double>(tokens);
    const bool opt = !reference_impl_;
    const double layer_norm = 8.0 * s_.d + 5.0;
    double projection = layer_norm;
    if (bh4_) {
      projection += bh4_->block_flops_per_token() +
                    (opt ? bh4_->hadamard_flops_per_token() : bh4_->reference_hadamard_flops_per_token()) +
                    4.0 * s_.ht;
    } else {
      projection += 2.0 * s_.d * s_.ht + (opt ? s_.ht : 0.0);
    }
    const double code_score = opt ? code_score_flops(s_.h, s_.tau) : code_score_reference_flops(s_.h, s_.tau);
    const bool tiled = opt && order_ == GatherOrder::Tiled;
    const double gathered_cols = tiled ? static_cast<double>(column_blocks(s_.d_out) * kGatherCols) : s_.d_out;
    const double gather = 2.0 * s_.h * gathered_cols;
    Cost c;
    c.stage_flops = {n * projection, n * code_score, n * gather};
    c.flops = n * (projection + code_score + gather);
    // Weights: distinct table rows touched (at most every row, at most N per table) in the form
    // the gather reads, the projection's weights, both biases and LayerNorm's γ and β.
    const TablePrecision read = opt ? precision_ : TablePrecision::Fp32;
    const double row_bytes = gathered_cols * table_element_bytes(read) + (read == TablePrecision::Int8 ? 4.0 : 0.0);
    c.weight_bytes = std::min<double>(n, s_.rows) * s_.h * row_bytes + projection_weight_bytes() +
                     4.0 * (s_.ht + s_.d_out + 2.0 * s_.d);
    // Activations that go to memory: x read and y written. z does not (each 64-token tile is
    // projected and coded while it is in L2); the optimized impl writes codes and scores
    // (4 + 4 bytes per table) in its first pass over the batch and the gather reads them back
    // in a second. The reference keeps one token's codes at a time.
    c.activation_bytes = n * 4.0 * (s_.d + s_.d_out) + (opt ? n * 2.0 * 8.0 * s_.h : 0.0);
    c.working_set_bytes = s_.table_bytes(read);
    stage_traffic(c, n, gathered_cols, row_bytes);
    return c;
  }

  // Per-stage roofline inputs (optimized path; the reference's stages are not timed apart).
  //   projection  x streamed in; per token its LayerNorm, work, BH4-output and z tiles written
  //               and read in the thread's scratch, and the projection's weights once per
  //               64-token tile: together they must stay resident.
  //   code_score  z read from the scratch; codes and scores streamed out.
  //   gather      every gathered row read per use from where the order keeps the rows it
  //               reuses (tiled: a 32-table group's column slice; token_major: all tables;
  //               table_major: one table); codes, scores and y streamed (tiled: y once per
  //               group and the codes once per column block; table_major: y once per table),
  //               and the tables once per token tile.
  void stage_traffic(Cost& c, double n, double gathered_cols, double row_bytes) const {
    const double projection_weights = projection_weight_bytes();
    const double tile_bytes = 4.0 * static_cast<double>(tile_floats());
    const double tiles = std::ceil(n / kProjectionTile);
    const double elt = table_element_bytes(precision_), codes = 8.0 * n * s_.h, y = 4.0 * n * s_.d_out;
    double gather_ws = s_.table_bytes(precision_), gather_stream = codes + y;
    switch (order_) {
      case GatherOrder::Tiled: {
        const double blocks = static_cast<double>(column_blocks(s_.d_out));
        const double groups = std::ceil(s_.h / 32.0);
        gather_ws = 32.0 * s_.rows * kGatherCols * elt;
        gather_stream = blocks * codes + 2.0 * groups * y + gather_token_tiles(n) * s_.h * s_.rows * gathered_cols * elt;
        break;
      }
      case GatherOrder::TableMajor:
        gather_ws = s_.rows * s_.d_out * elt;
        gather_stream = codes + 2.0 * s_.h * y;
        break;
      case GatherOrder::TokenMajor:
        break;
    }
    c.stage_bytes = {n * 2.0 * tile_bytes / kProjectionTile + tiles * projection_weights, 4.0 * n * s_.ht,
                     n * s_.h * row_bytes};
    c.stage_stream_bytes = {4.0 * n * s_.d, codes, gather_stream};
    c.stage_working_set_bytes = {tile_bytes + projection_weights, 4.0 * kProjectionTile * s_.ht, gather_ws};
    // The projection's products in bf16 or int8; code_score and the gather (tables widened) in fp32.
    const char* projection = bf16_projection() ? "bf16" : int8_projection() ? "int8" : "fp32";
    c.stage_compute_precision = {projection, "fp32", "fp32"};
  }

  // Token tiles of the tiled gather at this thread count.
  double gather_token_tiles(double n) const {
    const auto tokens = static_cast<int64_t>(n);
    return std::ceil(n / static_cast<double>(tiled_gather_tile(tokens, s_.d_out, tile_, omp_get_max_threads())));
  }

  // fp32: float vs double accumulation over ≤ h terms. bf16: each table entry rounded to 8
  // significant bits (relative 2^-9); over h terms of random sign the output error stays
  // within ~1% of its rms. int8: each entry within step/2 = max|row|/254 of its value, an rms
  // error of max|row|/440 per entry: 0.4% of the rms of a uniform row (max = √3·rms), more for
  // rows with outliers; the gate's measure (error / (|ref| + rms)) of a sum of h such terms
  // with random signs stays within ~2% at 4σ over a row, so 5e-2 leaves room for trained,
  // heavier-tailed rows. The gate's max error is the int8 tables' error against fp32.
  double tolerance() const override {
    switch (precision_) {
      case TablePrecision::Bf16: return 2e-2;
      case TablePrecision::Int8: return 5e-2;
      case TablePrecision::Fp32: break;
    }
    return 1e-4;
  }

  std::vector<std::string> stage_names() const override { return {"projection", "code_score", "gather"}; }

  std::string needs_isa() const override {
    if (reference_impl_) return "";
    if (bf16_projection()) return "AVX512-BF16 (the projection's bf16 products; valgrind 3.19 decodes no AVX-512)";
    if (int8_projection()) return "AVX-512 VNNI (the projection's int8 products; valgrind 3.19 decodes no AVX-512)";
    return "";
  }

  // A reduced precision against the fp32 math (fp32 projection and fp32 tables), on 16 rows spread
  // over the batch: the output's relative rms error (rel_rms_error_vs_fp32) and, for a bf16 or
  // int8 projection, the share of codes that differ from the fp32 projection's (code_flips_vs_fp32:
  // the rounding's effect on routing, which the gate's reference, rounding alike, does not see).
  std::map<std::string, std::string> output_statistics(const float* X, const float* Y, int64_t tokens) const override {
    const bool low_projection = projection_precision_ != ProjectionPrecision::Fp32;
    if (reference_impl_ || (precision_ == TablePrecision::Fp32 && !low_projection)) return {};
    ReferenceScratch fp32(*this), low(*this);
    int64_t flips = 0, codes = 0;
    const double error = relative_rms_error_vs_fp32(X, s_.d, Y, s_.d_out, tokens, 16, [&](const float* x, float* y) {
      reference_z(x, fp32, true);
      code_score_reference(fp32.z.data(), s_.h, s_.tau, fp32.codes.data(), fp32.scores.data());
      if (low_projection) {
        reference_z(x, low);
        code_score_reference(low.z.data(), s_.h, s_.tau, low.codes.data(), low.scores.data());
        for (int64_t k = 0; k < s_.h; ++k) flips += low.codes[k] != fp32.codes[k];
        codes += s_.h;
      }
      for (int64_t o = 0; o < s_.d_out; ++o) {
        double acc = out_bias_[o];
        for (int64_t k = 0; k < s_.h; ++k)
          acc += double(fp32.scores[k]) * tables_[(k * s_.rows + fp32.codes[k]) * s_.d_out + o];
        y[o] = static_cast<float>(acc);
      }
    });
    std::map<std::string, std::string> e = {{"rel_rms_error_vs_fp32", fmt::format("{:.4g}", error)}};
    if (codes > 0) e["code_flips_vs_fp32"] = fmt::format("{:.4g}", static_cast<double>(flips) / static_cast<double>(codes));
    return e;
  }

  // Everything a call reads besides X: the tables in the form the path reads (the reference:
  // fp32 rows; the gather: bf16 or int8 (with its steps) and/or column-blocked where it keeps such a copy), the
  // projection's weights (BH4's folded blocks where apply_tile folds), both biases, γ and β,
  // and the optimized path's scratch (codes, scores, per-thread projection tiles).
  std::vector<MemoryRegion> memory_regions() const override {
    auto region = [](const auto& v) { return MemoryRegion{v.data(), v.size() * sizeof(v[0])}; };
    std::vector<MemoryRegion> r;
    if (reference_impl_) r.push_back(region(tables_));
    else if (precision_ == TablePrecision::Bf16) r.push_back(region(tables_bf16_));
    else if (precision_ == TablePrecision::Int8) {
      r.push_back(region(tables_int8_));
      r.push_back(region(row_scales_));
    }
    else r.push_back(tables_blocked_.empty() ? region(tables_) : region(tables_blocked_));
    if (bh4_) r.push_back(bh4_->weights_region(!reference_impl_));
    else if (wp_int8_) {  // the low-precision copies: the reference reads them too (it repeats the kernel's arithmetic)
      r.push_back(region(wp_int8_->quads));
      r.push_back(region(wp_int8_->steps));
      r.push_back(region(wp_int8_->sums));
    } else if (!wp_bf16_.empty()) r.push_back(region(wp_bf16_));
    else r.push_back(region(wp_));
    for (const AlignedVector<float>* v : {&z_bias_, &out_bias_, &gamma_, &beta_}) r.push_back(region(*v));
    if (!reference_impl_)
      for (const MemoryRegion& m : {region(codes_), region(scores_), region(tile_scratch_)})
        if (m.bytes > 0) r.push_back(m);
    return r;
  }

  std::map<std::string, std::string> extras() const override {
    const double gather_bytes =
        static_cast<double>(last_tokens_) * s_.h * (s_.d_out * table_element_bytes(precision_) +
                                                    (precision_ == TablePrecision::Int8 ? 4.0 : 0.0));
    std::map<std::string, std::string> e = {
        {"tables_bytes", fmt::format("{:.0f}", s_.table_bytes(precision_))},
        {"gather_bytes", fmt::format("{:.0f}", gather_bytes)},
        {"gather_gbs", last_gather_s_ > 0 ? fmt::format("{:.2f}", gather_bytes / last_gather_s_ / 1e9) : ""}};
    if (!reference_impl_ && last_tokens_ > 0) add_code_statistics(e);
    if (bh4_) {
      e["fwht_path"] = to_string(bh4_->fwht_path());
      e["block_gemm"] = bh4_->block_gemm_name();
      e["hadamard_fold"] = bh4_->folds_block_hadamard() ? "yes" : "no";
    }
    return e;
  }

  // Routing statistics of the last call (its codes are still in codes_), per table k: the entropy
  // of the code histogram over its tokens (bits; at most τ, and log2 N) and the distinct rows it
  // touched. Trained codes are skewed: fewer distinct rows means more reuse in the gather.
  void add_code_statistics(std::map<std::string, std::string>& e) const {
    std::vector<int64_t> hist(s_.rows);
    double entropy_sum = 0, entropy_min = INFINITY, distinct_sum = 0;
    int64_t distinct_max = 0;
    const double n = static_cast<double>(last_tokens_);
    for (int64_t k = 0; k < s_.h; ++k) {
      std::fill(hist.begin(), hist.end(), 0);
      for (int64_t t = 0; t < last_tokens_; ++t) ++hist[codes_[t * s_.h + k]];
      double entropy = 0;
      int64_t distinct = 0;
      for (int64_t count : hist) {
        if (count == 0) continue;
        ++distinct;
        const double p = static_cast<double>(count) / n;
        entropy -= p * std::log2(p);
      }
      entropy_sum += entropy;
      entropy_min = std::min(entropy_min, entropy);
      distinct_sum += static_cast<double>(distinct);
      distinct_max = std::max(distinct_max, distinct);
    }
    e["code_entropy_bits_mean"] = fmt::format("{:.4f}", entropy_sum / s_.h);
    e["code_entropy_bits_min"] = fmt::format("{:.4f}", entropy_min);
    e["distinct_rows_mean"] = fmt::format("{:.2f}", distinct_sum / s_.h);
    e["distinct_rows_max"] = std::to_string(distinct_max);
    e["routing_stats_over"] = "last_call";
  }

 private:
  const void* gather_tables() const {
    if (precision_ == TablePrecision::Bf16) return tables_bf16_.data();
    if (precision_ == TablePrecision::Int8) return tables_int8_.data();
    return tables_blocked_.empty() ? tables_.data() : tables_blocked_.data();
  }

  // The reference's per-token buffers (std::vector: allocated per call, written before read).
  struct ReferenceScratch {
    explicit ReferenceScratch(const LookupFfnKernel& k)
        : u(k.s_.dp), u_low(k.s_.dp), proj(k.bh4_ ? k.bh4_->outputs() : 0), z(k.s_.ht), scores(k.s_.h), codes(k.s_.h),
          u_q(k.s_.dp) {}
    std::vector<float> u, u_low, proj, z, scores;  // u_low: u in bf16 (dense bf16 projection)
    std::vector<uint32_t> codes;
    std::vector<int8_t> u_q;  // u quantized (dense int8 projection)
  };

  // The reference's z for one token x[d] into r.z (u and proj along the way), in double where it
  // sums, rounded to float where the math stores a vector; fp32: the fp32 projection whatever
  // projection_precision says (what the reduced precision is measured against).
  void reference_z(const float* x, ReferenceScratch& r, bool fp32 = false) const {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < s_.d; ++i) mean += x[i];
    mean /= s_.d;
    for (int64_t i = 0; i < s_.d; ++i) var += (x[i] - mean) * (x[i] - mean);
    var /= s_.d;
    const double inv = 1.0 / std::sqrt(var + kLayerNormEps);
    std::fill(r.u.begin(), r.u.end(), 0.0f);  // the padding d..d' stays zero (after γ, β)
    for (int64_t i = 0; i < s_.d; ++i) r.u[i] = static_cast<float>((x[i] - mean) * inv * gamma_[i] + beta_[i]);
    if (bh4_) {
      if (fp32) bh4_->reference_fp32(r.u.data(), r.proj.data());
      else bh4_->reference(r.u.data(), r.proj.data());
      for (int64_t i = 0; i < s_.ht; ++i)
        r.z[i] = static_cast<float>(kBh4Share * double(r.proj[i]) + kResidualShare * double(r.u[i % s_.dp]) + z_bias_[i]);
    } else {
      if (!fp32 && int8_projection()) {
        // The kernel's arithmetic to the bit: u quantized with one step per row, exact integer
        // sums, then one fused multiply-add by the two steps plus the bias.
        const float step = quantization_step_reference(r.u.data(), s_.dp), inv = 1.0f / step;
        for (int64_t i = 0; i < s_.dp; ++i) r.u_q[i] = quantize_value(r.u[i], inv);
        for (int64_t j = 0; j < s_.ht; ++j) r.z[j] = dot_u8s8_reference(r.u_q.data(), step, *wp_int8_, z_bias_.data(), j);
        return;
      }
      if (!fp32 && bf16_projection()) {
        // The kernel's arithmetic to the bit: u in bf16, VDPBF16PS's order of fp32 sums, then + bias.
        for (int64_t i = 0; i < s_.dp; ++i) r.u_low[i] = round_to_bf16(r.u[i]);
        for (int64_t j = 0; j < s_.ht; ++j)
          r.z[j] = dot_bf16_pairs(r.u_low.data(), wp_bf16_.data(), s_.dp, s_.ht, j) + z_bias_[j];
        return;
      }
      for (int64_t j = 0; j < s_.ht; ++j) {
        double acc = z_bias_[j];
        for (int64_t i = 0; i < s_.d; ++i) acc += double(r.u[i]) * wp_[i * s_.ht + j];
        r.z[j] = static_cast<float>(acc);
      }
    }
  }

  // Per thread: the LayerNorm tile, BH4's work tile(s), its output tile and the z tile.
  int64_t work_floats() const {
    const int64_t w = bh4_ ? bh4_->work_floats(kProjectionTile) : kProjectionTile * s_.dp;
    return (w + 15) / 16 * 16;  // the tiles after it stay 64-byte aligned
  }
  int64_t tile_floats() const { return kProjectionTile * (s_.dp + (bh4_ ? bh4_->outputs() : 0) + s_.ht) + work_floats(); }

  void reserve(int64_t tokens) {  // grows once; forward() does not allocate when warm
    const size_t scratch = static_cast<size_t>(omp_get_max_threads()) * tile_floats();
    if (static_cast<int64_t>(codes_.size()) >= tokens * s_.h && tile_scratch_.size() >= scratch) return;
    codes_.resize(std::max<size_t>(codes_.size(), tokens * s_.h));
    scores_.resize(codes_.size());
    tile_scratch_.resize(std::max(tile_scratch_.size(), scratch));
  }

  // Per tile of tokens: LayerNorm into a zero-padded tile, the projection and the mix into z,
  // then codes and scores from z while it is in L2 (z never goes to memory: at the paper's size
  // it would be 128 MB written and read again). The two stages' times split the loop's wall
  // time in proportion to the thread time each took.
  void project_and_code(const float* X, int64_t tokens, StageTimer* stages) {
    const int64_t tiles = (tokens + kProjectionTile - 1) / kProjectionTile;
    const auto start = std::chrono::steady_clock::now();
    double projection_s = 0, code_score_s = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : projection_s, code_score_s)
    for (int64_t i = 0; i < tiles; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const int64_t first = i * kProjectionTile, rows = std::min(kProjectionTile, tokens - first);
      float* z = project_tile(X + first * s_.d, rows);
      const auto t1 = std::chrono::steady_clock::now();
      for (int64_t r = 0; r < rows; ++r)
        code_score_token(z + r * s_.ht, s_.h, s_.tau, codes_.data() + (first + r) * s_.h,
                         scores_.data() + (first + r) * s_.h);
      projection_s += std::chrono::duration<double>(t1 - t0).count();
      code_score_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    }
    if (stages == nullptr || projection_s + code_score_s <= 0) return;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    stages->add(0, wall * projection_s / (projection_s + code_score_s));
    stages->add(1, wall * code_score_s / (projection_s + code_score_s));
  }

  // One tile of rows ≤ kProjectionTile tokens into the calling thread's z tile; returns it.
  float* project_tile(const float* X, int64_t rows) {
    const int64_t width = bh4_ ? bh4_->outputs() : 0;
    float* u = tile_scratch_.data() + omp_get_thread_num() * tile_floats();
    float* work = u + kProjectionTile * s_.dp;
    float* out = work + work_floats();
    float* z = out + kProjectionTile * width;
    for (int64_t r = 0; r < rows; ++r) layer_norm_row(X + r * s_.d, u + r * s_.dp);
    if (bh4_) {
      bh4_->apply_tile(u, out, rows, work);
      for (int64_t r = 0; r < rows; ++r) mix_row(out + r * width, u + r * s_.dp, z + r * s_.ht);
    } else {
      if (int8_projection()) {  // the bias rides in the GEMM's epilogue
        uint8_t* low = reinterpret_cast<uint8_t*>(work);
        float* steps = work + (kProjectionTile * s_.dp + 3) / 4;
        quantize_rows_u8(u, s_.dp, rows, s_.dp, low, s_.dp, steps);
        gemm_u8s8(low, s_.dp, steps, rows, *wp_int8_, z_bias_.data(), z, s_.ht);
        return z;
      }
      if (bf16_projection()) {
        uint16_t* low = reinterpret_cast<uint16_t*>(work);
        rows_to_bf16(u, s_.dp, low, s_.dp, rows, s_.dp);
        gemm_bf16_pairs(low, s_.dp, z, s_.ht, rows, s_.dp, s_.ht, wp_bf16_.data(), s_.ht);
      } else {
        sgemm_rowmajor(rows, s_.ht, s_.d, 1.0f, u, s_.dp, wp_.data(), s_.ht, false, 0.0f, z, s_.ht);
      }
      for (int64_t r = 0; r < rows; ++r) {
        float* zr = z + r * s_.ht;
#pragma omp simd
        for (int64_t j = 0; j < s_.ht; ++j) zr[j] += z_bias_[j];
      }
    }
    return z;
  }

  void layer_norm_row(const float* x, float* u) const {
    float sum = 0.0f, sq = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < s_.d; ++i) sum += x[i];
    const float mean = sum / static_cast<float>(s_.d);
#pragma omp simd reduction(+ : sq)
    for (int64_t i = 0; i < s_.d; ++i) sq += (x[i] - mean) * (x[i] - mean);
    const float inv = 1.0f / std::sqrt(sq / static_cast<float>(s_.d) + kLayerNormEps);
    const float* gamma = gamma_.data();
    const float* beta = beta_.data();
#pragma omp simd
    for (int64_t i = 0; i < s_.d; ++i) u[i] = (x[i] - mean) * (inv * gamma[i]) + beta[i];
    std::fill(u + s_.d, u + s_.dp, 0.0f);
  }

  // z = 0.7·bh4 + 0.3·[u u …] + bias over the first h·τ outputs.
  void mix_row(const float* projected, const float* u, float* z) const {
    for (int64_t c0 = 0; c0 < s_.ht; c0 += s_.dp) {
      const int64_t n = std::min(s_.dp, s_.ht - c0);
#pragma omp simd
      for (int64_t j = 0; j < n; ++j)
        z[c0 + j] = kBh4Share * projected[c0 + j] + kResidualShare * u[j] + z_bias_[c0 + j];
    }
  }

  bool bf16_projection() const { return projection_precision_ == ProjectionPrecision::Bf16; }
  bool int8_projection() const { return projection_precision_ == ProjectionPrecision::Int8; }
  // The projection's weights as the optimized path reads them.
  double projection_weight_bytes() const {
    if (bh4_) return bh4_->weight_bytes();
    if (wp_int8_) return static_cast<double>(wp_int8_->quads.size()) + 8.0 * s_.ht;  // + steps and sums
    return wp_bf16_.empty() ? 4.0 * wp_.size() : 2.0 * wp_bf16_.size();
  }

  Shape s_;
  bool dense_projection_;
  GatherOrder order_;
  int64_t tile_;
  TablePrecision precision_;
  ProjectionPrecision projection_precision_;  // the projection's products: fp32, bf16 (BH4 or dense), int8 (dense)
  bool reference_impl_;
  std::optional<Bh4Transform> bh4_;
  AlignedVector<float> wp_, z_bias_, tables_, tables_blocked_, out_bias_, gamma_, beta_, scores_, tile_scratch_;
  std::optional<PackedS8> wp_int8_;  // the dense projection in int8, a step per column
  AlignedVector<uint16_t> tables_bf16_, wp_bf16_;  // wp_bf16_: the dense projection in bf16 pairs [d'/2][h·τ][2]
  AlignedVector<int8_t> tables_int8_;
  AlignedVector<float> row_scales_;  // int8: the step of each table row [h][rows]
  AlignedVector<uint32_t> codes_;
  double last_gather_s_ = 0;
  int64_t last_tokens_ = 0;
};

class LookupFfnVariant final : public Variant {
 public:
  std::string name() const override { return "lookup_ffn"; }
  std::string doc() const override {
    return "LookupFFN: LayerNorm, BH4 (or dense) projection, sign codes and scores, weighted gather over h tables of 2^tau rows";
  }
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::integer("d", 512, 1, 65536, "input width"),
            ParamSpec::integer("d_out", 0, 0, 65536, "output width (0: d)"),
            ParamSpec::integer("h", 128, 1, 1 << 16, "number of tables"),
            ParamSpec::integer("tau", 8, 1, 16, "bits per table: each table has 2^tau rows"),
            ParamSpec::integer("b", 64, 1, 65536, "BH4 block size (power of two dividing d')").pow2(),
            ParamSpec::choice("projection", "bh4", {"bh4", "dense"}, "how z is computed from LayerNorm(x)"),
            ParamSpec::choice("block_gemm", "auto", {"auto", "microkernel", "openblas"},
                              "BH4's block products: AVX-512 micro-kernel, OpenBLAS per block, or auto (the faster, timed when built)"),
            ParamSpec::choice("order", "tiled", {"table_major", "token_major", "tiled"},
                              "gather order: the paper's table_major, token_major, or tiled"),
            ParamSpec::integer("tile", 16384, 1, 1 << 20, "most tokens per tile (order=tiled; smaller so each thread gets several)"),
            ParamSpec::choice("projection_precision", "fp32", {"fp32", "bf16", "int8"},
                              "the projection's products: fp32; bf16 (AVX512-BF16 dot products, fp32 accumulation; weights and inputs in bf16; BH4 or dense); int8 (dense only: VNNI, s8 weights with a step per column, u quantized per token)"),
            ParamSpec::choice("table_precision", "fp32", {"fp32", "bf16", "int8"},
                              "storage of the tables (int8: symmetric, one step per table row)"),
            ParamSpec::choice("ln_affine", "identity", {"identity", "random"},
                              "LayerNorm's γ and β: identity (γ = 1, β = 0) or random (γ in [0.5, 1.5), β in [-0.2, 0.2); tests)"),
            ParamSpec::choice("impl", "optimized", {"optimized", "reference"}, "optimized kernels or the scalar reference"),
            weights_param()};
  }
  void validate(const Config& c) const override {
    const Shape s = Shape::of(c);
    if (c.str("projection") == "bh4" && c.integer("b") > s.dp)
      throw ConfigError("b", c.str("b"), fmt::format("must divide d' = {} (the padded width of d = {})", s.dp, s.d));
    if (c.str("projection_precision") == "int8") {
      if (c.str("projection") != "dense")
        throw ConfigError("projection_precision", "int8", "needs projection = dense (BH4 runs in fp32 or bf16)");
      if (!cpu_has_avx512_vnni())
        throw ConfigError("projection_precision", "int8", "needs AVX-512 VNNI, which this CPU has not; use fp32");
      if (s.ht % 16 != 0 || s.dp % 4 != 0)
        throw ConfigError("projection_precision", "int8",
                          fmt::format("needs h·tau a multiple of 16 and d' a multiple of 4 (h·tau = {}, d' = {})", s.ht, s.dp));
    }
    if (c.str("projection_precision") == "bf16") {
      if (!cpu_has_avx512_bf16())
        throw ConfigError("projection_precision", "bf16", "needs AVX512-BF16, which this CPU has not; use fp32");
      if (c.str("projection") == "dense" && (s.ht % 16 != 0 || s.dp % 2 != 0))
        throw ConfigError("projection_precision", "bf16",
                          fmt::format("with projection = dense needs h·tau a multiple of 16 and d' even (h·tau = {}, d' = {})",
                                      s.ht, s.dp));
      if (c.str("projection") == "bh4" && !bf16_microkernel_supports(c.integer("b")))
        throw ConfigError("projection_precision", "bf16",
                          fmt::format("needs AVX512-BF16 and b a multiple of 16 (this CPU {} AVX512-BF16; b = {}); use fp32",
                                      __builtin_cpu_supports("avx512bf16") ? "has" : "has no", c.str("b")));
    }
    if (c.str("projection") == "bh4" && c.str("block_gemm") == "microkernel" && !microkernel_supports(c.integer("b")))
      throw ConfigError("block_gemm", "microkernel",
                        fmt::format("needs AVX-512 and b a multiple of 16 (this CPU {} AVX-512; b = {}); use auto or openblas",
                                    __builtin_cpu_supports("avx512f") ? "has" : "has no", c.str("b")));
    trained_weights(c);
    const TablePrecision precision = parse_table_precision(c.str("table_precision"));
    // fp32 row-layout tables are always kept (the reference); the gather may add a bf16 or int8
    // and/or column-blocked copy.
    const bool copy = precision != TablePrecision::Fp32 || c.str("order") == "tiled";
    const double bytes = s.table_bytes(TablePrecision::Fp32) + (copy ? s.table_bytes(precision) : 0.0);
    check_fits_in_memory("h", c.str("h"), bytes,
                         fmt::format("tables of h·2^tau·d_out = {}·{}·{} entries{}", s.h, s.rows, s.d_out,
                                     copy ? " (fp32 for the reference plus the gather's copy)" : ""));
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<LookupFfnKernel>(c, seed, max_tokens);
  }
  // The fp32 tables, the gather's copy (and, while a blocked low-precision copy is laid out, its
  // row-layout source), the projection, every token's codes and scores, the per-thread
  // projection tiles, and Y.
  double memory_bytes(const Config& c, int64_t tokens, int threads) const override {
    const Shape s = Shape::of(c);
    const TablePrecision precision = parse_table_precision(c.str("table_precision"));
    const bool tiled = c.str("order") == "tiled", low = precision != TablePrecision::Fp32;
    double bytes = s.table_bytes(TablePrecision::Fp32);
    if (low || tiled) bytes += s.table_bytes(precision);
    if (low && tiled) bytes += s.table_bytes(precision);
    const double copies = double((s.ht + s.dp - 1) / s.dp), bh4_outputs = copies * double(s.dp);
    const bool bh4 = c.str("projection") == "bh4";
    const bool bf16 = c.str("projection_precision") == "bf16";  // + the projection's bf16 copy
    const bool int8 = c.str("projection_precision") == "int8";  // + its int8 copy (and, while packing, fp32 and int8 copies)
    bytes += bh4 ? (bf16 ? 2 * 4 + 2 : 2 * 4) * copies * Bh4Transform::kRounds * double(s.dp) * double(c.integer("b"))
                 : 4 * double(s.d) * double(s.ht) + (bf16 ? (4 + 2) * double(s.dp) * double(s.ht) : 0) +
                       (int8 ? (4 + 1 + 1) * double(s.dp) * double(s.ht) : 0);
    const double n = double(tokens);
    bytes += 8 * n * double(s.h) + 4 * n * double(s.d_out);
    bytes += 4 * double(threads) * double(kProjectionTile) *
             ((bf16 ? 2.5 : 2) * double(s.dp) + (bh4 ? bh4_outputs : 0) + double(s.ht));
    return bytes;
  }
};

FFNBENCH_REGISTER_VARIANT(LookupFfnVariant);

}  // namespace
}  // namespace ffnbench
