// fff: Fast Feed-Forward networks (DESIGN.md §4; BACKGROUND.md).
// UltraFastBERT form (leaf_width = 0): K trees of depth D, 2^(D+1)-1 nodes in heap order, each
// with an input row, a bias and an output row; per token and tree, D+1 levels of
//   z = x·W_in[node] + b_in[node];  y += act(z)·W_out[node];  node = 2·node + 1 + (z > 0).
// Original FFF form (leaf_width = ℓ > 0): the 2^D - 1 inner nodes only route (z ≥ 0 goes right)
// and the chosen leaf is a dense FFN d → ℓ → d_out with biases and ReLU (the output bias kept,
// which the original code's eval path forgets).
// Cost per token and tree: UltraFastBERT 4·d·(D+1) FLOPs (d_out = d); FFF 2·d·D + 2·ℓ·(d + d_out).
// impls: per_token (each token walks its path; vector dot/axpy), level_batched (tokens bucketed
// by node at each level, so a node's rows are read once per level for all its tokens), matrix
// (FastFF: the logits of every node as one GEMM, then the path mask, and the output as a GEMM
// of the masked activations with all output rows).
#include <fmt/format.h>
#include <omp.h>

#include <chrono>
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

constexpr int kMaxLevelStages = 24;

struct FffShape {
  int64_t d, d_out, depth, trees, leaf;
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
    s.gelu = c.str("activation") == "gelu";
    return s;
  }
};

inline float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline void axpy(float* y, const float* row, float s, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += s * row[i];
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
  double max_mismatched_row_fraction() const override { return 1.0 / 16.0; }

  std::vector<std::string> stage_names() const override {
    if (impl_ == "matrix") return {"logits", "mask", "output"};
    if (impl_ == "per_token") return {"walk"};
    std::vector<std::string> names;
    for (int64_t l = 0; l < std::min<int64_t>(s_.levels(), kMaxLevelStages); ++l) names.push_back(fmt::format("level_{}", l));
    if (s_.leaf > 0) names.push_back("leaf");
    return names;
  }

  std::vector<MemoryRegion> memory_regions() const override {
    return {{w_in_.data(), w_in_.size() * 4}, {w_out_.data(), w_out_.size() * 4}, {leaf_w1_.data(), leaf_w1_.size() * 4},
            {leaf_w2_.data(), leaf_w2_.size() * 4}};
  }

  std::map<std::string, std::string> extras() const override {
    std::map<std::string, std::string> e;
    const double bytes = cost(last_tokens_).weight_bytes;
    if (last_seconds_ > 0) e["rows_gbs"] = fmt::format("{:.2f}", bytes / last_seconds_ / 1e9);
    if (impl_ == "matrix" && s_.leaf == 0)
      e["matrix_flops"] = fmt::format("{:.4g}", 2.0 * last_tokens_ * s_.trees * s_.nodes() * (s_.d + s_.d_out));
    return e;
  }

 private:
  void reserve(int64_t tokens) {
    if (static_cast<int64_t>(node_.size()) >= tokens) return;
    node_.resize(tokens);
    order_.resize(tokens);
    z_.resize(tokens);
    hidden_.resize(static_cast<size_t>(omp_get_max_threads()) * std::max<int64_t>(s_.leaf, 1));
    if (impl_ == "matrix") {
      const double bytes = 4.0 * tokens * s_.nodes() * 2;
      check_fits_in_memory("depth", std::to_string(s_.depth), bytes,
                           fmt::format("the matrix impl's N×nodes logits and mask ({}×{})", tokens, s_.nodes()));
      logits_.resize(tokens * s_.nodes());
      if (s_.leaf == 0) mask_.resize(tokens * s_.nodes());
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

  // Tokens sorted by their current node (counting sort over the level's 2^l nodes); each thread
  // takes whole nodes, so a node's rows serve all its tokens while in cache.
  void bucket_by_node(int64_t tokens, int64_t first, int64_t count, std::vector<int64_t>& starts) {
    starts.assign(count + 1, 0);
    for (int64_t t = 0; t < tokens; ++t) ++starts[node_[t] - first + 1];
    std::partial_sum(starts.begin(), starts.end(), starts.begin());
    std::vector<int64_t> next(starts.begin(), starts.end() - 1);
    for (int64_t t = 0; t < tokens; ++t) order_[next[node_[t] - first]++] = t;
  }

  void forward_level_batched(const float* X, float* Y, int64_t tokens, StageTimer* stages) {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tokens; ++t) std::fill(Y + t * s_.d_out, Y + (t + 1) * s_.d_out, 0.0f);
    std::vector<int64_t> starts;
    for (int64_t tree = 0; tree < s_.trees; ++tree) {
      std::fill(node_.begin(), node_.begin() + tokens, 0);
      for (int64_t level = 0; level < s_.levels(); ++level) {
        StageTimer::Scope scope(stages, std::min<int64_t>(level, kMaxLevelStages - 1));
        const int64_t first = (int64_t{1} << level) - 1, count = int64_t{1} << level;
        bucket_by_node(tokens, first, count, starts);
#pragma omp parallel for schedule(dynamic, 4)
        for (int64_t b = 0; b < count; ++b)
          for (int64_t i = starts[b]; i < starts[b + 1]; ++i) {
            const int64_t t = order_[i];
            node_[t] = step(tree, node_[t], X + t * s_.d, Y + t * s_.d_out);
          }
      }
      if (s_.leaf > 0) {
        StageTimer::Scope scope(stages, std::min<int64_t>(s_.levels(), kMaxLevelStages));
        bucket_by_node(tokens, s_.nodes(), s_.leaves(), starts);
#pragma omp parallel for schedule(dynamic, 4)
        for (int64_t b = 0; b < s_.leaves(); ++b)
          for (int64_t i = starts[b]; i < starts[b + 1]; ++i) {
            const int64_t t = order_[i];
            leaf_ffn(tree * s_.leaves() + b, X + t * s_.d, Y + t * s_.d_out, hidden_.data() + omp_get_thread_num() * s_.leaf);
          }
      }
    }
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
  AlignedVector<float> w_in_, b_in_, w_out_, leaf_w1_, leaf_b1_, leaf_w2_, leaf_b2_, z_, hidden_, logits_, mask_;
  std::vector<int64_t> node_, order_;
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
