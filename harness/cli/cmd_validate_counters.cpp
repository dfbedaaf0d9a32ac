// `ffnbench validate-counters`: every counter backend that counts in hardware here, checked on
// kernels whose work is known exactly (see counters/validate.hpp): calibrate's FMA kernel and one
// sgemm (FLOPs), a streaming read over ≥ 4 × LLC (LLC misses, memory traffic). Exit 1 when a
// count is outside its bound. Where no backend counts hardware events (a VM without a PMU), it
// says so with each backend's reason and exits 0. `--cachesim` also checks valgrind's simulated
// LL misses on the streaming read (needs the cachesim build; skipped with the reason if absent).
#include <omp.h>

#include <boost/program_options.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <iostream>
#include <memory>

#include "calibrate/caches.hpp"
#include "calibrate/kernels.hpp"
#include "cli/command.hpp"
#include "common/blas.hpp"
#include "core/params.hpp"
#include "counters/backend.hpp"
#include "counters/cachesim.hpp"
#include "counters/derived.hpp"
#include "counters/validate.hpp"
#include "machine/machine_info.hpp"

namespace ffnbench {
namespace {

namespace po = boost::program_options;

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float, FreeDeleter>;

Buffer aligned_floats(size_t floats) {
  const size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
  auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (p == nullptr) throw std::runtime_error(fmt::format("cannot allocate {} bytes", bytes));
  for (size_t i = 0; i < floats; ++i) p[i] = static_cast<float>(i & 1023) * 1e-3f;  // first touch
  return Buffer(p);
}

size_t round_to_block(int64_t bytes) {
  const size_t floats = static_cast<size_t>(bytes) / sizeof(float);
  return (floats + kBlockFloats - 1) / kBlockFloats * kBlockFloats;
}

// What a backend can count of flops / llc / mem: configure() accepting the alias with nothing
// reported unavailable.
BackendCapability assess(const std::string& name) {
  BackendCapability cap;
  cap.name = name;
  std::unique_ptr<CounterBackend> b;
  try {
    b = make_counter_backend(name);
    const BackendStatus st = b->probe();
    cap.available = st.available;
    cap.reason = st.reason;
  } catch (const std::exception& e) {
    cap.reason = e.what();
  }
  if (!cap.available) return cap;
  for (const char* alias : {"flops", "llc", "mem"}) {
    std::string why;
    try {
      b->configure({alias}, 1);
      for (const auto& [event, reason] : b->unavailable()) why += (why.empty() ? "" : ", ") + reason;
    } catch (const std::exception& e) {
      why = e.what();
    }
    const bool ok = why.empty();
    if (std::strcmp(alias, "flops") == 0) cap.flops = ok;
    else if (std::strcmp(alias, "llc") == 0) cap.llc = ok;
    else cap.mem = ok;
    if (!ok) cap.not_countable.push_back(fmt::format("{}: {}", alias, why));
  }
  return cap;
}

struct Sizes {
  int64_t fma_iterations = int64_t{1} << 22;
  int64_t gemm = 1024;
  size_t stream_floats = 0;
  int64_t passes = 2;
  double line_bytes = 64;
};

// Counts `kernel` under `backend` configured for `alias` on one thread (the calling thread is
// OpenMP worker 0): per-interval values.
template <class Kernel>
std::vector<CounterValue> count(CounterBackend& backend, const std::string& alias, Kernel&& kernel) {
  backend.configure({alias}, 1);
  backend.start();
  kernel();
  backend.stop();
  return backend.read();
}

void check_backend(const BackendCapability& cap, const Sizes& s, const float* stream, const float* a, const float* b,
                   float* c, std::vector<CountCheck>& checks) {
  auto backend = make_counter_backend(cap.name);
  backend->probe();
  const Isa isa = widest_isa();
  if (cap.flops) {
    double expected = 0;
    auto v = count(*backend, "flops", [&] { expected = fma_peak(isa, s.fma_iterations); });
    auto q = find_counted_quantities(v);
    checks.push_back(compare_count(cap.name, "fma", q.flops ? q.flops->from : "", CountedQuantity::Flops, expected,
                                   q.flops ? q.flops->value : NAN));
    const int64_t n = s.gemm;
    v = count(*backend, "flops", [&] { sgemm_rowmajor(n, n, n, 1.0f, a, n, b, n, false, 0.0f, c, n); });
    q = find_counted_quantities(v);
    checks.push_back(compare_count(cap.name, "sgemm", q.flops ? q.flops->from : "", CountedQuantity::Flops,
                                   sgemm_flops(n, n, n), q.flops ? q.flops->value : NAN));
  }
  const double bytes = static_cast<double>(s.passes) * s.stream_floats * sizeof(float);
  auto read_stream = [&] { load_stream(isa, stream, s.stream_floats, s.passes); };
  if (cap.llc) {
    load_stream(isa, stream, s.stream_floats, 1);  // the pages are mapped and the TLB warm
    auto q = find_counted_quantities(count(*backend, "llc", read_stream));
    checks.push_back(compare_count(cap.name, "stream_read", q.llc_misses ? q.llc_misses->from : "",
                                   CountedQuantity::LlcMisses, stream_llc_misses(bytes, s.line_bytes),
                                   q.llc_misses ? q.llc_misses->value : NAN));
  }
  if (cap.mem) {
    auto q = find_counted_quantities(count(*backend, "mem", read_stream));
    checks.push_back(compare_count(cap.name, "stream_read", q.mem_bytes ? q.mem_bytes->from : "",
                                   CountedQuantity::MemBytes, bytes, q.mem_bytes ? q.mem_bytes->value : NAN));
  }
}

// The simulated cache of the cachesim check: an LL small enough that 4 × LL stays cheap under
// valgrind. Any geometry will do: the simulator's counting is checked, not this machine's cache.
constexpr const char* kCachesimLl = "8M,16,64";

// The child valgrind runs: a streaming read of `floats` floats, once to warm, once counted.
int cachesim_child(size_t floats) {
  Buffer buf = aligned_floats(floats);
  const Isa isa = widest_isa();  // valgrind's CPUID hides AVX-512: the AVX2 loads
  cachesim_kernel_region([&] { load_stream(isa, buf.get(), floats, 1); },
                         [&] { load_stream(isa, buf.get(), floats, 1); });
  return kExitOk;
}

void check_cachesim(std::vector<CountCheck>& checks) {
  auto backend = make_counter_backend("cachesim");
  const BackendStatus st = backend->probe();
  if (!st.available) {
    std::printf("cachesim: skipped: %s\n", st.reason.c_str());
    return;
  }
  std::string binary;
  try {
    binary = cachesim_binary();
  } catch (const std::exception& e) {
    std::printf("cachesim: skipped: %s\n", e.what());
    return;
  }
  const CacheGeometry g = resolve_cache_geometry("", "", kCachesimLl);
  const size_t floats = round_to_block(4 * g.ll.size_bytes);
  std::vector<CounterValue> values;
  try {
    values = cachesim_measure({binary, "validate-counters", "--cachesim-child", std::to_string(floats)}, g, 1);
  } catch (const std::exception& e) {
    std::printf("cachesim: skipped: the simulated run failed (a cachesim build older than validate-counters?): %s\n",
                e.what());
    return;
  }
  double misses = NAN;
  for (const auto& v : values)
    if (v.event == "LL_misses") misses = v.value;
  std::printf("cachesim: simulated LL %s (4 x LL = %zu bytes read once, counted)\n", kCachesimLl,
              floats * sizeof(float));
  checks.push_back(compare_count("cachesim", "stream_read", "LL_misses", CountedQuantity::LlcMisses,
                                 stream_llc_misses(static_cast<double>(floats) * sizeof(float), g.ll.line_bytes),
                                 misses));
}

int validate_main(int argc, char** argv) {
  std::string buffer_cap = "4G";
  int64_t child_floats = 0;
  Sizes sizes;
  po::options_description opts(
      "ffnbench validate-counters [options]\n\n"
      "Runs kernels whose work is known exactly under every counter backend that counts hardware\n"
      "events here and prints counted vs expected: calibrate's FMA kernel and one sgemm (FLOPs,\n"
      "within 5%), a streaming read over >= 4 x LLC (LLC misses and memory bytes, within 15%).\n"
      "Exit 1 when a count is outside its bound; 0 with a message where no PMU counts.\n\n"
      "options");
  opts.add_options()
      ("help,h", "this help")
      ("cachesim", "also check valgrind's simulated LL misses on the streaming read (needs build/cachesim)")
      ("buffer-cap", po::value(&buffer_cap)->default_value(buffer_cap), "largest streaming buffer (4 x LLC otherwise)")
      ("gemm", po::value(&sizes.gemm)->default_value(sizes.gemm), "sgemm size m = n = k")
      ("cachesim-child", po::value(&child_floats), "internal: the streaming read valgrind runs");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "ffnbench validate-counters: %s\n", e.what());
    return kExitBadInput;
  }
  if (vm.count("help")) {
    std::cout << opts << '\n';
    return kExitOk;
  }
  if (vm.count("cachesim-child")) {
    if (child_floats <= 0 || child_floats % static_cast<int64_t>(kBlockFloats) != 0)
      throw ConfigError("cachesim-child", std::to_string(child_floats), "a positive multiple of 128 floats");
    return cachesim_child(static_cast<size_t>(child_floats));
  }
  int64_t cap_bytes = 0;
  if (!parse_byte_size(buffer_cap, cap_bytes) || cap_bytes < (1 << 20))
    throw ConfigError("buffer-cap", buffer_cap, "a size of at least 1M, e.g. 2G");
  if (sizes.gemm < 16 || sizes.gemm > 8192) throw ConfigError("gemm", std::to_string(sizes.gemm), "an integer in [16, 8192]");
  omp_set_num_threads(1);  // one counted thread: the calling one (OpenBLAS included)

