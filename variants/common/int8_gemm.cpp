#include "common/int8_gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/quantize.hpp"
#include "common/simd.hpp"

namespace ffnbench {
namespace {

template <int ROWS, int VECS>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) inline void micro_tile(
    const uint8_t* in, int64_t in_stride, const float* row_steps, const int8_t* w, int64_t K, int64_t w_stride,
    const float* col_steps, const int32_t* col_sums, const float* bias, float* out, int64_t out_stride) {
  __m512i acc[ROWS][VECS];
  for (int r = 0; r < ROWS; ++r)
    for (int v = 0; v < VECS; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t m = 0; m < K / 4; ++m) {
    __m512i wk[VECS];
    for (int v = 0; v < VECS; ++v) wk[v] = _mm512_loadu_si512(w + 4 * (m * w_stride + 16 * v));
    for (int r = 0; r < ROWS; ++r) {
      int32_t quad;
      std::memcpy(&quad, in + r * in_stride + 4 * m, sizeof(quad));
      const __m512i x = _mm512_set1_epi32(quad);
      for (int v = 0; v < VECS; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], x, wk[v]);
    }
  }
  for (int v = 0; v < VECS; ++v) {
    const __m512i offset = _mm512_slli_epi32(_mm512_loadu_si512(col_sums + 16 * v), 7);  // 128·Σ w
    const __m512 steps = _mm512_loadu_ps(col_steps + 16 * v), b = _mm512_loadu_ps(bias + 16 * v);
    for (int r = 0; r < ROWS; ++r) {
      const __m512 sums = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][v], offset));
      const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(row_steps[r]), steps);
      _mm512_storeu_ps(out + r * out_stride + 16 * v, _mm512_fmadd_ps(sums, scale, b));
    }
  }
}

template <int VECS>
__attribute__((target("avx512f,avx512bw,avx512vnni"))) void column_chunk(
    const uint8_t* in, int64_t in_stride, const float* row_steps, int64_t rows, const int8_t* w, int64_t K,
    int64_t w_stride, const float* col_steps, const int32_t* col_sums, const float* bias, float* out,
    int64_t out_stride) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4)
    micro_tile<4, VECS>(in + r * in_stride, in_stride, row_steps + r, w, K, w_stride, col_steps, col_sums, bias,
                        out + r * out_stride, out_stride);
  for (; r < rows; ++r)
    micro_tile<1, VECS>(in + r * in_stride, in_stride, row_steps + r, w, K, w_stride, col_steps, col_sums, bias,
                        out + r * out_stride, out_stride);
}

}  // namespace

bool cpu_has_avx512_vnni() {
  static const bool vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vnni");
  return vnni;
}

PackedS8 pack_s8_quads(const float* w, int64_t rows, int64_t K, int64_t N) {
  PackedS8 p;
  p.K = K;
  p.N = N;
  std::vector<float> padded(K * N, 0.0f);
  std::copy(w, w + rows * N, padded.begin());
  std::vector<int8_t> q(K * N);
  p.steps.resize(N);
  quantize_columns_s8(padded.data(), K, N, q.data(), p.steps.data());
  p.quads.resize(K * N);
  p.sums.assign(N, 0);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) {
      p.quads[((k / 4) * N + j) * 4 + k % 4] = q[k * N + j];
      p.sums[j] += q[k * N + j];
    }
  return p;
}

int8_t packed_s8_at(const PackedS8& w, int64_t k, int64_t j) { return w.quads[((k / 4) * w.N + j) * 4 + k % 4]; }

void quantize_rows_u8(const float* in, int64_t in_stride, int64_t rows, int64_t K, uint8_t* out, int64_t out_stride,
                      float* steps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * in_stride;
    const float step = quantization_step_reference(x, K), inv = 1.0f / step;
    steps[r] = step;
    uint8_t* q = out + r * out_stride;
    for (int64_t k = 0; k < K; ++k) q[k] = static_cast<uint8_t>(quantize_value(x[k], inv) + 128);
  }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) void gemm_u8s8(const uint8_t* in, int64_t in_stride,
                                                                     const float* row_steps, int64_t rows,
                                                                     const PackedS8& w, const float* bias, float* out,
                                                                     int64_t out_stride) {
  for (int64_t col = 0; col < w.N; col += 64) {
    const int64_t vecs = std::min<int64_t>(4, (w.N - col) / 16);
    const int8_t* wc = w.quads.data() + 4 * col;
    const float* st = w.steps.data() + col;
    const int32_t* su = w.sums.data() + col;
    switch (vecs) {
      case 4: column_chunk<4>(in, in_stride, row_steps, rows, wc, w.K, w.N, st, su, bias + col, out + col, out_stride); break;
      case 3: column_chunk<3>(in, in_stride, row_steps, rows, wc, w.K, w.N, st, su, bias + col, out + col, out_stride); break;
      case 2: column_chunk<2>(in, in_stride, row_steps, rows, wc, w.K, w.N, st, su, bias + col, out + col, out_stride); break;
      default: column_chunk<1>(in, in_stride, row_steps, rows, wc, w.K, w.N, st, su, bias + col, out + col, out_stride); break;
    }
  }
}

float dot_u8s8_reference(const int8_t* q, float row_step, const PackedS8& w, const float* bias, int64_t j) {
  int64_t sum = 0;
  for (int64_t k = 0; k < w.K; ++k) sum += int64_t{q[k]} * packed_s8_at(w, k, j);
  return std::fma(static_cast<float>(sum), row_step * w.steps[j], bias[j]);
}

}  // namespace ffnbench
