#include "calibrate/kernels.hpp"

#include <immintrin.h>

namespace ffnbench {
namespace {

// Horizontal sum through memory (GCC 12's _mm512_reduce_add_ps trips -Wuninitialized).
__attribute__((target("avx512f"))) float sum_lanes(__m512 v) {
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, v);
  float s = 0;
  for (float x : lanes) s += x;
  return s;
}

// Shared sink: keeps results observable so the compiler cannot drop the work.
volatile float g_sink = 0;

__attribute__((target("avx512f"))) double fma_peak_avx512(int64_t iterations) {
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  __m512 acc[kFmaAccumulators];
  for (int k = 0; k < kFmaAccumulators; ++k) acc[k] = _mm512_set1_ps(0.1f * (k + 1));
  for (int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 12
    for (int k = 0; k < kFmaAccumulators; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  __m512 sum = acc[0];
  for (int k = 1; k < kFmaAccumulators; ++k) sum = _mm512_add_ps(sum, acc[k]);
  g_sink = sum_lanes(sum);
  return static_cast<double>(iterations) * kFmaAccumulators * 16 * 2;
}

__attribute__((target("avx2,fma"))) double fma_peak_avx2(int64_t iterations) {
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  __m256 acc[kFmaAccumulators];
  for (int k = 0; k < kFmaAccumulators; ++k) acc[k] = _mm256_set1_ps(0.1f * (k + 1));
  for (int64_t i = 0; i < iterations; ++i)
#pragma GCC unroll 12
    for (int k = 0; k < kFmaAccumulators; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  __m256 sum = acc[0];
  for (int k = 1; k < kFmaAccumulators; ++k) sum = _mm256_add_ps(sum, acc[k]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  g_sink = lanes[0] + lanes[7];
  return static_cast<double>(iterations) * kFmaAccumulators * 8 * 2;
}

// Loads only, as likwid-bench's load kernels: with an add per load the two vector ALU ports
// would be saturated too and the L1 figure would measure them. Inline assembly, because the
// compiler drops loads whose values are unused.
__attribute__((target("avx512f"))) void load_avx512(const float* a, size_t floats, int64_t passes) {
  const float* end = a + floats;
  for (int64_t p = 0; p < passes; ++p) {
    const float* ptr = a;
    asm volatile(
        "1:\n\t"
        "vmovaps 0(%[p]), %%zmm0\n\t"
        "vmovaps 64(%[p]), %%zmm1\n\t"
        "vmovaps 128(%[p]), %%zmm2\n\t"
        "vmovaps 192(%[p]), %%zmm3\n\t"
        "vmovaps 256(%[p]), %%zmm4\n\t"
        "vmovaps 320(%[p]), %%zmm5\n\t"
        "vmovaps 384(%[p]), %%zmm6\n\t"
        "vmovaps 448(%[p]), %%zmm7\n\t"
        "addq $512, %[p]\n\t"
        "cmpq %[end], %[p]\n\t"
        "jb 1b\n\t"
        : [p] "+r"(ptr)
        : [end] "r"(end)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "cc", "memory");
  }
}

__attribute__((target("avx2"))) void load_avx2(const float* a, size_t floats, int64_t passes) {
  const float* end = a + floats;
  for (int64_t p = 0; p < passes; ++p) {
    const float* ptr = a;
    asm volatile(
        "1:\n\t"
        "vmovaps 0(%[p]), %%ymm0\n\t"
        "vmovaps 32(%[p]), %%ymm1\n\t"
        "vmovaps 64(%[p]), %%ymm2\n\t"
        "vmovaps 96(%[p]), %%ymm3\n\t"
        "vmovaps 128(%[p]), %%ymm4\n\t"
        "vmovaps 160(%[p]), %%ymm5\n\t"
        "vmovaps 192(%[p]), %%ymm6\n\t"
        "vmovaps 224(%[p]), %%ymm7\n\t"
        "vmovaps 256(%[p]), %%ymm0\n\t"
        "vmovaps 288(%[p]), %%ymm1\n\t"
        "vmovaps 320(%[p]), %%ymm2\n\t"
        "vmovaps 352(%[p]), %%ymm3\n\t"
        "vmovaps 384(%[p]), %%ymm4\n\t"
        "vmovaps 416(%[p]), %%ymm5\n\t"
        "vmovaps 448(%[p]), %%ymm6\n\t"
        "vmovaps 480(%[p]), %%ymm7\n\t"
        "addq $512, %[p]\n\t"
        "cmpq %[end], %[p]\n\t"
        "jb 1b\n\t"
        : [p] "+r"(ptr)
        : [end] "r"(end)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "cc", "memory");
  }
}

__attribute__((target("avx512f"))) void triad_avx512(float* a, const float* b, const float* c, size_t floats,
                                                     int64_t passes) {
  for (int64_t p = 0; p < passes; ++p) {
    const __m512 s = _mm512_set1_ps(1.0f + 1e-6f * static_cast<float>(p & 7));
#pragma GCC unroll 4
    for (size_t i = 0; i < floats; i += 16)
      _mm512_store_ps(a + i, _mm512_fmadd_ps(s, _mm512_load_ps(c + i), _mm512_load_ps(b + i)));
  }
}

__attribute__((target("avx2,fma"))) void triad_avx2(float* a, const float* b, const float* c, size_t floats,
                                                    int64_t passes) {
  for (int64_t p = 0; p < passes; ++p) {
    const __m256 s = _mm256_set1_ps(1.0f + 1e-6f * static_cast<float>(p & 7));
#pragma GCC unroll 4
    for (size_t i = 0; i < floats; i += 8)
      _mm256_store_ps(a + i, _mm256_fmadd_ps(s, _mm256_load_ps(c + i), _mm256_load_ps(b + i)));
  }
}

}  // namespace

const char* to_string(Isa isa) { return isa == Isa::Avx512 ? "avx512" : "avx2"; }

bool isa_supported(Isa isa) {
  __builtin_cpu_init();
  if (isa == Isa::Avx512) return __builtin_cpu_supports("avx512f");
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

Isa widest_isa() { return isa_supported(Isa::Avx512) ? Isa::Avx512 : Isa::Avx2; }

double fma_peak(Isa isa, int64_t iterations) {
  return isa == Isa::Avx512 ? fma_peak_avx512(iterations) : fma_peak_avx2(iterations);
}

double fma_flops_per_iteration(Isa isa) { return kFmaAccumulators * (isa == Isa::Avx512 ? 16 : 8) * 2.0; }

void load_stream(Isa isa, const float* a, size_t floats, int64_t passes) {
  if (isa == Isa::Avx512) load_avx512(a, floats, passes);
  else load_avx2(a, floats, passes);
}

void triad_stream(Isa isa, float* a, const float* b, const float* c, size_t floats, int64_t passes) {
  if (isa == Isa::Avx512) triad_avx512(a, b, c, floats, passes);
  else triad_avx2(a, b, c, floats, passes);
}

}  // namespace ffnbench
