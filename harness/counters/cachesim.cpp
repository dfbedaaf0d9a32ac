#include "counters/cachesim.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "calibrate/caches.hpp"
#include "core/params.hpp"
#include "counters/factory.hpp"
#include "machine/blas_kernels.hpp"

extern char** environ;

namespace ffnbench {
namespace {

namespace fs = std::filesystem;

bool is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

std::string level_text(const CacheLevel& l) { return fmt::format("{},{},{}", l.size_bytes, l.assoc, l.line_bytes); }

// Real CPUs whose caches valgrind can simulate as they are (power-of-two set counts). I1 is the
// same 32 KiB 8-way everywhere: instruction misses are not what these studies look at.
const std::vector<CacheGeometry>& presets() {
  static const std::vector<CacheGeometry> p = {
      {"intel-spr", "Intel Xeon Platinum 8462Y+ (Sapphire Rapids, 32 cores): L1d 48 KiB 12-way, L3 60 MiB 15-way",
       {32768, 8, 64}, {48 * 1024, 12, 64}, {60ll << 20, 15, 64}},
      {"amd-zen4", "AMD EPYC 9004 / Ryzen 7000 (Zen 4), one CCD: L1d 32 KiB 8-way, L3 32 MiB 16-way",
       {32768, 8, 64}, {32 * 1024, 8, 64}, {32ll << 20, 16, 64}},
      {"graviton3", "AWS Graviton3 (Neoverse V1): L1d 64 KiB 4-way, LLC 32 MiB 16-way",
       {32768, 8, 64}, {64 * 1024, 4, 64}, {32ll << 20, 16, 64}},
      {"apple-m1", "Apple M1 performance core: L1d 128 KiB 8-way, L2 (last level) 12 MiB 12-way, 128 B lines",
       {32768, 8, 64}, {128 * 1024, 8, 64}, {12ll << 20, 12, 128}},
  };
  return p;
}

// valgrind's own fix for caches whose set count is not a power of two: keep size and line size,
// make the set count the largest power of two that still divides the line count.
CacheLevel with_pow2_sets(CacheLevel l) {
  if (l.size_bytes <= 0 || l.assoc <= 0 || l.line_bytes <= 0) return l;
  const int64_t lines = l.size_bytes / l.line_bytes;
  if (is_pow2(lines / l.assoc) && lines % l.assoc == 0) return l;
  int64_t sets = 1;
  while (lines % (sets * 2) == 0 && sets * 2 <= lines / l.assoc) sets *= 2;
  l.assoc = static_cast<int>(lines / sets);
  return l;
}

}  // namespace

std::vector<std::string> cache_geometry_presets() {
  std::vector<std::string> names{"native"};
  for (const auto& p : presets()) names.push_back(p.name);
  return names;
}

CacheGeometry native_cache_geometry() {
  CacheGeometry g{"native", "this machine's caches (sysfs)", {32768, 8, 64}, {32768, 8, 64}, {8 << 20, 16, 64}};
  const auto caches = read_cpu_caches();
  auto level = [](const CacheInfo& c) { return with_pow2_sets({c.size_bytes, c.assoc, c.line_bytes}); };
  for (const auto& c : caches)
    if (c.level == 1 && c.type == "Instruction") g.i1 = level(c);
  if (const CacheInfo* d1 = data_cache(caches, 1)) g.d1 = level(*d1);
  if (const CacheInfo* ll = last_level_cache(caches); ll != nullptr && ll->level > 1) g.ll = level(*ll);
  return g;
}

CacheGeometry cache_geometry_preset(const std::string& name) {
  if (name == "native" || name.empty()) return native_cache_geometry();
  for (const auto& p : presets())
    if (p.name == name) return p;
  throw ConfigError("cachesim_cpu", name,
                    fmt::format("one of: {}", fmt::join(cache_geometry_presets(), ", ")));
}

void validate_cache_level(const std::string& key, const CacheLevel& l) {
  const std::string value = level_text(l);
  if (!is_pow2(l.line_bytes) || l.line_bytes < 16)
    throw ConfigError(key, value, fmt::format("the line size ({} B) must be a power of two, at least 16", l.line_bytes));
  if (l.assoc < 1) throw ConfigError(key, value, "the associativity must be at least 1");
  if (l.size_bytes <= l.line_bytes || l.size_bytes % l.line_bytes != 0)
    throw ConfigError(key, value, fmt::format("the size must be a multiple of the line size ({} B) and larger", l.line_bytes));
  const int64_t way_bytes = static_cast<int64_t>(l.assoc) * l.line_bytes;
  if (l.size_bytes % way_bytes != 0 || !is_pow2(l.size_bytes / way_bytes))
    throw ConfigError(key, value,
                      fmt::format("the number of sets, size / (assoc · line) = {} / {}, must be a power of two",
                                  l.size_bytes, way_bytes));
}

CacheLevel parse_cache_level(const std::string& key, const std::string& text) {
  const std::string allowed = "size,assoc,line with size in bytes or K/M/G (e.g. 48K,12,64)";
  std::vector<std::string> parts;
  std::stringstream ss(text);
  for (std::string p; std::getline(ss, p, ',');) parts.push_back(p);
  if (parts.size() != 3) throw ConfigError(key, text, allowed);
  CacheLevel l;
  int64_t assoc = 0, line = 0;
  if (!parse_byte_size(parts[0], l.size_bytes) || !parse_int(parts[1], assoc) || !parse_int(parts[2], line) || assoc > 1 << 16 || line > 1 << 16)
    throw ConfigError(key, text, allowed);
  l.assoc = static_cast<int>(assoc);
  l.line_bytes = static_cast<int>(line);
  validate_cache_level(key, l);
  return l;
}

CacheGeometry resolve_cache_geometry(const std::string& preset, const std::string& d1, const std::string& ll) {
  CacheGeometry g = cache_geometry_preset(preset);
  if (!d1.empty()) g.d1 = parse_cache_level("cachesim_d1", d1);
  if (!ll.empty()) g.ll = parse_cache_level("cachesim_ll", ll);
  if (!d1.empty() || !ll.empty()) {
    g.doc = fmt::format("{} with D1 {} and LL {}", g.name, level_text(g.d1), level_text(g.ll));
    g.name = "custom";
  }
  validate_cache_level("cachesim_d1", g.d1);
  validate_cache_level("cachesim_ll", g.ll);
  return g;
}

std::vector<std::string> valgrind_cache_options(const CacheGeometry& g) {
  return {"--I1=" + level_text(g.i1), "--D1=" + level_text(g.d1), "--LL=" + level_text(g.ll)};
}

std::map<std::string, double> parse_callgrind_totals(const std::string& text) {
  std::vector<std::string> events;
  std::string totals_line, summary_line;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("events:", 0) == 0) {
      std::istringstream names(line.substr(7));
      events.clear();
      for (std::string e; names >> e;) events.push_back(e);
    } else if (line.rfind("totals:", 0) == 0) {
      totals_line = line.substr(7);
    } else if (line.rfind("summary:", 0) == 0) {
      summary_line = line.substr(8);
    }
  }
  const std::string& values = totals_line.empty() ? summary_line : totals_line;
  if (events.empty() || values.empty())
    throw std::runtime_error("callgrind output has no 'events:' and 'totals:' lines");
  std::map<std::string, double> out;
  for (const auto& e : events) out[e] = 0;  // callgrind omits trailing zeros
  std::istringstream nums(values);
  for (size_t i = 0; i < events.size(); ++i) {
    double v = 0;
    if (!(nums >> v)) break;
    out[events[i]] = v;
  }
  return out;
}

