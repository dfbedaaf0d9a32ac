// fff: Fast Feed-Forward networks (DESIGN.md §4; BACKGROUND.md).
// UltraFastBERT form (leaf_width = 0): K trees of depth D, 2^(D+1)-1 nodes in heap order, each
// with an input row, a bias and an output row; per token and tree, D+1 levels of
//   z = x·W_in[node] + b_in[node];  y += act(z)·W_out[node];  node = 2·node + 1 + (z > 0).
// Original FFF form (leaf_width = ℓ > 0): the 2^D - 1 inner nodes only route (z ≥ 0 goes right)
// and the chosen leaf is a dense FFN d → ℓ → d_out with biases and ReLU (the output bias kept,
// which the original code's eval path forgets).
// In both forms the first R = 2^D - 1 nodes (heap order) route and the L = 2^D nodes of level D
// are the leaves (UltraFastBERT: the last neuron of a path; FFF: the index of a dense leaf).
//
// impls (each one's cost() is the work it does; a multiply-add is 2 FLOPs; bias adds,
// activations and compares are not counted):
// - per_token: each token walks its path (vector dot/axpy).
//     UltraFastBERT 2·(D+1)·(d + d_out) per token and tree; FFF 2·d·D + 2·ℓ·(d + d_out).
// - level_batched: tiles of tokens walk level by level, grouped by node, so a node's rows are
//     read once per tile for all its tokens. Same FLOPs as per_token.
// - masked_matrix: UltraFastBERT's masking form: the logits of every node as one GEMM, the walk
//     on those logits writes act(z) at the path's nodes into an otherwise zero N×nodes mask, and
//     the output is the GEMM of the mask with every output row. 2·nodes·(d + d_out) per token
//     and tree (UltraFastBERT form), not the path's 2·(D+1)·(d + d_out); FFF form: 2·R·d for
//     the logits plus the chosen leaf's FFN.
// - fastff: FastFF's formulation (ssslakter/FastFF: FFF as an MoE whose gate is a fixed binary
//     path matrix): node logits Z = X·W_inᵀ + b (one GEMM over every node), branch activations
//     [act(z), act(-z)] of the R routing nodes (2R wide), per-leaf path scores S = branches ·
//     Pᵀ with the fixed L × 2R path matrix P (P[leaf][j] = 1 where the leaf's path takes node j
//     to the right, P[leaf][R + j] = 1 where it takes it to the left), a selection over the L
//     leaves, then the selected leaf's output. 2·nodes·d + 2·L·2R (the O(4^D) term, where the
//     shallow/deep crossover with the walks comes from) + the output (UltraFastBERT: the path's
//     D+1 output rows, 2·(D+1)·d_out; FFF: the leaf's FFN) per token and tree.
//     What "act" and "select" are here (the contract is the hard walk, DESIGN.md §4): FastFF's
//     soft gate (ReLU or log-sigmoid branch activations, a softmax over the leaf scores) gives
//     another function than the tree, and the leaf with the largest soft score need not be the
//     walk's leaf (a large |z| off the path outweighs small ones on it). Its eval mode routes
//     hard, so act is the hardened branch activation, the step function with each form's tie
//     rule: act(z) = [node goes right] (z > 0, or z ≥ 0 in the FFF form) and act(-z) = 1 - act(z).
//     A leaf's score is then the number of its D branches the signs agree with, exactly (small
//     integers in float); only the walk's leaf reaches D, so the argmax over the scores (the
//     hardened softmax: weight 1 on that leaf) is the reference's leaf, and the output is the
//     reference's math on it, so the gate holds exactly while fastff does FastFF's path-matrix
//     work. P is built once per kernel (shared by the trees), counted in weight bytes and
//     working set; depths whose P exceeds max_path_matrix_mib (or memory) are refused.
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <type_traits>

#include "common/activation.hpp"
#include "common/aligned.hpp"
#include "common/bf16.hpp"
#include "common/precision_error.hpp"
#include "common/blas.hpp"
#include "common/memory.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "fff/fff_kernel.hpp"
#include "fff/fff_path.hpp"
#include "common/trained_weights.hpp"

