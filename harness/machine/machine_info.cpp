#include "machine/machine_info.hpp"

#include <asm/unistd.h>
#include <boost/version.hpp>
#include <cblas.h>
#include <cstring>
#include <fmt/format.h>
#include <linux/perf_event.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <papi.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "build_info.hpp"
#include "core/params.hpp"
#include "machine/blas_kernels.hpp"
#include "machine/topology.hpp"

namespace ffnbench {

namespace {

std::string run_command(const std::string& cmd) {
  std::array<char, 256> buf{};
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return {};
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string slug(std::string s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(c));
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

}  // namespace

std::string machine_id() {
  // Nodes of a homogeneous cluster partition can count as one machine (SLURM job arrays).
  if (const char* given = std::getenv("FFNBENCH_MACHINE_ID"); given != nullptr && *given != '\0') {
    const std::string id = given;
    for (char c : id)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
        throw ConfigError("FFNBENCH_MACHINE_ID", id,
                          "must use letters, digits, '-', '_' and '.' only (it names a results folder)");
    if (id == "." || id == "..") throw ConfigError("FFNBENCH_MACHINE_ID", id, "must name a folder");
    return id;
  }
  const CpuInfo& cpu = cpu_info();
  std::string vendor = cpu.vendor == "GenuineIntel" ? "intel"
                       : cpu.vendor == "AuthenticAMD" ? "amd"
                                                       : slug(cpu.vendor.empty() ? "cpu" : cpu.vendor);
  std::string name = cpu.microarchitecture.empty() ? cpu.model_name : cpu.microarchitecture;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::string identity = fmt::format("{}|{}|{}|{}", cpu.model_name, cpu.family, cpu.model, host);
  for (const auto& c : cpu.caches) identity += fmt::format("|{}:{}", c.level, c.size_bytes);
  uint32_t h = static_cast<uint32_t>(std::hash<std::string>{}(identity));
  std::string model = slug(name);
  if (model.size() > 24) model.resize(24);
  return fmt::format("{}-{}-{}c-{:04x}", vendor, model, cpu.physical_cores, h & 0xffff);
}

std::string git_commit() {
  const std::string dir = build_info::kSourceDir;
  std::string commit = run_command("git -C '" + dir + "' rev-parse --short=12 HEAD 2>/dev/null");
  if (commit.empty()) return "unknown";
  std::string dirty = run_command("git -C '" + dir + "' status --porcelain --untracked-files=no 2>/dev/null");
  return dirty.empty() ? commit : commit + "-dirty";
}

PmuStatus pmu_status() {
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_HARDWARE;
  attr.config = PERF_COUNT_HW_INSTRUCTIONS;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  long fd = syscall(__NR_perf_event_open, &attr, 0, -1, -1, 0);
  if (fd < 0)
    return {false, fmt::format("perf_event_open(instructions) failed: {}", std::strerror(errno))};
  close(static_cast<int>(fd));
  return {true, "perf_event_open(instructions) works"};
}

nlohmann::json machine_json(const std::string& command_line) {
  using nlohmann::json;
  const CpuInfo& cpu = cpu_info();
  json caches = json::array();
  for (const auto& c : cpu.caches)
    caches.push_back({{"level", c.level}, {"type", c.type}, {"size_bytes", c.size_bytes},
                      {"line_bytes", c.line_bytes}, {"ways", c.ways},
                      {"shared_by_cpus", c.shared_by_cpus}});
  utsname u{};
  uname(&u);
  std::string governor = read_file_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  std::string max_khz = read_file_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  std::string mhz = run_command("grep -m1 'cpu MHz' /proc/cpuinfo | cut -d: -f2");
  std::string hv_vendor = read_file_trimmed("/sys/class/dmi/id/sys_vendor");
  PmuStatus pmu = pmu_status();
  const dnnl_version_t* dv = dnnl_version();
  std::string blas_core = openblas_get_corename() ? openblas_get_corename() : "";
  std::string blas_config = openblas_get_config() ? openblas_get_config() : "";
  std::string papi = fmt::format("{}.{}.{}", PAPI_VERSION_MAJOR(PAPI_VER_CURRENT),
                                 PAPI_VERSION_MINOR(PAPI_VER_CURRENT),
                                 PAPI_VERSION_REVISION(PAPI_VER_CURRENT));
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return json{
      {"machine_id", machine_id()},
      {"hostname", host},
      {"cpu",
       {{"model_name", cpu.model_name}, {"vendor", cpu.vendor}, {"family", cpu.family},
        {"model", cpu.model}, {"stepping", cpu.stepping},
        {"microarchitecture", cpu.microarchitecture}, {"isa", cpu.isa},
        {"sockets", cpu.sockets}, {"physical_cores", cpu.physical_cores},
        {"logical_cpus", cpu.logical_cpus},
        {"smt", cpu.logical_cpus > cpu.physical_cores}, {"numa_nodes", cpu.numa_nodes},
        {"caches", caches}}},
      {"frequency",
       {{"governor", governor.empty() ? "unknown (no cpufreq in sysfs)" : governor},
        {"max_mhz", max_khz.empty() ? json(nullptr) : json(std::stod(max_khz) / 1000.0)},
        {"current_mhz", mhz.empty() ? json(nullptr) : json(std::stod(mhz))}}},
      {"virtualization",
       {{"hypervisor", cpu.hypervisor}, {"system_vendor", hv_vendor}}},
      {"pmu", {{"hardware_counters", pmu.hardware_counters}, {"detail", pmu.detail}}},
      {"os", {{"kernel", fmt::format("{} {}", u.sysname, u.release)}, {"arch", u.machine}}},
      {"build",
       {{"compiler", build_info::kCompiler}, {"build_type", build_info::kBuildType},
        {"flags", build_info::kFlags}, {"ffnbench_version", build_info::kVersion}}},
      {"libraries",
       {{"openblas", fmt::format("{} ({}, core {})", OPENBLAS_VERSION, blas_config, blas_core)},
        {"openblas_core_note", openblas_core_note()},
        {"onednn", fmt::format("{}.{}.{} ({})", dv->major, dv->minor, dv->patch, dv->hash)},
        {"papi", papi},
        {"boost", BOOST_LIB_VERSION},
        {"fmt", FMT_VERSION},
        {"openmp", _OPENMP}}},
      {"git_commit", git_commit()},
      {"command_line", command_line},
  };
}

}  // namespace ffnbench
