#include "common/memory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "core/params.hpp"

namespace ffnbench {

namespace {

struct Available {
  int64_t bytes = 0;
  std::string source;
};

int64_t mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return 0;
}

// The room left under a memory cgroup limit: each level of `path` (the process's cgroup, then
// its ancestors) under `mount` whose `max_file` holds a limit, less its `current_file`. v2 writes
// "max" for no limit, v1 a number near 2^63. A container sees its own cgroup at the mount's root.
bool cgroup_room(const std::string& mount, std::string path, const char* max_file, const char* current_file,
                 int64_t& room, std::string& where) {
  bool found = false;
  for (;;) {
    const std::string dir = mount + (path == "/" ? std::string() : path);
    std::ifstream max_in(dir + "/" + max_file), current_in(dir + "/" + current_file);
    std::string max_text;
    int64_t limit = 0, current = 0;
    if (max_in >> max_text && parse_int(max_text, limit) && limit < (int64_t{1} << 60) && current_in >> current) {
      const int64_t left = std::max<int64_t>(0, limit - current);
      if (!found || left < room) {
        room = left;
        where = fmt::format("{}/{}", dir, max_file);
      }
      found = true;
    }
    if (path == "/" || path.empty()) break;
    const size_t slash = path.rfind('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return found;
}

}  // namespace

std::optional<CgroupRoom> cgroup_memory_room(const std::string& proc_cgroup, const std::string& sys_fs_cgroup) {
  std::ifstream in(proc_cgroup);
  std::string line;
  std::optional<CgroupRoom> best;
  while (std::getline(in, line)) {
    int64_t r = 0;
    std::string w;
    bool here = false;
    if (line.rfind("0::", 0) == 0)
      here = cgroup_room(sys_fs_cgroup, line.substr(3), "memory.max", "memory.current", r, w);
    else if (const size_t at = line.find(":memory:"); at != std::string::npos)
      here = cgroup_room(sys_fs_cgroup + "/memory", line.substr(at + 8), "memory.limit_in_bytes",
                         "memory.usage_in_bytes", r, w);
    if (here && (!best || r < best->bytes)) best = CgroupRoom{r, w};
  }
  return best;
}

namespace {

Available available() {
  if (const char* fake = std::getenv("FFNBENCH_AVAILABLE_MEMORY_MIB")) {
    int64_t mib = 0;
    if (!parse_int(fake, mib) || mib < 0)
      throw ConfigError("FFNBENCH_AVAILABLE_MEMORY_MIB", fake, "must be a whole number of MiB >= 0");
    return {mib << 20, "FFNBENCH_AVAILABLE_MEMORY_MIB"};
  }
  Available a{mem_available(), "MemAvailable"};
  if (const auto room = cgroup_memory_room("/proc/self/cgroup", "/sys/fs/cgroup"); room && (a.bytes == 0 || room->bytes < a.bytes))
    a = {room->bytes, "cgroup limit " + room->where};
  return a;
}

}  // namespace

int64_t available_memory_bytes() { return available().bytes; }
std::string available_memory_source() { return available().source; }

void check_fits_in_memory(const std::string& key, const std::string& value, double bytes,
                          const std::string& what) {
  const int64_t available = available_memory_bytes();
  if (available > 0 && bytes > 0.9 * static_cast<double>(available))
    throw ConfigError(key, value,
                      fmt::format("{} would need {}, more than the {} of memory available here",
                                  what, format_bytes(bytes), format_bytes(static_cast<double>(available))));
}

}  // namespace ffnbench
