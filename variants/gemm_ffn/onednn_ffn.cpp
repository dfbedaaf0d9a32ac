#include "gemm_ffn/onednn_ffn.hpp"

#include <algorithm>

namespace ffnbench {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

dnnl::algorithm eltwise_of(Activation a) {
  switch (a) {
    case Activation::GeluErf: return dnnl::algorithm::eltwise_gelu_erf;
    case Activation::GeluTanh: return dnnl::algorithm::eltwise_gelu_tanh;
    case Activation::Relu: return dnnl::algorithm::eltwise_relu;
    case Activation::None: return dnnl::algorithm::eltwise_linear;  // 1·x + 0
  }
  return dnnl::algorithm::eltwise_linear;
}

// A user fp32 matrix reordered into the primitive's chosen layout and data type.
memory reordered(const dnnl::engine& engine, dnnl::stream& stream, const float* data,
                 const memory::dims& dims, const memory::desc& wanted) {
  memory user({dims, dt::f32, tag::ab}, engine, const_cast<float*>(data));
  memory out(wanted, engine);
  dnnl::reorder(user, out).execute(stream, user, out);
  stream.wait();
  return out;
}

}  // namespace

OnednnFfn::OnednnFfn(const DenseFfnWeights& weights, Activation act, bool bf16, int64_t tokens)
    : w_(weights), act_(act), bf16_(bf16) {
  make_primitives(tokens);
}

void OnednnFfn::make_primitives(int64_t n) {
  const int64_t d = w_.d, f = w_.d_ff;
  const dt low = bf16_ ? dt::bf16 : dt::f32;
  // Weights "any": oneDNN picks its blocked layout; activations plain row-major.
  memory::desc x_md({n, d}, low, tag::ab), h_md({n, f}, low, tag::ab), y_md({n, d}, dt::f32, tag::ab);
  memory::desc w1_md({d, f}, low, tag::any), w2_md({f, d}, low, tag::any);
  memory::desc b1_md({1, f}, dt::f32, tag::ab), b2_md({1, d}, dt::f32, tag::ab);

  dnnl::post_ops ops;
  ops.append_eltwise(1.0f, eltwise_of(act_), act_ == Activation::None ? 1.0f : 0.0f, 0.0f);
  dnnl::primitive_attr up_attr, down_attr;
  up_attr.set_post_ops(ops);
  up_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  down_attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  up_pd_ = dnnl::matmul::primitive_desc(dnnl::matmul::desc(x_md, w1_md, b1_md, h_md), up_attr, engine_);
  down_pd_ = dnnl::matmul::primitive_desc(dnnl::matmul::desc(h_md, w2_md, b2_md, y_md), down_attr, engine_);
  up_ = dnnl::matmul(up_pd_);
  down_ = dnnl::matmul(down_pd_);

  if (tokens_ < 0 || w1_.get_desc() != up_pd_.weights_desc()) {
    w1_ = reordered(engine_, stream_, w_.w1.data(), {d, f}, up_pd_.weights_desc());
    w2_ = reordered(engine_, stream_, w_.w2.data(), {f, d}, down_pd_.weights_desc());
    b1_ = memory(b1_md, engine_, const_cast<float*>(w_.b1.data()));
    b2_ = memory(b2_md, engine_, const_cast<float*>(w_.b2.data()));
  }
  hidden_ = memory(h_md, engine_);
  // Zeroed by a static OpenMP loop: first touch spread over the threads (oneDNN's matmul splits
  // its work over the same pool).
  const size_t pad = std::max(up_pd_.scratchpad_desc().get_size(), down_pd_.scratchpad_desc().get_size());
  grow_scratch(scratchpad_, std::max<size_t>(pad, 64));
  up_args_ = {{DNNL_ARG_WEIGHTS, w1_}, {DNNL_ARG_BIAS, b1_}, {DNNL_ARG_DST, hidden_}};
  down_args_ = {{DNNL_ARG_SRC, hidden_}, {DNNL_ARG_WEIGHTS, w2_}, {DNNL_ARG_BIAS, b2_}};
  if (up_pd_.scratchpad_desc().get_size() > 0)
    up_args_[DNNL_ARG_SCRATCHPAD] = memory(up_pd_.scratchpad_desc(), engine_, scratchpad_.data());
  if (down_pd_.scratchpad_desc().get_size() > 0)
    down_args_[DNNL_ARG_SCRATCHPAD] = memory(down_pd_.scratchpad_desc(), engine_, scratchpad_.data());
  if (bf16_) {
    x_lp_ = memory(x_md, engine_);
    to_bf16_ = dnnl::reorder(memory({{n, d}, dt::f32, tag::ab}, engine_, DNNL_MEMORY_NONE), x_lp_);
  }
  tokens_ = n;
}

void OnednnFfn::forward(const float* X, float* Y, int64_t tokens) {
  if (tokens != tokens_) make_primitives(tokens);
  const int64_t d = w_.d;
  memory x_user({{tokens, d}, dt::f32, tag::ab}, engine_, const_cast<float*>(X));
  memory y({{tokens, d}, dt::f32, tag::ab}, engine_, Y);
  memory x = x_user;
  if (bf16_) {
    to_bf16_.execute(stream_, x_user, x_lp_);
    x = x_lp_;
  }
  up_args_[DNNL_ARG_SRC] = x;
  down_args_[DNNL_ARG_DST] = y;
  up_.execute(stream_, up_args_);
  down_.execute(stream_, down_args_);
  stream_.wait();
}

std::string OnednnFfn::impl_info() const {
  return std::string(up_pd_.impl_info_str()) + "|" + down_pd_.impl_info_str();
}

int64_t OnednnFfn::scratch_bytes() const {
  return static_cast<int64_t>(hidden_.get_desc().get_size()) + (bf16_ ? static_cast<int64_t>(x_lp_.get_desc().get_size()) : 0);
}

std::vector<MemoryRegion> OnednnFfn::regions() const {
  std::vector<MemoryRegion> r;
  auto add = [&r](const memory& m) {
    if (m && m.get_desc().get_size() > 0) r.push_back({m.get_data_handle(), m.get_desc().get_size()});
  };
  add(w1_);
  add(w2_);
  add(b1_);
  add(b2_);
  add(hidden_);
  if (bf16_) add(x_lp_);
  r.push_back({scratchpad_.data(), scratchpad_.size()});
  return r;
}

}  // namespace ffnbench
