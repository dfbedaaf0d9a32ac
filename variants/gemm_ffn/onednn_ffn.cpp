#include "gemm_ffn/onednn_ffn.hpp"

#include <algorithm>
#include <cmath>

#include "common/quantize.hpp"

namespace ffnbench {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

double OnednnFfn::memory_bytes(int64_t d, int64_t d_ff, OnednnPrecision precision, int64_t tokens) {
  const double weights = 2.0 * double(d) * double(d_ff), hidden = double(tokens) * double(d_ff), x = double(tokens) * double(d);
  switch (precision) {
    case OnednnPrecision::Fp32: return 4 * weights + 4 * hidden;
    case OnednnPrecision::Bf16: return 2 * weights + 2 * hidden + 2 * x;
    case OnednnPrecision::Int8:  // s8 user copy + reordered, fp32 dequantized, fp32 + s8 hidden, s8 X
      return 2 * weights + 4 * (weights + double(d) + double(d_ff)) + 5 * hidden + x;
  }
  return 0;
}

OnednnFfn::OnednnFfn(const DenseFfnWeights& weights, Activation act, OnednnPrecision precision, int64_t tokens,
                     bool bare)
    : w_(weights), act_(bare ? Activation::None : act), precision_(precision), bare_(bare) {
  if (precision_ == OnednnPrecision::Int8) quantize_weights();
  make_primitives(tokens);
}

void OnednnFfn::quantize_weights() {
  const int64_t d = w_.d, f = w_.d_ff;
  w1_q_.resize(d * f);
  w2_q_.resize(f * d);
  w1_steps_.resize(f);
  w2_steps_.resize(d);
  quantize_columns_s8(w_.w1.data(), d, f, w1_q_.data(), w1_steps_.data());
  quantize_columns_s8(w_.w2.data(), f, d, w2_q_.data(), w2_steps_.data());
  dequantized_ = w_;  // biases and LayerNorm as they are
  for (int64_t i = 0; i < d * f; ++i) dequantized_.w1[i] = w1_q_[i] * w1_steps_[i % f];
  for (int64_t i = 0; i < f * d; ++i) dequantized_.w2[i] = w2_q_[i] * w2_steps_[i % d];
  w1_operator_norm_ = operator_norm(dequantized_.w1.data(), d, f);
  w2_max_column_norm_ = max_column_norm(dequantized_.w2.data(), f, d);
}

double OnednnFfn::output_error_bound() const {
  if (precision_ != OnednnPrecision::Int8 || x_step_ == 0) return 0.0;
  return int8_two_layer_bound(w1_operator_norm_, w2_max_column_norm_, activation_max_slope(act_), x_step_, h_step_);
}

void OnednnFfn::make_primitives(int64_t n) {
  const int64_t d = w_.d, f = w_.d_ff;
  const bool int8 = precision_ == OnednnPrecision::Int8;
  const dt low = precision_ == OnednnPrecision::Bf16 ? dt::bf16 : int8 ? dt::s8 : dt::f32;
  const dt hidden_type = int8 ? dt::f32 : low;  // int8: fp32 out of matmul 1, quantized by us
  // Weights "any": oneDNN picks its blocked layout; activations plain row-major.
  memory::desc x_md({n, d}, low, tag::ab), h_md({n, f}, hidden_type, tag::ab), hq_md({n, f}, low, tag::ab),
      y_md({n, d}, dt::f32, tag::ab);
  memory::desc w1_md({d, f}, low, tag::any), w2_md({f, d}, low, tag::any);
  memory::desc b1_md({1, f}, dt::f32, tag::ab), b2_md({1, d}, dt::f32, tag::ab), step_md({1, 1}, dt::f32, tag::ab);

  dnnl::primitive_attr up_attr, down_attr;
  dnnl::post_ops up_ops, down_ops;
  if (int8) {  // y = act(step_w[j]·acc · step_x + b): output scales, then × step, + bias
    up_attr.set_output_scales(1 << 1, w1_steps_);
    down_attr.set_output_scales(1 << 1, w2_steps_);
    up_ops.append_binary(dnnl::algorithm::binary_mul, step_md);
    down_ops.append_binary(dnnl::algorithm::binary_mul, step_md);
    if (!bare_) {
      up_ops.append_binary(dnnl::algorithm::binary_add, b1_md);
      down_ops.append_binary(dnnl::algorithm::binary_add, b2_md);
    }
  }
  if (!bare_) up_ops.append_eltwise(1.0f, onednn_eltwise(act_), act_ == Activation::None ? 1.0f : 0.0f, 0.0f);
  up_attr.set_post_ops(up_ops);
  if (int8) down_attr.set_post_ops(down_ops);
  up_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  down_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const memory::desc& down_src = int8 ? hq_md : h_md;
  const bool bias_arg = !int8 && !bare_;  // int8 adds its bias as a post-op
  up_pd_ = bias_arg ? dnnl::matmul::primitive_desc(dnnl::matmul::desc(x_md, w1_md, b1_md, h_md), up_attr, engine_)
                    : dnnl::matmul::primitive_desc(dnnl::matmul::desc(x_md, w1_md, h_md), up_attr, engine_);
  down_pd_ = bias_arg ? dnnl::matmul::primitive_desc(dnnl::matmul::desc(down_src, w2_md, b2_md, y_md), down_attr, engine_)
                      : dnnl::matmul::primitive_desc(dnnl::matmul::desc(down_src, w2_md, y_md), down_attr, engine_);
  up_ = dnnl::matmul(up_pd_);
  down_ = dnnl::matmul(down_pd_);

  if (tokens_ < 0 || w1_.get_desc() != up_pd_.weights_desc()) {
    if (int8) {
      w1_ = onednn_reordered(engine_, stream_, w1_q_.data(), dt::s8, {d, f}, up_pd_.weights_desc());
      w2_ = onednn_reordered(engine_, stream_, w2_q_.data(), dt::s8, {f, d}, down_pd_.weights_desc());
    } else {
      w1_ = onednn_reordered(engine_, stream_, w_.w1.data(), dt::f32, {d, f}, up_pd_.weights_desc());
      w2_ = onednn_reordered(engine_, stream_, w_.w2.data(), dt::f32, {f, d}, down_pd_.weights_desc());
    }
    if (!bare_) {
      b1_ = memory(b1_md, engine_, const_cast<float*>(w_.b1.data()));
      b2_ = memory(b2_md, engine_, const_cast<float*>(w_.b2.data()));
    }
  }
  hidden_ = memory(h_md, engine_);
  // Zeroed by a static OpenMP loop: first touch spread over the threads (oneDNN's matmul splits
  // its work over the same pool).
  const size_t pad = std::max(up_pd_.scratchpad_desc().get_size(), down_pd_.scratchpad_desc().get_size());
  grow_scratch(scratchpad_, std::max<size_t>(pad, 64));
  up_args_ = {{DNNL_ARG_WEIGHTS, w1_}, {DNNL_ARG_DST, hidden_}};
  down_args_ = {{DNNL_ARG_WEIGHTS, w2_}};
  if (int8) {
    hidden_q_ = memory(hq_md, engine_);
    x_step_mem_ = memory(step_md, engine_, &x_step_);
    h_step_mem_ = memory(step_md, engine_, &h_step_);
    up_args_[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = x_step_mem_;
    if (!bare_) up_args_[DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1] = b1_;
    down_args_[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = h_step_mem_;
    if (!bare_) down_args_[DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1] = b2_;
    down_args_[DNNL_ARG_SRC] = hidden_q_;
  } else {
    if (!bare_) {
      up_args_[DNNL_ARG_BIAS] = b1_;
      down_args_[DNNL_ARG_BIAS] = b2_;
    }
    down_args_[DNNL_ARG_SRC] = hidden_;
  }
  if (up_pd_.scratchpad_desc().get_size() > 0)
    up_args_[DNNL_ARG_SCRATCHPAD] = memory(up_pd_.scratchpad_desc(), engine_, scratchpad_.data());
  if (down_pd_.scratchpad_desc().get_size() > 0)
    down_args_[DNNL_ARG_SCRATCHPAD] = memory(down_pd_.scratchpad_desc(), engine_, scratchpad_.data());
  if (precision_ == OnednnPrecision::Bf16) {
    x_lp_ = memory(x_md, engine_);
    to_bf16_ = dnnl::reorder(memory({{n, d}, dt::f32, tag::ab}, engine_, DNNL_MEMORY_NONE), x_lp_);
  }
  if (int8) x_lp_ = memory(x_md, engine_);
  tokens_ = n;
}

void OnednnFfn::forward(const float* X, float* Y, int64_t tokens) {
  if (tokens != tokens_) make_primitives(tokens);
  const int64_t d = w_.d;
  memory x_user({{tokens, d}, dt::f32, tag::ab}, engine_, const_cast<float*>(X));
  memory y({{tokens, d}, dt::f32, tag::ab}, engine_, Y);
  memory x = x_user;
  if (precision_ == OnednnPrecision::Bf16) {
    to_bf16_.execute(stream_, x_user, x_lp_);
    x = x_lp_;
  }
  if (precision_ == OnednnPrecision::Int8) {
    x_step_ = quantize_s8(X, tokens * d, static_cast<int8_t*>(x_lp_.get_data_handle()));
    x = x_lp_;
  }
  up_args_[DNNL_ARG_SRC] = x;
  down_args_[DNNL_ARG_DST] = y;
  up_.execute(stream_, up_args_);
  if (precision_ == OnednnPrecision::Int8) {
    stream_.wait();
    h_step_ = quantize_s8(static_cast<const float*>(hidden_.get_data_handle()), tokens * w_.d_ff,
                          static_cast<int8_t*>(hidden_q_.get_data_handle()));
  }
  down_.execute(stream_, down_args_);
  stream_.wait();
}

std::string OnednnFfn::impl_info() const {
  return std::string(up_pd_.impl_info_str()) + "|" + down_pd_.impl_info_str();
}

int64_t OnednnFfn::scratch_bytes() const {
  int64_t bytes = static_cast<int64_t>(hidden_.get_desc().get_size());
  if (x_lp_) bytes += static_cast<int64_t>(x_lp_.get_desc().get_size());
  if (hidden_q_) bytes += static_cast<int64_t>(hidden_q_.get_desc().get_size());
  return bytes;
}

std::vector<MemoryRegion> OnednnFfn::regions() const {
  std::vector<MemoryRegion> r;
  auto add = [&r](const memory& m) {
    if (m && m.get_desc().get_size() > 0) r.push_back({m.get_data_handle(), m.get_desc().get_size()});
  };
  add(w1_);
  add(w2_);
  if (b1_) add(b1_);
  if (b2_) add(b2_);
  add(hidden_);
  if (x_lp_) add(x_lp_);
  if (hidden_q_) add(hidden_q_);
  r.push_back({scratchpad_.data(), scratchpad_.size()});
  return r;
}

}  // namespace ffnbench
