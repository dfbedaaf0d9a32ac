// Memory checks for variants whose weights can outgrow the machine (tables, deep trees), and the
// memory a point may use (the harness's pre-flight).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ffnbench {

// The memory this process may still allocate, in bytes (0 if unknown): the smaller of
// MemAvailable (/proc/meminfo) and the room left under the tightest cgroup v2 memory.max of this
// process's cgroup and its ancestors. FFNBENCH_AVAILABLE_MEMORY_MIB overrides both (tests fake
// a small machine with it).
int64_t available_memory_bytes();
// The tightest memory limit on the cgroup `proc_cgroup` (a /proc/<pid>/cgroup file) names and its
// ancestors, under `sys_fs_cgroup` (v2: memory.max less memory.current; v1: the memory
// controller's limit_in_bytes less usage_in_bytes): the bytes left and the limit's file. None:
// no limit anywhere ("max", or v1's near-2^63 "unlimited").
struct CgroupRoom {
  int64_t bytes = 0;
  std::string where;
};
std::optional<CgroupRoom> cgroup_memory_room(const std::string& proc_cgroup, const std::string& sys_fs_cgroup);
// Where available_memory_bytes() came from ("MemAvailable", "cgroup limit <its file>",
// "FFNBENCH_AVAILABLE_MEMORY_MIB").
std::string available_memory_source();

// Throws ConfigError(key, value, "<what> would need X, more than the Y available") when `bytes`
// exceeds 90% of available memory.
void check_fits_in_memory(const std::string& key, const std::string& value, double bytes,
                          const std::string& what);

}  // namespace ffnbench
