// The `cachesim` backend: a point re-run in a child process under valgrind's cache simulator
// (callgrind --cache-sim=yes --instr-atstart=no), counted around the kernel only. Deterministic
// D1 and LL references and misses on any machine, with a cache geometry that can emulate another
// CPU's caches. Every value it returns has source `sim`.
//
// How the harness uses it (counters = cachesim; never chosen by `auto`):
//   1. make_counter_backend("cachesim"): probe() says whether valgrind runs here; configure()
//      checks the event names (the callgrind events below, or llc / d1; empty = all of them).
//   2. Per point, instead of in-process start/stop, the harness calls
//        cachesim_measure({cachesim_binary(), "run-point", <point spec...>}, geometry, iterations)
//      which runs the command under valgrind and returns per-forward-call values.
//   3. `ffnbench run-point <point spec...> --iterations N` (the harness's subcommand) builds the
//      point's kernel and inputs and calls cachesim_kernel_region(warm, measured): `warm` runs one
//      forward() (hot-cache mode; pass an empty function for cold), `measured` runs N forward()
//      calls. Only `measured` is counted; the simulated caches see `warm`. Use 1 thread: valgrind
//      serializes threads and simulates one cache hierarchy for all of them.
//
// valgrind 3.19 does not decode AVX-512 (EVEX) instructions, so the binary it runs must be built
// without them (-march=x86-64-v3 -mno-fma; see cachesim_binary()), and it runs each FMA through a
// helper call, over 10x slower than other instructions, so the child's libraries are asked for
// AVX kernels without FMA (OPENBLAS_CORETYPE=Sandybridge, ONEDNN_MAX_CPU_ISA=AVX). Our own
// target-attribute kernels see valgrind's CPUID, which hides AVX-512, and take their AVX2 paths.
// The simulated kernel touches the same data with narrower vectors: cache references and misses
// are the data's, instruction counts are not the native binary's.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "counters/backend.hpp"

namespace ffnbench {

// One simulated cache: valgrind needs a power-of-two line size and a power-of-two number of sets
// (size / (assoc · line)).
struct CacheLevel {
  int64_t size_bytes = 0;
  int assoc = 0;
  int line_bytes = 0;
};

struct CacheGeometry {
  std::string name;  // "native", a preset name, or "custom"
  std::string doc;   // which CPU it describes
  CacheLevel i1, d1, ll;
};

// Preset names: native (this machine's caches from sysfs), intel-spr, amd-zen4, graviton3,
// apple-m1.
std::vector<std::string> cache_geometry_presets();

// The preset `name`; ConfigError("cachesim_cpu", name, the presets) for an unknown one.
CacheGeometry cache_geometry_preset(const std::string& name);

// This machine's L1d, L1i and last-level cache from /sys/devices/system/cpu/cpu0/cache. Where the
// reported associativity gives a set count that is not a power of two (this VM: 480 MiB, 16-way),
// the associativity is raised to the value that keeps size and line size (as valgrind itself does).
CacheGeometry native_cache_geometry();

// "size,assoc,line" with size in bytes or with a K/M/G suffix (binary: 48K = 49152), e.g.
// "48K,12,64". Throws ConfigError(key, text, what is allowed) when malformed or invalid.
CacheLevel parse_cache_level(const std::string& key, const std::string& text);

// Checks a level as valgrind needs it; ConfigError(key, "size,assoc,line", why) when not.
void validate_cache_level(const std::string& key, const CacheLevel& level);

// The geometry of a run: the preset (empty = native) with the D1 and/or LL overridden where
// d1 / ll are non-empty ("size,assoc,line"). Keys in messages: cachesim_cpu, cachesim_d1,
// cachesim_ll.
CacheGeometry resolve_cache_geometry(const std::string& preset, const std::string& d1, const std::string& ll);

// "--I1=32768,8,64", "--D1=...", "--LL=..." for valgrind.
std::vector<std::string> valgrind_cache_options(const CacheGeometry& geometry);

// The totals of a callgrind output file, by event name (Ir, Dr, Dw, I1mr, D1mr, D1mw, ILmr, DLmr,
// DLmw). Throws std::runtime_error when the text has no `events:` and `totals:` lines.
std::map<std::string, double> parse_callgrind_totals(const std::string& text);

// Per-call values from callgrind totals over `iterations` calls: the raw events plus
// D1_refs = Dr + Dw, D1_misses = D1mr + D1mw, LL_refs = D1_misses (data accesses reaching LL),
// LL_misses = DLmr + DLmw. Source sim; enabled/running 0 (not time-based).
std::vector<CounterValue> cachesim_values(const std::map<std::string, double>& totals, int iterations);

// Runs `command` (argv[0] is the program) under callgrind with `geometry` and returns
// cachesim_values() of its instrumented region over `iterations` calls. Throws
// std::runtime_error with valgrind's last words when the child fails or never instrumented.
std::vector<CounterValue> cachesim_measure(const std::vector<std::string>& command,
                                           const CacheGeometry& geometry, int iterations);

// The ffnbench binary valgrind can run: $FFNBENCH_CACHESIM_BINARY, else build/cachesim/ffnbench
// beside this binary's build folder (`cmake -B build/cachesim -G Ninja -DFFNBENCH_NATIVE=OFF
// "-DCMAKE_CXX_FLAGS=-march=x86-64-v3 -mno-fma" && cmake --build build/cachesim -j2`). Throws
// std::runtime_error with that command when neither exists.
std::string cachesim_binary();

// The kernel bracket `run-point` uses (callgrind client requests; plain calls outside valgrind).
void cachesim_kernel_region(const std::function<void()>& warm, const std::function<void()>& measured);

// Whether this process runs under valgrind.
bool running_under_valgrind();

}  // namespace ffnbench
