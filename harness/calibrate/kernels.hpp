// Roofline micro-kernels of `ffnbench calibrate`, likwid-bench style: each states its FLOPs and
// bytes per call next to it. One call runs on one thread; the engine runs one per pinned worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ffnbench {

enum class Isa { Avx2, Avx512 };
const char* to_string(Isa isa);          // "avx2", "avx512"
bool isa_supported(Isa isa);             // __builtin_cpu_supports: avx2+fma, avx512f
std::vector<Isa> supported_isas();       // widest last
Isa widest_isa();                        // avx512 where supported, else avx2

// Independent FMA chains: 2 FMA ports × 4-cycle latency need 8 in flight; 12 leaves slack.
inline constexpr int kFmaAccumulators = 12;

// `iterations` × kFmaAccumulators packed FP32 FMAs on registers only.
// FLOPs per call: iterations · kFmaAccumulators · lanes · 2 (lanes 8 for avx2, 16 for avx512);
// no memory traffic. Returns the FLOPs done.
double fma_peak(Isa isa, int64_t iterations);
double fma_flops_per_iteration(Isa isa);  // kFmaAccumulators · lanes · 2

// Bytes per vector block the load and triad kernels need `floats` to be a multiple of.
inline constexpr size_t kBlockFloats = 128;  // 512 B: 8 zmm or 16 ymm

// Reads a[0..floats) `passes` times with vector loads and nothing else (likwid-bench `load`).
// Bytes per call: passes · floats · 4; no FLOPs. `floats` is a multiple of kBlockFloats.
void load_stream(Isa isa, const float* a, size_t floats, int64_t passes);

// STREAM triad a[i] = b[i] + s·c[i], `passes` times (s changes per pass so no pass is redundant).
// Bytes per call: passes · floats · 12 (two loads, one store; write-allocate traffic not counted,
// as in likwid-bench `stream` and STREAM); FLOPs: passes · floats · 2.
void triad_stream(Isa isa, float* a, const float* b, const float* c, size_t floats, int64_t passes);

}  // namespace ffnbench