std::vector<CounterValue> cachesim_values(const std::map<std::string, double>& totals, int iterations) {
  auto get = [&](const char* e) {
    auto it = totals.find(e);
    return it == totals.end() ? 0.0 : it->second;
  };
  std::vector<CounterValue> out;
  auto add = [&](const std::string& event, double total) {
    CounterValue v;
    v.event = event;
    v.value = total / std::max(1, iterations);
    v.source = Source::Sim;
    out.push_back(v);
  };
  for (const auto& [event, total] : totals) add(event, total);
  add("D1_refs", get("Dr") + get("Dw"));
  add("D1_misses", get("D1mr") + get("D1mw"));
  add("LL_refs", get("D1mr") + get("D1mw"));
  add("LL_misses", get("DLmr") + get("DLmw"));
  return out;
}

namespace {

std::string tail_lines(const std::string& text, size_t n) {
  size_t pos = text.size();
  for (size_t i = 0; i <= n && pos != std::string::npos && pos > 0; ++i) pos = text.rfind('\n', pos - 1);
  return pos == std::string::npos ? text : text.substr(pos + 1);
}

// What the program itself said (its error), without valgrind's "==pid==" / "--pid--" lines;
// valgrind's own last lines when the program said nothing.
std::string program_output(const std::string& log, size_t n) {
  std::string own;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("==", 0) != 0 && line.rfind("--", 0) != 0 && !line.empty()) own += line + "\n";
  return own.empty() ? tail_lines(log, n) : tail_lines(own, n);
}

