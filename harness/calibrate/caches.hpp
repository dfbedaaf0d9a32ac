// The CPU's data caches as Linux reports them (sysfs), for sizing working sets and cache models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ffnbench {

struct CacheInfo {
  int level = 0;             // 1, 2, 3
  std::string type;          // Data, Instruction, Unified
  int64_t size_bytes = 0;
  int assoc = 0;
  int line_bytes = 0;
  int shared_cpus = 1;       // logical CPUs sharing one instance (shared_cpu_list)
};

// Every cache of cpu0 from /sys/devices/system/cpu/cpu0/cache (empty where sysfs has none),
// sorted by level then type.
std::vector<CacheInfo> read_cpu_caches(const std::string& sysfs_cache_dir = "/sys/devices/system/cpu/cpu0/cache");

// The data-holding cache of `level` (Data or Unified), or nullptr.
const CacheInfo* data_cache(const std::vector<CacheInfo>& caches, int level);

// The last level (highest level holding data), or nullptr.
const CacheInfo* last_level_cache(const std::vector<CacheInfo>& caches);

// "49152", "48K", "48KiB", "60M", "1G" (binary units, as sysfs writes sizes) into bytes; false
// when malformed.
bool parse_byte_size(const std::string& text, int64_t& bytes);

}  // namespace ffnbench
