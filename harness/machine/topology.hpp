// What the machine is: cores, caches, CPU identity (from /proc/cpuinfo and sysfs).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace ffnbench {

struct CpuCache {
  int level = 0;
  std::string type;        // Data, Instruction, Unified
  int64_t size_bytes = 0;
  int line_bytes = 0;
  int ways = 0;
  int shared_by_cpus = 0;  // logical CPUs sharing one instance
};

struct CpuInfo {
  std::string model_name;
  std::string vendor;
  int family = 0, model = 0, stepping = 0;
  std::string microarchitecture;  // best-effort name from family/model
  std::vector<std::string> isa;   // the flags a kernel cares about (avx2, avx512f, amx_tile, ...)
  int logical_cpus = 0;
  int physical_cores = 0;
  int sockets = 0;
  int numa_nodes = 0;
  bool hypervisor = false;
  std::vector<CpuCache> caches;
};

const CpuInfo& cpu_info();
// The physical cores this process may run on: one_cpu_per_core().size(). What threads = all
// means; smaller than cpu_info().physical_cores inside a SLURM allocation or a cpuset.
int physical_cores();
// The logical CPUs this process may use (a SLURM allocation, a cpuset, taskset); empty if the
// mask cannot be read. When OMP_PROC_BIND is set at start-up, libgomp binds the initial thread
// to its first place before main(), so that thread's own mask (sched_getaffinity) shows one
// place: the union of the OpenMP places, built from the mask the process started with, is used;
// without places, the mask the process started with.
std::set<int> usable_cpus();
// Lets the calling thread run on every usable CPU again. libgomp binds the initial thread to its
// first place (OMP_PROC_BIND), and threads and processes started from it inherit that one CPU:
// a program run again, or child processes meant to run side by side, widen it first.
void widen_affinity_to_usable_cpus();
// One logical CPU per physical core (the first allowed sibling of each), the order threads are
// pinned in; only CPUs the process may use count (its affinity mask, or the union of the OpenMP
// places when the user set them).
std::vector<int> one_cpu_per_core();
// Largest data/unified cache in bytes (the LLC), 0 if unknown.
int64_t llc_bytes();
std::string read_file_trimmed(const std::string& path);

}  // namespace ffnbench