// This process's environment, with the libraries of the valgrind child asked for kernels
// valgrind runs fast (no AVX-512, no FMA: see openblas_core_for_valgrind); oneDNN's JIT is capped
// at AVX unless the user capped it.
std::vector<std::string> valgrind_child_environment() {
  const std::string blas_core = openblas_core_for_valgrind();
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    // The child runs one thread: OpenMP binding would put every child on the first place.
    if (std::strncmp(*e, "OMP_PLACES=", 11) == 0 || std::strncmp(*e, "OMP_PROC_BIND=", 14) == 0) continue;
    if (blas_core.empty() || std::strncmp(*e, "OPENBLAS_CORETYPE=", 18) != 0) env.emplace_back(*e);
  }
  if (!blas_core.empty()) env.push_back("OPENBLAS_CORETYPE=" + blas_core);
  if (std::getenv("ONEDNN_MAX_CPU_ISA") == nullptr) env.push_back("ONEDNN_MAX_CPU_ISA=AVX");
  return env;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::vector<CounterValue> cachesim_measure(const std::vector<std::string>& command,
                                           const CacheGeometry& geometry, int iterations) {
  if (command.empty()) throw std::runtime_error("cachesim: empty command");
  validate_cache_level("cachesim_d1", geometry.d1);
  validate_cache_level("cachesim_ll", geometry.ll);

  std::string dir_template = (fs::temp_directory_path() / "ffnbench-cachesim-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) throw std::runtime_error("cachesim: mkdtemp failed");
  const fs::path dir = dir_template;
  const fs::path out_file = dir / "callgrind.out", log_file = dir / "valgrind.log";

  std::vector<std::string> args{"valgrind", "--tool=callgrind", "--cache-sim=yes", "--instr-atstart=no",
                                "--callgrind-out-file=" + out_file.string(), "--dump-line=no"};
  for (auto& o : valgrind_cache_options(geometry)) args.push_back(o);
  args.insert(args.end(), command.begin(), command.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  std::vector<std::string> env_strings = valgrind_child_environment();
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int spawn_rc = posix_spawnp(&pid, "valgrind", &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (spawn_rc == 0) waitpid(pid, &status, 0);

  const std::string log = slurp(log_file);
  const std::string output = slurp(out_file);
  std::error_code ec;
  fs::remove_all(dir, ec);
  const std::string shown = fmt::format("{}", fmt::join(command, " "));
  if (spawn_rc != 0) throw std::runtime_error(fmt::format("cachesim: cannot run valgrind: {}", std::strerror(spawn_rc)));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    const bool sigill = log.find("unhandled instruction bytes") != std::string::npos;
    throw std::runtime_error(fmt::format(
        "cachesim: '{}' failed under valgrind ({}){}:\n{}", shown,
        WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status)) : "killed by a signal",
        sigill ? "; valgrind cannot decode AVX-512: use a binary built with -march=x86-64-v3" : "",
        program_output(log, 8)));
  }
  const auto totals = parse_callgrind_totals(output);
  if (totals.count("Ir") == 0 || totals.at("Ir") == 0)
    throw std::runtime_error(fmt::format(
        "cachesim: '{}' never switched instrumentation on (CALLGRIND_START_INSTRUMENTATION)", shown));
  return cachesim_values(totals, iterations);
}

