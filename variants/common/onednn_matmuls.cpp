#include "common/onednn_matmuls.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <stdexcept>

#include "common/quantize.hpp"

namespace ffnbench {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

OnednnPrecision parse_onednn_precision(const std::string& name) {
  if (name == "bf16") return OnednnPrecision::Bf16;
  if (name == "int8") return OnednnPrecision::Int8;
  return OnednnPrecision::Fp32;
}

std::string onednn_needs_isa(const std::string& precision) {
  if (precision == "bf16") return "AVX512-BF16 or AMX (oneDNN's bf16 matmul; valgrind 3.19 decodes no AVX-512)";
  if (precision == "int8") return "AVX-512 VNNI or AMX-INT8 (oneDNN's int8 matmul; valgrind 3.19 decodes no AVX-512)";
  return "";
}

dnnl::algorithm onednn_eltwise(Activation a) {
  switch (a) {
    case Activation::GeluErf: return dnnl::algorithm::eltwise_gelu_erf;
    case Activation::GeluTanh: return dnnl::algorithm::eltwise_gelu_tanh;
    case Activation::Relu: return dnnl::algorithm::eltwise_relu;
    case Activation::None: return dnnl::algorithm::eltwise_linear;  // 1·x + 0
  }
  return dnnl::algorithm::eltwise_linear;
}

double activation_max_slope(Activation a) {
  switch (a) {
    case Activation::GeluErf: return 1.1289;   // GELU'(x) peaks at x = √2: 1.12884...
    case Activation::GeluTanh: return 1.1289;  // its tanh form within 1e-3 of the same
    case Activation::Relu:
    case Activation::None: return 1.0;
  }
  return 1.0;
}

memory onednn_reordered(const dnnl::engine& engine, dnnl::stream& stream, const void* data, dt type,
                        const memory::dims& dims, const memory::desc& wanted) {
  memory user({dims, type, tag::ab}, engine, const_cast<void*>(data));
  memory out(wanted, engine);
  dnnl::reorder(user, out).execute(stream, user, out);
  stream.wait();
  return out;
}

// 30 rounds from a fixed start; an estimate short of the top singular value only trims a bound's
// 6σ margin.
double operator_norm(const float* a, int64_t rows, int64_t cols) {
  std::vector<double> v(cols), u(rows);
  for (int64_t j = 0; j < cols; ++j) v[j] = 1.0 + 0.5 * std::sin(static_cast<double>(j) * 0.7);
  double norm = 0;
  for (int round = 0; round < 30; ++round) {
    for (int64_t i = 0; i < rows; ++i) {
      double s = 0;
      for (int64_t j = 0; j < cols; ++j) s += a[i * cols + j] * v[j];
      u[i] = s;
    }
    std::fill(v.begin(), v.end(), 0.0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) v[j] += a[i * cols + j] * u[i];
    double vv = 0, uu = 0;
    for (double x : v) vv += x * x;
    for (double x : u) uu += x * x;
    if (uu == 0) return 0;
    norm = std::sqrt(vv) / std::sqrt(uu);  // ‖Aᵀu‖ / ‖u‖ for u = Av: ≤ σ_max, = σ_max in the limit
    const double scale = 1.0 / std::sqrt(vv);
    for (double& x : v) x *= scale;
  }
  return norm;
}

double max_column_norm(const float* a, int64_t rows, int64_t cols) {
  std::vector<double> column(cols, 0.0);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) column[j] += double(a[i * cols + j]) * a[i * cols + j];
  return cols > 0 ? std::sqrt(*std::max_element(column.begin(), column.end())) : 0.0;
}

double int8_two_layer_bound(double a_operator_norm, double b_max_column_norm, double slope, double x_step,
                            double hidden_step) {
  const double l = slope * a_operator_norm * x_step;
  return 6.0 * b_max_column_norm * std::sqrt((l * l + hidden_step * hidden_step) / 12.0);
}


namespace {

template <class T>
void allocate_zeroed(AlignedVector<T>& v, size_t n) {
  AlignedVector<T> fresh(std::max<size_t>(n, 64));
  zero_parallel(fresh.data(), fresh.size());
  v.swap(fresh);
}

}  // namespace

