// fff: Fast Feed-Forward networks (DESIGN.md §4; BACKGROUND.md).
// UltraFastBERT form (leaf_width = 0): K trees of depth D, 2^(D+1)-1 nodes in heap order, each
// with an input row, a bias and an output row; per token and tree, D+1 levels of
//   z = x·W_in[node] + b_in[node];  y += act(z)·W_out[node];  node = 2·node + 1 + (z > 0).
// Original FFF form (leaf_width = ℓ > 0): the 2^D - 1 inner nodes only route (z ≥ 0 goes right)
// and the chosen leaf is a dense FFN d → ℓ → d_out with biases and ReLU (the output bias kept,
// which the original code's eval path forgets).
// Cost per token and tree: UltraFastBERT 4·d·(D+1) FLOPs (d_out = d); FFF 2·d·D + 2·ℓ·(d + d_out).
// impls: per_token (each token walks its path; vector dot/axpy), level_batched (tiles of tokens
// walk level by level, grouped by node, so a node's rows are read once per tile for all its
// tokens), matrix (FastFF: the logits of every node as one GEMM, then the path mask, and the
// output as a GEMM of the masked activations with all output rows).
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <numeric>

#include "common/activation.hpp"
#include "common/aligned.hpp"
#include "common/blas.hpp"
#include "common/memory.hpp"
#include "common/random.hpp"
#include "core/registry.hpp"
#include "fff/fff_path.hpp"