std::string cachesim_binary() {
  if (const char* env = std::getenv("FFNBENCH_CACHESIM_BINARY"); env != nullptr && *env != '\0') {
    if (access(env, X_OK) == 0) return env;
    throw std::runtime_error(fmt::format("cachesim: FFNBENCH_CACHESIM_BINARY={} is not an executable", env));
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  // build/release/ffnbench (or build/release/tests/ffnbench_tests) -> build/cachesim/ffnbench
  for (fs::path dir = self.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    const fs::path candidate = dir.parent_path() / "cachesim" / "ffnbench";
    if (dir.parent_path().filename() == "build" && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error(
      "cachesim: no AVX-512-free ffnbench for valgrind; build one with `cmake -B build/cachesim -G Ninja "
      "-DFFNBENCH_NATIVE=OFF \"-DCMAKE_CXX_FLAGS=-march=x86-64-v3 -mno-fma\" && cmake --build build/cachesim -j2` "
      "or set FFNBENCH_CACHESIM_BINARY");
}

bool running_under_valgrind() { return RUNNING_ON_VALGRIND != 0; }

void cachesim_kernel_region(const std::function<void()>& warm, const std::function<void()>& measured) {
  CALLGRIND_START_INSTRUMENTATION;
  if (warm) warm();
  CALLGRIND_ZERO_STATS;  // counts restart here; the simulated caches keep what `warm` loaded
  measured();
  CALLGRIND_STOP_INSTRUMENTATION;
}

namespace {

// The registered backend: probes valgrind and checks event names; the counting itself is
// cachesim_measure(), called by the harness once per point (see cachesim.hpp).
class CachesimBackend final : public CounterBackend {
 public:
  std::string name() const override { return "cachesim"; }

  BackendStatus probe() override {
    std::string version;
    if (std::FILE* p = popen("valgrind --version 2>/dev/null", "r")) {
      char buf[128] = {};
      if (std::fgets(buf, sizeof buf, p) != nullptr) version = buf;
      pclose(p);
    }
    while (!version.empty() && std::isspace(static_cast<unsigned char>(version.back()))) version.pop_back();
    if (version.empty()) return {false, "valgrind not found (Debian package valgrind)"};
    return {true, fmt::format("{} callgrind cache simulation; opt-in: re-runs each point in a child process",
                              version)};
  }

  void configure(const std::vector<std::string>& events, int) override {
    static const std::vector<std::string> known{"Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw",
                                                "D1_refs", "D1_misses", "LL_refs", "LL_misses", "llc", "d1"};
    events_.clear();
    unavailable_.clear();
    for (const auto& e : events) {
      if (e == "flops" || e == "mem")
        unavailable_.emplace_back(e, "cachesim simulates caches only: no FLOPs, no memory-controller traffic");
      else if (std::find(known.begin(), known.end(), e) == known.end())
        throw ConfigError("events", e, fmt::format("a cachesim event: {}, flops, mem", fmt::join(known, ", ")));
      else
        events_.push_back(e);
    }
    filter_ = !events.empty();  // an empty list means every simulated event
  }

  std::vector<std::pair<std::string, std::string>> unavailable() const override { return unavailable_; }

  // Nothing counts in-process: the point is re-run under valgrind by cachesim_measure().
  void start() override {}
  void stop() override {}
  std::vector<CounterValue> read() override { return {}; }

  // [counters] cachesim_cpu = <preset>, cachesim_d1 / cachesim_ll = size,assoc,line.
  void set_option(const std::string& key, const std::string& value) override {
    if (key == "cachesim_cpu") preset_ = value;
    else if (key == "cachesim_d1") d1_ = value;
    else if (key == "cachesim_ll") ll_ = value;
    else throw ConfigError("counters." + key, value, "cachesim takes cachesim_cpu, cachesim_d1, cachesim_ll");
    geometry_ = resolve_cache_geometry(preset_, d1_, ll_);  // ConfigError on a bad geometry
  }

  bool measures_offline() const override { return true; }

  // Valgrind runs one thread at a time through one simulated cache hierarchy: a point's threads
  // would only take turns on it (with idle OpenMP workers spinning through instructions the
  // native run does not execute, +18% on a 2-thread lookup_ffn point). So every re-run counts
  // the whole call on one thread, and points that differ only in threads share it.
  int offline_threads(int) const override { return 1; }
  std::string offline_threads_note() const override {
    return "cachesim counted the call on one thread (valgrind runs threads one at a time through one "
           "simulated cache hierarchy)";
  }

  std::vector<CounterValue> measure_offline(const std::vector<std::string>& run_point_args,
                                            int iterations) override {
    std::vector<std::string> command = {cachesim_binary()};
    command.insert(command.end(), run_point_args.begin(), run_point_args.end());
    command.push_back("--iterations");
    command.push_back(std::to_string(iterations));
    auto values = cachesim_measure(command, geometry_, iterations);
    if (!filter_) return values;
    std::vector<CounterValue> kept;  // the events asked for ("llc"/"d1" name groups)
    for (auto& v : values) {
      bool wanted = false;
      for (const auto& e : events_)
        wanted = wanted || v.event == e || (e == "llc" && v.event.rfind("LL_", 0) == 0) ||
                 (e == "d1" && v.event.rfind("D1_", 0) == 0);
      if (wanted) kept.push_back(std::move(v));
    }
    return kept;
  }

 private:
  std::vector<std::string> events_;  // the events asked for that cachesim counts
  bool filter_ = false;
  std::vector<std::pair<std::string, std::string>> unavailable_;
  std::string preset_, d1_, ll_;
  CacheGeometry geometry_ = resolve_cache_geometry("", "", "");
};

const CounterBackendRegistrar registrar{"cachesim", kOptInOnly, [] { return std::make_unique<CachesimBackend>(); }};

}  // namespace
}  // namespace ffnbench