OnednnMatmulPair::OnednnMatmulPair(const MatmulPairShape& shape, OnednnPrecision precision, int64_t max_rows)
    : shape_(shape), precision_(precision), max_rows_(std::max<int64_t>(max_rows, 1)) {
  const bool int8 = precision_ == OnednnPrecision::Int8, bf16 = precision_ == OnednnPrecision::Bf16;
  const size_t n = static_cast<size_t>(max_rows_);
  if (int8) allocate_zeroed(x_low_, n * shape_.in);
  if (bf16) allocate_zeroed(x_low_, n * shape_.in * 2);
  const bool hidden_bf16 = bf16 && !shape_.fp32_hidden;
  allocate_zeroed(hidden_, n * shape_.hidden * (hidden_bf16 ? 2 : 4));
  if (int8) allocate_zeroed(hidden_low_, n * shape_.hidden);
  if (bf16 && shape_.fp32_hidden) allocate_zeroed(hidden_low_, n * shape_.hidden * 2);
  if (int8) {
    allocate_zeroed(a_scale_, shape_.hidden);
    allocate_zeroed(b_scale_, shape_.out);
  }
  prepare(max_rows_);  // the weights' layouts come from the largest row count
}

memory::desc OnednnMatmulPair::rows_desc(int64_t rows, int64_t cols, dt type) const {
  return memory::desc({rows, cols}, type, tag::ab);
}

void OnednnMatmulPair::prepare(int64_t rows) {
  if (by_rows_.count(rows) > 0) return;
  if (rows < 1 || rows > max_rows_)
    throw std::logic_error(fmt::format("OnednnMatmulPair::prepare: {} rows, outside 1..{}", rows, max_rows_));
  const bool int8 = precision_ == OnednnPrecision::Int8, bf16 = precision_ == OnednnPrecision::Bf16;
  const dt low = bf16 ? dt::bf16 : int8 ? dt::s8 : dt::f32;
  const dt hidden_type = bf16 && !shape_.fp32_hidden ? dt::bf16 : dt::f32;
  const int64_t in = shape_.in, hid = shape_.hidden, out = shape_.out;
  const memory::desc x_md = rows_desc(rows, in, low), h_md = rows_desc(rows, hid, hidden_type),
                     down_src = rows_desc(rows, hid, low), y_md = rows_desc(rows, out, dt::f32);
  const bool first = a_layout_.get_size() == 0;
  const memory::desc a_md = first ? memory::desc({in, hid}, low, tag::any) : a_layout_;
  const memory::desc b_md = first ? memory::desc({hid, out}, low, tag::any) : b_layout_;
  const memory::desc a_vec = rows_desc(1, hid, dt::f32), b_vec = rows_desc(1, out, dt::f32);

  dnnl::primitive_attr up_attr, down_attr;
  dnnl::post_ops up_ops, down_ops;
  if (int8) {  // acc · (w_step[j] · x_step) + bias, then the activation
    up_ops.append_binary(dnnl::algorithm::binary_mul, a_vec);
    down_ops.append_binary(dnnl::algorithm::binary_mul, b_vec);
    if (shape_.biases) {
      up_ops.append_binary(dnnl::algorithm::binary_add, a_vec);
      down_ops.append_binary(dnnl::algorithm::binary_add, b_vec);
    }
  }
  if (shape_.act != Activation::None) up_ops.append_eltwise(1.0f, onednn_eltwise(shape_.act), 0.0f, 0.0f);
  up_attr.set_post_ops(up_ops);
  down_attr.set_post_ops(down_ops);
  up_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  down_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const bool bias_arg = shape_.biases && !int8;  // int8 adds its biases as post-ops
  Primitives p;
  p.up_pd = bias_arg ? dnnl::matmul::primitive_desc(dnnl::matmul::desc(x_md, a_md, a_vec, h_md), up_attr, engine_)
                     : dnnl::matmul::primitive_desc(dnnl::matmul::desc(x_md, a_md, h_md), up_attr, engine_);
  p.down_pd = bias_arg ? dnnl::matmul::primitive_desc(dnnl::matmul::desc(down_src, b_md, b_vec, y_md), down_attr, engine_)
                       : dnnl::matmul::primitive_desc(dnnl::matmul::desc(down_src, b_md, y_md), down_attr, engine_);
  if (first) {
    a_layout_ = p.up_pd.weights_desc();
    b_layout_ = p.down_pd.weights_desc();
  } else if (p.up_pd.weights_desc() != a_layout_ || p.down_pd.weights_desc() != b_layout_) {
    throw std::runtime_error(fmt::format("oneDNN chose another weight layout for {} rows than for {}", rows, max_rows_));
  }
  p.up = dnnl::matmul(p.up_pd);
  p.down = dnnl::matmul(p.down_pd);
  if (bf16) {
    p.x_to_bf16 = dnnl::reorder(dnnl::reorder::primitive_desc(engine_, rows_desc(rows, in, dt::f32), engine_, x_md));
    if (shape_.fp32_hidden)
      p.hidden_to_bf16 = dnnl::reorder(dnnl::reorder::primitive_desc(engine_, h_md, engine_, down_src));
  }
  const size_t pad = std::max(p.up_pd.scratchpad_desc().get_size(), p.down_pd.scratchpad_desc().get_size());
  if (pad > scratchpad_.size()) allocate_zeroed(scratchpad_, pad);  // calls bind it afresh: no stale handle
  by_rows_.emplace(rows, std::move(p));
}