namespace ffnbench {
namespace {

struct FffShape {
  int64_t d, d_out, depth, trees, leaf, tile;
  bool gelu;
  int64_t nodes() const { return leaf > 0 ? (int64_t{1} << depth) - 1 : (int64_t{2} << depth) - 1; }
  int64_t leaves() const { return int64_t{1} << depth; }
  int64_t levels() const { return leaf > 0 ? depth : depth + 1; }  // levels with a node row
  double weight_bytes() const {
    double per_tree = leaf > 0 ? nodes() * (d + 1.0) + leaves() * (d * leaf + leaf + leaf * d_out + d_out)
                               : nodes() * (d + 1.0 + d_out);
    return 4.0 * trees * per_tree;
  }
  static FffShape of(const Config& c) {
    FffShape s;
    s.d = c.integer("d");
    s.d_out = c.integer("d_out") > 0 ? c.integer("d_out") : s.d;
    s.depth = c.integer("depth");
    s.trees = c.integer("trees");
    s.leaf = c.integer("leaf_width");
    s.tile = c.integer("tile");
    s.gelu = c.str("activation") == "gelu";
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

// Four independent partial sums: with one, every FMA would wait for the previous one's result
// (the step's dot product is on the walk's critical path: the next row depends on its sign).
inline float dot(const float* a, const float* b, int64_t n) {
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
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

inline void axpy(float* y, const float* row, float s, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += s * row[i];
}

// Four tokens, each against its own row (rows may coincide): four independent FMA chains and,
// where the rows differ, four rows streaming at once instead of one dependent walk at a time.
inline void dot4(const float* const row[4], const float* const x[4], int64_t n, float out[4]) {
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
    for (int64_t j = i; j < n; ++j) sum += row[q][j] * x[q][j];
    out[q] = sum;
  }
}

// y[0..n) += Σ_l a[l]·row_l[0..n) over `count` rows whose addresses are all known: y stays in
// registers chunk by chunk and every row can stream at once.
inline void add_weighted_rows(float* y, const float* const* rows, const float* a, int64_t count, int64_t n) {
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
    for (int64_t l = 0; l < count; ++l) y[i] += a[l] * rows[l][i];
}

class FffKernel final : public Kernel {
 public:
  FffKernel(const Config& c, uint64_t seed, int64_t max_tokens) : s_(FffShape::of(c)), impl_(c.str("impl")) {
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
    reserve(max_tokens);
  }

  int64_t d_in() const override { return s_.d; }
  int64_t d_out() const override { return s_.d_out; }

  void forward(const float* X, float* Y, int64_t tokens, StageTimer* stages) override {
    reserve(tokens);
    const auto t0 = std::chrono::steady_clock::now();
    if (impl_ == "per_token") forward_per_token(X, Y, tokens, stages);
    else if (impl_ == "level_batched") forward_level_batched(X, Y, tokens, stages);
    else forward_matrix(X, Y, tokens, stages);
    last_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    last_tokens_ = tokens;
  }

  void reference(const float* X, float* Y, int64_t tokens) const override {
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
          for (int64_t i = 0; i < s_.d; ++i) z += double(x[i]) * w_in_[n * s_.d + i];
          if (s_.leaf == 0) {
            const double act = s_.gelu ? gelu_erf(static_cast<float>(z)) : z;
            for (int64_t o = 0; o < s_.d_out; ++o) y[o] += static_cast<float>(act * w_out_[n * s_.d_out + o]);
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

  Cost cost(int64_t tokens) const override {
    const double n = static_cast<double>(tokens);
    const double per_tree = s_.leaf == 0 ? 2.0 * s_.levels() * (s_.d + s_.d_out)
                                         : 2.0 * s_.d * s_.depth + 2.0 * s_.leaf * (s_.d + s_.d_out);
    Cost c;
    c.flops = n * s_.trees * per_tree;
    // Distinct rows read: at most every node, at most N per level (an upper bound).
    double rows = 0;
    for (int64_t l = 0; l < s_.levels(); ++l) rows += std::min<double>(n, double(int64_t{1} << l));
    const double row_bytes = 4.0 * (s_.d + (s_.leaf == 0 ? s_.d_out : 0));
    const double leaf_bytes = s_.leaf > 0 ? std::min<double>(n, s_.leaves()) * 4.0 * s_.leaf * (s_.d + s_.d_out) : 0;
    c.weight_bytes = s_.trees * (rows * row_bytes + leaf_bytes);
    c.activation_bytes = 4.0 * n * (s_.d + s_.d_out);
    c.working_set_bytes = s_.weight_bytes();
    return c;
  }

  double tolerance() const override { return 1e-4; }
  // A node logit within float rounding of 0 sends the token down the other subtree.

  std::vector<std::string> stage_names() const override {
    if (impl_ == "matrix") return {"logits", "mask", "output"};
    return {"walk"};
  }

  std::vector<MemoryRegion> memory_regions() const override {
    return {{w_in_.data(), w_in_.size() * 4}, {w_out_.data(), w_out_.size() * 4}, {leaf_w1_.data(), leaf_w1_.size() * 4},
            {leaf_w2_.data(), leaf_w2_.size() * 4}};
  }

  // rows_read_gbs: node row bytes the walk actually read (per_token: both rows of every step;
  // level_batched: an input row once per node group of a tile at the shared levels, once per
  // token below, and every output row once per token) per second, to set against the
  // bandwidth of the cache level the tree lives in (calibrate's ceilings);
  // rows_read_per_token in units of one node's input and output rows. The leaves' dense FFNs
  // are not counted.
  std::map<std::string, std::string> extras() const override {
    std::map<std::string, std::string> e;
    const double row_bytes = 4.0 * (s_.d + (s_.leaf == 0 ? s_.d_out : 0));
    const double bytes = impl_ == "per_token" ? double(last_tokens_) * s_.trees * s_.levels() * row_bytes
                         : impl_ == "level_batched" ? last_row_bytes_ : 0.0;
    if (last_seconds_ > 0 && bytes > 0) {
      e["rows_read_gbs"] = fmt::format("{:.2f}", bytes / last_seconds_ / 1e9);
      e["rows_read_per_token"] = fmt::format("{:.3f}", bytes / row_bytes / (double(last_tokens_) * s_.trees));
    }
    if (impl_ == "matrix" && s_.leaf == 0)
      e["matrix_flops"] = fmt::format("{:.4g}", 2.0 * last_tokens_ * s_.trees * s_.nodes() * (s_.d + s_.d_out));
    return e;
  }

 private:
  // Grows once; forward() does not allocate when warm.
  void reserve(int64_t tokens) {
    const size_t hidden = static_cast<size_t>(omp_get_max_threads()) * std::max<int64_t>(s_.leaf, 1);
    if (hidden_.size() < hidden) hidden_.resize(hidden);
    if (static_cast<int64_t>(node_.size()) >= tokens) return;
    node_.resize(tokens);
    if (impl_ == "matrix") {
      const double bytes = 4.0 * tokens * s_.nodes() * 2;
      check_fits_in_memory("depth", std::to_string(s_.depth), bytes,
                           fmt::format("the matrix impl's N×nodes logits and mask ({}×{})", tokens, s_.nodes()));
      logits_.resize(tokens * s_.nodes());
      if (s_.leaf == 0) mask_.resize(tokens * s_.nodes());
    }
  }

  // level_batched's per-thread state for a tile: nodes, order, and each token's path and
  // activations.
  struct WalkScratch {
    std::vector<int64_t> node, order, path;
    std::vector<float> coef;
    std::vector<const float*> out_rows;
  };
  void reserve_walk(int64_t tile) {
    const size_t threads = static_cast<size_t>(omp_get_max_threads());
    if (walk_scratch_.size() < threads) walk_scratch_.resize(threads);
    for (WalkScratch& w : walk_scratch_) {
      if (static_cast<int64_t>(w.node.size()) >= tile) continue;
      w.node.resize(tile);
      w.order.resize(tile);
      w.path.resize(tile * s_.levels());
      w.coef.resize(tile * s_.levels());
      w.out_rows.resize(s_.levels());
    }
  }

  // The dense leaf FFN of `leaf` for one token, added into y.
  void leaf_ffn(int64_t leaf, const float* x, float* y, float* h) const {
    for (int64_t j = 0; j < s_.leaf; ++j) h[j] = leaf_b1_[leaf * s_.leaf + j];
    for (int64_t i = 0; i < s_.d; ++i) axpy(h, leaf_w1_.data() + (leaf * s_.d + i) * s_.leaf, x[i], s_.leaf);
    for (int64_t j = 0; j < s_.leaf; ++j) h[j] = h[j] > 0.0f ? h[j] : 0.0f;
    axpy(y, leaf_b2_.data() + leaf * s_.d_out, 1.0f, s_.d_out);
    for (int64_t j = 0; j < s_.leaf; ++j) axpy(y, leaf_w2_.data() + (leaf * s_.leaf + j) * s_.d_out, h[j], s_.d_out);
  }

  // One node step for one token: returns the child.
  int64_t step(int64_t tree, int64_t node, const float* x, float* y) const {
    const int64_t n = tree * s_.nodes() + node;
    const float z = dot(x, w_in_.data() + n * s_.d, s_.d) + b_in_[n];
    if (s_.leaf == 0) axpy(y, w_out_.data() + n * s_.d_out, s_.gelu ? gelu_erf(z) : z, s_.d_out);
    return fff_child(node, z, s_.leaf > 0);
  }

  void forward_per_token(const float* X, float* Y, int64_t tokens, StageTimer* stages) {
    StageTimer::Scope scope(stages, 0);
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tokens; ++t) {
      const float* x = X + t * s_.d;
      float* y = Y + t * s_.d_out;
      std::fill(y, y + s_.d_out, 0.0f);
      for (int64_t tree = 0; tree < s_.trees; ++tree) {
        int64_t node = 0;
        for (int64_t level = 0; level < s_.levels(); ++level) node = step(tree, node, x, y);
        if (s_.leaf > 0) leaf_ffn(tree * s_.leaves() + node - s_.nodes(), x, y, hidden_.data() + omp_get_thread_num() * s_.leaf);
      }
    }
  }

  // Routing only, for four tokens ts[0..4) of a tile at nodes node[ts[q]] of `tree`: their logits
  // (four independent dot products; rows may coincide), activations into coef[ts[q]·levels +
  // level] and the nodes into path[…]; then each token moves to its child.
  void route4(int64_t tree, int64_t level, const int64_t* ts, const float* X, int64_t* node, float* coef,
              int64_t* path) const {
    const float* x[4];
    const float* w_in[4];
    int64_t n[4];
    for (int q = 0; q < 4; ++q) {
      n[q] = tree * s_.nodes() + node[ts[q]];
      x[q] = X + ts[q] * s_.d;
      w_in[q] = w_in_.data() + n[q] * s_.d;
    }
    float z[4];
    dot4(w_in, x, s_.d, z);
    for (int q = 0; q < 4; ++q) record(ts[q], level, n[q], z[q] + b_in_[n[q]], node, coef, path);
  }
  void route(int64_t tree, int64_t level, int64_t t, const float* X, int64_t* node, float* coef, int64_t* path) const {
    const int64_t n = tree * s_.nodes() + node[t];
    record(t, level, n, dot(X + t * s_.d, w_in_.data() + n * s_.d, s_.d) + b_in_[n], node, coef, path);
  }
  void record(int64_t t, int64_t level, int64_t n, float z, int64_t* node, float* coef, int64_t* path) const {
    coef[t * s_.levels() + level] = s_.gelu ? gelu_erf(z) : z;
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
      const float** out_rows = scratch.out_rows.data();
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
            for (; i + 4 <= m; i += 4) route4(tree, level, order + i, Xt, node, coef, path);
            for (; i < m; ++i) route(tree, level, order[i], Xt, node, coef, path);
          }
          in_rows += m * (levels - shared_levels);
          int64_t i = 0;
          for (; i + 4 <= m; i += 4)
            for (int64_t level = shared_levels; level < levels; ++level)
              route4(tree, level, order + i, Xt, node, coef, path);
          for (; i < m; ++i)
            for (int64_t level = shared_levels; level < levels; ++level)
              route(tree, level, order[i], Xt, node, coef, path);
          if (s_.leaf > 0) {
            for (int64_t t = 0; t < m; ++t)
              leaf_ffn(tree * s_.leaves() + node[t] - s_.nodes(), Xt + t * s_.d, Yt + t * s_.d_out, hidden);
            continue;
          }
          out_rows_read += m * levels;
          for (int64_t t = 0; t < m; ++t) {
            for (int64_t l = 0; l < levels; ++l) out_rows[l] = w_out_.data() + path[t * levels + l] * s_.d_out;
            add_weighted_rows(Yt + t * s_.d_out, out_rows, coef + t * levels, levels, s_.d_out);
          }
        }
      }
    }
    last_row_bytes_ = 4.0 * (double(in_rows) * s_.d + double(out_rows_read) * s_.d_out);
  }