namespace ffnbench {
namespace {

enum class Impl { PerToken, LevelBatched, MaskedMatrix, FastFF };

Impl parse_impl(const std::string& name) {
  if (name == "per_token") return Impl::PerToken;
  if (name == "level_batched") return Impl::LevelBatched;
  if (name == "masked_matrix") return Impl::MaskedMatrix;
  if (name == "fastff") return Impl::FastFF;
  throw ConfigError("impl", name, "one of: per_token, level_batched, masked_matrix, fastff");
}

constexpr int64_t kMaxDepth = 30;

struct FffShape {
  int64_t d, d_out, depth, trees, leaf, tile;
  bool gelu;
  bool bf16_rows = false;  // row_precision = bf16: the node rows (w_in, w_out) stored in bf16
  double row_element_bytes() const { return bf16_rows ? 2.0 : 4.0; }
  int64_t nodes() const { return leaf > 0 ? (int64_t{1} << depth) - 1 : (int64_t{2} << depth) - 1; }
  int64_t routing() const { return (int64_t{1} << depth) - 1; }  // R: nodes that route
  int64_t leaves() const { return int64_t{1} << depth; }          // L
  int64_t levels() const { return leaf > 0 ? depth : depth + 1; }  // levels with a node row
  double weight_bytes() const {
    const double e = row_element_bytes();
    double per_tree = leaf > 0 ? nodes() * (e * d + 4.0) + 4.0 * leaves() * (d * leaf + leaf + leaf * d_out + d_out)
                               : nodes() * (e * (d + d_out) + 4.0);
    return trees * per_tree;
  }
  // fastff's L × 2R path matrix, fp32.
  double path_matrix_bytes() const { return 4.0 * std::ldexp(1.0, int(depth)) * 2.0 * (std::ldexp(1.0, int(depth)) - 1.0); }
  static FffShape of(const Config& c) {
    FffShape s;
    s.d = c.integer("d");
    s.d_out = c.integer("d_out") > 0 ? c.integer("d_out") : s.d;
    s.depth = c.integer("depth");
    s.trees = c.integer("trees");
    s.leaf = c.integer("leaf_width");
    s.tile = c.integer("tile");
    s.gelu = c.str("activation") == "gelu";
    s.bf16_rows = c.str("row_precision") == "bf16";
    return s;
  }
};

// 16 floats as one vector value; GCC lowers it to whatever the target has (one zmm, two ymm).
// Builds without AVX-512 (the cachesim binary) warn that passing one by value changes the ABI;
// the functions that do are internal to this file and inlined, so no call crosses an ABI boundary.
using Float16 = float __attribute__((vector_size(64)));
#pragma GCC diagnostic ignored "-Wpsabi"

inline Float16 load16(const float* p) {
  Float16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// bf16 node rows (row_precision = bf16): 16 values widened to fp32 (a zero-extend and a shift:
// bf16 is the upper half of an fp32), so the walks read half the bytes and compute in fp32.
using Bf16x16 = uint16_t __attribute__((vector_size(32)));
using U32x16 = uint32_t __attribute__((vector_size(64)));
inline Float16 load16(const uint16_t* p) {
  Bf16x16 h;
  std::memcpy(&h, p, sizeof h);
  const U32x16 w = __builtin_convertvector(h, U32x16) << 16;
  Float16 v;
  std::memcpy(&v, &w, sizeof v);
  return v;
}
inline float element(const float* p, int64_t i) { return p[i]; }
inline float element(const uint16_t* p, int64_t i) { return bf16_to_float(p[i]); }

// Four independent partial sums: with one, every FMA would wait for the previous one's result
// (the step's dot product is on the walk's critical path: the next row depends on its sign).
template <class Row>
inline float dot(const float* a, const Row* b, int64_t n) {
  Float16 s0{}, s1{}, s2{}, s3{};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 += load16(a + i) * load16(b + i);
    s1 += load16(a + i + 16) * load16(b + i + 16);
    s2 += load16(a + i + 32) * load16(b + i + 32);
    s3 += load16(a + i + 48) * load16(b + i + 48);
  }
  for (; i + 16 <= n; i += 16) s0 += load16(a + i) * load16(b + i);
  const Float16 s = (s0 + s1) + (s2 + s3);
  float sum = 0.0f;
  for (int k = 0; k < 16; ++k) sum += s[k];
  for (; i < n; ++i) sum += a[i] * element(b, i);
  return sum;
}

inline void axpy(float* y, const float* row, float s, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += s * row[i];
}

// Four tokens, each against its own row (rows may coincide): four independent FMA chains and,
// where the rows differ, four rows streaming at once instead of one dependent walk at a time.
template <class Row>
inline void dot4(const Row* const row[4], const float* const x[4], int64_t n, float out[4]) {
  Float16 s0{}, s1{}, s2{}, s3{};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 += load16(row[0] + i) * load16(x[0] + i);
    s1 += load16(row[1] + i) * load16(x[1] + i);
    s2 += load16(row[2] + i) * load16(x[2] + i);
    s3 += load16(row[3] + i) * load16(x[3] + i);
  }
  const Float16* s[4] = {&s0, &s1, &s2, &s3};
  for (int q = 0; q < 4; ++q) {
    float sum = 0.0f;
    for (int k = 0; k < 16; ++k) sum += (*s[q])[k];
    for (int64_t j = i; j < n; ++j) sum += element(row[q], j) * x[q][j];
    out[q] = sum;
  }
}

// y[0..n) += Σ_l a[l]·row_l[0..n) over `count` rows whose addresses are all known: y stays in
// registers chunk by chunk and every row can stream at once.
template <class Row>
inline void add_weighted_rows(float* y, const Row* const* rows, const float* a, int64_t count, int64_t n) {
  constexpr int64_t kChunk = 8 * 16;
  int64_t i = 0;
  for (; i + kChunk <= n; i += kChunk) {
    Float16 acc[8];
    for (int v = 0; v < 8; ++v) acc[v] = load16(y + i + 16 * v);
    for (int64_t l = 0; l < count; ++l)
      for (int v = 0; v < 8; ++v) acc[v] += a[l] * load16(rows[l] + i + 16 * v);
    std::memcpy(y + i, acc, sizeof acc);
  }
  for (; i < n; ++i)
    for (int64_t l = 0; l < count; ++l) y[i] += a[l] * element(rows[l], i);
}

// y[0..n) += s·row[0..n) for a bf16 row.
inline void axpy(float* y, const uint16_t* row, float s, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const Float16 v = load16(y + i) + s * load16(row + i);
    std::memcpy(y + i, &v, sizeof v);
  }
  for (; i < n; ++i) y[i] += s * element(row, i);
}

// A freshly allocated buffer of n floats, zeroed by a static-schedule loop (first touch by the
// threads whose static share of a token loop it is).
AlignedVector<float> zeroed(size_t n) {
  AlignedVector<float> v(n);
  zero_parallel(v.data(), v.size());
  return v;
}

// Trained weights (training/FORMAT.md §3), trees stacked on the first axis.
std::optional<SafetensorsFile> trained_weights(const Config& c) {
  const FffShape s = FffShape::of(c);
  std::vector<TensorNeed> needs = {{"w_in", {s.trees, s.nodes(), s.d}}, {"b_in", {s.trees, s.nodes()}}};
  if (s.leaf == 0) {
    needs.push_back({"w_out", {s.trees, s.nodes(), s.d_out}});
  } else {
    needs.push_back({"leaf_w1", {s.trees, s.leaves(), s.leaf, s.d}});
    needs.push_back({"leaf_b1", {s.trees, s.leaves(), s.leaf}});
    needs.push_back({"leaf_w2", {s.trees, s.leaves(), s.d_out, s.leaf}});
    needs.push_back({"leaf_b2", {s.trees, s.leaves(), s.d_out}});
  }
  std::vector<std::string> keys = {"d", "d_out", "depth", "trees", "leaf_width"};
  if (s.leaf == 0) keys.push_back("activation");  // the leaf form's nodes only route
  return open_trained_weights(c, "fff", needs, keys);
}

class FffKernel final : public Kernel {
 public:
  // Seeded random weights (the default for shape sweeps), or the trained ones of `weights`.
  FffKernel(const Config& c, uint64_t seed, int64_t max_tokens)
      : s_(FffShape::of(c)), impl_(parse_impl(c.str("impl"))) {
    if (auto file = trained_weights(c)) {
      load_trained(*file);
      prepare(max_tokens);
      return;
    }
    const int64_t nodes = s_.nodes() * s_.trees;
    w_in_.resize(nodes * s_.d);
    b_in_.resize(nodes);
    const float a = 1.0f / std::sqrt(static_cast<float>(s_.d));
    fill_uniform(w_in_.data(), w_in_.size(), seed, 71, -a, a);
    fill_uniform(b_in_.data(), b_in_.size(), seed, 72, -0.1f, 0.1f);
    if (s_.leaf == 0) {
      w_out_.resize(nodes * s_.d_out);
      const float o = 1.0f / std::sqrt(static_cast<float>(s_.levels()));
      fill_uniform(w_out_.data(), w_out_.size(), seed, 73, -o, o);
    } else {
      const int64_t leaves = s_.leaves() * s_.trees;
      leaf_w1_.resize(leaves * s_.d * s_.leaf);
      leaf_b1_.resize(leaves * s_.leaf);
      leaf_w2_.resize(leaves * s_.leaf * s_.d_out);
      leaf_b2_.resize(leaves * s_.d_out);
      const float l = 1.0f / std::sqrt(static_cast<float>(s_.leaf));
      fill_uniform(leaf_w1_.data(), leaf_w1_.size(), seed, 74, -a, a);
      fill_uniform(leaf_b1_.data(), leaf_b1_.size(), seed, 75, -a, a);
      fill_uniform(leaf_w2_.data(), leaf_w2_.size(), seed, 76, -l, l);
      fill_uniform(leaf_b2_.data(), leaf_b2_.size(), seed, 77, -l, l);
    }
    prepare(max_tokens);
  }