  std::vector<BackendCapability> caps;
  for (const auto& name : counter_backend_names())
    if (name != "none" && name != "cachesim") caps.push_back(assess(name));

  std::vector<CountCheck> checks;
  if (!any_hardware_counting(caps)) {
    std::printf("%s", no_pmu_message(caps, pmu_status().detail).c_str());
  } else {
    const auto caches = read_cpu_caches();
    const CacheInfo* llc = last_level_cache(caches);
    const int64_t llc_bytes = llc != nullptr ? llc->size_bytes : int64_t{64} << 20;
    sizes.line_bytes = llc != nullptr && llc->line_bytes > 0 ? llc->line_bytes : 64;
    int64_t want = 4 * llc_bytes;
    if (want > cap_bytes) {
      std::printf("note: the streaming buffer is capped at %s, below 4 x LLC (%lld bytes): LLC hits lower the "
                  "counted misses\n", buffer_cap.c_str(), static_cast<long long>(want));
      want = cap_bytes;
    }
    sizes.stream_floats = round_to_block(want);
    Buffer stream = aligned_floats(sizes.stream_floats);
    const size_t nn = static_cast<size_t>(sizes.gemm * sizes.gemm);
    Buffer a = aligned_floats(nn), b = aligned_floats(nn), c = aligned_floats(nn);
    for (const auto& cap : caps) {
      if (!cap.available) {
        std::printf("%s: unavailable: %s\n", cap.name.c_str(), cap.reason.c_str());
        continue;
      }
      for (const auto& why : cap.not_countable) std::printf("%s: not checked: %s\n", cap.name.c_str(), why.c_str());
      if (cap.flops || cap.llc || cap.mem) check_backend(cap, sizes, stream.get(), a.get(), b.get(), c.get(), checks);
    }
  }
  if (vm.count("cachesim")) check_cachesim(checks);
  else std::printf("cachesim: not run (pass --cachesim to check simulated LL misses; needs build/cachesim)\n");
  if (!checks.empty()) std::printf("\n%s", format_checks(checks).c_str());
  const int status = validation_exit_status(checks);
  if (status != kExitOk) std::printf("validate-counters: a count is outside its bound (FLOPs 5%%, traffic 15%%)\n");
  return status;
}

const CommandRegistrar registrar{
    {"validate-counters", "check every hardware counter backend against kernels of exactly known work", validate_main}};

}  // namespace
}  // namespace ffnbench