  // FastFF's matrix form: all node logits in one GEMM, the path mask, then (UltraFastBERT form)
  // the masked activations times every output row as a second GEMM; (FFF form) the leaves of
  // the chosen paths.
  void forward_matrix(const float* X, float* Y, int64_t tokens, StageTimer* stages) {
    const int64_t nodes = s_.nodes();
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tokens; ++t) std::fill(Y + t * s_.d_out, Y + (t + 1) * s_.d_out, 0.0f);
    for (int64_t tree = 0; tree < s_.trees; ++tree) {
      const float* w_in = w_in_.data() + tree * nodes * s_.d;
      {
        StageTimer::Scope scope(stages, 0);
        sgemm_rowmajor(tokens, nodes, s_.d, 1.0f, X, s_.d, w_in, s_.d, /*b_transposed=*/true, 0.0f, logits_.data(), nodes);
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
            if (m) m[node] = s_.gelu ? gelu_erf(v) : v;
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

  FffShape s_;
  std::string impl_;
  AlignedVector<float> w_in_, b_in_, w_out_, leaf_w1_, leaf_b1_, leaf_w2_, leaf_b2_, hidden_, logits_, mask_;
  std::vector<int64_t> node_;  // matrix: each token's leaf
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
            ParamSpec::integer("depth", 11, 0, 30, "tree depth D (UltraFastBERT: D+1 neurons per token and tree)"),
            ParamSpec::integer("trees", 1, 1, 4096, "number of trees K"),
            ParamSpec::integer("leaf_width", 0, 0, 1 << 20, "0: UltraFastBERT form; >0: FFF form with dense ReLU leaves of this width"),
            ParamSpec::choice("activation", "gelu", {"gelu", "none"}, "node activation (UltraFastBERT form)"),
            ParamSpec::integer("tile", 128, 1, 1 << 20, "level_batched: tokens walked together (their x and y stay in L2)"),
            ParamSpec::choice("impl", "level_batched", {"per_token", "level_batched", "matrix"},
                              "per_token walk, level-batched walk, or FastFF's matrix form")};
  }
  void validate(const Config& c) const override {
    const FffShape s = FffShape::of(c);
    check_fits_in_memory("depth", c.str("depth"), s.weight_bytes(),
                         fmt::format("{} tree(s) of depth {} ({} nodes each)", s.trees, s.depth, s.nodes()));
  }
  std::unique_ptr<Kernel> build(const Config& c, uint64_t seed, int64_t max_tokens) const override {
    return std::make_unique<FffKernel>(c, seed, max_tokens);
  }
};

FFNBENCH_REGISTER_VARIANT(FffVariant);

}  // namespace
}  // namespace ffnbench