  // Given weights (known-answer tests).
  FffKernel(const Config& c, const FffWeights& w, int64_t max_tokens)
      : s_(FffShape::of(c)), impl_(parse_impl(c.str("impl"))) {
    const size_t nodes = s_.nodes() * s_.trees, leaves = s_.leaves() * s_.trees;
    const bool ufb = s_.leaf == 0;
    copy_checked("w_in", w.w_in, nodes * s_.d, w_in_);
    copy_checked("b_in", w.b_in, nodes, b_in_);
    copy_checked("w_out", w.w_out, ufb ? nodes * s_.d_out : 0, w_out_);
    copy_checked("leaf_w1", w.leaf_w1, ufb ? 0 : leaves * s_.d * s_.leaf, leaf_w1_);
    copy_checked("leaf_b1", w.leaf_b1, ufb ? 0 : leaves * s_.leaf, leaf_b1_);
    copy_checked("leaf_w2", w.leaf_w2, ufb ? 0 : leaves * s_.leaf * s_.d_out, leaf_w2_);
    copy_checked("leaf_b2", w.leaf_b2, ufb ? 0 : leaves * s_.d_out, leaf_b2_);
    prepare(max_tokens);
  }

  // Trained weights (training/FORMAT.md §3): node rows as the kernel keeps them; the leaves'
  // [out, in] Linear weights become [in][out].
  void load_trained(const SafetensorsFile& file) {
    w_in_ = load_tensor(file, "w_in");
    b_in_ = load_tensor(file, "b_in");
    if (s_.leaf == 0) {
      w_out_ = load_tensor(file, "w_out");
      return;
    }
    leaf_w1_ = load_transposed(file, "leaf_w1");
    leaf_b1_ = load_tensor(file, "leaf_b1");
    leaf_w2_ = load_transposed(file, "leaf_w2");
    leaf_b2_ = load_tensor(file, "leaf_b2");
  }

  int64_t d_in() const override { return s_.d; }
  int64_t d_out() const override { return s_.d_out; }