int OnednnMatmulPair::add_weights(const float* a, const float* a_bias, const float* b, const float* b_bias,
                                  float* effective_a, float* effective_b) {
  const int64_t in = shape_.in, hid = shape_.hidden, out = shape_.out;
  WeightSet s;
  if (precision_ == OnednnPrecision::Int8) {
    AlignedVector<int8_t> qa(in * hid), qb(hid * out);
    s.a_steps.resize(hid);
    s.b_steps.resize(out);
    quantize_columns_s8(a, in, hid, qa.data(), s.a_steps.data());
    quantize_columns_s8(b, hid, out, qb.data(), s.b_steps.data());
    if (effective_a != nullptr)
      for (int64_t i = 0; i < in * hid; ++i) effective_a[i] = qa[i] * s.a_steps[i % hid];
    if (effective_b != nullptr)
      for (int64_t i = 0; i < hid * out; ++i) effective_b[i] = qb[i] * s.b_steps[i % out];
    s.a = onednn_reordered(engine_, stream_, qa.data(), dt::s8, {in, hid}, a_layout_);
    s.b = onednn_reordered(engine_, stream_, qb.data(), dt::s8, {hid, out}, b_layout_);
  } else {
    const bool bf16 = precision_ == OnednnPrecision::Bf16;
    auto keep = [bf16](const float* w, float* e, int64_t n) {
      if (e != nullptr)
        for (int64_t i = 0; i < n; ++i) e[i] = bf16 ? round_to_bf16(w[i]) : w[i];
    };
    keep(a, effective_a, in * hid);
    keep(b, effective_b, hid * out);
    s.a = onednn_reordered(engine_, stream_, a, dt::f32, {in, hid}, a_layout_);  // converts to bf16 for bf16
    s.b = onednn_reordered(engine_, stream_, b, dt::f32, {hid, out}, b_layout_);
  }
  if (shape_.biases) {
    s.a_bias = memory(rows_desc(1, hid, dt::f32), engine_, const_cast<float*>(a_bias));
    s.b_bias = memory(rows_desc(1, out, dt::f32), engine_, const_cast<float*>(b_bias));
  }
  sets_.push_back(std::move(s));
  return static_cast<int>(sets_.size()) - 1;
}

float* OnednnMatmulPair::first(int set, const float* X, int64_t rows) {
  Primitives& p = by_rows_.at(rows);
  const WeightSet& w = sets_.at(set);
  const int64_t in = shape_.in, hid = shape_.hidden;
  memory x(rows_desc(rows, in, dt::f32), engine_, const_cast<float*>(X));
  memory src = x;
  if (precision_ == OnednnPrecision::Bf16) {
    src = memory(p.up_pd.src_desc(), engine_, x_low_.data());
    p.x_to_bf16.execute(stream_, {{DNNL_ARG_FROM, x}, {DNNL_ARG_TO, src}});
  }
  std::unordered_map<int, memory> args = {{DNNL_ARG_WEIGHTS, w.a},
                                          {DNNL_ARG_DST, memory(p.up_pd.dst_desc(), engine_, hidden_.data())}};
  if (precision_ == OnednnPrecision::Int8) {
    x_step_ = quantize_s8(X, rows * in, reinterpret_cast<int8_t*>(x_low_.data()));
    for (int64_t j = 0; j < hid; ++j) a_scale_[j] = w.a_steps[j] * x_step_;
    src = memory(p.up_pd.src_desc(), engine_, x_low_.data());
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = memory(rows_desc(1, hid, dt::f32), engine_, a_scale_.data());
    if (shape_.biases) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1] = w.a_bias;
  } else if (shape_.biases) {
    args[DNNL_ARG_BIAS] = w.a_bias;
  }
  args[DNNL_ARG_SRC] = src;
  if (p.up_pd.scratchpad_desc().get_size() > 0)
    args[DNNL_ARG_SCRATCHPAD] = memory(p.up_pd.scratchpad_desc(), engine_, scratchpad_.data());
  p.up.execute(stream_, args);
  stream_.wait();
  const bool hidden_fp32 = precision_ != OnednnPrecision::Bf16 || shape_.fp32_hidden;
  return hidden_fp32 ? reinterpret_cast<float*>(hidden_.data()) : nullptr;
}

