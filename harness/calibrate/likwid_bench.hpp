// likwid-bench as the outside reference for `ffnbench calibrate --crosscheck`. likwid-bench runs
// without MSR access; it pins its own threads (S0 hardware threads 0..n-1).
#pragma once

#include <cstdint>
#include <string>

namespace ffnbench {

struct LikwidBenchResult {
  double mflops_per_s = 0;  // "MFlops/s:" line
  double mbytes_per_s = 0;  // "MByte/s:" line (1e6 bytes/s)
};

// Whether `likwid-bench` is on PATH.
bool likwid_bench_available();

// "likwid-bench -t <test> -w S0:<bytes>B:<threads>[ -i <iterations>]" (iterations ≤ 0: likwid's
// own choice, about one second).
std::string likwid_bench_command(const std::string& test, int64_t bytes, int threads, int64_t iterations);

// Reads the numbers of one likwid-bench run; throws std::runtime_error when the text has neither.
LikwidBenchResult parse_likwid_bench(const std::string& output);

// Runs the command of likwid_bench_command(); throws std::runtime_error with its last output
// line when it fails.
LikwidBenchResult run_likwid_bench(const std::string& test, int64_t bytes, int threads, int64_t iterations);

}  // namespace ffnbench
