// `ffnbench info [--json]`: what this machine is (the machine.json every run records).
#include <fmt/format.h>

#include <cstring>
#include <iostream>

#include "cli/command.hpp"
#include "core/params.hpp"
#include "machine/machine_info.hpp"

namespace ffnbench {
namespace {

int info_main(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) json = true;
    else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::cout << "ffnbench info [--json]\n  Machine metadata: CPU, ISA, caches, cores, frequency, "
                   "VM and PMU status,\n  compiler and flags, library versions, git commit.\n";
      return kExitOk;
    } else throw ConfigError("info", argv[i], "the only option is --json");
  }
  auto m = machine_json("ffnbench info");
  if (json) {
    std::cout << m.dump(2) << "\n";
    return kExitOk;
  }
  const auto& cpu = m["cpu"];
  std::cout << fmt::format("machine_id     {}\n", m["machine_id"].get<std::string>());
  std::cout << fmt::format("cpu            {} ({})\n", cpu["model_name"].get<std::string>(),
                           cpu["microarchitecture"].get<std::string>());
  std::cout << fmt::format("cores          {} physical, {} logical, {} socket(s), {} NUMA node(s)\n",
                           cpu["physical_cores"].get<int>(), cpu["logical_cpus"].get<int>(),
                           cpu["sockets"].get<int>(), cpu["numa_nodes"].get<int>());
  std::cout << fmt::format("isa            {}\n", fmt::join(cpu["isa"].get<std::vector<std::string>>(), " "));
  for (const auto& c : cpu["caches"])
    std::cout << fmt::format("cache L{} {:<11} {} KiB, {}-way, {} B lines, shared by {} CPU(s)\n",
                             c["level"].get<int>(), c["type"].get<std::string>(),
                             c["size_bytes"].get<int64_t>() / 1024, c["ways"].get<int>(),
                             c["line_bytes"].get<int>(), c["shared_by_cpus"].get<int>());
  std::cout << fmt::format("governor       {}\n", m["frequency"]["governor"].get<std::string>());
  std::cout << fmt::format("virtualized    {}\n", m["virtualization"]["hypervisor"].get<bool>() ? "yes" : "no");
  std::cout << fmt::format("hardware PMU   {} ({})\n", m["pmu"]["hardware_counters"].get<bool>() ? "yes" : "no",
                           m["pmu"]["detail"].get<std::string>());
  std::cout << fmt::format("compiler       {} {}\n", m["build"]["compiler"].get<std::string>(),
                           m["build"]["flags"].get<std::string>());
  for (const auto& [lib, version] : m["libraries"].items())
    std::cout << fmt::format("{:<14} {}\n", lib, version.dump());
  std::cout << fmt::format("git commit     {}\n", m["git_commit"].get<std::string>());
  return kExitOk;
}

const CommandRegistrar registrar{{"info", "machine metadata (CPU, caches, PMU, compiler, libraries)", info_main}};

}  // namespace
}  // namespace ffnbench