void OnednnMatmulPair::second(int set, float* Y, int64_t rows) {
  Primitives& p = by_rows_.at(rows);
  const WeightSet& w = sets_.at(set);
  const int64_t hid = shape_.hidden, out = shape_.out;
  memory src(p.down_pd.src_desc(), engine_, hidden_.data());
  std::unordered_map<int, memory> args = {{DNNL_ARG_WEIGHTS, w.b}, {DNNL_ARG_DST, memory(p.down_pd.dst_desc(), engine_, Y)}};
  if (precision_ == OnednnPrecision::Bf16 && shape_.fp32_hidden) {
    memory h(p.up_pd.dst_desc(), engine_, hidden_.data());
    src = memory(p.down_pd.src_desc(), engine_, hidden_low_.data());
    p.hidden_to_bf16.execute(stream_, {{DNNL_ARG_FROM, h}, {DNNL_ARG_TO, src}});
  }
  if (precision_ == OnednnPrecision::Int8) {
    h_step_ = quantize_s8(reinterpret_cast<const float*>(hidden_.data()), rows * hid,
                          reinterpret_cast<int8_t*>(hidden_low_.data()));
    for (int64_t o = 0; o < out; ++o) b_scale_[o] = w.b_steps[o] * h_step_;
    src = memory(p.down_pd.src_desc(), engine_, hidden_low_.data());
    args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = memory(rows_desc(1, out, dt::f32), engine_, b_scale_.data());
    if (shape_.biases) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1] = w.b_bias;
  } else if (shape_.biases) {
    args[DNNL_ARG_BIAS] = w.b_bias;
  }
  args[DNNL_ARG_SRC] = src;
  if (p.down_pd.scratchpad_desc().get_size() > 0)
    args[DNNL_ARG_SCRATCHPAD] = memory(p.down_pd.scratchpad_desc(), engine_, scratchpad_.data());
  p.down.execute(stream_, args);
  stream_.wait();
}

double OnednnMatmulPair::memory_bytes(const MatmulPairShape& shape, OnednnPrecision precision, int64_t max_rows,
                                      int64_t weight_sets) {
  const bool int8 = precision == OnednnPrecision::Int8, bf16 = precision == OnednnPrecision::Bf16;
  const double weights = double(shape.in) * double(shape.hidden) + double(shape.hidden) * double(shape.out);
  const double per_weight = int8 ? 1 : bf16 ? 2 : 4, channels = double(shape.hidden + shape.out);
  const double rows = double(std::max<int64_t>(max_rows, 1));
  double bytes = double(weight_sets) * (per_weight * weights + (int8 ? 4 * channels : 0));
  if (int8) bytes += weights;  // one set's s8 copy while it is reordered
  bytes += rows * double(shape.in) * (int8 ? 1 : bf16 ? 2 : 0);                    // X's copy
  bytes += rows * double(shape.hidden) * (bf16 && !shape.fp32_hidden ? 2 : 4);     // hidden layer
  bytes += rows * double(shape.hidden) * (int8 ? 1 : bf16 && shape.fp32_hidden ? 2 : 0);  // its copy
  return bytes;
}

std::string OnednnMatmulPair::impl_info() const {
  const Primitives& p = by_rows_.rbegin()->second;
  return std::string(p.up_pd.impl_info_str()) + "|" + p.down_pd.impl_info_str();
}

double OnednnMatmulPair::weight_set_bytes() const {
  double bytes = static_cast<double>(a_layout_.get_size() + b_layout_.get_size());
  if (shape_.biases) bytes += 4.0 * (shape_.hidden + shape_.out);
  if (precision_ == OnednnPrecision::Int8) bytes += 4.0 * (shape_.hidden + shape_.out);  // steps per channel
  return bytes;
}

std::vector<MemoryRegion> OnednnMatmulPair::regions() const {
  std::vector<MemoryRegion> r;
  auto add_memory = [&r](const memory& m) {
    if (m && m.get_desc().get_size() > 0) r.push_back({m.get_data_handle(), m.get_desc().get_size()});
  };
  auto add = [&r](const auto& v) {
    if (!v.empty()) r.push_back({v.data(), v.size() * sizeof(v[0])});
  };
  for (const WeightSet& s : sets_) {
    add_memory(s.a);
    add_memory(s.b);
    if (shape_.biases) {
      add_memory(s.a_bias);
      add_memory(s.b_bias);
    }
    add(s.a_steps);
    add(s.b_steps);
  }
  add(x_low_);
  add(hidden_);
  add(hidden_low_);
  add(a_scale_);
  add(b_scale_);
  add(scratchpad_);
  return r;
}

}  // namespace ffnbench
