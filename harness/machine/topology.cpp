#include "machine/topology.hpp"

#include <cpuid.h>
#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace ffnbench {

std::string read_file_trimmed(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

namespace {

int64_t parse_cache_size(const std::string& s) {  // "48K", "2048K", "480M"
  if (s.empty()) return 0;
  int64_t v = std::stoll(s);
  char unit = s.back();
  if (unit == 'K') v *= 1024;
  if (unit == 'M') v *= 1024 * 1024;
  return v;
}

std::string intel_uarch(int family, int model) {
  if (family != 6) return "";
  static const std::map<int, std::string> names = {
      {0x55, "Skylake-SP/Cascade Lake"}, {0x6A, "Ice Lake-SP"}, {0x6C, "Ice Lake-D"},
      {0x8F, "Sapphire Rapids"}, {0xCF, "Emerald Rapids"}, {0xAD, "Granite Rapids"},
      {0x7E, "Ice Lake (client)"}, {0x8C, "Tiger Lake"}, {0x97, "Alder Lake"}, {0x9A, "Alder Lake"},
      {0xB7, "Raptor Lake"}, {0xBA, "Raptor Lake"}, {0xA7, "Rocket Lake"}, {0x9E, "Coffee Lake"},
      {0x4F, "Broadwell"}, {0x3F, "Haswell"}};
  auto it = names.find(model);
  return it == names.end() ? "" : it->second;
}

std::string amd_uarch(int family, int model) {
  if (family == 0x17) return model >= 0x30 ? "Zen 2" : "Zen/Zen+";
  if (family == 0x19) return (model >= 0x10 && model < 0x20) || model >= 0x60 ? "Zen 4" : "Zen 3";
  if (family == 0x1A) return "Zen 5";
  return "";
}

// AMD's older cache leaves (0x80000005: L1d, 0x80000006: L2 and L3), which guests often keep when
// 0x8000001D is hidden. L3 sharing is not reported there: taken as every logical CPU of this system.
std::vector<CpuCache> amd_legacy_caches() {
  std::vector<CpuCache> out;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0x80000005, &a, &b, &c, &d)) return out;
  if ((c >> 24) > 0) out.push_back({1, "Data", int64_t{c >> 24} << 10, static_cast<int>(c & 0xff), static_cast<int>((c >> 16) & 0xff), 1});
  if ((d >> 24) > 0) out.push_back({1, "Instruction", int64_t{d >> 24} << 10, static_cast<int>(d & 0xff), static_cast<int>((d >> 16) & 0xff), 1});
  if (!__get_cpuid(0x80000006, &a, &b, &c, &d)) return out;
  if ((c >> 16) > 0) out.push_back({2, "Unified", int64_t{c >> 16} << 10, static_cast<int>(c & 0xff), 0, 1});
  if ((d >> 18) > 0)
    out.push_back({3, "Unified", int64_t{d >> 18} << 19, static_cast<int>(d & 0xff), 0,
                   static_cast<int>(std::max(1l, sysconf(_SC_NPROCESSORS_CONF)))});
  return out;
}

// The deterministic cache parameters CPUID reports (leaf 4 on Intel, 0x8000001D on AMD; the same
// layout), for guests whose sysfs has no cache/ folder. A VM passes the host's geometry through.
std::vector<CpuCache> caches_from_cpuid() {
  std::vector<CpuCache> out;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return out;
  const bool amd = b == 0x68747541;  // "Auth"enticAMD
  unsigned leaf = 4;
  if (amd) {
    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x8000001D) return out;
    leaf = 0x8000001D;
  } else if (a < 4) {
    return out;
  }
  for (unsigned i = 0; i < 16; ++i) {
    __cpuid_count(leaf, i, a, b, c, d);
    if (i == 0 && (a & 0x1f) == 0 && amd) return amd_legacy_caches();  // a hypervisor hid the leaf
    const unsigned type = a & 0x1f;
    if (type == 0) break;
    CpuCache cache;
    cache.level = static_cast<int>((a >> 5) & 0x7);
    cache.type = type == 1 ? "Data" : type == 2 ? "Instruction" : "Unified";
    cache.line_bytes = static_cast<int>((b & 0xfff) + 1);
    cache.ways = static_cast<int>(((b >> 22) & 0x3ff) + 1);
    const int64_t partitions = ((b >> 12) & 0x3ff) + 1, sets = static_cast<int64_t>(c) + 1;
    cache.size_bytes = cache.ways * partitions * cache.line_bytes * sets;
    cache.shared_by_cpus = static_cast<int>(((a >> 14) & 0xfff) + 1);
    out.push_back(cache);
  }
  return out;
}