  // The leaf each token reaches (the reference's walk, first kMaxStatTokens tokens), over every
  // tree: tokens per leaf (trees one after another), their entropy in bits (at most D + log2 K)
  // and the share of the most used leaf. The UltraFastBERT form's leaf is its level-D node.
  std::map<std::string, std::string> routing_statistics(const float* X, int64_t tokens) const override {
    constexpr int64_t kMaxStatTokens = 8192;
    const int64_t n = std::min(tokens, kMaxStatTokens);
    std::vector<int64_t> counts(s_.trees * s_.leaves(), 0);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t tree = 0; tree < s_.trees; ++tree) ++counts[tree * s_.leaves() + leaf_of(X + t * s_.d, tree)];
    const double pairs = static_cast<double>(n * s_.trees);
    double entropy = 0;
    int64_t top = 0;
    for (int64_t c : counts) {
      top = std::max(top, c);
      if (c > 0) entropy -= c / pairs * std::log2(c / pairs);
    }
    std::map<std::string, std::string> e = {{"leaf_entropy_bits", fmt::format("{:.4f}", entropy)},
                                            {"top_leaf_share", fmt::format("{:.4f}", top / pairs)},
                                            {"routing_stats_over", n == tokens ? "last_call" : fmt::format("last_call_first_{}", n)}};
    if (counts.size() <= 4096) e["leaf_tokens"] = fmt::format("{}", fmt::join(counts, "|"));
    return e;
  }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer* stages) override {
    reserve(tokens);
    const auto t0 = std::chrono::steady_clock::now();
    switch (impl_) {
      case Impl::PerToken:
        s_.bf16_rows ? forward_per_token<uint16_t>(X, Y, tokens, stages) : forward_per_token<float>(X, Y, tokens, stages);
        break;
      case Impl::LevelBatched:
        s_.bf16_rows ? forward_level_batched<uint16_t>(X, Y, tokens, stages)
                     : forward_level_batched<float>(X, Y, tokens, stages);
        break;
      case Impl::MaskedMatrix: forward_masked_matrix(X, Y, tokens, stages); break;
      case Impl::FastFF: forward_fastff(X, Y, tokens, stages); break;
    }
    last_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    last_tokens_ = tokens;
  }

  void reference(const float* X, float* Y, int64_t tokens) const override {
    reference_with(w_in_.data(), w_out_.data(), X, Y, tokens);
  }

  // bf16 rows: the output's error against the fp32 layer (extras: rel_rms_error_vs_fp32).
  std::map<std::string, std::string> output_statistics(const float* X, const float* Y, int64_t tokens) const override {
    if (!s_.bf16_rows) return {};
    const double error = relative_rms_error_vs_fp32(X, s_.d, Y, s_.d_out, tokens, 16, [this](const float* x, float* y) {
      reference_with(w_in_fp32_.data(), w_out_fp32_.data(), x, y, 1);
    });
    return {{"rel_rms_error_vs_fp32", fmt::format("{:.4g}", error)}};
  }

  // The reference on the given node rows (w_in_, w_out_: the layer's; or the fp32 originals).
  void reference_with(const float* w_in, const float* w_out, const float* X, float* Y, int64_t tokens) const {
    std::vector<double> h(s_.leaf);
    for (int64_t t = 0; t < tokens; ++t) {
      const float* x = X + t * s_.d;
      float* y = Y + t * s_.d_out;
      std::fill(y, y + s_.d_out, 0.0f);
      for (int64_t tree = 0; tree < s_.trees; ++tree) {
        int64_t node = 0;
        for (int64_t level = 0; level < s_.levels(); ++level) {
          const int64_t n = tree * s_.nodes() + node;
          double z = b_in_[n];
          for (int64_t i = 0; i < s_.d; ++i) z += double(x[i]) * w_in[n * s_.d + i];
          if (s_.leaf == 0) {
            const double a = s_.gelu ? gelu_erf(static_cast<float>(z)) : z;
            for (int64_t o = 0; o < s_.d_out; ++o) y[o] += static_cast<float>(a * w_out[n * s_.d_out + o]);
          }
          node = fff_child(node, static_cast<float>(z), s_.leaf > 0);
        }
        if (s_.leaf > 0) {
          const int64_t leaf = tree * s_.leaves() + node - s_.nodes();
          for (int64_t j = 0; j < s_.leaf; ++j) {
            double acc = leaf_b1_[leaf * s_.leaf + j];
            for (int64_t i = 0; i < s_.d; ++i) acc += double(x[i]) * leaf_w1_[(leaf * s_.d + i) * s_.leaf + j];
            h[j] = acc > 0 ? acc : 0.0;
          }
          for (int64_t o = 0; o < s_.d_out; ++o) {
            double acc = leaf_b2_[leaf * s_.d_out + o];
            for (int64_t j = 0; j < s_.leaf; ++j) acc += h[j] * leaf_w2_[(leaf * s_.leaf + j) * s_.d_out + o];
            y[o] += static_cast<float>(acc);
          }
        }
      }
    }
  }

  // The work each impl does (see the file comment); per-stage FLOPs in stage_names() order.
  // weight_bytes: distinct weight bytes a call reads (the walks: at most every node, at most N
  // per level, an upper bound); activation_bytes: X read, Y written, and the matrix forms'
  // N-row intermediates written once and read once per tree.
  Cost cost(int64_t tokens) const override {
    const double n = static_cast<double>(tokens), K = double(s_.trees), d = double(s_.d), d_out = double(s_.d_out);
    const double nodes = double(s_.nodes()), R = double(s_.routing()), L = double(s_.leaves()), l = double(s_.leaf);
    const bool ufb = s_.leaf == 0;
    const double leaf_ffn_flops = 2.0 * l * (d + d_out);                // per token
    const double leaf_bytes = 4.0 * (d * l + l + l * d_out + d_out);   // one leaf's FFN
    const double touched_leaf_bytes = std::min(n, L) * leaf_bytes;
    // Σ over the first `levels` levels of min(N, 2^level): node rows a batch can reach.
    auto reachable_rows = [&](int64_t levels) {
      double rows = 0;
      for (int64_t lv = 0; lv < levels; ++lv) rows += std::min(n, std::ldexp(1.0, int(lv)));
      return rows;
    };
    Cost c;
    c.activation_bytes = 4.0 * n * (d + d_out);
    c.working_set_bytes = s_.weight_bytes();
    switch (impl_) {
      case Impl::PerToken:
      case Impl::LevelBatched: {
        const double per_tree = ufb ? 2.0 * s_.levels() * (d + d_out) : 2.0 * d * s_.depth + leaf_ffn_flops;
        c.flops = n * K * per_tree;
        c.stage_flops = {c.flops};
        const double row_bytes = s_.row_element_bytes() * (d + (ufb ? d_out : 0.0)) + 4.0;
        c.weight_bytes = K * (reachable_rows(s_.levels()) * row_bytes + (ufb ? 0.0 : touched_leaf_bytes));
        break;
      }
      case Impl::MaskedMatrix: {
        const double logits = 2.0 * n * K * nodes * d;
        const double output = ufb ? 2.0 * n * K * nodes * d_out : n * K * leaf_ffn_flops;
        c.stage_flops = {logits, 0.0, output};
        c.flops = logits + output;
        c.weight_bytes = K * (4.0 * nodes * (d + 1.0) + (ufb ? 4.0 * nodes * d_out : touched_leaf_bytes));
        c.activation_bytes += K * 2.0 * 4.0 * n * nodes * (ufb ? 2.0 : 1.0);  // logits (+ mask)
        break;
      }
      case Impl::FastFF: {
        const double logits = 2.0 * n * K * nodes * d;
        const double path = 2.0 * n * K * L * 2.0 * R;
        const double output = ufb ? 2.0 * n * K * (s_.depth + 1.0) * d_out : n * K * leaf_ffn_flops;
        c.stage_flops = {logits, path, 0.0, output};
        c.flops = logits + path + output;
        c.weight_bytes = K * (4.0 * nodes * (d + 1.0) + (ufb ? reachable_rows(s_.levels()) * 4.0 * d_out : touched_leaf_bytes)) +
                         s_.path_matrix_bytes();
        c.activation_bytes += K * 2.0 * 4.0 * n * (nodes + 2.0 * R + L);  // logits, branches, scores
        c.working_set_bytes += s_.path_matrix_bytes();
        break;
      }
    }
    // Roofline inputs per stage. The walks read each token's rows per use from wherever the
    // reachable rows live, x and y streamed. The matrix forms stream their N x nodes logits
    // (and mask or path scores) through memory and read their weight matrices from cache.
    const double xy = 4.0 * n * (d + d_out), logit_bytes = 4.0 * n * K * nodes;
    const double w_in = K * 4.0 * nodes * (d + 1.0);
    switch (impl_) {
      case Impl::PerToken:
      case Impl::LevelBatched: {
        const double e = s_.row_element_bytes();
        const double per_token = ufb ? s_.levels() * (e * (d + d_out) + 4.0) : s_.depth * (e * d + 4.0) + leaf_bytes;
        c.stage_bytes = {n * K * per_token};
        c.stage_stream_bytes = {xy};
        c.stage_working_set_bytes = {c.weight_bytes};
        break;
      }
      case Impl::MaskedMatrix: {
        const double w_out = ufb ? K * 4.0 * nodes * d_out : touched_leaf_bytes;
        c.stage_bytes = {w_in, 0.0, w_out};
        c.stage_stream_bytes = {4.0 * n * d + logit_bytes, 2.0 * logit_bytes, logit_bytes + 4.0 * n * d_out};
        c.stage_working_set_bytes = {w_in, 0.0, w_out};
        break;
      }
      case Impl::FastFF: {
        const double w_out = ufb ? K * reachable_rows(s_.levels()) * 4.0 * d_out : touched_leaf_bytes;
        const double scores = 4.0 * n * K * (2.0 * R + L);
        c.stage_bytes = {w_in, s_.path_matrix_bytes(), 0.0, w_out};
        c.stage_stream_bytes = {4.0 * n * d + logit_bytes, logit_bytes + scores, 4.0 * n * K * L, 4.0 * n * d_out};
        c.stage_working_set_bytes = {w_in, s_.path_matrix_bytes(), 0.0, w_out};
        break;
      }
    }
    return c;
  }

  double tolerance() const override { return 1e-4; }

  // A routing decision is the sign of a node logit z = Σ_i x_i·w_i + b. Each row's margin is
  // the smallest, over the routing nodes (levels 0..D-1; the UltraFastBERT form's last level
  // only scales its output row, continuously) of its path in every tree, of
  //   |z| / (Σ_i |x_i·w_i| + |b|),
  // z as the reference computes it (double), i.e. |z| in units of the magnitude the float sum
  // rounds against (0 where that is 0: x·w and b all zero is an exact tie).
  // Epsilon: an impl computes z in float, in whatever order it sums (BLAS blocking, 16-lane
  // partial sums, FMA or a rounded product). For any order, a float inner product of d terms plus
  // a bias is within γ_{d+1}·(Σ|x_i·w_i| + |b|) of the exact value, γ_n = n·u/(1 − n·u),
  // u = 2^-24 (Higham, Accuracy and Stability of Numerical Algorithms, §3.1); the reference's
  // double sum is exact to far less. So the impl's sign can differ from the reference's only
  // where the margin is ≤ γ_{d+1}, and 2·(d+1)·u ≥ γ_{d+1} for any d < 2^23. Random rows
  // reach that margin at about 1 in 1e4–1e5; every other mismatch is a bug, not rounding.
  std::vector<double> decision_margins(const float* X, int64_t rows) const override {
    std::vector<double> margins(rows, INFINITY);
    for (int64_t t = 0; t < rows; ++t) {
      const float* x = X + t * s_.d;
      for (int64_t tree = 0; tree < s_.trees; ++tree) {
        int64_t node = 0;
        for (int64_t level = 0; level < s_.depth; ++level) {
          const int64_t n = tree * s_.nodes() + node;
          double z = b_in_[n], scale = std::abs(double(b_in_[n]));
          for (int64_t i = 0; i < s_.d; ++i) {
            const double p = double(x[i]) * w_in_[n * s_.d + i];
            z += p;
            scale += std::abs(p);
          }
          margins[t] = std::min(margins[t], scale > 0 ? std::abs(z) / scale : 0.0);
          node = fff_child(node, static_cast<float>(z), s_.leaf > 0);
        }
      }
    }
    return margins;
  }
  double decision_epsilon() const override { return 2.0 * (s_.d + 1.0) * 0x1.0p-24; }

  std::vector<std::string> stage_names() const override {
    switch (impl_) {
      case Impl::MaskedMatrix: return {"logits", "mask", "output"};
      case Impl::FastFF: return {"logits", "path_scores", "select", "output"};
      default: return {"walk"};
    }
  }

  // Every weight and scratch buffer a call reads (X and Y are the caller's).
  std::vector<MemoryRegion> memory_regions() const override {
    std::vector<MemoryRegion> r;
    auto add = [&r](const void* p, size_t bytes) {
      if (p != nullptr && bytes > 0) r.push_back({p, bytes});
    };
    for (const AlignedVector<float>* v : {&w_in_, &b_in_, &w_out_, &leaf_w1_, &leaf_b1_, &leaf_w2_, &leaf_b2_, &path_,
                                          &hidden_, &logits_, &mask_, &branch_, &score_})
      add(v->data(), v->size() * sizeof(float));
    if (s_.bf16_rows) {  // the walks read these; w_in_ and w_out_ (rounded) the reference and margins
      add(w_in_bf16_.data(), w_in_bf16_.size() * sizeof(uint16_t));
      add(w_out_bf16_.data(), w_out_bf16_.size() * sizeof(uint16_t));
    }
    add(node_.data(), node_.size() * sizeof(int64_t));
    for (const WalkScratch& w : walk_scratch_) {
      add(w.node.data(), w.node.size() * sizeof(int64_t));
      add(w.order.data(), w.order.size() * sizeof(int64_t));
      add(w.path.data(), w.path.size() * sizeof(int64_t));
      add(w.coef.data(), w.coef.size() * sizeof(float));
    }
    return r;
  }

  // Complete: memory_regions() holds every weight and scratch buffer a call reads. OpenBLAS's
  // packing buffers are written by each GEMM before it reads them, so no stale cached read
  // escapes a flush.
  std::string cold_mode_gaps() const override { return ""; }

  // rows_read_gbs: node row bytes the walk actually read (per_token: both rows of every step;
  // level_batched: an input row once per node group of a tile at the shared levels, once per
  // token below, and every output row once per token) per second, to set against the
  // bandwidth of the cache level the tree lives in (calibrate's ceilings);
  // rows_read_per_token in units of one node's input and output rows. The leaves' dense FFNs
  // are not counted. (The matrix forms' work is in cost().)
  std::map<std::string, std::string> extras() const override {
    std::map<std::string, std::string> e;
    const double row_bytes = s_.row_element_bytes() * (s_.d + (s_.leaf == 0 ? s_.d_out : 0));
    const double bytes = impl_ == Impl::PerToken ? double(last_tokens_) * s_.trees * s_.levels() * row_bytes
                         : impl_ == Impl::LevelBatched ? last_row_bytes_ : 0.0;
    if (last_seconds_ > 0 && bytes > 0) {
      e["rows_read_gbs"] = fmt::format("{:.2f}", bytes / last_seconds_ / 1e9);
      e["rows_read_per_token"] = fmt::format("{:.3f}", bytes / row_bytes / (double(last_tokens_) * s_.trees));
    }
    return e;
  }

 private:
  // The leaf (0..2^D-1) of `tree` that x reaches: D routing steps as the reference takes them.
  int64_t leaf_of(const float* x, int64_t tree) const {
    int64_t node = 0;
    for (int64_t level = 0; level < s_.depth; ++level) {
      const int64_t n = tree * s_.nodes() + node;
      double z = b_in_[n];
      for (int64_t i = 0; i < s_.d; ++i) z += double(x[i]) * w_in_[n * s_.d + i];
      node = fff_child(node, static_cast<float>(z), s_.leaf > 0);
    }
    return node - s_.routing();
  }

  static void copy_checked(const char* name, const std::vector<float>& from, size_t expected, AlignedVector<float>& to) {
    if (from.size() != expected)
      throw std::invalid_argument(fmt::format("fff weights: {} has {} values, the configuration needs {}", name,
                                              from.size(), expected));
    to.assign(from.begin(), from.end());
  }

  // After the weights: fastff's path matrix, then scratch for max_tokens.
  void prepare(int64_t max_tokens) {
    if (s_.bf16_rows) to_bf16_rows();
    if (impl_ == Impl::FastFF) build_path_matrix();
    reserve(max_tokens);
    if (impl_ == Impl::LevelBatched) {
      const int64_t threads = omp_get_max_threads();
      reserve_walk(std::clamp<int64_t>((max_tokens + threads - 1) / threads, 1, s_.tile));
    }
  }

  // row_precision = bf16: the walks read bf16 copies of w_in and w_out; w_in_ and w_out_ are
  // rounded to the same values, so the reference (and the gate's margins) compute the bf16
  // layer's math, and the fp32 originals stay for the error against fp32.
  void to_bf16_rows() {
    w_in_fp32_ = w_in_;
    w_out_fp32_ = w_out_;
    for (auto [fp32, low] : {std::pair{&w_in_, &w_in_bf16_}, std::pair{&w_out_, &w_out_bf16_}}) {
      low->resize(fp32->size());
#pragma omp parallel for schedule(static)
      for (size_t i = 0; i < fp32->size(); ++i) {
        (*low)[i] = bf16_bits((*fp32)[i]);
        (*fp32)[i] = bf16_to_float((*low)[i]);
      }
    }
  }
  // The node rows a walk reads: fp32, or their bf16 copies.
  template <class Row>
  const Row* rows_in() const {
    if constexpr (std::is_same_v<Row, uint16_t>) return w_in_bf16_.data();
    else return w_in_.data();
  }
  template <class Row>
  const Row* rows_out() const {
    if constexpr (std::is_same_v<Row, uint16_t>) return w_out_bf16_.data();
    else return w_out_.data();
  }

  // P[leaf][j] = 1 where the leaf's path goes right at routing node j, P[leaf][R + j] = 1 where
  // it goes left, 0 elsewhere (D ones per row). The leaf's node is R + leaf in heap order.
  void build_path_matrix() {
    const int64_t R = s_.routing(), L = s_.leaves();
    path_ = zeroed(static_cast<size_t>(L * 2 * R));
    float* P = path_.data();
#pragma omp parallel for schedule(static)
    for (int64_t leaf = 0; leaf < L; ++leaf) {
      float* row = P + leaf * 2 * R;
      for (int64_t n = R + leaf; n > 0; n = (n - 1) / 2) {
        const int64_t parent = (n - 1) / 2;
        row[n == 2 * parent + 2 ? parent : R + parent] = 1.0f;
      }
    }
  }

  // Grows once; forward() does not allocate when warm. Buffers are fresh allocations zeroed by
  // static-schedule loops (hidden_ is written before it is read, per thread).
  void reserve(int64_t tokens) {
    const size_t hidden = static_cast<size_t>(omp_get_max_threads()) * std::max<int64_t>(s_.leaf, 1);
    if (hidden_.size() < hidden) hidden_ = AlignedVector<float>(hidden);
    if (tokens <= reserved_tokens_) return;
    const bool masked = impl_ == Impl::MaskedMatrix, fastff = impl_ == Impl::FastFF;
    if (masked || fastff) {
      const double nodes = double(s_.nodes()), R = double(s_.routing()), L = double(s_.leaves());
      const double per_token = masked ? nodes * (s_.leaf == 0 ? 2.0 : 1.0) : nodes + 2.0 * R + L;
      check_fits_in_memory(
          "depth", std::to_string(s_.depth), 4.0 * double(tokens) * per_token,
          masked ? fmt::format("the masked_matrix impl's N×nodes logits and mask ({}×{})", tokens, s_.nodes())
                 : fmt::format("the fastff impl's N×(nodes + 2R + L) logits, branches and path scores ({}×{})", tokens,
                               per_token));
      logits_ = zeroed(static_cast<size_t>(tokens * s_.nodes()));
      if (masked && s_.leaf == 0) mask_ = zeroed(static_cast<size_t>(tokens * s_.nodes()));
      if (fastff) {
        branch_ = zeroed(static_cast<size_t>(tokens * 2 * s_.routing()));
        score_ = zeroed(static_cast<size_t>(tokens * s_.leaves()));
      }
    }
    node_.assign(tokens, 0);
    reserved_tokens_ = tokens;
  }

  // level_batched's per-thread state for a tile: nodes, order, and each token's path and
  // activations. Each thread allocates (and so first touches) its own.
  struct WalkScratch {
    std::vector<int64_t> node, order, path;
    std::vector<float> coef;
  };
  void reserve_walk(int64_t tile) {
    const size_t threads = static_cast<size_t>(omp_get_max_threads());
    if (walk_scratch_.size() < threads) walk_scratch_.resize(threads);
    bool grow = false;
    for (size_t i = 0; i < threads; ++i) grow |= static_cast<int64_t>(walk_scratch_[i].node.size()) < tile;
    if (!grow) return;
#pragma omp parallel
    {
      WalkScratch& w = walk_scratch_[omp_get_thread_num()];
      if (static_cast<int64_t>(w.node.size()) < tile) {
        w.node.resize(tile);
        w.order.resize(tile);
        w.path.resize(tile * s_.levels());
        w.coef.resize(tile * s_.levels());
      }
    }
  }

  float act(float z) const { return s_.gelu ? gelu_erf(z) : z; }

  // The dense leaf FFN of `leaf` for one token, added into y.
  void leaf_ffn(int64_t leaf, const float* x, float* y, float* h) const {
    for (int64_t j = 0; j < s_.leaf; ++j) h[j] = leaf_b1_[leaf * s_.leaf + j];
    for (int64_t i = 0; i < s_.d; ++i) axpy(h, leaf_w1_.data() + (leaf * s_.d + i) * s_.leaf, x[i], s_.leaf);
    for (int64_t j = 0; j < s_.leaf; ++j) h[j] = h[j] > 0.0f ? h[j] : 0.0f;
    axpy(y, leaf_b2_.data() + leaf * s_.d_out, 1.0f, s_.d_out);
    for (int64_t j = 0; j < s_.leaf; ++j) axpy(y, leaf_w2_.data() + (leaf * s_.leaf + j) * s_.d_out, h[j], s_.d_out);
  }

  // One node step for one token: returns the child.
  template <class Row>
  int64_t step(int64_t tree, int64_t node, const float* x, float* y) const {
    const int64_t n = tree * s_.nodes() + node;
    const float z = dot(x, rows_in<Row>() + n * s_.d, s_.d) + b_in_[n];
    if (s_.leaf == 0) axpy(y, rows_out<Row>() + n * s_.d_out, act(z), s_.d_out);
    return fff_child(node, z, s_.leaf > 0);
  }

  void zero_rows(float* Y, int64_t tokens) const {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tokens; ++t) std::fill(Y + t * s_.d_out, Y + (t + 1) * s_.d_out, 0.0f);
  }
  template <class Row>
  void forward_per_token(const float* X, float* Y, int64_t tokens, StageTimer* stages) {
    StageTimer::Scope scope(stages, 0);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tokens; ++t) {
      const float* x = X + t * s_.d;
      float* y = Y + t * s_.d_out;
      std::fill(y, y + s_.d_out, 0.0f);
      for (int64_t tree = 0; tree < s_.trees; ++tree) {
        int64_t node = 0;
        for (int64_t level = 0; level < s_.levels(); ++level) node = step<Row>(tree, node, x, y);
        if (s_.leaf > 0) leaf_ffn(tree * s_.leaves() + node - s_.nodes(), x, y, hidden_.data() + omp_get_thread_num() * s_.leaf);
      }
    }
  }

  // Routing only, for four tokens ts[0..4) of a tile at nodes node[ts[q]] of `tree`: their logits
  // (four independent dot products; rows may coincide), activations into coef[ts[q]·levels +
  // level] and the nodes into path[…]; then each token moves to its child.
  template <class Row>
  void route4(int64_t tree, int64_t level, const int64_t* ts, const float* X, int64_t* node, float* coef,
              int64_t* path) const {
    const float* x[4];
    const Row* w_in[4];
    int64_t n[4];
    for (int q = 0; q < 4; ++q) {
      n[q] = tree * s_.nodes() + node[ts[q]];
      x[q] = X + ts[q] * s_.d;
      w_in[q] = rows_in<Row>() + n[q] * s_.d;
    }
    float z[4];
    dot4(w_in, x, s_.d, z);
    for (int q = 0; q < 4; ++q) record(ts[q], level, n[q], z[q] + b_in_[n[q]], node, coef, path);
  }
  template <class Row>
  void route(int64_t tree, int64_t level, int64_t t, const float* X, int64_t* node, float* coef, int64_t* path) const {
    const int64_t n = tree * s_.nodes() + node[t];
    record(t, level, n, dot(X + t * s_.d, rows_in<Row>() + n * s_.d, s_.d) + b_in_[n], node, coef, path);
  }
  void record(int64_t t, int64_t level, int64_t n, float z, int64_t* node, float* coef, int64_t* path) const {
    coef[t * s_.levels() + level] = act(z);
    path[t * s_.levels() + level] = n;
    node[t] = fff_child(node[t], z, s_.leaf > 0);
  }

  // Tiles of `tile` tokens (their x and y stay in L2) are spread over the threads, one parallel
  // region and no barrier per level. Each tile first routes: level by level with the tokens
  // sorted by node while the levels are shared (at least two tokens per node on average), so
  // those input rows are read once per tile; below that four tokens at a time finish their
  // walks together, x in L1 and four independent rows in flight. Only the input rows are on
  // the walk's dependent path. Then every token's output, Σ act·W_out[node] over its path, is
  // summed with y in registers and all its rows' addresses known (UltraFastBERT form), or its
  // leaf FFN is run (FFF form).
  template <class Row>
  void forward_level_batched(const float* X, float* Y, int64_t tokens, StageTimer* stages) {
    StageTimer::Scope scope(stages, 0);
    // Smaller tiles when the batch would not give every thread one.
    const int64_t per_thread = (tokens + omp_get_max_threads() - 1) / omp_get_max_threads();
    const int64_t tile = std::clamp<int64_t>(per_thread, 1, s_.tile);
    const int64_t tiles = (tokens + tile - 1) / tile, levels = s_.levels();
    reserve_walk(tile);
    int64_t in_rows = 0, out_rows_read = 0;
#pragma omp parallel reduction(+ : in_rows, out_rows_read)
    {
      WalkScratch& scratch = walk_scratch_[omp_get_thread_num()];
      int64_t *node = scratch.node.data(), *order = scratch.order.data(), *path = scratch.path.data();
      float* coef = scratch.coef.data();
      const Row* out_rows[kMaxDepth + 1];  // the output rows of one token's path
      float* hidden = hidden_.data() + omp_get_thread_num() * std::max<int64_t>(s_.leaf, 1);
#pragma omp for schedule(static)
      for (int64_t b = 0; b < tiles; ++b) {
        const int64_t t0 = b * tile, m = std::min(tile, tokens - t0);
        const float* Xt = X + t0 * s_.d;
        float* Yt = Y + t0 * s_.d_out;
        std::fill(Yt, Yt + m * s_.d_out, 0.0f);
        int64_t shared_levels = 0;
        while (shared_levels < levels && (int64_t{2} << shared_levels) <= m) ++shared_levels;
        for (int64_t tree = 0; tree < s_.trees; ++tree) {
          std::fill(node, node + m, 0);
          std::iota(order, order + m, 0);
          for (int64_t level = 0; level < shared_levels; ++level) {
            std::sort(order, order + m, [&](int64_t p, int64_t q) { return node[p] < node[q]; });
            for (int64_t i = 0; i < m; ++i)
              if (i == 0 || node[order[i]] != node[order[i - 1]]) ++in_rows;
            int64_t i = 0;
            for (; i + 4 <= m; i += 4) route4<Row>(tree, level, order + i, Xt, node, coef, path);
            for (; i < m; ++i) route<Row>(tree, level, order[i], Xt, node, coef, path);
          }
          in_rows += m * (levels - shared_levels);
          int64_t i = 0;
          for (; i + 4 <= m; i += 4)
            for (int64_t level = shared_levels; level < levels; ++level)
              route4<Row>(tree, level, order + i, Xt, node, coef, path);
          for (; i < m; ++i)
            for (int64_t level = shared_levels; level < levels; ++level)
              route<Row>(tree, level, order[i], Xt, node, coef, path);
          if (s_.leaf > 0) {
            for (int64_t t = 0; t < m; ++t)
              leaf_ffn(tree * s_.leaves() + node[t] - s_.nodes(), Xt + t * s_.d, Yt + t * s_.d_out, hidden);
            continue;
          }
          out_rows_read += m * levels;
          for (int64_t t = 0; t < m; ++t) {
            for (int64_t l = 0; l < levels; ++l) out_rows[l] = rows_out<Row>() + path[t * levels + l] * s_.d_out;
            add_weighted_rows(Yt + t * s_.d_out, out_rows, coef + t * levels, levels, s_.d_out);
          }
        }
      }
    }
    last_row_bytes_ = s_.row_element_bytes() * (double(in_rows) * s_.d + double(out_rows_read) * s_.d_out);
  }

  // UltraFastBERT's masking form: all node logits in one GEMM, the walk on them writes act(z)
  // at the path's nodes into a zero mask, then (UltraFastBERT form) the mask times every output
  // row as a second GEMM; (FFF form) the leaves of the chosen paths.
  void forward_masked_matrix(const float* X, float* Y, int64_t tokens, StageTimer* stages) {
    const int64_t nodes = s_.nodes();
    zero_rows(Y, tokens);
    for (int64_t tree = 0; tree < s_.trees; ++tree) {
      const float* w_in = w_in_.data() + tree * nodes * s_.d;
      {
        StageTimer::Scope scope(stages, 0);
        if (nodes > 0)
          sgemm_rowmajor(tokens, nodes, s_.d, 1.0f, X, s_.d, w_in, s_.d, /*b_transposed=*/true, 0.0f, logits_.data(),
                         nodes);
      }
      {
        StageTimer::Scope scope(stages, 1);
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < tokens; ++t) {
          const float* z = logits_.data() + t * nodes;
          const float* b = b_in_.data() + tree * nodes;
          float* m = s_.leaf == 0 ? mask_.data() + t * nodes : nullptr;
          if (m) std::fill(m, m + nodes, 0.0f);
          int64_t node = 0;
          for (int64_t level = 0; level < s_.levels(); ++level) {
            const float v = z[node] + b[node];
            if (m) m[node] = act(v);
            node = fff_child(node, v, s_.leaf > 0);
          }
          node_[t] = node;
        }
      }
      StageTimer::Scope scope(stages, 2);
      if (s_.leaf == 0) {
        sgemm_rowmajor(tokens, s_.d_out, nodes, 1.0f, mask_.data(), nodes, w_out_.data() + tree * nodes * s_.d_out,
                       s_.d_out, false, 1.0f, Y, s_.d_out);
      } else {
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < tokens; ++t)
          leaf_ffn(tree * s_.leaves() + node_[t] - nodes, X + t * s_.d, Y + t * s_.d_out,
                   hidden_.data() + omp_get_thread_num() * s_.leaf);
      }
    }
  }

  // FastFF's formulation (the file comment says what act and select are and why): logits GEMM,
  // hardened branch activations, path-score GEMM with the fixed path matrix, argmax over the
  // leaves, the selected leaf's output.
  void forward_fastff(const float* X, float* Y, int64_t tokens, StageTimer* stages) {
    const int64_t nodes = s_.nodes(), R = s_.routing(), L = s_.leaves(), depth = s_.depth;
    const bool routing_only = s_.leaf > 0;
    float *Z = logits_.data(), *B = branch_.data(), *S = score_.data();
    zero_rows(Y, tokens);
    for (int64_t tree = 0; tree < s_.trees; ++tree) {
      const float* b = b_in_.data() + tree * nodes;
      {  // Z = X·W_inᵀ + b over every node of the tree.
        StageTimer::Scope scope(stages, 0);
        if (nodes > 0) {
          sgemm_rowmajor(tokens, nodes, s_.d, 1.0f, X, s_.d, w_in_.data() + tree * nodes * s_.d, s_.d,
                         /*b_transposed=*/true, 0.0f, Z, nodes);
#pragma omp parallel for schedule(static)
          for (int64_t t = 0; t < tokens; ++t) {
            float* z = Z + t * nodes;
#pragma omp simd
            for (int64_t j = 0; j < nodes; ++j) z[j] += b[j];
          }
        }
      }
      {  // branches [act(z), act(-z)] of the R routing nodes; S = branches · Pᵀ (N × L).
        StageTimer::Scope scope(stages, 1);
        if (R > 0) {
#pragma omp parallel for schedule(static)
          for (int64_t t = 0; t < tokens; ++t) {
            const float* z = Z + t * nodes;
            float* br = B + t * 2 * R;
            for (int64_t j = 0; j < R; ++j) {
              const float right = fff_goes_right(z[j], routing_only) ? 1.0f : 0.0f;
              br[j] = right;
              br[R + j] = 1.0f - right;
            }
          }
          sgemm_rowmajor(tokens, L, 2 * R, 1.0f, B, 2 * R, path_.data(), 2 * R, /*b_transposed=*/true, 0.0f, S, L);
        }
      }
      {  // The leaf with the largest path score: the one consistent with all D signs (score D).
        StageTimer::Scope scope(stages, 2);
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < tokens; ++t) {
          if (R == 0) {
            node_[t] = 0;
            continue;
          }
          const float* s = S + t * L;
          node_[t] = std::max_element(s, s + L) - s;
        }
      }
      StageTimer::Scope scope(stages, 3);
      if (s_.leaf == 0) {
        // The selected path's D+1 neurons: act(z)·W_out[node] from the leaf's node up to the root.
        const float* w_out = w_out_.data() + tree * nodes * s_.d_out;
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < tokens; ++t) {
          const float* z = Z + t * nodes;
          const float* rows[kMaxDepth + 1];
          float coef[kMaxDepth + 1];
          int64_t n = R + node_[t];
          for (int64_t level = depth; level >= 0; --level, n = (n - 1) / 2) {
            rows[level] = w_out + n * s_.d_out;
            coef[level] = act(z[n]);
          }
          add_weighted_rows(Y + t * s_.d_out, rows, coef, depth + 1, s_.d_out);
        }
      } else {
#pragma omp parallel for schedule(static)
        for (int64_t t = 0; t < tokens; ++t)
          leaf_ffn(tree * L + node_[t], X + t * s_.d, Y + t * s_.d_out, hidden_.data() + omp_get_thread_num() * s_.leaf);
      }
    }
  }

  FffShape s_;
  Impl impl_;
  AlignedVector<float> w_in_, b_in_, w_out_, leaf_w1_, leaf_b1_, leaf_w2_, leaf_b2_;
  AlignedVector<float> w_in_fp32_, w_out_fp32_;      // bf16 rows: the fp32 originals
  AlignedVector<uint16_t> w_in_bf16_, w_out_bf16_;   // bf16 rows: what the walks read
  AlignedVector<float> path_;  // fastff: L × 2R path matrix
  AlignedVector<float> hidden_, logits_, mask_, branch_, score_;
  std::vector<int64_t> node_;  // matrix forms: each token's leaf (masked_matrix: its node index)
  int64_t reserved_tokens_ = 0;
  std::vector<WalkScratch> walk_scratch_;
  double last_row_bytes_ = 0;  // level_batched: node row bytes read in the last call (shared ones once)
  double last_seconds_ = 0;
  int64_t last_tokens_ = 0;
};

