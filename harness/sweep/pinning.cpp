#include "sweep/pinning.hpp"

#include <fmt/format.h>
#include <omp.h>
#include <sched.h>

#include <cstdlib>
#include <vector>

#include "machine/topology.hpp"

namespace ffnbench {

namespace {

std::string set_pinning_environment() {
  const char* places = std::getenv("OMP_PLACES");
  const char* bind = std::getenv("OMP_PROC_BIND");
  if (places == nullptr) {
    std::vector<std::string> p;
    for (int cpu : one_cpu_per_core()) p.push_back(fmt::format("{{{}}}", cpu));
    setenv("OMP_PLACES", fmt::format("{}", fmt::join(p, ",")).c_str(), 1);
  }
  if (bind == nullptr) setenv("OMP_PROC_BIND", "close", 1);
  return fmt::format("OMP_PLACES={} ({}) OMP_PROC_BIND={} ({})", std::getenv("OMP_PLACES"),
                     places ? "user" : "one per physical core", std::getenv("OMP_PROC_BIND"),
                     bind ? "user" : "set by ffnbench");
}

}  // namespace

std::string configure_pinning() {
  static const std::string description = set_pinning_environment();
  return description;
}

std::string pinned_cpus(int threads) {
  std::vector<int> cpus(threads, -1);
#pragma omp parallel num_threads(threads)
  cpus[omp_get_thread_num()] = sched_getcpu();
  return fmt::format("{}", fmt::join(cpus, " "));
}

}  // namespace ffnbench