CpuInfo read_cpu_info() {
  CpuInfo info;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  std::set<std::string> sockets;
  std::string phys = "0";
  static const std::vector<std::string> wanted = {
      "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512cd", "avx512bw", "avx512dq",
      "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8",
      "asimd", "sve", "sve2", "hypervisor"};
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "processor") ++info.logical_cpus;
    else if (key == "model name" && info.model_name.empty()) info.model_name = value;
    else if (key == "vendor_id" && info.vendor.empty()) info.vendor = value;
    else if (key == "cpu family" && info.family == 0) info.family = std::stoi(value);
    else if (key == "model" && info.model == 0) info.model = std::stoi(value);
    else if (key == "stepping" && info.stepping == 0) info.stepping = std::stoi(value);
    else if (key == "physical id") { phys = value; sockets.insert(value); }
    else if (key == "core id") cores.insert({phys, value});
    else if ((key == "flags" || key == "Features") && info.isa.empty()) {
      std::istringstream fs_(value);
      std::set<std::string> flags;
      for (std::string f; fs_ >> f;) flags.insert(f);
      for (const auto& w : wanted)
        if (flags.count(w)) info.isa.push_back(w);
      info.hypervisor = flags.count("hypervisor") != 0;
    }
  }
  info.isa.erase(std::remove(info.isa.begin(), info.isa.end(), "hypervisor"), info.isa.end());
  info.physical_cores = cores.empty() ? info.logical_cpus : static_cast<int>(cores.size());
  info.sockets = sockets.empty() ? 1 : static_cast<int>(sockets.size());
  info.microarchitecture = info.vendor == "GenuineIntel" ? intel_uarch(info.family, info.model)
                           : info.vendor == "AuthenticAMD" ? amd_uarch(info.family, info.model)
                                                           : "";
  int nodes = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/devices/system/node", ec))
    if (e.path().filename().string().rfind("node", 0) == 0) ++nodes;
  info.numa_nodes = std::max(nodes, 1);

  const std::string base = "/sys/devices/system/cpu/cpu0/cache";
  for (const auto& e : fs::directory_iterator(base, ec)) {
    if (e.path().filename().string().rfind("index", 0) != 0) continue;
    CpuCache c;
    const std::string p = e.path().string();
    c.level = std::atoi(read_file_trimmed(p + "/level").c_str());
    c.type = read_file_trimmed(p + "/type");
    c.size_bytes = parse_cache_size(read_file_trimmed(p + "/size"));
    c.line_bytes = std::atoi(read_file_trimmed(p + "/coherency_line_size").c_str());
    c.ways = std::atoi(read_file_trimmed(p + "/ways_of_associativity").c_str());
    std::string shared = read_file_trimmed(p + "/shared_cpu_list");
    // "0-1" or "0,2" -> count
    int count = 0;
    std::stringstream ss(shared);
    for (std::string part; std::getline(ss, part, ',');) {
      auto dash = part.find('-');
      count += dash == std::string::npos ? 1 : std::stoi(part.substr(dash + 1)) - std::stoi(part) + 1;
    }
    c.shared_by_cpus = count;
    info.caches.push_back(c);
  }
  if (info.caches.empty()) info.caches = caches_from_cpuid();
  std::sort(info.caches.begin(), info.caches.end(), [](const CpuCache& a, const CpuCache& b) {
    return a.level != b.level ? a.level < b.level : a.type < b.type;
  });
  return info;
}

}  // namespace

const CpuInfo& cpu_info() {
  static const CpuInfo info = read_cpu_info();
  return info;
}

int physical_cores() { return std::max(static_cast<int>(one_cpu_per_core().size()), 1); }

namespace {

std::set<int> calling_thread_mask() {
  std::set<int> cpus;
  cpu_set_t mask;
  CPU_ZERO(&mask);
  if (sched_getaffinity(0, sizeof mask, &mask) != 0) return cpus;  // empty: no restriction known
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &mask)) cpus.insert(cpu);
  return cpus;
}

// The mask the program started with, before any thread of it was narrowed to one CPU.
const std::set<int> g_start_mask = calling_thread_mask();

}  // namespace

std::set<int> usable_cpus() {
  std::set<int> cpus;
  for (int place = 0; place < omp_get_num_places(); ++place) {
    std::vector<int> ids(static_cast<size_t>(omp_get_place_num_procs(place)));
    omp_get_place_proc_ids(place, ids.data());
    cpus.insert(ids.begin(), ids.end());
  }
  return cpus.empty() ? g_start_mask : cpus;
}

void widen_affinity_to_usable_cpus() {
  cpu_set_t mask;
  CPU_ZERO(&mask);
  for (int cpu : usable_cpus())
    if (cpu < CPU_SETSIZE) CPU_SET(cpu, &mask);
  if (CPU_COUNT(&mask) > 0) sched_setaffinity(0, sizeof mask, &mask);
}

std::vector<int> one_cpu_per_core() {
  const std::set<int> allowed = usable_cpus();
  std::vector<int> cpus;
  std::set<std::string> seen;
  for (int cpu = 0; cpu < cpu_info().logical_cpus; ++cpu) {
    if (!allowed.empty() && !allowed.count(cpu)) continue;
    const std::string topo = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    std::string key = read_file_trimmed(topo + "physical_package_id") + ":" +
                      read_file_trimmed(topo + "core_id");
    if (seen.insert(key).second) cpus.push_back(cpu);
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

int64_t llc_bytes() {
  int64_t best = 0;
  for (const auto& c : cpu_info().caches)
    if (c.type != "Instruction") best = std::max(best, c.size_bytes);
  return best;
}

}  // namespace ffnbench
