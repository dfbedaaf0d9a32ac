// Memory checks for variants whose weights can outgrow the machine (tables, deep trees), and the
// memory a point may use (the harness's pre-flight).
#pragma once

#include <cstdint>
#include <string>

namespace ffnbench {

// The memory this process may still allocate, in bytes (0 if unknown): the smaller of
// MemAvailable (/proc/meminfo) and the room left under the tightest cgroup v2 memory.max of this
// process's cgroup and its ancestors. FFNBENCH_AVAILABLE_MEMORY_MIB overrides both (tests fake
// a small machine with it).
int64_t available_memory_bytes();
// Where available_memory_bytes() came from ("MemAvailable", "cgroup limit <its file>",
// "FFNBENCH_AVAILABLE_MEMORY_MIB").
std::string available_memory_source();

// Throws ConfigError(key, value, "<what> would need X, more than the Y available") when `bytes`
// exceeds 90% of available memory.
void check_fits_in_memory(const std::string& key, const std::string& value, double bytes,
                          const std::string& what);

}  // namespace ffnbench