class FffVariant final : public Variant {
 public:
  std::string name() const override { return "fff"; }
  std::string doc() const override {
    return "Fast Feed-Forward trees: UltraFastBERT neurons per node (leaf_width=0) or routing nodes with dense leaves";
  }
  std::vector<ParamSpec> params() const override {
    return {ParamSpec::integer("d", 768, 1, 65536, "input width"),
            ParamSpec::integer("d_out", 0, 0, 65536, "output width (0: d)"),
            ParamSpec::integer("depth", 11, 0, kMaxDepth, "tree depth D (UltraFastBERT: D+1 neurons per token and tree)"),
            ParamSpec::integer("trees", 1, 1, 4096, "number of trees K"),
            ParamSpec::integer("leaf_width", 0, 0, 1 << 20, "0: UltraFastBERT form; >0: FFF form with dense ReLU leaves of this width"),
            ParamSpec::choice("activation", "gelu", {"gelu", "none"}, "node activation (UltraFastBERT form)"),
            ParamSpec::integer("tile", 128, 1, 1 << 20, "level_batched: tokens walked together (their x and y stay in L2)"),
            ParamSpec::integer("max_path_matrix_mib", 512, 1, int64_t{1} << 30,
                               "fastff: refuse depths whose 2^D x 2(2^D-1) fp32 path matrix is larger (512: D <= 13)"),
            ParamSpec::choice("impl", "level_batched", {"per_token", "level_batched", "masked_matrix", "fastff"},
                              "per_token walk, level-batched walk, UltraFastBERT's masking GEMMs, or FastFF's path-matrix gate"),
            ParamSpec::choice("row_precision", "fp32", {"fp32", "bf16"},
                              "node rows (w_in, w_out) in fp32, or bf16 read and widened to fp32 by the walks (UltraFastBERT form)"),
            weights_param()};
  }
  void validate(const Config& c) const override {
    const FffShape s = FffShape::of(c);
    if (s.bf16_rows && (s.leaf > 0 || (c.str("impl") != "per_token" && c.str("impl") != "level_batched")))
      throw ConfigError("row_precision", "bf16",
                        fmt::format("needs the UltraFastBERT form (leaf_width = 0, here {}) and a walk (impl = per_token or "
                                    "level_batched, here {})",
                                    s.leaf, c.str("impl")));
    double bytes = s.weight_bytes();
    if (c.str("impl") == "fastff") {
      const double path = s.path_matrix_bytes(), limit = std::ldexp(double(c.integer("max_path_matrix_mib")), 20);
      if (path > limit)
        throw ConfigError("depth", c.str("depth"),
                          fmt::format("fastff's path matrix ({} x {} floats) would need {}, more than "
                                      "max_path_matrix_mib = {} (the walks run any depth)",
                                      s.leaves(), 2 * s.routing(), format_bytes(path), c.integer("max_path_matrix_mib")));
      bytes += path;
    }
    check_fits_in_memory("depth", c.str("depth"), bytes,
                         fmt::format("{} tree(s) of depth {} ({} nodes each){}", s.trees, s.depth, s.nodes(),
                                     c.str("impl") == "fastff" ? " and fastff's path matrix" : ""));
    trained_weights(c);
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<FffKernel>(c, seed, max_tokens);
  }
  // The trees (and fastff's path matrix), the matrix impls' per-token logits (reserve()), each
  // token's node, the leaf hidden rows per thread, and Y.
  double memory_bytes(const Config& c, int64_t tokens, int threads) const override {
    const FffShape s = FffShape::of(c);
    const double n = double(tokens), nodes = double(s.nodes()), R = double(s.routing()), L = double(s.leaves());
    double bytes = s.weight_bytes() + 8 * n + 4 * double(threads) * double(std::max<int64_t>(s.leaf, 1)) +
                   4 * n * double(s.d_out);
    if (s.bf16_rows) bytes += 8 * double(s.trees) * nodes * double(s.d + s.d_out);  // rounded rows and originals
    if (c.str("impl") == "masked_matrix") bytes += 4 * n * nodes * (s.leaf == 0 ? 2.0 : 1.0);
    if (c.str("impl") == "fastff") bytes += s.path_matrix_bytes() + 4 * n * (nodes + 2 * R + L);
    return bytes;
  }
};

FFNBENCH_REGISTER_VARIANT(FffVariant);

}  // namespace

std::unique_ptr<Kernel> build_fff_kernel(const Config& config, const FffWeights& weights, int64_t max_tokens) {
  return std::make_unique<FffKernel>(config, weights, max_tokens);
}

}  // namespace ffnbench
